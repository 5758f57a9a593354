#include "daemon/networks.hpp"
#include "net/linux/netns.hpp"

namespace lj::daemon {

Status join_networks(net::Host& host, const NetPlan& plan, jail::JailSpec& spec, NetAttached& out) {
  // One made ahead, with its first link waiting in it; else a new one.
  out.netns = host.take_jail_netns();
  if (!out.netns) out.netns = LJ_TRY(net::new_netns());
  net::JailTarget target;
  target.netns_fd = out.netns.get();
  for (const auto& j : plan.joins) {
    auto link = host.attach(j.net, j.ep, target);
    if (!link) return fail(std::move(link).error().context("joining network " + j.net.name));
    out.links.push_back(std::move(*link));
  }
  spec.network.mode = jail::NetworkMode::netns;
  spec.network.netns_fd = out.netns.get();
  return {};
}

}  // namespace lj::daemon
