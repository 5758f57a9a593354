#include "daemon/api.hpp"

#include <unistd.h>

#include <charconv>
#include <cmath>
#include <limits>

#include "common/log.hpp"
#include "daemon/jails.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/wire.hpp"

namespace lj::daemon {

using nlohmann::json;

Api::Api(Daemon& d) : d_(d) {
  add_system_routes(router_, d);
  add_jail_routes(router_, d);
  add_event_routes(router_, d);
  add_resource_routes(router_, d);
  add_network_routes(router_, d);
  add_attach_routes(router_, d);
  add_image_routes(router_, d);
  add_exec_routes(router_, d);
}

void Api::handle(Request& req, Reply reply) {
  if (!d_.ready && req.path != "/v1/_ping") {
    reply(error_response(Error(Errc::busy, "api", "ljd is reconciling its state; retry")));
    return;
  }
  if (req.method != "GET") {
    // The audit trail: every change, with who asked for it (the peer's credentials).
    reply = [reply = std::move(reply), id = req.request_id, uid = req.peer.uid, pid = req.peer.pid,
             method = req.method, target = req.target](Response r) {
      lj::log("api")->info("req={} uid={} pid={} {} {} status={}", id, uid, pid, method, target,
                           r.status);
      reply(std::move(r));
    };
  }
  router_.dispatch(req, std::move(reply));
}

Result<bool> query_bool(const Request& req, std::string_view key, bool dflt) {
  const std::string* v = req.param(key);
  if (!v) return dflt;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  return fail(Errc::invalid_argument, "api",
              "query parameter " + std::string(key) + ": expected true or false, got `" + *v + "`");
}

Result<std::int64_t> query_int(const Request& req, std::string_view key, std::int64_t dflt) {
  const std::string* v = req.param(key);
  if (!v) return dflt;
  std::int64_t n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size()) {
    return fail(Errc::invalid_argument, "api",
                "query parameter " + std::string(key) + ": expected an integer, got `" + *v + "`");
  }
  return n;
}

std::optional<WindowSize> query_window(const Request& req, const Reply& reply) {
  WindowSize ws;
  for (auto [key, out] : {std::pair{"h", &ws.rows}, std::pair{"w", &ws.cols}}) {
    auto v = query_int(req, key, -1);
    if (!v) {
      reply(field_error(v.error(), key));
      return std::nullopt;
    }
    if (*v < 1 || *v > std::numeric_limits<unsigned short>::max()) {
      reply(field_error(
          Error(Errc::invalid_argument, "api", std::string(key) + " must be 1..65535"), key));
      return std::nullopt;
    }
    *out = static_cast<unsigned short>(*v);
  }
  return ws;
}

Result<std::optional<double>> query_seconds(const Request& req, std::string_view key) {
  const std::string* v = req.param(key);
  if (!v) return std::optional<double>();
  char* end = nullptr;
  double d = std::strtod(v->c_str(), &end);
  if (v->empty() || end != v->c_str() + v->size() || !std::isfinite(d) || d < 0 ||
      d > kMaxSeconds) {
    return fail(
        Errc::invalid_argument, "api",
        "query parameter " + std::string(key) + ": expected seconds >= 0, got `" + *v + "`");
  }
  return std::optional<double>(d);
}

Response field_error(const Error& err, const std::string& field) {
  json details = json::object();
  if (!field.empty()) details["field"] = field;
  return error_response(err, details);
}

tl::expected<LogQuery, Response> log_query(const Request& req) {
  auto follow = query_bool(req, "follow", false);
  if (!follow) return tl::unexpected(field_error(follow.error(), "follow"));
  auto after = query_int(req, "after", 0);
  if (!after) return tl::unexpected(field_error(after.error(), "after"));
  if (*after < 0) {
    return tl::unexpected(field_error(
        Error(Errc::invalid_argument, "api", "query parameter after: must not be negative"),
        "after"));
  }
  return LogQuery{*follow, static_cast<std::uint64_t>(*after)};
}

// ---- system ---------------------------------------------------------------------------------

namespace {
json recovery_json(const RecoveryReport& r) {
  return {{"took_ms", r.took_ms},
          {"jails",
           {{"adopted", r.adopted},
            {"ended", r.ended},
            {"lost", r.lost},
            {"discarded", r.discarded},
            {"reset", r.reset},
            {"unknown_released", r.unknown_released}}},
          {"builds", {{"failed", r.builds_failed}, {"published", r.builds_published}}},
          {"imports", {{"failed", r.imports_failed}, {"ready", r.imports_ready}}},
          {"staging_removed", r.staging_removed},
          {"overlay_rows_removed", r.overlay_rows_removed}};
}
}  // namespace

