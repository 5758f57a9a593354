// The in-process service tier: Api::handle and the jail service (Jails) with a real index
// (:memory:) on an InlineLoop and a CountingBackend. No root, no sockets, no sleeps: the test
// decides when each jail ends and when time passes, so every ordering asserted here is exact.
#include <gtest/gtest.h>

#include <stdlib.h>

#include <csignal>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "daemon/api.hpp"
#include "daemon/jails.hpp"
#include "tests/daemon/support/counting_backend.hpp"
#include "tests/daemon/support/inline_loop.hpp"

namespace lj::daemon {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::CountingBackend;
using testing::InlineLoop;

// The records an NDJSON stream received, parsed.
class CaptureWriter final : public StreamWriter {
 public:
  bool write(std::string record) override {
    if (ended_) return false;
    records.push_back(json::parse(record));
    return true;
  }
  void end() override { ended_ = true; }
  bool closed() const override { return ended_; }
  std::size_t backlog() const override { return 0; }
  bool ended() const { return ended_; }

  std::vector<json> records;

 private:
  bool ended_ = false;
};

// A request answered later (a wait, a stop): the response once it came.
using Pending = std::shared_ptr<std::optional<Response>>;

class ApiService : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lj-service-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "worlds" / "w");
    fs::create_directories(root_ / ".ljd" / "logs");
    fs::create_directories(root_ / ".ljd" / "run");
    Config cfg;
    cfg.root = root_;
    cfg.default_world = "w";
    auto idx = index::Index::open(":memory:");
    ASSERT_TRUE(idx) << idx.error().what();
    auto backend = std::make_unique<CountingBackend>(loop_);
    backend_ = backend.get();
    d_ = std::make_unique<Daemon>(cfg, loop_, std::move(backend), std::move(*idx));
    d_->ready = true;
    api_ = std::make_unique<Api>(*d_);
    d_->events.subscribe([this](const index::EventRow& e) {
      events_.push_back(e);
      return true;
    });
  }
  void TearDown() override {
    api_.reset();
    d_.reset();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Sends a request; its answer, when it comes, is also noted in order_ as `tag` (if any).
  Pending send(const std::string& method, const std::string& target, const std::string& body,
               std::string tag = "") {
    Request req;
    req.method = method;
    req.target = target;
    EXPECT_TRUE(parse_target(target, &req)) << target;
    req.body = body;
    req.peer.uid = 0;
    req.peer.allowed = true;
    req.request_id = "r-test";
    auto out = std::make_shared<std::optional<Response>>();
    api_->handle(req, [this, out, tag](Response r) {
      EXPECT_FALSE(*out) << "answered twice";
      *out = std::move(r);
      if (!tag.empty()) order_.push_back(tag);
    });
    loop_.run();
    return out;
  }
  // A request that is answered without waiting for a jail to end.
  Response call(const std::string& method, const std::string& target, const json& body = json()) {
    auto r = send(method, target, body.is_null() ? "" : body.dump());
    EXPECT_TRUE(*r) << method << " " << target << " was not answered";
    return r->value_or(Response{});
  }
  static json body(const Response& r) { return json::parse(r.body, nullptr, false); }

  std::string run_jail(const json& spec = {{"command", {"/bin/true"}}}) {
    Response r = call("POST", "/v1/jails?start=true", spec);
    EXPECT_EQ(r.status, 201) << r.body;
    return body(r).value("id", "");
  }
  std::vector<std::string> event_types(const std::string& id) const {
    std::vector<std::string> out;
    for (const auto& e : events_)
      if (e.resource == id) out.push_back(e.type);
    return out;
  }
  index::JailRow row(const std::string& id) { return d_->idx.get_jail(id).value(); }

  fs::path root_;
  InlineLoop loop_;
  CountingBackend* backend_ = nullptr;
  std::unique_ptr<Daemon> d_;
  std::unique_ptr<Api> api_;
  std::vector<index::EventRow> events_;
  std::vector<std::string> order_;  // answers and events, as they happened (tests' choice)
};

TEST_F(ApiService, CreateAndStartGiveARunningRowAndItsEvents) {
  Response r = call("POST", "/v1/jails?start=true",
                    {{"name", "web"}, {"command", {"/bin/sleep", "30"}}, {"labels", {{"a", "b"}}}});
  ASSERT_EQ(r.status, 201) << r.body;
  json j = body(r);
  std::string id = j["id"];
  EXPECT_EQ(j["state"], "running");
  EXPECT_EQ(j["name"], "web");
  EXPECT_EQ(backend_->spawns, std::vector<std::string>{id});
  EXPECT_EQ(backend_->alive, 1);
  EXPECT_EQ(row(id).state, index::JailState::running);
  EXPECT_EQ(event_types(id), (std::vector<std::string>{"jail.started"}));
  EXPECT_EQ(d_->jails->live(), 1u);

  // By name too, and in the list.
  EXPECT_EQ(body(call("GET", "/v1/jails/web"))["id"], id);
  json list = body(call("GET", "/v1/jails?state=running&label=a=b"));
  ASSERT_TRUE(list.is_array()) << list;
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
}

