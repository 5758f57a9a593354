// An exec into a running Linux jail (jail/exec.hpp), as a checklist of steps like a spawn's: find
// the jail (its init's pidfd, checked against the handle's start time), the namespaces to join,
// its cgroup, the command, the descriptors; clone the monitor (exec_monitor_main, child.cpp),
// wait for the process's exec. The monitor runs in our own address space until it execs lj-init,
// as a jail's init does (spawn.cpp clone_init), and the process in it until its execve.
#include "jail/linux/exec.hpp"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/clone_run.hpp"
#include "jail/linux/linux_jail.hpp"
#include "jail/linux/ns_file.hpp"
#include "jail/linux/spawn.hpp"
#include "jail/linux/status_file_open.hpp"
#include "jail/linux/undumpable.hpp"
#include "jail/status_file.hpp"

namespace lj::jail {
namespace {

using Clock = std::chrono::steady_clock;

UniqueFd pidfd_of(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

// The monitor's one child: the exec'd process (host pid), 0 once it is gone.
pid_t child_of(pid_t monitor) {
  std::ifstream in("/proc/" + std::to_string(monitor) + "/task/" + std::to_string(monitor) +
                   "/children");
  pid_t p = 0;
  in >> p;
  return p;
}

ExitStatus decode(int ws) {
  ExitStatus s;
  if (WIFSIGNALED(ws))
    s.signal = WTERMSIG(ws);
  else
    s.code = WEXITSTATUS(ws);
  return s;
}

class LinuxExec final : public Exec {
 public:
  LinuxExec(ExecHandle h, UniqueFd monitor, UniqueFd process, UniqueFd status, bool child)
      : handle_(std::move(h)),
        monitor_(std::move(monitor)),
        process_(std::move(process)),
        status_(std::move(status)),
        child_(child) {}

  // A monitor we parent and never reaped would stay a zombie: reap it if it is done. One that
  // runs on is the jail's business (it ends with the jail), reparented when we exit.
  ~LinuxExec() override {
    if (child_ && !reaped_) (void)poll();
  }

  const ExecHandle& handle() const override { return handle_; }
  int wait_fd() const override { return monitor_.get(); }

  Status signal(int sig) override {
    if (reaped_) return fail(Errc::conflict, "jail", "exec " + std::to_string(handle_.pid) + " has ended");
    // The process itself when we have it; else the monitor, which forwards what init_forwards().
    const int target = process_ ? process_.get() : monitor_.get();
    if (pidfd_send(target, sig) != 0 && errno != ESRCH)
      return fail_errno("jail", "pidfd_send_signal " + std::to_string(sig) + " to exec " +
                                    std::to_string(handle_.process));
    return {};
  }

  Result<std::optional<ExitStatus>> poll() override {
    if (reaped_) return std::optional<ExitStatus>(*reaped_);
    struct pollfd pfd = {monitor_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, 0);
    if (r < 0) return fail_errno("jail", "poll pidfd");
    if (r == 0) return std::optional<ExitStatus>();
    return std::optional<ExitStatus>(reap());
  }

  Result<ExitStatus> wait(std::chrono::milliseconds timeout) override {
    if (reaped_) return *reaped_;
    const auto until = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    for (;;) {
      int ms = -1;
      if (until != Clock::time_point::max())
        ms = static_cast<int>(std::max<long>(
            0, std::chrono::ceil<std::chrono::milliseconds>(until - Clock::now()).count()));
      struct pollfd pfd = {monitor_.get(), POLLIN, 0};
      int r = ::poll(&pfd, 1, ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("jail", "poll pidfd");
      if (r > 0) return reap();
      return fail(Errc::timed_out, "jail", "exec " + std::to_string(handle_.process) + " still running");
    }
  }

  UniqueFd take_terminal() override {
    if (child_ || reaped_) return {};
    return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_getfd, monitor_.get(), kSlotOutRead, 0)));
  }

