// The rules as text (what libnftables gets); host_test.cpp runs them in namespaces.
#include "net/linux/ruleset.hpp"

#include <gtest/gtest.h>

#include "net_spec.hpp"

namespace lj::net {
namespace {

using test::net;

Endpoint ep() {
  Endpoint e;
  e.link = "ljve-1234abcd";
  e.address4 = *IpAddress::parse("10.88.0.2");
  e.address6 = *IpAddress::parse("fd00::2");
  e.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  e.ports.push_back({*IpAddress::parse("192.0.2.1"), 5353, 53, Proto::udp});
  return e;
}

TEST(Ruleset, EndpointElementsAddedAndRemovedAlike) {
  std::string add = nft::add_endpoint(net(), ep());
  EXPECT_NE(add.find("add element bridge ljd allow4 { \"ljve-1234abcd\" . 10.88.0.2 }"), std::string::npos);
  EXPECT_NE(add.find("add element bridge ljd allow6 { \"ljve-1234abcd\" . fd00::2 }"), std::string::npos);
  EXPECT_NE(add.find("create element inet ljd pub4any { tcp . 8080 : 10.88.0.2 . 80 }"), std::string::npos);
  EXPECT_NE(add.find("create element inet ljd pub6any { tcp . 8080 : fd00::2 . 80 }"), std::string::npos);
  EXPECT_NE(add.find("create element inet ljd pub4 { 192.0.2.1 . udp . 5353 : 10.88.0.2 . 53 }"), std::string::npos);
  auto each = nft::remove_endpoint_each(net(), ep());
  ASSERT_EQ(each.size(), 6u);  // 3 port elements, 3 spoofing elements
  EXPECT_EQ(each.back(), "delete element bridge ljd ports { \"ljve-1234abcd\" }\n");  // the port last
  EXPECT_NE(nft::remove_endpoint(net(), ep()).find("delete element inet ljd pub4 { 192.0.2.1 . udp . 5353 }"),
            std::string::npos);
}

TEST(Ruleset, InternalNetworkHasNoWayOut) {
  std::string open = nft::add_network(net(false)), closed = nft::add_network(net(true));
  EXPECT_NE(open.find("add element inet ljd egress4 { 10.88.0.0/24 }"), std::string::npos);
  EXPECT_EQ(closed.find("egress4"), std::string::npos);
  EXPECT_NE(closed.find("add rule inet ljd out_ljbr_0000abcd drop"), std::string::npos);
  EXPECT_EQ(closed.find("ct status dnat accept"), std::string::npos);
}

TEST(Ruleset, NetworkRemovalMirrorsCreation) {
  std::string add = nft::add_network(net()), rm = nft::remove_network(net());
  for (const char* chain : {"out_", "in_", "nat_to_"}) {
    std::string c = std::string(chain) + "ljbr_0000abcd";
    EXPECT_NE(add.find("add chain inet ljd " + c + "\n"), std::string::npos) << c;
    EXPECT_NE(rm.find("delete chain inet ljd " + c + "\n"), std::string::npos) << c;
  }
  EXPECT_NE(rm.find("delete element inet ljd bridges { \"ljbr-0000abcd\" }"), std::string::npos);
  EXPECT_NE(rm.find("delete element inet ljd egress4 { 10.88.0.0/24 }"), std::string::npos);
}

}  // namespace
}  // namespace lj::net
