// Black-box tests of jails that run: the real ljd, the real Linux backend, a busybox world.
// Privileged (namespaces, mounts, cgroups): skipped with a reason when not root.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "../support/other_user.hpp"
#include "shared_ljd.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class LjdJailTest : public SharedLjdTest<LjdJailTest, true> {
 public:
  static constexpr const char* kConfig = "heartbeat = 1s\nworkers = 4\n";

 protected:
  // Creates and starts; returns the jail's JSON.
  json run(HttpClient& c, const json& body) {
    auto r = c.post("/v1/jails?start=true", body);
    EXPECT_TRUE(r);
    if (!r) return json();
    EXPECT_EQ(r->status, 201) << r->body;
    return r->json();
  }
};

json sh(const std::string& script) {
  return {{"world", "bb"}, {"command", {"sh", "-c", script}}};
}

// ljd's state (index, logs, run state) and its store are the host's root's alone (issue 17: a
// fresh root had them 0755). Tried as nobody.
TEST_F(LjdJailTest, ItsStateAndStoreAreOutOfReachOfOtherHostUsers) {
  const std::filesystem::path root = ljd_->root();
  EXPECT_EQ(lj::test::stat_errno_as_nobody(root / ".ljd" / "logs"), EACCES);
  EXPECT_EQ(lj::test::stat_errno_as_nobody(root / "worlds" / "bb" / "bin"), EACCES);
  struct stat st {};
  ASSERT_EQ(::stat((root / ".ljd").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);  // itself, not only through the test's private temp root
}

TEST_F(LjdJailTest, RunWaitAndLogs) {
  auto c = client();
  json j = run(c, sh("echo out; echo err >&2; exit 7"));
  std::string id = j["id"];
  EXPECT_EQ(j["state"], "running");
  // Wait before the exit (or at it), then again after: the same answer, from the record.
  auto w1 = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w1);
  ASSERT_EQ(w1->status, 200);
  EXPECT_EQ(w1->json()["state"], "exited");
  EXPECT_EQ(w1->json()["exit"]["code"], 7);
  EXPECT_EQ(w1->json()["timed_out"], false);
  auto w2 = c.get("/v1/jails/" + id + "/wait");
  ASSERT_TRUE(w2);
  EXPECT_EQ(w2->json()["exit"], w1->json()["exit"]);
  // Logs: both streams, then the end record with the exit.
  auto logs = c.get("/v1/jails/" + id + "/logs");
  ASSERT_TRUE(logs);
  std::vector<json> recs;
  std::istringstream in(logs->body);
  for (std::string line; std::getline(in, line);) recs.push_back(json::parse(line));
  ASSERT_EQ(recs.size(), 3u) << logs->body;
  std::string out, err;
  for (auto& r : recs) {
    if (r.value("stream", "") == "stdout") out += r["data"].get<std::string>();
    if (r.value("stream", "") == "stderr") err += r["data"].get<std::string>();
  }
  EXPECT_EQ(out, "out\n");
  EXPECT_EQ(err, "err\n");
  EXPECT_EQ(recs.back()["type"], "end");
  EXPECT_EQ(recs.back()["exit"]["code"], 7);
  // after= resumes.
  auto rest = c.get("/v1/jails/" + id + "/logs?after=1");
  ASSERT_TRUE(rest);
  EXPECT_EQ(json::parse(rest->body.substr(0, rest->body.find('\n')))["seq"], 2);
}

TEST_F(LjdJailTest, LogFollowEndsWithTheExitRecord) {
  auto c = client();
  json j = run(c, sh("for i in 1 2 3; do echo line$i; sleep 0.2; done; exit 4"));
  std::string id = j["id"];
  auto f = client();
  auto head = f.open_stream("/v1/jails/" + id + "/logs?follow=true");
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);
  std::string out;
  json end;
  for (;;) {
    auto line = f.next_line(10s);
    ASSERT_TRUE(line) << line.error().what();
    if (!*line) break;
    json r = json::parse(**line);
    if (r.value("type", "") == "end")
      end = r;
    else if (r.contains("data"))
      out += r["data"].get<std::string>();
  }
  EXPECT_EQ(out, "line1\nline2\nline3\n");
  ASSERT_FALSE(end.is_null());
  EXPECT_EQ(end["exit"]["code"], 4);
}