TEST_F(ApiService, CreateWithoutStartIsCreatedThenStarts) {
  Response r = call("POST", "/v1/jails", {{"command", {"/bin/true"}}});
  ASSERT_EQ(r.status, 201) << r.body;
  std::string id = body(r)["id"];
  EXPECT_EQ(body(r)["state"], "created");
  EXPECT_TRUE(backend_->spawns.empty());
  r = call("POST", "/v1/jails/" + id + "/start", json::object());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(r)["state"], "running");
  EXPECT_EQ(event_types(id), (std::vector<std::string>{"jail.created", "jail.started"}));
  // Started twice: a conflict, and nothing spawned for it.
  r = call("POST", "/v1/jails/" + id + "/start", json::object());
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(backend_->spawns.size(), 1u);
}

// The exit is on disk before its event is published, and every waiter (a wait, a log follower)
// is answered, after the event, with the recorded exit.
TEST_F(ApiService, ExitIsRecordedBeforeItsEventAndEveryWaiterIsAnswered) {
  std::string id = run_jail({{"command", {"/bin/app"}}});
  backend_->jail(id).print(0, "hello\n");
  loop_.run();

  d_->events.subscribe([&](const index::EventRow& e) {
    if (e.resource != id || e.type != "jail.exited") return true;
    auto r = d_->idx.get_jail(id);
    EXPECT_TRUE(r && r->state == index::JailState::exited && r->exit_code == 3)
        << "the event came before its row";
    order_.push_back("event");
    return true;
  });
  Pending wait = send("GET", "/v1/jails/" + id + "/wait", "", "wait");
  Pending logs = send("GET", "/v1/jails/" + id + "/logs?follow=true", "");
  ASSERT_TRUE(*wait == std::nullopt);
  ASSERT_TRUE(*logs && (*logs)->stream);
  auto follower = std::make_shared<CaptureWriter>();
  (*logs)->stream(follower);
  loop_.run();
  ASSERT_EQ(follower->records.size(), 1u);  // the line printed so far
  EXPECT_EQ(follower->records[0]["data"], "hello\n");
  EXPECT_FALSE(follower->ended());

  backend_->jail(id).end(jail::ExitStatus{.code = 3});
  loop_.run();
  ASSERT_TRUE(*wait) << "the waiter was not answered";
  EXPECT_EQ(order_, (std::vector<std::string>{"event", "wait"}));
  json w = body(**wait);
  EXPECT_EQ(w["state"], "exited");
  EXPECT_EQ(w["exit"]["code"], 3);
  EXPECT_EQ(w["timed_out"], false);
  ASSERT_EQ(follower->records.size(), 2u);
  EXPECT_EQ(follower->records[1]["type"], "end");
  EXPECT_EQ(follower->records[1]["exit"]["code"], 3);
  EXPECT_TRUE(follower->ended());

  EXPECT_EQ(event_types(id), (std::vector<std::string>{"jail.started", "jail.exited"}));
  EXPECT_EQ(backend_->alive, 0);
  EXPECT_EQ(backend_->teardowns, std::vector<std::string>{id});
  EXPECT_EQ(backend_->killed_by_drop, 0);
  EXPECT_EQ(d_->jails->live(), 0u);
  EXPECT_FALSE(fs::exists(root_ / ".ljd" / "run" / (id + ".status")));

  // Later waits answer at once, from the record.
  Response again = call("GET", "/v1/jails/" + id + "/wait");
  EXPECT_EQ(body(again)["exit"]["code"], 3);
}

