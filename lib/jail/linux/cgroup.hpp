// The cgroups of one jail: created with its limits before the jail starts, emptied (every
// process SIGKILLed) and removed when it ends, on every path (RAII).
//
// Which hierarchy: cgroup v2 when the unified hierarchy has the memory, pids and cpu controllers,
// else the v1 controllers (hybrid machines mount an empty cgroup2 beside v1 memory/pids/cpu).
// Detected once per process. Jail cgroups live under a "ljd" cgroup placed below this process's
// own cgroup of each controller, named by the jail's name.
//
// Reuse: a jail's emptied cgroup is not removed but reset (limits back to unlimited) and renamed
// to an idle name, ".pool-<pid>-<n>", for the next jail to rename to its own name. Creating and
// removing v1 memory cgroups after processes were charged to them gives spawns a long tail
// (measured: p99 of spawn-to-reap 9 -> 25 ms, issue 7: offlined memcgs linger and make the next
// mkdir slow); renaming an idle one costs one rename(2). A jail's cgroup keeps its jail's name
// while it runs, so adopt/release see the same handle as before. Idle cgroups are removed at
// exit; the ones of a killed process are removed by sweep_cgroup_pool() (run once before first
// use). Counters that survive reuse (the memory OOM kill count) are read relative to the value
// at take-over.
//
// ljspawn names its jail "ljspawn-<pid>" (client/ljspawn.cpp): an ljspawn killed by SIGKILL ends
// its jail (die_with_parent) but cannot remove the jail's cgroups, so the sweep removes those too
// once their ljspawn is gone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

struct CgroupLayout {
  bool v2 = false;
  std::string v2_base;                           // <cgroup2 mount><own cgroup>/ljd
  std::string memory_base, pids_base, cpu_base;  // v1: <controller mount><own cgroup>/ljd
  std::string devices_base;                      // v1, for Limits::device_rules only
  std::string cpuset_base;                       // v1, for Limits::cpuset_* and cpu_cgroups
  // v1 cpuacct mounted apart from cpu (most hosts mount "cpu,cpuacct" together, and the cpu
  // cgroup then has the accounting): for Limits::cpu_cgroups, so that a container's CPU time is
  // counted in a cgroup of its own, where containerd's shim and `ljoci events` read it.
  std::string cpuacct_base;
  std::string blkio_base;                        // v1, for Limits::block_io only
  bool memsw = false;                            // v1 memory.memsw.* present (swap accounting)
  // Each hierarchy's mount point and this process's own cgroup in it ("/" at the root), for a
  // jail placed at a path of its own (JailSpec::cgroup_path).
  std::string v2_mount, memory_mount, pids_mount, cpu_mount, freezer_mount, devices_mount,
      cpuset_mount, cpuacct_mount, blkio_mount;
  std::string v2_own = "/", memory_own = "/", pids_own = "/", cpu_own = "/", freezer_own = "/",
              devices_own = "/", cpuset_own = "/", cpuacct_own = "/", blkio_own = "/";
};

// The layout of this machine (computed on first call, then cached; thread-safe).
const CgroupLayout& cgroup_layout();

// Where a backend puts its jails' cgroups: directly under each controller's base (name empty:
// ljspawn, ljbuild) or under <base>/<name>, a scope of their own (ljd: one per root, so that its
// recovery can tell its own jails' cgroups from every other daemon's on the machine). pids_max
// goes on the base, the "ljd" cgroup every scope and unscoped jail of this cgroup sits under
// (0: left as it is): it bounds all of them together, whichever daemon or tool made them, and
// what it leaves of the host's pids is the host's reserve (docs/security.md). The last scope
// prepared sets it. v1 pids and v2 alike. reuse: a jail's emptied cgroups are parked for the next
// jail of this process (the idle pool above) and the leftovers of dead processes swept; false
// for a process that spawns one jail and exits (ljoci, BackendOptions::reuse_cgroups), which has
// no next jail to park them for: they are removed at the jail's end, and nothing is swept.
struct CgroupScope {
  std::string name;
  std::uint64_t pids_max = 0;
  bool reuse = true;
};
// Makes the scope's directories (v2: with the controllers enabled) and writes pids_max on the
// base. Nothing for the unnamed scope. This process holds each directory (a shared flock(2), until
// remove_scope or its exit), so that no other process's sweep removes it while it is empty.
// Cgroups::create makes them again when they went meanwhile (removed by hand).
Status prepare_scope(const CgroupScope& scope);
// At the end of a backend: this process's idle cgroups of the scope are removed, then the scope's
// directories if empty (jails left running keep theirs).
void remove_scope(const CgroupScope& scope);
// The names of the jail cgroups in a named scope, every controller, idle ones left out: the jails
// of this scope the kernel still holds (running or not yet removed).
std::vector<std::string> scope_jails(const CgroupScope& scope);

