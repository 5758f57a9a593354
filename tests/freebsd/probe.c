/* probe: the FreeBSD test world's one program (the counterpart of tests/probe/probe.c). A world of
 * this static binary alone is enough for the backend's tests (tests/freebsd/backend_test.cpp): they
 * need no base.txz, so they run in the FreeBSD test guest (scripts/freebsd-guest) as on a FreeBSD
 * host. One verb per run, exact output, exact exit codes; a failed operation prints
 * "<verb>: <strerror>" and exits 1. */
#include <sys/param.h>
#include <sys/socket.h>
#include <sys/mount.h>
#include <sys/sysctl.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>

#include <errno.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int fail(const char* what) {
  printf("%s: %s\n", what, strerror(errno));
  return 1;
}

/* The processes this process can see (kern.proc.proc: in a jail, only the jail's). */
static int visible_processes(void) {
  int mib[3] = {CTL_KERN, KERN_PROC, KERN_PROC_PROC};
  size_t len = 0;
  if (sysctl(mib, 3, NULL, &len, NULL, 0) != 0) return -1;
  len += 16 * sizeof(struct kinfo_proc);
  struct kinfo_proc* kp = malloc(len);
  if (kp == NULL || sysctl(mib, 3, kp, &len, NULL, 0) != 0) return -1;
  free(kp);
  return (int)(len / sizeof(struct kinfo_proc));
}

/* "jailed": security.jail.jailed, the hostname, the visible process count, one a line. */
static int jailed(void) {
  int j = 0;
  size_t len = sizeof j;
  if (sysctlbyname("security.jail.jailed", &j, &len, NULL, 0) != 0) return fail("jailed");
  char host[MAXHOSTNAMELEN];
  if (gethostname(host, sizeof host) != 0) return fail("gethostname");
  printf("%d\n%s\n%d\n", j, host, visible_processes());
  return 0;
}

/* "mounts": tries a tmpfs on DIR (printing "mounted" if the jail may mount), then the count of
 * mounts it can see (getfsstat: enforce_statfs decides). */
static int mounts(const char* dir) {
  struct iovec iov[] = {
      {"fstype", 7}, {"tmpfs", 6}, {"fspath", 7}, {(void*)dir, strlen(dir) + 1},
  };
  if (nmount(iov, nitems(iov), 0) == 0) printf("mounted\n");
  int n = getfsstat(NULL, 0, MNT_NOWAIT);
  if (n < 0) return fail("getfsstat");
  printf("%d\n", n);
  return 0;
}

static int cat(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return fail("open");
  char buf[4096];
  for (ssize_t n; (n = read(fd, buf, sizeof buf)) > 0;) fwrite(buf, 1, (size_t)n, stdout);
  close(fd);
  return 0;
}

/* "write PATH TEXT": writes the file through the jail's writable layer and reads it back. */
static int write_file(const char* path, const char* text) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return fail("open");
  if (write(fd, text, strlen(text)) < 0 || write(fd, "\n", 1) < 0) return fail("write");
  close(fd);
  return cat(path);
}


/* "sleepers N SECONDS": N children in N sessions of their own (so that only the jail, not the
 * process group, holds them), then waits for them. */
static int sleepers(int n, int seconds) {
  for (int i = 0; i < n; i++) {
    pid_t c = fork();
    if (c < 0) return fail("fork");
    if (c == 0) {
      setsid();
      sleep((unsigned)seconds);
      _exit(0);
    }
  }
  while (wait(NULL) > 0) {
  }
  return 0;
}

/* "tty": whether stdin is a terminal, and which ("1 /dev/pts/0"). */
static int tty(void) {
  const char* name = ttyname(0);
  printf("%d %s\n", isatty(0), name != NULL ? name : "-");
  return 0;
}

/* "ifaces": the names of the network interfaces this process's VNET has, one a line. */
static int ifaces(void) {
  struct if_nameindex* all = if_nameindex();
  if (all == NULL) return fail("if_nameindex");
  for (struct if_nameindex* i = all; i->if_index != 0; i++) printf("%s\n", i->if_name);
  if_freenameindex(all);
  return 0;
}

/* "serve PORT": accepts one TCP connection on PORT (any address), says hello on it and waits for
 * the client to end it. The client resets it: no side keeps a TIME_WAIT socket, which holds its
 * jail dying for 2*MSL (docs/freebsd-guest.md). */
