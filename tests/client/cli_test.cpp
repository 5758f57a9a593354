// The ljctl binary against a scripted daemon: the requests each command sends, its output, its
// exit status, and the one-line errors for a missing, forbidden or older daemon.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fake_ljd.hpp"
#include "subprocess.hpp"

namespace lj::test {
namespace {

using nlohmann::json;

const std::string kLjctl = LJCTL_PATH;

std::vector<std::string> ljctl(const FakeLjd& d, std::vector<std::string> args) {
  args.insert(args.begin(), {kLjctl, "--socket", d.socket()});
  return args;
}

std::string log_line(int seq, const std::string& stream, const std::string& data) {
  return json{{"seq", seq}, {"stream", stream}, {"data", data}}.dump() + "\n";
}
std::string end_line(int seq, json exit) {
  return json{{"type", "end"}, {"seq", seq}, {"state", "exited"}, {"exit", exit}}.dump() + "\n";
}

// One line, no stack of errors.
void expect_one_line(const ProcResult& r) {
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(r.err.rfind("ljctl: ", 0), 0u) << r.err;
}

TEST(LjctlCli, MissingDaemonIsOneClearLine) {
  auto r = run({kLjctl, "--socket", "/nonexistent/ljd.sock", "info"});
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_EQ(r.err,
            "ljctl: cannot reach ljd at /nonexistent/ljd.sock: no such file — is ljd running? "
            "(start it with `ljd` or `service ljd start`)\n");
  // LJD_SOCKET names the socket too.
  auto e = run({kLjctl, "ps"}, {"LJD_SOCKET=/nonexistent/env.sock"});
  EXPECT_EQ(e.status, 125);
  EXPECT_NE(e.err.find("/nonexistent/env.sock"), std::string::npos) << e.err;
}

TEST(LjctlCli, SocketWithoutPermissionIsOneClearLine) {
  FakeLjd d([](const SeenRequest&, bool&) { return FakeLjd::json_response(200, "{}"); });
  ASSERT_EQ(::chmod(d.socket().c_str(), 0600), 0);
  Proc p(ljctl(d, {"info"}), {}, ::geteuid() == 0 ? 65534 : -1);
  auto r = p.wait();
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_NE(r.err.find("permission denied — run ljctl as root"), std::string::npos) << r.err;
}

TEST(LjctlCli, OlderDaemonIsOneClearLine) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.target == "/v1/info") return FakeLjd::json_response(200, R"({"version":"0.0.1"})");
    return FakeLjd::json_response(
        404, R"({"code":"api.no_route","message":"no such route: GET /v1/worlds"})");
  });
  auto r = run(ljctl(d, {"worlds"}));
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_NE(
      r.err.find(
          "(version 0.0.1) does not serve GET /v1/worlds, which this ljctl (0.1.0) needs: it is "
          "older — upgrade ljd"),
      std::string::npos)
      << r.err;
}

TEST(LjctlCli, ApiErrorsAreOneLineWithAHint) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(
        404, R"({"code":"jail.not_found","message":"no jail `nope`","details":{}})");
  });
  auto r = run(ljctl(d, {"stop", "nope"}));
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_EQ(r.err, "ljctl: no jail `nope` — list jails with `ljctl ps -a`\n");
}

// Hints follow the error's code, not its domain: a request field at fault (details.field) or a
// failed system call (details.errno) is no lookup miss, and gets no "list the X" hint.
TEST(LjctlCli, HintsFollowTheErrorCode) {
  std::string body;
  int status = 404;
  FakeLjd d([&](const SeenRequest&, bool&) { return FakeLjd::json_response(status, body); });
  body = R"({"code":"overlay.not_found","message":"no overlay `a/b@1`","details":{}})";
  auto r = run(ljctl(d, {"stop", "j"}));
  EXPECT_EQ(r.err, "ljctl: no overlay `a/b@1` — list overlays with `ljctl overlays`\n");
  body = R"({"code":"overlay.not_found","message":"starting jail j-1: volume /srv/x: No such )"
         R"(file or directory","details":{"errno":"ENOENT"}})";
  r = run(ljctl(d, {"stop", "j"}));
  expect_one_line(r);
  EXPECT_EQ(r.err, "ljctl: starting jail j-1: volume /srv/x: No such file or directory\n");
  status = 400;
  body = R"({"code":"jail.invalid_argument","message":"volumes[0].host_path: /srv/x does not )"
         R"(exist","details":{"field":"volumes[0].host_path"}})";
  r = run(ljctl(d, {"stop", "j"}));
  EXPECT_EQ(r.err, "ljctl: volumes[0].host_path: /srv/x does not exist\n");
  status = 404;
  body = R"({"code":"world.not_found","message":"no world `w`","details":{}})";
  r = run(ljctl(d, {"stop", "j"}));
  EXPECT_EQ(r.err, "ljctl: no world `w` — list worlds with `ljctl worlds`\n");
}

