#include <fstream>

#include "daemon/host_ports.hpp"

namespace lj::daemon {

Result<PortRange> ephemeral_port_range() {
  // Per network namespace: ljd's own (ip-sysctl.rst, ip_local_port_range).
  const char* path = "/proc/sys/net/ipv4/ip_local_port_range";
  std::ifstream in(path);
  unsigned first = 0, last = 0;
  if (!(in >> first >> last) || first == 0 || first > last || last > 65535) {
    return fail(Errc::system, "jail", std::string("reading ") + path);
  }
  return PortRange{static_cast<std::uint16_t>(first), static_cast<std::uint16_t>(last)};
}

}  // namespace lj::daemon
