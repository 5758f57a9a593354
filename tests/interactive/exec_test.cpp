// Exec sessions (issue 13) through the real ljd and the real Linux backend, on a busybox world:
// POST /v1/jails/{id}/exec, start (NDJSON, upgraded, detached), inspect, list, resize, wait, the
// events, the conflicts and bad input, and an exit code that survives a kill -9 of ljd.
// Privileged: skipped when not root.
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/fd.hpp"
#include "shared_ljd.hpp"
#include "upgraded.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class LjdExecTest : public SharedLjdTest<LjdExecTest, true> {
 public:
  static constexpr const char* kConfig = "heartbeat = 1s\nworkers = 2\n";

 protected:
  std::string start_jail(HttpClient& c, json body) {
    body["world"] = "bb";
    auto r = c.post("/v1/jails?start=true", body);
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    return r->status == 201 ? r->json()["id"].get<std::string>() : "";
  }
  std::string sleeper(HttpClient& c) {
    return start_jail(c, {{"command", {"sh", "-c", "echo mark >/tmp/mark; exec sleep 100"}},
                          {"hostname", "jh"}});
  }
  std::string create_exec(HttpClient& c, const std::string& jail, const json& body) {
    auto r = c.post("/v1/jails/" + jail + "/exec", body);
    EXPECT_TRUE(r);
    if (!r) return "";
    EXPECT_EQ(r->status, 201) << r->body;
    if (r->status != 201) return "";
    EXPECT_EQ(r->json()["state"], "created");
    return r->json()["id"];
  }
  void kill_jail(HttpClient& c, const std::string& id) {
    auto r = c.request("POST", "/v1/jails/" + id + "/kill");
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "");
    (void)c.get("/v1/jails/" + id + "/wait?timeout_s=30");
  }
};

TEST_F(LjdExecTest, AnExecSeesTheJailAndItsExitIsRecordedWithEvents) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  auto seq0 = c.get("/v1/info");
  ASSERT_TRUE(seq0);
  std::this_thread::sleep_for(200ms);  // the mark written
  const std::string x = create_exec(
      c, jail,
      {{"cmd", {"sh", "-c", "hostname; cat /tmp/mark; cat /proc/1/comm; echo oops >&2; exit 5"}}});
  ASSERT_FALSE(x.empty());
  // Without the upgrade: NDJSON output records, then the end record with the exit.
  auto s = c.request("POST", "/v1/exec/" + x + "/start");
  ASSERT_TRUE(s);
  ASSERT_EQ(s->status, 200) << s->body;
  std::string out, err;
  json end;
  std::istringstream in(s->body);
  for (std::string line; std::getline(in, line);) {
    json rec = json::parse(line);
    if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    if (rec.value("stream", "") == "stderr") err += rec["data"].get<std::string>();
    if (rec.value("type", "") == "end") end = rec;
  }
  EXPECT_EQ(out, "jh\nmark\nlj-init\n");
  EXPECT_EQ(err, "oops\n");
  EXPECT_EQ(end["exit"]["code"], 5) << s->body;
  auto g = c.get("/v1/exec/" + x);
  ASSERT_TRUE(g);
  ASSERT_EQ(g->status, 200);
  EXPECT_EQ(g->json()["state"], "exited");
  EXPECT_EQ(g->json()["exit"]["code"], 5);
  EXPECT_EQ(g->json()["jail_id"], jail);
  auto l = c.get("/v1/jails/" + jail + "/exec");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->json().size(), 1u);
  EXPECT_EQ(l->json()[0]["id"], x);
  // exec.started then exec.exited, naming the exec and its jail.
  auto ev = c.get("/v1/events?since=0");
  ASSERT_TRUE(ev);
  std::vector<std::string> types;
  std::istringstream evs(ev->body);
  for (std::string line; std::getline(evs, line);) {
    json e = json::parse(line, nullptr, false);
    if (e.is_object() && e.value("resource", "") == x) {
      types.push_back(e["type"]);
      EXPECT_EQ(e["data"]["jail_id"], jail) << line;
    }
  }
  EXPECT_EQ(types, (std::vector<std::string>{"exec.started", "exec.exited"}));
  kill_jail(c, jail);
}

