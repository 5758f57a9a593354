/* The system calls of lj-init (lj_init.c), and its entry point where it runs without a libc.
 *
 * Why no libc: lj-init runs once per jail and makes a dozen system calls, but static glibc's
 * startup cost ~0.25 ms of user CPU per jail before main (perf of ljd through its API on a VM,
 * kernel 6.18), most of it in init_cpu_features (handle_amd, update_active, get_common_indices),
 * whose `cpuid` instructions are each a VM exit, then IRELATIVE relocations and the TLS setup;
 * and ~0.2 ms more in the kernel: its page faults, readlink of /proc/self/exe, mprotect, getrandom
 * (perf callchains; figures in docs/jail-linux.md).
 * Built with -nostdlib -ffreestanding (lib/jail/linux/CMakeLists.txt, LJ_INIT_NOLIBC), lj-init
 * starts at _start below and makes only the calls of this header, the same ones glibc's wrappers
 * made (wait4 for waitpid, rt_sigtimedwait for sigwaitinfo and sigtimedwait, ioctl FIONREAD,
 * exit_group for _exit): nothing the jail's seccomp filter denies, only fewer calls. x86_64 and aarch64 only; other architectures
 * build lj_init.c against static glibc with the same functions over libc (the #else branch).
 *
 * Every call returns what the kernel does: >= 0, or -errno. */
#ifndef LJ_JAIL_LINUX_LJ_INIT_SYS_H
#define LJ_JAIL_LINUX_LJ_INIT_SYS_H

#include <stddef.h>

#if LJ_INIT_NOLIBC

/* The kernel's own headers (uapi): the target's system call table (asm-generic's on aarch64),
 * the generic signal numbers and siginfo_t, prctl and wait options. */
#include <asm/errno.h>
#include <asm/ioctls.h>
#include <asm/siginfo.h>
#include <asm/signal.h>
#include <asm/unistd.h>
#include <linux/prctl.h>
#include <linux/wait.h>

/* The wait status encoding (the kernel's, as glibc's bits/waitstatus.h decodes it). */
#define WTERMSIG(st) ((st)&0x7f)
#define WIFSIGNALED(st) (((signed char)(((st)&0x7f) + 1) >> 1) > 0)
#define WEXITSTATUS(st) (((st)&0xff00) >> 8)

/* The kernel's sigset: _NSIG is 64 on both architectures, one unsigned long. */
typedef unsigned long lj_sigset;

#include "raw_syscall.h" /* lj_syscall */

#if defined(__x86_64__)
/* The kernel enters with argc at %rsp, argv after it (the x86-64 psABI, 3.4.1); %rbp zeroed marks
 * the outermost frame. The call leaves %rsp 16-byte aligned minus the return address, as the ABI
 * wants at a function's entry. */
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start, @function\n"
    "_start:\n"
    "  xor %ebp, %ebp\n"
    "  mov %rsp, %rdi\n"
    "  and $-16, %rsp\n"
    "  call lj_init_start\n"
    "  hlt\n");
#elif defined(__aarch64__)
/* argc at sp (16-byte aligned by the kernel), argv after it; a zero frame and link register end
 * the frame chain. */
__asm__(
    ".text\n"
    ".global _start\n"
    ".type _start, %function\n"
    "_start:\n"
    "  mov x29, #0\n"
    "  mov x30, #0\n"
    "  mov x0, sp\n"
    "  bl lj_init_start\n"
    "  brk #0\n");
#else
#error "lj-init without libc: x86_64 and aarch64 only (CMakeLists.txt builds others with libc)"
#endif

