// The Linux backend: clone3 into new namespaces, a root assembled in the child's own mount
// namespace, our own init as pid 1, cgroups for the limits, supervision through a pidfd.
// See docs/jail-linux.md for the sequence and the measured costs.
#include <dirent.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/scope.hpp"
#include "common/sys.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/clone_run.hpp"
#include "jail/linux/net.hpp"
#include "jail/linux/seccomp.hpp"
#include "jail/status_file.hpp"

namespace lj::jail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// The jails' scratch mount point: each child mounts its private tmpfs here, in its own mount
// namespace, so the host only ever sees an empty directory.
constexpr const char* kScratch = "/run/lj-scratch";

int pidfd_send(int pidfd, int sig, siginfo_t* info = nullptr) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, info, 0));
}

Result<std::uint64_t> start_time_of(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s))
    return fail(Errc::not_found, "jail", "no process " + std::to_string(pid));
  // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
  auto rp = s.rfind(')');
  if (rp == std::string::npos) return fail(Errc::internal, "jail", "unreadable /proc/PID/stat");
  std::istringstream ss(s.substr(rp + 2));
  std::string f;
  for (int i = 3; i < 22; ++i) ss >> f;  // fields 3..21
  std::uint64_t t = 0;
  if (!(ss >> t)) return fail(Errc::internal, "jail", "unreadable /proc/PID/stat");
  return t;
}

// The init (named lj-init by child_main) that holds `status_file` open in its status slot: pid
// and start time. Compared by device and inode, not by path.
std::optional<std::pair<pid_t, std::uint64_t>> init_holding(const std::string& status_file) {
  struct stat want {};
  if (status_file.empty() || ::stat(status_file.c_str(), &want) != 0) return std::nullopt;
  DIR* dir = ::opendir("/proc");
  if (!dir) return std::nullopt;
  ScopeExit close_dir([dir] { ::closedir(dir); });
  const std::string slot = "/fd/" + std::to_string(kSlotStatusFile);
  while (struct dirent* e = ::readdir(dir)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (pid <= 0 || *end != '\0') continue;
    std::string base = std::string("/proc/") + e->d_name;
    std::ifstream comm(base + "/comm");
    std::string name;
    if (!std::getline(comm, name) || name != "lj-init") continue;
    struct stat got {};
    if (::stat((base + slot).c_str(), &got) != 0) continue;
    if (got.st_dev != want.st_dev || got.st_ino != want.st_ino) continue;
    auto t = start_time_of(static_cast<pid_t>(pid));
    if (t) return std::pair{static_cast<pid_t>(pid), *t};
  }
  return std::nullopt;
}

// True when the process is a zombie (or dead): /proc/PID/stat field 3 is Z or X.
bool has_exited(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s;
  if (!std::getline(in, s)) return true;
  auto rp = s.rfind(')');
  if (rp == std::string::npos || rp + 2 >= s.size()) return false;
  char state = s[rp + 2];
  return state == 'Z' || state == 'X';
}

int read_cap_last() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int v = 40;
  in >> v;
  return v;
}

Status ensure_dir(const std::string& path) {
  std::string cur;
  std::istringstream ss(path);
  for (std::string part; std::getline(ss, part, '/');) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return fail_errno("jail", "mkdir " + cur);
  }
  return {};
}

ExitStatus decode(int ws) {
  ExitStatus s;
  if (WIFSIGNALED(ws)) {
    s.signal = WTERMSIG(ws);
  } else {
    s.code = WEXITSTATUS(ws);
  }
  return s;
}

// Script: "#!interp [arg]" on the first line picks the interpreter, else /bin/sh.
std::vector<std::string> script_argv(const std::string& script) {
  std::vector<std::string> argv;
  if (script.rfind("#!", 0) == 0) {
    std::string line = script.substr(2, script.find('\n') - 2);
    auto b = line.find_first_not_of(" \t");
    if (b != std::string::npos) {
      line = line.substr(b);
      auto sp = line.find_first_of(" \t");
      argv.push_back(line.substr(0, sp));
      if (sp != std::string::npos) {
        std::string arg = line.substr(line.find_first_not_of(" \t", sp));
        while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t' || arg.back() == '\r'))
          arg.pop_back();
        if (!arg.empty()) argv.push_back(arg);
      }
    }
  }
  if (argv.empty()) argv.push_back("/bin/sh");
  argv.push_back("/proc/self/fd/" + std::to_string(kSlotScript));
  return argv;
}

