// The FreeBSD pf anchors as text (portable: runs on any host; pf itself only on FreeBSD).
#include "net/pf_rules.hpp"

#include <gtest/gtest.h>

#include "net_spec.hpp"

namespace lj::net {
namespace {

using test::net;

TEST(PfRules, NetworkAnchor) {
  EXPECT_EQ(pf::network_anchor(net(false)), "ljd/net_ljbr_0000abcd");
  std::string open = pf::network_rules(net(false), {*Prefix::parse("10.89.0.0/24")}, "vtnet0");
  EXPECT_NE(open.find("nat on vtnet0 inet from 10.88.0.0/24 to any -> (vtnet0:0)\n"), std::string::npos);
  EXPECT_NE(open.find("table <ljd_others> const { 10.89.0.0/24 }\n"), std::string::npos);
  EXPECT_NE(open.find("block drop in quick on ljbr-0000abcd from any to <ljd_others>\n"), std::string::npos);
  std::string closed = pf::network_rules(net(true), {}, "vtnet0");
  EXPECT_EQ(closed.find("nat "), std::string::npos);
  EXPECT_NE(closed.find("block drop in quick on ljbr-0000abcd from any to ! ljbr-0000abcd:network\n"),
            std::string::npos);
}

TEST(PfRules, JailAnchor) {
  Endpoint e;
  e.link = "ljve-1234abcd";
  e.address4 = *IpAddress::parse("10.88.0.2");
  e.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  e.ports.push_back({*IpAddress::parse("192.0.2.1"), 5353, 53, Proto::udp});
  EXPECT_EQ(pf::jail_anchor(e), "ljd/jail_ljve_1234abcd");
  std::string t = pf::jail_rules(net(false), e);
  EXPECT_NE(t.find("rdr pass inet proto tcp from any to (self) port 8080 -> 10.88.0.2 port 80\n"),
            std::string::npos);
  EXPECT_NE(t.find("rdr pass inet proto udp from any to 192.0.2.1 port 5353 -> 10.88.0.2 port 53\n"),
            std::string::npos);
  EXPECT_NE(t.find("block drop in quick on ljve-1234abcd inet from ! 10.88.0.2 to any\n"),
            std::string::npos);
}

}  // namespace
}  // namespace lj::net
