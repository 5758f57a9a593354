// ljctl's networking options as API values (no daemon): -p forms, --network/--ip/--dns/--add-host.
#include <gtest/gtest.h>

#include "client/ljctl_args.hpp"
#include "client/ljctl_network.hpp"

namespace lj::ljctl {
namespace {

using nlohmann::json;

TEST(LjctlPublish, Forms) {
  EXPECT_EQ(parse_publish("8080:80").value(),
            (json{{"host_port", 8080}, {"container_port", 80}, {"protocol", "tcp"}}));
  EXPECT_EQ(parse_publish("5353:53/udp").value()["protocol"], "udp");
  auto bound = parse_publish("127.0.0.1:8080:80/tcp").value();
  EXPECT_EQ(bound["host_ip"], "127.0.0.1");
  EXPECT_EQ(bound["host_port"], 8080);
  EXPECT_EQ(parse_publish("[fd00::1]:8080:80").value()["host_ip"], "fd00::1");
  for (const char* badp : {"80", "0:80", "8080:70000", "8080:80/sctp", "a:b", "8080:", ":80",
                           "[fd00::1:8080:80"}) {
    auto r = parse_publish(badp);
    EXPECT_FALSE(r) << badp;
    if (!r) {
      EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    }
  }
}

TEST(LjctlPublish, RunBodyJoinsDefaultWithPortsAndTakesTheRest) {
  RunNetOptions n;
  n.publish = {"8080:80"};
  n.dns = {"192.0.2.53"};
  n.add_host = {"db:192.0.2.7"};
  json body = json::object();
  ASSERT_TRUE(add_run_networking(n, body));
  EXPECT_EQ(body["networks"], json::array({{{"name", "default"}}}));
  EXPECT_EQ(body["ports"][0]["host_port"], 8080);
  EXPECT_EQ(body["dns"], json::array({"192.0.2.53"}));
  EXPECT_EQ(body["extra_hosts"], json::array({"db:192.0.2.7"}));

  RunNetOptions two;
  two.networks = {"front", "back"};
  two.ip = "10.78.0.9";
  json b2 = json::object();
  ASSERT_TRUE(add_run_networking(two, b2));
  EXPECT_EQ(b2["networks"], json::array({{{"name", "front"}, {"ip", "10.78.0.9"}},
                                         {{"name", "back"}}}));
  // With --net (the older modes) it contradicts itself.
  json b3 = {{"network", {{"mode", "inherit"}}}};
  EXPECT_FALSE(add_run_networking(two, b3));
  RunNetOptions badhost;
  badhost.add_host = {"nocolon"};
  json b4 = json::object();
  EXPECT_FALSE(add_run_networking(badhost, b4));
}

}  // namespace
}  // namespace lj::ljctl
