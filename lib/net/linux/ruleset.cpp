#include "net/linux/ruleset.hpp"

#include <algorithm>

namespace lj::net::nft {
namespace {

// Chain-name suffix of a network: its bridge name with '-' (not an nft identifier character)
// as '_'.
std::string id(const NetworkSpec& net) {
  std::string s = net.bridge;
  std::replace(s.begin(), s.end(), '-', '_');
  return s;
}

std::string q(const std::string& ifname) { return "\"" + ifname + "\""; }

Field ifname(const std::string& name) { return {Field::Kind::ifname, name, {}, {}, 0}; }
Field addr(const IpAddress& a) { return {Field::Kind::address, {}, a, {}, 0}; }
Field proto(Proto p) { return {Field::Kind::proto, {}, {}, p, 0}; }
Field port(std::uint16_t p) { return {Field::Kind::port, {}, {}, {}, p}; }

std::string field_text(const Field& f) {
  switch (f.kind) {
    case Field::Kind::ifname: return q(f.ifname);
    case Field::Kind::address: return f.address.str();
    case Field::Kind::proto: return std::string(proto_name(f.proto));
    case Field::Kind::port: return std::to_string(f.port);
  }
  return {};
}

std::string fields_text(const std::vector<Field>& fs) {
  std::string t;
  for (const auto& f : fs) t += (t.empty() ? "" : " . ") + field_text(f);
  return t;
}

// "egress4 { 10.88.0.0/24 }": a network's elements in the egress NAT sets (none when internal).
std::vector<std::string> egress_elements(const NetworkSpec& net) {
  std::vector<std::string> e;
  if (net.internal) return e;
  e.push_back("egress4 { " + net.subnet4.str() + " }");
  if (net.subnet6) e.push_back("egress6 { " + net.subnet6->str() + " }");
  return e;
}

// A network's chains and the interface-keyed verdict map that reaches each.
struct NetChain {
  const char* map;
  const char* prefix;
};
const NetChain kNetChains[] = {{"out_of", "out_"}, {"into", "in_"}, {"snat_to", "nat_to_"}};

}  // namespace

std::vector<Element> endpoint_elements(const Endpoint& ep) {
  std::vector<Element> e;
  e.push_back({true, "ports", {ifname(ep.link)}, {}, false});
  e.push_back({true, "allow4", {ifname(ep.link), addr(ep.address4)}, {}, false});
  if (ep.address6) e.push_back({true, "allow6", {ifname(ep.link), addr(*ep.address6)}, {}, false});
  // Published ports: pub4 (one host address) or pub4any, and the same for IPv6.
  for (const auto& p : ep.ports) {
    auto one = [&](const char* map, std::vector<Field> key, const IpAddress& to) {
      e.push_back({false, map, std::move(key), {addr(to), port(p.jail_port)}, true});
    };
    if (p.host_ip) {
      const IpAddress& h = *p.host_ip;
      if (h.is_v4())
        one("pub4", {addr(h), proto(p.proto), port(p.host_port)}, ep.address4);
      else if (ep.address6)
        one("pub6", {addr(h), proto(p.proto), port(p.host_port)}, *ep.address6);
    } else {
      one("pub4any", {proto(p.proto), port(p.host_port)}, ep.address4);
      if (ep.address6) one("pub6any", {proto(p.proto), port(p.host_port)}, *ep.address6);
    }
  }
  return e;
}

std::string element_text(const Element& e, bool with_value) {
  std::string t = std::string(e.bridge ? "bridge" : "inet") + " ljd " + e.set + " { " +
                  fields_text(e.key);
  if (with_value && !e.value.empty()) t += " : " + fields_text(e.value);
  return t + " }";
}

std::string base() {
  return R"(add table inet ljd
add set inet ljd bridges { type ifname; }
add map inet ljd pub4 { type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }
add map inet ljd pub4any { type inet_proto . inet_service : ipv4_addr . inet_service; }
add map inet ljd pub6 { type ipv6_addr . inet_proto . inet_service : ipv6_addr . inet_service; }
add map inet ljd pub6any { type inet_proto . inet_service : ipv6_addr . inet_service; }
add map inet ljd out_of { type ifname : verdict; }
add map inet ljd into { type ifname : verdict; }
add set inet ljd egress4 { type ipv4_addr; flags interval; }
add set inet ljd egress6 { type ipv6_addr; flags interval; }
add map inet ljd snat_to { type ifname : verdict; }
add chain inet ljd publish
add chain inet ljd prerouting { type nat hook prerouting priority dstnat; policy accept; }
add chain inet ljd output { type nat hook output priority -100; policy accept; }
add chain inet ljd forward { type filter hook forward priority filter; policy accept; }
add chain inet ljd postrouting { type nat hook postrouting priority srcnat; policy accept; }
flush chain inet ljd publish
flush chain inet ljd prerouting
flush chain inet ljd output
flush chain inet ljd forward
flush chain inet ljd postrouting
add rule inet ljd publish meta nfproto ipv4 dnat ip to ip daddr . meta l4proto . th dport map @pub4
add rule inet ljd publish meta nfproto ipv4 dnat ip to meta l4proto . th dport map @pub4any
add rule inet ljd publish meta nfproto ipv6 dnat ip6 to ip6 daddr . meta l4proto . th dport map @pub6
add rule inet ljd publish meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @pub6any
add rule inet ljd prerouting fib daddr type local jump publish
add rule inet ljd output fib daddr type local jump publish
add rule inet ljd forward iifname vmap @out_of
add rule inet ljd forward oifname vmap @into
add rule inet ljd postrouting ip saddr @egress4 oifname != @bridges masquerade
add rule inet ljd postrouting ip6 saddr @egress6 oifname != @bridges masquerade
add rule inet ljd postrouting oifname vmap @snat_to
add table bridge ljd
add set bridge ljd ports { type ifname; }
add set bridge ljd allow4 { type ifname . ipv4_addr; }
add set bridge ljd allow6 { type ifname . ipv6_addr; }
add chain bridge ljd prerouting { type filter hook prerouting priority -200; policy accept; }
flush chain bridge ljd prerouting
add rule bridge ljd prerouting iifname != @ports accept
add rule bridge ljd prerouting iifname . ip saddr != @allow4 drop
add rule bridge ljd prerouting iifname . arp saddr ip != @allow4 drop
add rule bridge ljd prerouting ip6 saddr { ::, fe80::/10 } accept
add rule bridge ljd prerouting iifname . ip6 saddr != @allow6 drop
)";
}

