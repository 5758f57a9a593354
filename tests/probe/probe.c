/* probe: a static test program for test worlds (after crun's tests/init.c). One verb per run,
 * exact output, exact exit codes, so tests can assert what a jailed process sees and may do.
 * A failed operation prints "<verb>: <ERRNO NAME>" and exits 1. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
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
      if (!strncmp(line, "CapEff:", 7) || !strncmp(line, "CapBnd:", 7) || !strncmp(line, "NoNewPrivs:", 11))
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
  if (!strcmp(v, "env")) return printf("%s\n", getenv(a) ? getenv(a) : "") < 0;
  fprintf(stderr, "probe: unknown verb %s\n", v);
  return 2;
}
