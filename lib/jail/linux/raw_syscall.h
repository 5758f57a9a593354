/* System calls that leave errno alone: lj_syscall returns the kernel's value, >= 0 or -errno.
 *
 * Two users, C and C++: lj-init, built without a libc (lj_init_sys.h), and a thread of ljd whose
 * errno (its thread block) another process is using: a jail's command or an exec's process runs
 * our memory on the spawning thread's block until its execve (clone_sharing_memory), so until
 * then that thread may neither set errno nor read it. glibc's own wrappers do both behind the
 * caller's back: a failing call sets it, and free() and signal handlers save it and write the
 * saved value back (a soak of 10,000 jails lost two to a command whose execve's ENOENT was
 * overwritten so, and that stopped its PATH search with EBADF). */
#ifndef LJ_JAIL_LINUX_RAW_SYSCALL_H
#define LJ_JAIL_LINUX_RAW_SYSCALL_H

#if defined(__x86_64__)
static inline long lj_syscall(long n, long a, long b, long c, long d, long e) {
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  long ret;
  __asm__ volatile("syscall"
                   : "=a"(ret)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8)
                   : "rcx", "r11", "memory");
  return ret;
}
#elif defined(__aarch64__)
static inline long lj_syscall(long n, long a, long b, long c, long d, long e) {
  register long x8 __asm__("x8") = n;
  register long x0 __asm__("x0") = a;
  register long x1 __asm__("x1") = b;
  register long x2 __asm__("x2") = c;
  register long x3 __asm__("x3") = d;
  register long x4 __asm__("x4") = e;
  __asm__ volatile("svc #0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4) : "memory");
  return x0;
}
#else
/* Elsewhere lj-init has a libc, and clone_run_supported() is false: no process shares a thread
 * block of ljd's, and libc's wrapper will do. */
#include <errno.h>
#include <unistd.h>
static inline long lj_syscall(long n, long a, long b, long c, long d, long e) {
  long r = syscall(n, a, b, c, d, e);
  return r < 0 ? -errno : r;
}
#endif

#endif