TEST_F(LjdJailTest, StopKillDeleteAndAutoRemove) {
  auto c = client();
  // stop: TERM, then KILL after timeout_s; a shell ignoring TERM is killed.
  json j = run(c, sh("trap '' TERM; echo ready; sleep 100"));
  std::string id = j["id"];
  {
    // Stop only once the trap is in place (else TERM would end it, rightly).
    auto f = client();
    ASSERT_TRUE(f.open_stream("/v1/jails/" + id + "/logs?follow=true"));
    auto line = f.next_line(10s);
    ASSERT_TRUE(line && *line) << "no output";
    ASSERT_NE((*line)->find("ready"), std::string::npos) << **line;
  }
  {
    auto d = c.del("/v1/jails/" + id);
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 409) << d->body;
  }
  auto t0 = std::chrono::steady_clock::now();
  auto s = c.post("/v1/jails/" + id + "/stop", {{"timeout_s", 0.5}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->status, 200) << s->body;
  EXPECT_EQ(s->json()["state"], "exited");
  EXPECT_EQ(s->json()["exit"]["signal"], 9);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  ASSERT_EQ(c.del("/v1/jails/" + id)->status, 200);

  // kill with a named signal.
  json k = run(c, sh("sleep 100"));
  auto kr = c.post("/v1/jails/" + k["id"].get<std::string>() + "/kill", {{"signal", "SIGTERM"}});
  ASSERT_TRUE(kr);
  EXPECT_EQ(kr->status, 200) << kr->body;
  auto kw = c.get("/v1/jails/" + k["id"].get<std::string>() + "/wait?timeout_s=10");
  ASSERT_TRUE(kw);
  EXPECT_EQ(kw->json()["exit"]["signal"], 15);

  // delete ?force=true kills a running jail and removes it.
  json fj = run(c, sh("sleep 100"));
  auto fd = c.del("/v1/jails/" + fj["id"].get<std::string>() + "?force=true");
  ASSERT_TRUE(fd);
  EXPECT_EQ(fd->status, 200) << fd->body;
  EXPECT_EQ(fd->json()["state"], "removed");
  EXPECT_FALSE(fd->json()["exit"].is_null());

  // auto_remove: gone after the exit, but wait still answers from the record.
  json body = sh("exit 5");
  body["auto_remove"] = true;
  json a = run(c, body);
  auto aw = c.get("/v1/jails/" + a["id"].get<std::string>() + "/wait?timeout_s=10");
  ASSERT_TRUE(aw);
  EXPECT_EQ(aw->json()["state"], "removed");
  EXPECT_EQ(aw->json()["exit"]["code"], 5);
  auto aw2 = c.get("/v1/jails/" + a["id"].get<std::string>() + "/wait");
  EXPECT_EQ(aw2->json()["exit"]["code"], 5);
}

TEST_F(LjdJailTest, WallClockTimeoutIsRecorded) {
  auto c = client();
  json body = sh("sleep 100");
  body["limits"] = {{"timeout_s", 0.3}};
  json j = run(c, body);
  auto w = c.get("/v1/jails/" + j["id"].get<std::string>() + "/wait?timeout_s=20");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["state"], "exited");
  EXPECT_EQ(w->json()["exit"]["timed_out"], true) << w->body;
}

