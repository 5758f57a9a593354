#include "jail/linux/child.hpp"

#include <elf.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/magic.h>
#include <linux/openat2.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <iterator>

#include "jail/hook_run.hpp"
#include "jail/linux/clone_run.hpp"
#include "jail/linux/netns_ahead.hpp"
#include "jail/linux/raw_syscall.h"
#include "jail/linux/stack_pool.hpp"
#include "jail/make_dirs.hpp"
#include "jail/terminal.hpp"
#include "jail/user_lookup.hpp"

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace lj::jail {

std::uint64_t default_capabilities() {
  std::uint64_t c = 0;
  for (int cap :
       {CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_FSETID, CAP_KILL, CAP_SETGID, CAP_SETUID,
        CAP_SETPCAP, CAP_NET_BIND_SERVICE, CAP_SYS_CHROOT, CAP_AUDIT_WRITE, CAP_SETFCAP})
    c |= std::uint64_t{1} << cap;
  return c;
}

namespace {
// Signals init passes on to the command (the rest keep their default meaning for init).
constexpr int kForwarded[] = {SIGTERM, SIGINT,   SIGHUP,  SIGQUIT, SIGUSR1,
                              SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGTSTP};
}  // namespace

bool init_forwards(int sig) {
  for (int s : kForwarded)
    if (s == sig) return true;
  return false;
}

namespace {

// The process's name, by the raw system call: a sanitized build intercepts prctl(PR_SET_NAME) to
// name its thread under the sanitizer's thread-registry lock, which a copy made by clone while
// another thread held it waits on for ever (JailTest.JailsAliveTogetherShareALoopbackOnlySysfs
// hung so in the sanitized suite).
void set_name(const char* name) { ::syscall(SYS_prctl, PR_SET_NAME, name, 0, 0, 0); }

void copy(char* dst, std::size_t cap, const char* src) {
  std::size_t i = 0;
  for (; src && src[i] && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

[[noreturn]] void die(int fd, const char* step, int err, const char* detail, int code = 126) {
  ChildError e;
  std::memset(&e, 0, sizeof e);
  copy(e.step, sizeof e.step, step);
  e.err = err;
  copy(e.detail, sizeof e.detail, detail);
  if (fd >= 0) {
    ssize_t n = ::write(fd, &e, sizeof e);
    (void)n;
  }
  ::_exit(code);
}

// Moves every descriptor the jail needs to its slot and closes all others: the daemon's own
// descriptors (close-on-exec or not) must not survive in init, nor reach lj-init.
void relocate_fds(const ChildPlan& p) {
  const int keep = p.preserve_fds;  // the parent's 3 .. 3+keep-1, carried at kSlotEnd..
  int high = kSlotEnd + keep;
  for (int fd : p.fds)
    if (fd >= high) high = fd + 1;
  if (3 + keep > high) high = 3 + keep;
  int kept[kMaxPreservedFds];
  for (int i = 0; i < keep; ++i) {  // above every slot and source: the moves below clobber none
    kept[i] = ::fcntl(3 + i, F_DUPFD_CLOEXEC, high);
    if (kept[i] < 0) die(p.fds[kSlotError], "dup preserved descriptor", errno, "");
  }
  int tmp[kSlotEnd];
  for (int s = 0; s < kSlotEnd; ++s) {
    tmp[s] = -1;
    if (p.fds[s] < 0) continue;
    tmp[s] = ::fcntl(p.fds[s], F_DUPFD_CLOEXEC, high);
    if (tmp[s] < 0) die(p.fds[kSlotError], "dup descriptor", errno, "");
  }
  ::syscall(SYS_close_range, 3U, static_cast<unsigned>(high - 1), 0U);
  for (int s = 0; s < kSlotEnd; ++s)
    if (tmp[s] >= 0 && ::dup3(tmp[s], s, O_CLOEXEC) < 0)
      die(tmp[kSlotError], "dup descriptor", errno, "");
  for (int i = 0; i < keep; ++i)
    if (::dup3(kept[i], kSlotEnd + i, O_CLOEXEC) < 0)
      die(kSlotError, "dup preserved descriptor", errno, "");
  ::syscall(SYS_close_range, static_cast<unsigned>(kSlotEnd + keep), ~0U, 0U);
}

char* utoa(char* end, unsigned v) {
  *--end = '\0';
  do {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

// The namespace init made (clone, unshare) at kSlotNetns: the way back after the sysfs mount
// (run_root, AssembleOptions::own_netns_fd).
void keep_own_netns() {
  int own = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  if (own < 0 || ::dup3(own, kSlotNetns, O_CLOEXEC) < 0)
    die(kSlotError, "open", errno, "/proc/thread-self/ns/net");
  ::close(own);
}

// ChildPlan::netns_from_helper: the namespace NetnsAhead's helper sends on kSlotNetns, which then
// holds the namespace itself (as a joined one's); or, its helper having failed (EOF), one made
// here. False for the latter: its loopback device is still down.
bool join_netns_from_helper(const ChildPlan& p) {
  const int ns = receive_netns(kSlotNetns);
  if (ns < 0) {
    if (::unshare(CLONE_NEWNET) != 0) die(kSlotError, "unshare", errno, "CLONE_NEWNET");
    if (p.fds[kSlotSysfsNetns] >= 0) keep_own_netns();
    return false;
  }
  if (::setns(ns, CLONE_NEWNET) != 0) die(kSlotError, "setns", errno, "network namespace");
  if (::dup3(ns, kSlotNetns, O_CLOEXEC) < 0) die(kSlotError, "dup3", errno, "network namespace");
  ::close(ns);
  return true;
}

void bring_loopback_up() {
  int err = 0;
  if (const char* step = loopback_up(&err)) die(kSlotError, step, err, "lo");
}

// An ELF's program interpreter (PT_INTERP, what the kernel maps before the program), into buf
// (size: PATH_MAX, the kernel's own bound) from the file at fd whose first n bytes are head. False
// when there is none, or when the kernel would refuse the file anyway (a program header table of
// another entry size or past a page, an interpreter path not NUL-terminated).
template <class Ehdr, class Phdr>
bool elf_interpreter_of(int fd, const char* head, ssize_t n, char* buf, std::size_t size) {
  Ehdr eh;
  if (n < static_cast<ssize_t>(sizeof eh)) return false;
  std::memcpy(&eh, head, sizeof eh);
  if (eh.e_phentsize != sizeof(Phdr) || eh.e_phnum == 0) return false;
  // The table in one read: the kernel refuses one past a page (ELF_MIN_ALIGN).
  Phdr table[4096 / sizeof(Phdr)];
  const std::size_t want = std::min<std::size_t>(eh.e_phnum, std::size(table)) * sizeof(Phdr);
  const ssize_t got = ::pread(fd, table, want, static_cast<off_t>(eh.e_phoff));
  if (got < static_cast<ssize_t>(sizeof(Phdr))) return false;
  for (std::size_t i = 0; i < static_cast<std::size_t>(got) / sizeof(Phdr); ++i) {
    const Phdr& ph = table[i];
    if (ph.p_type != PT_INTERP) continue;
    if (ph.p_filesz < 2 || ph.p_filesz > size) return false;
    const auto len = static_cast<std::size_t>(ph.p_filesz);
    if (::pread(fd, buf, len, static_cast<off_t>(ph.p_offset)) != static_cast<ssize_t>(len))
      return false;
    return buf[len - 1] == '\0';  // the first PT_INTERP is the kernel's
  }
  return false;
}

bool elf_interpreter(int fd, const char* head, ssize_t n, char* buf, std::size_t size) {
  if (n < EI_NIDENT || std::memcmp(head, ELFMAG, SELFMAG) != 0) return false;
  if (head[EI_CLASS] == ELFCLASS64)
    return elf_interpreter_of<Elf64_Ehdr, Elf64_Phdr>(fd, head, n, buf, size);
  if (head[EI_CLASS] == ELFCLASS32)
    return elf_interpreter_of<Elf32_Ehdr, Elf32_Phdr>(fd, head, n, buf, size);
  return false;
}

// Until its execve this process runs ljd's image, so /proc/self/exe names the host's ljd binary: a
// command (or a "#!" interpreter on the way to it, or an ELF's program interpreter) reached
// through a magic link would run ljd in the jail and give it a handle on the binary, the runc
// CVE-2019-5736 class. Returns ELOOP when the command or one of its interpreters resolves through
// a magic link (/proc/PID/exe, /proc/PID/fd/N), 0 otherwise (other errors are left to execve,
// which reports them exactly). The world's files are the jail's own and no other process of the
// jail exists yet, so nothing swaps them in between.
int through_magic_link(const char* path) {
  char cur[4096], head[256];  // cur: PATH_MAX, an ELF interpreter's bound; head: a "#!" line's
  copy(cur, sizeof cur, path);
  for (int depth = 0; depth < 5; ++depth) {  // the kernel follows at most 4 interpreters
    struct open_how how;
    std::memset(&how, 0, sizeof how);
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_NO_MAGICLINKS;
    long fd = ::syscall(SYS_openat2, AT_FDCWD, cur, &how, sizeof how);
    if (fd < 0 && errno == EACCES) {  // execute-only: the path itself can still be checked
      how.flags = O_PATH | O_CLOEXEC;
      fd = ::syscall(SYS_openat2, AT_FDCWD, cur, &how, sizeof how);
      if (fd >= 0) ::close(static_cast<int>(fd));
      return fd < 0 && errno == ELOOP ? ELOOP : 0;
    }
    if (fd < 0) return errno == ELOOP ? ELOOP : 0;
    ssize_t n = ::read(static_cast<int>(fd), head, sizeof head - 1);
    const bool elf = elf_interpreter(static_cast<int>(fd), head, n, cur, sizeof cur);
    ::close(static_cast<int>(fd));
    if (elf) continue;  // its program interpreter is checked next
    if (n < 2 || head[0] != '#' || head[1] != '!') return 0;
    head[n] = '\0';
    char* s = head + 2;
    while (*s == ' ' || *s == '\t') ++s;
    char* e = s;
    while (*e && *e != ' ' && *e != '\t' && *e != '\n') ++e;
    *e = '\0';
    if (!*s) return 0;
    copy(cur, sizeof cur, s);
  }
  return 0;
}

void exec_checked(const char* path, char* const* argv, char* const* envp) {
  if (through_magic_link(path) == ELOOP) {
    errno = ELOOP;
    return;
  }
  ::execve(path, argv, envp);
}

// Until init has become the reaper, init is ljd: its /proc/1/exe the host's binary, its memory
// the daemon's. The command starts only once the reaper closed the go pipe (init_abi.h),
// or init, if its exec failed and it stays the reaper itself.
void wait_for_reaper() {
  ::close(kSlotGoWrite);
  char c;
  while (::read(kSlotGoRead, &c, 1) < 0 && errno == EINTR) {
  }
  ::close(kSlotGoRead);
}

// The executable execvp(3) would run: `file` itself when it has a '/', else the first PATH entry
// where it is executable. Into buf; ENOENT or EACCES (the first one seen) when there is none.
int find_executable(const ChildPlan& p, char* buf, std::size_t size) {
  const char* file = p.argv[0];
  if (std::strchr(file, '/')) {
    if (std::strlen(file) + 1 > size) return ENAMETOOLONG;
    std::memcpy(buf, file, std::strlen(file) + 1);
    return ::access(buf, X_OK) == 0 ? 0 : errno;
  }
  int err = ENOENT;
  for (const auto& dir : p.path_dirs) {
    std::size_t dl = dir.size(), fl = std::strlen(file);
    if (dl + fl + 2 > size) continue;
    std::memcpy(buf, dir.data(), dl);
    buf[dl] = '/';
    std::memcpy(buf + dl + 1, file, fl + 1);
    struct stat st {};
    if (::stat(buf, &st) != 0) {
      if (errno == EACCES) err = EACCES;
      continue;
    }
    if (S_ISREG(st.st_mode) && ::access(buf, X_OK) == 0) return 0;
    err = EACCES;
  }
  return err;
}

void write_str(int fd, const char* s) {
  ssize_t n = ::write(fd, s, std::strlen(s));
  (void)n;
}

// ---- hooks (ProcessOptions::create_hooks, start_hooks: jail/hook_run.hpp) ----

}  // namespace

// hook_run.hpp's platform calls. A raw clone: glibc's fork would run the daemon's atfork handlers.
int hook_state_file() noexcept {
  return static_cast<int>(::syscall(SYS_memfd_create, "lj-hook-state", MFD_CLOEXEC));
}

pid_t fork_for_hook() noexcept {
  return static_cast<pid_t>(::syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
}

namespace {

// run_root's before_pivot: the createContainer hooks, a failure reported as a mount step's (the
// text in init's frame: with a shared address space a static would be the daemon's).
struct CreateHooks {
  const PreparedHooks* hooks;
  HookFailure* failure;
};
bool create_hooks_before_pivot(const void* arg, MountFailure* mf) noexcept {
  const auto* c = static_cast<const CreateHooks*>(arg);
  if (run_hooks(*c->hooks, c->failure)) return true;
  mf->step = c->failure->step;
  mf->err = c->failure->err;
  mf->detail = c->failure->detail;
  return false;
}


// --preserve-fds: kSlotEnd.. to 3.., every slot below them closed but the error pipe's, which
// the caller closed or moved away (exec_command's close_range closed the others); in increasing
// order, so no source is overwritten before use (3+i reaches kSlotEnd+j only for j < i). The
// sources are close-on-exec: the exec drops them.
bool place_preserved_fds(int n) {
  for (int i = 0; i < n; ++i)
    if (::dup2(kSlotEnd + i, 3 + i) < 0) return false;
  return true;
}

// ProcessOptions::preserve_fds without a hold (an exec's process): slot 3 is the error pipe's
// until the execve, so the executable is found first, then the pipe moved above the preserved
// descriptors (still close-on-exec: its EOF still says "exec'd"), which take their places last.
[[noreturn]] void exec_preserving_fds(const ChildPlan& p) {
  char path[4096];
  if (int err = find_executable(p, path, sizeof path))
    die(kSlotError, "execve", err, p.argv[0], 127);
  const int err_fd = ::fcntl(kSlotError, F_DUPFD_CLOEXEC, kSlotEnd + p.preserve_fds);
  if (err_fd < 0) die(kSlotError, "dup descriptor", errno, "the error pipe");
  if (!place_preserved_fds(p.preserve_fds)) die(err_fd, "dup2", errno, "a preserved descriptor");
  int err = through_magic_link(path);
  if (err == 0) {
    ::execve(path, p.argv.data(), p.envp.data());
    err = errno;
  }
  die(err_fd, "execve", err, path, 127);
}

// ProcessOptions::hold_fd: the executable found now (so that create fails for a missing one, as
// runc's does), the error pipe closed (spawn() returns: the jail is created), then one byte read
// from the hold descriptor, then the exec. A failure from here on is the command's own: a line on
// its stderr and 127, as a shell reports it.
[[noreturn]] void hold_then_exec(const ChildPlan& p) {
  char path[4096];
  if (int err = find_executable(p, path, sizeof path))
    die(kSlotError, "execve", err, p.argv[0], 127);
  ::close(kSlotError);
  char c;
  ssize_t n;
  while ((n = ::read(kSlotHold, &c, 1)) < 0 && errno == EINTR) {
  }
  if (n != 1) {  // nobody will start it (every writer gone, or the descriptor broken)
    write_str(2, n == 0 ? "ljoci: not started: every writer of the start descriptor left without a byte\n"
                        : "ljoci: reading the start byte failed\n");
    ::_exit(127);
  }
  ::close(kSlotHold);
  if (!place_preserved_fds(p.preserve_fds)) {  // kSlotError closed above
    write_str(2, "ljoci: moving a preserved descriptor failed\n");
    ::_exit(127);
  }
  if (HookFailure hf; !run_hooks(p.start_hooks, &hf)) exit_held_hook_failure(hf);
  int err = through_magic_link(path) == ELOOP ? ELOOP : 0;
  if (err == 0) {
    ::execve(path, p.argv.data(), p.envp.data());
    err = errno;
  }
  write_str(2, "ljoci: exec ");
  write_str(2, path);
  write_str(2, ": ");
  write_str(2, ::strerror(err));  // not async-signal-safe in general; glibc's reads a table
  write_str(2, "\n");
  ::_exit(127);
}

// The command's side of a terminal: the peer of the master init opened (TIOCGPTPEER: no path
// lookup, so no /dev/pts/N swapped in between, the runc CVE-2019-19921 class), as controlling
// terminal of the session the command leads (setsid above) and as 0, 1 and 2. The pts node is
// the command's user's (devpts gave it to init, root): programs that check their terminal's
// owner (script, ssh, mesg) accept it.
void take_terminal(uid_t uid, gid_t gid) {
  int pts = ::ioctl(kSlotOutRead, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (pts < 0) die(kSlotError, "ioctl TIOCGPTPEER", errno, "");
  if (::ioctl(pts, TIOCSCTTY, 0) < 0) die(kSlotError, "ioctl TIOCSCTTY", errno, "");
  if (::fchown(pts, uid, gid) < 0) die(kSlotError, "fchown", errno, "the terminal");
  for (int fd = 0; fd <= 2; ++fd) {
    // dup2 onto itself keeps close-on-exec (dup2(2)): the first free number may be 0.
    if (pts == fd ? ::fcntl(fd, F_SETFD, 0) < 0 : ::dup2(pts, fd) < 0)
      die(kSlotError, "dup2 stdio", errno, "terminal");
  }
  if (pts > 2) ::close(pts);
}

[[noreturn]] void exec_command(const ChildPlan& p) {
  if (!p.command_is_init) wait_for_reaper();
  sigset_t none;
  sigemptyset(&none);
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  // Ignored signals survive execve (execve(2)); the daemon's must not leak into the jail (caught
  // ones are reset by the exec itself). The raw call also reaches glibc's reserved 32/33; an
  // all-zero struct reads the same in the kernel's and glibc's layouts. Only the ignored ones:
  // all 64 were a fifth of the command's system calls.
  for (int s = 1; s < 65; ++s)
    if (p.ignored_signals & (std::uint64_t{1} << (s - 1)))
      ::syscall(SYS_rt_sigaction, s, &dfl, nullptr, 8);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::setsid();
  ::umask(p.umask);
  uid_t uid = p.uid;
  gid_t gid = p.gid;
  ResolvedUser user;
  if (!p.user.empty()) {
    char detail[256];
    int err = 0;
    if (!resolve_user(p.user.c_str(), "/etc/passwd", "/etc/group", &user, detail, sizeof detail,
                      &err))
      die(kSlotError, kStepResolveUser, err, detail);
    uid = user.uid;
    gid = user.gid;
  }
  if (p.tty) {
    take_terminal(uid, gid);
  } else if (::dup2(kSlotIn, 0) < 0 || ::dup2(kSlotOut, 1) < 0 || ::dup2(kSlotErr, 2) < 0) {
    die(kSlotError, "dup2 stdio", errno, "");
  }
  // Everything of init's goes but the script and the hold descriptor (closed at the exec).
  ::syscall(SYS_close_range, static_cast<unsigned>(kSlotScript + 1),
            static_cast<unsigned>(kSlotHold - 1), 0U);
  // (the preserved descriptors, ProcessOptions::preserve_fds, stay at kSlotEnd..)
  ::syscall(SYS_close_range, static_cast<unsigned>(kSlotHold + 1),
            static_cast<unsigned>(kSlotEnd - 1), 0U);
  ::syscall(SYS_close_range, static_cast<unsigned>(kSlotEnd + p.preserve_fds), ~0U, 0U);
  if (p.fds[kSlotHold] < 0) ::close(kSlotHold);
  if (p.fds[kSlotScript] >= 0) ::fcntl(kSlotScript, F_SETFD, 0);  // the interpreter opens it

  // No core dumps by default. Not when the rlimits name RLIMIT_CORE: a hard limit of 0 could
  // not be raised again without CAP_SYS_RESOURCE (runtime-tools process_rlimits).
  bool core_named = false;
  for (const auto& r : p.rlimits) core_named = core_named || r.resource == RLIMIT_CORE;
  struct rlimit core = {0, 0};
  if (!core_named) ::setrlimit(RLIMIT_CORE, &core);
  if (p.nofile) {
    struct rlimit nf = {p.nofile, p.nofile};
    if (::setrlimit(RLIMIT_NOFILE, &nf) < 0) die(kSlotError, "setrlimit", errno, "RLIMIT_NOFILE");
  }
  for (const auto& r : p.rlimits) {
    struct rlimit rl = {r.soft, r.hard};
    if (::setrlimit(r.resource, &rl) < 0) die(kSlotError, "setrlimit", errno, "");
  }
  // Still root, and inside the jail's root: an image's missing WorkingDir is made here.
  if (p.make_workdir) {
    if (int e = make_dirs(p.workdir.c_str()); e != 0) die(kSlotError, "mkdir", e, p.workdir.c_str());
  }
  const std::uint64_t bounding = p.explicit_caps ? p.cap_bounding : p.caps;
  for (int cap = 0; cap <= p.cap_last; ++cap)
    if (!(bounding & (std::uint64_t{1} << cap)) && ::prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 &&
        errno != EINVAL)
      die(kSlotError, "prctl PR_CAPBSET_DROP", errno, "");
  ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
  // Without no_new_privs a filter needs CAP_SYS_ADMIN, which the ids below may take away: load
  // it now, as runc does (it still binds the calls that follow, which it must allow).
  if (p.command_seccomp && !p.no_new_privs &&
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, p.command_seccomp) < 0)
    die(kSlotError, "seccomp", errno, "SECCOMP_SET_MODE_FILTER");
  // Explicit sets survive the change of uid (keepcaps), then are set exactly.
  if (p.explicit_caps && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    die(kSlotError, "prctl PR_SET_KEEPCAPS", errno, "");
  // Raw syscalls: glibc's set*id() broadcast the change to every thread it believes the process
  // has (nptl's setxid signal) and wait on a futex for their answers. This process is a raw clone
  // of a possibly multi-threaded daemon, so those threads do not exist here: the wait never ends.
  // Supplementary groups: the resolved user's (JailSpec::user), else the explicit ones
  // (ProcessOptions::groups), else none.
  if (!p.user.empty()) {
    if (::syscall(SYS_setgroups, user.ngroups, user.ngroups ? user.groups : nullptr) < 0)
      die(kSlotError, "setgroups", errno, "");
  } else if (::syscall(SYS_setgroups, p.groups.size(),
                       p.groups.empty() ? nullptr : p.groups.data()) < 0) {
    die(kSlotError, "setgroups", errno, "");
  }
  if (::syscall(SYS_setresgid, gid, gid, gid) < 0) die(kSlotError, "setgid", errno, "");
  if (::syscall(SYS_setresuid, uid, uid, uid) < 0) die(kSlotError, "setuid", errno, "");
  if (p.explicit_caps) {
    __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    for (int i = 0; i < 2; ++i)
      data[i] = {static_cast<__u32>(p.cap_effective >> (32 * i)),
                 static_cast<__u32>(p.cap_permitted >> (32 * i)),
                 static_cast<__u32>(p.cap_inheritable >> (32 * i))};
    if (::syscall(SYS_capset, &hdr, data) < 0) die(kSlotError, "capset", errno, "");
    // An ambient capability needs to be permitted and inheritable (capabilities(7)); runc
    // skips the others with a warning, and so the OCI default spec's ambient set is a no-op.
    const std::uint64_t ambient = p.cap_ambient & p.cap_permitted & p.cap_inheritable;
    for (int cap = 0; cap <= p.cap_last; ++cap)
      if ((ambient & (std::uint64_t{1} << cap)) &&
          ::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
        die(kSlotError, "prctl PR_CAP_AMBIENT_RAISE", errno, "");
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
  } else if (uid == 0) {
    __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct data[2];
    for (int i = 0; i < 2; ++i) {
      auto v = static_cast<__u32>(p.caps >> (32 * i));
      data[i] = {v, v, v};
    }
    if (::syscall(SYS_capset, &hdr, data) < 0) die(kSlotError, "capset", errno, "");
  }
  if (p.no_new_privs && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    die(kSlotError, "prctl PR_SET_NO_NEW_PRIVS", errno, "");
  if (p.command_seccomp && p.no_new_privs &&
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, p.command_seccomp) < 0)
    die(kSlotError, "seccomp", errno, "SECCOMP_SET_MODE_FILTER");
  if (::chdir(p.workdir.c_str()) < 0) die(kSlotError, "chdir", errno, p.workdir.c_str());

  if (p.fds[kSlotHold] >= 0) hold_then_exec(p);
  if (HookFailure hf; !run_hooks(p.start_hooks, &hf)) die(kSlotError, hf.step, hf.err, hf.detail);
  if (p.preserve_fds > 0) exec_preserving_fds(p);

  char* const* argv = p.argv.data();
  char* const* envp = p.envp.data();
  const char* file = argv[0];
  if (std::strchr(file, '/')) {
    exec_checked(file, argv, envp);
    die(kSlotError, "execve", errno, file, 127);
  }
  // execvp(3) semantics without its allocations: first hit wins, EACCES is remembered.
  int err = ENOENT;
  char buf[4096];
  for (const auto& dir : p.path_dirs) {
    std::size_t dl = dir.size(), fl = std::strlen(file);
    if (dl + fl + 2 > sizeof buf) continue;
    std::memcpy(buf, dir.data(), dl);
    buf[dl] = '/';
    std::memcpy(buf + dl + 1, file, fl + 1);
    exec_checked(buf, argv, envp);
    if (errno == EACCES)
      err = EACCES;
    else if (errno != ENOENT && errno != ENOTDIR) {
      err = errno;
      break;
    }
  }
  die(kSlotError, "execve", err, file, 127);
}

void noop(int) {}

// Blocks SIGCHLD and the forwarded signals, each forwarded one with a no-op handler: lj-init and
// lj-exec take them with sigwaitinfo, and a namespace's init drops signals it has no handler for
// (pid_namespaces(7)). The handlers go at the exec. Syscalls only (the child after clone).
void block_forwarded_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop;
  for (int s : kForwarded) {
    sigaddset(&set, s);
    ::sigaction(s, &sa, nullptr);
  }
  ::sigprocmask(SIG_SETMASK, &set, nullptr);
}

// Init's side of a terminal, once the jail's root is in place: a pty of the jail's own devpts
// instance (root_program mounts one with newinstance at /dev/pts, /dev/ptmx its ptmx), checked to
// be a devpts master, never the host's. The master goes to kSlotOutRead, where init (and lj-init)
// hold it for the jail's life, and a copy to the caller over the console socket.
void open_terminal(const ChildPlan& p) {
  int m = ::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) die(kSlotError, "open", errno, "/dev/ptmx");
  struct statfs sf;
  if (::fstatfs(m, &sf) < 0 || sf.f_type != DEVPTS_SUPER_MAGIC)
    die(kSlotError, "open", ENOTTY, "/dev/ptmx is not the jail's devpts");
  int unlock = 0;
  if (::ioctl(m, TIOCSPTLCK, &unlock) < 0) die(kSlotError, "ioctl TIOCSPTLCK", errno, "");
  if (p.tty_rows || p.tty_cols) {
    struct winsize ws = {p.tty_rows, p.tty_cols, 0, 0};
    if (::ioctl(m, TIOCSWINSZ, &ws) < 0) die(kSlotError, "ioctl TIOCSWINSZ", errno, "");
  }
  if (m != kSlotOutRead) {
    if (::dup3(m, kSlotOutRead, O_CLOEXEC) < 0) die(kSlotError, "dup3", errno, "pty master");
    ::close(m);
  }
  if (int err = send_terminal(kSlotConsole, kSlotOutRead); err != 0)
    die(kSlotError, "sendmsg", err, "the terminal's master");
  ::close(kSlotConsole);
}

// The pipe the command waits on (wait_for_reaper), at its fixed slots. Both ends close-on-exec
// for now: init's write end is handed to the reaper on purpose (become_reaper).
void make_go_pipe() {
  int go[2];
  if (::pipe2(go, O_CLOEXEC) < 0) die(kSlotError, "pipe2", errno, "go pipe");
  // The numbers are the lowest free ones (go[0] < go[1]): move the write end first, since the
  // read end's slot may be where the write end landed.
  if (go[1] != kSlotGoWrite) {
    if (::dup3(go[1], kSlotGoWrite, O_CLOEXEC) < 0) die(kSlotError, "dup3", errno, "go pipe");
    ::close(go[1]);
  }
  if (go[0] != kSlotGoRead) {
    if (::dup3(go[0], kSlotGoRead, O_CLOEXEC) < 0) die(kSlotError, "dup3", errno, "go pipe");
    ::close(go[0]);
  }
}

// Replaces init (ljd's image, in ljd's memory or a copy of it) by lj-init, the reaper held as a
// sealed memfd at kSlotReaper: the jail's /proc/1/exe is then that anonymous copy, never a host
// file, and nothing of ljd's memory stays pinned. It keeps the status descriptors, the go pipe's
// write end, the output pipes' read ends and the signal mask (init_abi.h); seccomp, capabilities,
// PR_SET_PDEATHSIG and the pid stay across execve (execve(2)). Returns only if the exec failed.
void become_reaper(const ChildPlan& p, pid_t cmd) {
  for (int s : {kSlotStatus, kSlotStatusFile, kSlotGoWrite, kSlotOutRead, kSlotErrRead})
    if (s == kSlotGoWrite || p.fds[s] >= 0 || (s == kSlotOutRead && p.tty))
      ::fcntl(s, F_SETFD, 0);
  char pid[16];
  char* argv[] = {const_cast<char*>("lj-init"), utoa(pid + sizeof pid, static_cast<unsigned>(cmd)),
                  const_cast<char*>(p.die_with_parent ? "1" : "0"), nullptr};
  char* envp[] = {nullptr};
  ::syscall(SYS_execveat, kSlotReaper, "", argv, envp, AT_EMPTY_PATH);
}

int exec_command_entry(void* plan) {
  exec_command(*static_cast<const ChildPlan*>(plan));
}

// Starts the command in init's address space (CLONE_VM, as posix_spawn does) on a stack of its
// own, provided by the backend. Init shares the daemon's address space (or is a copy of it): a
// plain fork copied all of it again and then took a copy-on-write fault for every page init or the
// command touched, only for execve to throw it away (profile of ljd through its API: clone, page
// faults and exit_mmap were a fifth of init's time). The command writes nothing of that memory
// before its execve: system calls on its own stack. Not CLONE_VFORK: init must close its copies of
// the jail's descriptors while the command starts, not after (the command may list /proc/1/fd at
// once). They share errno (one thread block), so init makes only calls that cannot fail until the
// command has exec'd or died.
long spawn_command(const ChildPlan& p) {
  return ::clone(exec_command_entry, p.command_stack_top, CLONE_VM | SIGCHLD,
                 const_cast<ChildPlan*>(&p));
}

// An exec's process (exec_monitor_main's child): into the jail's v1 cgroups, then its cgroup
// namespace (rooted at the jail's cgroup, as the jail's own processes see it), then the command's
// own steps.
[[noreturn]] void exec_process(const ChildPlan& p) {
  if (!p.cgroup_v2_dir)
    for (int s : kCgroupSlots)
      if (p.fds[s] >= 0 && ::write(s, "0", 1) != 1) die(kSlotError, "join cgroup", errno, "tasks");
  if ((p.join_namespaces & CLONE_NEWCGROUP) && ::setns(kSlotJail, CLONE_NEWCGROUP) < 0)
    die(kSlotError, "setns", errno, "the jail's cgroup namespace");
  exec_command(p);
}

int exec_process_entry(void* plan) {
  exec_process(*static_cast<const ChildPlan*>(plan));
}

// Clones the exec's process into the jail's pid namespace (the monitor joined it for its children)
// and its v2 cgroup. In the monitor's address space, the daemon's (CLONE_VM, as a jail's command,
// spawn_command), on the command stack the backend gave: a copy only to be thrown away at the
// execve was, with the monitor's own copy, most of an exec's CPU (docs/attach.md). A copy of the
// monitor's copy in a sanitized build (no stack given, exec.cpp).
long spawn_exec_process(const ChildPlan& p) {
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  if (p.cgroup_v2_dir) {
    args.flags = CLONE_INTO_CGROUP;
    args.cgroup = static_cast<std::uint64_t>(kSlotCgroup0);
  }
  if (p.command_stack_top) {
    args.flags |= CLONE_VM;
    args.stack = reinterpret_cast<std::uintptr_t>(p.command_stack_top) - StackPool::kCommand;
    args.stack_size = StackPool::kCommand;
    return clone_run(&args, exec_process_entry, const_cast<ChildPlan*>(&p));
  }
  long child = ::syscall(SYS_clone3, &args, sizeof args);
  if (child == 0) exec_process(p);
  return child;
}

}  // namespace

const char* loopback_up(int* err) noexcept {
  const long s = lj_syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0, 0, 0);
  if (s < 0) return *err = static_cast<int>(-s), "socket";
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  copy(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
  const char* step = nullptr;
  const auto req = reinterpret_cast<long>(&ifr);
  long r = lj_syscall(SYS_ioctl, s, SIOCGIFFLAGS, req, 0, 0);
  if (r < 0) {
    step = "ioctl SIOCGIFFLAGS";
  } else {
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if ((r = lj_syscall(SYS_ioctl, s, SIOCSIFFLAGS, req, 0, 0)) < 0) step = "bring up";
  }
  if (step) *err = static_cast<int>(-r);
  lj_syscall(SYS_close, s, 0, 0, 0, 0);
  return step;
}

void exec_monitor_main(const ChildPlan& p) noexcept {
  if (p.private_fds_below > 0 &&
      ::syscall(SYS_close_range, p.private_fds_below, ~0U, CLOSE_RANGE_UNSHARE) != 0)
    die(p.fds[kSlotError], "close_range", errno, "CLOSE_RANGE_UNSHARE");
  relocate_fds(p);
  // A copy of the daemon until its exec: closed to ptrace and /proc/PID/mem. In the daemon's own
  // memory the flag is the daemon's, which the backend holds at 0 meanwhile (exec.cpp).
  if (!p.shares_daemon_memory) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  set_name("lj-exec");
  // Not the cgroup namespace yet: clone3 CLONE_INTO_CGROUP checks that the common ancestor of
  // our cgroup (the daemon's) and the jail's is visible from the caller's cgroup namespace
  // (cgroup_procs_write_permission), which the jail's is not.
  const int ns = p.join_namespaces & ~CLONE_NEWCGROUP;
  if (ns && ::setns(kSlotJail, ns) < 0) die(kSlotError, "setns", errno, "the jail's namespaces");
  // A chroot root in our own mount namespace: the jail's, as its init has it (runc's exec into a
  // container without a mount namespace). The process inherits it and chdirs to its cwd.
  if (p.fds[kSlotJailRoot] >= 0) {
    if (::fchdir(kSlotJailRoot) < 0 || ::chroot(".") < 0)
      die(kSlotError, "chroot", errno, "the jail's root");
    ::close(kSlotJailRoot);
  }
  if (p.tty) open_terminal(p);  // the jail's root is ours now (setns or chroot): its /dev/ptmx
  // lj-exec waits for these (sigwaitinfo): blocked, and not ignored (a daemon's SIG_IGN of
  // SIGCHLD would have the kernel reap the process itself). The handlers go at the exec.
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = noop;
  ::sigaction(SIGCHLD, &sa, nullptr);
  block_forwarded_signals();
  // lj-exec writes the status on the pipe to the daemon first: a daemon killed meanwhile must
  // make that write fail (EPIPE), not kill the monitor before it writes the status file. Ignored
  // stays ignored across execve; the process resets every disposition (exec_command).
  struct sigaction ign;
  std::memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ign, nullptr);
  make_go_pipe();
  for (int fd = 0; fd <= 2; ++fd) ::close(fd);

  const long child = spawn_exec_process(p);
  if (child < 0) die(kSlotError, "clone3", errno, "the exec's process");
  const auto cmd = static_cast<pid_t>(child);
  for (int s : {int{kSlotIn}, int{kSlotOut}, int{kSlotErr}, kSlotJail})
    if (p.fds[s] >= 0) ::close(s);
  for (int s : kCgroupSlots)
    if (p.fds[s] >= 0) ::close(s);
  ::close(kSlotGoRead);
  // lj-init as the monitor: the status pipe and file, the terminal's master (held, so that a
  // restarted daemon takes it back); the go pipe's write end closes at the exec (close-on-exec),
  // and the process starts.
  for (int s : {kSlotStatus, kSlotStatusFile, kSlotOutRead})
    if (p.fds[s] >= 0 || (s == kSlotOutRead && p.tty)) ::fcntl(s, F_SETFD, 0);
  char pid[16];
  char* argv[] = {const_cast<char*>("lj-exec"), utoa(pid + sizeof pid, static_cast<unsigned>(cmd)),
                  const_cast<char*>("0"), const_cast<char*>("exec"), nullptr};
  char* envp[] = {nullptr};
  ::syscall(SYS_execveat, kSlotReaper, "", argv, envp, AT_EMPTY_PATH);
  const int err = errno;
  ::kill(cmd, SIGKILL);  // still waiting on the go pipe: it must not run unmonitored
  die(kSlotError, "execveat", err, "lj-init");
}

void child_main(const ChildPlan& p) noexcept {
  if (p.private_fds_below > 0 &&
      ::syscall(SYS_close_range, p.private_fds_below, ~0U, CLOSE_RANGE_UNSHARE) != 0)
    die(p.fds[kSlotError], "close_range", errno, "CLOSE_RANGE_UNSHARE");
  // PR_SET_PDEATHSIG fires only for a parent that dies after it is set: a spawner killed since
  // the clone (ljspawn killed at once) must not leave a jail nobody owns.
  if (p.die_with_parent) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    struct pollfd gone = {p.parent_pidfd, POLLIN, 0};
    if (p.parent_pidfd >= 0 && ::poll(&gone, 1, 0) != 0) ::_exit(126);
  }
  relocate_fds(p);
  if (p.set_oom_score_adj) {
    int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, p.oom_score_adj, std::strlen(p.oom_score_adj)) < 0)
      die(kSlotError, "write", errno, "/proc/self/oom_score_adj");
    ::close(fd);
  }
  // Joined namespaces (JoinedNamespaces) before anything is done in them: the root assembled
  // in a joined mount namespace, the hostname, the mqueue mount (ipc), the cgroup namespace's
  // root (below, in place of a new one).
  if (p.fds[kSlotJoinMnt] >= 0 && ::setns(kSlotJoinMnt, CLONE_NEWNS) != 0)
    die(kSlotError, "setns", errno, "mount namespace");
  ::close(kSlotJoinMnt);
  if (p.fds[kSlotJoinIpc] >= 0 && ::setns(kSlotJoinIpc, CLONE_NEWIPC) != 0)
    die(kSlotError, "setns", errno, "ipc namespace");
  if (p.fds[kSlotJoinUts] >= 0 && ::setns(kSlotJoinUts, CLONE_NEWUTS) != 0)
    die(kSlotError, "setns", errno, "uts namespace");
  ::close(kSlotJoinIpc);
  ::close(kSlotJoinUts);
  if (p.fds[kSlotNetns] >= 0 && !p.netns_from_helper && ::setns(kSlotNetns, CLONE_NEWNET) != 0)
    die(kSlotError, "setns", errno, "network namespace");
  if (p.fds[kSlotNetns] < 0 && p.fds[kSlotSysfsNetns] >= 0) keep_own_netns();
  ::umask(0);
  // Only the daemon reaches init: the jail's processes lack CAP_SYS_PTRACE and their caps are a
  // subset of init's, and a non-dumpable init keeps even /proc/1/mem and /proc/1/fd closed. In the
  // daemon's address space the flag would be the daemon's (it belongs to the mm): lj-init sets it
  // after its exec, before the command, the first process of the jail, is let go.
  if (!p.shares_daemon_memory) ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  set_name("lj-init");
  if (p.subreaper && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0)
    die(kSlotError, "prctl PR_SET_CHILD_SUBREAPER", errno, "");

  for (int s : kCgroupSlots)
    if (p.fds[s] >= 0 && ::write(s, "0", 1) != 1) die(kSlotError, "join cgroup", errno, "tasks");
  for (int s : kCgroupSlots)
    if (p.fds[s] >= 0) ::close(s);
  if (p.join_then_unshare_cgroupns && ::unshare(CLONE_NEWCGROUP) < 0)
    die(kSlotError, "unshare", errno, "CLONE_NEWCGROUP");
  if (p.fds[kSlotJoinCgroup] >= 0 && ::setns(kSlotJoinCgroup, CLONE_NEWCGROUP) != 0)
    die(kSlotError, "setns", errno, "cgroup namespace");
  ::close(kSlotJoinCgroup);
  if (p.wait_sync) {
    char c;
    if (::read(kSlotSync, &c, 1) != 1) ::_exit(126);  // the parent gave up: nothing to report
    ::close(kSlotSync);
  }
  // A new user namespace leaves our ids as they were on the host (unmapped there) until we set
  // them: ns root is then the mapped host uid, and files we create belong to it.
  if (p.become_ns_root &&
      (::syscall(SYS_setresgid, 0, 0, 0) != 0 || ::syscall(SYS_setresuid, 0, 0, 0) != 0))
    die(kSlotError, "become root of the user namespace", errno, "");
  if (!p.hostname.empty() && ::sethostname(p.hostname.data(), p.hostname.size()) < 0)
    die(kSlotError, "sethostname", errno, p.hostname.c_str());

  // The namespace made beside the spawn (netns_ahead.hpp), as late as it can come: before the
  // root (its /sys, sysctls and hooks are the namespace's). Its helper failed (EOF): one of our own.
  const bool loopback = p.netns_from_helper ? !join_netns_from_helper(p) : p.loopback_up;

  MountFailure mf;
  HookFailure hf;
  const CreateHooks create{&p.create_hooks, &hf};
  if (!run_root(p.root, &mf, p.create_hooks.list.empty() ? nullptr : create_hooks_before_pivot,
                &create))
    die(kSlotError, mf.step, mf.err, mf.detail);
  ::close(kSlotNetns);  // the go pipe takes their numbers
  ::close(kSlotSysfsNetns);
  if (loopback) bring_loopback_up();
  if (p.tty)
    open_terminal(p);
  else if (p.fds[kSlotIn] < 0 || p.fds[kSlotOut] < 0 || p.fds[kSlotErr] < 0)
    die(kSlotError, "stdio", EBADF, "");
  block_forwarded_signals();

  // The filter binds init too, not only the command: init is done with everything it needs a
  // denied call for (mounts, namespaces, the hostname), and a filter loaded here is one seccomp(2)
  // per jail, inherited by the command at its clone, as by every process of the jail. No
  // no_new_privs needed: init has CAP_SYS_ADMIN in its user namespace (seccomp(2)).
  if (p.seccomp && ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, p.seccomp) < 0)
    die(kSlotError, "seccomp", errno, "SECCOMP_SET_MODE_FILTER");

  // The caller's links (Network::attach_links), made by another thread while init got this far:
  // the command starts in a namespace that has them, or not at all (EOF: their attach failed,
  // and the spawn reports that error rather than this record).
  if (p.fds[kSlotLinksReady] >= 0) {
    char c;
    ssize_t n;
    while ((n = ::read(kSlotLinksReady, &c, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) die(kSlotError, kStepLinks, n == 0 ? ECANCELED : errno, "");
    ::close(kSlotLinksReady);
  }

  // runc's model: init is the command. Its own steps close what is init's (close_range) and drop
  // the rest at the exec (close-on-exec), the error pipe among them: EOF, the spawn is done.
  if (p.command_is_init) exec_command(p);

  // lj-init keeps only the status descriptors: 0-2, which are still ljd's own stdio (its log, a
  // terminal, a journal socket), go now (the command takes its own from the slots); the rest once
  // the command has its copies, the error pipe at init's exec (a failure is reported on it) and
  // at the command's, when it reaches EOF.
  make_go_pipe();
  for (int fd = 0; fd <= 2; ++fd) ::close(fd);
  long child = spawn_command(p);
  if (child < 0) die(kSlotError, "clone", errno, "");
  const auto cmd = static_cast<pid_t>(child);
  for (int s : {kSlotScript, kSlotIn, kSlotOut, kSlotErr})
    if (p.fds[s] >= 0) ::close(s);  // open (relocate_fds): cannot fail, errno stays the command's
  ::close(kSlotGoRead);
  become_reaper(p, cmd);  // the error pipe closes at the exec (close-on-exec)
  // The command still waits on the go pipe: it must not start in a jail that failed.
  const int err = errno;
  ::kill(cmd, SIGKILL);
  die(kSlotError, "execveat", err, "lj-init");
}

}  // namespace lj::jail
