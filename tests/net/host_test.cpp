// lib/net on the real kernel, entirely inside network namespaces this test makes:
//   h   the "host": ljd's bridges and nftables tables live here; 192.168.77.1 on its uplink
//   r   a "remote" host on the other end of that uplink (192.168.77.2), with no route to any jail
//   a1, a2 jails on network A (10.201.0.0/24, IPv6 fd00:201::/64); b1 on network B; c1 on the
//   internal network C.
// The machine's own namespace is never touched (the Host refuses to act outside "h").
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <thread>

#include "common/scope.hpp"
#include "jail/backend.hpp"
#include "net/files.hpp"
#include "net/linux/netns.hpp"
#include "net/network.hpp"
#include "netns_world.hpp"
#include "test_world.hpp"

namespace lj::net {
namespace {

using test::Inside;
using test::NetnsWorld;

#define ASSERT_OK(expr)                          \
  do {                                           \
    auto ok_ = (expr);                           \
    ASSERT_TRUE(ok_) << ok_.error().what();      \
  } while (0)

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

NetworkSpec network(const char* name, const char* bridge, const char* subnet, bool internal,
                    const char* subnet6 = nullptr) {
  NetworkSpec n;
  n.name = name;
  n.bridge = bridge;
  n.subnet4 = *Prefix::parse(subnet);
  n.gateway4 = default_gateway(n.subnet4);
  if (subnet6) {
    n.subnet6 = *Prefix::parse(subnet6);
    n.gateway6 = default_gateway(*n.subnet6);
  }
  n.internal = internal;
  return n;
}

Endpoint endpoint(const char* link, const char* addr, const char* addr6 = nullptr) {
  Endpoint e;
  e.link = link;
  e.address4 = ip(addr);
  if (addr6) e.address6 = ip(addr6);
  return e;
}

class NetHost : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!test::have_root_and_tools(&why)) GTEST_SKIP() << why;
    for (const char* n : {"h", "r", "a1", "a2", "b1", "c1"}) world_.add(n);
    auto r = world_.exec("h", "ip link add up0 type veth peer name up1 netns " + world_.full("r") +
                                  " && ip addr add 192.168.77.1/24 dev up0 && ip link set up0 up");
    ASSERT_EQ(r.status, 0) << r.out;
    r = world_.exec("r", "ip addr add 192.168.77.2/24 dev up1 && ip link set up1 up");
    ASSERT_EQ(r.status, 0) << r.out;
    hns_ = world_.fd("h");
    ASSERT_TRUE(hns_);
    inside_.emplace(hns_.get());
    auto h = make_host();
    ASSERT_TRUE(h) << h.error().what();
    host_ = std::move(*h);
  }

  void TearDown() override {
    attached_.clear();  // detaches
    if (host_) {
      EXPECT_TRUE(host_->remove_all());
    }
    host_.reset();
    inside_.reset();
  }

  Attachment attach(const NetworkSpec& n, const Endpoint& e, const char* jail) {
    UniqueFd fd = world_.fd(jail);
    auto a = host_->attach(n, e, JailTarget{fd.get(), {}});
    EXPECT_TRUE(a) << a.error().what();
    return a ? std::move(*a) : Attachment();
  }

  // A namespace of the host's pool (the first take starts the pool: none is ready yet).
  UniqueFd pooled_netns() {
    UniqueFd ns = host_->take_jail_netns();
    for (int i = 0; i < 250 && !ns; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      ns = host_->take_jail_netns();
    }
    return ns;
  }

  std::string ruleset() { return world_.exec("h", "nft list ruleset").out; }
  std::string links() { return world_.exec("h", "ip -o link show").out; }

  NetnsWorld world_;
  UniqueFd hns_;
  std::optional<Inside> inside_;
  std::unique_ptr<Host> host_;
  std::vector<Attachment> attached_;
  NetworkSpec a_ = network("a", "ljbr-0000000a", "10.201.0.0/24", false, "fd00:201::/64");
  NetworkSpec b_ = network("b", "ljbr-0000000b", "10.202.0.0/24", false);
  NetworkSpec c_ = network("c", "ljbr-0000000c", "10.203.0.0/24", true);
};

