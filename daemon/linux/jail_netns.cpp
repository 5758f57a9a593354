#include "daemon/networks.hpp"
#include "net/linux/netns.hpp"

namespace lj::daemon {

// The jail's namespace now (one made ahead, with its first link waiting in it; else a new one),
// its links while its init assembles its root (Network::attach_links, on the backend's thread):
// the command starts once they are made, and a failed attach fails the spawn.
Status join_networks(net::Host& host, const NetPlan& plan, jail::JailSpec& spec, NetAttached& out) {
  out.netns = host.take_jail_netns();
  if (!out.netns) out.netns = LJ_TRY(net::new_netns());
  spec.network.mode = jail::NetworkMode::netns;
  spec.network.netns_fd = out.netns.get();
  spec.network.attach_links = [&host, &plan, &out, netns = out.netns.get()]() -> Status {
    net::JailTarget target;
    target.netns_fd = netns;
    return attach_links(host, plan, target, out);
  };
  return {};
}

}  // namespace lj::daemon
