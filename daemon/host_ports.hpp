// Host ports for publish_all (ljctl run -P, docker's PublishAllPorts): every port an image's
// config exposes, published on a host port nothing else holds. The choice is the daemon's (lib/net
// publishes what it is given); ljd picks on the loop thread, before the jail's row is written,
// so two creates never pick the same port.
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "net/network.hpp"
#include "overlay/privileges.hpp"

namespace lj::daemon {

struct PortRange {
  std::uint16_t first = 0, last = 0;  // inclusive; first 0: unset
  bool set() const { return first != 0; }
};

using overlay::parse_port;  // a port number, 1..65535 (overlay/privileges.hpp)

// "FIRST-LAST", 1 <= FIRST <= LAST <= 65535 (ljd.conf's publish_port_range).
Result<PortRange> parse_port_range(std::string_view text);

// The range the host gives its own outgoing connections, which docker publishes from as well:
// Linux net.ipv4.ip_local_port_range (of ljd's network namespace), FreeBSD
// net.inet.ip.portrange.first/last. In the platform's host_ports.cpp.
Result<PortRange> ephemeral_port_range();

// Whether a socket of `proto` can bind `port` on the wildcard address now (IPv4, and IPv6 where
// the host has it): false while a host process listens there or holds the port.
bool host_port_free(std::uint16_t port, net::Proto proto);

struct ExposedPort {
  std::uint16_t port = 0;
  net::Proto proto = net::Proto::tcp;
};

// An ExposedPorts key of an image config: "80/tcp", "53/udp", "8080" (tcp). Another protocol
// (sctp) is an error: lib/net publishes tcp and udp only.
Result<ExposedPort> parse_exposed_port(std::string_view text);

using HostPortKey = std::pair<std::uint16_t, net::Proto>;

// Host ports for `wanted`, in order, from `range` round-robin starting at *cursor (moved past
// the last one picked, so a port a jail just released is not the next one handed out: its old
// connections may still be in conntrack), skipping `taken` (published by live jails) and ports
// `is_free` says something on the host holds. Errc::conflict when the range has none left.
Result<std::vector<net::PublishedPort>> pick_host_ports(
    const std::vector<ExposedPort>& wanted, PortRange range, std::set<HostPortKey> taken,
    const std::function<bool(std::uint16_t, net::Proto)>& is_free, std::uint32_t* cursor);

}  // namespace lj::daemon
