// The FreeBSD backend: JailSpec -> a non-persistent jail created by a pdfork(2)ed child.
//
// Spawn, as a table (teardown is the same table reversed, FreebsdJail::teardown):
//   1. refuse a name that a live jail holds (jids are reused; names key the jail)
//   2. a devfs ruleset of the jail's own when it is granted devices (devfs_rules.hpp), then
//      mount the root (root_mounts.hpp: nullfs world, unionfs layers + writable layer, devfs)
//   3. rctl rules keyed by the jail's name; they can exist before the jail does, so the limits
//      hold from the child's first instruction
//   4. host address aliases (network mode ip)
//   4b. network mode netns: a VNET jail whose links Network::on_vnet moves in once it exists,
//      before its command runs (the child waits for the parent's go)
//   5. pdfork(2) with PD_DAEMON (the jail outlives ljd: step 6); the child (child.hpp): setsid,
//      jail_set(JAIL_CREATE | JAIL_ATTACH) with persist off (the jail dies with its last
//      process), lo0 up in a VNET, stdio,
//      setlogin/setgid/setuid, chdir, execve. It reports its jid, or the step, errno and the
//      kernel's errmsg that failed, on a close-on-exec pipe: EOF after a jid means execve
//      succeeded, or, with ProcessOptions::hold_fd, that the command waits for its start byte
//      (the executable found: a missing one fails the spawn).
// Exec (one more process in a running jail) is exec.hpp's.
// The daemon is multi-threaded, so the child does only async-signal-safe work: every string,
// iovec and ioctl argument is prepared before pdfork(2); jail_attach(2) semantics are applied in
// the fresh child only, never in the threaded parent.
//
// Threads: a Backend may be used from several threads at once (it keeps no mutable state and no
// libjail global); one Jail is used from one thread at a time (its owner's).
//
// Exit: the process descriptor, watched through a private kqueue (EVFILT_PROCDESC, NOTE_EXIT,
// whose data is the wait(2) status: FreeBSD 14 has no pdwait). wait_fd() is that kqueue: a
// kqueue descriptor is itself pollable and kqueue-able, which a procdesc is not for EVFILT_READ
// (Asio's reactor on FreeBSD) -- procdesc only supports EVFILT_PROCDESC and POLLHUP.
#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/jail.h>
#include <sys/ioctl.h>
#include <sys/procdesc.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ttycom.h>
#include <sys/uio.h>
#include <sys/sysctl.h>
#include <sys/wait.h>
#include <stdlib.h>  // posix_openpt
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "jail/backend.hpp"
#include "jail/freebsd/child.hpp"
#include "jail/freebsd/devfs_rules.hpp"
#include "jail/freebsd/exec.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/freebsd/net.hpp"
#include "jail/freebsd/plan.hpp"
#include "jail/status_file.hpp"
#include "jail/freebsd/root_mounts.hpp"

namespace lj::jail {
namespace freebsd {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kDomain = "jail";
constexpr const char* kScriptInJail = "/.ljd-script";

// Where a jail's root is mounted: BackendOptions::state_dir/jails/<name>.
// The reaped jail is freed by the kernel a little later; until then its root is busy. A device
// a process of the jail made (a pts: an exec's or the command's terminal) holds its maker's
// credential, and so the jail, until every devfs showing it has dropped its entry, which devfs
// does lazily, at its next lookup: the jail's own devfs (under `root`) is looked up each round,
// or nothing would (seen in the FreeBSD guest: a jail after an exec with a terminal stayed dying).
Status wait_until_freed(const std::string& name, const fs::path& root) {
  const fs::path dev_null = root / "dev" / "null";
  auto nudge = [dev_null] {
    struct stat st;
    (void)::stat(dev_null.c_str(), &st);
    (void)::stat("/dev/null", &st);
  };
  LJ_TRY_CTX("waiting for jail " + name + " to be freed",
             wait_jail_freed(name, std::chrono::seconds(10), nudge));
  return {};
}

fs::path jail_dir_of(const fs::path& state_dir, const std::string& name) {
  return state_dir / "jails" / name;
}

// ---- helpers for the parent ----

bool sysctl_flag(const char* name) {
  int v = 0;
  std::size_t len = sizeof(v);
  return ::sysctlbyname(name, &v, &len, nullptr, 0) == 0 && v != 0;
}

// ---- the jail ----

class FreebsdJail final : public Jail {
 public:
  explicit FreebsdJail(std::string name) { handle_.name = std::move(name); }
  ~FreebsdJail() override;

  const JailHandle& handle() const override { return handle_; }
  int wait_fd() const override { return kq_.get(); }
  Status signal(int sig, bool all) override;
  Result<ExitStatus> wait(std::chrono::milliseconds timeout) override;
  Result<std::optional<ExitStatus>> poll() override;
  Status teardown() override;
  Clock::time_point deadline() const override { return deadline_; }
  Status expire() override;

 private:
  friend class FreebsdBackend;

  void on_exit_event(const struct kevent& ev);

