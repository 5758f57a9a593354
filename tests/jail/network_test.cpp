// Network mode ip and the optional user namespace. The ip test never touches the host's
// interfaces: it moves this test process into a network namespace of its own, with a veth pair
// as the "host interface", and returns to the original namespace afterwards.
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>

#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {

class NetnsGuard {
 public:
  NetnsGuard() : orig_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    ok_ = orig_ && ::unshare(CLONE_NEWNET) == 0;
  }
  ~NetnsGuard() {
    if (ok_) {
      EXPECT_EQ(::setns(orig_.get(), CLONE_NEWNET), 0);
    }
  }
  bool ok() const { return ok_; }

 private:
  UniqueFd orig_;
  bool ok_ = false;
};

TEST_F(JailTest, IpModeGivesTheJailAMacvlanWithItsAddresses) {
  NetnsGuard ns;
  ASSERT_TRUE(ns.ok());
  // The test's own namespace: a veth pair stands in for the host's uplink.
  ASSERT_EQ(std::system("ip link add ljv0 type veth peer name ljv1 && ip link set ljv0 up && "
                        "ip link set ljv1 up && ip addr add 192.0.2.1/24 dev ljv1"),
            0);
  auto s = spec(
      {"sh", "-c", "ls /sys/class/net; ip -o addr show dev eth0 scope global | awk '{print $4}'"});
  s.network.mode = NetworkMode::ip;
  s.network.interface = "ljv0";
  s.network.addresses = {"192.0.2.10/24", "2001:db8::10/64"};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "eth0\nlo\n192.0.2.10/24\n2001:db8::10/64\n");
  // The macvlan went away with the jail's namespace.
  EXPECT_NE(std::system("ip link show eth0 >/dev/null 2>&1"), 0);

  s = probe({"true"});
  s.network.mode = NetworkMode::ip;
  s.network.interface = "nosuchif0";
  s.network.addresses = {"192.0.2.11/24"};
  r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("interface nosuchif0"), std::string::npos) << r.error().what();
}

TEST_F(JailTest, InheritNetworkSeesTheHostsInterfaces) {
  auto s = probe({"ifaces"});
  s.network.mode = NetworkMode::inherit;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_NE(r->out, "lo\n");
  EXPECT_NE(r->out.find("lo"), std::string::npos);
}

TEST_F(JailTest, UserNamespaceMapsRootToAnUnprivilegedHostUid) {
  auto s = probe({"id"});
  s.userns = UserNamespace{100000, 100000, 65536};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "0 0\n");
  s = probe({"cat", "/proc/self/uid_map"});
  s.userns = UserNamespace{100000, 100000, 65536};
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_NE(r->out.find("100000"), std::string::npos) << r->out;
}

}  // namespace
}  // namespace lj::jail::test
