// The root of a jail, as the engine takes it: plain data that names directories, never worlds,
// overlays or images (lib/overlay, and in round 2 lib/image, resolve those into layer paths; an
// OCI runtime passes a bundle's rootfs). The backend assembles it (the mount plan):
//   Linux   (linux/root_program.*): overlayfs + binds inside the jail's own mount namespace, after
//           clone(2) and before pivot_root(2), so the kernel reclaims every mount when the jail
//           dies, even if its daemon is gone (docs/architecture.md).
//   FreeBSD (freebsd/root_mounts.*): global nullfs/unionfs/tmpfs/devfs mounts made by the parent,
//           each announced to the MountJournal before it is made, unmounted in reverse at teardown.
// Stack, bottom first: the read-only layers, the writable layer, then /dev, /proc (Linux) and the
// volumes on top.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace lj::jail {

// A host path bound into the jail. Persists: it is the host's, not the jail's.
struct Volume {
  std::filesystem::path host_path;  // absolute, must exist on the host, no symlink on its way
  std::string jail_path;            // absolute path inside the jail; created if missing
  bool read_only = false;
};

// A volume's mount options beyond the engine's (volumes are always nosuid,nodev): an OCI bind's.
// Kept beside the volumes, by jail_path, as Propagation is.
struct VolumeOptions {
  std::string jail_path;  // a volume's jail_path
  bool no_exec = false;   // nothing on it executes ("noexec")
  // Access-time updates, mount(8)'s names: "noatime", "relatime" (Linux only), "strictatime";
  // empty keeps what the host's mount of the source has.
  std::string atime;
};

// A mount's propagation inside the jail's mount namespace, mount(8)'s names: "shared",
// "slave", "private", "unbindable", each also with an "r" (recursive). The jail's namespace is
// made private from the host's first (Linux), so "shared" peers only the jail's own copies of
// the mount and "slave" has no master to receive from. Linux only.
struct Propagation {
  std::string jail_path;  // a volume's (or another mount's) jail_path
  std::string kind;
};

// What the jail writes into, above the read-only layers. One of four kinds, so that the
// combinations that make no sense (a host directory on a read-only root...) cannot be written.
struct WritableLayer {
  enum class Kind : std::uint8_t {
    tmpfs,     // a private tmpfs, discarded when the jail ends (the ephemeral default)
    host_dir,  // `dir` on the host holds upper/ and work/ (a build's staging layer); outlives
               // the jail
    none,      // no writable layer: the root is mounted read-only
    in_place,  // the single read-only layer is itself the writable root, bound read-write in
               // place (the seeds' `ljspawn -d $W` installing a world into $W; an OCI bundle's
               // rootfs without root.readonly)
  };
  Kind kind = Kind::tmpfs;
  std::filesystem::path dir;      // host_dir only
  std::uint64_t tmpfs_bytes = 0;  // tmpfs only: its size cap; 0 lets the kernel default apply
  // in_place only: the root is made read-only once every mount of the plan is made (just before
  // pivot_root), so that their mount points can be made in it first: an OCI bundle's rootfs with
  // root.readonly, in runc's order (containerd's CRI binds /etc/resolv.conf into a read-only pause
  // image that has none). Linux only: the FreeBSD backend refuses it.
  bool read_only_after_mounts = false;

  static WritableLayer tmpfs(std::uint64_t bytes = 0) { return {Kind::tmpfs, {}, bytes}; }
  static WritableLayer host_dir(std::filesystem::path d) { return {Kind::host_dir, std::move(d), 0}; }
  static WritableLayer none() { return {Kind::none, {}, 0}; }
  static WritableLayer in_place() { return {Kind::in_place, {}, 0}; }
  static WritableLayer in_place_read_only() { return {Kind::in_place, {}, 0, true}; }
};

// FreeBSD's mounts are global: the daemon records each one before it is made (index:
// add_jail_mount) and forgets it once it is undone, so that a crash can be unwound from the
// record. Either function may be empty. Ignored on Linux, whose mounts live and die in the jail's
// own mount namespace.
struct MountJournal {
  // Called before the mount is made; an error refuses it (the plan is unwound and fails with it).
  std::function<Status(const std::filesystem::path& target, const std::string& fstype)>
      before_mount;
  // Called once the mount is undone (or found already gone).
  std::function<void(const std::filesystem::path& target, const std::string& fstype)> after_unmount;
};

