// ljctl's command-line values -> API values, without a daemon.
#include "client/ljctl_args.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>

namespace lj::ljctl {
namespace {

using nlohmann::json;

TEST(ParseSize, AcceptsBinaryUnits) {
  EXPECT_EQ(*parse_size("4096"), 4096u);
  EXPECT_EQ(*parse_size("512M"), 512ull << 20);
  EXPECT_EQ(*parse_size("512m"), 512ull << 20);
  EXPECT_EQ(*parse_size("1G"), 1ull << 30);
  EXPECT_EQ(*parse_size("1GiB"), 1ull << 30);
  EXPECT_EQ(*parse_size("1gb"), 1ull << 30);
  EXPECT_EQ(*parse_size("1.5G"), 3ull << 29);
  EXPECT_EQ(*parse_size("64K"), 65536u);
  EXPECT_EQ(*parse_size("2T"), 2ull << 40);
  EXPECT_EQ(*parse_size("10B"), 10u);
}

TEST(ParseSize, RejectsWhatIsNotASize) {
  for (const char* bad : {"", "M", "-1G", "1X", "1Gx", "1.5", "1e9", "1 G", "99999999999999T"}) {
    auto r = parse_size(bad);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    }
  }
}

// Decimals are read without std::from_chars (FreeBSD's libc++ has none for double) and still
// give the nearest double, as strtod does in the C locale.
TEST(ParseDuration, DecimalsAreTheNearestDouble) {
  for (const char* d : {"0.1", "1.1", "2.675", "123.456", "0.3333333", "99999.99999", "7.",
                        "1234567.891", "0.000001"}) {
    auto r = parse_duration(d);
    ASSERT_TRUE(r) << d;
    EXPECT_EQ(*r, std::strtod(d, nullptr)) << d;
  }
  EXPECT_FALSE(parse_duration("99999999999999999999"));  // beyond 64 bits of digits
}

TEST(ParseDuration, SecondsAndUnits) {
  EXPECT_DOUBLE_EQ(*parse_duration("30"), 30);
  EXPECT_DOUBLE_EQ(*parse_duration("1.5s"), 1.5);
  EXPECT_DOUBLE_EQ(*parse_duration("5m"), 300);
  EXPECT_DOUBLE_EQ(*parse_duration("1h30m"), 5400);
  EXPECT_DOUBLE_EQ(*parse_duration("250ms"), 0.25);
  EXPECT_DOUBLE_EQ(*parse_duration("1d"), 86400);
  for (const char* bad : {"", "s", "1m30", "5x", "-1s", "1..2s"})
    EXPECT_FALSE(parse_duration(bad)) << bad;
}

TEST(ParseCpu, CpusOrPercent) {
  EXPECT_EQ(*parse_cpu("0.5"), 50u);
  EXPECT_EQ(*parse_cpu("2"), 200u);
  EXPECT_EQ(*parse_cpu("150%"), 150u);
  for (const char* bad : {"", "0", "abc", "50%%", "0.001", "2000"})
    EXPECT_FALSE(parse_cpu(bad)) << bad;
}

TEST(ParseCount, WholeNumbersOnly) {
  EXPECT_EQ(*parse_count("100"), 100u);
  for (const char* bad : {"", "1K", "-1", "1.5"}) EXPECT_FALSE(parse_count(bad)) << bad;
}

TEST(ParseSignal, NamesAndNumbers) {
  EXPECT_EQ(*parse_signal("TERM"), SIGTERM);
  EXPECT_EQ(*parse_signal("SIGKILL"), SIGKILL);
  EXPECT_EQ(*parse_signal("hup"), SIGHUP);
  EXPECT_EQ(*parse_signal("9"), 9);
  for (const char* bad : {"", "SIGFOO", "0", "999", "TERM9"})
    EXPECT_FALSE(parse_signal(bad)) << bad;
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(200), "signal 200");
}

