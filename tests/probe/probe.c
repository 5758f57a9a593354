/* probe: a static test program for test worlds (after crun's tests/init.c). One verb per run,
 * exact output, exact exit codes, so tests can assert what a jailed process sees and may do.
 * A failed operation prints "<verb>: <ERRNO NAME>" and exits 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
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
  if (!strcmp(v, "env")) return printf("%s\n", getenv(a) ? getenv(a) : "") < 0;
  fprintf(stderr, "probe: unknown verb %s\n", v);
  return 2;
}
