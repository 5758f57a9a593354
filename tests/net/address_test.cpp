#include "net/address.hpp"

#include <gtest/gtest.h>

namespace lj::net {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }
Prefix pfx(const char* s) { return *Prefix::parse(s); }

TEST(Address, ParsesAndFormats) {
  EXPECT_EQ(ip("10.88.0.1").str(), "10.88.0.1");
  EXPECT_EQ(ip("fd00:0:0::1").str(), "fd00::1");
  EXPECT_FALSE(IpAddress::parse("10.88.0.256"));
  EXPECT_FALSE(IpAddress::parse("10.88.0.1/24"));
  EXPECT_EQ(pfx("10.88.0.0/16").str(), "10.88.0.0/16");
  EXPECT_EQ(pfx("fd00:1::/64").last().str(), "fd00:1::ffff:ffff:ffff:ffff");
  EXPECT_EQ(IpAddress::parse("x").error().errc(), Errc::invalid_argument);
}

TEST(Address, RefusesBadSubnets) {
  EXPECT_FALSE(Prefix::parse("10.88.0.1/16"));  // host bits
  EXPECT_FALSE(Prefix::parse("10.88.0.0"));
  EXPECT_FALSE(Prefix::parse("10.88.0.0/33"));
  EXPECT_FALSE(Prefix::parse("10.88.0.0/1x"));
  EXPECT_FALSE(check_subnet(pfx("10.0.0.0/31"), ip("10.0.0.1")));
  EXPECT_FALSE(check_subnet(pfx("10.0.0.0/24"), ip("10.0.1.1")));
  EXPECT_FALSE(check_subnet(pfx("10.0.0.0/24"), ip("10.0.0.255")));
  EXPECT_TRUE(check_subnet(pfx("10.0.0.0/30"), ip("10.0.0.1")));
}

TEST(Address, ContainsAndOverlaps) {
  EXPECT_TRUE(pfx("10.88.0.0/16").contains(ip("10.88.255.3")));
  EXPECT_FALSE(pfx("10.88.0.0/16").contains(ip("10.89.0.3")));
  EXPECT_FALSE(pfx("10.88.0.0/16").contains(ip("fd00::1")));
  EXPECT_TRUE(pfx("10.88.0.0/16").overlaps(pfx("10.88.4.0/24")));
  EXPECT_TRUE(pfx("10.88.4.0/24").overlaps(pfx("10.0.0.0/8")));
  EXPECT_FALSE(pfx("10.88.0.0/16").overlaps(pfx("10.89.0.0/16")));
}

TEST(Allocate, LowestFreeNeverReserved) {
  Prefix s = pfx("10.0.0.0/29");  // .0 network, .1 gateway, .7 broadcast: .2-.6 for jails
  IpAddress gw = default_gateway(s);
  EXPECT_EQ(gw.str(), "10.0.0.1");
  std::vector<IpAddress> leased;
  for (const char* want : {"10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"}) {
    auto a = allocate(s, gw, leased);
    ASSERT_TRUE(a) << a.error().what();
    EXPECT_EQ(a->str(), want);
    leased.push_back(*a);
  }
  auto full = allocate(s, gw, leased);
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().errc(), Errc::no_space);
  // A freed address in the middle is the next one handed out.
  leased.erase(leased.begin() + 2);
  EXPECT_EQ(allocate(s, gw, leased)->str(), "10.0.0.4");
}

TEST(Allocate, GatewayElsewhereIsSkipped) {
  Prefix s = pfx("10.0.0.0/24");
  auto a = allocate(s, ip("10.0.0.2"), {ip("10.0.0.1")});
  EXPECT_EQ(a->str(), "10.0.0.3");
}

TEST(Allocate, WantedAddress) {
  Prefix s = pfx("10.0.0.0/24");
  IpAddress gw = ip("10.0.0.1");
  EXPECT_EQ(allocate(s, gw, {}, ip("10.0.0.77"))->str(), "10.0.0.77");
  EXPECT_EQ(allocate(s, gw, {ip("10.0.0.77")}, ip("10.0.0.77")).error().errc(), Errc::exists);
  for (const char* bad : {"10.0.0.0", "10.0.0.1", "10.0.0.255", "10.0.1.5", "fd00::5"})
    EXPECT_EQ(allocate(s, gw, {}, ip(bad)).error().errc(), Errc::invalid_argument) << bad;
}

TEST(Allocate, Ipv6) {
  Prefix s = pfx("fd00:1::/64");
  IpAddress gw = default_gateway(s);
  EXPECT_EQ(gw.str(), "fd00:1::1");
  auto a = allocate(s, gw, {ip("fd00:1::2")});
  EXPECT_EQ(a->str(), "fd00:1::3");
  // The last address of an IPv6 subnet is a host address (no broadcast in IPv6).
  Prefix tiny = pfx("fd00:1::/126");
  EXPECT_EQ(allocate(tiny, default_gateway(tiny), {ip("fd00:1::2")})->str(), "fd00:1::3");
  EXPECT_EQ(allocate(tiny, default_gateway(tiny), {ip("fd00:1::2"), ip("fd00:1::3")}).error().errc(),
            Errc::no_space);
}

TEST(Allocate, CarriesAcrossBytes) {
  Prefix s = pfx("10.0.0.0/16");
  std::vector<IpAddress> leased;
  for (int i = 2; i < 256; ++i) leased.push_back(*s.nth(static_cast<std::uint64_t>(i)));
  EXPECT_EQ(allocate(s, default_gateway(s), leased)->str(), "10.0.1.0");
}

TEST(Address, MacFollowsIpv4) {
  auto m = mac_for(ip("10.88.1.2"));
  EXPECT_EQ(m[0], 0x02);
  EXPECT_EQ(m[2], 10);
  EXPECT_EQ(m[5], 2);
}

}  // namespace
}  // namespace lj::net
