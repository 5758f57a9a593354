// An exec into a running FreeBSD jail (exec.hpp), as a checklist of steps like a spawn's: find the
// jail (its main process checked against the handle's start time, its jid by its name), the
// command, the descriptors; pdfork the monitor, which pdforks the process (monitor_main); read
// their reports until the process has exec'd.
#include "jail/freebsd/exec.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/procdesc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "jail/freebsd/child.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/freebsd/plan.hpp"
#include "jail/status_file.hpp"

namespace lj::jail::freebsd {
namespace {

constexpr const char* kDomain = "jail";
using Clock = std::chrono::steady_clock;

// What the monitor passes on to the process, as Linux's lj-exec does (linux/child.cpp). SIGKILL
// and SIGSTOP cannot be caught: FreebsdExec::signal sends those to the process itself.
constexpr int kForwarded[] = {SIGTERM, SIGINT,   SIGHUP,  SIGQUIT, SIGUSR1,
                              SIGUSR2, SIGWINCH, SIGCONT, SIGALRM, SIGTSTP};

// The monitor's descriptors once it has closed everything else (monitor_main).
enum MonitorSlot : int { kSlotKq = 3, kSlotProc = 4, kSlotStatus = 5, kSlotStatusFile = 6, kSlotReport = 7 };

struct MonitorPlan {
  ChildPlan child;   // the process; child.report_fd is the report pipe both write on
  int status_fd = -1;    // write end of the status pipe to the caller
  int status_file = -1;  // ExecSpec::status_file, opened by the caller; -1 without
  int devnull = -1;
};

// "exited N\n" / "killed N\n" (status_file.hpp's format) without the C library's formatting,
// which is not async-signal-safe.
std::size_t format_status(int ws, char* buf) {
  const char* word = WIFSIGNALED(ws) ? "killed " : "exited ";
  unsigned v = static_cast<unsigned>(WIFSIGNALED(ws) ? WTERMSIG(ws) : WEXITSTATUS(ws));
  std::size_t n = 0;
  for (const char* c = word; *c != '\0'; ++c) buf[n++] = *c;
  char digits[12];
  int k = 0;
  do digits[k++] = static_cast<char>('0' + v % 10); while ((v /= 10) != 0);
  while (k > 0) buf[n++] = digits[--k];
  buf[n++] = '\n';
  return n;
}

// The monitor: a pdfork(2)ed copy of the (multi-threaded) caller, so async-signal-safe calls only.
// It never execs: it waits, forwards and reports, then exits.
[[noreturn]] void monitor_main(MonitorPlan& m) noexcept {
  int report = m.child.report_fd;
  // Signals: every handler of the caller's back to the default, then the forwarded ones ignored
  // (kqueue's EVFILT_SIGNAL still records them) and SIGPIPE too (a caller gone before the status
  // is written must not kill the monitor before it writes the file). The caller blocked every
  // signal across the fork; unblock them once the handlers are ours.
  struct sigaction sa {};
  sa.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig)
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &sa, nullptr);
  sa.sa_handler = SIG_IGN;
  for (int sig : kForwarded) ::sigaction(sig, &sa, nullptr);
  ::sigaction(SIGPIPE, &sa, nullptr);
  // Out of the caller's session and process group: a ^C to ljd's group is not the exec's.
  if (::setsid() < 0) child_fail(report, "setsid (monitor)", errno);
  int kq = ::kqueue();
  if (kq < 0) child_fail(report, "kqueue (monitor)", errno);
  struct kevent evs[nitems(kForwarded)];
  for (std::size_t i = 0; i < nitems(kForwarded); ++i)
    EV_SET(&evs[i], kForwarded[i], EVFILT_SIGNAL, EV_ADD, 0, 0, nullptr);
  if (::kevent(kq, evs, nitems(kForwarded), nullptr, 0, nullptr) != 0)
    child_fail(report, "kevent signals (monitor)", errno);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  // The process (a kqueue is not inherited, and run_child closes the rest of ours). Without
  // PD_DAEMON, unlike the monitor itself: the monitor outlives ljd, and should it die anyway
  // (killed) its exit closes this descriptor, which kills the process rather than leaving an
  // exec that nothing waits for or records.
  int pd = -1;
  pid_t pid = ::pdfork(&pd, PD_CLOEXEC);
  if (pid < 0) child_fail(report, "pdfork (monitor)", errno);
  if (pid == 0) run_child(m.child);

