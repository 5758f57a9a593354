#include "net/linux/netns.hpp"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

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

}  // namespace lj::net
