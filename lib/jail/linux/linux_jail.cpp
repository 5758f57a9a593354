#include "jail/linux/linux_jail.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "common/log.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/host_root.hpp"
#include "jail/status_file.hpp"

namespace lj::jail {

int pidfd_send(int pidfd, int sig, siginfo_t* info) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, 0));
}

Result<std::uint64_t> start_time_of(pid_t pid) {
  // One read(2) into a buffer: a stream's first use costs more than the read (it runs once per
  // spawn, and in every ljoci command).
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  char buf[1024];
  ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
  if (n <= 0) return fail(Errc::not_found, "jail", "no process " + std::to_string(pid));
  buf[n] = '\0';
  // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'; field 22
  // is the start time.
  const char* p = std::strrchr(buf, ')');
  if (!p) return fail(Errc::internal, "jail", "unreadable " + path);
  int field = 2;
  for (; *p && field < 22; ++p)
    if (*p == ' ') ++field;
  char* end = nullptr;
  const std::uint64_t t = std::strtoull(p, &end, 10);
  if (field != 22 || end == p) return fail(Errc::internal, "jail", "unreadable " + path);
  return t;
}

namespace {

using Clock = std::chrono::steady_clock;

ExitStatus decode(int ws) {
  ExitStatus s;
  if (WIFSIGNALED(ws)) {
    s.signal = WTERMSIG(ws);
  } else {
    s.code = WEXITSTATUS(ws);
  }
  return s;
}

class LinuxJail final : public Jail {
 public:
  LinuxJail(JailHandle handle, UniqueFd pidfd, UniqueFd status, Cgroups cgroups, bool child,
            Clock::time_point deadline, std::pair<UniqueFd, UniqueFd> output)
      : handle_(std::move(handle)),
        pidfd_(std::move(pidfd)),
        status_(std::move(status)),
        cgroups_(std::move(cgroups)),
        child_(child),
        deadline_(deadline),
        output_(std::move(output)) {}

  ~LinuxJail() override {
    if (!reaped_) {
      if (pidfd_) pidfd_send(pidfd_.get(), SIGKILL);
      (void)reap();
    }
    if (auto st = teardown(); !st)
      lj::log("jail")->error("jail={} teardown left state behind: {}", handle_.name,
                             st.error().what());
  }

  const JailHandle& handle() const override { return handle_; }
  int wait_fd() const override { return pidfd_.get(); }
  Clock::time_point deadline() const override { return deadline_; }

  Status signal(int sig, bool all) override {
    if (reaped_) return fail(Errc::conflict, "jail", "jail " + handle_.name + " has exited");
    if (sig == SIGKILL && all) return kill_init(sig);
    if (handle_.command_is_init) {
      // No lj-init to forward or broadcast: the command is init, the rest is in its cgroup.
      if (!all) return kill_init(sig);
      if (cgroups_.empty())
        return fail(Errc::unsupported, "jail",
                    "signal " + std::to_string(sig) + " to every process needs a jail with a cgroup");
      return cgroups_.signal_all(sig);
    }
    if (!init_forwards(sig)) {
      // Init cannot catch these to pass them on: find the command (pid 2 in the jail) instead.
      if (all && !cgroups_.empty()) return cgroups_.signal_all(sig);
      if (all)
        return fail(
            Errc::unsupported, "jail",
            "signal " + std::to_string(sig) + " to every process needs a jail with a cgroup");
      pid_t cmd = command_pid();
      if (cmd <= 0)
        return fail(Errc::not_found, "jail", "main command of " + handle_.name + " is gone");
      if (::kill(cmd, sig) != 0) return fail_errno("jail", "kill " + std::to_string(cmd));
      return {};
    }
    siginfo_t info;
    std::memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = SI_QUEUE;
    info.si_pid = ::getpid();
    info.si_uid = ::getuid();
    info.si_value.sival_int = all ? kBroadcastSignal : 0;
    if (pidfd_send(pidfd_.get(), sig, &info) != 0)
      return fail_errno("jail", "pidfd_send_signal " + std::to_string(sig) + " to " + handle_.name);
    return {};
  }

  std::pair<UniqueFd, UniqueFd> take_output() override { return std::move(output_); }

  Status expire() override {
    if (reaped_) return {};
    timed_out_ = true;
    return kill_init(SIGKILL);
  }

  Status teardown() override {
    if (torn_down_) return {};
    // When init's pidfd turned readable the kernel had killed and reaped the rest of its pid
    // namespace (pid_namespaces(7)): the cgroups are empty on v2; v1 may need a while to agree.
    LJ_TRY_CTX("tearing down jail " + handle_.name, cgroups_.destroy());
    // A root assembled in the spawner's mount namespace: its mounts are the host's.
    LJ_TRY_CTX("tearing down jail " + handle_.name, detach_host_root(handle_.name));
    torn_down_ = true;
    return {};
  }

