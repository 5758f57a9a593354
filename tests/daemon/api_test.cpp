// Black-box tests of ljd's API that need no jail to run: every route's errors, the body decoder,
// limits, peer credentials, events, the socket's life. Jails that run are in jail_test.cpp.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "shared_ljd.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

class LjdApiTest : public SharedLjdTest<LjdApiTest, false> {
 public:
  static constexpr const char* kConfig =
      "max_body_bytes = 64K\nmax_header_bytes = 8K\nidle_timeout = 2s\nheartbeat = 1s\n";
};

void expect_error(const Result<HttpResponse>& r, int status, const std::string& code) {
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, status) << r->body;
  EXPECT_EQ(r->json().value("code", ""), code) << r->body;
  EXPECT_TRUE(r->json().contains("message")) << r->body;
  EXPECT_TRUE(r->json()["details"].is_object()) << r->body;
}

TEST_F(LjdApiTest, PingAndInfo) {
  auto c = client();
  auto ping = c.get("/v1/_ping");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
  EXPECT_EQ(ping->json()["ok"], true);
  auto info = c.get("/v1/info");  // same connection: keep-alive
  ASSERT_TRUE(info);
  ASSERT_EQ(info->status, 200);
  json j = info->json();
  EXPECT_EQ(j["version"], "0.1.0");
  EXPECT_EQ(j["api_version"], "v1");
  EXPECT_EQ(j["root"], ljd_->root().string());
  EXPECT_TRUE(j["event_seq"].is_number_integer());
  EXPECT_TRUE(j["features"].is_array());
  EXPECT_TRUE(j.contains("backend"));
}

TEST_F(LjdApiTest, UnknownRouteAndMethod) {
  auto c = client();
  expect_error(c.get("/v1/nope"), 404, "api.no_route");
  expect_error(c.get("/v2/_ping"), 404, "api.no_route");
  expect_error(c.request("PUT", "/v1/jails"), 405, "api.method_not_allowed");
  expect_error(c.request("DELETE", "/v1/info"), 405, "api.method_not_allowed");
}

TEST_F(LjdApiTest, MissingJailIs404OnEveryJailRoute) {
  auto c = client();
  expect_error(c.get("/v1/jails/j-00000000"), 404, "jail.not_found");
  expect_error(c.get("/v1/jails/nosuch"), 404, "jail.not_found");
  expect_error(c.post("/v1/jails/nosuch/start", json::object()), 404, "jail.not_found");
  expect_error(c.post("/v1/jails/nosuch/stop", json::object()), 404, "jail.not_found");
  expect_error(c.post("/v1/jails/nosuch/kill", json::object()), 404, "jail.not_found");
  expect_error(c.get("/v1/jails/nosuch/wait?timeout_s=0"), 404, "jail.not_found");
  expect_error(c.get("/v1/jails/nosuch/logs"), 404, "jail.not_found");
  expect_error(c.del("/v1/jails/nosuch"), 404, "jail.not_found");
}

