// Hermetic unit tests of ljd's pure parts: configuration, the strict body decoder, targets, the
// router, the error table, output records and the attached clients' pacing.
#include <gtest/gtest.h>

#include "daemon/attach.hpp"
#include "daemon/config.hpp"
#include "daemon/http_parse.hpp"
#include "daemon/http_types.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/ndjson_log.hpp"
#include "daemon/router.hpp"
#include "daemon/wire.hpp"
#include "tests/daemon/support/inline_loop.hpp"

namespace lj::daemon {
namespace {

using nlohmann::json;

TEST(Config, ParsesEveryKindOfValue) {
  Config c;
  auto st = parse_config(
      "# comment\nroot = /srv/lj\nsocket=/run/x.sock  # trailing\nsocket_group = wheel\n"
      "socket_mode = 0600\ndefault_memory_bytes = 512M\nidle_timeout = 2m\nretention = 7d\n"
      "on_shutdown = leave\nlog_level = debug\nworkers = 2\n\n",
      &c);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(c.root, "/srv/lj");
  EXPECT_EQ(c.socket, "/run/x.sock");
  EXPECT_EQ(c.socket_group, "wheel");
  EXPECT_EQ(c.socket_mode, 0600u);
  EXPECT_EQ(c.default_memory_bytes, 512ull << 20);
  EXPECT_EQ(c.idle_timeout, std::chrono::seconds(120));
  EXPECT_EQ(c.retention, std::chrono::hours(24 * 7));
  EXPECT_EQ(c.on_shutdown, OnShutdown::leave);
  EXPECT_EQ(c.workers, 2u);
}

// etc/ljd.conf.sample shows every default: parsed over a config of zeros it gives the built-in
// defaults back. Jails without limits of their own get a pids limit (a fork bomb stays in its
// jail), no memory limit (docs/man/ljd.conf.5 says why).
TEST(Config, TheSampleFileStatesTheBuiltInDefaults) {
  const Config builtin;
  EXPECT_EQ(builtin.default_pids, 4096u);
  EXPECT_EQ(builtin.default_memory_bytes, 0u);
  Config c;
  c.default_pids = c.default_memory_bytes = c.default_nofile = c.default_timeout_s = 1;
  c.default_cpu_percent = 1;
  auto st = load_config(LJ_SAMPLE_CONFIG, &c);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(c.default_pids, builtin.default_pids);
  EXPECT_EQ(c.default_memory_bytes, builtin.default_memory_bytes);
  EXPECT_EQ(c.default_cpu_percent, builtin.default_cpu_percent);
  EXPECT_EQ(c.default_nofile, builtin.default_nofile);
  EXPECT_EQ(c.default_timeout_s, builtin.default_timeout_s);
  EXPECT_EQ(c.max_jails, builtin.max_jails);
  EXPECT_EQ(c.devfs_ruleset, builtin.devfs_ruleset);
  EXPECT_EQ(c.devfs_close_ruleset, builtin.devfs_close_ruleset);
  EXPECT_EQ(c.devfs_rulesets.first, builtin.devfs_rulesets.first);
  EXPECT_EQ(c.devfs_rulesets.last, builtin.devfs_rulesets.last);
}

// FreeBSD's devfs keys (the backend's options): numbers and a range that holds neither the
// shared ruleset nor the closing one.
TEST(Config, DevfsRulesetKeys) {
  Config c;
  ASSERT_TRUE(parse_config("devfs_ruleset = 5\ndevfs_close_ruleset = 6\ndevfs_rulesets = 100-199\n", &c));
  EXPECT_EQ(c.devfs_ruleset, 5);
  EXPECT_EQ(c.devfs_close_ruleset, 6);
  EXPECT_EQ(c.devfs_rulesets.first, 100);
  EXPECT_EQ(c.devfs_rulesets.last, 199);
  Config d;
  auto st = parse_config("devfs_ruleset = 60010\n", &d);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().what().find("holds ruleset 60010"), std::string::npos) << st.error().what();
  for (auto bad : {"devfs_close_ruleset = 150\ndevfs_rulesets = 100-199\n",
                   "devfs_ruleset = 70000\n", "devfs_rulesets = 9-1\n"}) {
    Config e;
    EXPECT_FALSE(parse_config(bad, &e)) << bad;
  }
}

TEST(Config, RejectsUnknownKeysAndBadValuesNamingTheLine) {
  Config c;
  auto st = parse_config("root = /x\ncolour = red\n", &c);
  ASSERT_FALSE(st);
  EXPECT_NE(st.error().what().find("line 2"), std::string::npos);
  EXPECT_FALSE(parse_config("idle_timeout = soon\n", &c));
  EXPECT_FALSE(parse_config("on_shutdown = maybe\n", &c));
  EXPECT_FALSE(parse_config("just words\n", &c));
  EXPECT_FALSE(parse_config("workers = 0\n", &c));
}

TEST(Fields, UnknownNestedFieldIsNamed) {
  json doc = json::parse(R"({"a": "x", "o": {"k": 1, "extra": 2}})");
  Fields f(doc);
  f.opt_string("a");
  auto o = f.object("o");
  o.opt_uint("k");
  auto st = f.finish();
  ASSERT_FALSE(st);
  EXPECT_EQ(f.error()->field, "o.extra");
}

TEST(Fields, FirstErrorWins) {
  json doc = json::parse(R"({"a": 1, "b": "x"})");
  Fields f(doc);
  f.opt_string("a");
  f.opt_uint("b");
  ASSERT_FALSE(f.finish());
  EXPECT_EQ(f.error()->field, "a");
}

TEST(Fields, NullIsAbsent) {
  json doc = json::parse(R"({"a": null})");
  Fields f(doc);
  EXPECT_FALSE(f.opt_string("a"));
  EXPECT_TRUE(f.finish());
}

TEST(CreateJail, RoundTripsThroughItsStoredForm) {
  Config cfg;
  std::string field;
  auto c =
      decode_create(json::parse(R"({"name": "web-1", "world": "bb", "command": ["sh", "-c", "x"],
      "env": {"A": "1"}, "limits": {"memory_bytes": 67108864, "timeout_s": 1.5},
      "network": {"mode": "inherit"}, "volumes": [{"host_path": "/tmp", "jail_path": "/mnt"}],
      "labels": {"k": "v"}, "auto_remove": true})"),
                    cfg, &field);
  ASSERT_TRUE(c) << c.error().what();
  auto again = decode_create(encode_create(*c), cfg, &field);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_EQ(encode_create(*again), encode_create(*c));
  EXPECT_EQ(again->limits.timeout, std::chrono::milliseconds(1500));
  auto spec = make_spec(*again, "j-1", {});
  EXPECT_EQ(spec.env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(spec.hostname, "web-1");
  EXPECT_EQ(spec.root.volumes.size(), 1u);
}

TEST(CreateJail, DefaultsComeFromTheConfig) {
  Config cfg;
  cfg.default_world = "base";
  cfg.default_memory_bytes = 4096;
  auto c = decode_create(json::parse(R"({"command": ["true"]})"), cfg, nullptr);
  ASSERT_TRUE(c);
  EXPECT_EQ(c->world, "base");
  EXPECT_EQ(c->limits.memory_bytes, 4096u);
}

TEST(Target, DecodesPathAndQuery) {
  Request r;
  ASSERT_TRUE(parse_target("/v1/jails/a%20b/?state=running&label=k%3Dv&label=x=y&flag", &r));
  EXPECT_EQ(r.path, "/v1/jails/a b");
  EXPECT_EQ(*r.param("state"), "running");
  EXPECT_EQ(r.query.count("label"), 2u);
  EXPECT_EQ(*r.param("flag"), "");
  Request bad;
  EXPECT_FALSE(parse_target("/v1/x%2", &bad));
  EXPECT_FALSE(parse_target("/v1/x%00", &bad));
  EXPECT_FALSE(parse_target("v1/x", &bad));
}

TEST(Router, MatchesParamsAndAnswers404And405) {
  Router r;
  std::string got;
  r.add("GET", "/v1/jails/{id}/wait", [&](Request&, const Params& p, Reply reply) {
    got = p.at("id");
    reply(Response{});
  });
  Request req;
  req.method = "GET";
  req.path = "/v1/jails/j-1/wait";
  int status = 0;
  r.dispatch(req, [&](Response resp) { status = resp.status; });
  EXPECT_EQ(status, 200);
  EXPECT_EQ(got, "j-1");
  req.method = "POST";
  r.dispatch(req, [&](Response resp) { status = resp.status; });
  EXPECT_EQ(status, 405);
  req.path = "/v1/nope";
  r.dispatch(req, [&](Response resp) { status = resp.status; });
  EXPECT_EQ(status, 404);
}

TEST(ErrorTable, EveryKindHasItsStatus) {
  EXPECT_EQ(http_status(Errc::invalid_argument), 400);
  EXPECT_EQ(http_status(Errc::permission_denied), 403);
  EXPECT_EQ(http_status(Errc::not_found), 404);
  EXPECT_EQ(http_status(Errc::exists), 409);
  EXPECT_EQ(http_status(Errc::conflict), 409);
  EXPECT_EQ(http_status(Errc::limit), 429);
  EXPECT_EQ(http_status(Errc::internal), 500);
  EXPECT_EQ(http_status(Errc::system), 500);
  EXPECT_EQ(http_status(Errc::unsupported), 501);
  EXPECT_EQ(http_status(Errc::busy), 503);
  EXPECT_EQ(http_status(Errc::timed_out), 504);
  EXPECT_EQ(http_status(Errc::no_space), 507);
  auto r = error_response(Error(Errc::busy, "api", "later"));
  EXPECT_EQ(r.status, 503);
  ASSERT_EQ(r.headers.size(), 1u);
  EXPECT_EQ(r.headers[0].first, "Retry-After");
  auto j = json::parse(r.body);
  EXPECT_EQ(j["code"], "api.busy");
}

// jail.exec_failed is a kind set where execve failed (the backends), never read from a message.
TEST(ErrorTable, ExecFailureIsItsOwnKindWithAReason) {
  EXPECT_EQ(http_status(Errc::exec_failed), 400);
  auto r = error_response(
      Error::from_errno(Errc::exec_failed, "jail", "execve /bin/nope", ENOENT).context("starting"));
  EXPECT_EQ(r.status, 400);
  auto j = json::parse(r.body);
  EXPECT_EQ(j["code"], "jail.exec_failed");
  EXPECT_EQ(j["details"]["reason"], "not_found");
  EXPECT_EQ(j["details"]["errno"], "ENOENT");
  j = json::parse(
      error_response(Error::from_errno(Errc::exec_failed, "jail", "execve /x", EACCES)).body);
  EXPECT_EQ(j["details"]["reason"], "not_executable");
  // A message that merely mentions execve is not one.
  j = json::parse(error_response(Error::from_errno("jail", "execveat lj-init", ENOENT)).body);
  EXPECT_EQ(j["code"], "jail.not_found");
  EXPECT_FALSE(j["details"].contains("reason"));
}

// The server's own failures (before any handler) come from the same place, in the same shape.
TEST(ErrorTable, HttpFailuresHaveTheirStatusesAndCodes) {
  struct Row {
    HttpFailure f;
    int status;
    const char* code;
  };
  for (const Row& row : {Row{HttpFailure::no_route, 404, "api.no_route"},
                         Row{HttpFailure::method_not_allowed, 405, "api.method_not_allowed"},
                         Row{HttpFailure::body_too_large, 413, "api.limit"},
                         Row{HttpFailure::header_too_large, 431, "api.limit"}}) {
    auto r = error_response(row.f, "m");
    EXPECT_EQ(r.status, row.status);
    auto j = json::parse(r.body);
    EXPECT_EQ(j["code"], row.code);
    EXPECT_EQ(j["message"], "m");
    EXPECT_EQ(j["details"], json::object());
  }
  auto parsed = parse_requests("GET /v1/_ping HTTP/1.1\r\nContent-Length: 9999999\r\n\r\n",
                               HttpLimits{16 << 10, 100});
  ASSERT_TRUE(parsed.error);
  EXPECT_EQ(parsed.error->status, 413);
  EXPECT_EQ(json::parse(parsed.error->body)["code"], "api.limit");
}

// A client that connects and goes away before a whole request line: nothing to answer, and ljd
// goes on (beast's put_eof asserts that it took some bytes; the sanitized build, which keeps
// asserts, aborted ljd here).
TEST(RequestReaderTest, AClientGoneBeforeAWholeRequestLineIsNobodyToAnswer) {
  for (std::string_view sent : {"", "GET /v1/_p", "GET /v1/_ping HTTP/1.1\r\nHost: x"}) {
    RequestReader r(HttpLimits{16 << 10, 100});
    r.feed(sent);
    ASSERT_EQ(r.state(), RequestReader::State::more) << sent;
    r.eof();
    EXPECT_EQ(r.state(), RequestReader::State::failed) << sent;
    EXPECT_FALSE(r.error()) << sent;
  }
}

// Every time on the wire is RFC 3339, also the exited_at of jail.exited events that an earlier
// ljd recorded as epoch milliseconds; other event data goes as stored.
TEST(Wire, EventTimesAreRfc3339EvenFromOlderRecords) {
  index::EventRow e;
  e.seq = 7;
  e.time = index::Time(std::chrono::milliseconds(1764000000123));
  e.type = "jail.exited";
  e.resource = "j-1";
  e.data = R"({"exit_code":0,"exited_at":1764000000123,"name":""})";
  json j = json::parse(event_line(e));
  EXPECT_EQ(j["time"], "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(j["data"]["exited_at"], "2025-11-24T16:00:00.123Z");
  EXPECT_EQ(j["data"]["exit_code"], 0);
  e.data = R"({"exit_code":0,"exited_at":"2025-11-24T16:00:00.123Z"})";
  EXPECT_EQ(json::parse(event_line(e))["data"]["exited_at"], "2025-11-24T16:00:00.123Z");
  e.type = "jail.started";
  e.data = R"({"pid":42,"name":"x"})";
  EXPECT_NE(event_line(e).find(R"("data":{"pid":42,"name":"x"})"), std::string::npos);
}

}  // namespace
}  // namespace lj::daemon

