#include <string>

#include "daemon/networks.hpp"

namespace lj::daemon {

// There is no namespace to make before a FreeBSD jail exists: the backend makes a VNET jail of its
// own (mode netns) and calls on_vnet with its jid before the command starts; each network's epair
// goes in then (lib/net/freebsd/host.cpp: SIOCSIFVNET, the jail end configured from inside, the
// jail's pf anchor). A failed attach fails the spawn, which removes the jail; the links made so far
// are in `out`, detached by its owner.
Status join_networks(net::Host& host, const NetPlan& plan, jail::JailSpec& spec, NetAttached& out) {
  spec.network.mode = jail::NetworkMode::netns;
  spec.network.on_vnet = [&host, &plan, &out](int jid) -> Status {
    net::JailTarget target;
    target.jail = std::to_string(jid);  // jail_getid(3) takes a jid as well as a name
    return attach_links(host, plan, target, out);
  };
  return {};
}

}  // namespace lj::daemon
