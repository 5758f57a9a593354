/* probe: a static test program for test worlds (after crun's tests/init.c). One verb per run,
 * exact output, exact exit codes, so tests can assert what a jailed process sees and may do.
 * A failed operation prints "<verb>: <ERRNO NAME>" and exits 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static int fail(const char* what) {
  printf("%s: %s\n", what, strerrorname_np(errno));
  return 1;
}

static int list_dir(const char* path, int numeric_only) {
  DIR* d = opendir(path);
  if (!d) return fail("opendir");
  struct dirent* e;
  int first = 1;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (numeric_only && (e->d_name[0] < '0' || e->d_name[0] > '9')) continue;
    printf("%s%s", first ? "" : " ", e->d_name);
    first = 0;
  }
  printf("\n");
  closedir(d);
  return 0;
}

static int cat(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open");
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, (size_t)n, stdout);
  close(fd);
  return n < 0 ? fail("read") : 0;
}

static int write_file(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  if (write(fd, text, strlen(text)) < 0) return fail("write");
  if (close(fd) < 0) return fail("close");
  printf("ok\n");
  return 0;
}

/* The classic chroot(2) escape: chroot into a subdirectory while keeping the cwd outside it, walk
 * up, chroot there. Prints whether `probe_path` is then reachable. */
static int chroot_escape(const char* probe_path) {
  mkdir("/tmp/.escape", 0755);
  if (chroot("/tmp/.escape") < 0) return fail("chroot");
  for (int i = 0; i < 64; ++i) {
    if (chdir("..") < 0) return fail("chdir");
  }
  if (chroot(".") < 0) return fail("chroot");
  printf(access(probe_path, F_OK) == 0 ? "reachable\n" : "unreachable\n");
  return 0;
}

/* Escape attempts (tests/escape): each prints "ok"-style success words or "<what>: <ERRNO>". */

static int open_write(const char* path) {
  int fd = open(path, O_WRONLY);
  if (fd < 0) return fail("open");
  close(fd);
  return printf("opened\n") < 0;
}

/* CVE-2019-5736's move: hold the binary by an O_PATH descriptor, reopen it for writing through
 * /proc/self/fd once the holder would have let go. */
static int reopen_write(const char* path) {
  int fd = open(path, O_PATH);
  if (fd < 0) return fail("open O_PATH");
  char via[64];
  snprintf(via, sizeof via, "/proc/self/fd/%d", fd);
  int w = open(via, O_WRONLY);
  if (w < 0) return fail("reopen");
  close(w);
  return printf("opened\n") < 0;
}

static int modules(void) {
  /* The capability check comes before the image is read (kernel/module/main.c may_init_module). */
  static char image[64];
  int rc = 0;
  if (syscall(SYS_init_module, image, sizeof image, "") == 0) {
    printf("init_module: loaded\n");
    rc = 1;
  } else {
    printf("init_module: %s\n", strerrorname_np(errno));
  }
  int fd = open("/bin/probe", O_RDONLY | O_CLOEXEC);
  if (syscall(SYS_finit_module, fd, "", 0) == 0) {
    printf("finit_module: loaded\n");
    rc = 1;
  } else {
    printf("finit_module: %s\n", strerrorname_np(errno));
  }
  if (fd >= 0) close(fd);
  return rc;
}

/* Prints "PATH: opened" or "PATH: ERRNO" per device; exits 1 when any opened. */
static int open_devices(int n, char** paths) {
  int rc = 0;
  for (int i = 0; i < n; ++i) {
    int fd = open(paths[i], O_RDWR | O_NONBLOCK);
    if (fd < 0) fd = open(paths[i], O_RDONLY | O_NONBLOCK);
    if (fd >= 0) {
      printf("%s: opened\n", paths[i]);
      close(fd);
      rc = 1;
    } else {
      printf("%s: %s\n", paths[i], strerrorname_np(errno));
    }
  }
  return rc;
}

/* Takes an interface down (mtu < 0) or sets its MTU, as `ip link` would. */
static int iface_set(const char* name, int mtu) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return fail("socket");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
  if (mtu >= 0) {
    ifr.ifr_mtu = mtu;
    if (ioctl(s, SIOCSIFMTU, &ifr) < 0) return fail("SIOCSIFMTU");
  } else {
    if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) return fail("SIOCGIFFLAGS");
    ifr.ifr_flags = (short)(ifr.ifr_flags & ~IFF_UP);
    if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) return fail("SIOCSIFFLAGS");
  }
  close(s);
  return printf("changed\n") < 0;
}

