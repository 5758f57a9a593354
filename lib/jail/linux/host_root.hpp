// A jail whose root is assembled in the spawner's own mount namespace (JoinedNamespaces::mnt naming
// it: an OCI config without a mount namespace, as runc's chroot mode). Its mounts are the host's,
// so the kernel does not reclaim them when the jail dies: they all hang under one scratch tmpfs of
// the jail's own, at a path derived from its name, which teardown and release() detach (one
// umount2 MNT_DETACH takes the whole tree). Nothing here changes the propagation of any mount
// but that tmpfs, which is made private right after it is mounted (root_program.cpp).
#pragma once

#include <string>
#include <string_view>
#include <utility>

#include "common/error.hpp"

namespace lj::jail {

// <kHostRoots>/<name>: the scratch mount point of the jail `name`; empty for a name that is no
// plain path component ("", ".", ".." or with a '/'), which never has one.
std::string host_root_scratch(std::string_view name);

// Whether the namespace file `ns_fd` is the calling process's own mount namespace.
Result<bool> is_own_mount_namespace(int ns_fd);

// Makes the jail's scratch mount point (an empty directory, mode 0700), detaching first what a
// dead jail of the same name may have left there.
Result<std::string> make_host_root_scratch(std::string_view name);

// Detaches whatever is mounted on the jail's scratch mount point (the whole tree under it) and
// removes the directory. Nothing there (no such jail, or a jail with a namespace of its own): done.
// Idempotent.
Status detach_host_root(std::string_view name);

}  // namespace lj::jail

namespace lj::jail {

// A spawn's hold on its scratch: detached when the spawn fails, let go (release) once the Jail,
// whose teardown detaches it by name, has taken over.
class HostRootLease {
 public:
  HostRootLease() = default;
  explicit HostRootLease(std::string name) : name_(std::move(name)) {}
  HostRootLease(const HostRootLease&) = delete;
  HostRootLease& operator=(const HostRootLease&) = delete;
  HostRootLease& operator=(HostRootLease&& o) noexcept {
    std::swap(name_, o.name_);
    return *this;
  }
  ~HostRootLease() {
    if (!name_.empty()) (void)detach_host_root(name_);
  }
  explicit operator bool() const { return !name_.empty(); }
  void release() { name_.clear(); }

 private:
  std::string name_;
};

}  // namespace lj::jail