// Removes, under every controller's base, the idle pool cgroups (see above) left by processes
// that are gone and this process's own unlisted ones, and the empty "ljspawn-<pid>" cgroups whose
// ljspawn is gone (no process <pid>, a zombie, one not named ljspawn: a reused pid, or this very
// process: it has made no cgroup of that name yet when it sweeps). A cgroup that holds processes
// or child cgroups is kept (rmdir refuses it); one whose last task is still exiting (EBUSY, yet
// neither) is retried for up to 0.5 s. Returns how many were removed. Runs by itself at
// make_backend() and before the pool is first used.
// Scopes ("scope-*") found empty and held by no process are removed as well (their daemon is
// gone; one that starts again makes its scope again).
std::size_t sweep_cgroup_pool(const CgroupScope& scope = {});
// How many idle cgroups this process holds (all controllers), for tests.
std::size_t idle_cgroups();

class Cgroups {
 public:
  Cgroups() = default;
  Cgroups(Cgroups&&) noexcept = default;
  Cgroups& operator=(Cgroups&& o) noexcept;
  Cgroups(const Cgroups&) = delete;
  Cgroups& operator=(const Cgroups&) = delete;
  ~Cgroups();

  // Makes (or takes from the idle pool) the jail's cgroups and writes the limits: v2 one cgroup;
  // v1 memory and pids cgroups (whether limited or not; none only on a machine without these
  // controllers), cpu for a cpu limit, cpuset for CPUs or memory nodes (both also for
  // Limits::cpu_cgroups), devices for device rules (cpuset and devices never pooled: removed at
  // the end). v2: device rules are a device program attached to the cgroup (device_filter.hpp;
  // such a cgroup is never pooled). Both enforce jail_device_rules(). Errors name the file and
  // errno; whatever was made is removed again.
  // With a path (JailSpec::cgroup_path) the cgroups are there instead, in every hierarchy, never
  // pooled: made with their parents (v2: the controllers enabled on the way), or taken when they
  // exist without a process.
  static Result<Cgroups> create(const std::string& name, const Limits& limits,
                                const CgroupScope& scope = {}, const std::string& path = {});
  // Takes ownership of the cgroups of a handle (JailHandle::cgroup), for adopt/release.
  static Cgroups from_handle(const std::string& handle_cgroup);
  // The cgroups create(name, ...) would have made, those that exist: recovery of a jail whose
  // handle was never recorded (its daemon died between making the cgroups and writing the handle).
  static Cgroups named(const std::string& name, const CgroupScope& scope = {});

  bool empty() const { return dirs_.empty(); }
  bool v2() const { return v2_; }
  // v1: each of the jail's cgroups with the name of its hierarchy's mount point ("memory",
  // "cpu,cpuacct"), what a jail's /sys/fs/cgroup shows (AssembleOptions::cgroup_v1). Empty on v2.
  std::vector<std::pair<std::string, std::string>> v1_hierarchies() const;
  // "dir;dir;..." for JailHandle::cgroup.
  std::string handle_string() const;
  // v1: open `tasks` files the child writes "0" into to join. Not cgroup.procs: moving a whole
  // process takes the global cgroup_threadgroup_rwsem for writing, an RCU grace period whenever
  // no move happened lately (rcu_sync; 5-20 ms each under strace, the p99 of a spawn 17 ms),
  // while a single thread moving itself skips it (cgroup_procs_write_start); init is a single
  // thread then, so `tasks` moves all of it (the spawn's p99 fell to 6 ms). v2 has no such file:
  // its jails are cloned into their cgroup (CLONE_INTO_CGROUP, v2_dir_fd()).

  std::vector<int> join_fds() const;
  int v2_dir_fd() const { return v2_dir_fd_.get(); }
  // Closes the descriptors the child needed.
  void close_attach_fds();

  // How many times the memory limit's OOM killer fired (0 without a memory cgroup).
  std::uint64_t oom_kills() const;
  // Sends sig to every process in the jail's cgroups.
  Status signal_all(int sig) const;
  // Backend::freeze: v2 cgroup.freeze; v1 a freezer cgroup <freezer mount>/ljd-frozen/<name>
  // that the jail's processes are moved into and frozen (until none is left outside), then
  // thawed, moved back to this process's freezer cgroup and removed.
  Status freeze(bool frozen, const std::string& name) const;
  // Backend::update: the limits given are written (0: none), the others left. A limit whose
  // cgroup the jail was made without is Errc::unsupported.
  Status update(const LimitsUpdate& u) const;
  // Lets go of the directories without touching them: for a Cgroups made from a handle only to
  // freeze or update a jail someone else owns (the destructor would destroy them).
  void forget() {
    close_attach_fds();
    dirs_.clear();
  }
  // SIGKILLs everything left and removes the directories (returns made ones to the idle pool).
  // Idempotent; the first error is returned but every directory is still tried.
  Status destroy();

 private:
  // update's memory and swap, in the memory cgroup `dir` whose limit is in `file`.
  Status update_memory(const LimitsUpdate& u, const std::string& dir, const char* file) const;
  std::vector<std::string> dirs_;
  bool pooled_ = false;         // made by create(): may go back to the idle pool
  std::uint64_t oom_base_ = 0;  // the memory cgroup's oom_kill count when it was taken
  std::string memory_dir_;
  bool v2_ = false;
  std::vector<UniqueFd> join_;
  UniqueFd v2_dir_fd_;
};

}  // namespace lj::jail