  JailHandle handle_;
  UniqueFd pd_;  // process descriptor (spawned jails, PD_DAEMON); closing it reaps a dead process
  UniqueFd kq_;  // EVFILT_PROCDESC (spawned) or EVFILT_PROC (adopted) for the main process
  std::optional<MountedRoot> root_;  // spawned jails
  fs::path adopted_dir_;  // adopted jails: mounts are released from the directory alone
  std::optional<DevfsRuleset> devfs_;  // spawned jails granted devices
  fs::path adopted_state_dir_;         // adopted jails: their devfs ruleset found by name there
  std::vector<HostAddress> addresses_;
  fs::path script_file_;       // host path of a script written into the writable layer
  bool jail_created_ = false;  // only then may teardown remove a jail by this name
  bool jail_gone_ = false;
  bool rctl_rules_ = false;
  std::string oom_needle_;  // "rctl: rule \"jail:NAME:memoryuse:log=" in the kernel buffer
  std::size_t oom_mark_ = 0;
  Clock::time_point deadline_ = Clock::time_point::max();
  bool timed_out_ = false;
  std::optional<ExitStatus> exit_;
  bool torn_down_ = false;
};

FreebsdJail::~FreebsdJail() {
  if (jail_created_ && !exit_) {
    // Still running: the owner gave up on it. Kill the whole jail; closing pd_ then reaps the
    // main process (PD_DAEMON: the close alone would not kill it, see spawn step 6).
    if (auto st = remove_jail_and_wait(handle_.name); !st)
      lj::log("jail")->error("jail={} destroy: {}", handle_.name, st.error().what());
    else
      jail_gone_ = true;
  }
  if (auto st = teardown(); !st)
    lj::log("jail")->error("jail={} teardown left state behind: {}", handle_.name,
                           st.error().what());
}

Status FreebsdJail::teardown() {
  if (torn_down_) return {};
  // Reverse of spawn. 5: every process of the jail (the main one may be gone, others not).
  if (jail_created_ && !jail_gone_) {
    LJ_TRY_CTX("reaping jail " + handle_.name, remove_jail_and_wait(handle_.name));
    jail_gone_ = true;
  }
  // A child that never made its jail (the spawn failed before its report) is not in one for
  // jail_remove to kill, and with PD_DAEMON the close would leave it running: kill it first. A
  // main process that has exited is a zombie, which ignores the signal; the close reaps it.
  if (pd_) (void)::pdkill(pd_.get(), SIGKILL);
  pd_.reset();  // reaps the main process
  if (jail_created_)
    LJ_TRY(wait_until_freed(handle_.name, root_ ? root_->root() : adopted_dir_ / "root"));
  oom_needle_.clear();
  if (!script_file_.empty()) {
    if (::unlink(script_file_.c_str()) != 0 && errno != ENOENT)
      return fail_errno(kDomain, "unlink " + script_file_.string());
    script_file_.clear();
  }
  // 4. addresses.
  while (!addresses_.empty()) {
    LJ_TRY(addresses_.back().remove());
    addresses_.pop_back();
  }
  // 3. rctl rules: they outlive the jail, keyed by its name.
  if (rctl_rules_) {
    LJ_TRY(remove_rctl_rules(handle_.name));
    rctl_rules_ = false;
  }
  // 2. mounts, newest first, proven gone before any directory is removed.
  if (root_) {
    LJ_TRY(root_->unmount());
    root_.reset();
  }
  if (!adopted_dir_.empty()) {
    LJ_TRY(release_jail_dir(adopted_dir_));
    adopted_dir_.clear();
  }
  // 2. the devfs ruleset, once no devfs uses it.
  if (devfs_) {
    LJ_TRY(devfs_->remove());
    devfs_.reset();
  }
  if (!adopted_state_dir_.empty()) {
    LJ_TRY(release_devfs_rulesets(adopted_state_dir_, handle_.name));
    adopted_state_dir_.clear();
  }
  // kq_ stays open until the Jail is destroyed: it is wait_fd(), which the owner's event loop may
  // still have registered.
  torn_down_ = true;
  return {};
}

void FreebsdJail::on_exit_event(const struct kevent& ev) {
  ExitStatus e;
  if (ev.flags & EV_ERROR) {
    // ESRCH: gone before we could watch it (adopted jails). An earlier ljd may have written the
    // status before it died.
    if (auto f = read_status_file(handle_.status_file))
      e = *f;
    else
      e.lost = true;
  } else {
    e = exit_status_of_wait(static_cast<int>(ev.data));
    // EVFILT_PROC gives even a non-child's status, so adopted jails do not need this file; it
    // covers an ljd that dies between seeing the exit and recording it. Best effort.
    if (!handle_.status_file.empty()) {
      std::ofstream out(handle_.status_file, std::ios::trunc);
      out << status_line(e);
      if (!out)
        lj::log("jail")->warn("jail={} could not write status file {}", handle_.name,
                              handle_.status_file);
    }
  }
  e.timed_out = timed_out_;
  // The OOM verdict reads the kernel buffer while the rules still exist (teardown removes them).
  if (!oom_needle_.empty() && count_in_msgbuf(oom_needle_) > oom_mark_) e.oom = true;
  exit_ = e;
  lj::log("jail")->info("exited jail={} code={} signal={} timed_out={}", handle_.name, e.code,
                        e.signal, e.timed_out);
}

Result<ExitStatus> FreebsdJail::wait(std::chrono::milliseconds timeout) {
  const auto user_until = timeout.count() > 0 ? Clock::now() + timeout : Clock::time_point::max();
  while (!exit_) {
    auto until = timed_out_ ? user_until : std::min(user_until, deadline_);
    struct timespec ts {};
    struct timespec* tsp = nullptr;
    if (until != Clock::time_point::max()) {
      auto left = std::max(Clock::duration::zero(), until - Clock::now());
      auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(left).count();
      ts.tv_sec = static_cast<time_t>(ns / 1000000000);
      ts.tv_nsec = static_cast<long>(ns % 1000000000);
      tsp = &ts;
    }
    struct kevent ev {};
    int n = LJ_SYS("kevent", ::kevent(kq_.get(), nullptr, 0, &ev, 1, tsp));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(kDomain, "kevent (waiting for jail " + handle_.name + ")");
    }
    if (n == 1) {
      on_exit_event(ev);
      break;
    }
    auto now = Clock::now();
    if (!timed_out_ && now >= deadline_) {
      LJ_TRY(expire());
      continue;
    }
    if (now >= user_until)
      return fail(Errc::timed_out, kDomain, "jail " + handle_.name + " still running");
  }
  LJ_TRY(teardown());
  return *exit_;
}

Result<std::optional<ExitStatus>> FreebsdJail::poll() {
  if (!exit_) {
    struct timespec zero {};
    struct kevent ev {};
    int n = LJ_SYS("kevent", ::kevent(kq_.get(), nullptr, 0, &ev, 1, &zero));
    if (n < 0 && errno != EINTR)
      return fail_errno(kDomain, "kevent (polling jail " + handle_.name + ")");
    if (n == 1) {
      on_exit_event(ev);
    } else if (!timed_out_ && Clock::now() >= deadline_) {
      LJ_TRY(expire());
      return std::optional<ExitStatus>();
    } else {
      return std::optional<ExitStatus>();
    }
  }
  return std::optional<ExitStatus>(*exit_);
}

Status FreebsdJail::expire() {
  if (exit_ || timed_out_) return {};
  timed_out_ = true;
  lj::log("jail")->info("timeout jail={}: removing the jail", handle_.name);
  // jail_remove(2) kills every process in the jail, not just the main one.
  LJ_TRY(remove_jail_and_wait(handle_.name));
  jail_gone_ = true;
  return {};
}

Status FreebsdJail::signal(int sig, bool all) {
  if (exit_) return fail(Errc::conflict, kDomain, "jail " + handle_.name + " has exited");
  if (all) {
    if (sig == SIGKILL) {
      LJ_TRY(remove_jail_and_wait(handle_.name));
      jail_gone_ = true;
      return {};
    }
    return signal_jail(handle_.name, sig);
  }
  if (pd_) {
    if (LJ_SYS("pdkill", ::pdkill(pd_.get(), sig)) != 0)
      return fail_errno(kDomain, "pdkill jail=" + handle_.name + " sig=" + std::to_string(sig));
    return {};
  }
  // Adopted: no descriptor, so make sure the pid is still ours before signalling it.
  auto info = LJ_TRY(proc_info(handle_.pid));
  if (!info || info->start_usec != handle_.start_time)
    return fail(Errc::not_found, kDomain, "main process of jail " + handle_.name + " is gone");
  if (LJ_SYS("kill", ::kill(handle_.pid, sig)) != 0)
    return fail_errno(kDomain, "kill pid=" + std::to_string(handle_.pid));
  return {};
}

// ---- the backend ----

class FreebsdBackend final : public Backend {
 public:
  explicit FreebsdBackend(const BackendOptions& o)
      : state_dir_(o.state_dir),
        devfs_ruleset_(o.devfs_ruleset),
        devfs_close_ruleset_(o.devfs_close_ruleset),
        devfs_range_{o.devfs_rulesets_first, o.devfs_rulesets_last} {}