/* A UNIX stream connect to a path, or to an abstract name when `abstract` (no leading NUL). */
static int unix_connect(const char* name, int abstract) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return fail("socket");
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof sa);
  sa.sun_family = AF_UNIX;
  size_t n = strlen(name);
  if (n + 2 > sizeof sa.sun_path) {
    errno = ENAMETOOLONG;
    return fail("connect");
  }
  memcpy(sa.sun_path + (abstract ? 1 : 0), name, n);
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (abstract ? 1 : 0));
  if (connect(s, (struct sockaddr*)&sa, len) < 0) return fail("connect");
  close(s);
  return printf("connected\n") < 0;
}

static int sockets_found;
static int note_socket(const char* path, const struct stat* st, int type, struct FTW* ftw) {
  (void)type;
  (void)ftw;
  if (S_ISSOCK(st->st_mode)) {
    printf("%s\n", path);
    ++sockets_found;
  }
  return 0;
}

/* Every UNIX socket in the jail's tree, /proc and /sys aside (FTW_MOUNT keeps to the root's own
 * mounts; /proc holds none but its per-process views, which are the jail's own). */
static int find_sockets(const char* top) {
  sockets_found = 0;
  if (nftw(top, note_socket, 32, FTW_PHYS | FTW_MOUNT) < 0) return fail("nftw");
  if (!sockets_found) printf("none\n");
  return 0;
}

/* A nested user namespace gives back CAP_SYS_ADMIN over a new mount namespace: what can it do? */
static int userns_mount(void) {
  if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0) return fail("unshare");
  mkdir("/tmp/.um", 0755);
  if (mount("tmpfs", "/tmp/.um", "tmpfs", 0, NULL) < 0) return fail("mount tmpfs");
  printf("nested tmpfs mounted\n");
  mkdir("/tmp/.um/p", 0755);
  if (mount("proc", "/tmp/.um/p", "proc", 0, NULL) < 0) return fail("mount proc");
  return printf("nested proc mounted\n") < 0;
}

/* The default seccomp filter (lib/jail/linux/seccomp.cpp): each call in a child of its own (an
 * unshare that succeeds must not change the next attempt), "NAME: ok" or "NAME: ERRNO". The
 * arguments are chosen so that, without the filter, the kernel would answer something else than
 * EPERM where it can (ok, EBADF, EINVAL, ENOENT, ENOKEY, EACCES, ENOSYS): EPERM then proves the
 * filter. Harmless as host root too: every path named does not exist, every fd is -1. */
struct attempt {
  const char* name;
  long (*call)(void);
};