  // Only what the monitor needs stays open, at fixed slots: not the caller's stdio (its reader
  // waits for their EOF) and, once the process's pid is reported, not the report pipe (its EOF
  // tells the caller the process has exec'd). A kqueue's knotes are keyed by descriptor number,
  // so the process descriptor is watched only at its final slot.
  const int keep[] = {kq, pd, m.status_fd, m.status_file, report};
  int hi[nitems(keep)];
  for (std::size_t i = 0; i < nitems(keep); ++i) {
    hi[i] = keep[i] < 0 ? -1 : ::fcntl(keep[i], F_DUPFD, 10);
    if (keep[i] >= 0 && hi[i] < 0) child_fail(report, "dup (monitor)", errno);
  }
  for (int fd = 0; fd < 3; ++fd)
    if (::dup2(m.devnull, fd) < 0) child_fail(report, "dup2 /dev/null (monitor)", errno);
  for (std::size_t i = 0; i < nitems(keep); ++i) {
    const int slot = kSlotKq + static_cast<int>(i);
    if (hi[i] < 0)
      ::close(slot);  // no status file: whatever the caller had there is not the monitor's
    else if (::dup2(hi[i], slot) < 0)
      child_fail(report, "dup2 (monitor)", errno);
  }
  ::closefrom(kSlotReport + 1);
  report = kSlotReport;
  {
    ChildReport r;
    r.kind = ChildReport::pid;
    r.pid_value = pid;
    (void)!::write(report, &r, sizeof r);
  }
  struct kevent ev;
  EV_SET(&ev, kSlotProc, EVFILT_PROCDESC, EV_ADD, NOTE_EXIT, 0, nullptr);
  if (::kevent(kSlotKq, &ev, 1, nullptr, 0, nullptr) != 0)
    child_fail(report, "kevent procdesc (monitor)", errno);  // the caller kills the process
  ::close(report);

  int ws = 0;
  for (;;) {
    int n = ::kevent(kSlotKq, nullptr, 0, &ev, 1, nullptr);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      // Cannot happen with a valid kqueue; still, the status must be had: wait for it plainly.
      while (::wait4(pid, &ws, 0, nullptr) < 0 && errno == EINTR) {
      }
      break;
    }
    if (n == 1 && ev.filter == EVFILT_SIGNAL) {
      ::pdkill(kSlotProc, static_cast<int>(ev.ident));
      continue;
    }
    if (n == 1 && ev.filter == EVFILT_PROCDESC) {
      ws = static_cast<int>(ev.data);
      break;
    }
  }
  // The status file first: it is what a caller that died reads; the pipe is for one that lives.
  if (m.status_file >= 0) {
    char line[32];
    (void)!::write(kSlotStatusFile, line, format_status(ws, line));
  }
  (void)!::write(kSlotStatus, &ws, sizeof ws);
  ::_exit(0);  // closing the process descriptor reaps the process
}

class FreebsdExec final : public Exec {
 public:
  FreebsdExec(ExecHandle h, UniqueFd monitor, UniqueFd kq, UniqueFd status)
      : handle_(std::move(h)), monitor_(std::move(monitor)), kq_(std::move(kq)), status_(std::move(status)) {}

  // Closing the monitor's descriptor reaps it once it has exited; one still running (PD_DAEMON)
  // goes on, reparented to init, and ends with the process or the jail.
  ~FreebsdExec() override = default;

  const ExecHandle& handle() const override { return handle_; }
  int wait_fd() const override { return kq_.get(); }