// A 403 of the host policy is no question of the socket's access: its hint is the override, not
// "run ljctl as root" (said to root, by the demo's first run of an image declaring raw_sockets).
TEST(LjctlCli, PolicyRefusalHintsAtTheOverride) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(
        403, R"j({"code":"policy.permission_denied","message":"the host policy does not grant )j"
             R"j(raw_sockets (policy_allow)","details":{"refused":[{"item":"raw_sockets",)j"
             R"j("rule":"policy_allow","message":"raw_sockets is not in policy_allow"}]}})j");
  });
  auto r = run(ljctl(d, {"stop", "j"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err,
            "ljctl: the host policy does not grant raw_sockets (policy_allow) — as root, "
            "`ljctl run --policy-override` grants it anyway\n");
}

// `events -f` follows from now on, as `docker events`; --since replays first.
TEST(LjctlCli, EventsFollowFromNowUnlessToldWhereToStart) {
  FakeLjd d([](const SeenRequest&, bool& close) {
    close = true;
    return FakeLjd::json_response(200, "");
  });
  EXPECT_EQ(run(ljctl(d, {"events"})).status, 0);
  EXPECT_EQ(run(ljctl(d, {"events", "-f"})).status, 0);
  EXPECT_EQ(run(ljctl(d, {"events", "-f", "--since", "0"})).status, 0);
  EXPECT_EQ(run(ljctl(d, {"events", "--since", "12"})).status, 0);
  auto seen = d.seen();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].target, "/v1/events");
  EXPECT_EQ(seen[1].target, "/v1/events?follow=true");
  EXPECT_EQ(seen[2].target, "/v1/events?since=0&follow=true");
  EXPECT_EQ(seen[3].target, "/v1/events?since=12");
}

TEST(LjctlCli, UsageErrorsExit125) {
  auto r = run({kLjctl, "frobnicate"});
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "ljctl: unknown command `frobnicate` (see `ljctl --help`)\n");
  auto m = run({kLjctl, "run", "--memory", "lots", "w", "--", "true"});
  EXPECT_EQ(m.status, 125);
  expect_one_line(m);
  auto h = run({kLjctl, "--help"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("run"), std::string::npos);
}

TEST(LjctlCli, RunSendsTheRequestStreamsOutputAndExitsWithTheStatus) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.method == "POST" && r.target == "/v1/jails?start=true") {
      return FakeLjd::json_response(201, R"({"id":"j-1","name":"t","state":"running"})");
    }
    if (r.target.rfind("/v1/jails/j-1/logs?follow=true", 0) == 0) {
      return FakeLjd::chunked_response(
          {log_line(1, "stdout", "out 1\n"),
           log_line(2, "stderr", "err 1\n") + "{\"type\":\"heartbeat\"}\n",
           end_line(3, {{"code", 3}, {"signal", nullptr}})});
    }
    return FakeLjd::json_response(500, "{}");
  });
  auto r =
      run(ljctl(d, {"run", "--name", "t", "--memory", "512M", "-e", "A=1", "-v", "/srv:/srv:ro",
                    "-l", "k=v", "bookworm", "--", "/bin/sh", "-c", "exit 3"}));
  EXPECT_EQ(r.status, 3) << r.err;
  EXPECT_EQ(r.out, "out 1\n");
  EXPECT_EQ(r.err, "err 1\n");
  auto seen = d.seen();
  ASSERT_GE(seen.size(), 2u);
  EXPECT_EQ(
      json::parse(seen[0].body),
      (json{{"name", "t"},
            {"world", "bookworm"},
            {"command", {"/bin/sh", "-c", "exit 3"}},
            {"env", {{"A", "1"}}},
            {"limits", {{"memory_bytes", 536870912}}},
            {"volumes", {{{"host_path", "/srv"}, {"jail_path", "/srv"}, {"read_only", true}}}},
            {"labels", {{"k", "v"}}},
            {"auto_remove", true}}));
  EXPECT_EQ(seen[1].target, "/v1/jails/j-1/logs?follow=true&after=0");
}

