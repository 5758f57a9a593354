// The links of ljd's networks over rtnetlink (libnl-route-3): bridges with their gateway
// addresses, veth pairs whose jail end is made directly in the jail's network namespace, and the
// jail end's addresses and routes. A RouteSocket acts in the network namespace it was opened in.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "net/address.hpp"

struct nl_sock;

namespace lj::net::linux_links {

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
  // Names of the interfaces whose name starts with `prefix`.
  Result<std::vector<std::string>> names_with_prefix(const std::string& prefix);

  // A bridge named `name`, up, route_localnet on (published ports reached from the host's
  // loopback, see ruleset.hpp), with `addrs` (gateway address + subnet prefix length). Made
  // when missing; an existing one is brought to this state.
  Status ensure_bridge(const std::string& name, const std::vector<std::pair<IpAddress, int>>& addrs);
  // Deletes an interface; a missing one is not an error.
  Status remove(const std::string& name);
  // A veth pair: `host_end` here, enslaved to `bridge_index` and up; `jail_end` made directly in
  // the namespace `netns_fd`, with the MAC `mac`.
  Status add_veth(const std::string& host_end, int bridge_index, const std::string& jail_end,
                  int netns_fd, const std::array<std::uint8_t, 6>& mac);
  // Inside a jail's namespace: addresses on `ifname`, up, and default routes via the gateways.
  Status configure(const std::string& ifname, const std::vector<std::pair<IpAddress, int>>& addrs,
                   const std::vector<IpAddress>& gateways);

 private:
  struct Free {
    void operator()(nl_sock* s) const;
  };
  explicit RouteSocket(nl_sock* s) : sk_(s) {}
  std::unique_ptr<nl_sock, Free> sk_;
};

}  // namespace lj::net::linux_links