void add_system_routes(Router& router, Daemon& d) {
  router.add("GET", "/v1/_ping", [](Request&, const Params&, Reply reply) {
    Response resp;
    resp.body = R"({"ok":true})";
    reply(std::move(resp));
  });
  router.add("GET", "/v1/info", [&d](Request&, const Params&, Reply reply) {
    auto seq = d.idx.last_event_seq();
    json features = json::array();
    if (d.backend) {
      for (auto& f : d.backend->features()) features.push_back(f);
    }
    json body = {
        {"version", LJD_VERSION},
        {"api_version", "v1"},
        {"backend", d.backend ? json(std::string(d.backend->name())) : json()},
        {"features", features},
        {"extensions",
         json::array({"jails", "events", "logs", "worlds", "overlays", "builds", "networks"})},
        {"event_seq", seq ? *seq : 0},
        {"root", d.cfg.root.string()},
        {"socket", d.cfg.socket.string()},
        {"pid", ::getpid()},
        {"jails_live", d.jails->live()},
        {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::steady_clock::now() - d.started)
                         .count()},
        {"index",
         {{"path", d.idx.path()},
          {"epoch", d.idx.epoch()},
          {"epoch_changed", d.idx.epoch_changed()},
          {"synchronous", d.cfg.index_synchronous_full ? "full" : "normal"},
          {"integrity_check", d.recovery.integrity},
          {"file", d.index_file.state},
          {"restores", d.index_file.restores},
          {"last_restore",
           d.index_file.last_restore.empty() ? json() : json(d.index_file.last_restore)}}},
        {"recovery", recovery_json(d.recovery)},
        {"exit_records",
         {{"pending", d.exit_records.pending},
          {"failed_writes", d.exit_records.failed_writes},
          {"last_error", d.exit_records.last_error.empty()
                             ? json()
                             : json(d.exit_records.last_error)}}},
    };
    reply(json_response(200, body));
  });
}

// ---- events ---------------------------------------------------------------------------------

namespace {

// One GET /v1/events stream: catch up from the index in batches, then follow the bus. The switch
// happens within one loop turn, so no event can fall between the two.
struct EventStream : std::enable_shared_from_this<EventStream> {
  EventStream(Daemon& dd, std::shared_ptr<StreamWriter> ww, std::int64_t since, bool f)
      : d(dd), w(std::move(ww)), next(since), follow(f) {}
  Daemon& d;
  std::shared_ptr<StreamWriter> w;
  std::int64_t next;  // the last seq sent
  bool follow;
  bool first = true;
  std::unique_ptr<Watch> pace;

  void pump() {
    if (w->closed()) return;
    constexpr std::size_t kBatch = 500;
    auto batch = d.idx.events_since(next, kBatch);
    if (!batch) {
      w->write(
          json{{"type", "error"}, {"code", batch.error().code()}, {"message", batch.error().what()}}
              .dump());
      w->end();
      return;
    }
    if (first && batch->pruned) {
      // Told, not hidden: events between `since` and first_seq were removed by retention.
      w->write(json{{"type", "pruned"}, {"since", next}, {"first_seq", batch->first_seq}}.dump());
    }
    first = false;
    for (const auto& e : batch->events) {
      w->write(event_line(e));
      next = e.seq;
    }
    if (batch->events.size() == kBatch) {
      auto self = shared_from_this();
      if (w->backlog() > d.cfg.stream_backlog_bytes / 2) {
        pace = d.loop.after(std::chrono::milliseconds(20), [self] { self->pump(); });
      } else {
        d.loop.post([self] { self->pump(); });
      }
      return;
    }
    if (!follow) {
      w->end();
      return;
    }
    auto self = shared_from_this();
    d.events.subscribe([self](const index::EventRow& e) { return self->live(e); });
  }

  bool live(const index::EventRow& e) {
    if (w->closed()) return false;
    if (e.seq <= next) return true;
    w->write(event_line(e));
    next = e.seq;
    if (w->backlog() > d.cfg.stream_backlog_bytes) {
      w->write(json{{"type", "lagged"}, {"seq", next}, {"resume_since", next}}.dump());
      w->end();
      return false;
    }
    return true;
  }
};

}  // namespace

void add_event_routes(Router& router, Daemon& d) {
  router.add("GET", "/v1/events", [&d](Request& req, const Params&, Reply reply) {
    auto since = query_int(req, "since", -1);
    auto follow = query_bool(req, "follow", false);
    if (!since) return reply(field_error(since.error(), "since"));
    if (!follow) return reply(field_error(follow.error(), "follow"));
    std::int64_t from = *since;
    if (from < 0) {
      // No since: the current position (a follower sees what happens from now on).
      auto seq = d.idx.last_event_seq();
      from = *follow && seq ? *seq : 0;
    }
    bool f = *follow;
    Response resp;
    resp.stream = [&d, from, f](std::shared_ptr<StreamWriter> w) {
      std::make_shared<EventStream>(d, std::move(w), from, f)->pump();
    };
    reply(std::move(resp));
  });
}

}  // namespace lj::daemon