// A file system mounted in the jail (an OCI bundle's tmpfs, mqueue, cgroup mounts), on a mount
// point created beneath the root without following any symlink. `options` as in mount(8) and the
// OCI runtime spec ("ro", "nosuid", "nodev", "noexec", "mode=755", "size=64k"): flags are
// recognised by name, the rest is passed to the file system as its data.
struct FsMount {
  std::string fstype;
  std::string source;
  std::string jail_path;  // absolute, no ".."
  std::vector<std::string> options;  // may name a propagation, as Propagation::kind
  // A tmpfs that starts with a copy of what the directory it covers held (runc's "tmpcopyup",
  // which podman asks for with --tmpfs and --read-only): files, directories, symlinks and nodes
  // with their modes, owners and times. Linux.
  bool copy_up = false;
};

struct MountPlan {
  // Read-only layer directories, bottom first: layers[0] is the world (or an image's base layer,
  // or a bundle's rootfs), then each layer above it, oldest first.
  std::vector<std::filesystem::path> layers;
  WritableLayer writable;
  std::vector<Volume> volumes;
  // File systems mounted after the engine's /dev, /proc and /sys and before the volumes. An
  // entry of the engine's own kind and place (tmpfs on /dev, devpts on /dev/pts, tmpfs on
  // /dev/shm, proc on /proc, sysfs on /sys; its source is not used, nor its options but a sysfs
  // mount's `ro` with only_plan_masks) mounts the engine's own there instead, in this list's
  // order: an OCI config's mounts come in the listed order (runtime-spec config.md). Linux (the
  // FreeBSD backend refuses `mounts` yet).
  std::vector<FsMount> mounts;
  // Set once the mounts and volumes are made (an OCI config's bind options).
  std::vector<Propagation> propagation;
  std::vector<VolumeOptions> volume_options;
  // The options of the volume at `jail_path` (none: the engine's defaults).
  const VolumeOptions* options_of(const std::string& jail_path) const {
    for (const auto& o : volume_options)
      if (o.jail_path == jail_path) return &o;
    return nullptr;
  }
  // Paths in the jail made inaccessible (a file: /dev/null bound over it; a directory: an empty
  // read-only tmpfs) or read-only, after everything else is mounted; a path that does not exist
  // is skipped. The engine's own /proc masks apply regardless, unless only_plan_masks.
  std::vector<std::string> masked_paths, readonly_paths;
  // An OCI runtime's plan: /proc and /sys get the masks and read-only paths above and none of the
  // engine's own (its /proc masks and read-only entries, /sys/firmware), and a sysfs mount of the
  // plan's is read-only only with `ro`: the config decides, as under runc, whose privileged
  // containers (podman --privileged, a privileged pod) list no mask and mount /sys read-write.
  // Otherwise, for ljd's jails, the engine's apply to every jail. Linux.
  bool only_plan_masks = false;
  // No device node in the jail works but the engine's own /dev entries and its devpts: the root,
  // /dev and every mount are nodev and /dev's nodes are bound from the host's, so a node made
  // with CAP_MKNOD opens nothing. What an OCI device cgroup's "deny all, allow these" amounts to
  // when the allowed devices are the engine's (Linux; lib/oci sets it for linux.resources.devices).
  bool nodev = false;
  // With nodev: the jail's /dev alone is mounted without it (the root and every other mount keep
  // it), so that a node made there (Grants::nodes) opens when the jail's device rules let it, as
  // runc's /dev (podman's --device). Only with Limits::device_rules, which then guard every
  // node (the v1 devices cgroup or the v2 device program; validate_spec refuses it without).
  // Linux only.
  bool dev_guarded_by_rules = false;
  // The propagation of the jail's root mount once it is the root, as Propagation::kind (the
  // OCI config's linux.rootfsPropagation); "": the engine's private. Linux only.
  std::string root_propagation;
  // Where the FreeBSD executor reports its global mounts (see MountJournal).
  MountJournal journal;
};

// The checks both executors make before touching the kernel: at least one layer, absolute layer
// and volume paths, in_place with exactly one layer, host_dir with a directory. Errors are
// invalid_argument, domain "overlay" (the wire code root errors always had).
Status check_plan(const MountPlan& plan);

}  // namespace lj::jail