TEST_F(NetHost, JailsOnOneNetworkReachEachOther) {
  ASSERT_OK(host_->add_network(a_));
  attached_.push_back(attach(a_, endpoint("ljve-000000a1", "10.201.0.2", "fd00:201::2"), "a1"));
  attached_.push_back(attach(a_, endpoint("ljve-000000a2", "10.201.0.3", "fd00:201::3"), "a2"));
  world_.httpd("a2", 80);
  EXPECT_EQ(world_.get_ip("a1", "10.201.0.3", 80).out, "10.201.0.2");
  EXPECT_EQ(world_.get_ip("a1", "fd00:201::3", 80).out, "fd00:201::2");
  auto route = world_.exec("a1", "ip route; ip -6 route");
  EXPECT_NE(route.out.find("default via 10.201.0.1 dev eth0"), std::string::npos) << route.out;
  EXPECT_NE(route.out.find("default via fd00:201::1 dev eth0"), std::string::npos) << route.out;
  // The MAC follows the address (mac_for).
  EXPECT_NE(world_.exec("a1", "ip link show eth0").out.find("02:6c:0a:c9:00:02"), std::string::npos);
}

TEST_F(NetHost, PublishedPortFromRemoteHostAndHairpin) {
  ASSERT_OK(host_->add_network(a_));
  auto web = endpoint("ljve-000000a2", "10.201.0.3", "fd00:201::3");
  web.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  web.ports.push_back({ip("192.168.77.1"), 8081, 80, Proto::tcp});
  attached_.push_back(attach(a_, web, "a2"));
  attached_.push_back(attach(a_, endpoint("ljve-000000a1", "10.201.0.2"), "a1"));
  world_.httpd("a2", 80);
  // Another host sees the jail's service on the host's address; the jail sees the client as is.
  EXPECT_EQ(world_.get_ip("r", "192.168.77.1", 8080).out, "192.168.77.2");
  EXPECT_EQ(world_.get_ip("r", "192.168.77.1", 8081).out, "192.168.77.2");
  // The host itself, on its own address and on its loopback (source becomes the gateway).
  EXPECT_EQ(world_.get_ip("h", "192.168.77.1", 8080).out, "192.168.77.1");
  EXPECT_EQ(world_.get_ip("h", "127.0.0.1", 8080).out, "10.201.0.1");
  // A jail of the same network through the host's address (hairpin).
  EXPECT_EQ(world_.get_ip("a1", "192.168.77.1", 8080).out, "10.201.0.1");
  // A port bound to one host address is not on the others.
  EXPECT_NE(world_.get_ip("h", "127.0.0.1", 8081).status, 0);
  // The same host port twice is refused, and the refused jail leaves nothing.
  auto dup = endpoint("ljve-000000b1", "10.201.0.9");
  dup.jail_ifname = "eth1";
  dup.default_route = false;  // a1 has one already
  dup.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  UniqueFd fd = world_.fd("a1");
  auto twice = host_->attach(a_, dup, JailTarget{fd.get(), {}});
  ASSERT_FALSE(twice);
  EXPECT_EQ(twice.error().errc(), Errc::conflict) << twice.error().what();
  EXPECT_EQ(links().find("ljve-000000b1"), std::string::npos);
  EXPECT_EQ(world_.get_ip("r", "192.168.77.1", 8080).out, "192.168.77.2");
}

TEST_F(NetHost, EgressIsMasqueraded) {
  ASSERT_OK(host_->add_network(a_));
  attached_.push_back(attach(a_, endpoint("ljve-000000a1", "10.201.0.2"), "a1"));
  world_.httpd("r", 80);
  EXPECT_EQ(world_.get_ip("a1", "192.168.77.2", 80).out, "192.168.77.1");
  // The remote cannot open a connection to the jail's own address (no published port): even
  // with a route to the subnet it is dropped.
  world_.httpd("a1", 80);
  ASSERT_EQ(world_.exec("r", "ip route add 10.201.0.0/24 via 192.168.77.1").status, 0);
  EXPECT_NE(world_.get_ip("r", "10.201.0.2", 80).status, 0);
}