  Status signal(int sig) override {
    const std::string what = "signal " + std::to_string(sig) + " to exec " + std::to_string(handle_.process);
    if (reaped_) return fail(Errc::conflict, kDomain, "exec " + std::to_string(handle_.process) + " has ended");
    if (sig == SIGKILL || sig == SIGSTOP) {
      // Uncatchable, so not through the monitor: to the process, while it is still the monitor's
      // child (the monitor reaps it only when it ends, so its pid is not reused before that).
      auto p = LJ_TRY(proc_info(handle_.process));
      if (!p || p->ppid != handle_.pid || p->zombie) return {};
      if (LJ_SYS("kill", ::kill(handle_.process, sig)) != 0 && errno != ESRCH) return fail_errno(kDomain, what);
      return {};
    }
    if (monitor_) {
      if (LJ_SYS("pdkill", ::pdkill(monitor_.get(), sig)) != 0 && errno != ESRCH)
        return fail_errno(kDomain, what);
      return {};
    }
    // Adopted: no descriptor; the monitor's pid is checked against its start time first.
    auto p = LJ_TRY(proc_info(handle_.pid));
    if (!p || p->zombie || p->start_usec != handle_.start_time) return {};
    if (LJ_SYS("kill", ::kill(handle_.pid, sig)) != 0 && errno != ESRCH) return fail_errno(kDomain, what);
    return {};
  }

  Result<std::optional<ExitStatus>> poll() override {
    if (reaped_) return std::optional<ExitStatus>(*reaped_);
    struct timespec zero {};
    struct kevent ev {};
    int n = LJ_SYS("kevent", ::kevent(kq_.get(), nullptr, 0, &ev, 1, &zero));
    if (n < 0 && errno != EINTR) return fail_errno(kDomain, "kevent (polling an exec)");
    if (n != 1) return std::optional<ExitStatus>();
    return std::optional<ExitStatus>(reap());
  }

  Result<ExitStatus> wait(std::chrono::milliseconds timeout) override {
    if (reaped_) return *reaped_;
    const auto until = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    for (;;) {
      struct timespec ts {};
      struct timespec* tsp = nullptr;
      if (until != Clock::time_point::max()) {
        auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::max(Clock::duration::zero(), until - Clock::now()))
                      .count();
        ts.tv_sec = static_cast<time_t>(ns / 1000000000);
        ts.tv_nsec = static_cast<long>(ns % 1000000000);
        tsp = &ts;
      }
      struct kevent ev {};
      int n = LJ_SYS("kevent", ::kevent(kq_.get(), nullptr, 0, &ev, 1, tsp));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno(kDomain, "kevent (waiting for an exec)");
      if (n == 1) return reap();
      return fail(Errc::timed_out, kDomain, "exec " + std::to_string(handle_.process) + " still running");
    }
  }

 private:
  // The monitor wrote the wait status on its pipe (spawned execs) and to the status file, then
  // exited. Without either, the process was lost (the monitor killed).
  ExitStatus reap() {
    std::optional<int> ws;
    int raw = 0;
    if (status_ && ::read(status_.get(), &raw, sizeof raw) == static_cast<ssize_t>(sizeof raw)) ws = raw;
    const ExitStatus s = reaped_status(ws, handle_.status_file);
    status_.reset();
    monitor_.reset();  // reaps it
    reaped_ = s;
    lj::log("jail")->debug("exec ended monitor={} pid={} code={} signal={}", handle_.pid,
                           handle_.process, s.code, s.signal);
    return s;
  }

  ExecHandle handle_;
  UniqueFd monitor_;  // the monitor's process descriptor (spawned execs)
  UniqueFd kq_;       // EVFILT_PROCDESC on monitor_, or EVFILT_PROC on the pid (adopted)
  UniqueFd status_;   // read end of the monitor's status pipe (spawned execs)
  std::optional<ExitStatus> reaped_;
};

// What one exec makes; on a failed start the process (if it started) and the monitor are killed.
struct ExecLaunch {
  UniqueFd report_r, report_w, status_r, status_w, status_file, devnull;
  UniqueFd monitor;  // process descriptor, PD_DAEMON
  pid_t monitor_pid = -1;
  pid_t process = -1;
  bool owned = true;

  ExecLaunch() = default;
  ExecLaunch(const ExecLaunch&) = delete;
  ExecLaunch& operator=(const ExecLaunch&) = delete;
  ~ExecLaunch() {
    if (!owned || !monitor) return;
    // The process first, while the monitor still holds its pid (it reaps only as it exits).
    if (process > 0) {
      auto p = proc_info(process);
      if (p && *p && (*p)->ppid == monitor_pid) ::kill(process, SIGKILL);
    }
    ::pdkill(monitor.get(), SIGKILL);
    // Closing it reaps a dead monitor, or leaves a dying one to init (PD_DAEMON).
  }
};

