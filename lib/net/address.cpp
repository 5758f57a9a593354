#include "net/address.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace lj::net {
namespace {

Error bad(std::string msg) { return Error(Errc::invalid_argument, "net", std::move(msg)); }

// Whether the first `len` bits of a and b agree.
bool same_prefix(const std::uint8_t* a, const std::uint8_t* b, int len) {
  int full = len / 8, rest = len % 8;
  if (!std::equal(a, a + full, b)) return false;
  if (rest == 0) return true;
  auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[full] & mask) == (b[full] & mask);
}

}  // namespace

Result<IpAddress> IpAddress::parse(std::string_view text) {
  std::string s(text);
  IpAddress a;
  if (::inet_pton(AF_INET, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::v4;
    return a;
  }
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) == 1) {
    a.family_ = Family::v6;
    return a;
  }
  return fail(bad("not an IP address: '" + s + "'"));
}

IpAddress IpAddress::v4(std::uint32_t h) {
  IpAddress a;
  a.family_ = Family::v4;
  a.bytes_[0] = static_cast<std::uint8_t>(h >> 24);
  a.bytes_[1] = static_cast<std::uint8_t>(h >> 16);
  a.bytes_[2] = static_cast<std::uint8_t>(h >> 8);
  a.bytes_[3] = static_cast<std::uint8_t>(h);
  return a;
}

std::string IpAddress::str() const {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

Result<Prefix> Prefix::parse(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos)
    return fail(bad("subnet needs a prefix length (10.88.0.0/16): '" + std::string(text) + "'"));
  Prefix p;
  p.addr_ = LJ_TRY(IpAddress::parse(text.substr(0, slash)));
  auto len = text.substr(slash + 1);
  auto [end, ec] = std::from_chars(len.data(), len.data() + len.size(), p.len_);
  if (ec != std::errc() || end != len.data() + len.size() || len.empty() || p.len_ < 0 ||
      p.len_ > p.addr_.bits())
    return fail(bad("bad prefix length in '" + std::string(text) + "'"));
  IpAddress zero;
  zero.family_ = p.addr_.family_;
  for (int bit = p.len_; bit < p.addr_.bits(); ++bit)
    if (p.addr_.bytes_[static_cast<std::size_t>(bit / 8)] & (0x80 >> (bit % 8)))
      return fail(bad(std::string("'").append(text).append(
          "' has host bits set: a subnet is its first address")));  // no -Wrestrict (g++ 12 -O3)
  return p;
}

std::string Prefix::str() const { return addr_.str() + "/" + std::to_string(len_); }

bool Prefix::contains(const IpAddress& a) const {
  return a.family() == addr_.family() && same_prefix(a.bytes(), addr_.bytes(), len_);
}

bool Prefix::overlaps(const Prefix& o) const {
  return o.addr_.family() == addr_.family() &&
         same_prefix(o.addr_.bytes(), addr_.bytes(), std::min(len_, o.len_));
}

std::optional<IpAddress> Prefix::nth(std::uint64_t offset) const {
  int host_bits = addr_.bits() - len_;
  if (host_bits < 64 && offset >> host_bits != 0) return std::nullopt;
  IpAddress a = addr_;
  // Big-endian add of a 64-bit offset into the low bytes; host bits start zero, so no carry
  // leaves the host part.
  std::uint64_t carry = offset;
  for (std::size_t i = a.size(); i-- > 0 && carry != 0;) {
    std::uint64_t sum = a.bytes_[i] + (carry & 0xff);
    a.bytes_[i] = static_cast<std::uint8_t>(sum);
    carry = (carry >> 8) + (sum >> 8);
  }
  return a;
}

IpAddress Prefix::last() const {
  IpAddress a = addr_;
  for (int bit = len_; bit < a.bits(); ++bit)
    a.bytes_[static_cast<std::size_t>(bit / 8)] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
  return a;
}

IpAddress default_gateway(const Prefix& subnet) { return *subnet.nth(1); }

Status check_subnet(const Prefix& subnet, const IpAddress& gateway) {
  int max = subnet.address().is_v4() ? 30 : 126;
  if (subnet.length() > max)
    return fail(bad("subnet " + subnet.str() + " is too small for jails (at most /" +
                    std::to_string(max) + ")"));
  if (!subnet.contains(gateway))
    return fail(bad("gateway " + gateway.str() + " is not in subnet " + subnet.str()));
  if (gateway == subnet.address() || (gateway.is_v4() && gateway == subnet.last()))
    return fail(bad("gateway " + gateway.str() + " is the network or broadcast address of " +
                    subnet.str()));
  return {};
}

Result<IpAddress> allocate(const Prefix& subnet, const IpAddress& gateway,
                           const std::vector<IpAddress>& leased,
                           const std::optional<IpAddress>& wanted) {
  const bool v4 = subnet.address().is_v4();
  auto reserved = [&](const IpAddress& a) {
    return a == subnet.address() || a == gateway || (v4 && a == subnet.last());
  };
  std::vector<IpAddress> taken = leased;
  std::sort(taken.begin(), taken.end());
  auto is_taken = [&](const IpAddress& a) {
    return std::binary_search(taken.begin(), taken.end(), a);
  };
  if (wanted) {
    if (!subnet.contains(*wanted))
      return fail(bad("address " + wanted->str() + " is not in subnet " + subnet.str()));
    if (reserved(*wanted))
      return fail(bad("address " + wanted->str() + " is reserved in " + subnet.str() +
                      " (network, gateway or broadcast)"));
    if (is_taken(*wanted))
      return fail(Errc::exists, "net", "address " + wanted->str() + " is already leased");
    return *wanted;
  }
  // Each lease or reserved address skips one candidate, so this ends within leases + 3 steps.
  for (std::uint64_t off = 1;; ++off) {
    auto a = subnet.nth(off);
    if (!a || (v4 && *a == subnet.last()))
      return fail(Errc::no_space, "net", "no free address left in " + subnet.str());
    if (!reserved(*a) && !is_taken(*a)) return *a;
  }
}

std::array<std::uint8_t, 6> mac_for(const IpAddress& v4) {
  const std::uint8_t* b = v4.bytes();
  return {0x02, 0x6c, b[0], b[1], b[2], b[3]};
}

}  // namespace lj::net
