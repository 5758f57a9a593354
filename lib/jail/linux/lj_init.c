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

/* Bytes the daemon has not read yet from the jail's stdout and stderr pipes (the read ends init
 * holds: LJ_INIT_SLOT_OUT_READ/ERR_READ); 0 where init holds none (ljspawn). */
static int unread(void) {
  int out = 0, err = 0;
  if (lj_unread(LJ_INIT_SLOT_OUT_READ, &out) < 0) out = 0;
  if (lj_unread(LJ_INIT_SLOT_ERR_READ, &err) < 0) err = 0;
  return out + err;
}

/* The pipes die with their last reader, and init holds the only one while ljd is down: a jail
 * that ended then lost what it wrote last. So init stays while output is unread: the rest of
 * the jail is killed first (nothing more is written), and init exits once the pipes are empty,
 * at once when ljd reads them (a few ms at most), or after the next ljd took them back
 * (take_output) and read them. Bounded: after LJ_INIT_LINGER_S seconds without a reader the
 * output goes, as before, so that a jail whose daemon never comes back still ends. */
#define LJ_INIT_LINGER_S 600
static void linger_for_output(const lj_sigset* set) {
  if (unread() == 0) return;
  lj_kill(-1, SIGKILL);
  long waited = 0, step = 1000000L; /* 1 ms, doubling to 64 ms */
  int st = 0;
  while (unread() > 0 && waited < LJ_INIT_LINGER_S * 1000000000L) {
    siginfo_t info;
    lj_sigtimedwait(set, &info, step); /* SIGCHLD of the killed, forwarded signals: dropped */
    reap(-1, &st);
    waited += step;
    if (step < 64000000L) step *= 2;
  }
}

int main(int argc, char** argv) {
  /* argv[3] "exec": the monitor of an exec (child.cpp, exec_monitor_main), not a jail's init. It
   * lives in the host's pid namespace, where kill(-1) would reach every process of the host: it
   * signals only its command and has no pipes to linger for. */
  const int exec_mode = argc >= 4 && argv[3][0] == 'e';
  /* execve made the process dumpable again (execve(2)): closed to the jail before the command,
   * waiting on LJ_INIT_SLOT_GO, may look at /proc/1. */
  lj_prctl(PR_SET_DUMPABLE, 0);
  lj_prctl(PR_SET_NAME, (unsigned long)(exec_mode ? "lj-exec" : "lj-init")); /* not the
                                                        descriptor's number execveat gave it */
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
      if (!exec_mode && info.si_code == SI_QUEUE && info.si_value.sival_int == LJ_INIT_BROADCAST)
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
  /* The file was made with a placeholder of blanks (status_file_open.hpp): cut after the line,
   * inside the block already taken, so no space is needed. */
  lj_ftruncate(LJ_INIT_SLOT_STATUS_FILE, 7 + (long)(buf + sizeof buf - num) + 1);
  if (!exec_mode) linger_for_output(&set);
  /* Init's own exit status is the command's, in the shell's convention (128+signal: a namespace
   * init cannot kill itself with the signal), for a parent that has only init's wait status: an
   * OCI runtime's caller (conmon, containerd's shim) reaps init as the container's process. */
  lj_exit(sig ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
}
