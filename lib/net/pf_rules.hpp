// ljd's pf rules (FreeBSD) as text, generated from plain data: portable so that it is unit-tested
// on any host. The host's pf.conf hooks ljd's anchors in once (docs/freebsd.md):
//
//   nat-anchor "ljd/*"
//   rdr-anchor "ljd/*"
//   anchor "ljd/*"
//
// and ljd loads one anchor per network ("ljd/net_<bridge>": egress NAT, isolation, internal
// networks closed) and one per jail link ("ljd/jail_<link>": published ports as rdr, anti-spoofing
// on the jail's bridge member). Loading an anchor replaces it whole, in one pf transaction;
// flushing it removes exactly ljd's rules of that network or jail.
#pragma once

#include <string>
#include <vector>

#include "net/network.hpp"

namespace lj::net::pf {

std::string network_anchor(const NetworkSpec& net);
std::string jail_anchor(const Endpoint& ep);

// The anchor's rules. `others`: the subnets of ljd's other networks (isolation); `egress`: the
// host's interface toward the outside (the default route's), whose address egress NAT takes.
std::string network_rules(const NetworkSpec& net, const std::vector<Prefix>& others,
                          const std::string& egress);
std::string jail_rules(const NetworkSpec& net, const Endpoint& ep);

}  // namespace lj::net::pf
