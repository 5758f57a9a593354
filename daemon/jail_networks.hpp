// The networking part of POST /v1/jails (issue 14) as plain data: the networks a jail joins (with
// the address it asks for), its published ports, its resolver and extra host names. Decoded and
// encoded here so that jail_request.cpp calls one function each way.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon/json_fields.hpp"
#include "net/address.hpp"
#include "net/files.hpp"
#include "net/network.hpp"

namespace lj::daemon {

struct NetworkJoin {
  std::string name;                    // a network of ljd's ("default" is made on first use)
  std::optional<net::IpAddress> ip;    // the IPv4 address asked for; else the lowest free one
  std::optional<net::IpAddress> ip6;   // the same for a network with IPv6
};

struct JailNetworking {
  std::vector<NetworkJoin> networks;       // the first one carries the default route and ports
  std::vector<net::PublishedPort> ports;   // published on the first network
  std::vector<net::IpAddress> dns;         // nameservers for resolv.conf; empty: the host's
  std::vector<net::HostEntry> extra_hosts; // more /etc/hosts lines ("name:ip" in ljctl)
  bool any() const { return !networks.empty(); }
};

// The name of the network made on first use.
inline constexpr const char* kDefaultNetwork = "default";

// Reads `networks`, `ports`, `dns` and `extra_hosts` of a create body. Ports without networks
// join the default network. A field error is recorded on `f`.
JailNetworking decode_networking(Fields& f);
// Writes them back into a normalised create body (nothing when the jail joins no network).
void encode_networking(const JailNetworking& n, nlohmann::json& j);

}  // namespace lj::daemon
