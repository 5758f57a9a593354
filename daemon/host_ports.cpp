#include "daemon/host_ports.hpp"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

#include "common/fd.hpp"

namespace lj::daemon {

namespace {

// A bind to the wildcard address of one family; EAFNOSUPPORT (no IPv6 here) holds nothing.
bool bind_free(int family, std::uint16_t port, net::Proto proto) {
  UniqueFd fd(::socket(family, (proto == net::Proto::udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC,
                       0));
  if (!fd) return errno == EAFNOSUPPORT;
  if (family == AF_INET6) {
    int one = 1;  // the IPv4 side was probed on its own
    (void)::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    a.sin6_port = htons(port);
    a.sin6_addr = in6addr_any;
    return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 ||
           errno == EADDRNOTAVAIL;
  }
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

}  // namespace

Result<PortRange> parse_port_range(std::string_view text) {
  auto dash = text.find('-');
  PortRange r;
  if (dash == std::string_view::npos || !parse_port(text.substr(0, dash), &r.first) ||
      !parse_port(text.substr(dash + 1), &r.last) || r.first > r.last) {
    return fail(Errc::invalid_argument, "config",
                "`" + std::string(text) + "`: expected FIRST-LAST, ports 1-65535, FIRST <= LAST");
  }
  return r;
}

bool host_port_free(std::uint16_t port, net::Proto proto) {
  return bind_free(AF_INET, port, proto) && bind_free(AF_INET6, port, proto);
}

Result<ExposedPort> parse_exposed_port(std::string_view text) {
  ExposedPort e;
  std::string_view num = text, proto = "tcp";
  if (auto slash = text.find('/'); slash != std::string_view::npos) {
    num = text.substr(0, slash);
    proto = text.substr(slash + 1);
  }
  if (!parse_port(num, &e.port)) {
    return fail(Errc::invalid_argument, "image",
                "exposed port `" + std::string(text) + "`: expected N[/tcp|udp], 1-65535");
  }
  if (proto == "udp") {
    e.proto = net::Proto::udp;
  } else if (proto != "tcp") {
    return fail(Errc::invalid_argument, "image",
                "exposed port `" + std::string(text) + "`: only tcp and udp ports are published");
  }
  return e;
}

Result<std::vector<net::PublishedPort>> pick_host_ports(
    const std::vector<ExposedPort>& wanted, PortRange range, std::set<HostPortKey> taken,
    const std::function<bool(std::uint16_t, net::Proto)>& is_free, std::uint32_t* cursor) {
  std::vector<net::PublishedPort> out;
  const std::uint32_t size = static_cast<std::uint32_t>(range.last) - range.first + 1;
  for (const auto& w : wanted) {
    bool found = false;
    for (std::uint32_t tried = 0; tried < size && !found; ++tried) {
      auto port = static_cast<std::uint16_t>(range.first + (*cursor % size));
      *cursor = (*cursor + 1) % size;
      if (taken.count({port, w.proto}) || !is_free(port, w.proto)) continue;
      taken.insert({port, w.proto});
      net::PublishedPort p;
      p.host_port = port;
      p.jail_port = w.port;
      p.proto = w.proto;
      out.push_back(p);
      found = true;
    }
    if (!found) {
      return fail(Errc::conflict, "jail",
                  "no free host port left in " + std::to_string(range.first) + "-" +
                      std::to_string(range.last) + " for exposed port " + std::to_string(w.port) +
                      "/" + std::string(net::proto_name(w.proto)));
    }
  }
  return out;
}

}  // namespace lj::daemon