  std::string_view name() const override { return "freebsd"; }
  std::vector<std::string> features() const override;
  Result<std::unique_ptr<Jail>> spawn(const JailSpec& spec) override;
  Result<std::unique_ptr<Jail>> adopt(const JailHandle& handle) override;
  Status release(const JailHandle& handle) override;
  Status freeze(const JailHandle& jail, bool frozen) override;
  Status update(const JailHandle& jail, const LimitsUpdate& limits) override;
  Result<std::unique_ptr<Exec>> exec(const JailHandle& jail, const ExecSpec& spec) override {
    return exec_in_jail(jail, spec);
  }
  Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& handle) override {
    return freebsd::adopt_exec(handle);
  }
  // A jail's root is mounted under state_dir/jails/<name> from its start until release() removes
  // the directory: what is there is every jail of this state directory not yet released.
  std::vector<std::string> present() const override {
    std::vector<std::string> names;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state_dir_ / "jails", ec)) {
      if (e.is_directory(ec)) names.push_back(e.path().filename().string());
    }
    return names;
  }

 private:
  Status add_limits(const JailSpec& spec, const std::string& name, FreebsdJail& j);
  void jail_params(const JailSpec& spec, const std::string& name, const MountedRoot& root,
                   int devfs_ruleset, JailParams& params);
  Result<std::vector<std::string>> command(const JailSpec& spec, FreebsdJail& j);

  fs::path state_dir_;  // BackendOptions::state_dir
  int devfs_ruleset_;        // every jail's (BackendOptions::devfs_ruleset)
  int devfs_close_ruleset_;  // included last in a jail's own
  DevfsRange devfs_range_;   // the numbers a jail's own may take
};

std::vector<std::string> FreebsdBackend::features() const {
  std::vector<std::string> f = {"jail", "procdesc", "nullfs", "unionfs", "devfs"};
  if (racct_enabled()) f.push_back("rctl");
  if (sysctl_flag("kern.features.vimage")) f.push_back("vnet");
  return f;
}

