/* no-i386 COMMAND [ARG...]: runs COMMAND with the i386 system call ABI taken away, as on a kernel
 * without CONFIG_IA32_EMULATION (or booted with ia32_emulation=0), so that the suite's skip of
 * the i386 seccomp attempts is exercised on a host that has them. A seccomp filter kills the
 * process at its first int $0x80 (SIGSYS where such a kernel gives SIGSEGV: both are a death by
 * signal, which is what tests/support/host_kernel.hpp probes for). Filters are inherited, so
 * ljd, its jails and their filters all run beneath it. Needs CAP_SYS_ADMIN or no_new_privs:
 * without CAP_SYS_ADMIN it sets no_new_privs. */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: no-i386 COMMAND [ARG...]\n");
    return 2;
  }
  struct sock_filter code[] = {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_I386, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  if (geteuid() != 0 && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    fprintf(stderr, "no-i386: PR_SET_NO_NEW_PRIVS: %s\n", strerror(errno));
    return 125;
  }
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    fprintf(stderr, "no-i386: seccomp: %s\n", strerror(errno));
    return 125;
  }
  execvp(argv[1], argv + 1);
  fprintf(stderr, "no-i386: %s: %s\n", argv[1], strerror(errno));
  return 127;
}
