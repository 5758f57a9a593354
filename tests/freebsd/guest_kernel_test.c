/* What ljd's FreeBSD backend asks of the kernel, checked one call at a time in the test guest
 * (scripts/freebsd-guest), in C: the guest's static userland has no C++ runtime yet
 * (docs/freebsd-guest.md). Each check is one test: `guest_kernel_test NAME` exits 0 when it
 * holds, 1 with the reason on stderr when it does not. The calls are the backend's own
 * (lib/jail/freebsd/backend.cpp, jail_sys.cpp; lib/jail/freebsd/root_mounts.cpp). */
#include <sys/param.h>
#include <sys/event.h>
#include <sys/jail.h>
#include <sys/mount.h>
#include <sys/procdesc.h>
#include <sys/rctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/stat.h>
#include <sys/sysctl.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <net/if.h>

#include <errno.h>
#include <fcntl.h>
#include <jail.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      fprintf(stderr, "%s:%d: %s: ", __FILE__, __LINE__, #cond);       \
      fprintf(stderr, __VA_ARGS__);                                    \
      fprintf(stderr, " (errno %d %s)\n", errno, strerror(errno));     \
      return 1;                                                        \
    }                                                                  \
  } while (0)

static char name_buf[64];
static const char* jname(const char* what) {
  snprintf(name_buf, sizeof name_buf, "ljg-%s-%d", what, (int)getpid());
  return name_buf;
}

static int hello(void) {
  printf("hello from a static FreeBSD userland built from source (libc + csu)\n");
  return 0;
}

/* A persistent jail: created, found by name, removed, gone. */
static int jail_lifecycle(void) {
  const char* n = jname("life");
  int jid = jail_setv(JAIL_CREATE, "path", "/", "name", n, "persist", NULL, NULL);
  CHECK(jid > 0, "jail_setv create: %s", jail_errmsg);
  CHECK(jail_getid(n) == jid, "jail_getid(%s)", n);
  CHECK(jail_remove(jid) == 0, "jail_remove(%d)", jid);
  CHECK(jail_getid(n) < 0, "%s still there after jail_remove", n);
  return 0;
}

/* Waits (up to 10 s) until no jail, dying or alive, holds the name: how the backend knows a
 * name may be reused. */
static int wait_name_free(const char* n) {
  for (int i = 0; i < 200; i++) {
    char buf[MAXHOSTNAMELEN];
    int jid = jail_getv(JAIL_DYING, "name", n, "host.hostname", buf, NULL);
    if (jid < 0) return 0;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return -1;
}

/* The backend's spawn: a child creates and enters a non-persistent jail, then runs; the jail dies
 * with its last process. Exit code and signal reach the parent exactly; the name is free again
 * once the dying jail is gone, and a second jail takes it. */
static int jail_child(const char* n, int how) {
  pid_t pid = fork();
  if (pid == 0) {
    /* lib/jail/freebsd/backend.cpp's parameters for network mode none. */
    int jid = jail_setv(JAIL_CREATE | JAIL_ATTACH, "path", "/", "name", n, "host.hostname", n,
                        "nopersist", NULL, "enforce_statfs", "2", "devfs_ruleset", "4",
                        "children.max", "0", "allow.nomount", NULL, "vnet", "new", NULL);
    if (jid < 0) {
      fprintf(stderr, "jail_setv: %s\n", jail_errmsg);
      _exit(125);
    }
    if (how == 0) _exit(42);
    signal(SIGTERM, SIG_DFL);
    kill(getpid(), SIGTERM);
    _exit(126);
  }
  int st;
  if (waitpid(pid, &st, 0) != pid) return -1;
  return st;
}

static int jail_exit_status(void) {
  const char* n = jname("exit");
  int st = jail_child(n, 0);
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 42, "status 0x%x, want exit 42", st);
  CHECK(wait_name_free(n) == 0, "jail %s never went away", n);
  st = jail_child(n, 1);  /* the same name, reused */
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status 0x%x, want SIGTERM", st);
  CHECK(wait_name_free(n) == 0, "jail %s never went away", n);
  return 0;
}