Status FreebsdBackend::add_limits(const JailSpec& spec, const std::string& name, FreebsdJail& j) {
  const auto& l = spec.limits;
  if (l.memory_bytes == 0 && l.pids == 0 && l.cpu_percent == 0) return {};
  if (!racct_enabled()) return fail(racct_disabled_error());
  // Rules of an earlier jail of this name (a crash) would add up with ours.
  LJ_TRY(remove_rctl_rules(name));
  j.rctl_rules_ = true;
  // memoryuse (RSS) with sigkill: the process that takes the jail over the limit is killed,
  // as Linux's memory cgroup OOM-kills. `deny` on memoryuse does not fail allocations: RSS
  // grows by page faults, which cannot be refused, and is only sampled by the VM swapout
  // daemon (sys/vm/vm_swapout.c: racct_set(RACCT_RSS) then vm_swapout_map_deactivate_pages),
  // so deny merely pages the jail out -- a slow thrash instead of a clear verdict. The same
  // sampling means the kill lands up to a daemon period after the limit is crossed. The twin
  // `log` rule is how we learn the limit fired: rctl prints "rctl: rule "<rule>" matched by
  // pid ..." to the kernel message buffer (sys/kern/kern_rctl.c), read back at exit.
  if (l.memory_bytes > 0) {
    j.oom_needle_ = oom_log_needle(name);
    j.oom_mark_ = count_in_msgbuf(j.oom_needle_);
  }
  const auto rules = rctl_rules(name, l);
  for (const auto& r : rules) LJ_TRY_CTX("jail " + name, add_rctl_rule(r));
  return {};
}

void FreebsdBackend::jail_params(const JailSpec& spec, const std::string& name,
                                 const MountedRoot& root, int devfs_ruleset, JailParams& p) {
  const JailParameters& fp = spec.freebsd;  // checked by check_jail_parameters
  p.str("name", name);
  p.str("path", root.root().string());
  if (fp.host == Sharing::inherit)
    p.integer("host", JAIL_SYS_INHERIT);  // the parent's hostname, domainname, hostuuid, hostid
  else
    p.str("host.hostname", spec.hostname.empty() ? spec.name : spec.hostname);
  p.boolean("nopersist");  // dies with its last process
  // 2: sees only mounts below its root, unless the caller asked otherwise.
  p.integer("enforce_statfs", fp.enforce_statfs.value_or(2));
  p.integer("devfs_ruleset", devfs_ruleset);
  p.integer("children.max", 0);  // no nested jails
  if (fp.mount_types.empty()) {
    p.boolean("allow.nomount");  // no mount(2) inside
  } else {
    p.boolean("allow.mount");
    for (const auto& t : fp.mount_types) p.boolean(("allow.mount." + t).c_str());
  }
  // The host policy's grants (jail(8): allow.raw_sockets, allow.mlock; sysv*=new gives the jail
  // its own System V IPC namespace, as Linux's IPC namespace does).
  if (spec.grants.raw_sockets) p.boolean("allow.raw_sockets");
  if (spec.grants.mlock) p.boolean("allow.mlock");
  for (const auto& a : fp.allow) p.boolean(a.c_str());  // kAllowParameters, checked
  auto sysv = [&](const char* param, Sharing s) {
    if (s != Sharing::unset)
      p.integer(param, sharing_value(s));
    else if (spec.grants.sysvipc)
      p.integer(param, JAIL_SYS_NEW);
  };
  sysv("sysvmsg", fp.sysvmsg);
  sysv("sysvsem", fp.sysvsem);
  sysv("sysvshm", fp.sysvshm);
  switch (spec.network.mode) {
    case NetworkMode::none:
      if (fp.vnet == Sharing::inherit) {  // the parent's stack, without any address
        p.integer("ip4", JAIL_SYS_DISABLE);
        p.integer("ip6", JAIL_SYS_DISABLE);
      } else {
        p.integer("vnet", JAIL_SYS_NEW);
      }
      break;
    case NetworkMode::inherit:
      p.integer("ip4", JAIL_SYS_INHERIT);
      p.integer("ip6", JAIL_SYS_INHERIT);
      break;
    case NetworkMode::ip: {
      std::vector<struct in_addr> v4;
      std::vector<struct in6_addr> v6;
      for (const auto& a : spec.network.addresses) {
        auto c = parse_cidr(a);  // validated by the caller already
        if (!c) continue;
        if (c->family == AF_INET)
          v4.push_back(c->v4);
        else
          v6.push_back(c->v6);
      }
      if (v4.empty())
        p.integer("ip4", JAIL_SYS_DISABLE);
      else
        p.raw("ip4.addr", v4.data(), v4.size() * sizeof(struct in_addr));
      if (v6.empty())
        p.integer("ip6", JAIL_SYS_DISABLE);
      else
        p.raw("ip6.addr", v6.data(), v6.size() * sizeof(struct in6_addr));
      break;
    }
    case NetworkMode::netns:
      p.integer("vnet", JAIL_SYS_NEW);  // its links are moved in by Network::on_vnet
      break;
  }
}

Result<std::vector<std::string>> FreebsdBackend::command(const JailSpec& spec, FreebsdJail& j) {
  Command c = command_for(spec, kScriptInJail);
  if (c.script_path.empty()) return c.argv;
  // Another interpreter than sh needs the script as a file inside the jail. Written through the
  // union (so it lands in the writable layer) and removed at teardown, before the unmount.
  if (j.root_->upper().empty())
    return fail(Errc::unsupported, kDomain,
                "a script for " + c.argv[0] +
                    " needs a writable root (only /bin/sh scripts run on a read-only root)");
  fs::path file = j.root_->root() / fs::path(c.script_path).relative_path();
  UniqueFd fd(LJ_SYS(
      "open", ::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0755)));
  if (!fd) return fail_errno(kDomain, "create " + file.string());
  j.script_file_ = file;
  const char* data = spec.script.data();
  std::size_t left = spec.script.size();
  while (left > 0) {
    ssize_t n = ::write(fd.get(), data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(kDomain, "write " + file.string());
    data += n;
    left -= static_cast<std::size_t>(n);
  }
  return c.argv;
}

