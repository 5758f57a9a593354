#include "net/pf_rules.hpp"

#include <algorithm>

namespace lj::net::pf {
namespace {

std::string ident(std::string s) {
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

}  // namespace

std::string network_anchor(const NetworkSpec& net) { return "ljd/net_" + ident(net.bridge); }
std::string jail_anchor(const Endpoint& ep) { return "ljd/jail_" + ident(ep.link); }

std::string network_rules(const NetworkSpec& net, const std::vector<Prefix>& others,
                          const std::string& egress) {
  const std::string& b = net.bridge;
  std::string t;
  if (!others.empty()) {
    t += "table <ljd_others> const {";
    for (const auto& o : others) t += " " + o.str();
    t += " }\n";
  }
  if (!net.internal) {
    // Egress NAT: what a jail sends out of the host takes the egress interface's address.
    t += "nat on " + egress + " inet from " + net.subnet4.str() + " to any -> (" + egress + ":0)\n";
    if (net.subnet6)
      t += "nat on " + egress + " inet6 from " + net.subnet6->str() + " to any -> (" + egress + ":0)\n";
  }
  // Isolation: nothing routed from this network into another of ljd's.
  if (!others.empty()) t += "block drop in quick on " + b + " from any to <ljd_others>\n";
  if (net.internal) {
    // No way out, and nothing routed in: only the host itself (the gateway) talks to its jails.
    t += "block drop in quick on " + b + " from any to ! " + b + ":network\n";
    t += "block drop out quick on " + b + " from ! " + b + ":network to any\n";
  }
  return t;
}

std::string jail_rules(const NetworkSpec&, const Endpoint& ep) {
  std::string t;
  for (const auto& p : ep.ports) {
    const std::string proto(proto_name(p.proto));
    auto rdr = [&](const char* family, const std::string& to, const IpAddress& jail) {
      t += "rdr pass " + std::string(family) + " proto " + proto + " from any to " + to + " port " +
           std::to_string(p.host_port) + " -> " + jail.str() + " port " +
           std::to_string(p.jail_port) + "\n";
    };
    if (p.host_ip) {
      if (p.host_ip->is_v4())
        rdr("inet", p.host_ip->str(), ep.address4);
      else if (ep.address6)
        rdr("inet6", p.host_ip->str(), *ep.address6);
    } else {
      // Any address of the host's, followed as they change.
      rdr("inet", "(self)", ep.address4);
      if (ep.address6) rdr("inet6", "(self)", *ep.address6);
    }
  }
  // Anti-spoofing on the jail's bridge member (net.link.bridge.pfil_member=1, the default).
  t += "block drop in quick on " + ep.link + " inet from ! " + ep.address4.str() + " to any\n";
  if (ep.address6)
    t += "block drop in quick on " + ep.link + " inet6 from ! { " + ep.address6->str() +
         " fe80::/10 } to any\n";
  else
    t += "block drop in quick on " + ep.link + " inet6 from ! fe80::/10 to any\n";
  return t;
}

}  // namespace lj::net::pf