TEST_F(NetHost, NetworksAreIsolated) {
  ASSERT_OK(host_->add_network(a_));
  ASSERT_OK(host_->add_network(b_));
  attached_.push_back(attach(a_, endpoint("ljve-000000a1", "10.201.0.2"), "a1"));
  attached_.push_back(attach(b_, endpoint("ljve-000000b1", "10.202.0.2"), "b1"));
  world_.httpd("a1", 80);
  world_.httpd("r", 80);
  EXPECT_NE(world_.get_ip("b1", "10.201.0.2", 80).status, 0);
  EXPECT_EQ(world_.get_ip("b1", "192.168.77.2", 80).out, "192.168.77.1");  // but B has a way out
  EXPECT_EQ(world_.get_ip("h", "10.201.0.2", 80).out, "10.201.0.1");      // and the host reaches A
}

TEST_F(NetHost, SpoofedSourcesAreDropped) {
  ASSERT_OK(host_->add_network(a_));
  attached_.push_back(attach(a_, endpoint("ljve-000000a1", "10.201.0.2"), "a1"));
  attached_.push_back(attach(a_, endpoint("ljve-000000a2", "10.201.0.3"), "a2"));
  world_.httpd("a2", 80);
  world_.httpd("h", 80);
  ASSERT_EQ(world_.get_ip("a1", "10.201.0.3", 80).out, "10.201.0.2");
  // a1 takes an address that is not its lease: neither its peer nor the host hears it.
  auto r = world_.exec("a1", "ip addr flush dev eth0 && ip addr add 10.201.0.50/24 dev eth0");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(world_.get_ip("a1", "10.201.0.3", 80).status, 0);
  EXPECT_NE(world_.get_ip("a1", "10.201.0.1", 80).status, 0);
  // Nor when it takes its peer's.
  world_.exec("a1", "ip addr flush dev eth0 && ip addr add 10.201.0.3/24 dev eth0");
  EXPECT_NE(world_.get_ip("a1", "10.201.0.1", 80).status, 0);
}

TEST_F(NetHost, InternalNetworkHasNoWayOut) {
  ASSERT_OK(host_->add_network(c_));
  auto c = endpoint("ljve-000000c1", "10.203.0.2");
  auto with_port = c;
  with_port.ports.push_back({std::nullopt, 9090, 80, Proto::tcp});
  UniqueFd fd = world_.fd("c1");
  auto refused = host_->attach(c_, with_port, JailTarget{fd.get(), {}});
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errc(), Errc::invalid_argument);
  attached_.push_back(attach(c_, c, "c1"));
  world_.httpd("r", 80);
  world_.httpd("c1", 80);
  EXPECT_EQ(world_.exec("c1", "ip route").out.find("default"), std::string::npos);
  EXPECT_NE(world_.get_ip("c1", "192.168.77.2", 80).status, 0);
  // Even with a route it adds itself (it could, as root in its namespace), the host drops it.
  world_.exec("c1", "ip route add default via 10.203.0.1");
  EXPECT_NE(world_.get_ip("c1", "192.168.77.2", 80).status, 0);
  EXPECT_EQ(world_.get_ip("h", "10.203.0.2", 80).out, "10.203.0.1");  // the host reaches it
}