namespace {
const char* unsupported_spec_option(const JailSpec& spec) {
  if (const char* what = unsupported_process_option(spec.process)) return what;
  if (spec.join.any()) return "join (namespaces of another process)";
  if (!spec.cgroup_path.empty()) return "cgroup_path";
  if (spec.limits.cpu_shares) return "limits.cpu_shares (rctl has no CPU weight)";
  if (!spec.limits.cpuset_cpus.empty() || !spec.limits.cpuset_mems.empty())
    return "limits.cpuset_cpus/mems (a jail's cpuset(1) is not done)";
  if (spec.limits.cpu_rt_period_us || spec.limits.cpu_rt_runtime_us)
    return "limits.cpu_rt_period_us/runtime_us (cgroup realtime bandwidth)";
  // cpu_quota_us/cpu_period_us: cpu_percent carries the same share as rctl's pcpu (spec.hpp);
  // cpu_cgroups asks for cgroups only, which a jail has none of.
  if (spec.limits.memory_reservation || spec.limits.memory_swappiness ||
      spec.limits.memory_no_oom_killer || spec.limits.memory_kernel_bytes ||
      spec.limits.memory_kernel_tcp_bytes)
    return "limits.memory_reservation/swappiness/no_oom_killer/kernel (cgroup memory knobs)";
  // memoryuse is resident memory only: swap is not limited by it, so only "unlimited" holds.
  if (spec.limits.memory_swap_bytes && spec.limits.memory_swap_bytes != Limits::kUnlimitedSwap)
    return "limits.memory_swap_bytes (rctl's swapuse is not mapped)";
  if (!spec.limits.block_io.empty())
    return "limits.block_io (rctl's readbps/writebps are the whole jail's, not a device's)";
  if (!spec.limits.device_rules.empty())
    return "limits.device_rules (the jail's devfs ruleset is its device rule)";
  if (!spec.grants.nodes.empty())
    return "grants.nodes (a jail's devfs shows the host's devices; it cannot make others)";
  if (!spec.root.mounts.empty()) return "root.mounts";
  if (spec.root.writable.read_only_after_mounts) return "root.writable.read_only_after_mounts";
  // root.nodev is accepted as is: FreeBSD has no MNT_NODEV because a node outside devfs opens
  // nothing (mknod(8): "As of FreeBSD 6.0 device nodes may be created in regular file systems
  // but such nodes cannot be used to access devices"), and the jail's devfs shows only what its
  // ruleset lets through. A world's `b 8 0` is as dead on a nullfs or unionfs root as nodev.
  if (!spec.root.root_propagation.empty()) return "root.root_propagation";
  if (!spec.root.propagation.empty()) return "root.propagation";
  if (!spec.root.masked_paths.empty() || !spec.root.readonly_paths.empty())
    return "root.masked_paths/readonly_paths";
  for (const auto& o : spec.root.volume_options)
    if (o.atime == "relatime") return "root.volume_options[].atime relatime (FreeBSD has none)";
  return nullptr;
}
}  // namespace