// Each kind of bad body is a 400 that names the field.
TEST_F(LjdApiTest, BadBodiesAre400NamingTheField) {
  auto c = client();
  struct Case {
    std::string body;
    std::string field;
  };
  const Case cases[] = {
      {R"({"world": "bb", "command": ["true"])", ""},                          // truncated JSON
      {R"(not json)", ""},                                                     // malformed
      {R"([1, 2])", ""},                                                       // not an object
      {R"({"world": "bb", "command": "true"})", "command"},                    // wrong type
      {R"({"world": 7, "command": ["true"]})", "world"},                       // wrong type
      {R"({"world": "bb", "command": ["true", 1]})", "command[1]"},            // wrong element type
      {R"({"world": "bb", "command": ["true"], "colour": "red"})", "colour"},  // unknown field
      {R"({"world": "bb", "command": ["true"], "limits": {"memory": 1}})", "limits.memory"},
      {R"({"world": "bb", "command": ["true"], "limits": {"pids": -1}})", "limits.pids"},
      {R"({"world": "bb", "command": ["true"], "limits": {"memory_bytes": "1G"}})",
       "limits.memory_bytes"},
      {R"({"world": "bb", "command": ["true"], "limits": {"memory_bytes": 4096}})",
       "limits.memory_bytes"},  // below what the kernel starts a jail in
      {R"({"world": "bb", "command": ["true"], "env": {"A": 1}})", "env.A"},
      {R"({"world": "bb", "command": ["true"], "volumes": [{"host_path": "/tmp"}]})",
       "volumes[0].jail_path"},  // missing required
      {R"({"world": "bb", "command": ["true"], "volumes": [{"host_path": "tmp", "jail_path": "/x"}]})",
       "volumes[0].host_path"},
      {R"({"world": "bb", "command": ["true"], "network": {"mode": "bridge"}})", "network.mode"},
      {R"({"world": "bb"})", "command"},      // missing required
      {R"({"command": ["true"]})", "world"},  // missing required
      {R"({"world": "bb", "command": ["true"], "script": "true"})", "command"},
      {R"({"world": "../etc", "command": ["true"]})", "world"},
      {R"({"world": "bb", "command": ["true"], "name": "a/b"})", "name"},
      {R"({"world": "bb", "command": ["true"], "name": ".."})", "name"},
      {R"({"world": "bb", "command": ["true"], "workdir": "/../.."})", "workdir"},
      {R"({"world": "bb", "command": ["true"], "auto_remove": "yes"})", "auto_remove"},
      {R"({"world": "bb", "command": ["true"], "overlay": {"version": "1"}})", "overlay.name"},
  };
  for (const auto& tc : cases) {
    auto r = c.request("POST", "/v1/jails", tc.body);
    ASSERT_TRUE(r) << tc.body;
    EXPECT_EQ(r->status, 400) << tc.body << " -> " << r->body;
    json j = r->json();
    EXPECT_EQ(j.value("code", ""), "api.invalid_argument") << tc.body;
    if (tc.field.empty()) {
      EXPECT_FALSE(j["details"].contains("field")) << tc.body << " -> " << r->body;
    } else {
      EXPECT_EQ(j["details"].value("field", ""), tc.field) << tc.body << " -> " << r->body;
    }
  }
  // Bad bodies on the small routes and bad query parameters.
  expect_error(c.request("POST", "/v1/jails/x/stop", R"({"signal": "SIGNOPE"})"), 400,
               "api.invalid_argument");
  expect_error(c.request("POST", "/v1/jails/x/stop", R"({"timeout": 1})"), 400,
               "api.invalid_argument");
  expect_error(c.request("POST", "/v1/jails/x/kill", R"({"signal": true})"), 400,
               "api.invalid_argument");
  expect_error(c.get("/v1/jails?state=sleeping"), 400, "api.invalid_argument");
  expect_error(c.get("/v1/jails?label=novalue"), 400, "api.invalid_argument");
  expect_error(c.get("/v1/jails/x/wait?timeout_s=soon"), 400, "api.invalid_argument");
  expect_error(c.get("/v1/events?since=abc"), 400, "api.invalid_argument");
  expect_error(c.request("POST", "/v1/jails?start=maybe", R"({})"), 400, "api.invalid_argument");
  // The connection is still good after all of that.
  auto ping = c.get("/v1/_ping");
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->status, 200);
}

TEST_F(LjdApiTest, HugeBodyIs413AndHugeHeaderIs431) {
  {
    auto c = client();
    std::string body = R"({"world": "bb", "command": [")" + std::string(100 << 10, 'a') + R"("]})";
    auto r = c.request("POST", "/v1/jails", body);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_EQ(r->json().value("code", ""), "api.limit");
  }
  {
    auto c = client();
    auto r = c.request("GET", "/v1/_ping", "", {{"X-Big", std::string(16 << 10, 'b')}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 431);
  }
  auto c = client();
  auto r = c.get("/v1/_ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(LjdApiTest, MalformedHttpIs400AndClosed) {
  auto c = client();
  ASSERT_TRUE(c.send_raw("GARBAGE\r\n\r\n"));
  auto r = c.read_response(5s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_by_peer(5s));
}

// Raw bytes to the socket; what came back within `wait` (or until ljd closed). `then` is sent
// once `first_reply` (if set) has been seen.
std::string raw_exchange(const std::string& socket, const std::string& bytes,
                         std::chrono::milliseconds wait, const std::string& first_reply = "",
                         const std::string& then = "") {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::snprintf(sa.sun_path, sizeof sa.sun_path, "%s", socket.c_str());
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    ::close(fd);
    return "connect failed";
  }
  (void)!::write(fd, bytes.data(), bytes.size());
  std::string got;
  bool sent_then = then.empty();
  auto deadline = std::chrono::steady_clock::now() + wait;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
    if (!sent_then && got.find(first_reply) != std::string::npos) {
      (void)!::write(fd, then.data(), then.size());
      sent_then = true;
    }
  }
  ::close(fd);
  return got;
}