TEST_F(NetHost, TeardownLeavesNothing) {
  ASSERT_OK(host_->add_network(a_));
  ASSERT_OK(host_->add_network(c_));
  auto web = endpoint("ljve-000000a2", "10.201.0.3", "fd00:201::3");
  web.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  {
    Attachment one = attach(a_, web, "a2");
    Attachment two = attach(c_, endpoint("ljve-000000c1", "10.203.0.2"), "c1");
    EXPECT_NE(ruleset().find("10.201.0.3 . 80"), std::string::npos);
    ASSERT_OK(two.detach());
    EXPECT_EQ(ruleset().find("ljve-000000c1"), std::string::npos);
  }  // `one` detaches here
  std::string rules = ruleset();
  EXPECT_EQ(rules.find("ljve-"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("10.201.0.3"), std::string::npos) << rules;
  EXPECT_EQ(world_.exec("a2", "ip link show eth0").status, 1);  // the pair went with its host end
  ASSERT_OK(host_->remove_network(a_));
  ASSERT_OK(host_->remove_network(c_));
  EXPECT_EQ(ruleset().find("ljbr"), std::string::npos);
  EXPECT_EQ(links().find("ljbr-"), std::string::npos);
  ASSERT_OK(host_->remove_all());
  EXPECT_EQ(ruleset().find("ljd"), std::string::npos) << ruleset();
  // Idempotent: removing again is fine.
  EXPECT_TRUE(host_->remove_network(a_));
  EXPECT_TRUE(host_->remove_all());
}

// The jail's elements go as one batch; when some are gone already (a crash between steps, a
// hand-made `nft delete`), the batch fails as a whole and the rest go one by one.
TEST_F(NetHost, DetachRemovesWhatIsLeftWhenSomeElementsAreGone) {
  ASSERT_OK(host_->add_network(a_));
  auto web = endpoint("ljve-000000a2", "10.201.0.3", "fd00:201::3");
  web.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  Attachment one = attach(a_, web, "a2");
  ASSERT_TRUE(one);
  auto r = world_.exec("h", "nft delete element inet ljd pub4any '{ tcp . 8080 }' && "
                            "nft delete element bridge ljd allow4 '{ \"ljve-000000a2\" . 10.201.0.3 }'");
  ASSERT_EQ(r.status, 0) << r.out;
  ASSERT_OK(one.detach());
  std::string rules = ruleset();
  EXPECT_EQ(rules.find("ljve-"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("10.201.0.3"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("fd00:201::3"), std::string::npos) << rules;
}

// A namespace made ahead by the host's pool, with its link waiting: attach puts the host end on
// the bridge under the pool's name (ep.link its alias) and addresses the jail end; a clean
// removal leaves no waiting link.
TEST_F(NetHost, APooledNamespaceJoinsWithItsWaitingLink) {
  ASSERT_OK(host_->add_network(a_));
  UniqueFd ns = pooled_netns();
  ASSERT_TRUE(ns);
  EXPECT_NE(links().find("ljvp-"), std::string::npos) << links();
  const std::string in_ns =
      "nsenter --net=/proc/" + std::to_string(::getpid()) + "/fd/" + std::to_string(ns.get()) + " ";
  EXPECT_EQ(world_.exec("h", in_ns + "ip -o link show eth0").status, 0);
  auto web = endpoint("ljve-000000a3", "10.201.0.4", "fd00:201::4");
  auto att = host_->attach(a_, web, JailTarget{ns.get(), {}});
  ASSERT_TRUE(att) << att.error().what();
  // Not renamed (a rename re-registers the link's sysctl tables: the dearest part of a join).
  const std::string link = att->endpoint().link;
  EXPECT_EQ(link.rfind("ljvp-", 0), 0u) << link;
  auto shown = world_.exec("h", "ip -o link show " + link);
  EXPECT_NE(shown.out.find("master ljbr-0000000a"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("state UP"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("alias ljve-000000a3"), std::string::npos) << shown.out;
  auto eth0 = world_.exec("h", in_ns + "ip -o addr show dev eth0");
  EXPECT_NE(eth0.out.find("inet 10.201.0.4/24"), std::string::npos) << eth0.out;
  EXPECT_NE(world_.exec("h", in_ns + "ip link show eth0").out.find("02:6c:0a:c9:00:04"),
            std::string::npos);
  EXPECT_EQ(world_.exec("h", in_ns + "ip route show default").out.rfind("default via 10.201.0.1 dev eth0", 0), 0u);
  // Its carrier: the host end is up on the bridge (traffic through it: LjdNetTest, whose jails
  // all start in pooled namespaces).
  EXPECT_NE(world_.exec("h", in_ns + "ip -o link show eth0").out.find("LOWER_UP"),
            std::string::npos);
  // The rules name the link as it is.
  const std::string rules = ruleset();
  EXPECT_NE(rules.find("\"" + link + "\" . 10.201.0.4"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("ljve-000000a3"), std::string::npos) << rules;
  ASSERT_OK(att->detach());
  EXPECT_EQ(ruleset().find(link), std::string::npos);
  ASSERT_OK(host_->remove_all());
  EXPECT_EQ(links().find("ljvp-"), std::string::npos) << links();
  EXPECT_EQ(links().find("ljve-"), std::string::npos) << links();
}

// After a crash: a live jail's pooled link is found by its alias and kept (its rules on its
// name), a dead jail's is removed.
TEST_F(NetHost, ReconcileFindsAPooledLinkByItsAlias) {
  ASSERT_OK(host_->add_network(a_));
  UniqueFd live_ns = pooled_netns(), dead_ns = pooled_netns();
  ASSERT_TRUE(live_ns && dead_ns);
  auto live = endpoint("ljve-000000a1", "10.201.0.2");
  live.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  auto kept = host_->attach(a_, live, JailTarget{live_ns.get(), {}});
  auto dead = host_->attach(a_, endpoint("ljve-000000a2", "10.201.0.3"), JailTarget{dead_ns.get(), {}});
  ASSERT_TRUE(kept && dead);
  const std::string kept_link = kept->endpoint().link, dead_link = dead->endpoint().link;
  kept->release();  // a crashed daemon forgets, it does not detach
  dead->release();
  std::vector<Host::Joined> eps{{&a_, live}};
  ASSERT_OK(host_->reconcile({a_}, eps));
  EXPECT_EQ(eps[0].ep.link, kept_link);
  const std::string l = links(), rules = ruleset();
  EXPECT_NE(l.find(kept_link), std::string::npos) << l;
  EXPECT_EQ(l.find(dead_link), std::string::npos) << l;
  EXPECT_NE(rules.find("\"" + kept_link + "\" . 10.201.0.2"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("10.201.0.3"), std::string::npos) << rules;
  ASSERT_OK(host_->detach(a_, eps[0].ep));
  EXPECT_EQ(ruleset().find(kept_link), std::string::npos);
}

TEST_F(NetHost, ReconcileKeepsTheLiveAndRemovesTheStale) {
  ASSERT_OK(host_->add_network(a_));
  ASSERT_OK(host_->add_network(b_));
  auto live = endpoint("ljve-000000a1", "10.201.0.2");
  live.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  Attachment kept = attach(a_, live, "a1");
  Attachment dead = attach(a_, endpoint("ljve-000000a2", "10.201.0.3"), "a2");
  // A crashed daemon: its objects are forgotten, not detached.
  kept.release();
  dead.release();
  ASSERT_EQ(world_.exec("h", "ip link add ljve-0000dead type veth peer name ljve-0000dea2").status, 0);
  // Network B is gone from the record; A and the jail a1 are kept.
  std::vector<Host::Joined> eps{{&a_, live}};
  auto r = host_->reconcile({a_}, eps);
  ASSERT_TRUE(r) << r.error().what();
  std::string l = links(), rules = ruleset();
  EXPECT_NE(l.find("ljve-000000a1"), std::string::npos);
  EXPECT_EQ(l.find("ljve-000000a2"), std::string::npos);
  EXPECT_EQ(l.find("ljve-0000dead"), std::string::npos);
  EXPECT_EQ(l.find("ljve-0000dea2"), std::string::npos);
  EXPECT_EQ(l.find("ljbr-0000000b"), std::string::npos);
  EXPECT_EQ(rules.find("10.201.0.3"), std::string::npos);
  EXPECT_EQ(rules.find("ljbr-0000000b"), std::string::npos);
  world_.httpd("a1", 80);
  EXPECT_EQ(world_.get_ip("r", "192.168.77.1", 8080).out, "192.168.77.2");  // still published
  ASSERT_OK(host_->detach(a_, live));
}

TEST_F(NetHost, RefusesAnotherNamespace) {
  // This thread leaves "h" for a moment: the host must not act in whatever namespace it is in.
  std::thread other([&] {
    UniqueFd r = world_.fd("r");
    Inside in(r.get());
    auto s = host_->add_network(a_);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.error().errc(), Errc::internal);
  });
  other.join();
  EXPECT_EQ(world_.exec("r", "ip -o link").out.find("ljbr-"), std::string::npos);
}

TEST_F(NetHost, NewNamespaceHasLoopbackUp) {
  auto ns = new_netns();
  ASSERT_TRUE(ns) << ns.error().what();
  ASSERT_OK(host_->add_network(a_));
  auto a = host_->attach(a_, endpoint("ljve-000000a1", "10.201.0.2"), JailTarget{ns->get(), {}});
  ASSERT_TRUE(a) << a.error().what();
  // Only the descriptor holds the namespace; look at it through /proc/self/fd.
  auto r = world_.exec("h", "nsenter --net=/proc/" + std::to_string(::getpid()) + "/fd/" +
                                std::to_string(ns->get()) + " ip -o addr");
  EXPECT_NE(r.out.find("lo    inet 127.0.0.1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("eth0    inet 10.201.0.2/24"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace lj::net

// The whole path of a jail on a network: lib/net prepares the namespace and its link, lib/jail
// joins it (network mode netns) with resolv.conf and hosts bound in as single-file volumes.
namespace lj::net {
namespace {

// The jail's stdout and stderr into one pipe: its read end, `wr` the write end (dropped by the
// caller once the jail holds its own).
UniqueFd output_of(jail::JailSpec& spec, UniqueFd& wr) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return {};
  wr.reset(p[1]);
  spec.stdio.out = spec.stdio.err = p[1];
  return UniqueFd(p[0]);
}

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

TEST_F(NetHost, JailJoinsAPreparedNamespace) {
  lj::test::TestWorld tw;
  auto backend = jail::make_backend({});
  ASSERT_TRUE(backend) << backend.error().what();
  ASSERT_OK(host_->add_network(a_));
  auto ns = new_netns();
  ASSERT_TRUE(ns) << ns.error().what();
  auto web = endpoint("ljve-000000a1", "10.201.0.2");
  web.ports.push_back({std::nullopt, 8080, 80, Proto::tcp});
  auto att = host_->attach(a_, web, JailTarget{ns->get(), {}});
  ASSERT_TRUE(att) << att.error().what();
  const auto hosts = tw.dir() / "hosts", resolv = tw.dir() / "resolv.conf";
  ASSERT_OK(write_in_place(hosts, hosts_file("web", {web.address4},
                                             {{ip("10.201.0.3"), {"db"}}}, {})));
  ASSERT_OK(write_in_place(resolv, resolv_conf("", {ip("10.201.0.1")})));
  {
    std::ofstream hello(tw.world() / "bin" / "hello");
    hello << "#!/bin/sh\necho hello-from-jail\n";
  }
  std::filesystem::permissions(tw.world() / "bin" / "hello", std::filesystem::perms::owner_all);

  jail::JailSpec spec;
  spec.name = lj::test::unique_name("nt");
  spec.root.layers = {tw.world()};
  spec.root.volumes = {{hosts, "/etc/hosts", true}, {resolv, "/etc/resolv.conf", true}};
  spec.network.mode = jail::NetworkMode::netns;
  spec.network.netns_fd = ns->get();
  spec.argv = {"sh", "-c",
               "grep db /etc/hosts; grep nameserver /etc/resolv.conf; "
               "ip -o -4 addr show dev eth0 | grep -o 'inet [0-9./]*'; "
               "nc -l -p 80 -e /bin/hello"};
  UniqueFd wr, rd = output_of(spec, wr);
  ASSERT_TRUE(rd);
  auto jail = (*backend)->spawn(spec);
  ASSERT_TRUE(jail) << jail.error().what();
  wr.reset();
  ns->reset();  // the jail holds its namespace now
  // The jail's service through the published port, from the remote.
  std::string got;
  for (int i = 0; i < 50 && got.find("hello-from-jail") == std::string::npos; ++i) {
    got = world_.exec("r", "busybox nc -w 1 192.168.77.1 8080 </dev/null").out;
    if (got.find("hello-from-jail") == std::string::npos)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(got.find("hello-from-jail"), std::string::npos) << got;
  auto st = (*jail)->wait(std::chrono::milliseconds(5000));
  ASSERT_TRUE(st) << st.error().what();
  const std::string out = read_all(rd.get());
  EXPECT_NE(out.find("10.201.0.3\tdb"), std::string::npos) << out;
  EXPECT_NE(out.find("nameserver 10.201.0.1"), std::string::npos) << out;
  EXPECT_NE(out.find("inet 10.201.0.2/24"), std::string::npos) << out;
  // Once the jail is gone its namespace is too, and with it both ends of the link (the kernel's
  // cleanup runs asynchronously); the rules go with the attachment.
  ASSERT_OK(att->detach(Unlink::with_namespace));
  for (int i = 0; i < 100 && links().find("ljve-000000a1") != std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(links().find("ljve-000000a1"), std::string::npos);
  EXPECT_EQ(ruleset().find("10.201.0.2"), std::string::npos);
}

// The daemon's path since the sixth round of issue 14's target: a pooled namespace, its link made
// by Network::attach_links while the jail's init assembles its root. The command's first step
// already finds its address and its default route.
TEST_F(NetHost, AJailsLinksAreMadeWhileItsRootIsAssembled) {
  lj::test::TestWorld tw;
  auto backend = jail::make_backend({});
  ASSERT_TRUE(backend) << backend.error().what();
  ASSERT_OK(host_->add_network(a_));
  UniqueFd ns = pooled_netns();
  ASSERT_TRUE(ns);
  const auto web = endpoint("ljve-000000a3", "10.201.0.4");
  std::optional<Attachment> att;
  jail::JailSpec spec;
  spec.name = lj::test::unique_name("nt");
  spec.root.layers = {tw.world()};
  spec.network.mode = jail::NetworkMode::netns;
  spec.network.netns_fd = ns.get();
  spec.network.attach_links = [&]() -> Status {
    auto a = host_->attach(a_, web, JailTarget{ns.get(), {}});
    if (!a) return fail(std::move(a).error());
    att = std::move(*a);
    return {};
  };
  spec.argv = {"sh", "-c", "ip -o -4 addr show dev eth0 | grep -o 'inet [0-9./]*'; ip route"};
  UniqueFd wr, rd = output_of(spec, wr);
  ASSERT_TRUE(rd);
  auto jail = (*backend)->spawn(spec);
  ASSERT_TRUE(jail) << jail.error().what();
  ASSERT_TRUE(att);  // made by the time the spawn returned
  wr.reset();
  ns.reset();
  auto st = (*jail)->wait(std::chrono::milliseconds(5000));
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 0);
  const std::string out = read_all(rd.get());
  EXPECT_NE(out.find("inet 10.201.0.4/24"), std::string::npos) << out;
  EXPECT_NE(out.find("default via 10.201.0.1 dev eth0"), std::string::npos) << out;
  ASSERT_OK(att->detach(Unlink::with_namespace));
  EXPECT_EQ(ruleset().find("10.201.0.4"), std::string::npos);
}

// More jails starting at once than the daemon's pool has threads, each waiting in its init for
// the one thread that makes the links: every one starts, each with its own address.
TEST_F(NetHost, JailsStartingTogetherEachGetTheirLinks) {
  lj::test::TestWorld tw;
  auto backend = jail::make_backend({});
  ASSERT_TRUE(backend) << backend.error().what();
  ASSERT_OK(host_->add_network(a_));
  constexpr int kJails = 6;
  std::vector<std::string> outs(kJails);
  std::vector<std::optional<Attachment>> atts(kJails);
  std::vector<std::thread> threads;
  for (int i = 0; i < kJails; ++i)
    threads.emplace_back([&, i] {
      auto ns = new_netns();
      if (!ns) return void(outs[i] = ns.error().what());
      const std::string addr = "10.201.0." + std::to_string(20 + i);
      const auto ep = endpoint(("ljve-000000c" + std::to_string(i)).c_str(), addr.c_str());
      jail::JailSpec spec;
      spec.name = lj::test::unique_name("nt");
      spec.root.layers = {tw.world()};
      spec.network.mode = jail::NetworkMode::netns;
      spec.network.netns_fd = ns->get();
      spec.network.attach_links = [&, i, ep, fd = ns->get()]() -> Status {
        auto a = host_->attach(a_, ep, JailTarget{fd, {}});
        if (!a) return fail(std::move(a).error());
        atts[i] = std::move(*a);
        return {};
      };
      spec.argv = {"sh", "-c", "ip -o -4 addr show dev eth0 | grep -o 'inet [0-9./]*'"};
      UniqueFd wr, rd = output_of(spec, wr);
      auto jail = (*backend)->spawn(spec);
      if (!jail) return void(outs[i] = jail.error().what());
      wr.reset();
      outs[i] = read_all(rd.get());
      (void)(*jail)->wait(std::chrono::milliseconds(5000));
    });
  for (auto& t : threads) t.join();
  for (int i = 0; i < kJails; ++i) {
    EXPECT_EQ(outs[i], "inet 10.201.0." + std::to_string(20 + i) + "/24\n") << i;
    if (auto d = atts[i] ? atts[i]->detach(Unlink::with_namespace) : Status{}; !d)
      ADD_FAILURE() << d.error().what();
  }
}

}  // namespace
}  // namespace lj::net