TEST(LjctlCli, RunKilledBySignalExits128PlusN) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.method == "POST") return FakeLjd::json_response(201, R"({"id":"j-2"})");
    return FakeLjd::chunked_response(
        {end_line(1, {{"code", nullptr}, {"signal", 9}, {"oom", true}})});
  });
  auto r = run(ljctl(d, {"run", "--memory", "1M", "w", "--", "hog"}));
  EXPECT_EQ(r.status, 137);
  EXPECT_EQ(r.err, "ljctl: jail j-2 was killed: out of memory (raise --memory)\n");
}

TEST(LjctlCli, RunResumesALaggedStreamWithoutLoss) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.method == "POST") return FakeLjd::json_response(201, R"({"id":"j-3"})");
    if (r.target.find("after=0") != std::string::npos) {
      return FakeLjd::chunked_response({log_line(1, "stdout", "a\n"),
                                        R"({"type":"lagged","seq":1,"resume_after":1})"
                                        "\n"});
    }
    return FakeLjd::chunked_response({log_line(2, "stdout", "b\n"), end_line(3, {{"code", 0}})});
  });
  auto r = run(ljctl(d, {"run", "w", "--", "x"}));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "a\nb\n");
  EXPECT_EQ(d.seen().back().target, "/v1/jails/j-3/logs?follow=true&after=1");
}

TEST(LjctlCli, RunDetachPrintsTheId) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(201, R"({"id":"j-4","state":"running"})");
  });
  auto r = run(ljctl(d, {"run", "-d", "--keep", "w", "--", "sleep", "9"}));
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.out, "j-4\n");
  EXPECT_EQ(json::parse(d.seen()[0].body)["auto_remove"], false);
  auto j = run(ljctl(d, {"run", "-d", "--json", "w", "--", "sleep", "9"}));
  EXPECT_EQ(json::parse(j.out)["state"], "running");
}

// What happens to a jail's record at its end (ljctl.1): a foreground run removes it, run -d and
// create keep it (docker's habit), --keep and --rm decide in every case, both are refused.
TEST(LjctlCli, KeepAndRmDecideTheRecordAndDetachedJailsKeepIt) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.method == "POST") return FakeLjd::json_response(201, R"({"id":"j-5","state":"running"})");
    return FakeLjd::chunked_response({end_line(1, {{"code", 0}})});
  });
  struct Case {
    std::vector<std::string> args;
    bool auto_remove;
  };
  for (const Case& c : {Case{{"run", "w", "--", "true"}, true},
                        Case{{"run", "--rm", "w", "--", "true"}, true},
                        Case{{"run", "--keep", "w", "--", "true"}, false},
                        Case{{"run", "-d", "w", "--", "true"}, false},
                        Case{{"run", "-d", "--rm", "w", "--", "true"}, true},
                        Case{{"create", "w", "--", "true"}, false},
                        Case{{"create", "--rm", "w", "--", "true"}, true}}) {
    auto r = run(ljctl(d, c.args));
    ASSERT_EQ(r.status, 0) << c.args[1] << " " << r.err;
    json body;
    for (const auto& seen : d.seen())
      if (seen.method == "POST") body = json::parse(seen.body);
    EXPECT_EQ(body["auto_remove"], c.auto_remove) << c.args[0] << " " << c.args[1];
  }
  auto both = run(ljctl(d, {"run", "--keep", "--rm", "w", "--", "true"}));
  EXPECT_EQ(both.status, 125);
  EXPECT_EQ(both.err, "ljctl: --keep and --rm contradict each other\n");
}

