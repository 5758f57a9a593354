// Networks through the daemon (issue 14): the real ljd, started INSIDE a network namespace the
// test makes (the "host" h, with an uplink to a "remote" r: 192.168.77.1 <-> .2), never in this
// machine's own. Jails run on the busybox world; their services are busybox httpd. Everything
// (ljd, its jails, the namespaces) goes at the end of each test, also when it fails.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "ljd_process.hpp"
#include "netns_world.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using net::test::Inside;
using net::test::NetnsWorld;
using namespace std::chrono_literals;

// A jail serving `text` at / on `port` with busybox httpd.
json server(const std::string& text, int port = 80) {
  return {{"world", "bb"},
          {"command",
           {"sh", "-c",
            "mkdir -p /tmp/www && echo " + text + " > /tmp/www/index.html && exec httpd -f -p " +
                std::to_string(port) + " -h /tmp/www"}}};
}

// A shell line fetching http://HOST:PORT/PATH with busybox nc, retried for ~2 s. Not wget: the
// static busybox of the test world segfaults in getservbyname (static glibc without NSS), which
// wget calls even for numeric URLs; for the same reason names are read from /etc/hosts (the
// mechanism ljd uses: hosts files kept current), not through the resolver.
std::string fetch_cmd(const std::string& host, int port, const std::string& path = "/") {
  return "for i in $(seq 20); do printf 'GET " + path +
         " HTTP/1.0\r\n\r\n' | nc -w 1 " + host + " " + std::to_string(port) +
         " > /tmp/out 2>/dev/null; grep -q '^HTTP/1.[01] 200' /tmp/out && { cat /tmp/out; exit 0; }; "
         "sleep 0.1; done; exit 1";
}

json on(json body, const std::string& network, json ports = json()) {
  body["networks"] = json::array({{{"name", network}}});
  if (!ports.is_null()) body["ports"] = ports;
  return body;
}

class LjdNetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!net::test::have_root_and_tools(&why)) GTEST_SKIP() << why;
    world_ = std::make_unique<NetnsWorld>();
    world_->add("h");
    world_->add("r");
    auto r = world_->exec("h", "ip link add up0 type veth peer name up1 netns " +
                                   world_->full("r") +
                                   " && ip addr add 192.168.77.1/24 dev up0 && ip link set up0 up");
    ASSERT_EQ(r.status, 0) << r.out;
    r = world_->exec("r", "ip addr add 192.168.77.2/24 dev up1 && ip link set up1 up");
    ASSERT_EQ(r.status, 0) << r.out;
    ljd_ = std::make_unique<LjdProcess>("workers = 4\n");
    ASSERT_TRUE(ljd_->make_busybox_world("bb"));
    start_ljd();
  }

  void TearDown() override {
    if (ljd_ && ljd_->running()) ljd_->stop();
    ljd_.reset();
    world_.reset();  // kills what runs in the namespaces, deletes them
  }

  // ljd inherits the namespace of the thread that forks it.
  void start_ljd() {
    auto fd = world_->fd("h");
    ASSERT_TRUE(fd);
    Inside in(fd.get());
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what() << "\n" << ljd_->log();
  }

  json call(const std::string& method, const std::string& target, const json& body = json(),
            int want = 0) {
    auto c = ljd_->client();
    auto r = body.is_null() ? c.request(method, target) : c.request(method, target, body.dump());
    EXPECT_TRUE(r);
    if (!r) return json();
    if (want != 0) {
      EXPECT_EQ(r->status, want) << method << " " << target << ": " << r->body;
    }
    return r->json();
  }
  json run(const json& body) { return call("POST", "/v1/jails?start=true", body, 201); }

  // Retries `cmd` in namespace `ns` for up to 5 s until it succeeds (a jail's httpd starting).
  net::test::Run until_ok(const std::string& ns, const std::string& cmd) {
    net::test::Run r;
    for (int i = 0; i < 100; ++i) {
      r = world_->exec(ns, cmd);
      if (r.status == 0) return r;
      std::this_thread::sleep_for(50ms);
    }
    return r;
  }

  // The exit code of a jail, waited for.
  int exit_code(const json& jail) {
    auto w = call("GET", "/v1/jails/" + jail["id"].get<std::string>() + "/wait?timeout_s=20");
    const json& e = w.contains("exit") ? w["exit"] : w["jail"]["exit"];
    return e.is_object() && e["code"].is_number() ? e["code"].get<int>() : -1;
  }

  std::string logs_of(const json& jail) {
    auto r = ljd_->client().get("/v1/jails/" + jail["id"].get<std::string>() + "/logs");
    return r ? r->body : std::string();
  }

  int pid_of(const json& jail) {
    auto j = call("GET", "/v1/jails/" + jail["id"].get<std::string>(), json(), 200);
    return j["pid"].is_number() ? j["pid"].get<int>() : -1;
  }

  // `cmd` run in the network namespace of a jail's init (from the test, as root: what the jail
  // itself cannot do without CAP_NET_ADMIN).
  net::test::Run in_jail_netns(int pid, const std::string& cmd) {
    return world_->exec("h", "nsenter -t " + std::to_string(pid) + " -n sh -c \"" + cmd + "\"");
  }

  std::string ip_of(const json& jail) {
    auto j = call("GET", "/v1/jails/" + jail["id"].get<std::string>(), json(), 200);
    if (!j["networks"].is_array() || j["networks"].empty()) return "";
    return j["networks"][0]["ip"].get<std::string>();
  }

  std::unique_ptr<NetnsWorld> world_;
  std::unique_ptr<LjdProcess> ljd_;
};

