#include "net/linux/netns.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/mount.h>

#include <cstdlib>
#include <cstring>

namespace lj::net {

Result<UniqueFd> new_netns() {
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return fail_errno("net", "open /proc/thread-self/ns/net");
  if (::unshare(CLONE_NEWNET) != 0) return fail_errno("net", "unshare(CLONE_NEWNET)");
  Status up;
  UniqueFd made(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!made) up = fail_errno("net", "open the new namespace");
  {
    UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (up && (!s || ::ioctl(s.get(), SIOCGIFFLAGS, &ifr) != 0)) up = fail_errno("net", "lo flags");
    ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
    if (up && ::ioctl(s.get(), SIOCSIFFLAGS, &ifr) != 0) up = fail_errno("net", "lo up");
  }
  // This thread goes back whatever happened: a thread of a daemon left in a foreign namespace
  // must not go on.
  if (::setns(own.get(), CLONE_NEWNET) != 0) std::abort();
  if (!up) return fail(std::move(up).error());
  return made;
}

Result<UniqueFd> sysfs_of(int netns_fd) {
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!own) return fail_errno("net", "open /proc/thread-self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return fail_errno("net", "setns a jail's namespace");
  // sysfs takes the caller's network namespace at fsopen: made in there, it shows its links.
  Status made;
  UniqueFd mnt;
  UniqueFd fs(static_cast<int>(::syscall(SYS_fsopen, "sysfs", FSOPEN_CLOEXEC)));
  if (!fs) made = fail_errno("net", "fsopen sysfs");
  if (made && ::syscall(SYS_fsconfig, fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0)
    made = fail_errno("net", "fsconfig sysfs");
  if (made) {
    mnt.reset(static_cast<int>(::syscall(
        SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC,
        MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC)));
    if (!mnt) made = fail_errno("net", "fsmount sysfs");
  }
  if (::setns(own.get(), CLONE_NEWNET) != 0) std::abort();  // as in new_netns
  if (!made) return fail(std::move(made).error());
  return mnt;
}

}  // namespace lj::net
