// The HTTP request path: raw bytes through the server's own request parser and limits
// (RequestReader via parse_requests: what a connection feeds its bytes to), then every request
// through the API (Api::handle) of a real daemon state: an in-memory index, an empty root, no jail
// backend (so nothing is spawned), and a loop that runs posted work inline and never runs blocking
// work. Checked: every answer, and the answer that closes a connection, is a status in 200..599
// with a JSON body; an error (>= 400) carries "code" and "message".
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <filesystem>
#include <string>

#include "check.hpp"
#include "common/log.hpp"
#include "daemon/api.hpp"
#include "daemon/core.hpp"
#include "daemon/http_parse.hpp"

using namespace lj::daemon;

namespace {

class NoWatch final : public Watch {
 public:
  void cancel() override {}
};

class NoReadWatch final : public ReadWatch {
 public:
  void cancel() override {}
  void pause() override {}
  void resume() override {}
};

// Posted work runs after the request, on this thread; timers, fd watches and blocking work never
// run (no backend: nothing would come back from them anyway).
class InlineLoop final : public Loop {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void blocking(std::function<void()>) override {}
  void long_blocking(std::function<void()>) override {}
  std::unique_ptr<Watch> at(std::chrono::steady_clock::time_point, std::function<void()>) override {
    return std::make_unique<NoWatch>();
  }
  std::unique_ptr<Watch> when_readable(int, std::function<void()>) override {
    return std::make_unique<NoWatch>();
  }
  std::unique_ptr<ReadWatch> read_until_eof(lj::UniqueFd, std::function<void(std::string_view)>,
                                            std::function<void()>) override {
    return std::make_unique<NoReadWatch>();
  }
  void drain(int max_turns) {
    for (int i = 0; i < max_turns && !queue_.empty(); ++i) {
      auto fn = std::move(queue_.front());
      queue_.pop_front();
      fn();
    }
    queue_.clear();
  }

 private:
  std::deque<std::function<void()>> queue_;
};

// A stream's consumer that reads everything and then hangs up.
class SinkWriter final : public StreamWriter {
 public:
  bool write(std::string record) override {
    if (closed_) return false;
    auto j = nlohmann::json::parse(record, nullptr, false);
    LJ_FUZZ_CHECK(!j.is_discarded(), "stream record is not JSON: %s", record.c_str());
    return true;
  }
  void end() override { closed_ = true; }
  bool closed() const override { return closed_; }
  std::size_t backlog() const override { return 0; }
  void hang_up() { closed_ = true; }

 private:
  bool closed_ = false;
};

void check_answer(const Response& r) {
  LJ_FUZZ_CHECK(r.status >= 200 && r.status <= 599, "status %d", r.status);
  if (r.stream) return;
  if (r.body.empty()) {
    LJ_FUZZ_CHECK(r.status < 400, "error %d without a body", r.status);
    return;
  }
  auto j = nlohmann::json::parse(r.body, nullptr, false);
  LJ_FUZZ_CHECK(!j.is_discarded(), "body is not JSON: %s", r.body.c_str());
  if (r.status >= 400) {
    LJ_FUZZ_CHECK(j.is_object() && j.contains("code") && j.contains("message") &&
                      j["code"].is_string() && j["message"].is_string(),
                  "error body without code and message: %s", r.body.c_str());
  }
}

struct World {
  World() {
    lj::configure_logging("off");
    char tmpl[] = "/tmp/ljd-fuzz-http.XXXXXX";
    root = ::mkdtemp(tmpl);
    std::filesystem::create_directories(root / "worlds");
    Config cfg;
    cfg.root = root;
    cfg.socket = root / "ljd.sock";
    auto idx = lj::index::Index::open(":memory:");
    LJ_FUZZ_CHECK(idx.has_value(), "index: %s", idx.error().what().c_str());
    d = std::make_unique<Daemon>(cfg, loop, nullptr, std::move(*idx));
    d->ready = true;
    api = std::make_unique<Api>(*d);
  }
  ~World() {
    api.reset();
    d.reset();
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
  std::filesystem::path root;
  InlineLoop loop;
  std::unique_ptr<Daemon> d;
  std::unique_ptr<Api> api;
};

World& world() {
  static World w;
  return w;
}

void serve(std::string_view bytes, const HttpLimits& opts) {
  World& w = world();
  auto parsed = parse_requests(bytes, opts);
  if (parsed.error) check_answer(*parsed.error);
  for (Request& req : parsed.requests) {
    req.peer.allowed = true;
    req.peer.uid = 0;
    req.request_id = "r-fuzz";
    // A reply may come later (a wait): it must not reach into this frame.
    auto writers = std::make_shared<std::vector<std::shared_ptr<SinkWriter>>>();
    w.api->handle(req, [writers](Response r) {
      check_answer(r);
      if (r.stream) {
        auto sink = std::make_shared<SinkWriter>();
        writers->push_back(sink);
        r.stream(sink);
      }
    });
    w.loop.drain(64);
    for (auto& s : *writers) s->hang_up();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view bytes(reinterpret_cast<const char*>(data), size);
  HttpLimits opts;  // ljd's defaults
  serve(bytes, opts);
  // And with small limits, so that 413 and 431 are reached by short inputs too.
  opts.max_header_bytes = 256;
  opts.max_body_bytes = 64;
  auto small = parse_requests(bytes, opts);
  if (small.error) check_answer(*small.error);
  return 0;
}
