// Network mode ip and the optional user namespace. The ip test never touches the host's
// interfaces: it moves this test process into a network namespace of its own, with a veth pair
// as the "host interface", and returns to the original namespace afterwards.
#include <fcntl.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <thread>

#include "host_kernel.hpp"
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

// Jails with network mode none share one sysfs superblock, of a loopback-only namespace of the
// backend's (AssembleOptions::sysfs_netns_fd): jails alive at the same time see the same device
// for /sys, never the host's, and no interface of the host in it. A backend's first spawns mount
// their own (the namespace is made in the background), so a few warm it up first.
TEST_F(JailTest, JailsAliveTogetherShareALoopbackOnlySysfs) {
  struct stat host {};
  ASSERT_EQ(::stat("/sys", &host), 0);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(run(probe({"getpid"})));
  // A few rounds: on a loaded machine the namespace may not be made yet for the first.
  std::map<std::string, int> devs;
  for (int round = 0; round < 5 && devs.size() != 1; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    std::vector<std::string> outs(6);
    std::vector<std::thread> threads;
    for (std::size_t t = 0; t < outs.size(); ++t)
      threads.emplace_back([&, t] {
        auto r = run(spec({"sh", "-c", "/bin/probe dev-ls /sys /sys/class/net; sleep 1"}));
        outs[t] = r ? r->out : r.error().what();
      });
    for (auto& th : threads) th.join();
    devs.clear();
    for (const auto& o : outs) {
      auto sp = o.find(' ');
      ASSERT_NE(sp, std::string::npos) << o;
      EXPECT_EQ(o.substr(sp + 1), "lo\n");
      EXPECT_NE(o.substr(0, sp), std::to_string(host.st_dev));
      ++devs[o.substr(0, sp)];
    }
  }
  EXPECT_EQ(devs.size(), 1u) << "jails alive together mounted " << devs.size()
                             << " sysfs superblocks";
}

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

// A network namespace of its own, made by a thread that leaves with it (the test's stay as they
// are).
UniqueFd new_netns() {
  UniqueFd fd;
  std::thread([&] {
    if (::unshare(CLONE_NEWNET) == 0) fd.reset(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  }).join();
  return fd;
}

// Network::attach_links runs beside the spawn, not on the spawning thread, and the command starts
// only once it returned: here it takes 300 ms and then leaves a file in a directory the jail
// mounted meanwhile, which the command's very first step reads.
TEST_F(JailTest, AttachLinksRunsBesideTheSpawnAndTheCommandStartsOnceItIsDone) {
  UniqueFd ns = new_netns();
  ASSERT_TRUE(ns);
  const auto dir = world().dir() / "links";
  std::filesystem::create_directories(dir);
  auto s = spec({"cat", "/links/made"});
  s.root.volumes = {{dir, "/links", true}};
  s.network.mode = NetworkMode::netns;
  s.network.netns_fd = ns.get();
  std::thread::id ran_on;
  s.network.attach_links = [&]() -> Status {
    ran_on = std::this_thread::get_id();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    std::ofstream(dir / "made") << "links made\n";
    return {};
  };
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "links made\n");
  EXPECT_EQ(r->status.code, 0);
  EXPECT_NE(ran_on, std::thread::id());
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

// Its failure is the spawn's, with its own error (not init's record of a missing byte), and the
// jail goes with it (the fixture checks that no cgroup or mount is left); without mode netns and
// its descriptor it is refused.
TEST_F(JailTest, AFailedAttachLinksFailsTheSpawnWithItsError) {
  UniqueFd ns = new_netns();
  ASSERT_TRUE(ns);
  auto s = probe({"true"});
  s.network.mode = NetworkMode::netns;
  s.network.netns_fd = ns.get();
  s.network.attach_links = [] { return Status(fail(Errc::conflict, "net", "no such bridge")); };
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::conflict) << r.error().what();
  EXPECT_NE(r.error().what().find("no such bridge"), std::string::npos) << r.error().what();

  auto bad = probe({"true"});
  bad.network.attach_links = [] { return Status{}; };
  auto refused = run(bad);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errc(), Errc::invalid_argument) << refused.error().what();
}

TEST_F(JailTest, InheritNetworkSeesTheHostsInterfaces) {
  auto s = probe({"ifaces"});
  s.network.mode = NetworkMode::inherit;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_NE(r->out, "lo\n");
  EXPECT_NE(r->out.find("lo"), std::string::npos);
}

// Backend::prepare (ljoci's: one spawn, its own steps first): the network namespace made ahead
// goes to the next spawn of a spec with a network of its own, never to one that shares the
// host's (that one spawns as before), and the jail that takes it has only loopback, up, in a
// namespace that is neither the host's nor another jail's.
TEST_F(JailTest, APreparedNetworkNamespaceGoesOnlyToAJailWithANetworkOfItsOwn) {
  char host_ns[64] = {};
  ASSERT_GT(::readlink("/proc/self/ns/net", host_ns, sizeof host_ns - 1), 0);
  auto own = [&] {
    return spec({"sh", "-c",
                 "/bin/probe readlink /proc/self/ns/net; /bin/probe cat /sys/class/net/lo/flags; "
                 "/bin/probe ifaces"});
  };
  backend_->prepare(own());
  auto shared = probe({"readlink", "/proc/self/ns/net"});
  shared.network.mode = NetworkMode::inherit;
  auto r = run(shared);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, std::string(host_ns) + "\n");
  std::string first;
  for (int i = 0; i < 2; ++i) {  // the prepared one, then one of the jail's own making
    auto o = run(own());
    ASSERT_TRUE(o) << o.error().what();
    const auto nl = o->out.find('\n');
    ASSERT_NE(nl, std::string::npos) << o->out;
    const std::string ns = o->out.substr(0, nl);
    EXPECT_NE(ns, host_ns);
    EXPECT_NE(ns, first);
    first = ns;
    EXPECT_EQ(o->out.substr(nl + 1), "0x9\nlo\n") << "lo up (IFF_UP|IFF_LOOPBACK), alone";
  }
}

TEST_F(JailTest, UserNamespaceMapsRootToAnUnprivilegedHostUid) {
  if (auto why = lj::test::user_namespaces_missing(); !why.empty()) GTEST_SKIP() << why;
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