Result<std::unique_ptr<Jail>> FreebsdBackend::spawn(const JailSpec& spec) {
  LJ_TRY_CTX("jail " + spec.name, validate_spec(spec));
  if (spec.network.mode == NetworkMode::netns && !spec.network.on_vnet)
    return fail(Errc::unsupported, kDomain,
                "jail " + spec.name +
                    ": network mode netns on FreeBSD needs Network::on_vnet (a network namespace "
                    "descriptor is Linux's)");
  if (spec.network.attach_links)
    return fail(Errc::unsupported, kDomain,
                "jail " + spec.name + ": Network::attach_links is Linux's (FreeBSD: on_vnet)");
  // The OCI runtime's process options and mounts the FreeBSD backend has no means for yet:
  // refused by name rather than ignored.
  if (const char* what = unsupported_spec_option(spec))
    return fail(Errc::unsupported, kDomain, "jail " + spec.name + ": " + what +
                                                " is not supported by the FreeBSD backend yet");
  LJ_TRY(check_jail_name(spec.name));
  LJ_TRY_CTX("jail " + spec.name, check_jail_parameters(spec));
  if (spec.userns)
    return fail(Errc::unsupported, kDomain,
                "user namespaces are Linux-only: a FreeBSD jail's uid 0 is the host's uid 0, "
                "confined by the jail itself");
  // The kernel's name: "<parent>.<name>" in a parent jail. It keys everything below (the jail,
  // its directory, its devfs ruleset claim, its rctl rules) and is the handle's name.
  const std::string name = kernel_jail_name(spec);
  const std::string ctx = "spawning jail " + name;

  // 1. jids are reused, names key the jail: refuse a name a live jail holds. A *dying* jail of
  // that name (removed, its last references -- TCP TIME_WAIT sockets... -- still draining) is
  // not refused here: it can linger for minutes, and FreeBSD 13 stopped jail_set(2) from
  // resurrecting dying jails. Whether the kernel lets a new jail take the name meanwhile is
  // unverified (docs/platforms.md); if it refuses, the child reports EEXIST and its errmsg.
  if (LJ_TRY_CTX(ctx, find_jail(name)))
    return fail(Errc::exists, kDomain, "a jail named " + name + " is running");

  auto j = std::make_unique<FreebsdJail>(name);
  // From here on, an early return destroys j, whose teardown undoes every step below.

  // 1b. In a parent jail: the parent runs and has room for one more child.
  if (!spec.freebsd.parent.empty()) LJ_TRY_CTX(ctx, make_room_for_child(spec.freebsd.parent));

  // 2. The jail's own devfs ruleset for its devices, made before its devfs is mounted with it.
  // The base is the caller's ruleset (JailParameters::devfs_ruleset) or every jail's.
  const int base_ruleset = spec.freebsd.devfs_ruleset.value_or(devfs_ruleset_);
  int devfs_ruleset = base_ruleset;
  if (!spec.grants.devices.empty() || !spec.freebsd.devices.empty()) {
    std::vector<JailParameters::Device> devices;
    for (const auto& d : spec.grants.devices) devices.push_back({d, std::nullopt});
    devices.insert(devices.end(), spec.freebsd.devices.begin(), spec.freebsd.devices.end());
    auto rules = LJ_TRY_CTX(ctx, devfs_device_rules(devices, base_ruleset, devfs_close_ruleset_));
    j->devfs_.emplace(LJ_TRY_CTX(ctx, DevfsRuleset::make(state_dir_, name, devfs_range_, rules)));
    devfs_ruleset = j->devfs_->number();
  }
  // The root.
  RootOptions ro;
  ro.jail_dir = jail_dir_of(state_dir_, name);
  ro.devfs_ruleset = devfs_ruleset;
  if (spec.root.journal.before_mount)
    ro.before_mount = [f = spec.root.journal.before_mount](const auto& m) {
      return f(m.target, m.fstype);
    };
  if (spec.root.journal.after_unmount)
    ro.after_unmount = [f = spec.root.journal.after_unmount](const auto& m) {
      f(m.target, m.fstype);
    };
  j->root_.emplace(LJ_TRY_CTX(ctx, MountedRoot::mount(spec.root, ro)));

  // 3. Limits.
  LJ_TRY_CTX(ctx, add_limits(spec, name, *j));

  // 4. Addresses.
  if (spec.network.mode == NetworkMode::ip) {
    for (const auto& a : spec.network.addresses) {
      auto c = LJ_TRY_CTX(ctx, parse_cidr(a));
      j->addresses_.push_back(LJ_TRY_CTX(ctx, HostAddress::ensure(spec.network.interface, c)));
    }
  }

  // 5. Everything the child needs, before pdfork.
  JailParams params;
  jail_params(spec, name, *j->root_, devfs_ruleset, params);
  const ChildCommand cmd(LJ_TRY_CTX(ctx, command(spec, *j)), spec.env);
  std::string login =
      spec.uid == 0 ? "root" : login_in_passwd(j->root_->root() / "etc" / "passwd", spec.uid);

  if (!spec.status_file.empty()) {
    // Created (truncated) before the start, as on Linux: an empty file means "not known yet".
    UniqueFd status(LJ_SYS(
        "open", ::open(spec.status_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)));
    if (!status) return fail_errno(kDomain, ctx + ": open " + spec.status_file);
    j->handle_.status_file = spec.status_file;
  }
  UniqueFd devnull(LJ_SYS("open", ::open("/dev/null", O_RDWR | O_CLOEXEC)));
  if (!devnull) return fail_errno(kDomain, ctx + ": open /dev/null");
  int fds[2];
  if (LJ_SYS("pipe2", ::pipe2(fds, O_CLOEXEC)) != 0) return fail_errno(kDomain, ctx + ": pipe2");
  UniqueFd report_r(fds[0]), report_w(fds[1]);

  ChildPlan plan;
  plan.iov = params.iov();
  plan.niov = params.count();
  plan.jail_errmsg = params.errmsg();
  plan.vnet = (spec.network.mode == NetworkMode::none && spec.freebsd.vnet != Sharing::inherit) ||
              spec.network.mode == NetworkMode::netns;
  // The parent's part between the jail's creation and its command: links moved into its VNET.
  const bool vnet_hook = (spec.network.on_vnet && spec.network.mode == NetworkMode::netns) ||
                         !spec.freebsd.vnet_interfaces.empty();
  UniqueFd go_r, go_w;
  if (vnet_hook) {
    if (LJ_SYS("pipe2", ::pipe2(fds, O_CLOEXEC)) != 0) return fail_errno(kDomain, ctx + ": pipe2");
    go_r.reset(fds[0]);
    go_w.reset(fds[1]);
    plan.go_fd = go_r.get();
    plan.go_peer = go_w.get();
  }
  plan.lo = make_vnet_loopback();
  plan.user = spec.user.empty() ? nullptr : spec.user.c_str();
  if (spec.tty) {
    plan.tty = true;
    plan.console_fd = spec.tty->socket;
    plan.tty_rows = spec.tty->rows;
    plan.tty_cols = spec.tty->cols;
  }
  plan.stdio[0] = spec.stdio.in >= 0 ? spec.stdio.in : devnull.get();
  plan.stdio[1] = spec.stdio.out >= 0 ? spec.stdio.out : devnull.get();
  plan.stdio[2] = spec.stdio.err >= 0 ? spec.stdio.err : devnull.get();
  plan.report_fd = report_w.get();
  plan.workdir = spec.workdir.c_str();
  plan.make_workdir = spec.make_workdir;
  plan.login = login.empty() ? nullptr : login.c_str();
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  if (spec.limits.nofile > 0) {
    plan.set_nofile = true;
    plan.nofile.rlim_cur = plan.nofile.rlim_max = static_cast<rlim_t>(spec.limits.nofile);
  }
  plan.hold_fd = spec.process.hold_fd;
  prepare_hooks(spec.process.create_hooks, "createContainer", plan.create_hooks);
  prepare_hooks(spec.process.start_hooks, "startContainer", plan.start_hooks);
  cmd.into(plan);

  // 6. Fork. PD_CLOEXEC: the descriptor must not leak into other children of the daemon.
  // PD_DAEMON for every jail: without it the last close of the descriptor SIGKILLs the process
  // (procdesc_close() in sys/kern/sys_procdesc.c), and that close happens whenever the spawner
  // exits: ljd killed, crashed or left with on_shutdown = leave (its Jails are never destroyed,
  // but the kernel closes its descriptors), and ljoci's create, which exits right after the
  // spawn of a held command. Jails outlive ljd and the next one adopts them (adopt(), by pid with
  // EVFILT_PROC). With PD_DAEMON the process is reparented to the spawner's reaper (init, or the
  // shim or conmon with PROC_REAP_ACQUIRE), which reaps it. Ending a jail is explicit, never
  // the close: the destructor removes a running jail (jail_remove), and teardown kills a child
  // that never reported its jail before the close (a spawn that failed half way).
  const int pd_flags = PD_CLOEXEC | PD_DAEMON;
  int pd = -1;
  pid_t pid = LJ_SYS("pdfork", ::pdfork(&pd, pd_flags));
  if (pid < 0) return fail_errno(kDomain, ctx + ": pdfork");
  if (pid == 0) run_child(plan);
  j->pd_.reset(pd);
  report_w.reset();
  go_r.reset();

  // The child's reports: a jid, then EOF at a successful execve; or a failure record. With a
  // VNET hook, the jail's links are set up between the two (the child waits for the go byte).
  std::optional<ChildReport> failure;
  std::optional<Error> vnet_failure;
  for (;;) {
    ChildReport r;
    ssize_t n = ::read(report_r.get(), &r, sizeof(r));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno(kDomain, ctx + ": read child report");
    if (n == 0) break;
    if (static_cast<std::size_t>(n) != sizeof(r))
      return fail(Errc::internal, kDomain, ctx + ": short child report");
    if (r.kind == ChildReport::jid) {
      j->jail_created_ = true;
      j->handle_.jid = r.jid_value;
      if (go_w) {
        Status st;
        for (const auto& i : spec.freebsd.vnet_interfaces)
          if (st) st = move_interface_to_vnet(i, r.jid_value);
        if (st && spec.network.on_vnet) st = spec.network.on_vnet(r.jid_value);
        if (!st) {
          vnet_failure = std::move(st).error();
        } else {
          const char go = 1;
          if (::write(go_w.get(), &go, 1) != 1) vnet_failure = Error::from_errno(kDomain, "write go byte");
        }
        go_w.reset();  // EOF without the byte: the child ends with nothing run
      }
    } else {
      failure = r;
    }
  }
  if (vnet_failure) return fail(std::move(*vnet_failure).context(ctx + ": the jail's network"));
  if (failure) {
    // The child has _exit()ed; the jail, if made, dies with it (nopersist). j's teardown
    // reaps the child (closing pd_) and undoes the rest.
    return fail(child_error(*failure, ctx, cmd.argv_s[0]));
  }
  if (!j->jail_created_)
    return fail(Errc::internal, kDomain, ctx + ": child exited without a report");

  // 7. Supervision.
  j->handle_.pid = pid;
  auto info = LJ_TRY_CTX(ctx, proc_info(pid));
  j->handle_.start_time = info ? info->start_usec : 0;
  j->kq_.reset(LJ_SYS("kqueue", ::kqueue()));
  if (!j->kq_) return fail_errno(kDomain, ctx + ": kqueue");
  struct kevent ev;
  EV_SET(&ev, static_cast<uintptr_t>(j->pd_.get()), EVFILT_PROCDESC, EV_ADD | EV_ONESHOT, NOTE_EXIT,
         0, nullptr);
  if (LJ_SYS("kevent", ::kevent(j->kq_.get(), &ev, 1, nullptr, 0, nullptr)) != 0)
    return fail_errno(kDomain, ctx + ": kevent EVFILT_PROCDESC");
  if (spec.limits.timeout.count() > 0) j->deadline_ = Clock::now() + spec.limits.timeout;

  lj::log("jail")->info("started jail={} jid={} pid={}", name, j->handle_.jid, pid);
  return std::unique_ptr<Jail>(std::move(j));
}