static long a_unshare_user(void) {
  return unshare(CLONE_NEWUSER);
}
static long a_unshare_uts(void) {
  return unshare(CLONE_NEWUTS);
}
static long spawn_raw(unsigned long flags) {
  long pid = syscall(SYS_clone, flags | SIGCHLD, 0, 0, 0, 0);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid < 0 ? -1 : 0;
}
static long a_clone_user(void) {
  return spawn_raw(CLONE_NEWUSER);
}
static long a_clone(void) {
  return spawn_raw(0);
}
static long a_clone3(void) {
  struct {
    unsigned long long flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
  } args = {0, 0, 0, 0, SIGCHLD, 0, 0, 0};
  long pid = syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) _exit(0);
  if (pid > 0) waitpid((pid_t)pid, NULL, 0);
  return pid < 0 ? -1 : 0;
}
static long a_setns(void) {
  return syscall(SYS_setns, -1, 0);
}
static long a_keyctl(void) {
  return syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 1) < 0 ? -1 : 0;
}
static long a_add_key(void) {
  return syscall(SYS_add_key, "user", "lj-probe", "v", 1, KEY_SPEC_PROCESS_KEYRING) < 0 ? -1 : 0;
}
static long a_request_key(void) {
  return syscall(SYS_request_key, "user", "lj-probe-none", NULL, 0) < 0 ? -1 : 0;
}
static long a_bpf(void) {
  static char attr[128];
  return syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, attr, sizeof attr) < 0 ? -1 : 0;
}
static long a_perf_event_open(void) {
  /* A software clock of this process, user space only: allowed at perf_event_paranoid 2. */
  struct perf_event_attr pa;
  memset(&pa, 0, sizeof pa);
  pa.size = sizeof pa;
  pa.type = PERF_TYPE_SOFTWARE;
  pa.config = PERF_COUNT_SW_CPU_CLOCK;
  pa.exclude_kernel = 1;
  pa.exclude_hv = 1;
  return syscall(SYS_perf_event_open, &pa, 0, -1, -1, 0) < 0 ? -1 : 0;
}
static long a_userfaultfd(void) {
  return syscall(SYS_userfaultfd, O_CLOEXEC | 1 /* UFFD_USER_MODE_ONLY */) < 0 ? -1 : 0;
}
static long a_io_uring_setup(void) {
  static char params[120];
  return syscall(SYS_io_uring_setup, 1, params) < 0 ? -1 : 0;
}
static long a_name_to_handle_at(void) {
  static struct {
    unsigned int bytes;
    int type;
    unsigned char h[128];
  } fh = {128, 0, {0}};
  int mnt = 0;
  return syscall(SYS_name_to_handle_at, AT_FDCWD, "/", &fh, &mnt, 0);
}
static long a_open_by_handle_at(void) {
  static struct {
    unsigned int bytes;
    int type;
    unsigned char h[8];
  } fh = {8, 1, {0}};
  return syscall(SYS_open_by_handle_at, -1, &fh, O_RDONLY) < 0 ? -1 : 0;
}
static long a_fsopen(void) {
  return syscall(SYS_fsopen, "tmpfs", 0) < 0 ? -1 : 0;
}
static long a_fsconfig(void) {
  return syscall(SYS_fsconfig, -1, 0, NULL, NULL, 0);
}
static long a_fsmount(void) {
  return syscall(SYS_fsmount, -1, 0, 0) < 0 ? -1 : 0;
}
static long a_fspick(void) {
  return syscall(SYS_fspick, -1, "", 0) < 0 ? -1 : 0;
}
static long a_move_mount(void) {
  return syscall(SYS_move_mount, -1, "", -1, "", 0);
}
static long a_open_tree(void) {
  return syscall(SYS_open_tree, AT_FDCWD, "/", O_CLOEXEC /* OPEN_TREE_CLOEXEC */) < 0 ? -1 : 0;
}
static long a_mount_setattr(void) {
  static char attr[32];
  return syscall(SYS_mount_setattr, -1, "", 0, attr, sizeof attr);
}
static long a_mount(void) {
  return mount("tmpfs", "/nonexistent", "tmpfs", 0, NULL);
}
static long a_umount2(void) {
  return umount2("/nonexistent", 0);
}
static long a_pivot_root(void) {
  return syscall(SYS_pivot_root, "/nonexistent", "/nonexistent");
}
static long a_swapon(void) {
  return syscall(SYS_swapon, "/nonexistent", 0);
}
static long a_reboot(void) {
  return syscall(SYS_reboot, 0, 0, 0, NULL); /* bad magic: EINVAL */
}
static long a_acct(void) {
  return syscall(SYS_acct, "/nonexistent");
}
static long a_syslog(void) {
  return syscall(SYS_syslog, 10 /* SIZE_BUFFER */, NULL, 0) < 0 ? -1 : 0;
}
static long a_settimeofday(void) {
  return syscall(SYS_settimeofday, NULL, NULL);
}
static long a_clock_settime(void) {
  return syscall(SYS_clock_settime, -1, NULL);
}
static long a_iopl(void) {
  return syscall(SYS_iopl, 0);
}
static long a_ioperm(void) {
  return syscall(SYS_ioperm, 0, 0, 0);
}
static long a_quotactl(void) {
  return syscall(SYS_quotactl, 0, NULL, 0, NULL);
}
static long a_lookup_dcookie(void) {
  return syscall(SYS_lookup_dcookie, 0, NULL, 0);
}
static long a_kexec_load(void) {
  return syscall(SYS_kexec_load, 0, 0, NULL, 0xffffffffUL);
}
static long a_delete_module(void) {
  return syscall(SYS_delete_module, "lj_none", 0);
}
static long a_personality_bad(void) {
  return personality(READ_IMPLIES_EXEC) < 0 ? -1 : 0;
}
static long a_personality_query(void) {
  return personality(0xffffffff) < 0 ? -1 : 0;
}
static long a_personality_linux32(void) {
  return personality(PER_LINUX32) < 0 ? -1 : 0;
}
static long a_chroot(void) {
  return chroot("/");
}
static long a_getpid(void) {
  return syscall(SYS_getpid) < 0 ? -1 : 0;
}
#if defined(__x86_64__)
/* The i386 ABI from a 64-bit process: int $0x80 uses the i386 table (and seccomp sees
 * AUDIT_ARCH_I386). */