TEST(LjctlCli, CreatePostsWithoutStartAndStartPostsStart) {
  FakeLjd d([](const SeenRequest& r, bool&) {
    if (r.method == "POST" && r.target == "/v1/jails")
      return FakeLjd::json_response(201, R"({"id":"j-6","state":"created"})");
    if (r.method == "POST" && r.target == "/v1/jails/j-6/start")
      return FakeLjd::json_response(200, R"({"id":"j-6","state":"running"})");
    return FakeLjd::json_response(404, R"({"code":"jail.not_found","message":"no"})");
  });
  auto c = run(ljctl(d, {"create", "--name", "x", "w", "--", "sleep", "1"}));
  EXPECT_EQ(c.status, 0) << c.err;
  EXPECT_EQ(c.out, "j-6\n");
  EXPECT_EQ(d.seen()[0].target, "/v1/jails");
  EXPECT_EQ(json::parse(d.seen()[0].body)["command"], (json{"sleep", "1"}));
  auto s = run(ljctl(d, {"start", "j-6"}));
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(d.seen().back().target, "/v1/jails/j-6/start");
  auto i = run(ljctl(d, {"start", "-i", "j-6"}));
  EXPECT_EQ(i.status, 125);
  EXPECT_EQ(i.err, "ljctl: start: -i goes with -a\n");
}

TEST(LjctlCli, EnvFileIsReadAsDockerReadsItAndEArgumentsWin) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(201, R"({"id":"j-7","state":"running"})");
  });
  char tmpl[] = "/tmp/lj-env-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  std::ofstream(tmpl) << "# comment\n\nA=1\nB=\"quoted\" as is\r\n\t C=x=y\nLJ_PASSED\nLJ_UNSET\nA=2\n";
  auto r = run(ljctl(d, {"run", "-d", "--env-file", tmpl, "-e", "B=flag", "w", "--", "true"}),
               {"LJ_PASSED=from ljctl"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(d.seen()[0].body)["env"],
            (json{{"A", "2"}, {"B", "flag"}, {"C", "x=y"}, {"LJ_PASSED", "from ljctl"}}));
  std::ofstream(tmpl) << "GOOD=1\nBAD NAME=2\n";
  auto bad = run(ljctl(d, {"run", "--env-file", tmpl, "w", "--", "true"}));
  EXPECT_EQ(bad.status, 125);
  EXPECT_EQ(bad.err, "ljctl: --env-file " + std::string(tmpl) + ":2: bad variable name `BAD NAME`\n");
  ::unlink(tmpl);
  auto missing = run(ljctl(d, {"exec", "--env-file", "/nonexistent-env", "j", "true"}));
  EXPECT_EQ(missing.status, 125);
  EXPECT_NE(missing.err.find("/nonexistent-env"), std::string::npos) << missing.err;
}

