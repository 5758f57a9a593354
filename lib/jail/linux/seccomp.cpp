#include "jail/linux/seccomp.hpp"

#include <sched.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/fd.hpp"
#include "common/scope.hpp"

namespace lj::jail {
namespace {

struct Denied {
  const char* name;
  int nr;  // libseccomp's number (a pseudo-number where the native ABI lacks the call)
};

// SCMP_SYS() fails to compile for a name the installed libseccomp does not know, so nothing is
// dropped from the list silently on an older distribution.
#define LJ_DENY(x)  \
  Denied {          \
#x, SCMP_SYS(x) \
  }
constexpr Denied kDenied[] = {
    LJ_DENY(setns),
    LJ_DENY(keyctl),
    LJ_DENY(add_key),
    LJ_DENY(request_key),
    LJ_DENY(bpf),
    LJ_DENY(perf_event_open),
    LJ_DENY(userfaultfd),
    // io_uring: a frequent source of kernel privilege escalations; Docker's profile denies it
    // since 25.0 and the kernel's own io_uring_disabled answers EPERM too, which users handle.
    LJ_DENY(io_uring_setup),
    LJ_DENY(io_uring_enter),
    LJ_DENY(io_uring_register),
    LJ_DENY(kexec_load),
    LJ_DENY(kexec_file_load),
    LJ_DENY(init_module),
    LJ_DENY(finit_module),
    LJ_DENY(delete_module),
    LJ_DENY(open_by_handle_at),
    LJ_DENY(name_to_handle_at),
    LJ_DENY(mount),
    LJ_DENY(umount),
    LJ_DENY(umount2),
    LJ_DENY(pivot_root),
    LJ_DENY(fsopen),
    LJ_DENY(fsconfig),
    LJ_DENY(fsmount),
    LJ_DENY(fspick),
    LJ_DENY(move_mount),
    LJ_DENY(open_tree),
    LJ_DENY(mount_setattr),
    LJ_DENY(swapon),
    LJ_DENY(swapoff),
    LJ_DENY(reboot),
    LJ_DENY(acct),
    LJ_DENY(syslog),
    LJ_DENY(settimeofday),
    LJ_DENY(stime),
    LJ_DENY(clock_settime),
    LJ_DENY(clock_settime64),
    LJ_DENY(iopl),
    LJ_DENY(ioperm),
    LJ_DENY(quotactl),
    LJ_DENY(quotactl_fd),
    LJ_DENY(lookup_dcookie),
    LJ_DENY(uselib),
};
#undef LJ_DENY

Status check(int rc, const std::string& what) {
  if (rc < 0) return fail_errno("jail", what, -rc);
  return {};
}

Status add_rules(scmp_filter_ctx ctx) {
  const std::uint32_t eperm = SCMP_ACT_ERRNO(EPERM);
  for (const Denied& d : kDenied)
    LJ_TRY(check(seccomp_rule_add(ctx, eperm, d.nr, 0), std::string("seccomp_rule_add ") + d.name));
  LJ_TRY(check(seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0),
               "seccomp_rule_add clone3"));
  // The kernel reads only the low 32 bits of clone's flags; the bit tested is the same in both.
  for (int nr : {SCMP_SYS(clone), SCMP_SYS(unshare)})
    LJ_TRY(check(seccomp_rule_add(ctx, eperm, nr, 1,
                                  SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER)),
                 "seccomp_rule_add clone/unshare CLONE_NEWUSER"));
  // personality(unsigned int): allowed are PER_LINUX (0), PER_LINUX32 (8), UNAME26 (0x20000),
  // both (0x20008) and the query 0xffffffff, as in Docker's profile. libseccomp 2.5 takes one
  // comparison per argument in a rule, and rules OR, so the denied values are covered by rules
  // "bit i set and bit j clear": with M the bits outside 0x20008, a value is denied exactly when
  // it has an M bit set (not 0, 8, 0x20000, 0x20008) and some bit clear (not the query). Around
  // a cycle through the M bits some set bit is followed by a clear one unless all M bits are
  // set; then a clear bit is 3 or 17. 32 rules (a rule per pair of bits would take 61: a longer
  // program, slower to load in every jail).
  constexpr std::uint32_t kKept = 0x20008, kM = ~kKept;
  std::vector<std::uint32_t> m;
  for (std::uint32_t bit = 1; bit != 0; bit <<= 1)
    if (kM & bit) m.push_back(bit);
  auto deny_set_clear = [&](std::uint32_t set, std::uint32_t clear) {
    return check(seccomp_rule_add(ctx, eperm, SCMP_SYS(personality), 1,
                                  SCMP_A0_32(SCMP_CMP_MASKED_EQ, set | clear, set)),
                 "seccomp_rule_add personality");
  };
  for (std::size_t k = 0; k < m.size(); ++k) LJ_TRY(deny_set_clear(m[k], m[(k + 1) % m.size()]));
  for (std::uint32_t clear : {0x8U, 0x20000U}) LJ_TRY(deny_set_clear(m[0], clear));
  return {};
}

}  // namespace

std::vector<std::string> seccomp_denied_names() {
  std::vector<std::string> names;
  for (const Denied& d : kDenied) names.emplace_back(d.name);
  return names;
}

Result<SeccompProgram> compile_default_seccomp() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
  if (!ctx) return fail(Errc::internal, "jail", "seccomp_init failed");
  ScopeExit release([ctx] { seccomp_release(ctx); });
  // An ABI the filter does not know would bypass it: kill instead (there is none on x86_64 with
  // the three below).
  LJ_TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS),
               "seccomp_attr_set SCMP_FLTATR_ACT_BADARCH"));
  // A binary tree of syscall numbers instead of a linear scan: fewer instructions for the calls
  // that are not cached (the kernel skips the filter for calls it proved always allowed, 5.11+).
  LJ_TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2),
               "seccomp_attr_set SCMP_FLTATR_CTL_OPTIMIZE"));
  if (seccomp_arch_native() == SCMP_ARCH_X86_64) {
    LJ_TRY(check(seccomp_arch_add(ctx, SCMP_ARCH_X86), "seccomp_arch_add x86"));
    LJ_TRY(check(seccomp_arch_add(ctx, SCMP_ARCH_X32), "seccomp_arch_add x32"));
  } else if (seccomp_arch_native() == SCMP_ARCH_AARCH64) {
    LJ_TRY(check(seccomp_arch_add(ctx, SCMP_ARCH_ARM), "seccomp_arch_add arm"));
  }
  LJ_TRY(add_rules(ctx));

  // libseccomp 2.5 exports only to a descriptor (seccomp_export_bpf_mem is 2.6).
  UniqueFd mem(::memfd_create("ljd-seccomp", MFD_CLOEXEC));
  if (!mem) return fail_errno("jail", "memfd_create");
  LJ_TRY(check(seccomp_export_bpf(ctx, mem.get()), "seccomp_export_bpf"));
  off_t size = ::lseek(mem.get(), 0, SEEK_END);
  if (size < 0) return fail_errno("jail", "lseek seccomp program");
  if (size == 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0 ||
      size / static_cast<off_t>(sizeof(sock_filter)) > BPF_MAXINSNS)
    return fail(Errc::internal, "jail",
                "seccomp_export_bpf wrote " + std::to_string(size) + " bytes");
  SeccompProgram prog;
  prog.code.resize(static_cast<std::size_t>(size) / sizeof(sock_filter));
  if (::pread(mem.get(), prog.code.data(), static_cast<std::size_t>(size), 0) != size)
    return fail_errno("jail", "read seccomp program");
  return prog;
}

}  // namespace lj::jail
