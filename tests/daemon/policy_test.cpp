// The host privilege policy's pure parts (daemon/policy.hpp): items, ljd.conf keys, evaluation.
#include <gtest/gtest.h>

#include "daemon/config.hpp"
#include "daemon/policy.hpp"

namespace lj::daemon {
namespace {

std::vector<std::string> rules(const std::vector<Refusal>& r) {
  std::vector<std::string> out;
  for (const auto& x : r) out.push_back(x.item + ":" + x.rule);
  return out;
}

TEST(Privileges, ItemsParseAndNormalise) {
  auto p = parse_privileges(" device=/dev/fuse, raw_sockets,port=80 ,port=53/udp,,mlock,sysvipc");
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_EQ(p->items(), (std::vector<std::string>{"device=/dev/fuse", "mlock", "port=53/udp",
                                                  "port=80/tcp", "raw_sockets", "sysvipc"}));
  auto g = grants_of(*p);
  EXPECT_EQ(g.devices, std::vector<std::string>{"/dev/fuse"});
  EXPECT_TRUE(g.raw_sockets && g.mlock && g.sysvipc);
}

TEST(Privileges, BadItemsRefusedByName) {
  for (const char* bad : {"device=/etc/passwd", "device=/dev/../etc/passwd", "device=/dev/",
                          "device=/dev/a//b", "device=/dev/./x", "port=0", "port=70000",
                          "port=80/icmp", "port=x", "root", "device=/dev/a,b"}) {
    auto p = parse_privileges(bad);
    EXPECT_FALSE(p) << bad;
  }
  auto p = parse_privileges("cap_sys_admin");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().errc(), Errc::invalid_argument);
  EXPECT_NE(p.error().message().find("cap_sys_admin"), std::string::npos);
}

TEST(HostPolicy, ConfigKeys) {
  Config cfg;
  ASSERT_TRUE(parse_config("policy_registries = 127.0.0.1:5000, quay.io/org\n"
                           "policy_devices = /dev/fuse, /dev/net/tun\n"
                           "policy_allow = mlock, sysvipc\n"
                           "policy_ports = 80, 1024-65535\n",
                           &cfg));
  EXPECT_EQ(cfg.policy.registries, (std::vector<std::string>{"127.0.0.1:5000", "quay.io/org"}));
  EXPECT_EQ(cfg.policy.devices.size(), 2u);
  EXPECT_TRUE(cfg.policy.mlock && cfg.policy.sysvipc && !cfg.policy.raw_sockets);
  EXPECT_EQ(cfg.policy.ports.size(), 2u);
  for (const char* bad : {"policy_allow = everything", "policy_ports = 9-1", "policy_ports = 0",
                          "policy_devices = /tmp/x", "policy_registries = a/", "policy_nope = 1"}) {
    Config c;
    auto st = parse_config(bad, &c);
    EXPECT_FALSE(st) << bad;
    if (!st) {
      EXPECT_NE(st.error().message().find("line 1"), std::string::npos) << bad;
    }
  }
}

TEST(HostPolicy, DefaultGrantsNothingButPortsAndRegistries) {
  HostPolicy def;
  Privileges none;
  std::vector<std::string> names = {"docker.io/library/busybox"};
  EXPECT_TRUE(evaluate(def, none, &names).empty());
  auto p = *parse_privileges("device=/dev/fuse,raw_sockets,mlock,sysvipc,port=80");
  EXPECT_EQ(rules(evaluate(def, p, &names)),
            (std::vector<std::string>{"device=/dev/fuse:policy_devices", "mlock:policy_allow",
                                      "raw_sockets:policy_allow", "sysvipc:policy_allow"}));
}

TEST(HostPolicy, RegistriesMatchWholeComponents) {
  HostPolicy pol;
  pol.registries = {"127.0.0.1:5000/ok", "quay.io"};
  auto eval = [&](std::vector<std::string> names) { return rules(evaluate(pol, {}, &names)); };
  EXPECT_TRUE(eval({"127.0.0.1:5000/ok"}).empty());
  EXPECT_TRUE(eval({"127.0.0.1:5000/ok/app"}).empty());
  EXPECT_TRUE(eval({"quay.io/x/y"}).empty());
  EXPECT_TRUE(eval({"docker.io/library/a", "quay.io/b"}).empty());  // one allowed name is enough
  EXPECT_EQ(eval({"127.0.0.1:5000/okay/app"}),
            std::vector<std::string>{"image=127.0.0.1:5000/okay/app:policy_registries"});
  EXPECT_EQ(eval({"quay.io.evil.com/x"}),
            std::vector<std::string>{"image=quay.io.evil.com/x:policy_registries"});
  EXPECT_EQ(eval({}), std::vector<std::string>{"image=(unnamed):policy_registries"});
  EXPECT_TRUE(rules(evaluate(pol, {}, nullptr)).empty());  // not an image: no registry rule
}

TEST(HostPolicy, PortsAndGrants) {
  HostPolicy pol;
  pol.ports = {{1024, 65535}};
  pol.devices = {"/dev/fuse"};
  pol.raw_sockets = true;
  auto p = *parse_privileges("port=8080,port=80/udp,device=/dev/fuse,device=/dev/kvm,raw_sockets");
  EXPECT_EQ(rules(evaluate(pol, p, nullptr)),
            (std::vector<std::string>{"device=/dev/kvm:policy_devices", "port=80/udp:policy_ports"}));
  auto e = refusal_error(evaluate(pol, p, nullptr));
  EXPECT_EQ(e.code(), "policy.permission_denied");
  EXPECT_NE(e.message().find("device=/dev/kvm (policy_devices)"), std::string::npos);
  EXPECT_EQ(refusal_details(evaluate(pol, p, nullptr))["refused"][1]["rule"], "policy_ports");
}

}  // namespace
}  // namespace lj::daemon
