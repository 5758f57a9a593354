/* lj-init: what the jail's init becomes once the command is started. Init is a clone of ljd that
 * assembles the jail; staying that copy would pin a copy-on-write duplicate of every ljd page the
 * daemon later writes (~770 KB per live jail, docs/performance.md) and leave the host's ljd as the
 * jail's /proc/1/exe. It execs this instead, from a sealed memfd (backend.cpp), with the status
 * descriptors, the go descriptor and the signal mask of init_abi.h. Here: reap every child (pid 1
 * of the jail), forward signals to the command, report its exact wait status, as child.cpp did.
 * Static and libc-light: it runs in every jail, under the jail's seccomp filter. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "init_abi.h"

static void write_all(int fd, const char* s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return;
    s += w;
    n -= (size_t)w;
  }
}

static char* utoa(char* end, unsigned v) {
  *--end = '\0';
  do {
    *--end = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

/* Reaps what has ended; 1 with *st set once the command is among them. */
static int reap(pid_t cmd, int* st) {
  int done = 0;
  for (;;) {
    int ws = 0;
    pid_t r = waitpid(-1, &ws, WNOHANG);
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
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "lj-init", 0, 0, 0); /* not the descriptor's number execveat gave it */
  if (argc >= 3 && argv[2][0] == '1') prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  close(LJ_INIT_SLOT_GO);
  pid_t cmd = 0;
  for (const char* s = argc >= 2 ? argv[1] : ""; *s >= '0' && *s <= '9'; ++s)
    cmd = cmd * 10 + (*s - '0');

  sigset_t set;
  sigprocmask(SIG_BLOCK, NULL, &set); /* init's: SIGCHLD and the forwarded ones */
  sigaddset(&set, SIGCHLD);
  int st = 0;
  if (cmd > 0) {
    while (!reap(cmd, &st)) {
      siginfo_t info;
      int sig = sigwaitinfo(&set, &info);
      if (sig < 0 || sig == SIGCHLD) continue;
      if (info.si_code == SI_QUEUE && info.si_value.sival_int == LJ_INIT_BROADCAST)
        kill(-1, sig);
      else
        kill(cmd, sig);
    }
  }
  /* The command ended: report its exact status. Init's exit then makes the kernel SIGKILL
   * everything left in the pid namespace (pid_namespaces(7)). */
  write_all(LJ_INIT_SLOT_STATUS, (const char*)&st, sizeof st);
  char buf[32];
  const int sig = WIFSIGNALED(st);
  char* num = utoa(buf + sizeof buf, (unsigned)(sig ? WTERMSIG(st) : WEXITSTATUS(st)));
  write_all(LJ_INIT_SLOT_STATUS_FILE, sig ? "killed " : "exited ", 7);
  write_all(LJ_INIT_SLOT_STATUS_FILE, num, strlen(num));
  write_all(LJ_INIT_SLOT_STATUS_FILE, "\n", 1);
  _exit(0);
}