// RFC 9112 6.1: only chunked alone is a transfer coding ljd reads (Beast took "gzip, chunked" as
// chunked and handed gzip bytes on as JSON); 5.2: obs-fold is refused with a 400.
TEST_F(LjdApiTest, UnknownTransferCodingIs501AndObsFoldIs400) {
  auto got = raw_exchange(ljd_->socket(),
                          "POST /v1/jails HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, "
                          "chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                          2s);
  EXPECT_EQ(got.rfind("HTTP/1.1 501", 0), 0u) << got;
  got = raw_exchange(ljd_->socket(),
                     "GET /v1/_ping HTTP/1.1\r\nHost: x\r\nX-A: one\r\n two\r\n\r\n", 2s);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;
  // chunked alone still works.
  got = raw_exchange(ljd_->socket(),
                     "POST /v1/jails HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
                     2s);
  EXPECT_EQ(got.rfind("HTTP/1.1 400", 0), 0u) << got;  // {} lacks the command: a 400 of the API
  EXPECT_NE(got.find("api.invalid_argument"), std::string::npos) << got;
}

// `Expect: 100-continue` gets an interim 100 before the body is sent (curl waits 1 s for it).
TEST_F(LjdApiTest, ExpectContinueIsAnsweredBeforeTheBody) {
  std::string body = R"({"world": "bb"})";
  auto start = std::chrono::steady_clock::now();
  auto got = raw_exchange(ljd_->socket(),
                          "POST /v1/jails HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                          "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                          "Content-Length: " +
                              std::to_string(body.size()) + "\r\n\r\n",
                          3s, "HTTP/1.1 100 Continue\r\n\r\n", body);
  EXPECT_EQ(got.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 400", 0), 0u) << got;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s) << got;
}

TEST_F(LjdApiTest, ForeignPeerIs403) {
  // The socket's mode keeps others out first; open it to prove the credential check stands alone.
  ASSERT_EQ(::chmod(ljd_->socket().c_str(), 0666), 0);
  ASSERT_EQ(::chmod(ljd_->root().c_str(), 0711), 0);  // mkdtemp made it 0700
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(p[0]);
    if (::setgid(65534) != 0 || ::setuid(65534) != 0) ::_exit(2);
    auto c = HttpClient::connect(ljd_->socket());
    if (!c) ::_exit(3);
    auto r = c->get("/v1/info");
    std::string out = r ? std::to_string(r->status) + " " + r->json().value("code", "") : "error";
    (void)!::write(p[1], out.data(), out.size());
    ::_exit(0);
  }
  ::close(p[1]);
  char buf[256] = {};
  ssize_t n = ::read(p[0], buf, sizeof buf - 1);
  ::close(p[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::chmod(ljd_->socket().c_str(), 0660);
  ::chmod(ljd_->root().c_str(), 0700);
  if (::getuid() != 0) GTEST_SKIP() << "needs root: setuid(65534) to be a foreign peer";
  ASSERT_GT(n, 0);
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(n)), "403 api.permission_denied");
}

TEST_F(LjdApiTest, SocketIsMode0660) {
  struct stat st {};
  ASSERT_EQ(::stat(ljd_->socket().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0660u);
}

TEST_F(LjdApiTest, IdleConnectionIsClosedWhileOthersAreServed) {
  auto idle = client();
  auto busy = client();
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    auto r = busy.get("/v1/_ping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  // A half-sent request: the server must not wait for it forever (idle_timeout = 2s).
  ASSERT_TRUE(idle.send_raw("GET /v1/_ping HTTP/1.1\r\nHost: x\r\n"));
  EXPECT_TRUE(idle.closed_by_peer(6s));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1500ms);
}

TEST_F(LjdApiTest, CreatedJailLifecycleWithoutRunning) {
  auto c = client();
  std::string name = "idle-" + std::to_string(::getpid());
  auto r = c.post("/v1/jails", {{"name", name},
                                {"world", "bb"},
                                {"command", {"/bin/true"}},
                                {"labels", {{"team", "a"}, {"tier", "x"}}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  json j = r->json();
  std::string id = j["id"];
  EXPECT_EQ(id.rfind("j-", 0), 0u);
  EXPECT_EQ(j["name"], name);
  EXPECT_EQ(j["state"], "created");
  EXPECT_EQ(j["labels"]["team"], "a");
  EXPECT_EQ(j["spec"]["command"][0], "/bin/true");
  EXPECT_TRUE(j["exit"].is_null());

  // Duplicate name: 409.
  expect_error(c.post("/v1/jails", {{"name", name}, {"world", "bb"}, {"command", {"true"}}}), 409,
               "jail.exists");
  // Unknown world: 404.
  expect_error(c.post("/v1/jails", {{"world", "nosuch"}, {"command", {"true"}}}), 404,
               "world.not_found");

  // By id and by name.
  auto by_id = c.get("/v1/jails/" + id);
  ASSERT_TRUE(by_id);
  EXPECT_EQ(by_id->status, 200);
  auto by_name = c.get("/v1/jails/" + name);
  ASSERT_TRUE(by_name);
  EXPECT_EQ(by_name->json()["id"], id);

  // Filters.
  auto list = c.get("/v1/jails?state=created&label=team=a");
  ASSERT_TRUE(list);
  ASSERT_EQ(list->status, 200);
  bool found = false;
  for (auto& e : list->json()) {
    if (e["id"] != id) continue;
    found = true;
    EXPECT_EQ(e, by_id->json());  // the list writes its body itself: the same object as a get
    EXPECT_TRUE(e["spec"].is_object()) << e;
  }
  EXPECT_TRUE(found);
  auto none = c.get("/v1/jails?label=team=b");
  ASSERT_TRUE(none);
  for (auto& e : none->json()) EXPECT_NE(e["id"], id);
  auto running = c.get("/v1/jails?state=running");
  ASSERT_TRUE(running);
  for (auto& e : running->json()) EXPECT_NE(e["id"], id);

  // Not running: stop and kill are conflicts; wait times out.
  expect_error(c.post("/v1/jails/" + id + "/stop", json::object()), 409, "jail.conflict");
  expect_error(c.post("/v1/jails/" + id + "/kill", json::object()), 409, "jail.conflict");
  auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=0.2");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status, 200);
  EXPECT_EQ(w->json()["timed_out"], true);
  EXPECT_EQ(w->json()["state"], "created");

  // Delete; then it is a record (state removed) and the name is free again.
  auto d = c.del("/v1/jails/" + id);
  ASSERT_TRUE(d);
  EXPECT_EQ(d->status, 200) << d->body;
  EXPECT_EQ(d->json()["state"], "removed");
  auto gone = c.get("/v1/jails/" + id);
  ASSERT_TRUE(gone);
  EXPECT_EQ(gone->json()["state"], "removed");
  expect_error(c.del("/v1/jails/" + id), 404, "jail.not_found");
  expect_error(c.post("/v1/jails/" + id + "/start", json::object()), 409, "jail.conflict");
  auto again = c.post("/v1/jails", {{"name", name}, {"world", "bb"}, {"command", {"true"}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201) << again->body;
  // Wait on a removed jail answers at once, from the record.
  auto w2 = c.get("/v1/jails/" + id + "/wait");
  ASSERT_TRUE(w2);
  EXPECT_EQ(w2->json()["state"], "removed");
  EXPECT_EQ(w2->json()["timed_out"], false);
  ASSERT_EQ(c.del("/v1/jails/" + again->json()["id"].get<std::string>())->status, 200);
}

TEST_F(LjdApiTest, LogFollowOfAJailThatNeverRanEndsWhenItIsRemoved) {
  auto c = client();
  auto r = c.post("/v1/jails", {{"world", "bb"}, {"command", {"true"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201);
  std::string id = r->json()["id"];
  auto follower = client();
  auto head = follower.open_stream("/v1/jails/" + id + "/logs?follow=true");
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("content-type"), "application/x-ndjson");
  ASSERT_EQ(c.del("/v1/jails/" + id)->status, 200);
  std::optional<std::string> last;
  for (;;) {
    auto line = follower.next_line(5s);
    ASSERT_TRUE(line) << line.error().what();
    if (!*line) break;
    last = **line;
  }
  ASSERT_TRUE(last);
  json end = json::parse(*last);
  EXPECT_EQ(end["type"], "end");
  EXPECT_EQ(end["state"], "removed");
}

TEST_F(LjdApiTest, EventsResumeWithoutGapAndFollow) {
  auto c = client();
  auto info = c.get("/v1/info");
  ASSERT_TRUE(info);
  std::int64_t since = info->json()["event_seq"];

  auto follower = client();
  auto head = follower.open_stream("/v1/events?follow=true&since=" + std::to_string(since));
  ASSERT_TRUE(head);
  ASSERT_EQ(head->status, 200);

  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto r = c.post("/v1/jails", {{"world", "bb"}, {"command", {"true"}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201);
    ids.push_back(r->json()["id"]);
  }
  for (auto& id : ids) ASSERT_EQ(c.del("/v1/jails/" + id)->status, 200);

  // The follower sees created+removed for each, in order, seqs consecutive.
  std::vector<json> seen;
  while (seen.size() < 10) {
    auto line = follower.next_line(5s);
    ASSERT_TRUE(line) << line.error().what();
    ASSERT_TRUE(*line);
    json e = json::parse(**line);
    if (e.value("type", "") == "heartbeat") continue;
    seen.push_back(e);
  }
  for (std::size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i]["seq"], since + 1 + static_cast<std::int64_t>(i));
    EXPECT_EQ(seen[i]["uid"], ::getuid());
  }
  EXPECT_EQ(seen[0]["type"], "jail.created");
  EXPECT_EQ(seen[0]["resource"], ids[0]);
  EXPECT_EQ(seen[9]["type"], "jail.removed");

  // Resume in the middle: exactly the rest, no gap, no duplicate; then the stream ends.
  std::int64_t mid = seen[3]["seq"];
  auto r = c.get("/v1/events?since=" + std::to_string(mid));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  std::vector<json> rest;
  std::istringstream in(r->body);
  for (std::string line; std::getline(in, line);) rest.push_back(json::parse(line));
  ASSERT_GE(rest.size(), 6u);
  for (std::size_t i = 0; i < rest.size(); ++i) {
    EXPECT_EQ(rest[i]["seq"], mid + 1 + static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(rest[0]["seq"], seen[4]["seq"]);
  EXPECT_EQ(rest[0]["type"], seen[4]["type"]);

  // Heartbeats keep an idle stream alive (heartbeat = 1s).
  bool heartbeat = false;
  for (int i = 0; i < 5 && !heartbeat; ++i) {
    auto line = follower.next_line(3s);
    ASSERT_TRUE(line) << line.error().what();
    ASSERT_TRUE(*line);
    heartbeat = json::parse(**line).value("type", "") == "heartbeat";
  }
  EXPECT_TRUE(heartbeat);
}

// Two ljd on one socket: the second refuses; after a crash the stale socket file is replaced.
TEST(LjdSocket, SecondDaemonRefusesAndStaleSocketIsReplaced) {
  LjdProcess a;
  ASSERT_TRUE(a.start());
  {
    // A second ljd pointed at the same root and socket must refuse to start.
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int null = ::open("/dev/null", O_WRONLY);
      ::dup2(null, 2);
      std::string bin = LjdProcess::binary(), conf = a.config_path().string();
      ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_NE(WEXITSTATUS(status), 0);
    auto c = a.client();
    auto r = c.get("/v1/_ping");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
  a.crash();
  EXPECT_TRUE(std::filesystem::exists(a.socket()));  // left behind by the crash
  auto st = a.start();
  ASSERT_TRUE(st) << st.error().what();
  // A graceful stop exits 0 and removes the socket.
  int status = a.stop();
  EXPECT_TRUE(WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_FALSE(std::filesystem::exists(a.socket()));
}

// A second ljd on the same root but another socket must not start: it would "recover" the first
// one's jails (and kill them). It exits non-zero naming the holder's pid; the first serves on.
TEST(LjdSocket, SecondDaemonOnTheSameRootWithAnotherSocketRefusesNamingTheHolder) {
  LjdProcess a;
  ASSERT_TRUE(a.start());
  auto err_path = a.root() / "second.stderr";
  auto other = (a.root() / "other.sock").string();
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    ::dup2(err, 2);
    ::dup2(err, 1);
    std::string bin = LjdProcess::binary(), root = a.root().string();
    ::execl(bin.c_str(), bin.c_str(), "--root", root.c_str(), "--socket", other.c_str(),
            "--foreground", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  bool exited = false;
  for (int i = 0; i < 1000 && !exited; ++i) {
    exited = ::waitpid(pid, &status, WNOHANG) == pid;
    if (!exited) std::this_thread::sleep_for(10ms);
  }
  if (!exited) {
    ::kill(pid, SIGTERM);
    ::waitpid(pid, &status, 0);
  }
  ASSERT_TRUE(exited) << "a second ljd on the same root started";
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_NE(WEXITSTATUS(status), 0);
  std::ifstream in(err_path);
  std::stringstream err;
  err << in.rdbuf();
  EXPECT_NE(err.str().find("pid " + std::to_string(a.pid())), std::string::npos) << err.str();
  EXPECT_FALSE(std::filesystem::exists(other));
  auto c = a.client();
  auto r = c.get("/v1/_ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // The lock dies with its holder: after a crash the same root starts again.
  a.crash();
  auto st = a.start();
  ASSERT_TRUE(st) << st.error().what();
}

std::size_t open_fds(pid_t pid) {
  std::size_t n = 0;
  std::error_code ec;
  for (auto it = std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

// A follower of /v1/events that went away is dropped at once, not at the next heartbeat (30 s
// here): ljd watches the socket for EOF while it streams.
TEST(LjdEvents, FollowerThatWentAwayIsDroppedBeforeTheHeartbeat) {
  LjdProcess ljd("heartbeat = 30s\n");
  ASSERT_TRUE(ljd.start());
  std::size_t during = 0;
  {
    auto c = ljd.client();
    auto head = c.open_stream("/v1/events?follow=true");
    ASSERT_TRUE(head);
    ASSERT_EQ(head->status, 200) << head->body;
    std::this_thread::sleep_for(300ms);  // start()'s own connections are closed by now
    during = open_fds(ljd.pid());
  }  // the client goes away
  auto deadline = std::chrono::steady_clock::now() + 3s;
  while (open_fds(ljd.pid()) >= during && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(open_fds(ljd.pid()), during - 1);
  // ljd still serves.
  auto c = ljd.client();
  auto r = c.get("/v1/_ping");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// The index survives a restart: a jail created before is there after, and events continue.
TEST(LjdRestart, StateAndEventSeqSurviveARestart) {
  LjdProcess a;
  ASSERT_TRUE(a.start());
  ASSERT_TRUE(a.make_busybox_world("bb"));
  std::string id;
  std::int64_t seq = 0;
  {
    auto c = a.client();
    auto r = c.post("/v1/jails", {{"name", "keep"}, {"world", "bb"}, {"command", {"true"}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201);
    id = r->json()["id"];
    seq = c.get("/v1/info")->json()["event_seq"];
  }
  a.crash();
  ASSERT_TRUE(a.start());
  auto c = a.client();
  auto r = c.get("/v1/jails/keep");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->json()["id"], id);
  EXPECT_EQ(r->json()["state"], "created");
  EXPECT_EQ(c.get("/v1/info")->json()["event_seq"], seq);
  ASSERT_EQ(c.del("/v1/jails/keep")->status, 200);
  EXPECT_EQ(c.get("/v1/info")->json()["event_seq"], seq + 1);
}

}  // namespace
}  // namespace lj::testing
