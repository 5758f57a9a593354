// The checks that run before anything is made, and the names ljd gives its interfaces.
#include "net/network.hpp"

#include <gtest/gtest.h>

namespace lj::net {
namespace {

NetworkSpec good() {
  NetworkSpec n;
  n.name = "web";
  n.bridge = bridge_name("n-3f1a2b4c");
  n.subnet4 = *Prefix::parse("10.88.0.0/24");
  n.gateway4 = default_gateway(n.subnet4);
  return n;
}

TEST(Network, Names) {
  EXPECT_EQ(bridge_name("n-3f1a2b4c"), "ljbr-3f1a2b4c");
  EXPECT_EQ(link_name("j-3f1a2b4cdead", 0), "ljve-3f1a2b4c");
  EXPECT_EQ(link_name("j-3f1a2b4c", 1), "ljve-3f1a2b4c1");
  EXPECT_LE(link_name("j-3f1a2b4c", 9).size(), 15u);  // IFNAMSIZ - 1
}

TEST(Network, ChecksTheSpec) {
  EXPECT_TRUE(check_network(good()));
  auto n = good();
  n.bridge = "eth0";  // not ljd's: a sweep would never find it
  EXPECT_EQ(check_network(n).error().errc(), Errc::invalid_argument);
  n = good();
  n.bridge = "ljbr-0123456789abcdef";
  EXPECT_FALSE(check_network(n));
  n = good();
  n.subnet6 = *Prefix::parse("fd00::/64");  // without its gateway
  EXPECT_FALSE(check_network(n));
  n.gateway6 = default_gateway(*n.subnet6);
  EXPECT_TRUE(check_network(n));
  n = good();
  n.gateway4 = *IpAddress::parse("10.88.1.1");
  EXPECT_FALSE(check_network(n));
}

TEST(Network, ChecksTheEndpoint) {
  auto n = good();
  Endpoint e;
  e.link = "ljve-00000001";
  e.address4 = *IpAddress::parse("10.88.0.2");
  EXPECT_TRUE(check_endpoint(n, e));
  for (const char* bad : {"10.88.0.0", "10.88.0.1", "10.88.0.255", "10.89.0.2"}) {
    auto b = e;
    b.address4 = *IpAddress::parse(bad);
    EXPECT_FALSE(check_endpoint(n, b)) << bad;
  }
  auto v6 = e;
  v6.address6 = *IpAddress::parse("fd00::2");  // the network has no IPv6 subnet
  EXPECT_FALSE(check_endpoint(n, v6));
  auto port0 = e;
  port0.ports.push_back({std::nullopt, 0, 80, Proto::tcp});
  EXPECT_FALSE(check_endpoint(n, port0));
  auto internal = n;
  internal.internal = true;
  auto published = e;
  published.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  EXPECT_TRUE(check_endpoint(n, published));
  EXPECT_FALSE(check_endpoint(internal, published));
}

}  // namespace
}  // namespace lj::net
