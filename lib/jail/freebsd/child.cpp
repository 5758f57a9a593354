#include "jail/freebsd/child.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/jail.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/ttycom.h>
#include <stdio.h>   // sys_errlist, sys_nerr
#include <stdlib.h>  // posix_openpt
#include <unistd.h>

#include <cerrno>
#include <string_view>

#include "jail/freebsd/plan.hpp"
#include "jail/make_dirs.hpp"
#include "jail/terminal.hpp"
#include "jail/user_lookup.hpp"

// hook_run.hpp's platform calls, in its namespace: defined in lj::jail::freebsd they would be
// other functions, and nothing would define the ones run_hooks calls (the guest's link failed).
// rfork, not fork(2) nor pdfork(2): libthr runs the atfork handlers in those (the interposing
// table), which a copy of a threaded daemon must not.
namespace lj::jail {

int hook_state_file() noexcept { return ::shm_open(SHM_ANON, O_RDWR | O_CLOEXEC, 0600); }

pid_t fork_for_hook() noexcept { return ::rfork(RFPROC | RFFDG); }

}  // namespace lj::jail

namespace lj::jail::freebsd {

ChildCommand::ChildCommand(std::vector<std::string> argv, const std::vector<std::string>& env)
    : argv_s(std::move(argv)),
      env_s(env_with_path(env)),
      candidates_s(exec_candidates(argv_s.at(0), env_s)) {
  for (const auto& s : argv_s) argv_.push_back(const_cast<char*>(s.c_str()));
  argv_.push_back(nullptr);
  for (const auto& s : env_s) envp_.push_back(const_cast<char*>(s.c_str()));
  envp_.push_back(nullptr);
}

void ChildCommand::into(ChildPlan& p) const {
  p.argv = argv_.data();
  p.envp = envp_.data();
  p.candidates.clear();
  for (const auto& c : candidates_s) p.candidates.push_back(c.c_str());
}

void copy_cstr(char* dst, std::size_t cap, const char* src) noexcept {
  std::size_t i = 0;
  for (; src != nullptr && src[i] != '\0' && i + 1 < cap; ++i) dst[i] = src[i];
  dst[i] = '\0';
}

[[noreturn]] void child_fail(int fd, const char* step, int err, const char* errmsg) noexcept {
  ChildReport r;
  r.kind = ChildReport::failed;
  r.err = err;
  copy_cstr(r.step, sizeof(r.step), step);
  copy_cstr(r.errmsg, sizeof(r.errmsg), errmsg);
  (void)!::write(fd, &r, sizeof(r));
  ::_exit(127);
}

namespace {

// A terminal for the command, opened inside the jail (after JAIL_ATTACH): posix_openpt(2) makes
// a pts(4) device owned by this jailed process, which only the jail's devfs (and the host's) shows;
// the slave is opened through the jail's /dev/pts. The master goes to the caller over the console
// socket (one byte, SCM_RIGHTS), and is closed here; the slave, session leader's controlling
// terminal, becomes stdio. Its owner is the command's user (this runs before setuid).
void open_terminal(ChildPlan& p, int report) noexcept {
  int m = ::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (m < 0) child_fail(report, "posix_openpt", errno);
  int n = -1;
  if (::ioctl(m, TIOCGPTN, &n) < 0) child_fail(report, "ioctl TIOCGPTN", errno);
  char path[32] = "/dev/pts/";
  {
    char digits[12];
    int k = 0;
    for (unsigned v = static_cast<unsigned>(n); k == 0 || v != 0; v /= 10) digits[k++] = '0' + v % 10;
    std::size_t at = 9;
    while (k > 0) path[at++] = digits[--k];
    path[at] = '\0';
  }
  int s = ::open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (s < 0) child_fail(report, "open pts", errno, path);
  if (::fchown(s, p.uid, p.gid) != 0) child_fail(report, "fchown pts", errno, path);
  if (::ioctl(s, TIOCSCTTY, 0) < 0) child_fail(report, "ioctl TIOCSCTTY", errno);
  if (p.tty_rows != 0 || p.tty_cols != 0) {
    struct winsize ws {};
    ws.ws_row = p.tty_rows;
    ws.ws_col = p.tty_cols;
    if (::ioctl(m, TIOCSWINSZ, &ws) < 0) child_fail(report, "ioctl TIOCSWINSZ", errno);
  }
  if (int err = send_terminal(p.console_fd, m); err != 0)
    child_fail(report, "sendmsg terminal master", err);
  ::close(m);
  for (int& fd : p.stdio) fd = s;
}

// Where the hold descriptor sits once stdio (0-2) and the report pipe (3) are placed.
constexpr int kHoldSlot = 4;

void write_str(int fd, const char* s) noexcept {
  std::size_t n = 0;
  while (s[n] != '\0') ++n;
  (void)!::write(fd, s, n);
}

// The first candidate execve(2) would run: a regular file we may execute, with the errno the
// loop in run_child would report when there is none (ENOENT, or EACCES, ENOTDIR...). Syscalls
// only; called with the command's ids, in its working directory.
const char* find_executable(const ChildPlan& p, int* err) noexcept {
  *err = ENOENT;
  for (const char* path : p.candidates) {
    struct stat st {};
    if (::stat(path, &st) != 0) {
      if (errno != ENOENT && errno != ENOTDIR) *err = errno;
      continue;
    }
    if (S_ISREG(st.st_mode) && ::access(path, X_OK) == 0) return path;
    *err = EACCES;
  }
  return nullptr;
}

// A failure after the hold, when nobody reads the report pipe any more: "ljoci: WHAT: ERROR" on
// the command's stderr and 127, as the Linux backend and a shell report it. sys_errlist, not
// strerror(3): with NLS it may open a catalog and allocate, which a child of a threaded process
// must not.
[[noreturn]] void held_fail(const char* what, const char* detail, int err) noexcept {
  write_str(2, "ljoci: ");
  write_str(2, what);
  write_str(2, detail);
  write_str(2, ": ");
  write_str(2, err > 0 && err < sys_nerr ? sys_errlist[err] : "unknown error");
  write_str(2, "\n");
  ::_exit(127);
}

// ProcessOptions::hold_fd (runc's create, then start): everything but the execve is done; the
// executable is found now, so that a missing one fails the spawn itself, as runc's create does;
// then the report pipe is closed (EOF after the jid: spawn() returns, the jail is created) and
// the command waits for one byte on `hold`. EOF there (every writer gone without a byte) or an
// error: nobody will start it, 127 with a line on stderr.
[[noreturn]] void hold_then_exec(const ChildPlan& p, int report, int hold) noexcept {
  int err = 0;
  const char* path = find_executable(p, &err);
  if (path == nullptr) child_fail(report, "execve", err);
  ::close(report);
  char c;
  ssize_t n;
  while ((n = ::read(hold, &c, 1)) < 0 && errno == EINTR) {
  }
  if (n < 0) held_fail("reading the start byte", "", errno);
  if (n == 0) {
    write_str(2, "ljoci: not started: every writer of the start descriptor left without a byte\n");
    ::_exit(127);
  }
  ::close(hold);
  if (HookFailure hf; !run_hooks(p.start_hooks, &hf)) exit_held_hook_failure(hf);
  ::execve(path, p.argv, p.envp);
  held_fail("exec ", path, errno);
}

}  // namespace

[[noreturn]] void run_child(ChildPlan& p) noexcept {
  int report = p.report_fd;

  // The daemon's signal mask and ignored signals (SIGPIPE...) must not leak into the jail:
  // exec(2) resets handlers but keeps the mask and SIG_IGN.
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);