// Reaped and recorded at once; the teardown is work for the blocking pool, queued after the
// event; the status file (recovery's clue) goes and the waiters are answered once it is done.
TEST_F(ApiService, TeardownIsBlockingWorkBetweenTheEventAndTheAnswers) {
  std::string id = run_jail();
  const fs::path status = root_ / ".ljd" / "run" / (id + ".status");
  ASSERT_TRUE(fs::exists(status));
  d_->events.subscribe([&](const index::EventRow& e) {
    if (e.type == "jail.exited") order_.push_back("event");
    return true;
  });
  backend_->on_teardown = [&](const std::string&) {
    order_.push_back("teardown");
    EXPECT_EQ(row(id).state, index::JailState::exited);
    EXPECT_TRUE(fs::exists(status)) << "gone before the teardown was done";
  };
  Pending wait = send("GET", "/v1/jails/" + id + "/wait", "", "wait");
  const int jobs = loop_.blocking_jobs();
  backend_->jail(id).end(jail::ExitStatus{.code = 0});
  loop_.run();
  EXPECT_EQ(order_, (std::vector<std::string>{"event", "teardown", "wait"}));
  EXPECT_EQ(loop_.blocking_jobs(), jobs + 1);
  EXPECT_FALSE(fs::exists(status));
  EXPECT_EQ(backend_->alive, 0);
}

TEST_F(ApiService, WaitTimesOutWhenTimeSaysSo) {
  std::string id = run_jail();
  Pending wait = send("GET", "/v1/jails/" + id + "/wait?timeout_s=5", "");
  loop_.advance(std::chrono::seconds(4));
  EXPECT_FALSE(*wait);
  loop_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(*wait);
  json w = body(**wait);
  EXPECT_EQ(w["timed_out"], true);
  EXPECT_EQ(w["state"], "running");
}

// Stop sends the signal; a command that ignores it is killed once the timeout passes, and the
// stop is answered with the exit.
TEST_F(ApiService, StopEscalatesToKillAfterItsTimeout) {
  std::string id = run_jail();
  Pending stop =
      send("POST", "/v1/jails/" + id + "/stop", json{{"signal", "TERM"}, {"timeout_s", 5}}.dump());
  EXPECT_FALSE(*stop);
  EXPECT_EQ(row(id).state, index::JailState::stopping);
  ASSERT_EQ(backend_->signals.size(), 1u);
  EXPECT_EQ(backend_->signals[0].second, SIGTERM);

  loop_.advance(std::chrono::seconds(4));
  EXPECT_FALSE(*stop) << "killed before its timeout";
  EXPECT_EQ(backend_->signals.size(), 1u);

  loop_.advance(std::chrono::seconds(2));
  ASSERT_TRUE(*stop);
  EXPECT_EQ((*stop)->status, 200) << (*stop)->body;
  json j = body(**stop);
  EXPECT_EQ(j["state"], "exited");
  EXPECT_EQ(j["exit"]["signal"], SIGKILL);
  ASSERT_EQ(backend_->signals.size(), 2u);
  EXPECT_EQ(backend_->signals[1].second, SIGKILL);
  EXPECT_EQ(event_types(id),
            (std::vector<std::string>{"jail.started", "jail.stopping", "jail.exited"}));
  EXPECT_EQ(backend_->alive, 0);
}

TEST_F(ApiService, StopOfACommandThatObeysNeedsNoKill) {
  backend_->ends_on.insert(SIGTERM);
  std::string id = run_jail();
  Pending stop = send("POST", "/v1/jails/" + id + "/stop", json{{"timeout_s", 5}}.dump());
  ASSERT_TRUE(*stop);
  EXPECT_EQ(body(**stop)["exit"]["signal"], SIGTERM);
  ASSERT_EQ(backend_->signals.size(), 1u);
  loop_.advance(std::chrono::seconds(10));
  EXPECT_EQ(backend_->signals.size(), 1u);  // the kill timer went with the jail
}

TEST_F(ApiService, DeleteRefusesALiveJailUnlessForcedAndRemovesAnEndedOne) {
  std::string id = run_jail();
  Response r = call("DELETE", "/v1/jails/" + id);
  EXPECT_EQ(r.status, 409) << r.body;
  EXPECT_EQ(body(r)["code"], "jail.conflict");
  EXPECT_EQ(backend_->alive, 1);

  Pending forced = send("DELETE", "/v1/jails/" + id + "?force=true", "");
  ASSERT_TRUE(*forced);
  EXPECT_EQ((*forced)->status, 200) << (*forced)->body;
  EXPECT_EQ(body(**forced)["state"], "removed");
  EXPECT_EQ(backend_->alive, 0);
  EXPECT_EQ(body(call("GET", "/v1/jails/" + id))["state"], "removed");  // kept for retention
  EXPECT_EQ(event_types(id),
            (std::vector<std::string>{"jail.started", "jail.exited", "jail.removed"}));

  std::string other = run_jail();
  backend_->jail(other).end(jail::ExitStatus{.code = 0});
  loop_.run();
  r = call("DELETE", "/v1/jails/" + other);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(body(call("GET", "/v1/jails/" + other))["state"], "removed");
  EXPECT_EQ(call("DELETE", "/v1/jails/" + other).status, 404);
  EXPECT_EQ(body(call("GET", "/v1/jails?state=running")), json::array());
  // The exit record outlives the row's removal.
  EXPECT_EQ(body(call("GET", "/v1/jails/" + other + "/wait"))["exit"]["code"], 0);
}

