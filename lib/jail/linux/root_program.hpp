// Assembling a jail's root on Linux (the MountPlan of jail/root.hpp), in two halves:
//   compile_root()  runs in the parent (may allocate, may fail with an lj::Error): turns the plan
//                   into a flat list of mount steps whose strings are all prepared;
//   run_root()      runs in the freshly cloned child, inside its own private mount namespace,
//                   before anything is exec'd. It only makes syscalls (no allocation, no locks,
//                   no logging: the parent may be multi-threaded), and reports the first failure
//                   as {step, errno, detail} for the parent to turn into an error.
// Every mount made here lives in the jail's mount namespace only, so the kernel reclaims all of
// them when the jail's last process exits, even if the daemon is gone: there is nothing on the
// host to unmount. The exception is a root assembled in the spawner's own mount namespace
// (AssembleOptions::in_spawners_namespace, host_root.hpp), detached by the jail's teardown.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "jail/root.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

// Where a child-side step failed. `step` and `detail` point into static text or into the
// RootProgram, which outlives the child's use of it.
struct MountFailure {
  const char* step = "";
  int err = 0;
  const char* detail = "";
};

enum class OpKind : std::uint8_t {
  mount,      // mount(source, target, fstype, flags, data)
  mkdir,      // mkdir(target, mode); EEXIST is fine
  mknod,      // mknod(target, mode, dev)
  symlink,    // symlink(source, target)
  make_path,  // creates `parts` beneath `target` (a directory), refusing symlinks; the last part
              // is a file when `mode` is S_IFREG
  pivot,      // chdir(target); pivot_root(".", "."); umount2(".", MNT_DETACH); chdir("/")
  chroot,     // chdir(target); chroot("."); chdir("/"): pivot's stand-in in the spawner's own
              // mount namespace (AssembleOptions::in_spawners_namespace), whose root must stay
  setns,      // setns(fd, CLONE_NEWNET): the network namespace a sysfs mount shows
  write_file,  // writes `data` into the existing file `target` (a sysctl under /proc/sys)
  mask,        // `rel` beneath `target`: a directory gets an empty read-only tmpfs, anything else
               // /dev/null (`source`) bound over it; ENOENT skips it
  make_readonly,  // `rel` beneath `target` bound onto itself read-only; ENOENT skips it
  propagate,      // the mount at `rel` beneath `target` gets the propagation `flags`
  own,            // chmod(target, mode), then lchown(target, uid, gid): a made node's exact mode
                  // and owner (mknod's mode is cut by the umask)
};

struct MountOp {
  OpKind kind = OpKind::mount;
  const char* step = "";  // "mount overlay", "bind volume", ...: the error's verb
  std::string source, target, fstype, data;
  unsigned long flags = 0;
  mode_t mode = 0;
  dev_t dev = 0;
  uid_t uid = 0;  // own
  gid_t gid = 0;
  bool optional = false;  // ENOENT is not an error (a /proc entry this kernel does not have)
  // The source is a host path named by the caller (a volume): it is opened with no symlink on its
  // way and bound through that descriptor, so a path swapped for a symlink after the caller's
  // checks binds nothing (ELOOP) instead of what the link points at.
  bool source_nofollow = false;
  std::vector<std::string> parts;
  // Non-empty: the mount point is `rel` resolved beneath the directory `target` with no symlink
  // (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) and mounted on through its descriptor, so that
  // a path component swapped for a symlink after make_path mounts nothing outside the root
  // (runc's CVE-2021-30465).
  std::string rel;
  int fd = -1;  // setns: a descriptor number in the process that runs the program
  bool copy_up = false;  // mount with `rel`: FsMount::copy_up
};

struct RootProgram {
  std::string root;  // where the new root is assembled, before pivot_root
  std::vector<MountOp> ops;
};

struct AssembleOptions {
  // An existing, empty host directory. The child mounts a tmpfs on it (in its own namespace) to
  // hold the writable layer and the mount point of the new root.
  std::filesystem::path scratch;
  // Creating device nodes needs CAP_MKNOD in the initial user namespace; inside a user namespace
  // the host's nodes are bind-mounted instead.
  bool in_userns = false;
  // sysfs can only be mounted by a process owning its network namespace (not in userns+inherit).
  bool mount_sysfs = true;
  // Descriptor numbers (in the process that runs the program) of a network namespace whose sysfs
  // the jail's /sys shows, and of the jail's own to return to; -1: the jail's own sysfs. A sysfs
  // superblock is per network namespace, and each mount looks its superblock up in a list of all
  // of them: with one per jail, the 1,000th jail's mount walked 1,000 (perf at 1,000 live jails:
  // sget_fc/kernfs_test_super, ~0.5 ms a spawn). A shared namespace holding only a loopback
  // keeps that list short and shows the jail nothing of the host's interfaces.
  int sysfs_netns_fd = -1, own_netns_fd = -1;
  // Written under the jail's /proc/sys right after /proc is mounted ("net.ipv4.ip_forward", "1").
  std::vector<std::pair<std::string, std::string>> sysctl;
  // Host device nodes made in the jail's /dev at the same path (Grants::devices, validated).
  std::vector<std::string> devices;
  // Device nodes of the caller's type, numbers, mode and owner (Grants::nodes, validated).
  std::vector<DeviceNode> nodes;
  // The program runs in the spawner's own mount namespace (JoinedNamespaces::mnt naming it; the
  // scratch is then the jail's own, host_root.hpp): "/" is not made private (the host's
  // propagation stays as it is), the scratch tmpfs is made private right after it is mounted (so
  // nothing mounted under it propagates), and the program ends with chroot instead of pivot_root.
  bool in_spawners_namespace = false;
  // The jail's own v1 cgroups (hierarchy name, host directory: Cgroups::v1_hierarchies). A
  // "cgroup" FsMount is then a tmpfs with each bound at <mount point>/<name>, what runc shows on a
  // v1 host; empty (a v2 host, or no cgroups): a cgroup2 mount, seen from the jail's cgroup
  // namespace.
  std::vector<std::pair<std::string, std::string>> cgroup_v1;
};

// Checks the plan (check_plan, existing layers, no ',' or ':' in overlay layer paths) and
// compiles it. Errors: invalid_argument, not_found (domain "overlay", the wire code of v1).
Result<RootProgram> compile_root(const MountPlan& plan, const AssembleOptions& opts);

// Child side: executes the program, ending with pivot_root (or chroot) into the new root.
// Async-signal-safe.
// Returns false with *failure set on the first failed step.
// before_pivot, when set, runs in the new root's directory just before pivot_root; false from it
// stops the program (it sets *failure).
using BeforePivot = bool (*)(const void* arg, MountFailure* failure) noexcept;
bool run_root(const RootProgram& program, MountFailure* failure,
              BeforePivot before_pivot = nullptr, const void* arg = nullptr) noexcept;

}  // namespace lj::jail