  if (p.go_peer >= 0) ::close(p.go_peer);
  if (::setsid() < 0) child_fail(report, "setsid", errno);

  int jid = p.attach_jid;
  if (jid > 0) {
    // An exec: into the running jail. jail_attach(2) chroots to its path and chdirs to "/".
    if (::jail_attach(jid) != 0) child_fail(report, "jail_attach", errno);
  } else {
    // Create the jail and enter it in one call; persist is off, so it lives as long as this
    // process tree. JAIL_ATTACH also chroots to `path` and chdirs to "/" (jail(2)).
    jid = ::jail_set(p.iov, p.niov, JAIL_CREATE | JAIL_ATTACH);
    if (jid < 0) child_fail(report, "jail_set", errno, p.jail_errmsg);
  }
  {
    ChildReport r;
    r.kind = ChildReport::jid;
    r.jid_value = jid;
    (void)!::write(report, &r, sizeof(r));
  }

  if (p.vnet) {
    if (int err = configure_vnet_loopback(&p.lo); err != 0)
      child_fail(report, "lo0 up (vnet)", err);
  }
  if (p.go_fd >= 0) {
    char go = 0;
    ssize_t n;
    while ((n = ::read(p.go_fd, &go, 1)) < 0 && errno == EINTR) {
    }
    if (n != 1) ::_exit(127);  // the parent's set-up failed: it reports that, not us
    ::close(p.go_fd);
  }

  // The user, from the jail's own /etc/passwd and /etc/group (user_lookup.hpp): / is the jail's
  // now, so its symlinks resolve inside it. Not getpwnam(3) nor login_getclass(3): this is a
  // child of a multi-threaded daemon, where only async-signal-safe calls may run; login classes
  // (login.conf resources and environment) are therefore not applied.
  ResolvedUser user;
  if (p.user != nullptr) {
    char detail[256];
    int err = 0;
    if (!resolve_user(p.user, "/etc/passwd", "/etc/group", &user, detail, sizeof detail, &err))
      child_fail(report, kStepResolveUser, err, detail);
    p.uid = user.uid;
    p.gid = user.gid;
    p.login = user.name[0] != '\0' ? user.name : nullptr;
  }