 private:
  // The monitor wrote the raw wait status on its pipe (a child of ours) or to the status file
  // (adopted), then exited. Without either, the process was lost (the monitor killed).
  ExitStatus reap() {
    ExitStatus s;
    bool have = false;
    if (child_) {
      siginfo_t si;
      std::memset(&si, 0, sizeof si);
      while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(monitor_.get()), &si,
                      WEXITED) != 0 &&
             errno == EINTR) {
      }
      int ws = 0;
      if (status_ && ::read(status_.get(), &ws, sizeof ws) == static_cast<ssize_t>(sizeof ws)) {
        s = decode(ws);
        have = true;
      }
    }
    if (!have) {
      if (auto f = read_status_file(handle_.status_file)) {
        s = *f;
        have = true;
      }
    }
    if (!have) s.lost = true;
    status_.reset();
    process_.reset();
    reaped_ = s;
    return s;
  }

  ExecHandle handle_;
  UniqueFd monitor_;  // pidfd of lj-exec
  UniqueFd process_;  // pidfd of the exec'd process, when it could be had
  UniqueFd status_;   // read end of the monitor's status pipe (spawned execs only)
  bool child_;        // we parent the monitor: waitid() works
  std::optional<ExitStatus> reaped_;
};

// What one exec makes, in the order the steps make it; unwound in reverse on failure (the
// monitor killed and reaped first: its process is still waiting on the go pipe, or has failed).
struct ExecLaunch {
  ChildPlan plan;
  sock_fprog command_seccomp{};
  UniqueFd jail_pidfd;
  UniqueFd jail_root;  // a chroot root's directory (find_jail), else none
  std::vector<UniqueFd> cgroup_fds;
  UniqueFd err_rd, err_wr, status_rd, status_wr, status_file, devnull;
  // clone_monitor
  bool share = false;
  UndumpableLease undumpable;
  FdBlockLease block;
  StackLease stacks;
  UniqueFd monitor_pidfd;
  pid_t monitor = -1;
  bool owned = true;
  std::optional<ExecRecord> record;  // read by clone_sharing_memory when the monitor shared it

  ExecLaunch() = default;
  ExecLaunch(const ExecLaunch&) = delete;
  ExecLaunch& operator=(const ExecLaunch&) = delete;
  ~ExecLaunch() {
    if (!monitor_pidfd || !owned) return;
    pidfd_send(monitor_pidfd.get(), SIGKILL);
    siginfo_t si;
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(monitor_pidfd.get()), &si, WEXITED);
  }
};

// 1. The jail: its init's pidfd (re-checked after the opens: pids are reused), and the namespaces
// that differ from ours (setns refuses our own user namespace; a jail sharing the host's network
// joins it as it is). A jail whose root was assembled in our own mount namespace (host_root.hpp)
// has a chroot for a root, which joining the mount namespace would not give: its root is opened
// instead, for the monitor to chroot into. /proc/PID/root is the kernel's link to init's root
// (the chroot's directory and mount, not a path resolved again), so it is init's whatever was
// mounted or moved under /run/lj-host-roots since.
Status find_jail(const JailHandle& jail, ExecLaunch& l) {
  auto gone = [&] {
    return fail(Errc::not_found, "jail", "jail " + jail.name + " is not running");
  };
  auto t = start_time_of(jail.pid);
  if (jail.pid <= 0 || !t || *t != jail.start_time) return gone();
  l.jail_pidfd = pidfd_of(jail.pid);
  if (!l.jail_pidfd) return errno == ESRCH ? gone() : fail_errno("jail", "pidfd_open " + std::to_string(jail.pid));
  const std::string proc = "/proc/" + std::to_string(jail.pid);
  // Either stat failing (we are root): the jail ended meanwhile.
  auto own_mnt = same_namespace(proc + "/ns/mnt", "/proc/self/ns/mnt");
  auto own_user = same_namespace(proc + "/ns/user", "/proc/self/ns/user");
  if (!own_mnt || !own_user) return gone();
  int flags = CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWNET | CLONE_NEWCGROUP;
  if (!*own_user) flags |= CLONE_NEWUSER;
  if (!*own_mnt) {
    flags |= CLONE_NEWNS;
  } else {
    l.jail_root.reset(::open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!l.jail_root) return errno == ENOENT ? gone() : fail_errno("jail", "open " + proc + "/root");
    l.plan.fds[kSlotJailRoot] = l.jail_root.get();
  }
  auto t2 = start_time_of(jail.pid);
  if (!t2 || *t2 != jail.start_time) return gone();
  l.plan.join_namespaces = flags;
  l.plan.fds[kSlotJail] = l.jail_pidfd.get();
  return {};
}

