// publish_all's host ports (daemon/host_ports.hpp): the range and ExposedPorts syntax, the
// round-robin pick past taken and held ports, the conflict when none is left, the bind probe,
// and ljd.conf's publish_port_range. Pure, but for one socket bound to a kernel-chosen port.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "daemon/host_ports.hpp"

namespace lj::daemon {
namespace {

using net::Proto;

TEST(HostPorts, RangesAreFirstDashLast) {
  auto r = parse_port_range("41000-41003");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->first, 41000);
  EXPECT_EQ(r->last, 41003);
  EXPECT_TRUE(parse_port_range("80-80"));
  for (auto bad : {"", "80", "0-5", "5-4", "1-65536", "a-b", "80-", "-80", "80-90x"})
    EXPECT_FALSE(parse_port_range(bad)) << bad;
}

TEST(HostPorts, ExposedPortsAreTcpOrUdp) {
  auto e = parse_exposed_port("80/tcp");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 80);
  EXPECT_EQ(e->proto, Proto::tcp);
  e = parse_exposed_port("53/udp");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->proto, Proto::udp);
  e = parse_exposed_port("8080");  // no protocol: tcp (image-spec config.md)
  ASSERT_TRUE(e);
  EXPECT_EQ(e->port, 8080);
  EXPECT_EQ(e->proto, Proto::tcp);
  auto sctp = parse_exposed_port("132/sctp");
  ASSERT_FALSE(sctp);
  EXPECT_NE(sctp.error().what().find("only tcp and udp"), std::string::npos) << sctp.error().what();
  for (auto bad : {"0/tcp", "65536", "x/tcp", "/tcp", "80/"}) EXPECT_FALSE(parse_exposed_port(bad)) << bad;
}

auto all_free = [](std::uint16_t, Proto) { return true; };

TEST(HostPorts, PicksRoundRobinPastTakenAndHeldPorts) {
  std::uint32_t cursor = 0;
  PortRange range{41000, 41003};
  auto held = [](std::uint16_t p, Proto proto) { return !(p == 41000 && proto == Proto::tcp); };
  auto a = pick_host_ports({{80, Proto::tcp}, {8080, Proto::tcp}}, range, {}, held, &cursor);
  ASSERT_TRUE(a) << a.error().what();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].host_port, 41001);  // 41000/tcp is held by a host socket
  EXPECT_EQ((*a)[0].jail_port, 80);
  EXPECT_EQ((*a)[1].host_port, 41002);
  EXPECT_EQ((*a)[1].jail_port, 8080);
  // Next time on from the cursor, around the end; the taken ones (a live jail's) skipped, and a
  // port taken for tcp is still free for udp.
  auto b = pick_host_ports({{80, Proto::tcp}, {53, Proto::udp}}, range,
                           {{41001, Proto::tcp}, {41002, Proto::tcp}}, held, &cursor);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ((*b)[0].host_port, 41003);
  EXPECT_EQ((*b)[1].host_port, 41000);  // 41000 is held for tcp only
  EXPECT_EQ((*b)[1].proto, Proto::udp);
}

TEST(HostPorts, NoFreePortLeftIsAConflictNamingTheRangeAndThePort) {
  std::uint32_t cursor = 7;
  auto r = pick_host_ports({{80, Proto::tcp}, {8080, Proto::tcp}}, {41000, 41001},
                           {{41000, Proto::tcp}}, all_free, &cursor);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::conflict);
  EXPECT_NE(r.error().what().find("no free host port left in 41000-41001 for exposed port 8080/tcp"),
            std::string::npos)
      << r.error().what();
  // The whole range, one port: wraps exactly once.
  cursor = 0;
  auto one = pick_host_ports({{80, Proto::tcp}}, {65535, 65535}, {}, all_free, &cursor);
  ASSERT_TRUE(one);
  EXPECT_EQ((*one)[0].host_port, 65535);
  EXPECT_TRUE(pick_host_ports({}, {1, 1}, {{1, Proto::tcp}}, all_free, &cursor));
}

TEST(HostPorts, APortASocketHoldsIsNotFree) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);  // a port the kernel picks
  socklen_t len = sizeof a;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  std::uint16_t port = ntohs(a.sin_port);
  EXPECT_FALSE(host_port_free(port, Proto::tcp));
  ::close(fd);
}

TEST(HostPorts, TheHostsEphemeralRangeIsReadable) {
  auto r = ephemeral_port_range();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_LE(r->first, r->last);
  EXPECT_GT(r->first, 0);
}

TEST(HostPorts, LjdConfPublishPortRange) {
  Config c;
  EXPECT_FALSE(c.publish_port_range.set());
  ASSERT_TRUE(parse_config("publish_port_range = 41000-41003\n", &c));
  EXPECT_EQ(c.publish_port_range.first, 41000);
  EXPECT_EQ(c.publish_port_range.last, 41003);
  ASSERT_TRUE(parse_config("publish_port_range =\n", &c));  // empty: the host's range
  EXPECT_FALSE(c.publish_port_range.set());
  auto bad = parse_config("\npublish_port_range = 9-1\n", &c);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("line 2"), std::string::npos) << bad.error().what();
}

}  // namespace
}  // namespace lj::daemon