TEST(ParseVolume, HostJailAndMode) {
  EXPECT_EQ(*parse_volume("/srv/data:/data", "/home/u"),
            (json{{"host_path", "/srv/data"}, {"jail_path", "/data"}, {"read_only", false}}));
  EXPECT_EQ(*parse_volume("data/:/data:ro", "/home/u"),
            (json{{"host_path", "/home/u/data"}, {"jail_path", "/data"}, {"read_only", true}}));
  EXPECT_EQ((*parse_volume("./a/../b:/b:rw", "/w"))["host_path"], "/w/b");
  for (const char* bad : {"/a", "/a:b", ":/b", "/a:/b:rx", "/a:/b:ro:x"}) {
    EXPECT_FALSE(parse_volume(bad, "/")) << bad;
  }
}

TEST(ParseTarget, WorldOrOverlayWithConstraint) {
  auto w = *parse_target("bookworm");
  EXPECT_EQ(w.world, "bookworm");
  EXPECT_TRUE(w.overlay.empty());
  auto o = *parse_target("lang/ruby@~>2.1");
  EXPECT_EQ(o.overlay, "lang/ruby");
  EXPECT_EQ(o.constraint, "~>2.1");
  EXPECT_TRUE(o.world.empty());
  EXPECT_EQ(parse_target("lang/ruby")->constraint, "");
  for (const char* bad : {"", "@1.0", "bookworm@1.0", "lang/ruby@"})
    EXPECT_FALSE(parse_target(bad)) << bad;
}

TEST(ParseTarget, ImagesByTagDigestOrRegistry) {
  for (const char* img : {"busybox:1.36", "127.0.0.1:5000/app", "127.0.0.1:5000/app:1",
                          "app@sha256:0123", "docker.io/library/busybox", "localhost/bb",
                          "quay.io/x/y:z"}) {
    auto t = parse_target(img);
    ASSERT_TRUE(t) << img;
    EXPECT_EQ(t->image, img);
    EXPECT_TRUE(t->world.empty() && t->overlay.empty()) << img;
  }
  // Worlds and overlays stay what they were: no tag, no registry.
  EXPECT_EQ(parse_target("14.1-RELEASE")->world, "14.1-RELEASE");
  EXPECT_EQ(parse_target("lang/ruby@~>2.1")->overlay, "lang/ruby");
  EXPECT_TRUE(parse_target("lang/ruby@~>2.1")->image.empty());
}