  Result<std::optional<ExitStatus>> poll() override {
    if (reaped_) return std::optional<ExitStatus>(*reaped_);
    struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
    int r = ::poll(&pfd, 1, 0);
    if (r < 0) return fail_errno("jail", "poll pidfd");
    if (r == 0) return std::optional<ExitStatus>();
    return std::optional<ExitStatus>(LJ_TRY(reap()));
  }

  Result<ExitStatus> wait(std::chrono::milliseconds timeout) override {
    auto st = LJ_TRY(reap_within(timeout));
    LJ_TRY(teardown());
    return st;
  }

 private:
  // wait() without the teardown.
  Result<ExitStatus> reap_within(std::chrono::milliseconds timeout) {
    if (reaped_) return *reaped_;
    const auto until = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
    for (;;) {
      auto now = Clock::now();
      auto next = std::min(until, timed_out_ ? Clock::time_point::max() : deadline_);
      int ms = -1;
      if (next != Clock::time_point::max())
        ms = static_cast<int>(
            std::max<long>(0, std::chrono::ceil<std::chrono::milliseconds>(next - now).count()));
      struct pollfd pfd = {pidfd_.get(), POLLIN, 0};
      int r = ::poll(&pfd, 1, ms);
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return fail_errno("jail", "poll pidfd");
      if (r > 0) return reap();
      now = Clock::now();
      if (!timed_out_ && now >= deadline_)
        LJ_TRY(expire());
      else if (now >= until)
        return fail(Errc::timed_out, "jail", "jail " + handle_.name + " still running");
    }
  }

  Status kill_init(int sig) {
    if (pidfd_send(pidfd_.get(), sig) != 0 && errno != ESRCH)
      return fail_errno("jail", "pidfd_send_signal " + std::to_string(sig) + " to " + handle_.name);
    return {};
  }

  // The command is the child of init whose pid in the jail is 2.
  pid_t command_pid() const {
    std::string base = "/proc/" + std::to_string(handle_.pid);
    std::ifstream in(base + "/task/" + std::to_string(handle_.pid) + "/children");
    for (pid_t p; in >> p;) {
      std::ifstream st("/proc/" + std::to_string(p) + "/status");
      for (std::string line; std::getline(st, line);)
        if (line.rfind("NSpid:", 0) == 0 && line.size() >= 2 &&
            line.substr(line.size() - 2) == "\t2")
          return p;
    }
    return -1;
  }

  Result<ExitStatus> reap() {
    ExitStatus s;
    bool have = false;
    if (child_) {
      siginfo_t si;
      std::memset(&si, 0, sizeof si);
      while (::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd_.get()), &si,
                      WEXITED) != 0) {
        if (errno != EINTR) return fail_errno("jail", "waitid " + handle_.name);
      }
      int ws = 0;
      if (status_ && ::read(status_.get(), &ws, sizeof ws) == static_cast<ssize_t>(sizeof ws)) {
        s = decode(ws);
        have = true;
      } else if (si.si_code == CLD_EXITED) {
        s.code = si.si_status;  // init failed before or without the command
        have = true;
      } else {
        s.signal = si.si_status;  // init itself was killed: kill(), the deadline, or the OOM killer
        have = true;
      }
    } else if (auto f = read_status_file(handle_.status_file)) {
      s = *f;
      have = true;
    }
    if (!have) s.lost = true;
    s.oom = cgroups_.oom_kills() > 0;  // before teardown() removes the cgroup and its counters
    s.timed_out = timed_out_;
    status_.reset();
    reaped_ = s;
    return s;
  }

  JailHandle handle_;
  UniqueFd pidfd_;
  UniqueFd status_;  // read end of init's status pipe (spawned jails only)
  Cgroups cgroups_;
  bool child_;  // we are init's parent: waitid() works
  Clock::time_point deadline_;
  bool timed_out_ = false;
  std::optional<ExitStatus> reaped_;
  bool torn_down_ = false;
  std::pair<UniqueFd, UniqueFd> output_;  // adopted jails: the pipes init held (init_abi.h)
};

}  // namespace

std::unique_ptr<Jail> make_linux_jail(JailHandle handle, UniqueFd pidfd, UniqueFd status,
                                      Cgroups cgroups, bool child, Clock::time_point deadline,
                                      std::pair<UniqueFd, UniqueFd> output) {
  return std::make_unique<LinuxJail>(std::move(handle), std::move(pidfd), std::move(status),
                                     std::move(cgroups), child, deadline, std::move(output));
}

}  // namespace lj::jail