static int serve(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  if (s < 0) return fail("socket");
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_len = sizeof sin;
  sin.sin_port = htons((uint16_t)port);
  if (bind(s, (struct sockaddr*)&sin, sizeof sin) != 0) return fail("bind");
  if (listen(s, 1) != 0) return fail("listen");
  int c = accept(s, NULL, NULL);
  if (c < 0) return fail("accept");
  const char msg[] = "hello from the server\n";
  if (write(c, msg, sizeof msg - 1) < 0) return fail("write");
  char buf[64];
  while (read(c, buf, sizeof buf) > 0) {
  }
  close(c);
  close(s);
  return 0;
}

/* "connect ADDR PORT": connects (retrying for 10 s: the server may not listen yet), prints the
 * line it is sent and resets the connection (SO_LINGER 0: no TIME_WAIT). */
static int connect_to(const char* addr, int port) {
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_len = sizeof sin;
  sin.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sin.sin_addr) != 1) return fail("inet_pton");
  for (int attempt = 0; attempt < 100; attempt++) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return fail("socket");
    if (connect(s, (struct sockaddr*)&sin, sizeof sin) == 0) {
      char c;
      while (read(s, &c, 1) == 1) {
        putchar(c);
        if (c == '\n') break;
      }
      struct linger reset = {1, 0};
      setsockopt(s, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
      close(s);
      return 0;
    }
    close(s);
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  return fail("connect");
}

/* "forkbomb": forks sleeping children for as long as it may (a process limit stops it). */
static int forkbomb(void) {
  for (;;) {
    pid_t c = fork();
    if (c == 0) {
      pause();
      _exit(0);
    }
    if (c < 0) {
      struct timespec ts = {0, 10 * 1000 * 1000};
      nanosleep(&ts, NULL);
    }
  }
}

/* "hog BYTES": touches BYTES of memory, a page at a time, for up to 30 s, then says "survived".
 * volatile: the stores must happen (nothing reads them). */
static int hog(size_t bytes) {
  volatile char* p = malloc(bytes);
  if (p == NULL) return fail("malloc");
  for (int round = 0; round < 300; round++) {
    for (size_t off = 0; off < bytes; off += 4096) p[off] = (char)round;
    struct timespec ts = {0, 100 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  printf("survived\n");
  return 0;
}

int main(int argc, char** argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc < 2) {
    fprintf(stderr, "usage: probe VERB [ARGS]\n");
    return 2;
  }
  const char* v = argv[1];
  if (strcmp(v, "exit") == 0 && argc == 3) return atoi(argv[2]);
  if (strcmp(v, "kill-self") == 0 && argc == 3) {
    kill(getpid(), atoi(argv[2]));
    return fail("kill");
  }
  if (strcmp(v, "true") == 0) return 0;
  if (strcmp(v, "jailed") == 0) return jailed();
  if (strcmp(v, "mounts") == 0 && argc == 3) return mounts(argv[2]);
  if (strcmp(v, "write") == 0 && argc == 4) return write_file(argv[2], argv[3]);
  if (strcmp(v, "cat") == 0 && argc == 3) return cat(argv[2]);
  if (strcmp(v, "exists") == 0 && argc == 3) return access(argv[2], F_OK) == 0 ? 0 : 1;
  if (strcmp(v, "sleepers") == 0 && argc == 4) return sleepers(atoi(argv[2]), atoi(argv[3]));
  if (strcmp(v, "sleep") == 0 && (argc == 3 || argc == 4)) {
    sleep((unsigned)atoi(argv[2]));
    return argc == 4 ? atoi(argv[3]) : 0;
  }
  if (strcmp(v, "tty") == 0) return tty();
  if (strcmp(v, "ifaces") == 0) return ifaces();
  if (strcmp(v, "serve") == 0 && argc == 3) return serve(atoi(argv[2]));
  if (strcmp(v, "connect") == 0 && argc == 4) return connect_to(argv[2], atoi(argv[3]));
  if (strcmp(v, "id") == 0) {
    char cwd[1024];
    if (getcwd(cwd, sizeof cwd) == NULL) return fail("getcwd");
    printf("%d %d %s\n", (int)getuid(), (int)getgid(), cwd);
    return 0;
  }
  if (strcmp(v, "fds") == 0) {
    /* "fds:" and each open descriptor above stdio: what the command was given beyond 0-2. */
    printf("fds:");
    for (int fd = 3; fd < 256; ++fd)
      if (fcntl(fd, F_GETFD) != -1) printf(" %d", fd);
    printf("\n");
    return 0;
  }
  if (strcmp(v, "forkbomb") == 0) return forkbomb();
  if (strcmp(v, "hog") == 0 && argc == 3) return hog(strtoull(argv[2], NULL, 10));
  fprintf(stderr, "probe: unknown verb or arguments: %s\n", v);
  return 2;
}
