// A MountPlan (jail/root.hpp) as the ordered table of FreeBSD mounts that executes it -- pure
// data, no FreeBSD header, so the stacking order is unit-tested on every platform
// (tests/freebsd). The executor (root_mounts.cpp) walks the table with nmount(2) and undoes it in reverse.
//
// The stack, bottom first (mount_nullfs(8), mount_unionfs(8), tmpfs(5), devfs(5)):
//   1. nullfs  layers[0] (the world)              -> root        read-only
//   2. unionfs layers[i], i >= 1 (oldest first)   -> root        read-only, copymode=transparent
//   3. tmpfs   (size=tmpfs_bytes when set)        -> upper       writable kind tmpfs only
//      unionfs upper (tmpfs, or host_dir/upper)   -> root        read-write; skipped for none
//   (in_place: step 1 is read-write and steps 2-3 are absent: the world is the root)
//   4. devfs   ruleset=N                          -> root/dev    nosuid, noexec
//   5. nullfs  volume.host_path                   -> root/<jail_path>  nosuid, ro when asked
// Every layer goes *above* what is already mounted, so unionfs's `below` is never needed (it
// only helps when the upper layer is mounted first). copymode=transparent keeps the owner and
// mode of a file copied up into the writable layer.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "jail/root.hpp"

namespace lj::jail::freebsd {

struct MountStep {
  std::string fstype;            // "nullfs", "unionfs", "tmpfs", "devfs"
  std::filesystem::path source;  // the directory mounted ("target" in nmount terms); empty for
                                 // tmpfs and devfs
  // Where: a host path (root, upper), or -- when jail_path is set -- that path inside the root,
  // resolved by the executor without following symlinks and created when the root is writable.
  std::filesystem::path target;
  std::string jail_path;
  std::vector<std::pair<std::string, std::string>> options;  // extra nmount name=value pairs
  bool read_only = false;
  bool nosuid = false;
  bool noexec = false;
  bool noatime = false;
};

// The table for `plan`, mounted at `root`, with the private tmpfs writable layer at `upper`
// (used only for the writable kind tmpfs). Sources are taken as given;
// the executor canonicalizes and checks them.
std::vector<MountStep> mount_steps(const MountPlan& plan, const std::filesystem::path& root,
                                   const std::filesystem::path& upper, int devfs_ruleset);

// The writable layer's host directory for `plan`: host_dir/upper, `upper` for the tmpfs case,
// layers[0] in place, or empty when the root is read-only.
std::filesystem::path upper_dir(const MountPlan& plan, const std::filesystem::path& upper);

}  // namespace lj::jail::freebsd