class LinuxJail final : public Jail {
 public:
  LinuxJail(JailHandle handle, UniqueFd pidfd, UniqueFd status, Cgroups cgroups, bool child,
            Clock::time_point deadline)
      : handle_(std::move(handle)),
        pidfd_(std::move(pidfd)),
        status_(std::move(status)),
        cgroups_(std::move(cgroups)),
        child_(child),
        deadline_(deadline) {}

  ~LinuxJail() override {
    if (reaped_) return;
    if (pidfd_) pidfd_send(pidfd_.get(), SIGKILL);
    (void)reap();
  }

  const JailHandle& handle() const override { return handle_; }
  int wait_fd() const override { return pidfd_.get(); }
  Clock::time_point deadline() const override { return deadline_; }

  Status signal(int sig, bool all) override {
    if (reaped_) return fail(Errc::conflict, "jail", "jail " + handle_.name + " has exited");
    if (sig == SIGKILL && all) return kill_init(sig);
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

  // adopt(): the output pipes' read ends, from init (init_abi.h).
  void set_output(std::pair<UniqueFd, UniqueFd> o) { output_ = std::move(o); }

  Status expire() override {
    if (reaped_) return {};
    timed_out_ = true;
    return kill_init(SIGKILL);
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

 private:
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
    s.oom = cgroups_.oom_kills() > 0;
    s.timed_out = timed_out_;
    Status torn = cgroups_.destroy();
    status_.reset();
    reaped_ = s;
    if (!torn) return fail(std::move(torn).error().context("tearing down jail " + handle_.name));
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
  std::pair<UniqueFd, UniqueFd> output_;
};

// Network namespaces made ahead of time. A jail's own network namespace (network mode none) is
// the dearest part of clone3 in ljd: copy_net_ns registers the namespace's sysctls and its
// loopback device (perf of ljd through its API: a third of clone3, a tenth of ljd's time). A
// thread of ours makes a few in advance (unshare in that thread, loopback up, a descriptor kept,
// back to our own), and init joins one with setns. Only processes that spawn more than once use
// it (ljspawn spawns one jail: it would only pay for a namespace nobody takes). Idle namespaces
// hold no process; closing the descriptor frees them.
class NetnsPool {
 public:
  ~NetnsPool() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  // A ready namespace, or an empty descriptor (then the caller makes its own). *sysfs: the
  // pool's own namespace for /sys (AssembleOptions::sysfs_netns_fd) once made, else -1; it
  // stays open as long as the pool.
  UniqueFd take(int* sysfs) {
    std::lock_guard lock(mu_);
    *sysfs = sysfs_.get();
    if (++asked_ < 2 || failed_) return UniqueFd();
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
    UniqueFd fd;
    if (!ready_.empty()) {
      fd = std::move(ready_.back());
      ready_.pop_back();
    }
    cv_.notify_all();
    return fd;
  }

 private:
  static constexpr std::size_t kReady = 2;  // two clients' worth

  void run() {
    UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    {
      UniqueFd sysfs = make(own.get());
      std::lock_guard lock(mu_);
      sysfs_ = std::move(sysfs);  // none: every jail mounts its own sysfs, as before
    }
    for (;;) {
      {
        std::unique_lock lock(mu_);
        cv_.wait(lock, [&] { return stop_ || ready_.size() < kReady; });
        if (stop_) return;
      }
      UniqueFd made = make(own.get());
      std::lock_guard lock(mu_);
      if (!made) {
        failed_ = true;  // the jails make their own, as before
        return;
      }
      ready_.push_back(std::move(made));
    }
  }

  // Leaves this thread in `own` again whatever happens (or marks the pool failed for good).
  UniqueFd make(int own) {
    if (own < 0 || ::unshare(CLONE_NEWNET) != 0) return UniqueFd();
    int err = 0;
    bool up = loopback_up(&err) == nullptr;
    UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (::setns(own, CLONE_NEWNET) != 0) {
      lj::log("jail")->error("network namespace pool: setns back: {}", std::strerror(errno));
      std::abort();  // a thread of ljd left in a foreign network namespace must not go on
    }
    if (!up) return UniqueFd();
    return fd;
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<UniqueFd> ready_;
  UniqueFd sysfs_;  // a namespace no jail runs in: every jail's /sys shows it
  std::thread thread_;
  unsigned asked_ = 0;
  bool stop_ = false, failed_ = false;
};

// Stacks for a jail's init and its command while they run in the daemon's address space (one
// mapping: a guard page, the command's stack, a guard page, init's stack). Reused: a munmap in a
// multi-threaded process costs a TLB shootdown on every core, and a stack handed back is only
// ever reused once both its users have exec'd or died (the error pipe's EOF, see do_spawn).
class StackPool {
 public:
  static constexpr std::size_t kPage = 4096, kCommand = 64 * 1024, kInit = 192 * 1024;
  static constexpr std::size_t kSize = kPage + kCommand + kPage + kInit;

  ~StackPool() {
    for (char* s : free_) ::munmap(s, kSize);
  }

  // The mapping's base; give() it back.
  Result<char*> take() {
    {
      std::lock_guard lock(mu_);
      if (!free_.empty()) {
        char* s = free_.back();
        free_.pop_back();
        return s;
      }
    }
    void* m = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return fail_errno("jail", "mmap the stacks of init and the command");
    char* s = static_cast<char*>(m);
    if (::mprotect(s, kPage, PROT_NONE) != 0 ||
        ::mprotect(s + kPage + kCommand, kPage, PROT_NONE) != 0) {
      ::munmap(m, kSize);
      return fail_errno("jail", "mprotect the stacks' guard pages");
    }
    return s;
  }

  void give(char* s) {
    std::lock_guard lock(mu_);
    if (free_.size() < kKeep)
      free_.push_back(s);
    else
      ::munmap(s, kSize);
  }

  static char* command_top(char* s) { return s + kPage + kCommand; }
  static char* init_bottom(char* s) { return s + kPage + kCommand + kPage; }

 private:
  static constexpr std::size_t kKeep = 8;
  std::mutex mu_;
  std::vector<char*> free_;
};

// Descriptor numbers reserved early, while the process holds few: a jail's
// init starts in our descriptor table (CLONE_FILES) and makes it private with close_range
// (CLOSE_RANGE_UNSHARE), which copies only the numbers below a bound. Every descriptor the jail
// takes along is first dup'd onto a block of these, so init copies a few dozen descriptors
// instead of all of ours: ~4 per live jail (pidfd, status and output pipes), and copying and
// closing them all made a spawn at 1,000 live jails ~1 ms dearer (perf: dup_fd, filp_flush).
// A spawn finding no free block (more at once than blocks) copies the whole table, as before.
class FdBlocks {
 public:
  static constexpr int kFds = kSlotEnd + 1;  // the slots, then our pidfd
  struct Block {
    int fd[kFds];
    bool busy = false;
  };

  ~FdBlocks() {
    if (!made_) return;
    for (auto& b : blocks_)
      for (int fd : b.fd)
        if (fd >= 0) ::close(fd);
    if (null_ >= 0) ::close(null_);
  }

  // A free block, or nullptr. The blocks are made at the second spawn (a process that spawns once,
  // ljspawn, holds few descriptors anyway), early in a daemon's life, while it holds few.
  Block* take() {
    std::lock_guard lock(mu_);
    if (!made_ && ++asked_ >= 2) make();
    if (!made_ || !ok_) return nullptr;
    for (auto& b : blocks_)
      if (!b.busy) {
        b.busy = true;
        return &b;
      }
    return nullptr;
  }
  // /dev/null back on every number (dropping our copies of the jail's descriptors): only once
  // init has its private table, that is once clone(CLONE_VFORK) has returned.
  void give(Block* b) {
    for (int fd : b->fd) ::dup3(null_, fd, O_CLOEXEC);
    std::lock_guard lock(mu_);
    b->busy = false;
  }
  // Above every number of every block.
  unsigned bound() const { return static_cast<unsigned>(bound_); }

 private:
  void make() {
    made_ = true;
    null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (auto& b : blocks_)
      for (int& fd : b.fd) {
        fd = null_ < 0 ? -1 : ::fcntl(null_, F_DUPFD_CLOEXEC, 0);
        if (fd < 0) ok_ = false;
        bound_ = std::max(bound_, fd + 1);
      }
  }

  std::mutex mu_;
  Block blocks_[8];  // ljd spawns from its two pools of 4 threads (jails, builds) at most
  int null_ = -1;
  int bound_ = 0;
  unsigned asked_ = 0;
  bool made_ = false, ok_ = true;
};

int child_entry(void* plan) {
  child_main(*static_cast<const ChildPlan*>(plan));
}

// lj-init (lj_init.c), the reaper every jail's init becomes: next to the running binary, where
// `make install` puts it, or in the build tree (tests, bench).
std::vector<std::string> reaper_candidates() {
  std::vector<std::string> c;
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) c.push_back((self.parent_path() / "lj-init").string());
  c.emplace_back(LJ_INIT_INSTALLED);
  c.emplace_back(LJ_INIT_BUILT);
  return c;
}

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U  // Linux 6.3: executable even under vm.memfd_noexec=1
#endif

// The reaper as a sealed anonymous copy, made once per process: every init execs this memfd
// (execveat AT_EMPTY_PATH), so a jail's /proc/1/exe is "/memfd:lj-init" that nobody can write
// (F_SEAL_WRITE, and the seals themselves are sealed), never a file of the host, and all inits
// share its page cache.
Result<UniqueFd> load_reaper() {
  UniqueFd file;
  std::string tried;
  for (const auto& path : reaper_candidates()) {
    file.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (file) break;
    tried += (tried.empty() ? "" : ", ") + path;
  }
  if (!file)
    return fail(
        Errc::not_found, "jail",
        "lj-init, the jails' reaper, not found (tried " + tried + "): install it beside ljd");
  struct stat st;
  if (::fstat(file.get(), &st) < 0) return fail_errno("jail", "fstat lj-init");
  const unsigned flags = MFD_CLOEXEC | MFD_ALLOW_SEALING;
  UniqueFd mem(::memfd_create("lj-init", flags | MFD_EXEC));
  if (!mem && errno == EINVAL) mem.reset(::memfd_create("lj-init", flags));  // before 6.3
  if (!mem) return fail_errno("jail", "memfd_create lj-init");
  for (off_t off = 0; off < st.st_size;) {
    ssize_t n = ::sendfile(mem.get(), file.get(), &off, static_cast<std::size_t>(st.st_size - off));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail_errno("jail", "copy lj-init into its memfd");
  }
  if (::fchmod(mem.get(), 0555) < 0 ||
      ::fcntl(mem.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
    return fail_errno("jail", "seal the lj-init memfd");
  return mem;
}

class LinuxBackend final : public Backend {
 public:
  LinuxBackend(const SeccompProgram* seccomp, int reaper)
      : seccomp_(seccomp->fprog()), reaper_(reaper) {}

  std::string_view name() const override { return "linux"; }

  std::vector<std::string> features() const override {
    std::vector<std::string> f = {"pidfd", "overlayfs", "namespaces"};
    f.push_back(cgroup_layout().v2 ? "cgroup2" : "cgroup1");
    std::ifstream in("/proc/sys/user/max_user_namespaces");
    long n = 0;
    if (in >> n && n > 0) f.push_back("userns");
    f.push_back("network.ip");
    return f;
  }

  Result<std::unique_ptr<Jail>> spawn(const JailSpec& spec) override {
    LJ_TRY_CTX("jail " + spec.name, validate_spec(spec));
    auto r = do_spawn(spec);
    if (!r) return fail(std::move(r).error().context("starting jail " + spec.name));
    return r;
  }

  Result<std::unique_ptr<Jail>> adopt(const JailHandle& h) override {
    auto t = start_time_of(h.pid);
    // An init that exited while nobody was its parent stays a zombie until its new parent (pid 1
    // or a subreaper) reaps it: it has ended, and there is nothing to adopt.
    if (!t || *t != h.start_time || has_exited(h.pid))
      return fail(Errc::not_found, "jail",
                  "jail " + h.name + " (pid " + std::to_string(h.pid) + ") is gone");
    UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, h.pid, 0)));
    if (!pidfd) return fail_errno("jail", "pidfd_open " + std::to_string(h.pid));
    // Re-check after taking the pidfd: the pid could have been reused in between.
    auto t2 = start_time_of(h.pid);
    if (!t2 || *t2 != h.start_time)
      return fail(Errc::not_found, "jail", "jail " + h.name + " is gone");
    // The output pipes init holds (a jail spawned without them, or by an older ljd, has none:
    // EBADF). pidfd_getfd needs ptrace access to init, which root has even to a non-dumpable one.
    auto getfd = [&](int slot) {
      return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd.get(), slot, 0)));
    };
    std::pair<UniqueFd, UniqueFd> output(getfd(kSlotOutRead), getfd(kSlotErrRead));
    auto jail =
        std::make_unique<LinuxJail>(h, std::move(pidfd), UniqueFd(), Cgroups::from_handle(h.cgroup),
                                    false, Clock::time_point::max());
    if (output.first && output.second) jail->set_output(std::move(output));
    return std::unique_ptr<Jail>(std::move(jail));
  }

  Status release(const JailHandle& h) override {
    pid_t pid = h.pid;
    std::uint64_t start = h.start_time;
    if (pid <= 0) {
      // The handle was never recorded (the daemon died between clone3 and writing it): find the
      // jail's init by the status file it holds open, and its cgroups by the jail's name.
      if (auto found = init_holding(h.status_file)) std::tie(pid, start) = *found;
    }
    auto t = start_time_of(pid);
    if (pid > 0 && t && *t == start) {
      UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
      if (pidfd && pidfd_send(pidfd.get(), SIGKILL) == 0) {
        // An init's exit completes once every process of its pid namespace is gone: wait for it
        // so that nothing of the jail outlives release().
        struct pollfd pfd = {pidfd.get(), POLLIN, 0};
        while (::poll(&pfd, 1, 5000) < 0 && errno == EINTR) {
        }
      }
    }
    Cgroups cg = h.cgroup.empty() ? Cgroups::named(h.name) : Cgroups::from_handle(h.cgroup);
    return cg.destroy();
  }

 private:
  Result<std::unique_ptr<Jail>> do_spawn(const JailSpec& spec) {
    const bool private_net = spec.network.mode != NetworkMode::inherit;
    static const Status scratch_ok = ensure_dir(kScratch);
    if (!scratch_ok) return fail(scratch_ok.error());

    ChildPlan plan;
    overlay::AssembleOptions ao;
    ao.scratch = kScratch;
    ao.in_userns = spec.userns.has_value();
    ao.mount_sysfs = private_net || !spec.userns;
    // Network mode none without a user namespace: a namespace made ahead, and /sys from the
    // pool's loopback-only namespace (see NetnsPool).
    UniqueFd netns;
    int sysfs_netns = -1;
    if (spec.network.mode == NetworkMode::none && !spec.userns) netns = netns_.take(&sysfs_netns);
    if (spec.network.mode == NetworkMode::netns) {
      // The caller's namespace, with its links: joined like a pooled one; /sys is the jail's own
      // (it shows the jail's interfaces).
      netns.reset(LJ_SYS("fcntl", ::fcntl(spec.network.netns_fd, F_DUPFD_CLOEXEC, 0)));
      if (!netns) return fail_errno("jail", "dup the jail's network namespace descriptor");
    }
    if (sysfs_netns >= 0) {
      ao.sysfs_netns_fd = kSlotSysfsNetns;
      ao.own_netns_fd = kSlotNetns;
    }
    plan.root = LJ_TRY(overlay::compile_root(spec.root, ao));

    // The command.
    UniqueFd script;
    if (!spec.script.empty()) {
      script.reset(LJ_SYS("memfd_create", ::memfd_create("ljd-script", MFD_CLOEXEC)));
      if (!script) return fail_errno("jail", "memfd_create");
      if (::write(script.get(), spec.script.data(), spec.script.size()) !=
          static_cast<ssize_t>(spec.script.size()))
        return fail_errno("jail", "write script to memfd");
      plan.argv_storage = script_argv(spec.script);
    } else {
      plan.argv_storage = spec.argv;
    }
    plan.env_storage = spec.env;
    std::string path = kDefaultPath;
    bool has_path = false;
    for (const auto& e : spec.env)
      if (e.rfind("PATH=", 0) == 0) {
        path = e.substr(5);
        has_path = true;
      }
    if (!has_path) plan.env_storage.push_back(std::string("PATH=") + kDefaultPath);
    {
      std::istringstream ps(path);
      for (std::string d; std::getline(ps, d, ':');) plan.path_dirs.push_back(d.empty() ? "." : d);
    }
    for (auto& a : plan.argv_storage) plan.argv.push_back(a.data());
    plan.argv.push_back(nullptr);
    for (auto& e : plan.env_storage) plan.envp.push_back(e.data());
    plan.envp.push_back(nullptr);
    plan.workdir = spec.workdir;
    plan.uid = spec.uid;
    plan.gid = spec.gid;
    plan.nofile = spec.limits.nofile;
    plan.caps = default_capabilities();
    static const int cap_last = read_cap_last();
    plan.cap_last = cap_last;
    plan.hostname = spec.hostname.empty() ? spec.name : spec.hostname;
    plan.loopback_up = private_net;
    plan.fds[kSlotSysfsNetns] = sysfs_netns;
    if (netns) {
      plan.fds[kSlotNetns] = netns.get();
      plan.loopback_up = false;
    }
    plan.become_ns_root = spec.userns.has_value();
    plan.die_with_parent = spec.die_with_parent;
    if (spec.die_with_parent) plan.parent_pidfd = self_pidfd_.get();
    plan.seccomp = &seccomp_;
    plan.fds[kSlotReaper] = reaper_;

    // Descriptors.
    int err_pipe[2], status_pipe[2];
    if (LJ_SYS("pipe2", ::pipe2(err_pipe, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
    UniqueFd err_rd(err_pipe[0]), err_wr(err_pipe[1]);
    if (LJ_SYS("pipe2", ::pipe2(status_pipe, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
    UniqueFd status_rd(status_pipe[0]), status_wr(status_pipe[1]);
    UniqueFd sync_rd, sync_wr;
    plan.wait_sync = spec.userns.has_value() || spec.network.mode == NetworkMode::ip;
    Cgroups cgroups = LJ_TRY(Cgroups::create(spec.name, spec.limits));
    // Init in the daemon's address space (CLONE_VM|CLONE_VFORK) unless it must wait for us: a
    // copy of the address space (clone3 without CLONE_VM) and the copy-on-write faults after it
    // were a third of ljd's CPU per jail (docs/performance.md). The spawning thread sleeps until
    // init has exec'd lj-init (or died), so init can use its thread block (errno) and nothing
    // else of ours is touched; the command then runs on a stack of its own until its execve.
    // Jails whose init needs the parent in between (uid_map, network) keep a copy, and so does
    // every jail on an architecture without clone_run's trampoline.
    const bool share = !plan.wait_sync && clone_run_supported();
    plan.shares_daemon_memory = share;
    if (plan.wait_sync) {
      // A socket, not a pipe: a child that failed before reading the sync byte must not kill
      // the spawner with SIGPIPE (send with MSG_NOSIGNAL; a pipe has no such flag).
      int sp[2];
      if (LJ_SYS("socketpair", ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) != 0)
        return fail_errno("jail", "socketpair");
      sync_rd.reset(sp[0]);
      sync_wr.reset(sp[1]);
    }
    UniqueFd status_file, devnull;
    if (!spec.status_file.empty()) {
      status_file.reset(LJ_SYS("open", ::open(spec.status_file.c_str(),
                                              O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)));
      if (!status_file) return fail_errno("jail", "open " + spec.status_file);
    }
    if (spec.stdio.in < 0 || spec.stdio.out < 0 || spec.stdio.err < 0) {
      devnull.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
      if (!devnull) return fail_errno("jail", "open /dev/null");
    }
    auto or_null = [&](int fd) { return fd >= 0 ? fd : devnull.get(); };

    auto cg_fds = cgroups.join_fds();
    if (cg_fds.size() > static_cast<std::size_t>(kMaxCgroupFds))
      return fail(Errc::internal, "jail", "too many cgroup controllers");

    plan.fds[kSlotError] = err_wr.get();
    plan.fds[kSlotScript] = script.get();
    plan.fds[kSlotStatus] = status_wr.get();
    plan.fds[kSlotStatusFile] = status_file.get();
    plan.fds[kSlotSync] = sync_rd.get();
    plan.fds[kSlotIn] = or_null(spec.stdio.in);
    plan.fds[kSlotOut] = or_null(spec.stdio.out);
    plan.fds[kSlotErr] = or_null(spec.stdio.err);
    plan.fds[kSlotOutRead] = spec.stdio.out_read;
    plan.fds[kSlotErrRead] = spec.stdio.err_read;
    if (!cgroups.v2())
      for (std::size_t i = 0; i < cg_fds.size(); ++i) plan.fds[kSlotCgroup0 + i] = cg_fds[i];
    FdBlocks::Block* block = share ? fd_blocks_.take() : nullptr;
    ScopeExit give_block([&] {
      if (block) fd_blocks_.give(block);
    });
    if (block) {
      auto onto = [&](int& fd, int slot) -> Status {
        if (fd < 0) return {};
        if (::dup3(fd, block->fd[slot], O_CLOEXEC) < 0)
          return fail_errno("jail", "dup3 onto a reserved descriptor");
        fd = block->fd[slot];
        return {};
      };
      for (int s = 0; s < kSlotEnd; ++s) LJ_TRY(onto(plan.fds[s], s));
      LJ_TRY(onto(plan.parent_pidfd, kSlotEnd));
      plan.private_fds_below = fd_blocks_.bound();
    }
    char* stacks = LJ_TRY(stacks_.take());
    ScopeExit give_stacks([&] { stacks_.give(stacks); });  // after `killer` below: both users gone
    plan.command_stack_top = StackPool::command_top(stacks);

    std::uint64_t flags = CLONE_PIDFD | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
    if (private_net && !netns) flags |= CLONE_NEWNET;
    if (spec.userns) flags |= CLONE_NEWUSER;
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    if (cgroups.v2() && cgroups.v2_dir_fd() >= 0) {
      flags |= CLONE_INTO_CGROUP | CLONE_NEWCGROUP;
      args.cgroup = static_cast<std::uint64_t>(cgroups.v2_dir_fd());
    } else if (!cgroups.empty()) {
      plan.join_then_unshare_cgroupns = true;  // the namespace root must be the jail's cgroup
    } else {
      flags |= CLONE_NEWCGROUP;
    }
    int pidfd_raw = -1;
    long pid = -1;
    args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd_raw);
    args.exit_signal = SIGCHLD;
    if (share) {
      // Every signal blocked across the clone: a handler of ours must not run in init, on our
      // memory; child_main sets init's own mask.
      sigset_t all, old;
      sigfillset(&all);
      ::pthread_sigmask(SIG_SETMASK, &all, &old);
      args.flags = flags | CLONE_VM | CLONE_VFORK | (block ? CLONE_FILES : 0);
      args.stack = reinterpret_cast<std::uintptr_t>(StackPool::init_bottom(stacks));
      args.stack_size = StackPool::kInit;
      pid = LJ_SYS("clone", clone_run(&args, child_entry, &plan));
      const int err = errno;
      ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
      if (block) {
        fd_blocks_.give(block);  // before the error pipe can reach EOF: it holds a write end
        block = nullptr;
      }
      if (pid < 0) return fail_errno("jail", "clone3", err);
    } else {
      args.flags = flags;
      pid = LJ_SYS("clone", ::syscall(SYS_clone3, &args, sizeof args));
      if (pid < 0) return fail_errno("jail", "clone3");
      if (pid == 0) child_main(plan);  // never returns
    }

    UniqueFd pidfd(pidfd_raw);
    // Until the handshake is over, any return kills the child (and so the whole jail).
    ScopeExit killer([&] {
      pidfd_send(pidfd.get(), SIGKILL);
      siginfo_t si;
      ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &si, WEXITED);
    });
    err_wr.reset();
    status_wr.reset();
    sync_rd.reset();
    status_file.reset();
    // A failure of the sync byte may only mean that init already died of an error of its own
    // (EPIPE): its record on the error pipe is the one to report.
    Status handshake;
    cgroups.close_attach_fds();

    if (spec.userns) {
      const auto& u = *spec.userns;
      std::string base = "/proc/" + std::to_string(pid);
      auto map = [&](const char* file, unsigned host) -> Status {
        std::string line = "0 " + std::to_string(host) + " " + std::to_string(u.count) + "\n";
        UniqueFd fd(::open((base + file).c_str(), O_WRONLY | O_CLOEXEC));
        if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
          return fail_errno("jail", "write " + base + file);
        return {};
      };
      LJ_TRY(map("/uid_map", u.host_uid));
      LJ_TRY(map("/gid_map", u.host_gid));
    }
    if (spec.network.mode == NetworkMode::ip)
      LJ_TRY(setup_ip_network(static_cast<pid_t>(pid), spec.name, spec.network));
    if (sync_wr) {
      if (handshake && ::send(sync_wr.get(), "x", 1, MSG_NOSIGNAL) != 1)
        handshake = fail_errno("jail", "write sync socket");
      sync_wr.reset();  // without the byte (a failed join), init ends at EOF
    }

    ChildError ce;
    std::size_t got = 0;
    while (got < sizeof ce) {
      ssize_t n = ::read(err_rd.get(), reinterpret_cast<char*>(&ce) + got, sizeof ce - got);
      // Only EINTR fails a read of our own pipe, and errno is not ours to read here: a command
      // not yet exec'd still runs in our address space on our thread block (spawn_command).
      if (n < 0) continue;
      if (n == 0) break;
      got += static_cast<std::size_t>(n);
    }
    if (got == sizeof ce) {
      ce.step[sizeof ce.step - 1] = '\0';
      ce.detail[sizeof ce.detail - 1] = '\0';
      std::string what = ce.step;
      if (ce.detail[0]) what += std::string(" ") + ce.detail;
      return fail_errno("jail", what, ce.err);
    }
    if (!handshake) return fail(std::move(handshake).error());

    JailHandle h;
    h.name = spec.name;
    h.pid = static_cast<pid_t>(pid);
    h.start_time = start_time_of(h.pid).value_or(0);
    h.cgroup = cgroups.handle_string();
    h.status_file = spec.status_file;
    auto deadline = spec.limits.timeout.count() > 0 ? Clock::now() + spec.limits.timeout
                                                    : Clock::time_point::max();
    killer.dismiss();
    lj::log("jail")->debug("started jail={} pid={}", h.name, h.pid);
    return std::unique_ptr<Jail>(new LinuxJail(std::move(h), std::move(pidfd), std::move(status_rd),
                                               std::move(cgroups), true, deadline));
  }

  sock_fprog seccomp_;  // points into the process-wide program (make_backend)
  int reaper_;          // the process-wide lj-init memfd (make_backend)
  NetnsPool netns_;
  StackPool stacks_;
  FdBlocks fd_blocks_;
  // For die_with_parent: init checks it once its PR_SET_PDEATHSIG is set (child_main).
  UniqueFd self_pidfd_{static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0))};
};

}  // namespace

Result<std::unique_ptr<Backend>> make_backend() {
  // Compiled by the build (or once per process), shared by every backend; a jail only loads it.
  // No filter, no backend: a jail must not start without it.
  static const Result<SeccompProgram> seccomp = default_seccomp();
  if (!seccomp) {
    Error e = seccomp.error();
    return fail(std::move(e).context("compiling the jails' seccomp filter"));
  }
  static const Result<UniqueFd> reaper = load_reaper();
  if (!reaper) {
    Error e = reaper.error();
    return fail(std::move(e).context("loading the jails' init"));
  }
  // The idle cgroups of a killed ljd (cgroup.hpp) go now, not at the first spawn with limits:
  // a daemon's recovery must leave no cgroup without an owner.
  (void)sweep_cgroup_pool();
  return std::unique_ptr<Backend>(new LinuxBackend(&*seccomp, reaper->get()));
}

}  // namespace lj::jail
