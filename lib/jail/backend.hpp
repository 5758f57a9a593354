// The one interface between "a JailSpec" and "a running, supervised process tree". Two
// implementations: linux/ (clone3 + namespaces + pivot_root + cgroups + pidfd) and freebsd/
// (jail_set + nmount + rctl + pdfork). Knows nothing of HTTP or SQLite.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "jail/exec.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

// How a jail ended. Exactly one of "exited with code" or "killed by signal" holds.
struct ExitStatus {
  int code = -1;           // exit(3) status of the main command, or -1 when killed by a signal
  int signal = 0;          // the signal that killed the main command, or 0
  bool oom = false;        // the memory limit's OOM killer fired in the jail
  bool timed_out = false;  // the wall-clock limit killed the jail
  bool lost = false;       // the process was gone before it could be reaped (after a restart)

  // Shell convention: code, or 128+signal.
  int shell_status() const { return signal != 0 ? 128 + signal : code; }
};

// What identifies a live jail across a daemon restart: a pid alone is not enough (pids are
// reused), so its start time goes with it. Persisted by the daemon's index.
struct JailHandle {
  std::string name;
  pid_t pid = 0;                 // the jail's init process, in the host's pid namespace
  std::uint64_t start_time = 0;  // Linux: /proc/PID/stat field 22; FreeBSD: ki_start in usec
  std::string cgroup;            // Linux: cgroup path(s) owned by the jail
  int jid = 0;                   // FreeBSD: informational only; the jail is found by name
  std::string status_file;       // JailSpec::status_file, read by adopt()ed jails at their exit
  bool command_is_init = false;  // ProcessOptions::command_is_init: signals go to init itself
};

// A started jail. Owns every kernel resource of it; the destructor kills whatever is still
// running in the jail and releases everything (cgroups, mounts, descriptors), on every path.
class Jail {
 public:
  virtual ~Jail() = default;

  virtual const JailHandle& handle() const = 0;

  // Readable (poll/epoll/kqueue/asio) once the jail's main process has exited: a pidfd on Linux,
  // a process descriptor on FreeBSD. -1 for an adopted jail whose descriptor could not be had.
  virtual int wait_fd() const = 0;

  // Sends a signal to the main command, or to every process in the jail with all = true.
  virtual Status signal(int sig, bool all = false) = 0;

  // Waits until the main command exits (enforcing spec.limits.timeout from start), kills what is
  // left in the jail, tears it down and returns how it ended: poll() and teardown() in one call.
  // Returns at once when already reaped and torn down. With a timeout > 0 here, returns
  // Errc::timed_out (the jail left running) if it has not exited by then; the spec's own timeout
  // is enforced regardless.
  virtual Result<ExitStatus> wait(
      std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) = 0;

  // Non-blocking reap: once the main command has exited, how it ended (its OOM verdict read while
  // the jail's accounting still exists), else nullopt. Quick: it does not tear the jail down, so
  // an event loop reaps here and leaves teardown() to a worker.
  virtual Result<std::optional<ExitStatus>> poll() = 0;

  // Kills what is left in the jail and releases everything it holds (cgroups, the FreeBSD jail,
  // its mounts, addresses and rctl rules). May block: cgroup v1 takes a while to empty,
  // jail_remove(2) waits for the jail's processes, unmounts wait for busy file systems. Call it
  // once poll() (or wait()) has reported the exit, on any thread but never concurrently with
  // another call on this Jail. Idempotent; the destructor tears down whatever was not.
  virtual Status teardown() = 0;

  // For event loops that enforce the wall-clock limit themselves: when it falls due
  // (time_point::max() without one), and the call that kills the whole jail for it, so that the
  // status then reports timed_out.
  virtual std::chrono::steady_clock::time_point deadline() const = 0;
  virtual Status expire() = 0;

  // An adopted jail's output pipes (Stdio::out_read/err_read), taken back from its init: the
  // output it wrote while no daemon read it is still in them. Empty descriptors where they
  // cannot be had (spawned jails, jails started without them, FreeBSD).
  virtual std::pair<UniqueFd, UniqueFd> take_output() { return {}; }
};

