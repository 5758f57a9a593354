#include <sys/types.h>
#include <sys/sysctl.h>

#include <utility>

#include "daemon/host_ports.hpp"

namespace lj::daemon {

Result<PortRange> ephemeral_port_range() {
  // The range bind(2) picks from for port 0 (ip(4), IP_PORTRANGE_DEFAULT).
  int first = 0, last = 0;
  size_t len = sizeof first;
  if (::sysctlbyname("net.inet.ip.portrange.first", &first, &len, nullptr, 0) != 0)
    return fail_errno("jail", "sysctl net.inet.ip.portrange.first");
  len = sizeof last;
  if (::sysctlbyname("net.inet.ip.portrange.last", &last, &len, nullptr, 0) != 0)
    return fail_errno("jail", "sysctl net.inet.ip.portrange.last");
  if (first > last) std::swap(first, last);  // the kernel accepts either order
  if (first < 1 || last > 65535) return fail(Errc::system, "jail", "net.inet.ip.portrange out of 1-65535");
  return PortRange{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
}

}  // namespace lj::daemon