TEST_F(LjdJailTest, CreateThenStartAndEventsOfTheLifecycle) {
  auto c = client();
  std::int64_t since = c.get("/v1/info")->json()["event_seq"];
  auto r = c.post("/v1/jails", sh("exit 0"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  std::string id = r->json()["id"];
  auto s = c.post("/v1/jails/" + id + "/start", json::object());
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  ASSERT_EQ(c.get("/v1/jails/" + id + "/wait?timeout_s=10")->json()["exit"]["code"], 0);
  EXPECT_EQ(c.post("/v1/jails/" + id + "/start", json::object())->status, 409);
  auto ev = c.get("/v1/events?since=" + std::to_string(since));
  std::vector<std::string> types;
  std::istringstream in(ev->body);
  for (std::string line; std::getline(in, line);) {
    json e = json::parse(line);
    if (e["resource"] == id) types.push_back(e["type"]);
  }
  EXPECT_EQ(types, (std::vector<std::string>{"jail.created", "jail.started", "jail.exited"}));
}

// 100 jails at once through the API, each with its own exit code: every code right.
TEST_F(LjdJailTest, HundredConcurrentJailsEveryExitCodeRight) {
  constexpr int kJails = 100;
  constexpr int kClients = 10;
  std::vector<std::future<std::vector<std::pair<int, int>>>> futs;
  for (int t = 0; t < kClients; ++t) {
    futs.push_back(std::async(std::launch::async, [this, t] {
      std::vector<std::pair<int, int>> got;
      auto c = client();
      std::vector<std::pair<int, std::string>> ids;
      for (int i = t; i < kJails; i += kClients) {
        auto r = c.post("/v1/jails?start=true",
                        {{"world", "bb"},
                         {"command", {"sh", "-c", "sleep 0.2; exit " + std::to_string(i)}},
                         {"auto_remove", true}});
        if (!r || r->status != 201) {
          got.emplace_back(i, -1000 - (r ? r->status : 0));
          continue;
        }
        ids.emplace_back(i, r->json()["id"]);
      }
      for (auto& [i, id] : ids) {
        auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=60");
        got.emplace_back(i, w && w->json()["exit"]["code"].is_number()
                                ? w->json()["exit"]["code"].get<int>()
                                : -1);
      }
      return got;
    }));
  }
  int right = 0;
  for (auto& f : futs) {
    for (auto [want, code] : f.get()) {
      EXPECT_EQ(code, want);
      right += code == want;
    }
  }
  EXPECT_EQ(right, kJails);
  auto c = client();
  EXPECT_EQ(c.get("/v1/info")->json()["jails_live"], 0);
}

// ljd killed while a jail runs: the restarted ljd re-adopts it and wait still gets the exit code.
TEST(LjdJailRestart, RunningJailIsReadoptedAfterACrash) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
  LjdProcess ljd;
  ASSERT_TRUE(ljd.start());
  ASSERT_TRUE(ljd.make_busybox_world("bb"));
  std::string id;
  {
    auto c = ljd.client();
    auto r = c.post("/v1/jails?start=true", sh("sleep 1; exit 42"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    id = r->json()["id"];
  }
  ljd.crash();
  ASSERT_TRUE(ljd.start());
  auto c = ljd.client();
  auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=20");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["state"], "exited") << w->body;
  EXPECT_EQ(w->json()["exit"]["code"], 42) << w->body << "\n" << ljd.log();
}

}  // namespace
}  // namespace lj::testing

namespace lj::testing {
namespace {

// The source of an import: a busybox tree outside the root; its path.
std::string import_source(const LjdProcess& ljd) {
  EXPECT_TRUE(ljd.make_busybox_world("src"));
  std::string src = (ljd.root() / "import-src").string();
  std::filesystem::rename(ljd.root() / "worlds" / "src", src);
  return src;
}

// Worlds, builds and overlays through the API: import a world from a directory, build a Jailfile
// on it, run a jail on the published overlay, then the in-use checks on delete.
TEST(LjdResources, ImportBuildRunAndDelete) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: builds run in jails";
  LjdProcess ljd;
  ASSERT_TRUE(ljd.start());
  std::string src = import_source(ljd);
  auto c = ljd.client();

  auto imp = c.post("/v1/worlds", {{"name", "bb"}, {"source", src}});
  ASSERT_TRUE(imp);
  ASSERT_EQ(imp->status, 202) << imp->body;
  EXPECT_EQ(imp->json()["state"], "importing");
  auto ww = c.get("/v1/worlds/bb/wait?timeout_s=30");
  ASSERT_TRUE(ww);
  EXPECT_EQ(ww->json()["world"]["state"], "ready") << ww->body;
  EXPECT_EQ(c.post("/v1/worlds", {{"name", "bb"}, {"source", src}})->status, 409);
  EXPECT_EQ(c.post("/v1/worlds", {{"name", "bb2"}, {"source", src}, {"x", 1}})->status, 400);
  EXPECT_EQ(c.get("/v1/worlds/nope")->status, 404);
  auto list = c.get("/v1/worlds");
  ASSERT_TRUE(list);
  EXPECT_EQ(list->json().size(), 1u) << list->body;

  auto b = c.post("/v1/builds", {{"jailfile",
                                  "name demo/hello\nversion 1.0.0\nworld bb\n#!/bin/sh\n"
                                  "echo building\necho hi > /hello\n"}});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->status, 202) << b->body;
  std::string bid = b->json()["id"];
  auto bw = c.get("/v1/builds/" + bid + "/wait?timeout_s=60");
  ASSERT_TRUE(bw);
  json build = bw->json()["build"];
  EXPECT_EQ(build["state"], "succeeded") << bw->body;
  EXPECT_EQ(build["overlay"]["name"], "demo/hello");
  EXPECT_EQ(build["published"], true);
  auto blogs = c.get("/v1/builds/" + bid + "/logs");
  ASSERT_TRUE(blogs);
  EXPECT_NE(blogs->body.find(R"("data":"building")"), std::string::npos) << blogs->body;
  EXPECT_NE(blogs->body.find(R"("type":"end")"), std::string::npos) << blogs->body;
  EXPECT_EQ(c.post("/v1/builds", {{"context", "relative"}})->status, 400);
  EXPECT_EQ(c.post("/v1/builds", json::object())->status, 400);
  EXPECT_EQ(c.get("/v1/builds/b-00000000")->status, 404);

  auto ov = c.get("/v1/overlays/demo/hello/1.0.0");
  ASSERT_TRUE(ov);
  ASSERT_EQ(ov->status, 200) << ov->body;
  EXPECT_EQ(ov->json()["world"], "bb");
  EXPECT_EQ(c.get("/v1/overlays/demo/hello")->json().size(), 1u);
  EXPECT_EQ(c.get("/v1/overlays/demo/nope/1.0.0")->status, 404);

  // A jail on the overlay sees the built file; while it runs the overlay is in use.
  auto j = c.post("/v1/jails?start=true", {{"overlay", {{"name", "demo/hello"}, {"version", "^1"}}},
                                           {"command", {"sh", "-c", "cat /hello; sleep 0.5"}}});
  ASSERT_TRUE(j);
  ASSERT_EQ(j->status, 201) << j->body;
  std::string jid = j->json()["id"];
  EXPECT_EQ(c.del("/v1/overlays/demo/hello/1.0.0")->status, 409);
  EXPECT_EQ(c.del("/v1/worlds/bb")->status, 409);
  auto jw = c.get("/v1/jails/" + jid + "/wait?timeout_s=20");
  EXPECT_EQ(jw->json()["exit"]["code"], 0);
  EXPECT_NE(c.get("/v1/jails/" + jid + "/logs")->body.find(R"("data":"hi\n")"), std::string::npos);

  EXPECT_EQ(c.del("/v1/worlds/bb")->status, 409);  // the overlay is built on it
  EXPECT_EQ(c.del("/v1/overlays/demo/hello/1.0.0")->status, 200);
  EXPECT_EQ(c.del("/v1/worlds/bb")->status, 200);
  EXPECT_EQ(c.get("/v1/worlds/bb")->status, 404);
}

// On a fresh root the first build from a context directory kept no log: `.ljd/builds` did not
// exist yet (only an inline Jailfile's context made it). ljd makes it at start.
TEST(LjdResources, FirstBuildOnAFreshRootFromAContextKeepsItsLog) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: builds run in jails";
  LjdProcess ljd;
  ASSERT_TRUE(ljd.start());
  ASSERT_TRUE(ljd.make_busybox_world("bb"));
  auto ctx = ljd.root() / "ctx";
  std::filesystem::create_directories(ctx);
  std::ofstream(ctx / "Jailfile") << "name demo/first\nversion 1.0.0\nworld bb\n#!/bin/sh\n"
                                     "echo building\n";
  auto c = ljd.client();
  auto b = c.post("/v1/builds", {{"context", ctx.string()}});
  ASSERT_TRUE(b);
  ASSERT_EQ(b->status, 202) << b->body;
  std::string bid = b->json()["id"];
  auto bw = c.get("/v1/builds/" + bid + "/wait?timeout_s=60");
  ASSERT_TRUE(bw);
  EXPECT_EQ(bw->json()["build"]["state"], "succeeded") << bw->body;
  auto blogs = c.get("/v1/builds/" + bid + "/logs");
  ASSERT_TRUE(blogs);
  EXPECT_NE(blogs->body.find(R"("data":"building")"), std::string::npos) << blogs->body;
}