TEST_F(LjdNetTest, NetworksAreAResource) {
  auto n = call("POST", "/v1/networks", {{"name", "app"}, {"subnet", "10.200.0.0/24"}}, 201);
  EXPECT_EQ(n["subnet"], "10.200.0.0/24");
  EXPECT_EQ(n["gateway"], "10.200.0.1");
  EXPECT_EQ(world_->exec("h", "ip link show " + n["bridge"].get<std::string>()).status, 0);
  call("POST", "/v1/networks", {{"name", "app"}}, 409);
  call("POST", "/v1/networks", {{"name", "clash"}, {"subnet", "10.200.0.128/25"}}, 409);
  call("POST", "/v1/networks", {{"name", "bad"}, {"subnet", "10.200.1.0/33"}}, 400);
  call("POST", "/v1/networks", {{"name", "bad"}, {"nope", 1}}, 400);
  auto auto_net = call("POST", "/v1/networks", {{"name", "auto"}, {"internal", true}}, 201);
  EXPECT_EQ(auto_net["subnet"], "10.78.0.0/24");
  EXPECT_EQ(call("GET", "/v1/networks", json(), 200).size(), 2u);
  call("GET", "/v1/networks/nope", json(), 404);

  // A jail's lease: in its inspect, in the network's, in the started event; refused removal.
  auto j = run(on(server("hi"), "app"));
  EXPECT_EQ(ip_of(j), "10.200.0.2");
  EXPECT_EQ(call("GET", "/v1/networks/app", json(), 200)["jails"][0]["ip"], "10.200.0.2");
  call("DELETE", "/v1/networks/app", json(), 409);
  // An address asked for that is taken, and one outside the subnet.
  auto body = server("x");
  body["networks"] = json::array({{{"name", "app"}, {"ip", "10.200.0.2"}}});
  call("POST", "/v1/jails?start=true", body, 409);
  body["networks"] = json::array({{{"name", "app"}, {"ip", "10.9.9.9"}}});
  call("POST", "/v1/jails?start=true", body, 400);
  body["networks"] = json::array({{{"name", "app"}, {"ip", "10.200.0.77"}}});
  auto k = run(body);
  EXPECT_EQ(ip_of(k), "10.200.0.77");
  bool seen = false;
  {
    auto c = ljd_->client();
    auto r = c.get("/v1/events?since=0");
    ASSERT_TRUE(r);
    seen = r->body.find("\"ip\":\"10.200.0.77\"") != std::string::npos;
  }
  EXPECT_TRUE(seen) << "the jail.started event carries the address";
  call("DELETE", "/v1/jails/" + j["id"].get<std::string>() + "?force=true", json(), 200);
  call("DELETE", "/v1/jails/" + k["id"].get<std::string>() + "?force=true", json(), 200);
  // Leases go with the jails: the address is free again, the network can go.
  EXPECT_TRUE(call("GET", "/v1/networks/app", json(), 200)["jails"].empty());
  call("DELETE", "/v1/networks/app", json(), 200);
  EXPECT_NE(world_->exec("h", "ip link show " + n["bridge"].get<std::string>()).status, 0);
}