TEST_F(LjdExecTest, AnUpgradedExecTakesStdinAndKeepsStdoutAndStderrApart) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  const std::string x =
      create_exec(c, jail, {{"cmd", {"sh", "-c", "cat; echo done >&2; exit 3"}}, {"stdin", true}});
  ASSERT_FALSE(x.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/exec/" + x + "/start");
  ASSERT_TRUE(a);
  ASSERT_EQ(::write(a.get(), "hi\n", 3), 3);
  ::shutdown(a.get(), SHUT_WR);
  auto [out, err] = demux(read_all(a.get()));
  EXPECT_EQ(out, "hi\n");
  EXPECT_EQ(err, "done\n");
  auto w = c.get("/v1/exec/" + x + "/wait?timeout_s=10");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 3) << w->body;
  kill_jail(c, jail);
}

TEST_F(LjdExecTest, AHundredMebibytesThroughAnExecsStdinArriveWhole) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  BigFile big(100);
  ASSERT_EQ(big.sha256().size(), 64u);
  const std::string x =
      create_exec(c, jail, {{"cmd", {"busybox", "sha256sum"}}, {"stdin", true}});
  ASSERT_FALSE(x.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/exec/" + x + "/start");
  ASSERT_TRUE(a);
  const long hwm_before = vm_kib(ljd_->pid(), "VmHWM");
  std::thread writer = feed(a.get(), big.block(), 100);
  auto [out, err] = demux(read_all(a.get()));
  writer.join();
  const long hwm_after = vm_kib(ljd_->pid(), "VmHWM");
  EXPECT_EQ(out.substr(0, 64), big.sha256()) << err;
  EXPECT_LT(hwm_after - hwm_before, 16 * 1024) << "ljd buffered the stream";
  auto w = c.get("/v1/exec/" + x + "/wait?timeout_s=10");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 0) << w->body;
  kill_jail(c, jail);
}

// A paste larger than a terminal's input queue (4 KiB): the master is full until the command
// reads, and the input must wait for room, not end (it did: EAGAIN on the non-blocking master).
TEST_F(LjdExecTest, ALargePasteIntoATerminalArrivesWhole) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  BigFile big(1);
  ASSERT_EQ(big.sha256().size(), 64u);
  // Raw mode: every byte as typed (no line editing, no signals, no echo, no CR/NL mapping).
  const std::string x = create_exec(
      c, jail,
      {{"cmd", {"sh", "-c", "busybox stty raw -echo; echo ready; head -c 1048576 | busybox sha256sum"}},
       {"stdin", true},
       {"tty", true}});
  ASSERT_FALSE(x.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/exec/" + x + "/start");
  ASSERT_TRUE(a);
  std::string shown;
  char buf[4096];
  auto read_for = [&](const std::string& what) {
    for (int i = 0; i < 300 && shown.find(what) == std::string::npos; ++i) {  // 30 s at most
      struct pollfd pfd = {a.get(), POLLIN, 0};
      if (::poll(&pfd, 1, 100) <= 0) continue;
      ssize_t n = ::read(a.get(), buf, sizeof buf);
      if (n <= 0) break;
      shown.append(buf, static_cast<std::size_t>(n));
    }
    return shown.find(what) != std::string::npos;
  };
  ASSERT_TRUE(read_for("ready")) << shown;
  // All at once: a paste.
  ASSERT_EQ(::send(a.get(), big.block().data(), big.block().size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(big.block().size()));
  EXPECT_TRUE(read_for(big.sha256())) << "the paste did not arrive whole: " << shown;
  auto w = c.get("/v1/exec/" + x + "/wait?timeout_s=10");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 0) << w->body;
  kill_jail(c, jail);
}

