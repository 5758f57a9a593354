// The cgroups of one jail: created with its limits before the jail starts, emptied (every
// process SIGKILLed) and removed when it ends, on every path (RAII).
//
// Which hierarchy: cgroup v2 when the unified hierarchy has the memory, pids and cpu controllers,
// else the v1 controllers (hybrid machines mount an empty cgroup2 beside v1 memory/pids/cpu).
// Detected once per process. Jail cgroups live under a "ljd" cgroup placed below this process's
// own cgroup of each controller, named by the jail's name.
#pragma once

#include <cstdint>
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
  bool memsw = false;                            // v1 memory.memsw.* present (swap accounting)
};

// The layout of this machine (computed on first call, then cached; thread-safe).
const CgroupLayout& cgroup_layout();

class Cgroups {
 public:
  Cgroups() = default;
  Cgroups(Cgroups&&) noexcept = default;
  Cgroups& operator=(Cgroups&& o) noexcept;
  Cgroups(const Cgroups&) = delete;
  Cgroups& operator=(const Cgroups&) = delete;
  ~Cgroups();

  // Makes the cgroups `limits` needs (none when it sets no memory, pids or cpu limit) and writes
  // the limits. Errors name the file and errno; whatever was made is removed again.
  static Result<Cgroups> create(const std::string& name, const Limits& limits);
  // Takes ownership of the cgroups of a handle (JailHandle::cgroup), for adopt/release.
  static Cgroups from_handle(const std::string& handle_cgroup);
  // The cgroups create(name, ...) would have made, those that exist: recovery of a jail whose
  // handle was never recorded (its daemon died between making the cgroups and writing the handle).
  static Cgroups named(const std::string& name);

  bool empty() const { return dirs_.empty(); }
  bool v2() const { return v2_; }
  // "dir;dir;..." for JailHandle::cgroup.
  std::string handle_string() const;
  // Open cgroup.procs files (v1) the child writes "0" into to join; a v2 directory fd for
  // CLONE_INTO_CGROUP (-1 when none).
  std::vector<int> procs_fds() const;
  int v2_dir_fd() const { return v2_dir_fd_.get(); }
  // Closes the descriptors the child needed.
  void close_attach_fds();

  // How many times the memory limit's OOM killer fired (0 without a memory cgroup).
  std::uint64_t oom_kills() const;
  // Sends sig to every process in the jail's cgroups.
  Status signal_all(int sig) const;
  // SIGKILLs everything left and removes the directories. Idempotent; the first error is
  // returned but every directory is still tried.
  Status destroy();

 private:
  std::vector<std::string> dirs_;
  std::string memory_dir_;
  bool v2_ = false;
  std::vector<UniqueFd> procs_;
  UniqueFd v2_dir_fd_;
};

}  // namespace lj::jail
