// The rules as text (what libnftables gets) and a jail's elements as the bytes of an nf_tables
// batch; host_test.cpp runs them in namespaces.
#include "net/linux/ruleset.hpp"

#include "net/linux/nft_batch.hpp"

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

// The words `nft --debug=netlink` prints for these elements (nftables 1.0.6: 32-bit words in host
// byte order, x86), as bytes.
std::vector<std::uint8_t> words(std::initializer_list<std::uint32_t> ws) {
  std::vector<std::uint8_t> b;
  for (std::uint32_t w : ws)
    for (int i = 0; i < 4; ++i) b.push_back(static_cast<std::uint8_t>(w >> (8 * i)));
  return b;
}

TEST(Ruleset, ElementBytesAreWhatNftSends) {
  Endpoint e;
  e.link = "ljve-abc";
  e.address4 = *IpAddress::parse("10.1.2.3");
  e.address6 = *IpAddress::parse("fd00::5");
  e.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  e.ports.push_back({*IpAddress::parse("192.168.1.1"), 8080, 80, Proto::udp});
  auto el = nft::endpoint_elements(e);
  // ports, allow4, allow6, pub4any, pub6any, pub4 (no pub6: the host address is IPv4)
  ASSERT_EQ(el.size(), 6u);
  const auto name = words({0x65766a6c, 0x6362612d, 0, 0});
  EXPECT_EQ(el[0].set, "ports");
  EXPECT_TRUE(el[0].bridge);
  EXPECT_EQ(nft::field_bytes(el[0].key), name);
  EXPECT_EQ(el[1].set, "allow4");
  EXPECT_EQ(nft::field_bytes(el[1].key), words({0x65766a6c, 0x6362612d, 0, 0, 0x0302010a}));
  EXPECT_EQ(nft::field_bytes(el[2].key),
            words({0x65766a6c, 0x6362612d, 0, 0, 0x000000fd, 0, 0, 0x05000000}));
  EXPECT_EQ(el[3].set, "pub4any");
  EXPECT_FALSE(el[3].bridge);
  EXPECT_TRUE(el[3].exclusive);
  EXPECT_EQ(nft::field_bytes(el[3].key), words({0x00000006, 0x0000901f}));
  EXPECT_EQ(nft::field_bytes(el[3].value), words({0x0302010a, 0x00005000}));
  EXPECT_EQ(el[4].set, "pub6any");
  EXPECT_EQ(nft::field_bytes(el[4].value), words({0x000000fd, 0, 0, 0x05000000, 0x00005000}));
  EXPECT_EQ(el[5].set, "pub4");
  EXPECT_EQ(nft::field_bytes(el[5].key), words({0x0101a8c0, 0x00000011, 0x0000901f}));
  EXPECT_EQ(nft::element_text(el[5], true), "inet ljd pub4 { 192.168.1.1 . udp . 8080 : 10.1.2.3 . 80 }");
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