// A started exec. The destructor does not kill it: an exec belongs to its jail and ends with it
// (or by signal()); it only closes the handle's descriptors.
class Exec {
 public:
  virtual ~Exec() = default;
  virtual const ExecHandle& handle() const = 0;
  // Readable once the monitor has exited, that is once the process ended and its status was
  // written (a pidfd on Linux, a process descriptor on FreeBSD).
  virtual int wait_fd() const = 0;
  // Sends a signal to the exec'd process (SIGKILL and SIGSTOP directly, the others through the
  // monitor). Errc::conflict once it has ended.
  virtual Status signal(int sig) = 0;
  // Non-blocking: how it ended, once it has; else nullopt.
  virtual Result<std::optional<ExitStatus>> poll() = 0;
  // Blocks until it ends (timeout 0: for ever; else Errc::timed_out when still running).
  virtual Result<ExitStatus> wait(std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) = 0;
  // An adopted exec's terminal master, taken back from its monitor (Linux, pidfd_getfd); empty
  // where there is none.
  virtual UniqueFd take_terminal() { return {}; }
};

class Backend {
 public:
  virtual ~Backend() = default;

  virtual std::string_view name() const = 0;  // "linux", "freebsd"

  // Features this kernel offers, for GET /v1/info ("cgroup2", "cgroup1", "pidfd", "userns",
  // "overlayfs", "rctl", ...).
  virtual std::vector<std::string> features() const = 0;

  // Starts a jail. On failure every resource made so far is released before returning.
  virtual Result<std::unique_ptr<Jail>> spawn(const JailSpec& spec) = 0;

  // For a caller that spawns one jail and has steps of its own to do before (ljoci): starts now
  // what the spawn of `spec` can make ahead, beside those steps (Linux: the jail's network
  // namespace, on another CPU: jail/linux/netns_ahead.hpp). The next spawn() takes it if its
  // spec can use it; otherwise it is let go with the backend. Not for concurrent spawns. Nothing
  // where there is nothing to make ahead.
  virtual void prepare(const JailSpec& spec) { (void)spec; }

  // Takes over a jail started by an earlier ljd process, after checking that handle.pid still
  // has handle.start_time. Errc::not_found when the jail is gone (the caller then cleans up with
  // release()).
  virtual Result<std::unique_ptr<Jail>> adopt(const JailHandle& handle) = 0;

  // Releases what a dead jail may have left (cgroups, FreeBSD mounts and rctl rules), from its
  // handle alone: recovery after a crash. Idempotent. With pid 0 (the daemon died before it
  // recorded the handle) the jail is found from handle.name and handle.status_file alone, and
  // anything of it still running is killed.
  virtual Status release(const JailHandle& handle) = 0;

  // The names of the jails of this backend's scope (BackendOptions) that the kernel still holds,
  // live or dead but not released: Linux, the cgroups in the scope; FreeBSD, the jail roots under
  // state_dir/jails. A daemon's recovery releases those its index does not know (an index lost
  // or replaced): nothing of a jail outlives every record of it. Empty without a scope.
  virtual std::vector<std::string> present() const { return {}; }

  // Stops every process of a running jail where it is (frozen = true) or lets them go on: an OCI
  // runtime's pause/resume. Linux: the cgroup v2 freezer, or on v1 a freezer cgroup of the jail's
  // made at the freeze (the jail's own cgroups do not include one: most jails never pause) and
  // removed at the thaw. A frozen jail must be thawed before it is released: its processes do
  // not die while frozen. FreeBSD (no freezer): SIGSTOP to every process of the jail until each
  // is stopped, SIGCONT at the thaw (jail/freebsd/jail_sys.hpp, freeze_jail).
  virtual Status freeze(const JailHandle& jail, bool frozen) {
    (void)jail, (void)frozen;
    return fail(Errc::unsupported, "jail", std::string(name()) + " backend cannot freeze a jail");
  }

