// ljd's nftables rules as text for libnftables, generated from plain data (pure: unit-tested
// without root). Two tables of ljd's own, so removal is exact and nothing of the host's is touched:
//
//   table inet ljd      NAT and forwarding. Base chains hook prerouting/output (DNAT of published
//                       ports: maps pub4/pub4any/pub6/pub6any, one element per port), forward and
//                       postrouting. Each network has three chains (out_B, in_B, nat_to_B) reached
//                       through verdict maps keyed by interface name, and its subnets in the
//                       egress NAT sets (egress4/6; postrouting knows no input interface), so adding or
//                       removing a network or a jail is adding or deleting map/set elements and
//                       chains: never a rule found by its handle.
//   table bridge ljd    Anti-spoofing on the bridges: a frame entering from a jail's port must carry
//                       one of that port's leased addresses (sets ports/allow4/allow6).
//
// Every text is one libnftables run, i.e. one netlink transaction: it applies whole or not at all.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "net/network.hpp"

namespace lj::net::nft {

// One field of a set element's key or of a map element's value.
struct Field {
  enum class Kind : std::uint8_t { ifname, address, proto, port };
  Kind kind = Kind::ifname;
  std::string ifname;
  IpAddress address;
  Proto proto = Proto::tcp;
  std::uint16_t port = 0;
};

// One element of a jail's in ljd's sets and maps, as data: written as text for libnftables
// (add_endpoint, remove_endpoint: recovery's transactions) and as bytes for an nf_tables netlink
// batch (nft_batch.hpp: a jail's start and end, without text to parse or a cache to fetch).
struct Element {
  bool bridge = false;  // in `table bridge ljd`, else in `table inet ljd`
  std::string set;
  std::vector<Field> key, value;  // value: a map's (empty for a set)
  bool exclusive = false;  // created: one that exists already fails the transaction (EEXIST)
};

// A jail's elements in the order they are added: its port and addresses in the anti-spoofing
// sets, then its published ports (exclusive). Removal deletes them in reverse: the port last, so
// its traffic stays checked until its addresses are gone.
std::vector<Element> endpoint_elements(const Endpoint& ep);
// "bridge ljd allow4 { "ljve-1" . 10.88.0.2 }" (the value only `with_value`, for an add).
std::string element_text(const Element& e, bool with_value);

// The tables, sets, maps and base chains with their rules. Idempotent (base chains are flushed
// and refilled in the same transaction).
std::string base();
// A network's chains, rules and map elements. Idempotent.
std::string add_network(const NetworkSpec& net);
// Removes them (the network's jails must be gone first).
std::string remove_network(const NetworkSpec& net);
// A jail's elements: its port in the spoofing sets, its published ports. The ports are created
// exclusively: a host port published already fails the whole text (EEXIST).
std::string add_endpoint(const NetworkSpec& net, const Endpoint& ep);
// The same elements deleted, as one text, and one text per element (to delete what is left when
// some are gone already: nftables 1.0.6 has no `destroy`).
std::string remove_endpoint(const NetworkSpec& net, const Endpoint& ep);
std::vector<std::string> remove_endpoint_each(const NetworkSpec& net, const Endpoint& ep);
// Both tables gone (absent ones too: each is added before it is deleted).
std::string remove_all();

}  // namespace lj::net::nft