Result<std::unique_ptr<Jail>> FreebsdBackend::adopt(const JailHandle& h) {
  const std::string ctx = "adopting jail " + h.name;
  auto info = LJ_TRY_CTX(ctx, proc_info(h.pid));
  if (!info || info->zombie || info->start_usec != h.start_time)
    return fail(Errc::not_found, kDomain, ctx + ": pid " + std::to_string(h.pid) + " is gone");
  auto jid = LJ_TRY_CTX(ctx, find_jail(h.name));
  if (!jid || *jid != info->jid)
    return fail(Errc::not_found, kDomain,
                ctx + ": pid " + std::to_string(h.pid) + " is not in a jail of that name");

  auto j = std::make_unique<FreebsdJail>(h.name);
  j->handle_ = h;
  j->handle_.jid = *jid;
  j->jail_created_ = true;
  j->rctl_rules_ = true;  // whatever rules carry its name go with it
  j->adopted_dir_ = jail_dir_of(state_dir_, h.name);
  j->adopted_state_dir_ = state_dir_;
  // The wall-clock limit is not in the handle: the daemon enforces it with expire().
  j->kq_.reset(LJ_SYS("kqueue", ::kqueue()));
  if (!j->kq_) return fail_errno(kDomain, ctx + ": kqueue");
  // No process descriptor can be had for a process we did not pdfork: watch the pid (it was
  // checked against its start time just above).
  struct kevent ev;
  EV_SET(&ev, static_cast<uintptr_t>(h.pid), EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0,
         nullptr);
  if (LJ_SYS("kevent", ::kevent(j->kq_.get(), &ev, 1, nullptr, 0, nullptr)) != 0) {
    if (errno == ESRCH) {
      // Exited between the check and the watch: it is not running; the caller releases it.
      j->jail_created_ = false;
      j->rctl_rules_ = false;
      j->adopted_dir_.clear();
      j->adopted_state_dir_.clear();
      return fail(Errc::not_found, kDomain, ctx + ": exited while being adopted");
    }
    return fail_errno(kDomain, ctx + ": kevent EVFILT_PROC");
  }
  lj::log("jail")->info("adopted jail={} jid={} pid={}", h.name, *jid, h.pid);
  return std::unique_ptr<Jail>(std::move(j));
}

