// linux.seccomp of a config.json compiled with libseccomp into classic BPF, which the jail's
// command loads itself before its exec (jail::ProcessOptions::seccomp_bpf). The profile's
// actions, architectures, flags and argument conditions map one to one onto libseccomp's; an
// action, operator or flag this code does not know is an error naming it.
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/filter.h>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/scope.hpp"
#include "oci/config.hpp"

namespace lj::oci {
namespace {

auto bad(std::string msg) { return fail(Errc::invalid_argument, "oci", std::move(msg)); }

Status check(int rc, const std::string& what) {
  if (rc < 0) return fail(Error::from_errno("oci", what, -rc));
  return {};
}

Result<std::uint32_t> action(const nlohmann::json& rule, const std::string& where) {
  const std::string a = rule.at("action").get<std::string>();
  if (a == "SCMP_ACT_ALLOW") return SCMP_ACT_ALLOW;
  if (a == "SCMP_ACT_KILL" || a == "SCMP_ACT_KILL_THREAD") return SCMP_ACT_KILL_THREAD;
  if (a == "SCMP_ACT_KILL_PROCESS") return SCMP_ACT_KILL_PROCESS;
  if (a == "SCMP_ACT_LOG") return SCMP_ACT_LOG;
  auto ret = [&](std::uint32_t dflt) -> std::uint32_t {
    return rule.contains("errnoRet") ? rule.at("errnoRet").get<std::uint32_t>() : dflt;
  };
  if (a == "SCMP_ACT_ERRNO") return SCMP_ACT_ERRNO(ret(EPERM));
  if (a == "SCMP_ACT_TRACE") return SCMP_ACT_TRACE(ret(EPERM));
  if (a == "SCMP_ACT_TRAP") return SCMP_ACT_TRAP;
  return bad(where + ": seccomp action " + a + " is not supported");
}

Result<scmp_compare> op(const std::string& o) {
  if (o == "SCMP_CMP_NE") return SCMP_CMP_NE;
  if (o == "SCMP_CMP_LT") return SCMP_CMP_LT;
  if (o == "SCMP_CMP_LE") return SCMP_CMP_LE;
  if (o == "SCMP_CMP_EQ") return SCMP_CMP_EQ;
  if (o == "SCMP_CMP_GE") return SCMP_CMP_GE;
  if (o == "SCMP_CMP_GT") return SCMP_CMP_GT;
  if (o == "SCMP_CMP_MASKED_EQ") return SCMP_CMP_MASKED_EQ;
  return bad("seccomp operator " + o + " is not supported");
}

uint32_t arch_token(const std::string& a) {
  std::string name = a.rfind("SCMP_ARCH_", 0) == 0 ? a.substr(10) : a;
  for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return seccomp_arch_resolve_name(name.c_str());
}

Status add_syscall_rules(scmp_filter_ctx ctx, const nlohmann::json& entry, std::uint32_t dflt) {
  for (const auto& [k, v] : entry.items())
    if (k != "names" && k != "name" && k != "action" && k != "errnoRet" && k != "args" &&
        k != "comment" && k != "includes" && k != "excludes")
      return bad("linux.seccomp.syscalls[]." + k + " is not supported");
  const std::uint32_t act = LJ_TRY(action(entry, "linux.seccomp.syscalls"));
  if (act == dflt) return {};  // libseccomp refuses a rule that repeats the default action
  std::vector<scmp_arg_cmp> cmps;
  if (entry.contains("args"))
    for (const auto& a : entry.at("args")) {
      scmp_arg_cmp c{};
      c.arg = a.at("index").get<unsigned>();
      c.op = LJ_TRY(op(a.at("op").get<std::string>()));
      c.datum_a = a.value("value", std::uint64_t{0});
      c.datum_b = a.value("valueTwo", std::uint64_t{0});
      cmps.push_back(c);
    }
  std::vector<std::string> names;
  if (entry.contains("names")) names = entry.at("names").get<std::vector<std::string>>();
  if (entry.contains("name")) names.push_back(entry.at("name").get<std::string>());
  for (const auto& n : names) {
    const int nr = seccomp_syscall_resolve_name(n.c_str());
    if (nr == __NR_SCMP_ERROR) continue;  // unknown to this architecture: runc skips it too
    // Several conditions on one argument are alternatives (Docker's profiles): a rule each.
    bool same_arg = cmps.size() > 1;
    for (std::size_t i = 1; i < cmps.size(); ++i)
      if (cmps[i].arg != cmps[0].arg) same_arg = false;
    if (same_arg) {
      for (const auto& c : cmps)
        LJ_TRY(check(seccomp_rule_add_array(ctx, act, nr, 1, &c), "seccomp_rule_add " + n));
    } else {
      LJ_TRY(check(seccomp_rule_add_array(ctx, act, nr, static_cast<unsigned>(cmps.size()),
                                          cmps.data()),
                   "seccomp_rule_add " + n));
    }
  }
  return {};
}

}  // namespace

Result<std::vector<unsigned char>> compile_seccomp(const std::string& text) {
  nlohmann::json s;
  try {
    s = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return bad(std::string("linux.seccomp: ") + e.what());
  }
  try {
    for (const auto& [k, v] : s.items())
      if (k != "defaultAction" && k != "defaultErrnoRet" && k != "architectures" &&
          k != "syscalls" && k != "flags")
        return bad("linux.seccomp." + k + " is not supported");
    nlohmann::json d = {{"action", s.at("defaultAction")}};
    if (s.contains("defaultErrnoRet")) d["errnoRet"] = s["defaultErrnoRet"];
    const std::uint32_t dflt = LJ_TRY(action(d, "linux.seccomp.defaultAction"));
    scmp_filter_ctx ctx = seccomp_init(dflt);
    if (!ctx) return fail(Errc::internal, "oci", "seccomp_init failed");
    ScopeExit release([ctx] { seccomp_release(ctx); });
    // No no_new_privs from libseccomp: the engine sets it (or not) as process.noNewPrivileges says.
    LJ_TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0), "seccomp_attr_set NNP"));
    if (s.contains("flags"))
      for (const auto& f : s.at("flags")) {
        const auto name = f.get<std::string>();
        if (name == "SECCOMP_FILTER_FLAG_LOG")
          LJ_TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_LOG, 1), "seccomp_attr_set LOG"));
        else if (name == "SECCOMP_FILTER_FLAG_SPEC_ALLOW")
          LJ_TRY(check(seccomp_attr_set(ctx, SCMP_FLTATR_CTL_SSB, 1), "seccomp_attr_set SSB"));
        else
          return bad("linux.seccomp.flags " + name + " is not supported");
      }
    if (s.contains("architectures"))
      for (const auto& a : s.at("architectures")) {
        const uint32_t tok = arch_token(a.get<std::string>());
        if (tok == 0) return bad("linux.seccomp: unknown architecture " + a.get<std::string>());
        const int rc = seccomp_arch_add(ctx, tok);
        if (rc < 0 && rc != -EEXIST) LJ_TRY(check(rc, "seccomp_arch_add " + a.get<std::string>()));
      }
    if (s.contains("syscalls"))
      for (const auto& e : s.at("syscalls")) LJ_TRY(add_syscall_rules(ctx, e, dflt));

    UniqueFd mem(::memfd_create("ljoci-seccomp", MFD_CLOEXEC));
    if (!mem) return fail_errno("oci", "memfd_create");
    LJ_TRY(check(seccomp_export_bpf(ctx, mem.get()), "seccomp_export_bpf"));
    const off_t size = ::lseek(mem.get(), 0, SEEK_END);
    if (size <= 0 || size % static_cast<off_t>(sizeof(sock_filter)) != 0)
      return fail(Errc::internal, "oci", "seccomp_export_bpf wrote " + std::to_string(size));
    std::vector<unsigned char> out(static_cast<std::size_t>(size));
    if (::pread(mem.get(), out.data(), out.size(), 0) != size)
      return fail_errno("oci", "read seccomp program");
    return out;
  } catch (const nlohmann::json::exception& e) {
    return bad(std::string("linux.seccomp: ") + e.what());
  }
}

}  // namespace lj::oci