static inline long lj_prctl(int op, unsigned long arg) {
  return lj_syscall(__NR_prctl, op, (long)arg, 0, 0, 0);
}
static inline long lj_close(int fd) {
  return lj_syscall(__NR_close, fd, 0, 0, 0, 0);
}
static inline long lj_write(int fd, const void* buf, size_t n) {
  return lj_syscall(__NR_write, fd, (long)buf, (long)n, 0, 0);
}
static inline long lj_ftruncate(int fd, long length) {
  return lj_syscall(__NR_ftruncate, fd, length, 0, 0, 0);
}
/* waitpid(-1, ws, WNOHANG) */
static inline long lj_reap_one(int* ws) {
  return lj_syscall(__NR_wait4, -1, (long)ws, WNOHANG, 0, 0);
}
static inline long lj_kill(int pid, int sig) {
  return lj_syscall(__NR_kill, pid, sig, 0, 0, 0);
}
/* The mask inherited from init. */
static inline long lj_sigblocked(lj_sigset* set) {
  return lj_syscall(__NR_rt_sigprocmask, SIG_BLOCK, 0, (long)set, sizeof *set, 0);
}
static inline void lj_sigaddset(lj_sigset* set, int sig) {
  *set |= 1UL << (sig - 1);
}
/* sigwaitinfo: no timeout. */
static inline long lj_sigwaitinfo(const lj_sigset* set, siginfo_t* info) {
  return lj_syscall(__NR_rt_sigtimedwait, (long)set, (long)info, 0, sizeof *set, 0);
}
/* sigtimedwait: rt_sigtimedwait with a timeout (the kernel's timespec: two longs on both). */
static inline long lj_sigtimedwait(const lj_sigset* set, siginfo_t* info, long ns) {
  const long ts[2] = {ns / 1000000000L, ns % 1000000000L};
  return lj_syscall(__NR_rt_sigtimedwait, (long)set, (long)info, (long)ts, sizeof *set, 0);
}
/* ioctl(fd, FIONREAD, &n): the bytes waiting in a pipe. */
static inline long lj_unread(int fd, int* n) {
  return lj_syscall(__NR_ioctl, fd, FIONREAD, (long)n, 0, 0);
}
__attribute__((noreturn)) static inline void lj_exit(int code) {
  for (;;) lj_syscall(__NR_exit_group, code, 0, 0, 0, 0);
}

int main(int argc, char** argv);
__attribute__((used, noreturn)) void lj_init_start(long* sp);
void lj_init_start(long* sp) {
  lj_exit(main((int)sp[0], (char**)(sp + 1)));
}

#else /* LJ_INIT_NOLIBC: libc's wrappers, static (CMakeLists.txt) */

#include <errno.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef sigset_t lj_sigset;

static inline long lj_result(long r) {
  return r < 0 ? -errno : r;
}
static inline long lj_prctl(int op, unsigned long arg) {
  return lj_result(prctl(op, arg, 0, 0, 0));
}
static inline long lj_close(int fd) {
  return lj_result(close(fd));
}
static inline long lj_write(int fd, const void* buf, size_t n) {
  return lj_result(write(fd, buf, n));
}
static inline long lj_ftruncate(int fd, long length) {
  return lj_result(ftruncate(fd, length));
}
static inline long lj_reap_one(int* ws) {
  return lj_result(waitpid(-1, ws, WNOHANG));
}
static inline long lj_kill(int pid, int sig) {
  return lj_result(kill(pid, sig));
}
static inline long lj_sigblocked(lj_sigset* set) {
  return lj_result(sigprocmask(SIG_BLOCK, NULL, set));
}
static inline void lj_sigaddset(lj_sigset* set, int sig) {
  sigaddset(set, sig);
}
static inline long lj_sigwaitinfo(const lj_sigset* set, siginfo_t* info) {
  return lj_result(sigwaitinfo(set, info));
}
static inline long lj_sigtimedwait(const lj_sigset* set, siginfo_t* info, long ns) {
  const struct timespec ts = {ns / 1000000000L, ns % 1000000000L};
  return lj_result(sigtimedwait(set, info, &ts));
}
static inline long lj_unread(int fd, int* n) {
  return lj_result(ioctl(fd, FIONREAD, n));
}
__attribute__((noreturn)) static inline void lj_exit(int code) {
  _exit(code);
}

#endif /* LJ_INIT_NOLIBC */
#endif
