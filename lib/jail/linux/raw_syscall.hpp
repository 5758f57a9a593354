// System calls that leave errno alone: the kernel's return value, >= 0 or -errno.
//
// For a thread whose errno (its thread block) another process is using: a jail's command or an
// exec's process runs our memory on the spawning thread's block until its execve
// (clone_sharing_memory), so until then that thread may neither set errno nor read it. glibc's
// own wrappers do both behind the caller's back: a failing call sets it, and free() and signal
// handlers save it and write the saved value back (a soak of 10,000 jails lost two to a command
// whose execve's ENOENT was overwritten so, and that stopped its PATH search with EBADF).
#pragma once

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace lj::jail {

#if defined(__x86_64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  register long r10 __asm__("r10") = d;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
  return x0;
}
#else
// clone_run_supported() is false here: no process shares a thread block of ours, and libc's
// wrapper will do.
inline long raw_syscall(long n, long a = 0, long b = 0, long c = 0, long d = 0) noexcept {
  long r = ::syscall(n, a, b, c, d);
  return r < 0 ? -errno : r;
}
#endif

}  // namespace lj::jail
