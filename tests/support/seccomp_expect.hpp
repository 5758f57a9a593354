// What `probe syscalls` (tests/probe/probe.c) must print inside a jail with the default seccomp
// filter (lib/jail/linux/seccomp.cpp): shared by tests/jail (the backend) and tests/escape (jails
// made by ljd). The probe's arguments make the kernel itself answer something else than EPERM
// for most of these (ok, EBADF, EINVAL, ENOENT, ENOKEY, ENOSYS: see `probe syscalls` as an
// unprivileged user on the host), so EPERM is the filter's answer.
//
// On a host without i386 system calls (host_kernel.hpp) the i386 attempts would kill the probe by
// SIGSEGV whatever the filter says: with_i386 = false leaves them out, and the tests say so.
#pragma once

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace lj::test {

// Attempt name -> the accepted answers ("EPERM", "ok", ...), separated by '|'.
inline std::map<std::string, std::string> seccomp_expected(bool with_i386 = true) {
  std::map<std::string, std::string> want;
  for (const char* denied :
       {"unshare-user", "clone-user", "setns", "keyctl", "add_key", "request_key", "bpf",
        "perf_event_open", "userfaultfd", "io_uring_setup", "name_to_handle_at",
        "open_by_handle_at", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
        "mount_setattr", "mount", "umount2", "pivot_root", "swapon", "reboot", "acct", "syslog",
        "settimeofday", "clock_settime", "iopl", "ioperm", "quotactl", "lookup_dcookie",
        "kexec_load", "delete_module", "personality-read-implies-exec",
        // The other ABIs of x86_64: i386 through int $0x80, x32 (bit 30 of the number), whether
        // or not this kernel has x32 (here it does not: unfiltered, the call would be ENOSYS).
        "i386-unshare-user", "i386-keyctl", "x32-unshare-user", "x32-keyctl"})
    want[denied] = "EPERM";
  want["clone3"] = "ENOSYS";  // so that libc falls back to clone(2), whose flags are checked
  // Still allowed: plain clone, chroot (CAP_SYS_CHROOT is kept), the default personalities,
  // getpid in each ABI (x32's is ENOSYS on a kernel without CONFIG_X86_X32_ABI).
  for (const char* allowed :
       {"clone", "chroot", "personality-query", "personality-linux32", "getpid", "i386-getpid"})
    want[allowed] = "ok";
  want["x32-getpid"] = "ok|ENOSYS";
  want["unshare-uts"] = "EPERM";  // no CAP_SYS_ADMIN (not the filter)
  if (!with_i386) std::erase_if(want, [](const auto& kv) { return kv.first.starts_with("i386-"); });
  return want;
}

// The probe's arguments for the attempts of seccomp_expected(with_i386): {"syscalls", name...}.
inline std::vector<std::string> seccomp_probe_args(bool with_i386 = true) {
  std::vector<std::string> args{"syscalls"};
  if (with_i386) return args;  // no names: every attempt the probe knows
  for (const auto& [name, answer] : seccomp_expected(false)) args.push_back(name);
  return args;
}

// The lines of `probe syscalls` output that differ from seccomp_expected(), one per line; empty
// when all match and every expected attempt was printed.
inline std::string seccomp_mismatches(const std::string& out, bool with_i386 = true) {
  auto want = seccomp_expected(with_i386);
  std::string bad;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) {
    auto colon = line.find(": ");
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon), got = line.substr(colon + 2);
    auto it = want.find(name);
    if (it == want.end()) {
      bad += "unexpected attempt " + line + "\n";
      continue;
    }
    if (("|" + it->second + "|").find("|" + got + "|") == std::string::npos)
      bad += name + ": got " + got + ", want " + it->second + "\n";
    want.erase(it);
  }
  for (const auto& [name, answer] : want) bad += name + ": not attempted\n";
  return bad;
}

}  // namespace lj::test
