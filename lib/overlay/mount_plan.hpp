// MountPlan: the ordered mounts that make one jail's root, as data. The world sits at the bottom
// read-only, then the overlay chain (oldest first), then one writable layer; /dev, /proc and the
// volumes go on top. Executing a plan is platform code:
//   Linux   (linux/):   inside the jail's own mount namespace, after clone(2) and before
//                       pivot_root(2), so the kernel reclaims every mount when the jail dies, even
//                       if ljd is gone (see docs/architecture.md).
//   FreeBSD (freebsd/): global nullfs/unionfs/devfs mounts made by the parent, each recorded by its
//                       owner before it is made, unmounted in reverse at teardown.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace lj::overlay {

struct Volume {
  std::filesystem::path host_path;  // absolute, must exist on the host
  std::string jail_path;            // absolute path inside the jail; created if missing
  bool read_only = false;
};

// FreeBSD's mounts are global: the daemon records each one before it is made (index:
// add_jail_mount) and forgets it once it is undone, so that a crash can be unwound from the record.
// Either function may be empty. Ignored on Linux, whose mounts live and die in the jail's own
// mount namespace.
struct MountJournal {
  // Called before the mount is made; an error refuses it (the plan is unwound and fails with it).
  std::function<Status(const std::filesystem::path& target, const std::string& fstype)>
      before_mount;
  // Called once the mount is undone (or found already gone).
  std::function<void(const std::filesystem::path& target, const std::string& fstype)> after_unmount;
};

struct MountPlan {
  // Read-only layers, bottom first: lower[0] is the world, then each overlay's layer directory
  // (root/<ns>/<name>/<version>/layer), oldest ancestor first.
  std::vector<std::filesystem::path> lower;

  // The writable layer. Unset: a private tmpfs made inside the jail, discarded when the jail ends
  // (the ephemeral default). Set: a host directory holding "upper/" and "work/" (a build's staging
  // layer, published after the build), which outlives the jail.
  std::optional<std::filesystem::path> writable_dir;
  // Size cap of the private tmpfs writable layer; 0 lets the kernel default (half of RAM) apply.
  std::uint64_t writable_bytes = 0;

  // No writable layer at all: the root is mounted read-only.
  bool read_only = false;

  // The single lower directory (lower.size() == 1) is itself the writable root: bound read-write
  // in place, so the jail's writes land in it (the seeds' `ljspawn -d $W` installing a world into
  // $W). Excludes writable_dir and read_only.
  bool writable_lower = false;

  std::vector<Volume> volumes;

  // Where the executor reports global mounts (FreeBSD only; see MountJournal).
  MountJournal journal;
};

}  // namespace lj::overlay