TEST_F(LjdExecTest, ATerminalExecIsTheJailsPtyAndFollowsAResize) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  const std::string x = create_exec(c, jail,
                                    {{"cmd", {"sh", "-i"}},
                                     {"stdin", true},
                                     {"tty", true},
                                     {"tty_size", {{"rows", 30}, {"cols", 90}}}});
  ASSERT_FALSE(x.empty());
  UniqueFd a = upgraded(ljd_->socket(), "/v1/exec/" + x + "/start");
  ASSERT_TRUE(a);
  std::string cmd = "busybox stty size; busybox tty\n";
  ASSERT_EQ(::write(a.get(), cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  // The first size read before the resize: its answer seen, not a sleep (CI's loaded run resized
  // first, and both reads said 40 100).
  std::string shown;
  char buf[4096];
  for (int i = 0; i < 300 && shown.find("/dev/pts/") == std::string::npos; ++i) {  // 30 s at most
    struct pollfd pfd = {a.get(), POLLIN, 0};
    if (::poll(&pfd, 1, 100) <= 0) continue;
    ssize_t n = ::read(a.get(), buf, sizeof buf);
    if (n <= 0) break;
    shown.append(buf, static_cast<std::size_t>(n));
  }
  auto rs = c.request("POST", "/v1/exec/" + x + "/resize?h=40&w=100");
  ASSERT_TRUE(rs);
  EXPECT_EQ(rs->status, 200) << rs->body;
  cmd = "busybox stty size; exit 7\n";
  ASSERT_EQ(::write(a.get(), cmd.data(), cmd.size()), static_cast<ssize_t>(cmd.size()));
  const std::string raw = shown + read_all(a.get());
  EXPECT_NE(raw.find("30 90\r\n"), std::string::npos) << raw;
  EXPECT_NE(raw.find("/dev/pts/"), std::string::npos) << raw;
  EXPECT_NE(raw.find("40 100\r\n"), std::string::npos) << raw;
  auto w = c.get("/v1/exec/" + x + "/wait?timeout_s=10");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 7) << w->body;
  auto bad = c.request("POST", "/v1/exec/" + x + "/resize?h=40&w=100");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 409);
  kill_jail(c, jail);
}

TEST_F(LjdExecTest, ConflictsNotFoundAndBadInput) {
  auto c = client();
  const std::string jail = sleeper(c);
  ASSERT_FALSE(jail.empty());
  for (const json& body :
       {json{{"cmd", json::array()}}, json{{"cmd", "sh"}}, json{{"cmd", {"true"}}, {"bogus", 1}},
        json{{"cmd", {"true"}}, {"workdir", "rel"}}, json{{"cmd", {"true"}}, {"user", "a:b:c"}},
        json{{"cmd", {"true"}}, {"tty_size", {{"rows", 1}, {"cols", 1}}}}}) {
    auto r = c.post("/v1/jails/" + jail + "/exec", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << body.dump() << " " << r->body;
  }
  auto nf = c.post("/v1/jails/j-00000000/exec", {{"cmd", {"true"}}});
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  auto nx = c.get("/v1/exec/x-00000000");
  ASSERT_TRUE(nx);
  EXPECT_EQ(nx->status, 404);
  EXPECT_EQ(nx->json()["code"], "exec.not_found");
  // A command the jail does not have: 400 exec_failed, and the exec can be started again.
  const std::string missing = create_exec(c, jail, {{"cmd", {"no-such-command"}}});
  auto m = c.request("POST", "/v1/exec/" + missing + "/start?detach=true");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->status, 400) << m->body;
  EXPECT_EQ(m->json()["code"], "jail.exec_failed");
  // Started twice: 409.
  const std::string once = create_exec(c, jail, {{"cmd", {"sleep", "100"}}});
  auto d = c.request("POST", "/v1/exec/" + once + "/start?detach=true");
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 200) << d->body;
  EXPECT_EQ(d->json()["state"], "running");
  auto again = c.request("POST", "/v1/exec/" + once + "/start?detach=true");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  const std::string later = create_exec(c, jail, {{"cmd", {"true"}}});
  // The exec ends with its jail; a jail that is not running takes no exec (409).
  kill_jail(c, jail);
  auto w = c.get("/v1/exec/" + once + "/wait?timeout_s=10");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["state"], "exited") << w->body;
  EXPECT_EQ(w->json()["exit"]["signal"], SIGKILL) << w->body;
  auto stopped = c.post("/v1/jails/" + jail + "/exec", {{"cmd", {"true"}}});
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->status, 409) << stopped->body;
  EXPECT_EQ(stopped->json()["code"], "jail.conflict");
  auto late = c.request("POST", "/v1/exec/" + later + "/start");
  ASSERT_TRUE(late);
  EXPECT_EQ(late->status, 409) << late->body;
}