static long int80(long nr, long a1) {
  long r;
  __asm__ volatile("int $0x80" : "=a"(r) : "a"(nr), "b"(a1) : "memory");
  if (r < 0 && r > -4096) {
    errno = (int)-r;
    return -1;
  }
  return r;
}
static long a_i386_unshare_user(void) {
  return int80(310, CLONE_NEWUSER);
}
static long a_i386_keyctl(void) {
  return int80(288, KEYCTL_GET_KEYRING_ID) < 0 ? -1 : 0;
}
static long a_i386_getpid(void) {
  return int80(20, 0) < 0 ? -1 : 0;
}
/* x32: the x86_64 entry with bit 30 set (this kernel may lack x32: ENOSYS unless filtered). */
static long a_x32_unshare_user(void) {
  return syscall(0x40000000L | 272, CLONE_NEWUSER);
}
static long a_x32_keyctl(void) {
  return syscall(0x40000000L | 250, 0, -3, 0) < 0 ? -1 : 0;
}
static long a_x32_getpid(void) {
  return syscall(0x40000000L | 39) < 0 ? -1 : 0;
}
#endif

static const struct attempt kAttempts[] = {
    {"unshare-user", a_unshare_user},
    {"unshare-uts", a_unshare_uts},
    {"clone-user", a_clone_user},
    {"clone", a_clone},
    {"clone3", a_clone3},
    {"setns", a_setns},
    {"keyctl", a_keyctl},
    {"add_key", a_add_key},
    {"request_key", a_request_key},
    {"bpf", a_bpf},
    {"perf_event_open", a_perf_event_open},
    {"userfaultfd", a_userfaultfd},
    {"io_uring_setup", a_io_uring_setup},
    {"name_to_handle_at", a_name_to_handle_at},
    {"open_by_handle_at", a_open_by_handle_at},
    {"fsopen", a_fsopen},
    {"fsconfig", a_fsconfig},
    {"fsmount", a_fsmount},
    {"fspick", a_fspick},
    {"move_mount", a_move_mount},
    {"open_tree", a_open_tree},
    {"mount_setattr", a_mount_setattr},
    {"mount", a_mount},
    {"umount2", a_umount2},
    {"pivot_root", a_pivot_root},
    {"swapon", a_swapon},
    {"reboot", a_reboot},
    {"acct", a_acct},
    {"syslog", a_syslog},
    {"settimeofday", a_settimeofday},
    {"clock_settime", a_clock_settime},
    {"iopl", a_iopl},
    {"ioperm", a_ioperm},
    {"quotactl", a_quotactl},
    {"lookup_dcookie", a_lookup_dcookie},
    {"kexec_load", a_kexec_load},
    {"delete_module", a_delete_module},
    {"personality-read-implies-exec", a_personality_bad},
    {"personality-query", a_personality_query},
    {"personality-linux32", a_personality_linux32},
    {"chroot", a_chroot},
    {"getpid", a_getpid},
#if defined(__x86_64__)
    {"i386-unshare-user", a_i386_unshare_user},
    {"i386-keyctl", a_i386_keyctl},
    {"i386-getpid", a_i386_getpid},
    {"x32-unshare-user", a_x32_unshare_user},
    {"x32-keyctl", a_x32_keyctl},
    {"x32-getpid", a_x32_getpid},
#endif
};

/* Runs the attempts named (all without names); prints the Seccomp lines of /proc/self/status
 * first with "all". */
static int syscalls(int n, char** names) {
  for (size_t i = 0; i < sizeof kAttempts / sizeof kAttempts[0]; ++i) {
    int wanted = n == 0;
    for (int j = 0; j < n; ++j) wanted |= !strcmp(names[j], kAttempts[i].name);
    if (!wanted) continue;
    pid_t p = fork();
    if (p < 0) return fail("fork");
    if (p == 0) {
      errno = 0;
      long r = kAttempts[i].call();
      printf("%s: %s\n", kAttempts[i].name, r < 0 ? strerrorname_np(errno) : "ok");
      _exit(0);
    }
    int st = 0;
    waitpid(p, &st, 0);
    if (!WIFEXITED(st)) printf("%s: killed by %d\n", kAttempts[i].name, WTERMSIG(st));
  }
  return 0;
}

/* pidfd_getfd(2) of descriptor FD of process PID (PID as this process's pid namespace names it):
 * what a jailed process gets when it tries to take another process's descriptor. */
