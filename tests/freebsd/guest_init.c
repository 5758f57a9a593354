/* pid 1 of the FreeBSD test guest (scripts/freebsd-guest). The root is a read-only cd9660 image;
 * the kernel has mounted devfs on /dev. This init mounts a tmpfs on /tmp (the tests' scratch),
 * runs each line of /etc/guest-tests as one test (split on spaces: NAME=VALUE words first, added
 * to the environment, then the absolute path of the program and its arguments),
 * each in its own session, killed with its whole group after LJ_TEST_TIMEOUT seconds, and
 * counts a test passed when it exits 0. It ends with the tally on the console,
 * "N passed, M failed", then "LJ-GUEST-EXIT <0 or 1>" (the line scripts/freebsd-guest/boot.sh
 * parses), and powers off: pid 1 must never exit, or the kernel panics. */
#include <sys/param.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/sysctl.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <fs/devfs/devfs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { kTimeoutSeconds = 300, kMaxArgs = 32 };

static void console(void) {
  int fd = open("/dev/console", O_RDWR);
  if (fd < 0) return;
  dup2(fd, 0);
  dup2(fd, 1);
  dup2(fd, 2);
  if (fd > 2) close(fd);
  setvbuf(stdout, NULL, _IOLBF, 0);
}

static int mount_tmpfs(const char* where) {
  struct iovec iov[] = {
      {"fstype", 7}, {"tmpfs", 6}, {"fspath", 7}, {(void*)where, strlen(where) + 1},
      {"from", 5},   {"tmpfs", 6}, {"mode", 5},   {"1777", 5},
  };
  return nmount(iov, nitems(iov), 0);
}

/* Runs argv[0] with argv in a session of its own; kills the session after the timeout.
 * Returns the wait status, or -1 (spawn failed) / -2 (timed out). */