// A jail's stored output stops at log_max_bytes with one `truncated` record; the rest is read and
// dropped (the jail runs to its end, never blocked on a full pipe). NUL-heavy output is stored as
// base64 (4/3 of it), not as escapes (6 bytes a NUL): it does not multiply on disk below the limit
// either, and the limit counts stored bytes.
TEST(LjdJailLogs, OutputStopsAtLogMaxBytesAndNulsDoNotMultiply) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
  constexpr std::uint64_t kCap = 64 << 10;
  LjdProcess ljd("log_max_bytes = 64K\n");
  ASSERT_TRUE(ljd.make_busybox_world("bb"));
  ASSERT_TRUE(ljd.start());
  auto c = ljd.client();
  for (std::string script : {"yes aaaaaaaa | head -c 2000000; echo tail >&2; exit 3",
                             "head -c 1000000 /dev/zero; exit 3"}) {
    auto r = c.post("/v1/jails?start=true",
                    {{"world", "bb"}, {"command", {"sh", "-c", script}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    std::string id = r->json()["id"];
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->json()["exit"]["code"], 3) << script << ": " << w->body;
    auto file = ljd.root() / ".ljd" / "logs" / (id + ".log");
    std::error_code ec;
    auto size = std::filesystem::file_size(file, ec);
    ASSERT_FALSE(ec) << file << ": " << ec.message();
    EXPECT_LE(size, kCap + 256) << script;
    // Records are whole: the one that would cross the limit is the first not stored. Either
    // output fills at least half of it (a piece of NULs escaped, 6 bytes each, did not fit once).
    EXPECT_GE(size, kCap / 2) << script;
    auto logs = c.get("/v1/jails/" + id + "/logs");
    ASSERT_TRUE(logs);
    EXPECT_NE(logs->body.find(R"("truncated":true,"limit_bytes":65536)"), std::string::npos)
        << script;
    EXPECT_EQ(logs->body.find(R"("data":"tail\n")"), std::string::npos) << script;
  }
}

// A world whose directory was removed by hand was still `ready` in the list and by name: now it is
// `failed` with an error naming the path, a jail on it is refused, and DELETE forgets it.
TEST(LjdResources, WorldDeletedByHandIsFailedNamingThePath) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: an import keeps the tree's owners";
  LjdProcess ljd;
  ASSERT_TRUE(ljd.start());
  auto c = ljd.client();
  auto imp = c.post("/v1/worlds", {{"name", "bb"}, {"source", import_source(ljd)}});
  ASSERT_TRUE(imp);
  ASSERT_EQ(imp->status, 202) << imp->body;
  auto ww = c.get("/v1/worlds/bb/wait?timeout_s=30");
  ASSERT_TRUE(ww);
  ASSERT_EQ(ww->json()["world"]["state"], "ready") << ww->body;
  std::string path = ww->json()["world"]["path"];
  std::filesystem::remove_all(path);

  auto w = c.get("/v1/worlds/bb");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["state"], "failed") << w->body;
  EXPECT_NE(w->json()["error"].value("message", "").find(path), std::string::npos) << w->body;
  auto list = c.get("/v1/worlds");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->json().size(), 1u) << list->body;
  EXPECT_EQ(list->json()[0]["state"], "failed") << list->body;
  auto j = c.post("/v1/jails", {{"world", "bb"}, {"command", {"true"}}});
  ASSERT_TRUE(j);
  EXPECT_GE(j->status, 400) << j->body;
  EXPECT_LT(j->status, 500) << j->body;
  EXPECT_EQ(c.del("/v1/worlds/bb")->status, 200);
  EXPECT_EQ(c.get("/v1/worlds/bb")->status, 404);
}

}  // namespace
}  // namespace lj::testing

