#include "jail/linux/host_root.hpp"

#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "jail/linux/ns_file.hpp"

namespace lj::jail {
namespace {

// Beside the namespaced jails' shared /run/lj-scratch (spawn.cpp), which each of them covers with
// a tmpfs of its own in its own namespace: these are mounted in the host's, one per jail.
constexpr const char* kHostRoots = "/run/lj-host-roots";

}  // namespace

std::string host_root_scratch(std::string_view name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos)
    return {};
  return std::string(kHostRoots) + "/" + std::string(name);
}

Result<bool> is_own_mount_namespace(int ns_fd) {
  return same_namespace("/proc/self/fd/" + std::to_string(ns_fd), "/proc/self/ns/mnt");
}

Result<std::string> make_host_root_scratch(std::string_view name) {
  const std::string dir = host_root_scratch(name);
  if (dir.empty()) return fail(Errc::invalid_argument, "jail", "jail name is no path component");
  LJ_TRY(detach_host_root(name));
  if (::mkdir(kHostRoots, 0700) != 0 && errno != EEXIST)
    return fail_errno("jail", std::string("mkdir ") + kHostRoots);
  if (::mkdir(dir.c_str(), 0700) != 0) return fail_errno("jail", "mkdir " + dir);
  return dir;
}

Status detach_host_root(std::string_view name) {
  const std::string dir = host_root_scratch(name);
  if (dir.empty()) return {};
  // A scratch tmpfs per spawn; more than one only if a crashed spawn's was left under a new one.
  for (int i = 0; i < 8; ++i) {
    if (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) continue;
    if (errno == ENOENT) return {};  // no such directory: nothing of this jail's
    if (errno == EINVAL) break;      // not a mount point (any more)
    return fail_errno("jail", "umount2 " + dir);
  }
  if (::rmdir(dir.c_str()) != 0 && errno != ENOENT)
    return fail_errno("jail", "rmdir " + dir);
  return {};
}

}  // namespace lj::jail