TEST(MakeCreateBody, AnImageTakesNoWorldAndAnOptionalCommand) {
  RunOptions o;
  o.target = "127.0.0.1:5000/app:1";
  auto body = make_create_body(o, "/", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(body) << body.error().what();
  EXPECT_EQ((*body)["image"], "127.0.0.1:5000/app:1");
  EXPECT_FALSE(body->contains("world") || body->contains("overlay") || body->contains("command"));
  o.target = "myimage";
  o.image = true;
  o.command = {"true"};
  body = make_create_body(o, "/", [](const std::string&) { return std::nullopt; });
  ASSERT_TRUE(body);
  EXPECT_EQ((*body)["image"], "myimage");
  EXPECT_EQ((*body)["command"], nlohmann::json::array({"true"}));
  o.world = "bookworm";
  EXPECT_FALSE(make_create_body(o, "/", [](const std::string&) { return std::nullopt; }));
}

std::optional<std::string> fake_env(const std::string& k) {
  if (k == "HOME") return std::string("/home/u");
  return std::nullopt;
}

TEST(MakeCreateBody, EveryRunOptionBecomesItsField) {
  RunOptions o;
  o.target = "web/app@^1.2";
  o.command = {"/bin/sh", "-c", "exit 3"};
  o.name = "web-1";
  o.world = "bookworm";
  o.env = {"A=1", "B=x=y", "HOME", "UNSET"};
  o.workdir = "/srv";
  o.hostname = "h";
  o.net = "ip";
  o.interface = "eth0";
  o.addresses = {"192.0.2.10/24"};
  o.volumes = {"data:/data:ro"};
  o.memory = "512M";
  o.pids = "100";
  o.cpu = "1.5";
  o.nofile = "1024";
  o.timeout = "1m";
  o.labels = {"team=ci", "x="};
  o.keep = true;
  auto body = make_create_body(o, "/home/u", fake_env);
  ASSERT_TRUE(body) << body.error().what();
  json want = {
      {"name", "web-1"},
      {"world", "bookworm"},
      {"overlay", {{"name", "web/app"}, {"version", "^1.2"}}},
      {"command", {"/bin/sh", "-c", "exit 3"}},
      {"env", {{"A", "1"}, {"B", "x=y"}, {"HOME", "/home/u"}}},
      {"workdir", "/srv"},
      {"hostname", "h"},
      {"network", {{"mode", "ip"}, {"interface", "eth0"}, {"addresses", {"192.0.2.10/24"}}}},
      {"limits",
       {{"memory_bytes", 536870912},
        {"pids", 100},
        {"cpu_percent", 150},
        {"nofile", 1024},
        {"timeout_s", 60.0}}},
      {"volumes", {{{"host_path", "/home/u/data"}, {"jail_path", "/data"}, {"read_only", true}}}},
      {"labels", {{"team", "ci"}, {"x", ""}}},
      {"auto_remove", false},
  };
  EXPECT_EQ(*body, want) << body->dump(2);
}

TEST(MakeCreateBody, MinimalRunOnAWorld) {
  RunOptions o;
  o.target = "bookworm";
  o.command = {"true"};
  auto body = make_create_body(o, "/", fake_env);
  ASSERT_TRUE(body);
  EXPECT_EQ(*body, (json{{"world", "bookworm"}, {"command", {"true"}}, {"auto_remove", true}}));
}

TEST(MakeCreateBody, RejectsContradictionsWithAOneLineReason) {
  auto with = [](auto edit) {
    RunOptions o;
    o.target = "bookworm";
    o.command = {"true"};
    edit(o);
    return make_create_body(o, "/", fake_env);
  };
  EXPECT_FALSE(with([](RunOptions& o) { o.command.clear(); }));
  EXPECT_FALSE(with([](RunOptions& o) { o.world = "other"; }));
  EXPECT_FALSE(with([](RunOptions& o) { o.net = "bridge"; }));
  EXPECT_FALSE(with([](RunOptions& o) { o.net = "ip"; }));  // no address
  EXPECT_FALSE(with([](RunOptions& o) {
    o.interface = "eth0";
    o.net = "none";
  }));
  EXPECT_FALSE(with([](RunOptions& o) { o.memory = "lots"; }));
  EXPECT_FALSE(with([](RunOptions& o) { o.labels = {"novalue"}; }));
  EXPECT_FALSE(with([](RunOptions& o) { o.env = {"=x"}; }));
  auto e = with([](RunOptions& o) { o.memory = "12Q"; });
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().what().find('\n'), std::string::npos);
  EXPECT_EQ(e.error().what().rfind("--memory: ", 0), 0u) << e.error().what();
  // --address alone implies --net ip.
  auto ip = with([](RunOptions& o) { o.addresses = {"10.0.0.2/24"}; });
  ASSERT_TRUE(ip);
  EXPECT_EQ((*ip)["network"]["mode"], "ip");
}

TEST(ExitStatus, CodeSignalOrUnknown) {
  EXPECT_EQ(exit_status(json{{"code", 3}, {"signal", nullptr}}), 3);
  EXPECT_EQ(exit_status(json{{"code", nullptr}, {"signal", 9}}), 137);
  EXPECT_EQ(exit_status(json{{"code", 0}}), 0);
  EXPECT_EQ(exit_status(json{{"code", nullptr}, {"signal", nullptr}, {"lost", true}}), kExitError);
  EXPECT_EQ(exit_status(json()), kExitError);
}

}  // namespace
}  // namespace lj::ljctl
