// The Linux backend: clone3 into new namespaces, a root assembled in the child's own mount
// namespace, our own init as pid 1, cgroups for the limits, supervision through a pidfd.
// See docs/jail-linux.md for the sequence and the measured costs. The files:
//   spawn.cpp       the start of a jail, as a checklist of steps (and its unwinding)
//   child.cpp       the cloned child: init, then the command (syscalls only)
//   root_program.*  the root: compiled by the parent, mounted by the child
//   linux_jail.*    the started Jail: signals, wait, reap and teardown
//   exec.*          one more process in a running jail (Backend::exec), and its monitor
//   cgroup.*        the cgroups and their idle pool; netns_pool.*, stack_pool.*, fd_blocks.*: the
//                   other pools a spawn draws on; link_attacher.*: the caller's links, beside it
//   this file       the Backend: the pools' owner, adopt/release, lj-init and the seccomp filter
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "common/fd.hpp"
#include "common/scope.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/exec.hpp"
#include "jail/linux/fd_blocks.hpp"
#include "jail/linux/host_root.hpp"
#include "jail/linux/linux_jail.hpp"
#include "jail/linux/netns_pool.hpp"
#include "jail/linux/seccomp.hpp"
#include "jail/linux/spawn.hpp"
#include "jail/linux/stack_pool.hpp"

namespace lj::jail {
namespace {

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

// BackendOptions::jails_pids_max's "auto": what the host can have at once (pid_max, or
// threads-max when lower: both bound tasks) less a reserve of an eighth, at least 1,024, for ljd
// and the rest of the host.
std::uint64_t auto_jails_pids_max() {
  std::uint64_t host = 0;
  for (const char* f : {"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"}) {
    std::ifstream in(f);
    std::uint64_t n = 0;
    if (in >> n && n > 0) host = host ? std::min(host, n) : n;
  }
  if (host == 0) return 0;
  const std::uint64_t reserve = std::max<std::uint64_t>(1024, host / 8);
  return host > 2 * reserve ? host - reserve : host / 2;
}

class LinuxBackend final : public Backend {
 public:
  LinuxBackend(const SeccompProgram* seccomp, int reaper, CgroupScope scope)
      : seccomp_(seccomp->fprog()), scope_(std::move(scope)) {
    spawn_context_.cgroups = &scope_;
    spawn_context_.seccomp = &seccomp_;
    spawn_context_.reaper = reaper;
    spawn_context_.self_pidfd = self_pidfd_.get();
    spawn_context_.netns = &netns_;
    spawn_context_.prepared_netns = &prepared_netns_;
    spawn_context_.stacks = &stacks_;
    spawn_context_.fd_blocks = &fd_blocks_;
    spawn_context_.links = &links_;
  }

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

  // No "starting jail NAME" context here: the caller adds what it was doing (ljd, ljbuild and
  // ljspawn each do), and a second copy made ljctl print "starting jail j-1: starting jail j-1:".
  Result<std::unique_ptr<Jail>> spawn(const JailSpec& spec) override {
    LJ_TRY(validate_spec(spec));
    if (const char* f = spec.freebsd.first_set())  // refused, never dropped
      return fail(Errc::unsupported, "jail",
                  "jail " + spec.name + ": freebsd." + f + " is a FreeBSD jail parameter");
    if (spec.process.command_is_init && !spec.status_file.empty())
      return fail(Errc::invalid_argument, "jail",
                  "jail " + spec.name + ": a status file is lj-init's, and its command is its init");
    return spawn_jail(spec, spawn_context_);
  }

  void prepare(const JailSpec& spec) override {
    if (wants_own_netns(spec) && !prepared_netns_.started()) (void)prepared_netns_.start();
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
    if (!output.first || !output.second) output = {};
    return make_linux_jail(h, std::move(pidfd), UniqueFd(), Cgroups::from_handle(h.cgroup), false,
                           std::chrono::steady_clock::time_point::max(), std::move(output));
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
    Cgroups cg =
        h.cgroup.empty() ? Cgroups::named(h.name, scope_) : Cgroups::from_handle(h.cgroup);
    LJ_TRY(cg.destroy());
    // A root assembled in the spawner's mount namespace leaves mounts in the host's (host_root.hpp).
    return detach_host_root(h.name);
  }

  std::vector<std::string> present() const override { return scope_jails(scope_); }

  Result<std::unique_ptr<Exec>> exec(const JailHandle& jail, const ExecSpec& spec) override {
    return exec_in_jail(jail, spec, spawn_context_);
  }

  Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& handle) override {
    return jail::adopt_exec(handle);
  }

  // The jail's cgroups are its owner's: looked at, never destroyed here.
  Status freeze(const JailHandle& jail, bool frozen) override {
    Cgroups cg = Cgroups::from_handle(jail.cgroup);
    Status r = cg.freeze(frozen, jail.name);
    cg.forget();
    return r;
  }

  Status update(const JailHandle& jail, const LimitsUpdate& u) override {
    Cgroups cg = Cgroups::from_handle(jail.cgroup);
    Status r = cg.update(u);
    cg.forget();
    return r;
  }

  ~LinuxBackend() override { remove_scope(scope_); }

 private:
  sock_fprog seccomp_;  // points into the process-wide program (make_backend)
  CgroupScope scope_;   // BackendOptions::cgroup_scope, jails_pids_max
  NetnsPool netns_;
  NetnsAhead prepared_netns_;  // prepare()'s
  StackPool stacks_;
  FdBlocks fd_blocks_;
  LinkAttacher links_;
  // For die_with_parent: init checks it once its PR_SET_PDEATHSIG is set (child_main).
  UniqueFd self_pidfd_{static_cast<int>(::syscall(SYS_pidfd_open, ::getpid(), 0))};
  SpawnContext spawn_context_;  // the above, and the process-wide lj-init memfd (make_backend)
};

}  // namespace

Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& options) {
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
  CgroupScope scope{options.cgroup_scope, 0, options.reuse_cgroups};
  if (!scope.name.empty()) scope.pids_max = options.jails_pids_max.value_or(auto_jails_pids_max());
  if (!scope.name.empty() && !scope.name.starts_with("scope-"))
    return fail(Errc::invalid_argument, "jail",
                "cgroup scope `" + scope.name + "` must be named scope-...");
  if (scope.reuse) (void)sweep_cgroup_pool(scope);
  LJ_TRY_CTX("preparing the jails' cgroup scope " + scope.name, prepare_scope(scope));
  return std::unique_ptr<Backend>(new LinuxBackend(&*seccomp, reaper->get(), std::move(scope)));
}

}  // namespace lj::jail