  if (p.tty) open_terminal(p, report);

  // stdio: lift sources (and the report pipe) above 9 first, so that dup2 never clobbers one
  // source with another, then place them and close everything else.
  int hi[3];
  for (int i = 0; i < 3; ++i) {
    hi[i] = ::fcntl(p.stdio[i], F_DUPFD, 10);
    if (hi[i] < 0) child_fail(report, "dup stdio", errno);
  }
  int rep = ::fcntl(report, F_DUPFD, 10);
  if (rep < 0) child_fail(report, "dup report pipe", errno);
  report = rep;
  int hold = -1;
  if (p.hold_fd >= 0) {
    hold = ::fcntl(p.hold_fd, F_DUPFD, 10);
    if (hold < 0) child_fail(report, "dup hold descriptor", errno);
  }
  for (int i = 0; i < 3; ++i)
    if (::dup2(hi[i], i) < 0) child_fail(report, "dup2 stdio", errno);
  if (::dup2(report, 3) < 0) child_fail(report, "dup2 report pipe", errno);
  report = 3;
  if (::fcntl(report, F_SETFD, FD_CLOEXEC) < 0) child_fail(report, "cloexec report pipe", errno);
  if (hold >= 0) {
    if (::dup2(hold, kHoldSlot) < 0) child_fail(report, "dup2 hold descriptor", errno);
    hold = kHoldSlot;
    if (::fcntl(hold, F_SETFD, FD_CLOEXEC) < 0) child_fail(report, "cloexec hold descriptor", errno);
  }
  ::closefrom(hold >= 0 ? kHoldSlot + 1 : kHoldSlot);

  // createContainer: the jail made, its root and network in place, before anything of the
  // command's; with exactly the command's stdio (the rest is close-on-exec or closed).
  if (HookFailure hf; !run_hooks(p.create_hooks, &hf))
    child_fail(report, hf.step, hf.err, hf.detail);

  if (p.set_nofile && ::setrlimit(RLIMIT_NOFILE, &p.nofile) != 0)
    child_fail(report, "setrlimit RLIMIT_NOFILE", errno);

  // Still root, inside the jail (jail_attach chrooted us): an image's missing WorkingDir.
  if (p.make_workdir) {
    if (int e = make_dirs(p.workdir); e != 0) child_fail(report, "mkdir workdir", e);
  }
  // Identity: login name of the new session, then groups, gid, uid (uid last: it drops root).
  if (p.login != nullptr && ::setlogin(p.login) != 0) child_fail(report, "setlogin", errno);
  if (p.user != nullptr ? ::setgroups(user.ngroups, user.groups) != 0
                        : ::setgroups(1, &p.gid) != 0)
    child_fail(report, "setgroups", errno);
  if (::setgid(p.gid) != 0) child_fail(report, "setgid", errno);
  if (::setuid(p.uid) != 0) child_fail(report, "setuid", errno);

  if (::chdir(p.workdir) != 0) child_fail(report, "chdir", errno);
  if (hold >= 0) hold_then_exec(p, report, hold);
  if (HookFailure hf; !run_hooks(p.start_hooks, &hf))
    child_fail(report, hf.step, hf.err, hf.detail);

  // PATH was resolved into candidates by the parent; execvp(3) is not async-signal-safe.
  int err = ENOENT;
  for (const char* path : p.candidates) {
    ::execve(path, p.argv, p.envp);
    if (errno != ENOENT && errno != ENOTDIR) err = errno;  // remember EACCES, ENOEXEC...
  }
  child_fail(report, "execve", err);
}

Error child_error(const ChildReport& r, const std::string& ctx, const std::string& argv0) {
  if (std::string_view(r.step) == kStepResolveUser && r.err == 0)
    return Error(Errc::invalid_argument, "jail", ctx + ": " + r.errmsg);
  if (std::string_view(r.step).ends_with(" hook")) {  // the errmsg is the hook's path and status
    const std::string what = ctx + ": " + r.step + " " + r.errmsg;
    if (r.err == ETIMEDOUT) return Error(Errc::timed_out, "jail", what);
    if (r.err == 0) return Error(Errc::system, "jail", what);
    return Error::from_errno("jail", what, r.err);
  }
  std::string what = ctx + ": " + r.step;
  if (r.errmsg[0] != '\0') what += " (kernel: " + std::string(r.errmsg) + ")";
  if (std::string_view(r.step) != "execve") return Error::from_errno("jail", what, r.err);
  return Error::from_errno(Errc::exec_failed, "jail", what + " " + argv0, r.err);
}

}  // namespace lj::jail::freebsd