// 2. The jail's cgroup: its v2 directory, which the process is cloned into, or its v1 `tasks`
// files, which it writes itself into (cgroup.hpp says why `tasks`).
Status open_cgroups(const JailHandle& jail, ExecLaunch& l) {
  std::istringstream in(jail.cgroup);
  std::vector<std::string> dirs;
  for (std::string d; std::getline(in, d, ';');)
    if (!d.empty()) dirs.push_back(d);
  if (dirs.size() > static_cast<std::size_t>(kMaxCgroupFds))
    return fail(Errc::internal, "jail", "too many cgroup controllers");
  const bool v2 = dirs.size() == 1 && ::access((dirs[0] + "/cgroup.kill").c_str(), F_OK) == 0;
  for (std::size_t i = 0; i < dirs.size(); ++i) {
    const std::string path = v2 ? dirs[i] : dirs[i] + "/tasks";
    UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), v2 ? O_PATH | O_DIRECTORY | O_CLOEXEC
                                                           : O_WRONLY | O_CLOEXEC)));
    if (!fd) return fail_errno("jail", "open " + path);
    l.plan.fds[kCgroupSlots[i]] = fd.get();
    l.cgroup_fds.push_back(std::move(fd));
  }
  l.plan.cgroup_v2_dir = v2;
  return {};
}

// 3. The command and its privileges: the jail's command's (exec.hpp).
Status prepare_exec_command(const ExecSpec& spec, const SpawnContext& ctx, ExecLaunch& l) {
  ChildPlan& plan = l.plan;
  plan.argv_storage = spec.argv;
  plan_command(spec.env, spec.workdir, spec.user, spec.tty, spec.nofile, plan);
  plan.ignored_signals |= std::uint64_t{1} << (SIGPIPE - 1);  // the monitor ignores it (child.cpp)
  // Init loads the jail's filter and the jail's processes inherit it; an exec loads it itself.
  plan.command_seccomp = ctx.seccomp;
  LJ_TRY(plan_process_options(spec.process, plan, l.command_seccomp));
  plan.seccomp = nullptr;
  plan.fds[kSlotReaper] = ctx.reaper;
  return {};
}

