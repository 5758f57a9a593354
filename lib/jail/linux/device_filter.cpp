#include "jail/linux/device_filter.hpp"

#include <fcntl.h>
#include <linux/bpf.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "common/fd.hpp"
#include "common/sys.hpp"

namespace lj::jail {
namespace {

// The devices of the engine's own /dev (linux/root_program.cpp): null, zero, full, random,
// urandom, tty, ptmx and the jail's devpts ptys (136-143, Documentation/admin-guide/devices.txt);
// and mknod of any node, which the jail's init needs for its /dev (Grants::nodes) once it is in
// the cgroup (runc's defaults allow it too: "c *:* m", "b *:* m").
const DeviceRule kEngineDeviceRules[] = {{true, 'c', -1, -1, "m"}, {true, 'b', -1, -1, "m"},
                                         {true, 'c', 1, 3, "rwm"}, {true, 'c', 1, 5, "rwm"},
                                         {true, 'c', 1, 7, "rwm"}, {true, 'c', 1, 8, "rwm"},
                                         {true, 'c', 1, 9, "rwm"}, {true, 'c', 5, 0, "rwm"},
                                         {true, 'c', 5, 2, "rwm"}, {true, 'c', 136, -1, "rwm"}};

// The access letters as the program's bits (BPF_DEVCG_ACC_*: m 1, r 2, w 4).
std::uint32_t access_bits(const std::string& access) {
  std::uint32_t bits = 0;
  for (char c : access)
    bits |= c == 'm'   ? BPF_DEVCG_ACC_MKNOD
            : c == 'r' ? BPF_DEVCG_ACC_READ
            : c == 'w' ? BPF_DEVCG_ACC_WRITE
                       : 0;
  return bits;
}
std::string access_letters(std::uint32_t bits) {
  std::string s;
  if (bits & BPF_DEVCG_ACC_READ) s += 'r';
  if (bits & BPF_DEVCG_ACC_WRITE) s += 'w';
  if (bits & BPF_DEVCG_ACC_MKNOD) s += 'm';
  return s;
}

// The few instructions the program needs (the kernel's filter.h macros are not uapi).
constexpr std::uint8_t kR0 = 0, kR1 = 1, kR2 = 2, kR3 = 3, kR4 = 4, kR5 = 5;
bpf_insn insn(std::uint8_t code, std::uint8_t dst, std::uint8_t src, std::int16_t off,
              std::int32_t imm) {
  bpf_insn i{};
  i.code = code;
  i.dst_reg = dst & 0xf;
  i.src_reg = src & 0xf;
  i.off = off;
  i.imm = imm;
  return i;
}
bpf_insn load_u32(std::uint8_t dst, std::uint8_t src, std::int16_t off) {
  return insn(BPF_LDX | BPF_W | BPF_MEM, dst, src, off, 0);
}
bpf_insn alu_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm) {
  return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}
bpf_insn mov_reg(std::uint8_t dst, std::uint8_t src) {
  return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}
bpf_insn jump_imm(std::uint8_t op, std::uint8_t dst, std::int32_t imm, std::int16_t off) {
  return insn(BPF_JMP | op | BPF_K, dst, 0, off, imm);
}
bpf_insn exit_insn() {
  return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

// The program: r2 the access asked, r3 the device type, r4 and r5 its numbers; one block per
// exception, each falling through to the next when it does not match, else returning the
// exception's answer; the default at the end. "Match" is the v1 controller's: against a denying
// default the exception must cover all of the access (match_exception), against an allowing one
// share any of it (match_exception_partial).
std::vector<bpf_insn> compile(const DeviceRuleState& state) {
  std::vector<bpf_insn> p = {
      load_u32(kR2, kR1, offsetof(bpf_cgroup_dev_ctx, access_type)),
      mov_reg(kR3, kR2),
      alu_imm(BPF_AND, kR3, 0xffff),
      alu_imm(BPF_RSH, kR2, 16),
      load_u32(kR4, kR1, offsetof(bpf_cgroup_dev_ctx, major)),
      load_u32(kR5, kR1, offsetof(bpf_cgroup_dev_ctx, minor)),
  };
  for (const auto& e : state.exceptions) {
    // Jumps are filled in once the block's length is known: each skips to the block's end.
    std::vector<bpf_insn> b;
    b.push_back(
        jump_imm(BPF_JNE, kR3, e.type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, 0));
    const std::uint32_t bits = access_bits(e.access);
    b.push_back(mov_reg(kR1, kR2));
    if (state.default_allow) {
      b.push_back(alu_imm(BPF_AND, kR1, static_cast<std::int32_t>(bits)));
      b.push_back(jump_imm(BPF_JEQ, kR1, 0, 0));
    } else {
      b.push_back(alu_imm(BPF_AND, kR1, static_cast<std::int32_t>(~bits & 7u)));
      b.push_back(jump_imm(BPF_JNE, kR1, 0, 0));
    }
    if (e.major >= 0) b.push_back(jump_imm(BPF_JNE, kR4, static_cast<std::int32_t>(e.major), 0));
    if (e.minor >= 0) b.push_back(jump_imm(BPF_JNE, kR5, static_cast<std::int32_t>(e.minor), 0));
    b.push_back(alu_imm(BPF_MOV, kR0, state.default_allow ? 0 : 1));
    b.push_back(exit_insn());
    for (std::size_t i = 0; i < b.size(); ++i)
      if (BPF_CLASS(b[i].code) == BPF_JMP && BPF_OP(b[i].code) != BPF_EXIT)
        b[i].off = static_cast<std::int16_t>(b.size() - i - 1);
    p.insert(p.end(), b.begin(), b.end());
  }
  p.push_back(alu_imm(BPF_MOV, kR0, state.default_allow ? 1 : 0));
  p.push_back(exit_insn());
  return p;
}

long bpf(int cmd, bpf_attr* attr) {
  return LJ_SYS("bpf", ::syscall(SYS_bpf, cmd, attr, sizeof(*attr)));
}

Result<UniqueFd> load(const std::vector<bpf_insn>& program) {
  static const char kLicense[] = "Apache";  // runc's; the program calls no GPL-only helper
  bpf_attr a{};
  a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
  a.insns = reinterpret_cast<std::uintptr_t>(program.data());
  a.insn_cnt = static_cast<std::uint32_t>(program.size());
  a.license = reinterpret_cast<std::uintptr_t>(kLicense);
  UniqueFd fd(static_cast<int>(bpf(BPF_PROG_LOAD, &a)));  // the kernel's fd is O_CLOEXEC
  if (fd) return fd;
  const int err = errno;
  if (err != EINVAL && err != EACCES)
    return fail_errno("jail", "load the device program (bpf)", err);
  // The verifier refused it: again with its log, for the error.
  std::string log(16384, '\0');
  a.log_level = 1;
  a.log_buf = reinterpret_cast<std::uintptr_t>(log.data());
  a.log_size = static_cast<std::uint32_t>(log.size());
  UniqueFd again(static_cast<int>(bpf(BPF_PROG_LOAD, &a)));
  log.resize(std::strlen(log.c_str()));
  return fail_errno("jail", "load the device program (bpf; verifier: " + log + ")", err);
}

// The device programs attached to the cgroup itself (not its parents'): none on a cgroup made
// for the jail; a cgroup taken again at a caller's path may hold an earlier one.
Result<std::vector<std::uint32_t>> attached(int dir_fd, const std::string& dir) {
  std::vector<std::uint32_t> ids(64);  // BPF_CGROUP_MAX_PROGS
  bpf_attr a{};
  a.query.target_fd = static_cast<std::uint32_t>(dir_fd);
  a.query.attach_type = BPF_CGROUP_DEVICE;
  a.query.prog_ids = reinterpret_cast<std::uintptr_t>(ids.data());
  a.query.prog_cnt = static_cast<std::uint32_t>(ids.size());
  if (bpf(BPF_PROG_QUERY, &a) != 0)
    return fail_errno("jail", "query the device programs of " + dir + " (bpf)");
  ids.resize(a.query.prog_cnt);
  return ids;
}

Status detach(int dir_fd, const std::string& dir, std::uint32_t id) {
  bpf_attr a{};
  a.prog_id = id;
  UniqueFd prog(static_cast<int>(bpf(BPF_PROG_GET_FD_BY_ID, &a)));
  if (!prog && errno == ENOENT) return {};  // gone meanwhile
  if (!prog) return fail_errno("jail", "open device program " + std::to_string(id) + " (bpf)");
  a = {};
  a.target_fd = static_cast<std::uint32_t>(dir_fd);
  a.attach_bpf_fd = static_cast<std::uint32_t>(prog.get());
  a.attach_type = BPF_CGROUP_DEVICE;
  if (bpf(BPF_PROG_DETACH, &a) != 0 && errno != ENOENT)
    return fail_errno("jail", "detach the earlier device program from " + dir + " (bpf)");
  return {};
}

}  // namespace

std::vector<DeviceRule> jail_device_rules(const std::vector<DeviceRule>& rules) {
  std::vector<DeviceRule> all = rules;
  all.insert(all.end(), std::begin(kEngineDeviceRules), std::end(kEngineDeviceRules));
  return all;
}

DeviceRuleState reduce_device_rules(const std::vector<DeviceRule>& rules) {
  DeviceRuleState s;
  for (const auto& r : rules) {
    if (r.type == 'a') {
      s.default_allow = r.allow;
      s.exceptions.clear();
      continue;
    }
    const std::uint32_t bits = access_bits(r.access);
    auto same = [&](const DeviceRule& e) {
      return e.type == r.type && e.major == r.major && e.minor == r.minor;
    };
    if (r.allow == s.default_allow) {  // dev_exception_rm
      for (auto it = s.exceptions.begin(); it != s.exceptions.end();) {
        if (same(*it)) it->access = access_letters(access_bits(it->access) & ~bits);
        it = same(*it) && it->access.empty() ? s.exceptions.erase(it) : it + 1;
      }
      continue;
    }
    bool merged = false;  // dev_exception_add
    for (auto& e : s.exceptions)
      if (same(e)) {
        e.access = access_letters(access_bits(e.access) | bits);
        merged = true;
      }
    if (!merged && bits)
      s.exceptions.push_back({r.allow, r.type, r.major, r.minor, access_letters(bits)});
  }
  return s;
}

Status attach_device_program(const std::string& cgroup_dir, const std::vector<DeviceRule>& rules) {
  UniqueFd prog =
      LJ_TRY_CTX("device rules of " + cgroup_dir, load(compile(reduce_device_rules(rules))));
  UniqueFd dir(LJ_SYS("open", ::open(cgroup_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
  if (!dir) return fail_errno("jail", "open " + cgroup_dir);
  const auto earlier = LJ_TRY(attached(dir.get(), cgroup_dir));
  bpf_attr a{};
  a.target_fd = static_cast<std::uint32_t>(dir.get());
  a.attach_bpf_fd = static_cast<std::uint32_t>(prog.get());
  a.attach_type = BPF_CGROUP_DEVICE;
  a.attach_flags = BPF_F_ALLOW_MULTI;
  if (bpf(BPF_PROG_ATTACH, &a) != 0)
    return fail_errno("jail", "attach the device program to " + cgroup_dir + " (bpf)");
  // Earlier programs go once the new one is in (runc's order: never a moment without one); kept,
  // they would apply too (every program must allow).
  for (const auto id : earlier) LJ_TRY(detach(dir.get(), cgroup_dir, id));
  return {};
}

}  // namespace lj::jail