namespace lj::testing {
namespace {

// on_shutdown = leave: SIGTERM leaves the jail running; the next ljd re-adopts it. With the
// default (stop), SIGTERM ends the jail and records its exit before ljd exits.
TEST(LjdShutdown, LeaveThenReadoptAndStopRecordsTheExit) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
  std::string id;
  LjdProcess ljd("on_shutdown = leave\n");
  ASSERT_TRUE(ljd.start());
  ASSERT_TRUE(ljd.make_busybox_world("bb"));
  {
    auto c = ljd.client();
    auto r = c.post("/v1/jails?start=true", sh("sleep 1; exit 9"));
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    id = r->json()["id"];
  }
  int status = ljd.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(ljd.start());
  {
    auto c = ljd.client();
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=20");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->json()["exit"]["code"], 9) << w->body << "\n" << ljd.log();
  }
  ljd.stop();

  LjdProcess stopper;
  ASSERT_TRUE(stopper.start());
  ASSERT_TRUE(stopper.make_busybox_world("bb"));
  auto c = stopper.client();
  auto r = c.post("/v1/jails?start=true", sh("sleep 100"));
  ASSERT_TRUE(r);
  std::string id2 = r->json()["id"];
  status = stopper.stop();
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  ASSERT_TRUE(stopper.start());
  auto c2 = stopper.client();
  auto w = c2.get("/v1/jails/" + id2 + "/wait?timeout_s=5");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["state"], "exited") << w->body;
  EXPECT_EQ(w->json()["exit"]["signal"], 15) << w->body;
}

}  // namespace
}  // namespace lj::testing