static int run(char** argv, char** extra_env, int n_extra) {
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    setsid();
    char* env[kMaxArgs + 4] = {"PATH=/bin:/sbin", "HOME=/tmp", "TMPDIR=/tmp"};
    for (int i = 0; i < n_extra; i++) env[3 + i] = extra_env[i];
    env[3 + n_extra] = NULL;
    execve(argv[0], argv, env);
    fprintf(stderr, "guest-init: exec %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  time_t deadline = time(NULL) + kTimeoutSeconds;
  for (;;) {
    int status;
    /* Any child: pid 1 also reaps the orphans a test leaves behind. */
    pid_t r = waitpid(-1, &status, WNOHANG);
    if (r == pid) return status;
    if (r > 0) continue;
    if (r < 0 && errno != EINTR) return -1;
    if (time(NULL) >= deadline) {
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -2;
    }
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
}

/* The rulesets of /etc/defaults/devfs.rules (sbin/devfs/devfs.rules in the tree), loaded as a host
 * with devfs_load_rulesets=YES has them (rc's `service devfs restart`), through devfs(8)'s
 * ioctls: the backend mounts every jail's devfs with ruleset 4, devfsrules_jail, and includes it
 * in a jail's own ruleset (device grants). A rule is "+N" (include ruleset N), "-" (hide all) or
 * a path pattern to unhide. */
static const char* const kRulesets[][56] = {
    {"-", NULL},
    {"log", "null", "zero", "crypto", "random", "urandom", NULL},
    {"ptyp*", "ptyq*", "ptyr*", "ptys*", "ptyP*", "ptyQ*", "ptyR*", "ptyS*", "ptyl*", "ptym*",
     "ptyn*", "ptyo*", "ptyL*", "ptyM*", "ptyN*", "ptyO*", "ttyp*", "ttyq*", "ttyr*", "ttys*",
     "ttyP*", "ttyQ*", "ttyR*", "ttyS*", "ttyl*", "ttym*", "ttyn*", "ttyo*", "ttyL*", "ttyM*",
     "ttyN*", "ttyO*", "ptmx", "pts", "pts/*", "fd", "fd/*", "stdin", "stdout", "stderr", NULL},
    {"+1", "+2", "+3", "fuse", "zfs", NULL},
};

static int load_devfs_rulesets(void) {
  int fd = open("/dev", O_RDONLY | O_DIRECTORY);
  if (fd < 0) return -1;
  for (unsigned set = 0; set < nitems(kRulesets); set++) {
    for (unsigned i = 0; kRulesets[set][i] != NULL; i++) {
      const char* r = kRulesets[set][i];
      struct devfs_rule dr;
      memset(&dr, 0, sizeof dr);
      dr.dr_magic = DEVFS_MAGIC;
      dr.dr_id = mkrid(set + 1, (i + 1) * 100);
      if (r[0] == '+') {
        dr.dr_iacts = DRA_INCSET;
        dr.dr_incset = (devfs_rsnum)atoi(r + 1);
      } else {
        dr.dr_iacts = DRA_BACTS;
        dr.dr_bacts = r[0] == '-' ? DRB_HIDE : DRB_UNHIDE;
        if (r[0] != '-') {
          dr.dr_icond = DRC_PATHPTRN;
          strlcpy(dr.dr_pathptrn, r, sizeof dr.dr_pathptrn);
        }
      }
      if (ioctl(fd, DEVFSIO_RADD, &dr) != 0) {
        close(fd);
        return -1;
      }
    }
  }
  close(fd);
  return 0;
}

int main(void) {
  console();
  printf("guest-init: pid %d\n", (int)getpid());
  if (mount_tmpfs("/tmp") != 0) printf("guest-init: tmpfs on /tmp: %s\n", strerror(errno));
  /* The host setting docs/freebsd.md asks for: the buffer pager releases its buffers after a
   * read. Otherwise a buffer a jailed process read in keeps that process's credential, and with
   * it the jail (dying) and its root vnode (EBUSY on unmount), until the buffer is recycled. */
  int relbuf = 1;
  if (sysctlbyname("vfs.buf_pager_relbuf", NULL, NULL, &relbuf, sizeof relbuf) != 0)
    printf("guest-init: vfs.buf_pager_relbuf=1: %s\n", strerror(errno));
  if (load_devfs_rulesets() != 0) printf("guest-init: devfs rulesets 1-4: %s\n", strerror(errno));
  int passed = 0, failed = 0;
  FILE* list = fopen("/etc/guest-tests", "r");
  if (list == NULL) {
    printf("guest-init: /etc/guest-tests: %s\n", strerror(errno));
    failed++;
  }
  char line[1024];
  while (list != NULL && fgets(line, sizeof line, list) != NULL) {
    line[strcspn(line, "\n")] = '\0';
    if (line[0] == '\0' || line[0] == '#') continue;
    char copy[sizeof line];
    strlcpy(copy, line, sizeof copy);
    char* argv[kMaxArgs + 1];
    char* env[kMaxArgs];
    int argc = 0, envc = 0;
    for (char* tok = strtok(copy, " "); tok != NULL && argc < kMaxArgs; tok = strtok(NULL, " ")) {
      if (argc == 0 && envc < kMaxArgs && tok[0] != '/' && strchr(tok, '=') != NULL)
        env[envc++] = tok;
      else
        argv[argc++] = tok;
    }
    argv[argc] = NULL;
    printf("guest-init: RUN %s\n", line);
    int st = argc > 0 ? run(argv, env, envc) : -1;
    int ok = st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0;
    if (st == -2)
      printf("guest-init: FAIL %s (timed out after %d s)\n", line, kTimeoutSeconds);
    else if (st == -1)
      printf("guest-init: FAIL %s (could not start)\n", line);
    else if (WIFSIGNALED(st))
      printf("guest-init: FAIL %s (signal %d)\n", line, WTERMSIG(st));
    else
      printf("guest-init: %s %s (exit %d)\n", ok ? "PASS" : "FAIL", line, WEXITSTATUS(st));
    ok ? passed++ : failed++;
  }
  printf("%d passed, %d failed\n", passed, failed);
  printf("LJ-GUEST-EXIT %d\n", failed == 0 && passed > 0 ? 0 : 1);
  fflush(stdout);
  sync();
  reboot(RB_POWEROFF | RB_HALT);
  for (;;) pause();
}