// 1. The jail: its main process still the one the handle names, in the live jail of that name.
Result<int> find_running_jail(const JailHandle& jail) {
  auto gone = [&] { return fail(Errc::not_found, kDomain, "jail " + jail.name + " is not running"); };
  if (jail.pid <= 0) return gone();
  auto info = LJ_TRY(proc_info(jail.pid));
  if (!info || info->zombie || info->start_usec != jail.start_time) return gone();
  auto jid = LJ_TRY(find_jail(jail.name));
  if (!jid || *jid != info->jid) return gone();
  return *jid;
}

// 2. The descriptors: the report pipe, the monitor's status pipe and file, /dev/null.
Status open_exec_descriptors(const ExecSpec& spec, ExecLaunch& l) {
  int p[2];
  if (LJ_SYS("pipe2", ::pipe2(p, O_CLOEXEC)) != 0) return fail_errno(kDomain, "pipe2");
  l.report_r.reset(p[0]);
  l.report_w.reset(p[1]);
  if (LJ_SYS("pipe2", ::pipe2(p, O_CLOEXEC)) != 0) return fail_errno(kDomain, "pipe2");
  l.status_r.reset(p[0]);
  l.status_w.reset(p[1]);
  if (!spec.status_file.empty()) {
    l.status_file.reset(LJ_SYS("open", ::open(spec.status_file.c_str(),
                                              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)));
    if (!l.status_file) return fail_errno(kDomain, "open " + spec.status_file);
  }
  l.devnull.reset(LJ_SYS("open", ::open("/dev/null", O_RDWR | O_CLOEXEC)));
  if (!l.devnull) return fail_errno(kDomain, "open /dev/null");
  return {};
}

// 3. The monitor: pdfork with every signal blocked across it, so that no handler of the caller's
// runs in the copy before it has set its own.
Status fork_monitor(MonitorPlan& plan, ExecLaunch& l) {
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  int pd = -1;
  pid_t pid = LJ_SYS("pdfork", ::pdfork(&pd, PD_CLOEXEC | PD_DAEMON));
  if (pid == 0) monitor_main(plan);  // never returns
  const int err = errno;
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (pid < 0) return fail_errno(kDomain, "pdfork", err);
  l.monitor.reset(pd);
  l.monitor_pid = pid;
  l.report_w.reset();
  l.status_w.reset();
  l.status_file.reset();
  return {};
}

// 4. The reports: the monitor's (the process's pid), the process's (its jid), then EOF once the
// process has exec'd; or the record of the step that failed.
Status read_reports(const JailHandle& jail, const std::string& argv0, ExecLaunch& l) {
  const std::string ctx = "exec in jail " + jail.name;
  std::optional<ChildReport> failure;
  for (;;) {
    ChildReport r;
    ssize_t n = ::read(l.report_r.get(), &r, sizeof r);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(kDomain, ctx + ": read the exec's report");
    if (n == 0) break;
    if (static_cast<std::size_t>(n) != sizeof r)
      return fail(Errc::internal, kDomain, ctx + ": short report");
    if (r.kind == ChildReport::pid)
      l.process = r.pid_value;
    else if (r.kind == ChildReport::failed)
      failure = r;
  }
  if (failure) {
    // The jail went between the check and the attach (jail_attach(2): EINVAL, no such jail).
    if (std::string_view(failure->step) == "jail_attach" && failure->err == EINVAL)
      return fail(Errc::not_found, kDomain, "jail " + jail.name + " is not running");
    return fail(child_error(*failure, ctx, argv0));
  }
  if (l.process <= 0) return fail(Errc::internal, kDomain, ctx + ": the monitor ended without a report");
  return {};
}

}  // namespace