// A daemon of its own: killed with SIGKILL while an exec runs, then started again.
TEST(LjdExecRestartTest, AnExecsExitCodeSurvivesAKillOfLjd) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
  LjdProcess ljd("workers = 2\n");
  ASSERT_TRUE(ljd.start());
  ASSERT_TRUE(ljd.make_busybox_world("bb"));
  if (ljd.log().find("backend=none") != std::string::npos) GTEST_SKIP() << "no jail backend";
  std::string jail, x, y;
  {
    auto c = ljd.client();
    auto r = c.post("/v1/jails?start=true", {{"world", "bb"}, {"command", {"sleep", "100"}}});
    ASSERT_TRUE(r && r->status == 201);
    jail = r->json()["id"];
    // x ends while ljd is down; y outlives the restart, however long it takes (seconds under a
    // sanitizer on a loaded machine), and is re-adopted: it runs until /tmp/go exists.
    for (auto [id, secs] : {std::pair{&x, "exit 9"},
                            std::pair{&y, "while [ ! -e /tmp/go ]; do sleep 0.1; done; exit 4"}}) {
      auto e = c.post("/v1/jails/" + jail + "/exec", {{"cmd", {"sh", "-c", std::string("sleep 0.5; ") + secs}}});
      ASSERT_TRUE(e && e->status == 201);
      *id = e->json()["id"];
      auto s = c.request("POST", "/v1/exec/" + *id + "/start?detach=true");
      ASSERT_TRUE(s && s->status == 200) << (s ? s->body : "");
    }
  }
  ljd.crash();
  std::this_thread::sleep_for(1500ms);  // x has ended meanwhile
  ASSERT_TRUE(ljd.start());
  auto c = ljd.client();
  auto gx = c.get("/v1/exec/" + x + "/wait?timeout_s=10");
  ASSERT_TRUE(gx);
  EXPECT_EQ(gx->json()["state"], "exited") << gx->body;
  EXPECT_EQ(gx->json()["exit"]["code"], 9) << gx->body;
  // y runs on, re-adopted: its streams were attached at its start and cannot be again (its stdin
  // pipe ended with the old ljd); a second start says so, and its exit is still recorded.
  auto again = c.request("POST", "/v1/exec/" + y + "/start");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409) << again->body;
  EXPECT_NE(again->body.find("attached once, at its start"), std::string::npos) << again->body;
  auto go = c.post("/v1/jails/" + jail + "/exec", {{"cmd", {"sh", "-c", ": >/tmp/go"}}});
  ASSERT_TRUE(go && go->status == 201) << (go ? go->body : "");
  const std::string go_id = go->json()["id"];
  auto gs = c.request("POST", "/v1/exec/" + go_id + "/start?detach=true");
  ASSERT_TRUE(gs && gs->status == 200) << (gs ? gs->body : "");
  auto gy = c.get("/v1/exec/" + y + "/wait?timeout_s=10");
  ASSERT_TRUE(gy);
  EXPECT_EQ(gy->json()["exit"]["code"], 4) << gy->body;
  auto ended = c.request("POST", "/v1/exec/" + y + "/start");
  ASSERT_TRUE(ended);
  EXPECT_EQ(ended->status, 409) << ended->body;
  EXPECT_NE(ended->body.find("has exited"), std::string::npos) << ended->body;
  (void)c.request("POST", "/v1/jails/" + jail + "/kill");
  (void)c.get("/v1/jails/" + jail + "/wait?timeout_s=30");
  EXPECT_EQ(ljd.stop(), 0);
}

}  // namespace
}  // namespace lj::testing
