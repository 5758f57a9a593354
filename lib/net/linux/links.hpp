// The links of ljd's networks over rtnetlink (libnl-route-3): bridges with their gateway
// addresses, veth pairs whose jail end is made directly in the jail's network namespace, and the
// jail end's addresses and routes. A RouteSocket acts in the network namespace it was opened in.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/address.hpp"

struct nl_sock;

namespace lj::net::linux_links {

using Mac = std::array<std::uint8_t, 6>;

class RouteSocket {
 public:
  // A socket in the calling thread's network namespace.
  static Result<RouteSocket> open();
  // A socket in the namespace `netns_fd`: this thread enters it just long enough to open the
  // socket (a netlink socket stays bound to the namespace it was made in), so the rest of a
  // multi-threaded daemon never changes namespace.
  static Result<RouteSocket> open_in(int netns_fd);

  RouteSocket(RouteSocket&&) noexcept = default;
  RouteSocket& operator=(RouteSocket&&) noexcept = default;
  ~RouteSocket();

  // The interface's index, or 0 when there is none of that name.
  Result<int> ifindex(const std::string& name);
  struct Named {
    std::string name;
    std::string alias;  // IFLA_IFALIAS; empty when it has none
  };
  // The interfaces whose name starts with `prefix`, with their aliases.
  Result<std::vector<Named>> links_with_prefix(const std::string& prefix);

  // A bridge named `name`, up, route_localnet on (published ports reached from the host's
  // loopback, see ruleset.hpp), with `addrs` (gateway address + subnet prefix length). Made
  // when missing; an existing one is brought to this state. Its index.
  Result<int> ensure_bridge(const std::string& name, const std::vector<std::pair<IpAddress, int>>& addrs);
  // Deletes an interface; a missing one is not an error.
  Status remove(const std::string& name);
  // A veth pair: `here_end` in this socket's namespace, up, enslaved to `bridge_index` (0: to
  // none); `peer_end` made directly in the namespace `peer_netns_fd`, down, with the MAC
  // `peer_mac` (none: a random one).
  Status add_veth(const std::string& here_end, int bridge_index, const std::string& peer_end,
                  int peer_netns_fd, const std::optional<Mac>& peer_mac);
  // One request: the interface `index` (down) enslaved to `bridge_index`, up, with the alias
  // `alias` (a link of the pool joining a network). Not renamed: a rename re-registers the
  // link's IPv4, IPv6 and neighbour sysctl tables (NETDEV_CHANGENAME), ~0.3 ms at the median and
  // several ms at the 90th percentile, where enslaving and bringing it up take ~0.06 ms.
  Status join_bridge(int index, const std::string& alias, int bridge_index);
  // Inside a jail's namespace: addresses on `ifname`, up (with the MAC `mac` when given), and
  // default routes via the gateways.
  Status configure(const std::string& ifname, const std::vector<std::pair<IpAddress, int>>& addrs,
                   const std::vector<IpAddress>& gateways, const std::optional<Mac>& mac = {});
  // The same on the interface `index` (`ifname` names it in errors), as one batch: a single
  // sendmsg, the answers read together.
  Status configure(int index, const std::string& ifname,
                   const std::vector<std::pair<IpAddress, int>>& addrs,
                   const std::vector<IpAddress>& gateways, const std::optional<Mac>& mac = {});

 private:
  struct Free {
    void operator()(nl_sock* s) const;
  };
  explicit RouteSocket(nl_sock* s) : sk_(s) {}
  std::unique_ptr<nl_sock, Free> sk_;
};

}  // namespace lj::net::linux_links
