// Addresses and leases as plain data: an IP address (v4 or v6), a subnet, and the allocator that
// picks a free address in a subnet from the leases already handed out. No kernel, no storage: the
// daemon keeps the leases (index) and passes them in; the same code serves both platforms.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace lj::net {

class IpAddress {
 public:
  enum class Family : std::uint8_t { v4, v6 };

  IpAddress() = default;
  // "192.0.2.1", "2001:db8::1" (no prefix, no zone).
  static Result<IpAddress> parse(std::string_view text);
  static IpAddress v4(std::uint32_t host_order);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::v4; }
  int bits() const { return is_v4() ? 32 : 128; }
  // Network byte order; 4 or 16 bytes used.
  const std::uint8_t* bytes() const { return bytes_.data(); }
  std::size_t size() const { return is_v4() ? 4 : 16; }
  std::string str() const;

  auto operator<=>(const IpAddress&) const = default;

 private:
  friend class Prefix;
  Family family_ = Family::v4;
  std::array<std::uint8_t, 16> bytes_{};
};

class Prefix {
 public:
  Prefix() = default;
  // "10.88.0.0/16", "fd00:1::/64". Host bits must be zero (a subnet, not an address).
  static Result<Prefix> parse(std::string_view text);

  const IpAddress& address() const { return addr_; }
  int length() const { return len_; }
  std::string str() const;
  bool contains(const IpAddress& a) const;
  bool overlaps(const Prefix& o) const;
  // The address `offset` above the subnet's first (offset 0 = the network address), or nullopt
  // when it falls outside.
  std::optional<IpAddress> nth(std::uint64_t offset) const;
  // The subnet's last address (IPv4: broadcast).
  IpAddress last() const;

  auto operator<=>(const Prefix&) const = default;

 private:
  IpAddress addr_;
  int len_ = 0;
};

// The default gateway of a subnet: its first host address (10.88.0.1, fd00:1::1).
IpAddress default_gateway(const Prefix& subnet);

// Checks that a subnet can hold jails (IPv4: at most /30; IPv6: at most /126) and that the
// gateway lies inside it and is a host address. Errc::invalid_argument naming the problem.
Status check_subnet(const Prefix& subnet, const IpAddress& gateway);

// A free address in `subnet` for a new lease: `wanted` when given (Errc::invalid_argument when it
// lies outside the subnet or is the network, gateway or broadcast address; Errc::exists when it is
// leased), else the lowest address that is none of those and not in `leased`. Errc::no_space when
// the subnet is full. Never the network address, the gateway, or (IPv4) the broadcast address.
Result<IpAddress> allocate(const Prefix& subnet, const IpAddress& gateway,
                           const std::vector<IpAddress>& leased,
                           const std::optional<IpAddress>& wanted = std::nullopt);

// The MAC address of a jail's interface, derived from its IPv4 address (02:6c:a:b:c:d, locally
// administered). An address handed out again comes with the same MAC, so the neighbour caches of
// the other jails on the bridge stay right (a fresh random MAC would leave them pointing at the
// old one until they re-probe, seconds later).
std::array<std::uint8_t, 6> mac_for(const IpAddress& v4);

}  // namespace lj::net