namespace lj::daemon {
namespace {

TEST(OutputRecord, TextInDataBytesThatAreNotUtf8InBase64BothLossless) {
  std::string all(256, '\0');
  for (int i = 0; i < 256; ++i) all[i] = static_cast<char>(i);
  for (const std::string& bytes : {std::string("hi \xc3\xa9\n"), std::string("a\0b", 3), all}) {
    const std::string rec = "{\"seq\":1" + output_fields(1, bytes) + "}";
    auto j = nlohmann::json::parse(rec);
    EXPECT_EQ(j["stream"], "stderr");
    EXPECT_NE(j.contains("data"), j.contains("data_base64")) << rec;  // exactly one
    int stream = -1;
    std::string data;
    ASSERT_TRUE(output_of(rec, &stream, &data)) << rec;
    EXPECT_EQ(stream, 1);
    EXPECT_TRUE(data == bytes) << rec;
  }
  EXPECT_TRUE(nlohmann::json::parse("{" + output_fields(0, "x\n").substr(1) + "}").contains("data"));
  EXPECT_TRUE(nlohmann::json::parse("{" + output_fields(0, "\xff").substr(1) + "}")
                  .contains("data_base64"));
  // NUL-heavy text is stored as base64 (4/3), not escaped (6 bytes a NUL); text whose escapes
  // cost little stays text.
  const std::string nuls(30000, '\0');
  const std::string stored = output_fields(0, nuls);
  EXPECT_LE(stored.size(), nuls.size() * 4 / 3 + 64);
  EXPECT_NE(stored.find("data_base64"), std::string::npos);
  EXPECT_NE(output_fields(0, "a\tb\n").find(R"("data":"a\tb\n")"), std::string::npos);
  EXPECT_NE(output_fields(0, "x\r\n").find(R"("data":"x\r\n")"), std::string::npos);
  int stream;
  std::string data;
  ASSERT_TRUE(output_of("{\"seq\":1" + stored + "}", &stream, &data));
  EXPECT_TRUE(data == nuls);
  EXPECT_FALSE(output_of(R"({"type":"end","exit":{"code":0}})", &stream, &data));
  EXPECT_FALSE(output_of(R"({"stream":"stdout","data_base64":"!!"})", &stream, &data));
}

// A sink that takes everything and is full when told.
struct TestSink final : OutputSink {
  bool output(int stream, std::string_view data) override {
    if (gone) return false;
    got += (stream == 1 ? "E:" : "O:") + std::string(data) + ";";
    return true;
  }
  bool full() const override { return is_full; }
  void end(const std::string& rec) override { ended = rec; }
  std::string got, ended;
  bool is_full = false, gone = false;
};

TEST(Attachments, AFullClientPausesTheReadersUntilItIsNot) {
  testing::InlineLoop loop;
  std::vector<bool> paces;
  Attachments a(loop, [&](bool pause) { paces.push_back(pause); });
  auto s = std::make_shared<TestSink>();
  a.add(s);
  a.output(0, "x");
  EXPECT_TRUE(paces.empty());
  s->is_full = true;
  a.output(1, "y");
  EXPECT_EQ(paces, std::vector<bool>{true});
  loop.advance(std::chrono::milliseconds(50));  // still full: looked again, still paused
  EXPECT_EQ(paces, std::vector<bool>{true});
  s->is_full = false;
  loop.advance(std::chrono::milliseconds(50));
  EXPECT_EQ(paces, (std::vector<bool>{true, false}));
  EXPECT_EQ(s->got, "O:x;E:y;");
  // A client gone is dropped at its next chunk, and holds nothing.
  s->is_full = true;
  s->gone = true;
  a.output(0, "z");
  EXPECT_EQ(paces, (std::vector<bool>{true, false}));
  a.end("{}");
  EXPECT_EQ(s->ended, "");
}

TEST(Attachments, UnpacedReadersAreNeverHeld) {
  testing::InlineLoop loop;
  std::vector<bool> paces;
  Attachments a(loop, [&](bool pause) { paces.push_back(pause); });
  auto s = std::make_shared<TestSink>();
  s->is_full = true;
  a.add(s);
  a.output(0, "x");
  a.unpace();
  EXPECT_EQ(paces, (std::vector<bool>{true, false}));
  a.output(0, "y");
  EXPECT_EQ(paces, (std::vector<bool>{true, false}));
  a.end("{\"type\":\"end\"}");
  EXPECT_EQ(s->ended, "{\"type\":\"end\"}");
}

TEST(HeldSink, HoldsInOrderIsFullPastItsLimitAndDropsWhenAbandoned) {
  auto h = std::make_shared<HeldSink>(4);
  EXPECT_TRUE(h->output(0, "abc"));
  EXPECT_FALSE(h->full());
  EXPECT_TRUE(h->output(1, "de"));
  EXPECT_TRUE(h->full());  // 5 bytes held, past 4
  h->end("END");
  auto s = std::make_shared<TestSink>();
  h->connect(s);
  EXPECT_EQ(s->got, "O:abc;E:de;");
  EXPECT_EQ(s->ended, "END");
  EXPECT_FALSE(h->full());

  auto g = std::make_shared<HeldSink>(4);
  {
    ConnectOrAbandon guard(g);
    g->output(0, "abcdef");
    EXPECT_TRUE(g->full());
  }  // never connected: abandoned
  EXPECT_FALSE(g->full());
  EXPECT_FALSE(g->output(0, "x"));  // dropped from the attachments
}

}  // namespace
}  // namespace lj::daemon