Status FreebsdBackend::release(const JailHandle& h) {
  const std::string ctx = "releasing jail " + h.name;
  LJ_TRY_CTX(ctx, remove_jail_and_wait(h.name));
  // As teardown: the root is busy until the kernel has freed the jail (a created container that
  // was just killed, `ljoci delete` right after its end).
  const fs::path dir = jail_dir_of(state_dir_, h.name);
  LJ_TRY_CTX(ctx, wait_until_freed(h.name, dir / "root"));
  LJ_TRY_CTX(ctx, release_jail_dir(dir));
  LJ_TRY_CTX(ctx, release_devfs_rulesets(state_dir_, h.name));
  LJ_TRY_CTX(ctx, remove_rctl_rules(h.name));
  return {};
}

// SIGSTOP to every process of the jail (jail_sys.hpp, freeze_jail). A freeze that did not stop
// them all is undone, so that the jail is left running and the caller's error is the whole story.
Status FreebsdBackend::freeze(const JailHandle& h, bool frozen) {
  const std::string ctx = std::string(frozen ? "freezing" : "thawing") + " jail " + h.name;
  Status st = freeze_jail(h.name, frozen);
  if (!st && frozen && st.error().errc() == Errc::busy) (void)freeze_jail(h.name, false);
  return st ? st : fail(st.error().context(ctx));
}

// The rctl rules of each limit set, replaced: the old rules on that resource removed (a sigkill
// or log rule of another amount would otherwise stay beside the new one; only deny rules replace
// each other in the kernel), then the new ones added (none for 0, "no limit"). Keyed by the
// jail's name, as at the spawn: teardown and release() remove them all.
Status FreebsdBackend::update(const JailHandle& h, const LimitsUpdate& u) {
  const std::string ctx = "updating the limits of jail " + h.name;
  if (u.cpuset_cpus || u.cpuset_mems)
    return fail(Errc::unsupported, kDomain,
                ctx + ": limits.cpuset_cpus/mems (a jail's cpuset(1) is not done)");
  if (u.cpu_rt_period_us || u.cpu_rt_runtime_us)
    return fail(Errc::unsupported, kDomain,
                ctx + ": limits.cpu_rt_period_us/runtime_us (cgroup realtime bandwidth)");
  if (u.cpu_shares && *u.cpu_shares)
    return fail(Errc::unsupported, kDomain, ctx + ": limits.cpu_shares (rctl has no CPU weight)");
  if (u.memory_swap_bytes && *u.memory_swap_bytes && *u.memory_swap_bytes != Limits::kUnlimitedSwap)
    return fail(Errc::unsupported, kDomain,
                ctx + ": limits.memory_swap_bytes (rctl's swapuse is not mapped)");
  if (!u.memory_bytes && !u.pids && !u.cpu_percent) return {};  // nothing asked, nothing needed
  if (!LJ_TRY_CTX(ctx, find_jail(h.name)))
    return fail(Errc::not_found, kDomain, ctx + ": no live jail of that name");
  if (!racct_enabled()) return fail(racct_disabled_error());
  auto replace = [&](std::initializer_list<const char*> resources, const Limits& l) -> Status {
    for (const char* r : resources) LJ_TRY_CTX(ctx, remove_rctl_rules(h.name, r));
    for (const auto& rule : rctl_rules(h.name, l)) LJ_TRY_CTX(ctx, add_rctl_rule(rule));
    return {};
  };
  if (u.memory_bytes) {
    Limits l;
    l.memory_bytes = *u.memory_bytes;
    LJ_TRY(replace({"memoryuse"}, l));
  }
  if (u.pids) {
    Limits l;
    l.pids = *u.pids;
    LJ_TRY(replace({"maxproc", "nthr"}, l));
  }
  if (u.cpu_percent) {
    Limits l;
    l.cpu_percent = *u.cpu_percent;
    LJ_TRY(replace({"pcpu"}, l));
  }
  return {};
}

}  // namespace
}  // namespace freebsd

Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& options) {
  if (options.state_dir.empty() || !options.state_dir.is_absolute())
    return fail(Errc::invalid_argument, freebsd::kDomain,
                "the FreeBSD backend needs an absolute state directory for its jails' mounts");
  // vfs_bio_getpages() reads through the buffer cache with the faulting thread's credential and,
  // unless this is set, leaves the buffer cached with that credential: a jail whose process read
  // a world file first stays dying, its root busy, until the buffer is recycled (minutes or
  // never on an idle host). Seen in the FreeBSD 13 guest (docs/freebsd-guest.md). ZFS does not
  // use the buffer cache; UFS does.
  if (!freebsd::sysctl_flag("vfs.buf_pager_relbuf"))
    lj::log("jail")->warn(
        "vfs.buf_pager_relbuf is 0: a jail whose world is on UFS can stay dying after its last "
        "process, and its root busy, until the kernel recycles the buffers it read; set "
        "vfs.buf_pager_relbuf=1 (docs/freebsd.md)");
  if (options.devfs_ruleset <= 0)
    return fail(Errc::invalid_argument, freebsd::kDomain,
                "devfs ruleset 0 has no rules: a jail would see every device of the host");
  return std::unique_ptr<Backend>(std::make_unique<freebsd::FreebsdBackend>(options));
}

}  // namespace lj::jail
