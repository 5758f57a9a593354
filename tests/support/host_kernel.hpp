// What the host's kernel offers, probed outside any jail, so that tests skip (with the reason)
// what the environment does not have instead of asserting it. Header-only: the escape tests use
// it without linking the test world library.
#pragma once

#include <sched.h>
#include <signal.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

namespace lj::test {

// Empty when a 64-bit process of this host can make i386 system calls (int $0x80); otherwise
// why not. A kernel built without CONFIG_IA32_EMULATION, or booted with ia32_emulation=0 (6.7+),
// answers int $0x80 with SIGSEGV, and so did the VM this was written on (kernel 6.18 with
// CONFIG_IA32_EMULATION=y): the probe runs in a forked child so that only the child dies.
// Probed, not read from /proc/config.gz or /proc/cmdline: those say what was configured, the
// child says what a jail would meet (a filter around the test run can take the ABI away too).
inline std::string i386_syscalls_missing() {
#if defined(__x86_64__)
  static const std::string reason = [] {
    pid_t pid = ::fork();
    if (pid < 0) return std::string("fork for the i386 probe: ") + std::strerror(errno);
    if (pid == 0) {
      // The default action, not a sanitizer's SIGSEGV handler: in a sanitized build that handler
      // would write its report (and fail the run) for a fault this probe expects.
      ::signal(SIGSEGV, SIG_DFL);
      long r;
      // getpid is 20 in the i386 table; r8-r11 are not preserved by int $0x80 before 4.17.
      __asm__ volatile("int $0x80" : "=a"(r) : "a"(20L) : "memory", "r8", "r9", "r10", "r11");
      ::_exit(r == ::getpid() ? 0 : 1);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFSIGNALED(st))
      return std::string("this host has no i386 system calls: int $0x80 killed a child by SIG") +
             ::sigabbrev_np(WTERMSIG(st)) +
             " outside any jail (a kernel without CONFIG_IA32_EMULATION, one booted with"
             " ia32_emulation=0, or a hypervisor that does not pass it on)";
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
      return std::string("this host has no i386 system calls: int $0x80 getpid did not answer");
    return std::string();
  }();
  return reason;
#else
  return "not an x86_64 host: no i386 ABI beside the native one";
#endif
}

// Empty when a process of this host can make a user namespace; otherwise why not (a kernel
// without CONFIG_USER_NS, or user.max_user_namespaces = 0). Probed in a forked child, which
// alone enters the namespace.
inline std::string user_namespaces_missing() {
  static const std::string reason = [] {
    pid_t pid = ::fork();
    if (pid < 0) return std::string("fork for the user namespace probe: ") + std::strerror(errno);
    if (pid == 0) ::_exit(::unshare(CLONE_NEWUSER) == 0 ? 0 : errno & 0x7f);
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return std::string();
    int e = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
    return std::string("this host makes no user namespace: unshare(CLONE_NEWUSER): ") +
           (e ? std::strerror(e) : "the probe died") +
           " (user.max_user_namespaces = 0, or a kernel without CONFIG_USER_NS)";
  }();
  return reason;
}

// Empty when this kernel has overlayfs (listed in /proc/filesystems, or a module it can load);
// otherwise why not.
inline std::string overlayfs_missing() {
  std::ifstream fs("/proc/filesystems");
  for (std::string line; std::getline(fs, line);)
    if (line.size() >= 8 && line.compare(line.size() - 8, 8, "\toverlay") == 0) return "";
  struct utsname u {};
  if (::uname(&u) == 0) {
    const std::string mod = std::string("/lib/modules/") + u.release + "/kernel/fs/overlayfs";
    if (::access(mod.c_str(), F_OK) == 0) return "";
  }
  return "this kernel has no overlayfs (not in /proc/filesystems, no module to load)";
}

}  // namespace lj::test