// 4. Descriptors: the error pipe, the monitor's status pipe and file, stdio or the console socket.
Status prepare_exec_descriptors(const ExecSpec& spec, ExecLaunch& l) {
  int p[2];
  if (LJ_SYS("pipe2", ::pipe2(p, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
  l.err_rd.reset(p[0]);
  l.err_wr.reset(p[1]);
  if (LJ_SYS("pipe2", ::pipe2(p, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
  l.status_rd.reset(p[0]);
  l.status_wr.reset(p[1]);
  if (!spec.status_file.empty()) l.status_file = LJ_TRY(open_status_file(spec.status_file));
  int* fds = l.plan.fds;
  fds[kSlotError] = l.err_wr.get();
  fds[kSlotStatus] = l.status_wr.get();
  fds[kSlotStatusFile] = l.status_file.get();
  if (spec.tty) {
    fds[kSlotConsole] = spec.tty->socket;
    return {};
  }
  if (spec.stdio.in < 0 || spec.stdio.out < 0 || spec.stdio.err < 0) {
    l.devnull.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!l.devnull) return fail_errno("jail", "open /dev/null");
  }
  auto or_null = [&](int fd) { return fd >= 0 ? fd : l.devnull.get(); };
  fds[kSlotIn] = or_null(spec.stdio.in);
  fds[kSlotOut] = or_null(spec.stdio.out);
  fds[kSlotErr] = or_null(spec.stdio.err);
  return {};
}

int monitor_entry(void* plan) {
  exec_monitor_main(*static_cast<const ChildPlan*>(plan));
}

// 5. The monitor. In our own address space (CLONE_VM|CLONE_VFORK) on a pooled stack, from a
// reserved descriptor block, as a jail's init is: it was a copy of ljd (clone3 without CLONE_VM,
// 141 MB mapped), run on copy-on-write faults until its exec of lj-init, and the process a copy
// of that copy, most of an exec's CPU (docs/attach.md). This thread sleeps until the monitor has
// exec'd (or died); the process then runs our memory until its own execve, which
// clone_sharing_memory waits for, and our mm is kept non-dumpable meanwhile (undumpable.hpp). A
// jail with a user namespace too: setns(2) CLONE_NEWUSER wants a caller alone in its thread group
// and fs struct (userns_install), which a CLONE_VM child without CLONE_THREAD or CLONE_FS is. A
// copy, as before, in a sanitized build only (clone_run_supported). Every signal blocked across
// either clone: no handler of ours may run in the child.
Status clone_monitor(const SpawnContext& ctx, ExecLaunch& l) {
  ChildPlan& plan = l.plan;
  l.share = clone_run_supported();
  plan.shares_daemon_memory = l.share;
  if (l.share) {
    LJ_TRY(l.undumpable.take());
    LJ_TRY(put_on_block(*ctx.fd_blocks, l.block, plan));
    LJ_TRY(l.stacks.take(*ctx.stacks));
    plan.command_stack_top = StackPool::command_top(l.stacks.base());
  }
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  int pidfd = -1;
  args.flags = CLONE_PIDFD;
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd);
  args.exit_signal = SIGCHLD;
  long pid = -1;
  if (l.share) {
    l.record.emplace();
    pid = clone_sharing_memory(args, l.block, l.stacks, monitor_entry, plan, l.err_wr,
                               l.err_rd.get(), &*l.record);
  } else {
    sigset_t all, old;
    sigfillset(&all);
    ::pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = LJ_SYS("clone", ::syscall(SYS_clone3, &args, sizeof args));
    if (pid == 0) exec_monitor_main(plan);  // never returns
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
  }
  if (pid < 0) return fail_errno("jail", "clone3");
  l.monitor_pidfd.reset(pidfd);
  l.monitor = static_cast<pid_t>(pid);
  l.err_wr.reset();
  l.status_wr.reset();
  l.status_file.reset();
  l.cgroup_fds.clear();
  l.jail_root.reset();
  return {};
}

// 6. Wait for the exec: EOF on the error pipe (the monitor's lj-init and the process's command
// both exec'd), or the record of the step that failed. Already read when the monitor shared our
// memory: the process ran it, on this thread's errno, until its execve.
Status wait_for_exec(ExecLaunch& l) {
  if (!l.record) l.record = read_exec_record(l.err_rd.get());
  if (!l.record->failed()) return {};
  ChildError& ce = l.record->error;
  // The jail ended meanwhile: its namespaces cannot be entered any more.
  if (std::string_view(ce.step) == "setns" && ce.err == ESRCH)
    return fail(Errc::not_found, "jail", "the jail is not running");
  return child_failure(ce);
}

}  // namespace

Result<std::unique_ptr<Exec>> exec_in_jail(const JailHandle& jail, const ExecSpec& spec,
                                           const SpawnContext& ctx) {
  LJ_TRY(validate_exec_spec(spec));
  ExecLaunch l;
  LJ_TRY(find_jail(jail, l));
  LJ_TRY(open_cgroups(jail, l));
  LJ_TRY(prepare_exec_command(spec, ctx, l));
  LJ_TRY(prepare_exec_descriptors(spec, l));
  LJ_TRY(clone_monitor(ctx, l));
  LJ_TRY(wait_for_exec(l));
  ExecHandle h;
  h.pid = l.monitor;
  h.start_time = start_time_of(l.monitor).value_or(0);
  h.process = child_of(l.monitor);
  h.status_file = spec.status_file;
  UniqueFd process = h.process > 0 ? pidfd_of(h.process) : UniqueFd();
  l.owned = false;
  lj::log("jail")->debug("exec jail={} monitor={} pid={}", jail.name, h.pid, h.process);
  return std::unique_ptr<Exec>(new LinuxExec(std::move(h), std::move(l.monitor_pidfd),
                                             std::move(process), std::move(l.status_rd), true));
}

Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& h) {
  auto gone = [&] {
    return fail(Errc::not_found, "jail", "exec monitor " + std::to_string(h.pid) + " is gone");
  };
  auto t = start_time_of(h.pid);
  if (h.pid <= 0 || !t || *t != h.start_time) return gone();
  UniqueFd monitor = pidfd_of(h.pid);
  if (!monitor) return gone();
  auto t2 = start_time_of(h.pid);
  if (!t2 || *t2 != h.start_time) return gone();
  ExecHandle handle = h;
  handle.process = child_of(h.pid);
  UniqueFd process = handle.process > 0 ? pidfd_of(handle.process) : UniqueFd();
  return std::unique_ptr<Exec>(
      new LinuxExec(std::move(handle), std::move(monitor), std::move(process), UniqueFd(), false));
}

}  // namespace lj::jail