TEST(LjctlCli, UnknownFlagsAreNamedNotTakenForATarget) {
  FakeLjd d([](const SeenRequest&, bool&) { return FakeLjd::json_response(500, "{}"); });
  auto r = run(ljctl(d, {"run", "--frobnicate", "w", "--", "true"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "ljctl: unknown flag --frobnicate (see `ljctl run --help`)\n");
  r = run(ljctl(d, {"create", "-z", "w", "--", "true"}));
  EXPECT_EQ(r.err, "ljctl: unknown flag -z (see `ljctl create --help`)\n");
  r = run(ljctl(d, {"exec", "--frobnicate", "j", "true"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "ljctl: unknown flag --frobnicate (see `ljctl exec --help`)\n");
  r = run(ljctl(d, {"ps", "--frobnicate"}));
  EXPECT_EQ(r.status, 125);
  EXPECT_EQ(r.err, "ljctl: unknown flag --frobnicate (see `ljctl ps --help`)\n");
  r = run(ljctl(d, {"run", "-it", "w", "--", "sh"}));  // known: not an unknown flag
  EXPECT_EQ(r.err.find("unknown flag"), std::string::npos) << r.err;
  EXPECT_TRUE(d.seen().size() <= 1u);  // only that last run reached the daemon
}

TEST(LjctlCli, CtrlCStopsTheJailAndExitsWithItsStatus) {
  std::atomic<bool> streaming{false};
  FakeLjd d([&](const SeenRequest& r, bool&) {
    if (r.method == "POST" && r.target == "/v1/jails?start=true") {
      return FakeLjd::json_response(201, R"({"id":"j-5"})");
    }
    if (r.method == "POST" && r.target == "/v1/jails/j-5/stop") {
      return FakeLjd::json_response(200, R"({"id":"j-5","state":"stopping"})");
    }
    if (r.target.find("after=0") != std::string::npos) {
      streaming = true;  // headers and one record, then the stream stays open
      std::string rec = log_line(1, "stdout", "x\n");
      char size[16];
      std::snprintf(size, sizeof size, "%zx\r\n", rec.size());
      return std::string("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n") + size + rec +
             "\r\n";
    }
    return FakeLjd::chunked_response({end_line(2, {{"code", nullptr}, {"signal", 15}})});
  });
  Proc p(ljctl(d, {"run", "w", "--", "sleep", "100"}));
  for (int i = 0; i < 2000 && !streaming; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_TRUE(streaming);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(p.pid(), SIGINT);
  auto r = p.wait();
  EXPECT_EQ(r.status, 143) << r.err;
  EXPECT_EQ(r.out, "x\n");
  EXPECT_EQ(r.err, "ljctl: stopping jail j-5 (Ctrl-C again to kill it)\n");
  EXPECT_EQ(d.seen().back().target, "/v1/jails/j-5/logs?follow=true&after=1");
  bool stopped = false;
  for (const auto& s : d.seen()) stopped |= s.target == "/v1/jails/j-5/stop";
  EXPECT_TRUE(stopped);
}

TEST(LjctlCli, PsPrintsAnAlignedTableAndJsonAsIs) {
  const std::string list =
      json::array(
          {
              {{"id", "j-1"},
               {"name", "web"},
               {"state", "running"},
               {"spec", {{"world", "bookworm"}, {"command", {"sleep", "9"}}}},
               {"created_at", "2020-01-01T00:00:00Z"},
               {"started_at", "2020-01-01T00:00:00Z"}},
              {{"id", "j-22"},
               {"name", "j-22"},
               {"state", "exited"},
               {"spec",
                {{"world", "w"},
                 {"overlay", {{"name", "a/b"}, {"version", "1.0.0"}}},
                 {"command", {"true"}}}},
               {"created_at", "2020-01-01T00:00:00Z"},
               {"exit", {{"code", 0}, {"signal", nullptr}, {"exited_at", "2020-01-01T00:00:00Z"}}}},
          })
          .dump();
  FakeLjd d([&](const SeenRequest&, bool&) { return FakeLjd::json_response(200, list); });
  auto r = run(ljctl(d, {"ps", "-a"}));
  EXPECT_EQ(r.status, 0) << r.err;
  std::istringstream lines(r.out);
  std::string header, row1, row2;
  std::getline(lines, header);
  std::getline(lines, row1);
  std::getline(lines, row2);
  EXPECT_EQ(header.rfind("ID     NAME   IMAGE       COMMAND   CREATED", 0), 0u) << header;
  EXPECT_EQ(row1.substr(0, 34), "j-1    web    bookworm    sleep 9 ");
  EXPECT_EQ(row2.substr(0, 34), "j-22   j-22   a/b@1.0.0   true    ");
  EXPECT_NE(row2.find("Exited (0) "), std::string::npos);
  EXPECT_EQ(d.seen()[0].target,
            "/v1/jails?state=creating&state=created&state=running&state=stopping&state=exited");
  auto q = run(ljctl(d, {"ps", "-q"}));
  EXPECT_EQ(q.out, "j-1\nj-22\n");
  auto j = run(ljctl(d, {"--json", "ps"}));
  EXPECT_EQ(j.out, list + "\n");
  auto j2 = run(ljctl(d, {"ps", "--json"}));  // --json after the command too
  EXPECT_EQ(j2.out, list + "\n");
}

TEST(LjctlCli, WaitPrintsAndExitsWithTheStatus) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(
        200, R"({"id":"j-1","state":"exited","exit":{"code":7,"signal":null},"timed_out":false})");
  });
  auto r = run(ljctl(d, {"wait", "j-1"}));
  EXPECT_EQ(r.status, 7);
  EXPECT_EQ(r.out, "7\n");
}

TEST(LjctlCli, StopKillRmSendTheirRequests) {
  FakeLjd d([](const SeenRequest&, bool&) { return FakeLjd::json_response(200, R"({"id":"j"})"); });
  EXPECT_EQ(run(ljctl(d, {"stop", "-t", "5", "a"})).status, 0);
  EXPECT_EQ(run(ljctl(d, {"kill", "-s", "HUP", "b"})).status, 0);
  EXPECT_EQ(run(ljctl(d, {"kill", "c"})).status, 0);
  auto rm = run(ljctl(d, {"rm", "-f", "d", "e"}));
  EXPECT_EQ(rm.out, "d\ne\n");
  auto seen = d.seen();
  ASSERT_EQ(seen.size(), 5u);
  EXPECT_EQ(seen[0].target, "/v1/jails/a/stop");
  EXPECT_EQ(json::parse(seen[0].body), (json{{"timeout_s", 5.0}}));
  EXPECT_EQ(json::parse(seen[1].body), (json{{"signal", SIGHUP}}));
  EXPECT_EQ(json::parse(seen[2].body), (json{{"signal", SIGKILL}}));
  EXPECT_EQ(seen[3].method, "DELETE");
  EXPECT_EQ(seen[3].target, "/v1/jails/d?force=true");
}

TEST(LjctlCli, BuildStreamsWithElapsedTimeAndEndsWithTheOverlay) {
  char tmpl[] = "/tmp/ljctl-build-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string ctx = tmpl;
  { std::ofstream(ctx + "/Jailfile") << "name t/x\nversion 1.0.0\n#!/bin/sh\necho step\n"; }
  std::string state = "succeeded";
  FakeLjd d([&](const SeenRequest& r, bool&) {
    if (r.method == "POST") return FakeLjd::json_response(202, R"({"id":"b-1","state":"queued"})");
    if (r.target.rfind("/v1/builds/b-1/logs", 0) == 0) {
      return FakeLjd::chunked_response({log_line(1, "stdout", "step\n"), end_line(2, nullptr)});
    }
    json b = {{"id", "b-1"},
              {"state", state},
              {"overlay", {{"name", "t/x"}, {"version", "1.0.0"}}},
              {"cache_hit", false},
              {"error", nullptr}};
    if (state == "failed") b["error"] = {{"code", "build.failed"}, {"message", "script exited 2"}};
    return FakeLjd::json_response(200, json{{"build", b}, {"timed_out", false}}.dump());
  });
  auto r = run(ljctl(d, {"build", ctx}));
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(json::parse(d.seen()[0].body), (json{{"context", ctx}}));
  std::istringstream lines(r.out);
  std::string l1, l2;
  std::getline(lines, l1);
  std::getline(lines, l2);
  EXPECT_EQ(l1.size(), 14u) << l1;  // "[   0.0s] step"
  EXPECT_EQ(l1.substr(l1.size() - 6), "] step");
  EXPECT_EQ(l2.substr(l2.find(']')), "] published t/x@1.0.0");
  // -f with another file sends the Jailfile's text.
  { std::ofstream(ctx + "/Other") << "name t/y\n#!/bin/sh\n"; }
  state = "failed";
  auto f = run(ljctl(d, {"build", "-f", ctx + "/Other"}));
  EXPECT_EQ(f.status, 1);
  EXPECT_NE(f.err.find("ljctl: build b-1 failed after "), std::string::npos) << f.err;
  EXPECT_NE(f.err.find(": script exited 2\n"), std::string::npos) << f.err;
  bool text = false;
  for (const auto& s : d.seen()) {
    if (s.method == "POST" && !s.body.empty()) text |= json::parse(s.body).contains("jailfile");
  }
  EXPECT_TRUE(text);
  std::filesystem::remove_all(ctx);
}

TEST(LjctlCli, UnexpectedJsonShapesNeverCrash) {
  FakeLjd d([](const SeenRequest&, bool&) {
    return FakeLjd::json_response(200, R"([{"name":7,"size_bytes":"big","state":null},"x"])");
  });
  for (const char* cmd : {"worlds", "overlays", "ps", "info"}) {
    auto r = run(ljctl(d, {cmd}));
    EXPECT_TRUE(r.status == 0 || r.status == 125) << cmd << ": " << r.status;
    if (r.status != 0) expect_one_line(r);
  }
}

}  // namespace
}  // namespace lj::test