TEST_F(LjdNetTest, PublishedPortFromTheRemoteAndFromTheHostItself) {
  auto j = run(on(server("published"), "default", json::array({{{"host_port", 8080},
                                                                 {"container_port", 80}}})));
  EXPECT_EQ(ip_of(j), "10.77.0.2");  // the default network, made on first use
  auto r = until_ok("r", "curl -sf -m 2 http://192.168.77.1:8080/");
  EXPECT_EQ(r.out, "published\n") << r.out;
  r = until_ok("h", "curl -sf -m 2 http://127.0.0.1:8080/");
  EXPECT_EQ(r.out, "published\n") << r.out;
  r = until_ok("h", "curl -sf -m 2 http://192.168.77.1:8080/");
  EXPECT_EQ(r.out, "published\n") << r.out;
  // The same host port twice: refused, and the first one still serves.
  auto c = ljd_->client();
  auto twice = c.post("/v1/jails?start=true",
                      on(server("second"), "default",
                         json::array({{{"host_port", 8080}, {"container_port", 80}}})));
  ASSERT_TRUE(twice);
  EXPECT_EQ(twice->status, 409) << twice->body;
  EXPECT_EQ(world_->exec("r", "curl -sf -m 2 http://192.168.77.1:8080/").out, "published\n");
  // ljctl port
  EXPECT_TRUE(call("GET", "/v1/jails/" + j["id"].get<std::string>(), json(),
                   200)["spec"]["ports"][0]["host_port"] == 8080);
}

TEST_F(LjdNetTest, EgressIsNatedToTheHostsAddress) {
  world_->httpd("r", 8000);
  auto body = on(json{{"world", "bb"},
                      {"command", {"sh", "-c", fetch_cmd("192.168.77.2", 8000, "/cgi-bin/ip")}}},
                 "default");
  auto j = run(body);
  EXPECT_EQ(exit_code(j), 0);
  auto logs = ljd_->client().get("/v1/jails/" + j["id"].get<std::string>() + "/logs");
  ASSERT_TRUE(logs);
  // The remote saw the host's uplink address, not the jail's.
  EXPECT_NE(logs->body.find("192.168.77.1"), std::string::npos) << logs->body;
}

TEST_F(LjdNetTest, JailsOnOneNetworkResolveEachOtherByName) {
  call("POST", "/v1/networks", {{"name", "app"}}, 201);
  auto db = server("from-db");
  db["name"] = "db";
  run(on(db, "app"));
  auto web = on(json{{"world", "bb"},
                     {"name", "web"},
                     {"command",
                      {"sh", "-c",
                       "ip=$(awk '{for(i=2;i<=NF;i++) if($i==\"db\"){print $1; exit}}' "
                       "/etc/hosts); echo \"db is $ip\"; " + fetch_cmd("$ip", 80)}}},
                "app");
  auto w = run(web);
  EXPECT_EQ(exit_code(w), 0);
  auto logs = ljd_->client().get("/v1/jails/" + w["id"].get<std::string>() + "/logs");
  ASSERT_TRUE(logs);
  EXPECT_NE(logs->body.find("from-db"), std::string::npos) << logs->body;
  // A name added after the fact: db's own hosts file learnt "late" when it joined.
  auto late = on(json{{"world", "bb"}, {"name", "late"}, {"command", {"sleep", "30"}}}, "app");
  auto l = run(late);
  std::string db_id = call("GET", "/v1/jails/db", json(), 200)["id"];
  std::ifstream in(ljd_->root() / ".ljd" / "net" / (db_id + ".hosts"));
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("late"), std::string::npos) << ss.str();
  call("DELETE", "/v1/jails/" + l["id"].get<std::string>() + "?force=true", json(), 200);
}

TEST_F(LjdNetTest, DifferentNetworksAreIsolatedAndInternalHasNoWayOut) {
  call("POST", "/v1/networks", {{"name", "a"}}, 201);
  call("POST", "/v1/networks", {{"name", "b"}}, 201);
  call("POST", "/v1/networks", {{"name", "closed"}, {"internal", true}}, 201);
  auto target = run(on(server("secret"), "a"));
  const std::string ip = ip_of(target);
  ASSERT_FALSE(ip.empty());
  auto fetch = [&](const std::string& network, const std::string& host, int port,
                   const std::string& path) {
    return run(on(json{{"world", "bb"}, {"command", {"sh", "-c", fetch_cmd(host, port, path)}}},
                  network));
  };
  // The control: a jail on the same network gets it, so the refusal below is the isolation's.
  EXPECT_EQ(exit_code(fetch("a", ip, 80, "/")), 0);
  EXPECT_NE(exit_code(fetch("b", ip, 80, "/")), 0);
  world_->httpd("r", 8000);
  EXPECT_EQ(exit_code(fetch("a", "192.168.77.2", 8000, "/index.html")), 0);
  EXPECT_NE(exit_code(fetch("closed", "192.168.77.2", 8000, "/index.html")), 0);
  // Ports on an internal network are refused.
  call("POST", "/v1/jails?start=true",
       on(server("x"), "closed", json::array({{{"host_port", 9000}, {"container_port", 80}}})),
       400);
  // No default route in a jail of an internal network; one in a jail of the others.
  auto routes = [&](const std::string& network) {
    auto j = run(on(json{{"world", "bb"}, {"command", {"/bin/busybox", "ip", "route"}}}, network));
    EXPECT_EQ(exit_code(j), 0);
    return logs_of(j);
  };
  EXPECT_EQ(routes("closed").find("default"), std::string::npos) << routes("closed");
  EXPECT_NE(routes("a").find("default via"), std::string::npos) << routes("a");
}