// A spawn that fails leaves nothing: no row (the create is rolled back), no live entry, no Jail
// object, no log or status file; the error carries its stable code.
TEST_F(ApiService, AFailedSpawnUnwinds) {
  backend_->fail_next =
      Error::from_errno(Errc::exec_failed, "jail", "execve /bin/nothing-here", ENOENT);
  Response r = call("POST", "/v1/jails?start=true", {{"command", {"/bin/nothing-here"}}});
  EXPECT_EQ(r.status, 400) << r.body;
  json j = body(r);
  EXPECT_EQ(j["code"], "jail.exec_failed");
  EXPECT_EQ(j["details"]["reason"], "not_found");
  EXPECT_EQ(j["details"]["errno"], "ENOENT");
  EXPECT_EQ(backend_->spawns.size(), 1u);
  EXPECT_EQ(backend_->alive, 0);
  EXPECT_EQ(d_->jails->live(), 0u);
  EXPECT_EQ(body(call("GET", "/v1/jails?state=all")), json::array());
  EXPECT_TRUE(events_.empty());
  EXPECT_TRUE(fs::is_empty(root_ / ".ljd" / "run"));
  EXPECT_TRUE(fs::is_empty(root_ / ".ljd" / "logs"));

  // A created jail whose start fails stays created, and can be started again.
  r = call("POST", "/v1/jails", {{"command", {"/bin/x"}}});
  std::string id = body(r)["id"];
  backend_->fail_next = Error::from_errno(Errc::exec_failed, "jail", "execve /bin/x", EACCES);
  r = call("POST", "/v1/jails/" + id + "/start", json::object());
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(body(r)["details"]["reason"], "not_executable");
  EXPECT_EQ(row(id).state, index::JailState::created);
  EXPECT_EQ(backend_->alive, 0);
  r = call("POST", "/v1/jails/" + id + "/start", json::object());
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->alive, 1);
}

TEST_F(ApiService, BadBodiesAre400WithCodesAndFields) {
  struct Case {
    std::string method, target, body;
    std::string field;  // details.field, empty when none
  };
  const Case cases[] = {
      {"POST", "/v1/jails", "{", ""},
      {"POST", "/v1/jails", "[]", ""},
      {"POST", "/v1/jails", R"({"command":["/bin/true"],"colour":"red"})", "colour"},
      {"POST", "/v1/jails", R"({"command":"/bin/true"})", "command"},
      {"POST", "/v1/jails", R"({"command":["/bin/true"],"script":"x"})", "command"},
      {"POST", "/v1/jails", R"({"command":["/bin/true"],"world":"../etc"})", "world"},
      {"POST", "/v1/jails?start=maybe", R"({"command":["/bin/true"]})", "start"},
      {"GET", "/v1/jails?state=sleeping", "", "state"},
  };
  for (const Case& c : cases) {
    Response r = send(c.method, c.target, c.body)->value_or(Response{});
    EXPECT_EQ(r.status, 400) << c.target << " " << c.body << ": " << r.body;
    json j = body(r);
    EXPECT_TRUE(j.value("code", "").ends_with(".invalid_argument")) << j;
    if (!c.field.empty()) {
      EXPECT_EQ(j["details"].value("field", ""), c.field) << j;
    }
  }
  std::string id = run_jail();
  Response r = call("POST", "/v1/jails/" + id + "/kill", {{"signal", "SIGBOGUS"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(body(r)["details"]["field"], "signal");
  r = call("POST", "/v1/jails/" + id + "/kill", {{"signal", 0}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(backend_->signals.size(), 0u);  // nothing reached the jail
  r = call("POST", "/v1/jails/" + id + "/kill", {{"signal", "hup"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(backend_->signals.back().second, SIGHUP);
  // Nothing was made for any bad request: one jail, one spawn.
  EXPECT_EQ(backend_->spawns.size(), 1u);
  EXPECT_EQ(body(call("GET", "/v1/jails?state=all")).size(), 1u);
  // Unknown routes and methods go through the same table.
  EXPECT_EQ(body(call("GET", "/v1/nope"))["code"], "api.no_route");
  EXPECT_EQ(call("PUT", "/v1/jails").status, 405);
}

}  // namespace
}  // namespace lj::daemon