Result<std::unique_ptr<Exec>> exec_in_jail(const JailHandle& jail, const ExecSpec& spec) {
  LJ_TRY(validate_exec_spec(spec));
  if (const char* what = unsupported_process_option(spec.process))
    return fail(Errc::unsupported, kDomain,
                std::string("exec: ") + what + " is not supported by the FreeBSD backend yet");
  const int jid = LJ_TRY(find_running_jail(jail));

  // The command, everything the process needs prepared here (it only makes system calls).
  const ChildCommand command(spec.argv, spec.env);

  ExecLaunch l;
  LJ_TRY_CTX("exec in jail " + jail.name, open_exec_descriptors(spec, l));

  MonitorPlan plan;
  ChildPlan& c = plan.child;
  c.attach_jid = jid;
  c.report_fd = l.report_w.get();
  c.workdir = spec.workdir.c_str();
  // Empty user: root in the jail (docker exec's default); else resolved in the jail's files.
  c.user = spec.user.empty() ? nullptr : spec.user.c_str();
  c.login = "root";
  if (spec.tty) {
    c.tty = true;
    c.console_fd = spec.tty->socket;
    c.tty_rows = spec.tty->rows;
    c.tty_cols = spec.tty->cols;
  }
  c.stdio[0] = spec.stdio.in >= 0 ? spec.stdio.in : l.devnull.get();
  c.stdio[1] = spec.stdio.out >= 0 ? spec.stdio.out : l.devnull.get();
  c.stdio[2] = spec.stdio.err >= 0 ? spec.stdio.err : l.devnull.get();
  if (spec.nofile > 0) {
    c.set_nofile = true;
    c.nofile.rlim_cur = c.nofile.rlim_max = static_cast<rlim_t>(spec.nofile);
  }
  command.into(c);
  plan.status_fd = l.status_w.get();
  plan.status_file = l.status_file.get();
  plan.devnull = l.devnull.get();

  LJ_TRY_CTX("exec in jail " + jail.name, fork_monitor(plan, l));
  LJ_TRY(read_reports(jail, spec.argv[0], l));

  ExecHandle h;
  h.pid = l.monitor_pid;
  auto info = LJ_TRY(proc_info(l.monitor_pid));
  h.start_time = info ? info->start_usec : 0;
  h.process = l.process;
  h.status_file = spec.status_file;
  UniqueFd kq(LJ_SYS("kqueue", ::kqueue()));
  if (!kq) return fail_errno(kDomain, "kqueue");
  struct kevent ev;
  EV_SET(&ev, static_cast<uintptr_t>(l.monitor.get()), EVFILT_PROCDESC, EV_ADD | EV_ONESHOT,
         NOTE_EXIT, 0, nullptr);
  if (LJ_SYS("kevent", ::kevent(kq.get(), &ev, 1, nullptr, 0, nullptr)) != 0)
    return fail_errno(kDomain, "kevent EVFILT_PROCDESC (exec monitor)");
  l.owned = false;
  lj::log("jail")->debug("exec jail={} jid={} monitor={} pid={}", jail.name, jid, h.pid, h.process);
  return std::unique_ptr<Exec>(
      new FreebsdExec(std::move(h), std::move(l.monitor), std::move(kq), std::move(l.status_r)));
}

Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& h) {
  auto gone = [&] {
    return fail(Errc::not_found, kDomain, "exec monitor " + std::to_string(h.pid) + " is gone");
  };
  if (h.pid <= 0) return gone();
  auto info = LJ_TRY(proc_info(h.pid));
  if (!info || info->zombie || info->start_usec != h.start_time) return gone();
  UniqueFd kq(LJ_SYS("kqueue", ::kqueue()));
  if (!kq) return fail_errno(kDomain, "kqueue");
  // No process descriptor for a process we did not pdfork: watch the pid (checked just above).
  struct kevent ev;
  EV_SET(&ev, static_cast<uintptr_t>(h.pid), EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  if (LJ_SYS("kevent", ::kevent(kq.get(), &ev, 1, nullptr, 0, nullptr)) != 0) {
    if (errno == ESRCH) return gone();
    return fail_errno(kDomain, "kevent EVFILT_PROC (exec monitor)");
  }
  return std::unique_ptr<Exec>(new FreebsdExec(h, UniqueFd(), std::move(kq), UniqueFd()));
}

}  // namespace lj::jail::freebsd