static int pidfd_getfd_of(const char* pid, const char* fd) {
  int pidfd = (int)syscall(SYS_pidfd_open, atoi(pid), 0);
  if (pidfd < 0) return fail("pidfd_open");
  int got = (int)syscall(SYS_pidfd_getfd, pidfd, atoi(fd), 0);
  if (got < 0) return fail("pidfd_getfd");
  char path[64], target[4096];
  snprintf(path, sizeof path, "/proc/self/fd/%d", got);
  ssize_t n = readlink(path, target, sizeof target - 1);
  target[n > 0 ? n : 0] = '\0';
  return printf("got %s\n", target) < 0;
}

/* TIOCSTI: pushes TEXT and a newline into the input queue of the terminal on stdin, then reads a line back
 * from stdin (2 s at most): the text comes back only if it went to this process's own terminal.
 * Also says whether that terminal is a pty of the devpts mounted at /dev/pts here. */
static int tiocsti(const char* text) {
  struct stat tty, pts;
  if (fstat(0, &tty) < 0) return fail("fstat");
  if (stat("/dev/pts", &pts) < 0) return fail("stat");
  printf("own devpts: %s\n", tty.st_dev == pts.st_dev ? "yes" : "no");
  for (const char* c = text; *c; ++c)
    if (ioctl(0, TIOCSTI, c) < 0) return fail("tiocsti");
  if (ioctl(0, TIOCSTI, "\n") < 0) return fail("tiocsti");
  struct pollfd p = {0, POLLIN, 0};
  if (poll(&p, 1, 2000) <= 0) return printf("read back: nothing\n") < 0;
  char buf[256];
  ssize_t n = read(0, buf, sizeof buf - 1);
  if (n < 0) return fail("read");
  buf[n] = '\0';
  return printf("read back: %s", buf) < 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: probe VERB [ARGS]\n");
    return 2;
  }
  const char* v = argv[1];
  const char* a = argc > 2 ? argv[2] : "";
  const char* b = argc > 3 ? argv[3] : "";
  if (!strcmp(v, "true")) return 0;
  if (!strcmp(v, "exit")) return atoi(a);
  if (!strcmp(v, "echo")) {
    for (int i = 2; i < argc; ++i) printf("%s%s", i > 2 ? " " : "", argv[i]);
    printf("\n");
    return 0;
  }
  if (!strcmp(v, "pid")) return printf("%d %d\n", getpid(), getppid()) < 0;
  if (!strcmp(v, "ps")) return list_dir("/proc", 1);
  if (!strcmp(v, "hostname")) {
    char h[256] = "";
    gethostname(h, sizeof h);
    return printf("%s\n", h) < 0;
  }
  if (!strcmp(v, "ifaces")) return list_dir("/sys/class/net", 0);
  if (!strcmp(v, "ls")) return list_dir(a, 0);
  if (!strcmp(v, "cat")) return cat(a);
  if (!strcmp(v, "write")) return write_file(a, b);
  if (!strcmp(v, "exists")) return printf(access(a, F_OK) == 0 ? "yes\n" : "no\n") < 0;
  if (!strcmp(v, "mount")) {
    mkdir("/tmp/.m", 0755);
    if (mount("tmpfs", "/tmp/.m", "tmpfs", 0, NULL) < 0) return fail("mount");
    return printf("mounted\n") < 0;
  }
  if (!strcmp(v, "mknod")) {
    if (mknod("/tmp/.null", S_IFCHR | 0666, makedev(1, 3)) < 0) return fail("mknod");
    return printf("created\n") < 0;
  }
  if (!strcmp(v, "chroot-escape")) return chroot_escape(a);
  if (!strcmp(v, "memhog")) {
    /* Touch N MiB, one page at a time, so the memory is really charged. */
    long mib = atol(a);
    for (long i = 0; i < mib; ++i) {
      char* p = malloc(1 << 20);
      if (!p) return fail("malloc");
      for (int j = 0; j < (1 << 20); j += 4096) p[j] = 1;
    }
    return printf("survived\n") < 0;
  }
  if (!strcmp(v, "forkbomb")) {
    /* Forks until the kernel refuses, reports how many, and lets them all go. */
    int n = 0;
    for (;;) {
      pid_t p = fork();
      if (p < 0) break;
      if (p == 0) {
        pause();
        _exit(0);
      }
      ++n;
      if (n > 100000) break;
    }
    printf("forked %d then %s\n", n, strerrorname_np(errno));
    return 0;
  }
  if (!strcmp(v, "sleep")) {
    usleep((useconds_t)(atof(a) * 1e6));
    return 0;
  }
  if (!strcmp(v, "bg-write")) {
    /* Leaves a grandchild that writes PATH after S seconds, in its own session; returns at once
     * unless a third argument asks to wait forever. */
    double delay = atof(b);
    pid_t p = fork();
    if (p == 0) {
      setsid();
      if (fork() == 0) {
        usleep((useconds_t)(delay * 1e6));
        int fd = open(a, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) (void)!write(fd, "alive\n", 6);
        _exit(0);
      }
      _exit(0);
    }
    waitpid(p, NULL, 0);
    if (argc > 4) pause();
    return 0;
  }
  if (!strcmp(v, "kill-self")) {
    kill(getpid(), atoi(a));
    pause();
    return 99;
  }
  if (!strcmp(v, "id")) return printf("%d %d\n", getuid(), getgid()) < 0;
  if (!strcmp(v, "cwd")) {
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) return fail("getcwd");
    return printf("%s\n", buf) < 0;
  }
  if (!strcmp(v, "caps")) {
    FILE* f = fopen("/proc/self/status", "r");
    if (!f) return fail("fopen");
    char line[256];
    while (fgets(line, sizeof line, f))
      if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) ||
          !strncmp(line, "NoNewPrivs:", 11))
        fputs(line, stdout);
    fclose(f);
    return 0;
  }
  if (!strcmp(v, "fds")) {
    /* Open descriptors, less the one opendir() holds while listing. */
    DIR* d = opendir("/proc/self/fd");
    if (!d) return fail("opendir");
    int self = dirfd(d), first = 1;
    struct dirent* e;
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.' || atoi(e->d_name) == self) continue;
      printf("%s%s", first ? "" : " ", e->d_name);
      first = 0;
    }
    printf("\n");
    closedir(d);
    return 0;
  }
  if (!strcmp(v, "open-write")) return open_write(a);
  if (!strcmp(v, "reopen-write")) return reopen_write(a);
  if (!strcmp(v, "modules")) return modules();
  if (!strcmp(v, "open-dev")) return open_devices(argc - 2, argv + 2);
  if (!strcmp(v, "ifdown")) return iface_set(a, -1);
  if (!strcmp(v, "ifmtu")) return iface_set(a, atoi(b));
  if (!strcmp(v, "connect")) return unix_connect(a, 0);
  if (!strcmp(v, "connect-abstract")) return unix_connect(a, 1);
  if (!strcmp(v, "find-sockets")) return find_sockets(a);
  if (!strcmp(v, "userns-mount")) return userns_mount();
  if (!strcmp(v, "sethostname")) {
    if (sethostname(a, strlen(a)) < 0) return fail("sethostname");
    return printf("set\n") < 0;
  }
  if (!strcmp(v, "kill")) {
    if (kill(atoi(a), atoi(b)) < 0) return fail("kill");
    return printf("sent\n") < 0;
  }
  if (!strcmp(v, "ptrace")) {
    if (ptrace(PTRACE_ATTACH, atoi(a), 0, 0) < 0) return fail("ptrace");
    return printf("attached\n") < 0;
  }
  if (!strcmp(v, "readlink")) {
    char buf[4096];
    ssize_t n = readlink(a, buf, sizeof buf - 1);
    if (n < 0) return fail("readlink");
    buf[n] = '\0';
    return printf("%s\n", buf) < 0;
  }
  if (!strcmp(v, "chroot-ls")) {
    /* A second chroot, into "/" of the jail (all it can name), then list "..": still the jail. */
    if (chroot(a) < 0) return fail("chroot");
    if (chdir("/..") < 0) return fail("chdir");
    return list_dir(".", 0);
  }
  if (!strcmp(v, "syscalls")) return syscalls(argc - 2, argv + 2);
  if (!strcmp(v, "pidfd-getfd")) return pidfd_getfd_of(a, b);
  if (!strcmp(v, "tiocsti")) return tiocsti(a);
  if (!strcmp(v, "env")) return printf("%s\n", getenv(a) ? getenv(a) : "") < 0;
  if (!strcmp(v, "dev-ls")) {
    /* The device of a directory's filesystem (which superblock), then its entries. */
    struct stat st;
    if (stat(a, &st) < 0) return fail("stat");
    printf("%lu ", (unsigned long)st.st_dev);
    return list_dir(b, 0);
  }
  fprintf(stderr, "probe: unknown verb %s\n", v);
  return 2;
}
