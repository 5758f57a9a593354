// Assembles a jail's root (the MountPlan of jail/root.hpp) on FreeBSD: global nullfs/unionfs/tmpfs/devfs mounts made by the parent
// (FreeBSD has no mount namespaces), each one announced to the caller's journal BEFORE it is made,
// and all of them unmounted in reverse by an RAII owner that proves nothing is left mounted before
// it removes a single directory.
//
// Layout of one jail's directory (`jail_dir`, e.g. <root>/.ljd/jails/<name>):
//   root/    the mount point of the assembled root (what jail_set(2) gets as `path`)
//   upper/   the private tmpfs writable layer (writable kind tmpfs only)
//
// The mounts themselves, their order and options are the table of root_steps.hpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/root.hpp"

namespace lj::jail::freebsd {

// One global mount, as the daemon's index records it (daemon/index: add_jail_mount).
struct MountRecord {
  std::filesystem::path target;  // the mount point, absolute and canonical
  std::string fstype;            // "nullfs", "unionfs", "tmpfs", "devfs"
  std::string source;            // the directory mounted (empty for tmpfs/devfs)
};

struct RootOptions {
  // The jail's own directory: created (0700) if missing; must not be mounted on already.
  std::filesystem::path jail_dir;
  // devfs(8) ruleset applied to root/dev. 4 is devfsrules_jail in /etc/defaults/devfs.rules
  // (loaded when devfs_load_rulesets=YES). 0 leaves /dev unrestricted and is refused.
  int devfs_ruleset = 4;
  // Called with each mount BEFORE it is made; a failure aborts the plan (and unwinds it) without
  // making that mount. May be empty.
  std::function<Status(const MountRecord&)> before_mount;
  // Called after a mount was undone (or found already gone), and for a mount announced by
  // before_mount that the kernel then refused. May be empty.
  std::function<void(const MountRecord&)> after_unmount;
};

// Owns the mounts of one jail root. Move-only. The destructor unmounts whatever is still mounted
// (logging, not throwing, when that fails); call unmount() to learn the outcome.
class MountedRoot {
 public:
  // Mounts the plan. On failure every mount already made is undone and the directories this call
  // created are removed before returning. Errors: invalid_argument (check_plan, relative or
  // escaping volume paths, devfs_ruleset 0), not_found (a layer or volume source is missing),
  // the nmount(2) errno with the kernel's errmsg text otherwise.
  static Result<MountedRoot> mount(const MountPlan& plan, RootOptions options);

  MountedRoot(MountedRoot&& other) noexcept;
  MountedRoot& operator=(MountedRoot&& other) noexcept;
  MountedRoot(const MountedRoot&) = delete;
  MountedRoot& operator=(const MountedRoot&) = delete;
  ~MountedRoot();

  // The assembled root: jail_dir/root.
  const std::filesystem::path& root() const { return root_; }
  // The host directory of the writable layer (tmpfs upper/ or host_dir/upper); empty when the
  // root is read-only.
  const std::filesystem::path& upper() const { return upper_; }
  const std::vector<MountRecord>& mounts() const { return mounts_; }

  // Unmounts in reverse with unmount(2) (a busy file system is retried for a short while, never
  // forced), proves with getfsstat(2) that nothing is mounted at or under jail_dir, then removes
  // the directories it created with rmdir(2) only: a directory that is not empty stays, with an
  // error. Idempotent.
  Status unmount();

 private:
  MountedRoot() = default;

  RootOptions options_;
  std::filesystem::path root_;
  std::filesystem::path upper_;
  std::vector<MountRecord> mounts_;             // in mount order
  std::vector<std::filesystem::path> created_;  // directories made by us, in creation order
  bool released_ = true;
};

// The mount points at or under `dir` in the kernel's mount table, in mount order (getfsstat(2)
// lists mounts oldest first). `dir` must be canonical.
Result<std::vector<MountRecord>> mounts_under(const std::filesystem::path& dir);

// Crash recovery from the directory alone: unmounts everything at or under jail_dir, newest
// first, proves nothing is left, then rmdir(2)s jail_dir/root, jail_dir/upper and jail_dir.
// Idempotent: a missing jail_dir is success.
Status release_jail_dir(const std::filesystem::path& jail_dir,
                        const std::function<void(const MountRecord&)>& after_unmount = {});

}  // namespace lj::jail::freebsd