TEST_F(LjdNetTest, AJailCannotTakeAnotherJailsAddress) {
  call("POST", "/v1/networks", {{"name", "app"}, {"subnet", "10.200.0.0/24"}}, 201);
  auto victim = run(on(json{{"world", "bb"}, {"command", {"sleep", "1000"}}}, "app"));
  auto spoofer = run(on(json{{"world", "bb"}, {"command", {"sleep", "1000"}}}, "app"));
  const std::string victim_ip = ip_of(victim), own_ip = ip_of(spoofer);
  ASSERT_FALSE(victim_ip.empty());
  // The jail itself cannot change its addresses (no CAP_NET_ADMIN in a jail).
  auto tries = run(on(json{{"world", "bb"},
                           {"command", {"/bin/busybox", "ip", "addr", "add", victim_ip + "/24", "dev", "eth0"}}},
                      "app"));
  EXPECT_NE(exit_code(tries), 0) << logs_of(tries);
  // And when it has it anyway (root on the host, in its namespace), the bridge drops what it
  // sends from an address that is not its lease. A server on the host (the gateway) and one on
  // the remote say who asks.
  world_->httpd("h", 8001);
  world_->httpd("r", 8002);
  const int pid = pid_of(spoofer);
  ASSERT_GT(pid, 0);
  auto ask = [&](const std::string& host, int port) {
    return in_jail_netns(pid, "curl -sf --connect-timeout 1 -m 2 http://" + host + ":" +
                                  std::to_string(port) + "/cgi-bin/ip");
  };
  // The control: from its own address, both answer.
  auto mine = ask("10.200.0.1", 8001);
  EXPECT_EQ(mine.status, 0) << mine.out;
  EXPECT_NE(mine.out.find(own_ip), std::string::npos) << mine.out;
  EXPECT_EQ(ask("192.168.77.2", 8002).status, 0);
  // Its peer's address.
  auto r = in_jail_netns(pid, "ip addr flush dev eth0 && ip addr add " + victim_ip +
                                  "/24 dev eth0 && ip route add default via 10.200.0.1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(ask("10.200.0.1", 8001).status, 0);
  EXPECT_NE(ask("192.168.77.2", 8002).status, 0);
  // An address nobody holds.
  r = in_jail_netns(pid, "ip addr flush dev eth0 && ip addr add 10.200.0.99/24 dev eth0 && "
                         "ip route add default via 10.200.0.1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(ask("10.200.0.1", 8001).status, 0);
  EXPECT_NE(ask("192.168.77.2", 8002).status, 0);
  // Back on its lease, it is heard again (the drops above were the rule's).
  r = in_jail_netns(pid, "ip addr flush dev eth0 && ip addr add " + own_ip +
                         "/24 dev eth0 && ip route add default via 10.200.0.1");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ask("10.200.0.1", 8001).status, 0);
  for (const auto& j : {victim, spoofer})
    call("DELETE", "/v1/jails/" + j["id"].get<std::string>() + "?force=true", json(), 200);
}

// Teardown is the reverse of setup: an ended jail keeps its address until its rules are gone.
// The teardown is held back 2 s (fault seam), so the window is wide open: its address is not
// handed out meanwhile, and is once the teardown is done, with the same host port.
TEST_F(LjdNetTest, AnAddressIsFreeOnlyOnceTheJailsRulesAreGone) {
  ljd_->stop();
  ::setenv("LJD_FAULT", "teardown.delay_ms:2000", 1);
  start_ljd();
  ::unsetenv("LJD_FAULT");
  call("POST", "/v1/networks", {{"name", "app"}, {"subnet", "10.200.0.0/24"}}, 201);
  auto body = on(json{{"world", "bb"}, {"command", {"true"}}}, "app",
                 json::array({{{"host_port", 8080}, {"container_port", 80}}}));
  body["networks"][0]["ip"] = "10.200.0.50";
  auto first = run(body);
  // Its exit recorded (not /wait: that answers once the teardown is done), its teardown not.
  bool exited = false;
  for (int i = 0; i < 100 && !exited; ++i) {
    exited = call("GET", "/v1/jails/" + first["id"].get<std::string>(), json(), 200)["state"] ==
             "exited";
    if (!exited) std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(exited);
  auto early = ljd_->client().post("/v1/jails?start=true", body);
  ASSERT_TRUE(early);
  EXPECT_EQ(early->status, 409) << early->body;
  EXPECT_NE(early->body.find("leased"), std::string::npos) << early->body;
  EXPECT_NE(world_->exec("h", "nft list ruleset").out.find("10.200.0.50"), std::string::npos);
  // Once torn down: its rules gone, its address free, taken again with the same port.
  bool freed = false;
  for (int i = 0; i < 100 && !freed; ++i) {
    freed = call("GET", "/v1/networks/app", json(), 200)["jails"].empty();
    if (!freed) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(freed);
  EXPECT_EQ(world_->exec("h", "nft list ruleset").out.find("10.200.0.50"), std::string::npos);
  body["command"] = json::array({"sleep", "30"});
  auto second = run(body);
  EXPECT_EQ(ip_of(second), "10.200.0.50");
  call("DELETE", "/v1/jails/" + second["id"].get<std::string>() + "?force=true", json(), 200);
}

// A clean stop (SIGTERM) leaves the host's links, routes and firewall exactly as they were,
// a table of the host's own included.
TEST_F(LjdNetTest, SigtermLeavesTheHostAsItWas) {
  ljd_->stop();
  ASSERT_EQ(world_->exec("h", "nft add table inet hostfw && nft add chain inet hostfw input "
                              "'{ type filter hook input priority 0; policy accept; }' && "
                              "nft add rule inet hostfw input tcp dport 9999 counter drop").status,
            0);
  auto state = [&] {
    return world_->exec("h", "nft list ruleset; ip -o link show | sed 's/^[0-9]*: //' | "
                             "cut -d' ' -f1-2; ip route; ip -6 route; "
                             // the link-local address of up0 may still be in DAD (the
                             // kernel's, not ljd's)
                             "ip -o addr show | sed 's/ tentative//'")
        .out;
  };
  const std::string before = state();
  start_ljd();
  call("POST", "/v1/networks", {{"name", "app"}, {"subnet6", "fd00:77::/64"}}, 201);
  auto up = run(on(server("up"), "app", json::array({{{"host_port", 8080}, {"container_port", 80}}})));
  run(on(json{{"world", "bb"}, {"command", {"sleep", "1000"}}}, "default"));
  ASSERT_EQ(until_ok("r", "curl -sf -m 2 http://192.168.77.1:8080/").out, "up\n");
  // Its IPv6 lease, in inspect, reached from the host.
  auto j = call("GET", "/v1/jails/" + up["id"].get<std::string>(), json(), 200);
  const std::string ip6 = j["networks"][0].value("ip6", "");
  EXPECT_EQ(ip6.rfind("fd00:77::", 0), 0u) << j["networks"].dump();
  EXPECT_EQ(until_ok("h", "curl -sfg -m 2 http://[" + ip6 + "]:80/").out, "up\n");
  ASSERT_NE(state(), before);
  EXPECT_EQ(ljd_->stop(), 0);
  EXPECT_EQ(state(), before);
}

// ljctl's side, end to end: network create|ls|inspect|rm, run --network -p, port.
TEST_F(LjdNetTest, LjctlNetworkCommandsAndPort) {
  auto ljctl = [&](const std::string& args) {
    auto r = world_->exec("h", std::string(LJCTL_PATH) + " --socket " + ljd_->socket() + " " + args);
    while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
    return r;
  };
  auto r = ljctl("network create web --subnet 10.201.0.0/24");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out, "web");
  r = ljctl("network ls");
  EXPECT_NE(r.out.find("10.201.0.0/24"), std::string::npos) << r.out;
  r = ljctl("run -d --name site --network web -p 8090:80 bb -- sh -c 'mkdir -p /tmp/www && "
            "echo via-ljctl > /tmp/www/index.html && exec httpd -f -p 80 -h /tmp/www'");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ljctl("port site").out, "80/tcp -> 0.0.0.0:8090");
  EXPECT_EQ(until_ok("r", "curl -sf -m 2 http://192.168.77.1:8090/").out, "via-ljctl\n");
  r = ljctl("network inspect web");
  EXPECT_NE(r.out.find("\"10.201.0.2\""), std::string::npos) << r.out;
  r = ljctl("network rm web");  // a jail holds an address on it
  EXPECT_NE(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("remove its jails first"), std::string::npos) << r.out;
  EXPECT_EQ(ljctl("rm -f site").status, 0);
  r = ljctl("network rm web");
  EXPECT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(ljctl("network ls").out.find("web"), std::string::npos);
}

// A jail on two networks through the API: an address on each (inspect, the started event, its
// namespace: eth0 and eth1, one default route), reached on each from that network, and the two
// networks still isolated from each other (through the host and through the jail).
TEST_F(LjdNetTest, AJailOnTwoNetworksIsReachedOnEachAndTheyStayIsolated) {
  call("POST", "/v1/networks", {{"name", "front"}, {"subnet", "10.202.1.0/24"}}, 201);
  call("POST", "/v1/networks", {{"name", "back"}, {"subnet", "10.202.2.0/24"}}, 201);
  auto body = server("two-homed");
  body["networks"] = json::array({{{"name", "front"}}, {{"name", "back"}}});
  auto both = run(body);
  auto j = call("GET", "/v1/jails/" + both["id"].get<std::string>(), json(), 200);
  ASSERT_EQ(j["networks"].size(), 2u) << j.dump();
  EXPECT_EQ(j["networks"][0]["network"], "front");
  EXPECT_EQ(j["networks"][0]["ip"], "10.202.1.2");
  EXPECT_EQ(j["networks"][1]["network"], "back");
  EXPECT_EQ(j["networks"][1]["ip"], "10.202.2.2");
  {
    auto r = ljd_->client().get("/v1/events?since=0");
    ASSERT_TRUE(r);
    EXPECT_NE(r->body.find("\"ip\":\"10.202.1.2\""), std::string::npos) << r->body;
    EXPECT_NE(r->body.find("\"ip\":\"10.202.2.2\""), std::string::npos) << r->body;
  }
  const int pid = pid_of(both);
  ASSERT_GT(pid, 0);
  auto addrs = in_jail_netns(pid, "ip -o -4 addr show");
  EXPECT_NE(addrs.out.find("eth0    inet 10.202.1.2/24"), std::string::npos) << addrs.out;
  EXPECT_NE(addrs.out.find("eth1    inet 10.202.2.2/24"), std::string::npos) << addrs.out;
  auto routes = in_jail_netns(pid, "ip route show default");
  EXPECT_EQ(routes.out.rfind("default via 10.202.1.1 dev eth0 ", 0), 0u) << routes.out;
  EXPECT_EQ(routes.out.find("eth1"), std::string::npos) << routes.out;  // one default route
  // Each network's jails reach it on their side.
  auto fetch = [&](const std::string& network, const std::string& host, int tries) {
    std::string cmd = fetch_cmd(host, 80);
    cmd.replace(cmd.find("$(seq 20)"), 9, "$(seq " + std::to_string(tries) + ")");
    return exit_code(run(on(json{{"world", "bb"}, {"command", {"sh", "-c", cmd}}}, network)));
  };
  EXPECT_EQ(fetch("front", "10.202.1.2", 20), 0);
  EXPECT_EQ(fetch("back", "10.202.2.2", 20), 0);
  // Isolation kept: a jail of front does not reach the two-homed jail's back address (that is
  // routed through the host, between two networks), nor a jail of back only.
  auto only_back = run(on(server("back-only"), "back"));
  EXPECT_EQ(fetch("back", ip_of(only_back), 20), 0);  // the control: it serves
  EXPECT_NE(fetch("front", "10.202.2.2", 3), 0);
  EXPECT_NE(fetch("front", ip_of(only_back), 3), 0);
  // Nor through the two-homed jail: it forwards nothing (no route to back from front's side,
  // and forwarding is off in its namespace).
  EXPECT_EQ(in_jail_netns(pid, "cat /proc/sys/net/ipv4/ip_forward").out, "0\n");
  // Both leases go with it.
  call("DELETE", "/v1/jails/" + both["id"].get<std::string>() + "?force=true", json(), 200);
  EXPECT_TRUE(call("GET", "/v1/networks/front", json(), 200)["jails"].empty());
  EXPECT_EQ(call("GET", "/v1/networks/back", json(), 200)["jails"].size(), 1u);
}

// --dns, --add-host and --hostname from ljctl run to the jail's /etc/resolv.conf and /etc/hosts:
// files of its own, bound read-only (not written into the world, which two jails share).
TEST_F(LjdNetTest, LjctlDnsAndAddHostReachTheJailsOwnFiles) {
  auto ljctl = [&](const std::string& args) {
    auto r = world_->exec("h", std::string(LJCTL_PATH) + " --socket " + ljd_->socket() + " " + args);
    return r;
  };
  const std::string show =
      "bb -- sh -c 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; "
      "grep -E \" /etc/(hosts|resolv.conf) \" /proc/self/mountinfo; echo ---; "
      "echo x >> /etc/hosts && echo WRITABLE; true'";
  auto r = ljctl("run --name dnsy --network default --hostname myhost --dns 192.0.2.53 "
                 "--dns 2001:db8::53 --add-host db.example:10.1.2.3 --add-host 'v6:[fd00::5]' " +
                 show);
  ASSERT_EQ(r.status, 0) << r.out;
  const std::string out = r.out;
  EXPECT_NE(out.find("nameserver 192.0.2.53\nnameserver 2001:db8::53\n"), std::string::npos)
      << out;
  EXPECT_NE(out.find("10.77.0.2\tmyhost\n"), std::string::npos) << out;
  EXPECT_NE(out.find("10.1.2.3\tdb.example\n"), std::string::npos) << out;
  EXPECT_NE(out.find("fd00::5\tv6\n"), std::string::npos) << out;
  EXPECT_NE(out.find(" /etc/hosts ro,"), std::string::npos) << out;
  EXPECT_NE(out.find(" /etc/resolv.conf ro,"), std::string::npos) << out;
  EXPECT_EQ(out.find("WRITABLE"), std::string::npos) << out;
  // Another jail at the same time has its own: not the first one's lines.
  r = ljctl("run --name plain --network default " + show);
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_EQ(r.out.find("192.0.2.53"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("db.example"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\tplain\n"), std::string::npos) << r.out;
  // And the world's files are untouched.
  for (const char* f : {"etc/hosts", "etc/resolv.conf"}) {
    std::ifstream in(ljd_->root() / "worlds" / "bb" / f);
    std::stringstream ss;
    ss << in.rdbuf();
    EXPECT_EQ(ss.str().find("db.example"), std::string::npos) << f;
    EXPECT_EQ(ss.str().find("192.0.2.53"), std::string::npos) << f;
  }
  // Bad input: a clear error, nothing run.
  r = ljctl("run --network default --dns not-an-ip bb -- true");
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.out.find("dns"), std::string::npos) << r.out;
}

// A resolv.conf is one file per distinct text, bound read-only into every jail with that text
// (most share the host's servers: one file made, not one a jail); a hosts file is each jail's own
// and goes with the jail.
TEST_F(LjdNetTest, ResolvConfIsSharedByTextAndAJailsHostsFileGoesWithIt) {
  const json cmd = {"sh", "-c",
                    "grep ' /etc/resolv.conf ' /proc/self/mountinfo | cut -d' ' -f4; "
                    "cat /etc/resolv.conf; echo END; exec sleep 30"};
  auto body = on(json{{"world", "bb"}, {"command", cmd}}, "default");
  auto own_dns = body;
  own_dns["dns"] = json::array({"192.0.2.53"});
  std::vector<json> jails{run(body), run(body), run(own_dns)};
  std::vector<std::string> out;
  for (const auto& j : jails) {
    std::string l;
    for (int i = 0; i < 100 && l.find("END") == std::string::npos; ++i) {
      std::this_thread::sleep_for(50ms);
      l = logs_of(j);
    }
    ASSERT_NE(l.find("END"), std::string::npos) << l;
    out.push_back(l);
  }
  auto source = [](const std::string& log) {  // the bind's root: the file under .ljd/net
    auto at = log.find("/resolv-");
    return at == std::string::npos ? std::string() : log.substr(at, log.find(".conf", at) - at);
  };
  EXPECT_FALSE(source(out[0]).empty()) << out[0];
  EXPECT_EQ(source(out[0]), source(out[1]));
  EXPECT_NE(source(out[0]), source(out[2]));
  EXPECT_EQ(out[0].find("192.0.2.53"), std::string::npos) << out[0];
  EXPECT_NE(out[2].find("nameserver 192.0.2.53"), std::string::npos) << out[2];
  auto files = [&](const std::string& suffix) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(ljd_->root() / ".ljd" / "net")) {
      const std::string f = e.path().filename().string();
      n += f.size() >= suffix.size() && f.compare(f.size() - suffix.size(), suffix.size(), suffix) == 0;
    }
    return n;
  };
  EXPECT_EQ(files(".conf"), 2);
  EXPECT_EQ(files(".hosts"), 3);
  auto jails_files = [&] {  // "<jail id>.hosts"; the others are spares (Networks::forget)
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(ljd_->root() / ".ljd" / "net"))
      n += e.path().filename().string().rfind("spare-", 0) != 0 && e.path().extension() == ".hosts";
    return n;
  };
  EXPECT_EQ(jails_files(), 3);
  for (const auto& j : jails) call("DELETE", "/v1/jails/" + j["id"].get<std::string>() + "?force=true", json(), 200);
  for (int i = 0; i < 40 && jails_files() > 0; ++i) std::this_thread::sleep_for(50ms);
  EXPECT_EQ(jails_files(), 0);
  EXPECT_EQ(files(".hosts"), 3);  // kept as spares
  // The next jail's hosts file is a spare, rewritten: nothing of the jails gone is in it.
  auto next = run(on(json{{"world", "bb"},
                          {"command", {"sh", "-c", "cat /etc/hosts; echo END; exec sleep 30"}}},
                     "default"));
  std::string l;
  for (int i = 0; i < 100 && l.find("END") == std::string::npos; ++i) {
    std::this_thread::sleep_for(50ms);
    l = logs_of(next);
  }
  ASSERT_NE(l.find("END"), std::string::npos) << l;
  for (const auto& j : jails) EXPECT_EQ(l.find(j["id"].get<std::string>()), std::string::npos) << l;
  EXPECT_NE(l.find(next["id"].get<std::string>()), std::string::npos) << l;
  EXPECT_EQ(jails_files(), 1);
  EXPECT_EQ(files(".hosts"), 3);
  call("DELETE", "/v1/jails/" + next["id"].get<std::string>() + "?force=true", json(), 200);
}