  // Changes a running jail's limits (an OCI runtime's update): each one set is written, the others
  // stay. 0 means "no limit", as in Limits. A limit whose controller the jail was made without
  // (v1 cpu without a cpu limit at the start) is Errc::unsupported. FreeBSD: the jail's rctl
  // rules on each resource given are replaced.
  using LimitsUpdate = jail::LimitsUpdate;  // spec.hpp
  virtual Status update(const JailHandle& jail, const LimitsUpdate& limits) {
    (void)jail, (void)limits;
    return fail(Errc::unsupported, "jail", std::string(name()) + " backend cannot update limits");
  }

  // Starts one more process in the running jail `jail` (exec.hpp: what it joins, its monitor).
  // Returns once the process has exec'd. Errc::not_found when the jail is gone (its init is no
  // longer jail.pid with jail.start_time), Errc::invalid_argument for a spec validate_exec_spec()
  // refuses or a user the jail's /etc/passwd lacks, Errc::exec_failed when the command cannot be
  // executed, Errc::unsupported where the backend cannot. Thread-safe, as spawn().
  virtual Result<std::unique_ptr<Exec>> exec(const JailHandle& jail, const ExecSpec& spec) {
    (void)jail, (void)spec;
    return fail(Errc::unsupported, "jail", std::string(name()) + " backend cannot exec");
  }

  // Takes over an exec started by an earlier process (its monitor still handle.pid with
  // handle.start_time); Errc::not_found when it is gone (its end is then in handle.status_file).
  virtual Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& handle) {
    (void)handle;
    return fail(Errc::unsupported, "jail", std::string(name()) + " backend cannot exec");
  }
};

// What a backend is given, rather than read from the environment: the engine is a library that
// ljd, ljspawn, ljbuild and an OCI runtime configure each their own way.
struct BackendOptions {
  // A host directory for per-jail state. FreeBSD mounts each jail's root under
  // state_dir/jails/<name>/ (its mounts are global, so they need a host path) and refuses to start
  // without one; ljd passes <root>/.ljd. Linux keeps nothing there: a jail's mounts live in its
  // own mount namespace.
  std::filesystem::path state_dir;
  // Linux: the jails' cgroups go into a scope of their own, <base>/<cgroup_scope> (a name
  // "scope-..."; empty: the base itself, shared with every other process), which present() lists.
  // jails_pids_max is written, when the scope is made, as the pids.max of the base, the "ljd"
  // cgroup every scope sits under: all jails of every daemon there together cannot take more
  // pids than that, whatever each one's own limit, so the host keeps the rest; the last backend
  // to make its scope sets it. 0: not written; nullopt: "auto", the host's pid_max (or
  // threads-max, the lower) less a reserve of an eighth, at least 1,024 (auto_jails_pids_max),
  // the same for every daemon of a host. ljd: one scope per root. FreeBSD: the scope is
  // state_dir; jails_pids_max is not enforced there (rctl limits each jail; see docs/security.md).
  std::string cgroup_scope;
  std::optional<std::uint64_t> jails_pids_max = 0;
  // Linux: a jail's emptied cgroups are kept, renamed, for the next jail this process spawns
  // (creating v1 memory cgroups is slow after use), and the ones of dead processes swept at
  // make_backend. false for a process that spawns one jail and exits (ljoci): it has no next
  // jail, and the parking, the sweeps and the removal at its exit cost a fifth of a millisecond
  // per container (docs/oci.md, Benchmark); its jails' cgroups are removed at their end.
  bool reuse_cgroups = true;
  // FreeBSD: every jail's /dev is a devfs filtered by devfs_ruleset, one the host loaded from
  // devfs.rules (4: devfsrules_jail of /etc/defaults/devfs.rules). A jail granted devices
  // (Grants::devices) gets a ruleset of its own: devfs_ruleset included, the devices unhidden,
  // then devfs_close_ruleset included (0: none; what the host never shows a jail), numbered from
  // [devfs_rulesets_first, devfs_rulesets_last], a range nothing else on the host may use.
  // Linux ignores these.
  int devfs_ruleset = 4;
  int devfs_close_ruleset = 0;
  int devfs_rulesets_first = 60000, devfs_rulesets_last = 60999;
};

// The backend of the platform this binary was built for.
Result<std::unique_ptr<Backend>> make_backend(const BackendOptions& options);

}  // namespace lj::jail