/* Processes (not zombies) in jail JID, from kern.proc.proc as jail_sys.cpp reads it. */
static int live_in_jail(int jid) {
  int mib[3] = {CTL_KERN, KERN_PROC, KERN_PROC_PROC};
  size_t len = 0;
  if (sysctl(mib, 3, NULL, &len, NULL, 0) != 0) return -1;
  len += 16 * sizeof(struct kinfo_proc);
  struct kinfo_proc* kp = malloc(len);
  if (kp == NULL || sysctl(mib, 3, kp, &len, NULL, 0) != 0) {
    free(kp);
    return -1;
  }
  int live = 0;
  for (size_t i = 0; i < len / sizeof *kp; i++)
    if (kp[i].ki_jid == jid && kp[i].ki_stat != SZOMB) live++;
  free(kp);
  return live;
}

/* The backend's timeout and teardown (remove_jail_and_wait): jail_remove(2) of a jail whose main
 * process has a grandchild in another session kills both; the wait for its processes ends; the
 * dying jail goes and its name is free. */
static int jail_remove_tree(void) {
  const char* n = jname("tree");
  int ready[2];
  CHECK(pipe(ready) == 0, "pipe");
  pid_t pid = fork();
  if (pid == 0) {
    if (jail_setv(JAIL_CREATE | JAIL_ATTACH, "path", "/", "name", n, "nopersist", NULL, NULL) < 0)
      _exit(125);
    if (fork() == 0) {  /* the grandchild: its own session, outside the main process's group */
      setsid();
      for (;;) pause();
    }
    write(ready[1], "x", 1);
    for (;;) pause();
  }
  close(ready[1]);
  char c;
  CHECK(read(ready[0], &c, 1) == 1, "the jail never started");
  int jid = jail_getid(n);
  CHECK(jid > 0, "jail_getid(%s)", n);
  CHECK(live_in_jail(jid) == 2, "want 2 processes in the jail, have %d", live_in_jail(jid));
  CHECK(jail_remove(jid) == 0, "jail_remove(%d)", jid);
  int live = -1;
  for (int i = 0; i < 200 && (live = live_in_jail(jid)) != 0; i++) {
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  CHECK(live == 0, "%d process(es) left after jail_remove", live);
  int st;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x, want SIGKILL", st);
  CHECK(wait_name_free(n) == 0, "jail %s never went away", n);
  close(ready[0]);
  return 0;
}

/* pdfork(2) and the exit status through EVFILT_PROCDESC (the backend's wait_fd()). */
static int procdesc_exit(void) {
  int pd = -1;
  pid_t pid = pdfork(&pd, 0);
  CHECK(pid >= 0, "pdfork");
  if (pid == 0) _exit(7);
  int kq = kqueue();
  CHECK(kq >= 0, "kqueue");
  struct kevent ev;
  EV_SET(&ev, pd, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, NULL);
  CHECK(kevent(kq, &ev, 1, NULL, 0, NULL) == 0, "kevent add");
  struct timespec to = {10, 0};
  CHECK(kevent(kq, NULL, 0, &ev, 1, &to) == 1, "no NOTE_EXIT in 10 s");
  CHECK(WIFEXITED((int)ev.data) && WEXITSTATUS((int)ev.data) == 7, "data 0x%lx, want exit 7",
        (long)ev.data);
  close(pd);
  close(kq);
  return 0;
}

/* nmount(2) with name/value pairs, as lib/jail/freebsd/root_mounts.cpp builds them. */
static int mount_fs(const char* fstype, const char* at, const char* const* opts) {
  struct iovec iov[16];
  int n = 0;
#define IOV(s) (iov[n].iov_base = (void*)(s), iov[n].iov_len = strlen(s) + 1, n++)
  IOV("fstype"); IOV(fstype); IOV("fspath"); IOV(at);
  for (int i = 0; opts[i] != NULL; i += 2) { IOV(opts[i]); IOV(opts[i + 1]); }
#undef IOV
  return nmount(iov, n, 0);
}

/* The backend's root with its exact options (lib/overlay/freebsd/mount_steps.cpp): the world
 * through nullfs ("target"), a tmpfs upper ("from", "mode"), unionfs over it ("target",
 * "copymode=transparent"), devfs with a ruleset; a write lands in the upper layer; all
 * unmounted again in reverse, and getmntinfo(3) shows none left. */
/* Unmounts, most recent first, whatever is still mounted under PREFIX: a failed check must not
 * leave its mounts to the next. Returns how many it found. */
static int unmount_under(const char* prefix) {
  int found = 0;
  for (;;) {
    struct statfs* mnt;
    int count = getmntinfo(&mnt, MNT_NOWAIT), last = -1;
    for (int i = 0; i < count; i++)
      if (strncmp(mnt[i].f_mntonname, prefix, strlen(prefix)) == 0) last = i;
    if (last < 0) return found;
    found++;
    if (unmount(mnt[last].f_mntonname, MNT_FORCE) != 0) return found;
  }
}

static void show_mount(const char* path) {
  struct statfs sf;
  if (statfs(path, &sf) == 0)
    fprintf(stderr, "  %s is on %s (%s)\n", path, sf.f_mntonname, sf.f_fstypename);
  else
    fprintf(stderr, "  statfs %s: %s\n", path, strerror(errno));
}

static const char* base;  /* where a mounts check works: /tmp/m, or /tmp/p */
static const char* P(const char* rest);
/* mounts: each nmount is followed by the backend's check that the mount point now resolves to
 * the new mount (lib/jail/freebsd/root_mounts.cpp, visible()). mounts-unprimed leaves it out:
 * on this 2019 kernel the first lookup through a unionfs directory then misses the devfs just
 * mounted on it (docs/freebsd-guest.md). */
static int prime = 1;
static int mounts_steps(void);
static int mounts(void);
static int mounts_unprimed(void) {
  prime = 0;
  base = "/tmp/u";
  return mounts();
}
static int mounts(void) {
  int r = mounts_steps();
  if (r != 0) {
    show_mount(P("/root"));
    show_mount(P("/root/dev"));
    struct stat a, b;
    int sa = stat(P("/root/dev"), &a), sb = stat(P("/root/dev/null"), &b);
    fprintf(stderr, "  again: stat dev %d (st_dev %#lx), stat dev/null %d\n", sa,
            (unsigned long)a.st_dev, sb);
    int fd = open(P("/root/dev"), O_RDONLY | O_DIRECTORY);
    struct stat c;
    if (fd >= 0 && fstat(fd, &c) == 0)
      fprintf(stderr, "  open(dev): st_dev %#lx; openat(null) %d\n", (unsigned long)c.st_dev,
              openat(fd, "null", O_RDONLY));
    int left = unmount_under(base);
    fprintf(stderr, "  (cleaned up %d mounts)\n", left);
  }
  return r;
}

/* devfs with the backend's ruleset on a plain directory (no unionfs below it). */
static int devfs_plain(void) {
  CHECK(mkdir("/tmp/d", 0755) == 0, "mkdir");
  const char* dev[] = {"from", "devfs", "ruleset", "4", NULL};
  CHECK(mount_fs("devfs", "/tmp/d", dev) == 0, "devfs");
  struct stat st;
  int ok = stat("/tmp/d/null", &st) == 0;
  CHECK(unmount("/tmp/d", 0) == 0, "unmount");
  CHECK(ok, "no null in a devfs with ruleset 4");
  return 0;
}

static const char* base = "/tmp/m";  /* mounts-primed uses /tmp/p */
static const char* P(const char* rest) {
  static char bufs[16][96];
  static int next;
  char* b = bufs[next++ % 16];
  snprintf(b, sizeof bufs[0], "%s%s", base, rest);
  return b;
}

/* Looks TARGET up until statfs(2) names it as a mount point: up to 3 lookups. */
static int visible(const char* target) {
  for (int i = 1; i <= 3; i++) {
    struct statfs sf;
    if (statfs(target, &sf) == 0 && strcmp(sf.f_mntonname, target) == 0) {
      if (i > 1) fprintf(stderr, "  %s: visible at lookup %d\n", target, i);
      return 0;
    }
  }
  return -1;
}

static int mounts_steps(void) {
  const char* d[] = {P(""), P("/upper"), P("/root")};
  for (unsigned i = 0; i < nitems(d); i++) CHECK(mkdir(d[i], 0755) == 0, "mkdir %s", d[i]);
  const char* world[] = {"target", "/", NULL};
  CHECK(mount_fs("nullfs", P("/root"), world) == 0, "nullfs");
  CHECK(!prime || visible(P("/root")) == 0, "nullfs not visible");
  const char* tmp[] = {"from", "tmpfs", "mode", "0755", NULL};
  CHECK(mount_fs("tmpfs", P("/upper"), tmp) == 0, "tmpfs");
  CHECK(!prime || visible(P("/upper")) == 0, "tmpfs not visible");
  const char* rw[] = {"target", P("/upper"), "copymode", "transparent", NULL};
  CHECK(mount_fs("unionfs", P("/root"), rw) == 0, "unionfs");
  CHECK(!prime || visible(P("/root")) == 0, "unionfs not visible");
  FILE* f = fopen(P("/root/written"), "w");
  CHECK(f != NULL, "write through unionfs");
  fclose(f);
  struct stat st;
  CHECK(stat(P("/upper/written"), &st) == 0, "the write did not land in the upper layer");
  CHECK(stat("/written", &st) != 0, "the write reached the world");
  const char* dev[] = {"from", "devfs", "ruleset", "4", NULL};
  CHECK(mount_fs("devfs", P("/root/dev"), dev) == 0, "devfs");
  CHECK(!prime || visible(P("/root/dev")) == 0, "devfs not visible");
  CHECK(stat(P("/root/dev/null"), &st) == 0, "no /dev/null in the jail's devfs");
  const char* um[] = {P("/root/dev"), P("/root"), P("/upper"), P("/root")};
  for (unsigned i = 0; i < nitems(um); i++) CHECK(unmount(um[i], 0) == 0, "unmount %s", um[i]);
  struct statfs* mnt;
  int count = getmntinfo(&mnt, MNT_NOWAIT);
  for (int i = 0; i < count; i++)
    CHECK(strncmp(mnt[i].f_mntonname, base, strlen(base)) != 0, "left mounted: %s", mnt[i].f_mntonname);
  return 0;
}

/* rctl: accounting on, and a jail:NAME:maxproc rule bites inside the jail. */
static int rctl_maxproc(void) {
  int on = 0;
  size_t len = sizeof on;
  CHECK(sysctlbyname("kern.racct.enable", &on, &len, NULL, 0) == 0 && on == 1, "racct off");
  const char* n = jname("rctl");
  char rule[128];
  snprintf(rule, sizeof rule, "jail:%s:maxproc:deny=3", n);
  CHECK(rctl_add_rule(rule, strlen(rule) + 1, NULL, 0) == 0, "rctl_add_rule %s", rule);
  pid_t pid = fork();
  if (pid == 0) {
    if (jail_setv(JAIL_CREATE | JAIL_ATTACH, "path", "/", "name", n, "nopersist", NULL,
                  NULL) < 0) {
      fprintf(stderr, "jail_setv: %s\n", jail_errmsg);
      _exit(125);
    }
    int made = 0, denied = 0;
    pid_t kids[6];
    for (int i = 0; i < 6; i++) {
      pid_t c = fork();
      if (c == 0) { pause(); _exit(0); }
      if (c > 0) kids[made++] = c;
      else if (errno == EAGAIN) denied++;
    }
    for (int i = 0; i < made; i++) kill(kids[i], SIGKILL);
    for (int i = 0; i < made; i++) waitpid(kids[i], NULL, 0);
    fprintf(stderr, "maxproc=3: %d forks made, %d denied (EAGAIN)\n", made, denied);
    _exit(denied > 0 && made < 6 ? 0 : 1);
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  char filter[128];
  snprintf(filter, sizeof filter, "jail:%s", n);
  CHECK(rctl_remove_rule(filter, strlen(filter) + 1, NULL, 0) == 0, "rctl_remove_rule");
  CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "maxproc did not bite (status 0x%x)", st);
  return 0;
}

/* The backend's memory limit and OOM report (plan.cpp rctl_rules, oom_log_needle): memoryuse
 * sigkill + log rules keyed by the jail's name; a child that touches twice the limit is killed
 * by SIGKILL, and the log rule's line is in the kernel message buffer. */
static int rctl_memory(void) {
  const char* n = jname("mem");
  char kill_rule[128], log_rule[128], filter[128];
  snprintf(kill_rule, sizeof kill_rule, "jail:%s:memoryuse:sigkill=33554432", n);
  snprintf(log_rule, sizeof log_rule, "jail:%s:memoryuse:log=33554432", n);
  CHECK(rctl_add_rule(kill_rule, strlen(kill_rule) + 1, NULL, 0) == 0, "%s", kill_rule);
  CHECK(rctl_add_rule(log_rule, strlen(log_rule) + 1, NULL, 0) == 0, "%s", log_rule);
  pid_t pid = fork();
  if (pid == 0) {
    if (jail_setv(JAIL_CREATE | JAIL_ATTACH, "path", "/", "name", n, "nopersist", NULL, NULL) < 0)
      _exit(125);
    size_t size = 64u << 20;
    /* volatile: clang -O2 otherwise drops the stores (nothing reads them before _exit) and then
     * the malloc itself, and the child touches no memory at all. */
    volatile char* p = malloc(size);
    if (p == NULL) _exit(124);
    for (int round = 0; round < 300; round++) {  /* up to ~30 s: racct samples once a second */
      for (size_t off = 0; off < size; off += 4096) p[off] = (char)round;
      struct timespec ts = {0, 100 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
    _exit(0);
  }
  /* What racct accounts for the jail meanwhile (rctl -u): the evidence when the rule does not
   * fire. */
  snprintf(filter, sizeof filter, "jail:%s", n);
  for (int i = 0; i < 3; i++) {
    sleep(3);
    char usage[4096] = "";
    if (rctl_get_racct(filter, strlen(filter) + 1, usage, sizeof usage) == 0) {
      char* mem = strstr(usage, "memoryuse=");
      fprintf(stderr, "  after %d s: %.40s\n", 3 * (i + 1), mem != NULL ? mem : usage);
    } else {
      fprintf(stderr, "  rctl_get_racct: %s\n", strerror(errno));
    }
  }
  int st;
  CHECK(waitpid(pid, &st, 0) == pid, "waitpid");
  rctl_remove_rule(filter, strlen(filter) + 1, NULL, 0);
  CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "status 0x%x, want SIGKILL", st);
  size_t len = 0;
  CHECK(sysctlbyname("kern.msgbuf", NULL, &len, NULL, 0) == 0, "kern.msgbuf size");
  len += 4096;  /* room for lines logged between the two calls (else ENOMEM) */
  char* buf = malloc(len + 1);
  CHECK(buf != NULL && sysctlbyname("kern.msgbuf", buf, &len, NULL, 0) == 0, "kern.msgbuf");
  buf[len] = '\0';
  char needle[160];
  snprintf(needle, sizeof needle, "rctl: rule \"jail:%s:memoryuse:log=", n);
  /* memmem, not strstr: the buffer holds NUL bytes before the line (as count_in_msgbuf in
   * lib/jail/freebsd/jail_sys.cpp expects). */
  int found = memmem(buf, len, needle, strlen(needle)) != NULL;
  free(buf);
  CHECK(found, "no '%s' in kern.msgbuf", needle);
  return 0;
}

/* vnet jails and epair(4) interfaces, created and destroyed. */
static int vnet_epair(void) {
  const char* n = jname("vnet");
  int jid = jail_setv(JAIL_CREATE, "path", "/", "name", n, "vnet", NULL, "persist", NULL, NULL);
  CHECK(jid > 0, "vnet jail: %s", jail_errmsg);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  CHECK(s >= 0, "socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strlcpy(ifr.ifr_name, "epair", sizeof ifr.ifr_name);
  CHECK(ioctl(s, SIOCIFCREATE2, &ifr) == 0, "create epair");
  printf("epair: %s\n", ifr.ifr_name);
  CHECK(ioctl(s, SIOCIFDESTROY, &ifr) == 0, "destroy %s", ifr.ifr_name);
  close(s);
  CHECK(jail_remove(jid) == 0, "jail_remove");
  return 0;
}

int main(int argc, char** argv) {
  static const struct { const char* name; int (*fn)(void); } checks[] = {
      {"hello", hello},           {"jail-lifecycle", jail_lifecycle},
      {"jail-exit", jail_exit_status}, {"procdesc", procdesc_exit},
      {"jail-remove", jail_remove_tree},
      {"mounts", mounts},         {"rctl", rctl_maxproc},
      {"vnet", vnet_epair},       {"devfs", devfs_plain},
      {"rctl-memory", rctl_memory},
      {"mounts-unprimed", mounts_unprimed},
  };
  if (argc != 2) {
    fprintf(stderr, "usage: guest_kernel_test CHECK\n");
    return 2;
  }
  for (unsigned i = 0; i < nitems(checks); i++)
    if (strcmp(argv[1], checks[i].name) == 0) return checks[i].fn();
  fprintf(stderr, "guest_kernel_test: no check %s\n", argv[1]);
  return 2;
}