TEST_F(LjdNetTest, KillNineThenRestartFreesDeadLeasesKeepsLiveOnesRemovesStaleLinks) {
  call("POST", "/v1/networks", {{"name", "app"}}, 201);
  // A first jail starts the link pool: the next ones join with a waiting link, which keeps the
  // pool's name (ljvp-) and carries the jail's link name as its alias.
  EXPECT_EQ(exit_code(run(on(json{{"world", "bb"}, {"command", {"true"}}}, "app"))), 0);
  std::this_thread::sleep_for(200ms);
  auto keep = run(on(server("kept"), "app", json::array({{{"host_port", 8080},
                                                          {"container_port", 80}}})));
  auto dies = run(on(json{{"world", "bb"}, {"command", {"sleep", "1000"}}}, "app",
                    json::array({{{"host_port", 8081}, {"container_port", 80}}})));
  const std::string keep_ip = ip_of(keep), dies_ip = ip_of(dies);
  ASSERT_FALSE(keep_ip.empty());
  ASSERT_EQ(until_ok("r", "curl -sf -m 2 http://192.168.77.1:8080/").out, "kept\n");
  ljd_->crash();
  // While ljd is down, interfaces of ljd's that no jail owns (left by an older crash).
  ASSERT_EQ(world_->exec("h", "ip link add ljve-0000dead type veth peer name ljve-0000dea2 && "
                              "ip link add ljbr-0000dead type bridge").status, 0);
  start_ljd();
  // The stale interfaces are gone, the live jail's link and published port survive.
  EXPECT_NE(world_->exec("h", "ip link show ljve-0000dead").status, 0);
  EXPECT_NE(world_->exec("h", "ip link show ljve-0000dea2").status, 0);
  EXPECT_NE(world_->exec("h", "ip link show ljbr-0000dead").status, 0);
  EXPECT_EQ(until_ok("r", "curl -sf -m 2 http://192.168.77.1:8080/").out, "kept\n");
  EXPECT_EQ(ip_of(keep), keep_ip);
  // Both live jails' links were pooled ones, found again by their aliases.
  EXPECT_EQ(world_->exec("h", "ip -o link show | grep 'ljvp-' | grep -c 'alias ljve-'").out, "2\n")
      << world_->exec("h", "ip -o link show").out;
  // Now one dies while ljd is down: its lease is freed at the next start.
  auto d = call("GET", "/v1/jails/" + dies["id"].get<std::string>(), json(), 200);
  const int dies_pid = d["pid"].get<int>();
  ljd_->crash();
  ASSERT_EQ(::kill(dies_pid, SIGKILL), 0);
  start_ljd();
  auto net = call("GET", "/v1/networks/app", json(), 200);
  ASSERT_EQ(net["jails"].size(), 1u) << net.dump();
  EXPECT_EQ(net["jails"][0]["ip"], keep_ip);
  // The dead jail's rules are gone (its address, its port), the live one's kept.
  const std::string rules = world_->exec("h", "nft list ruleset").out;
  EXPECT_EQ(rules.find(dies_ip), std::string::npos) << rules;
  EXPECT_EQ(rules.find("8081"), std::string::npos) << rules;
  EXPECT_NE(rules.find(keep_ip), std::string::npos) << rules;
  EXPECT_EQ(world_->exec("h", "ip -o link show | grep -c ljve-").out, "1\n");
  // The freed address is handed out again, and its port can be published again.
  auto again = run(on(json{{"world", "bb"}, {"command", {"sleep", "30"}}}, "app",
                      json::array({{{"host_port", 8081}, {"container_port", 80}}})));
  EXPECT_EQ(ip_of(again), dies_ip);
  // A clean stop: no bridge, link or table of ljd's is left in the host namespace.
  EXPECT_EQ(ljd_->stop(), 0);
  EXPECT_EQ(world_->exec("h", "ip -o link show | grep -E 'ljbr-|ljve-|ljvp-'").status, 1)
      << world_->exec("h", "ip -o link show").out;
  EXPECT_EQ(world_->exec("h", "nft list tables | grep ljd").status, 1)
      << world_->exec("h", "nft list tables").out;
}

}  // namespace
}  // namespace lj::testing
