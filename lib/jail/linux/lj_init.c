/* lj-init: what the jail's init becomes once the command is started. Init runs ljd's image (in
 * ljd's own address space) while it assembles the jail; staying ljd would pin ljd's memory (as a
 * copy it pinned a copy-on-write duplicate of every page the daemon later wrote, ~770 KB per live
 * jail, docs/performance.md) and leave the host's ljd as the jail's /proc/1/exe. It execs this
 * instead, from a sealed memfd (backend.cpp), with the status descriptors, the go descriptor, the
 * output pipes' read ends and the signal mask of init_abi.h. Here: reap every child (pid 1
 * of the jail), forward signals to the command, report its exact wait status, as child.cpp did.
 * Static and without a libc where lj_init_sys.h has the system calls (why: there): it runs in
 * every jail, under the jail's seccomp filter. */
#define _GNU_SOURCE
#include "init_abi.h"
#include "lj_init_sys.h"

static void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    long w = lj_write(fd, s, n);
    if (w == -EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static char* utoa(char* end, unsigned v) {
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

/* Reaps what has ended; 1 with *st set once the command is among them. */
static int reap(long cmd, int* st) {
  int done = 0;
  for (;;) {
    int ws = 0;
    long r = lj_reap_one(&ws);
    if (r <= 0) return done;
    if (r == cmd) {
      *st = ws;
      done = 1;
    }
  }
}

int main(int argc, char** argv) {
  /* execve made the process dumpable again (execve(2)): closed to the jail before the command,
   * waiting on LJ_INIT_SLOT_GO, may look at /proc/1. */
  lj_prctl(PR_SET_DUMPABLE, 0);
  lj_prctl(PR_SET_NAME,
           (unsigned long)"lj-init"); /* not the descriptor's number execveat gave it */
  if (argc >= 3 && argv[2][0] == '1') lj_prctl(PR_SET_PDEATHSIG, SIGKILL);
  lj_close(LJ_INIT_SLOT_GO);
  int cmd = 0;
  for (const char* s = argc >= 2 ? argv[1] : ""; *s >= '0' && *s <= '9'; ++s)
    cmd = cmd * 10 + (*s - '0');

  lj_sigset set;
  lj_sigblocked(&set); /* init's: SIGCHLD and the forwarded ones */
  lj_sigaddset(&set, SIGCHLD);
  int st = 0;
  if (cmd > 0) {
    while (!reap(cmd, &st)) {
      siginfo_t info;
      long sig = lj_sigwaitinfo(&set, &info);
      if (sig < 0 || sig == SIGCHLD) continue;
      if (info.si_code == SI_QUEUE && info.si_value.sival_int == LJ_INIT_BROADCAST)
        lj_kill(-1, (int)sig);
      else
        lj_kill(cmd, (int)sig);
    }
  }
  /* The command ended: report its exact status. Init's exit then makes the kernel SIGKILL
   * everything left in the pid namespace (pid_namespaces(7)). */
  write_all(LJ_INIT_SLOT_STATUS, (const char*)&st, sizeof st);
  char buf[32];
  const int sig = WIFSIGNALED(st);
  char* num = utoa(buf + sizeof buf, (unsigned)(sig ? WTERMSIG(st) : WEXITSTATUS(st)));
  write_all(LJ_INIT_SLOT_STATUS_FILE, sig ? "killed " : "exited ", 7);
  write_all(LJ_INIT_SLOT_STATUS_FILE, num, (size_t)(buf + sizeof buf - num));
  write_all(LJ_INIT_SLOT_STATUS_FILE, "\n", 1);
  lj_exit(0);
}
