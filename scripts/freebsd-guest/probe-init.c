/* The kit's smoke test as pid 1: raw syscalls, no libc (it needs only the kernel). It creates a
 * persistent jail with jail_set(2), reports "LJ-GUEST-EXIT 0" on the console if the kernel gave
 * a jid (1 otherwise), and powers off. Built by kit.sh; boot.sh parses the last line. */
typedef unsigned long u64;
static long sc(long n, long a, long b, long c, long d) {
  long ret;
  char err;
  register long r10 __asm__("r10") = d;
  __asm__ volatile("syscall; setc %1"
                   : "=a"(ret), "=r"(err)
                   : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                   : "rcx", "r11", "memory");
  return err ? -ret : ret;
}
static unsigned long slen(const char* s) {
  unsigned long n = 0;
  while (s[n]) n++;
  return n;
}
static int fd = -1;
static void out(const char* s) { sc(4 /* write */, fd, (long)s, slen(s), 0); }
static void outn(long v) {
  char b[24];
  int i = 23, neg = v < 0;
  b[i] = 0;
  if (neg) v = -v;
  do { b[--i] = '0' + v % 10; v /= 10; } while (v);
  if (neg) b[--i] = '-';
  out(b + i);
}
void _start(void) {
  fd = sc(5 /* open */, (long)"/dev/console", 2 /* O_RDWR */, 0, 0);
  out("\nprobe-init: pid ");
  outn(sc(20 /* getpid */, 0, 0, 0, 0));
  out("\n");
  struct iovec { const void* b; u64 l; } iov[] = {
      {"path", 5}, {"/", 2}, {"name", 5}, {"probe", 6},
      {"host.hostname", 14}, {"probejail", 10}, {"persist", 8}, {0, 0}};
  long jid = sc(507 /* jail_set */, (long)iov, 8, 1 /* JAIL_CREATE */, 0);
  out("probe-init: jail_set(2) JAIL_CREATE returned jid/-errno ");
  outn(jid);
  out("\nLJ-GUEST-EXIT ");
  out(jid > 0 ? "0" : "1");
  out("\n");
  sc(55 /* reboot */, 0x4000 | 0x8 /* RB_POWEROFF | RB_HALT */, 0, 0, 0);
  for (;;) sc(240 /* nanosleep: never reached */, 0, 0, 0, 0);
}
