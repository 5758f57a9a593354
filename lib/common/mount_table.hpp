// What is mounted where, behind a tiny interface, so that nothing under the root is ever deleted
// while something is mounted at or below it: Bastille deleted users' data by removing a jail
// directory while a nullfs mount of a host directory inside it had failed to unmount
// (BastilleBSD/bastille issue #662, fixed by PR #749 in 2024). Removal code proves
// the path unmounted first (ensure_nothing_mounted), then removes without crossing devices
// (overlay/fs_ops.hpp remove_tree).
//
// Shared by every module that deletes trees it does not mount itself (lib/overlay's catalog,
// staging and world imports; lib/image's layer store in round 2), so it sits with the basics
// rather than in any of them. Errors keep the domain "overlay" (their wire code since v1).
//
// Scope: the mount table of the calling process. On FreeBSD that is the whole system (mounts are
// global). On Linux it is the caller's mount namespace: a jail's own mounts live in the jail's
// namespace and are reclaimed by the kernel with it; they sit under the jail's private root, not
// under overlay or world directories, which jails only use as overlayfs lower layers. Whether a
// live jail still *uses* a layer is the index's business (the daemon answers 409), not this one's.
#pragma once

#include <filesystem>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace lj {

class MountTable {
 public:
  virtual ~MountTable() = default;
  // Absolute mount points, as the kernel reports them.
  virtual Result<std::vector<std::filesystem::path>> mount_points() const = 0;
};

// The system's table: Linux parses /proc/self/mountinfo, FreeBSD asks getmntinfo(3).
// Lives for the whole program; thread-safe.
const MountTable& system_mount_table();

// A fixed list, for tests and for callers that already hold a table.
class StaticMountTable final : public MountTable {
 public:
  explicit StaticMountTable(std::vector<std::filesystem::path> points)
      : points_(std::move(points)) {}
  Result<std::vector<std::filesystem::path>> mount_points() const override { return points_; }

 private:
  std::vector<std::filesystem::path> points_;
};

// The mount points (field 5) of /proc/<pid>/mountinfo text (proc(5)), with the kernel's octal
// escapes (\040 space, \011 tab, \012 newline, \134 backslash) decoded. Malformed lines are an
// Errc::internal error naming the line number.
Result<std::vector<std::filesystem::path>> parse_mountinfo(std::string_view text);

// Success when nothing in `table` is mounted at `dir` or below it. `dir` is made canonical first
// (symlinks resolved, so /var/run and /run compare equal); a missing `dir` has nothing mounted.
// Otherwise Errc::conflict (domain "overlay") listing up to 5 of the mount points.
Status ensure_nothing_mounted(const MountTable& table, const std::filesystem::path& dir);

}  // namespace lj
