#include "jail/linux/clone_run.hpp"

#include <sys/syscall.h>

#include <cerrno>

#define LJ_STR2(x) #x
#define LJ_STR(x) LJ_STR2(x)

// The child starts on its new stack with every register as the parent's, except the return
// value (0): the function and its argument ride in registers the system call keeps (x86_64: r8
// and r9 hold the 5th/6th syscall arguments, which clone3 ignores; aarch64: x9/x10 are not
// touched by svc). Nothing of the parent's stack frame may be used in the child.
extern "C" long lj_clone3_raw(struct clone_args* args, std::size_t size, int (*fn)(void*),
                              void* arg);

#if defined(__x86_64__)
__asm__(
    ".text\n"
    ".globl lj_clone3_raw\n"
    ".type lj_clone3_raw,@function\n"
    "lj_clone3_raw:\n"
    "  mov %rdx, %r8\n"  // fn
    "  mov %rcx, %r9\n"  // arg
    "  mov $" LJ_STR(SYS_clone3) ", %eax\n"
    "  syscall\n"
    "  test %rax, %rax\n"
    "  jz 1f\n"
    "  ret\n"  // the parent: pid or -errno
    "1:\n"
    "  xor %ebp, %ebp\n"  // the outermost frame, for unwinders
    "  mov %r9, %rdi\n"
    "  call *%r8\n"
    "  mov %eax, %edi\n"
    "  mov $" LJ_STR(SYS_exit) ", %eax\n"
    "  syscall\n"
    "  hlt\n"
    ".size lj_clone3_raw, .-lj_clone3_raw\n");
#define LJ_HAVE_CLONE_RUN 1
#elif defined(__aarch64__)
__asm__(
    ".text\n"
    ".globl lj_clone3_raw\n"
    ".type lj_clone3_raw,%function\n"
    "lj_clone3_raw:\n"
    "  mov x9, x2\n"
    "  mov x10, x3\n"
    "  mov x8, #" LJ_STR(SYS_clone3) "\n"
    "  svc #0\n"
    "  cbz x0, 1f\n"
    "  ret\n"
    "1:\n"
    "  mov x29, xzr\n"
    "  mov x30, xzr\n"
    "  mov x0, x10\n"
    "  blr x9\n"
    "  mov x8, #" LJ_STR(SYS_exit) "\n"
    "  svc #0\n"
    "  brk #0\n"
    ".size lj_clone3_raw, .-lj_clone3_raw\n");
#define LJ_HAVE_CLONE_RUN 1
#else
#define LJ_HAVE_CLONE_RUN 0
#endif

// A sanitized build (scripts/test-sanitized) spawns by copy: init running in our memory would
// share ASan's per-thread state with the spawning thread, and ASan reports what it then sees.
#if defined(__SANITIZE_ADDRESS__)
#define LJ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LJ_ASAN 1
#endif
#endif
#ifndef LJ_ASAN
#define LJ_ASAN 0
#endif

namespace lj::jail {

bool clone_run_supported() {
  return LJ_HAVE_CLONE_RUN && !LJ_ASAN;
}

long clone_run(struct clone_args* args, int (*fn)(void*), void* arg) {
#if LJ_HAVE_CLONE_RUN
  if (args->stack == 0 || args->stack_size == 0) {
    errno = EINVAL;
    return -1;
  }
  long r = lj_clone3_raw(args, sizeof *args, fn, arg);
  if (r < 0) {
    errno = static_cast<int>(-r);
    return -1;
  }
  return r;
#else
  (void)args, (void)fn, (void)arg;
  errno = ENOSYS;
  return -1;
#endif
}

}  // namespace lj::jail