std::string add_network(const NetworkSpec& net) {
  const std::string n = id(net), b = q(net.bridge);
  std::string t;
  for (const auto& c : kNetChains) {
    t += "add chain inet ljd " + std::string(c.prefix) + n + "\n";
    t += "flush chain inet ljd " + std::string(c.prefix) + n + "\n";
  }
  auto rule = [&](const char* chain, const std::string& r) {
    t += "add rule inet ljd " + std::string(chain) + n + " " + r + "\n";
  };
  // Routed out of the network (the host forwards what a jail sends): within it, to a published
  // port anywhere (DNAT done), to the outside unless internal; never into another network.
  rule("out_", "oifname " + b + " accept");
  if (net.internal) {
    rule("out_", "drop");
  } else {
    rule("out_", "ct status dnat accept");
    rule("out_", "oifname @bridges drop");
  }
  // Routed into the network: from itself (hairpin), replies, published ports; nothing else.
  rule("in_", "iifname " + b + " accept");
  if (!net.internal) {
    rule("in_", "ct state established,related accept");
    rule("in_", "ct status dnat accept");
  }
  rule("in_", "drop");
  // Egress NAT: what a jail sends out of the host takes the host's address; by source subnet
  // (sets egress4/6, base chain postrouting), as postrouting knows no input interface.
  // Into the network: a published port reached from the host's loopback (127/8 cannot leave
  // lo: the bridge has route_localnet, and the source becomes the gateway), and a jail reaching a
  // published port of its own network through the host (hairpin: the reply must come back
  // through the host to be un-DNATed, not straight from the peer).
  rule("nat_to_", "ip saddr 127.0.0.0/8 masquerade");
  rule("nat_to_", "ip saddr " + net.subnet4.str() + " ct status dnat masquerade");
  if (net.subnet6) rule("nat_to_", "ip6 saddr " + net.subnet6->str() + " ct status dnat masquerade");
  t += "add element inet ljd bridges { " + b + " }\n";
  for (const auto& c : kNetChains)
    t += "add element inet ljd " + std::string(c.map) + " { " + b + " : jump " + c.prefix + n + " }\n";
  for (const auto& e : egress_elements(net)) t += "add element inet ljd " + e + "\n";
  return t;
}

std::string remove_network(const NetworkSpec& net) {
  const std::string n = id(net), b = q(net.bridge);
  std::string t;
  for (const auto& c : kNetChains)
    t += "delete element inet ljd " + std::string(c.map) + " { " + b + " }\n";
  for (const auto& e : egress_elements(net)) t += "delete element inet ljd " + e + "\n";
  t += "delete element inet ljd bridges { " + b + " }\n";
  for (const auto& c : kNetChains) t += "delete chain inet ljd " + std::string(c.prefix) + n + "\n";
  return t;
}

std::string add_endpoint(const NetworkSpec&, const Endpoint& ep) {
  std::string t;
  for (const auto& e : endpoint_elements(ep))
    t += (e.exclusive ? "create element " : "add element ") + element_text(e, true) + "\n";
  return t;
}

std::vector<std::string> remove_endpoint_each(const NetworkSpec&, const Endpoint& ep) {
  std::vector<std::string> out;
  auto all = endpoint_elements(ep);
  for (auto it = all.rbegin(); it != all.rend(); ++it)
    out.push_back("delete element " + element_text(*it, false) + "\n");
  return out;
}

std::string remove_endpoint(const NetworkSpec& net, const Endpoint& ep) {
  std::string t;
  for (const auto& s : remove_endpoint_each(net, ep)) t += s;
  return t;
}

std::string remove_all() {
  return "add table inet ljd\ndelete table inet ljd\nadd table bridge ljd\ndelete table bridge ljd\n";
}

}  // namespace lj::net::nft
