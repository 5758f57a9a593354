// Exec sessions (issue 13): create, list, inspect, start (the attach upgrade, an NDJSON stream, or
// detached), resize, wait. docs/attach.md; the service is daemon/execs.*.

#include "daemon/api.hpp"
#include "daemon/attach.hpp"
#include "daemon/execs.hpp"
#include "daemon/wire.hpp"

namespace lj::daemon {

namespace {

std::optional<std::uint32_t> uid_of(const Request& req) {
  return static_cast<std::uint32_t>(req.peer.uid);
}

}  // namespace

void add_exec_routes(Router& router, Daemon& d) {
  router.add("POST", "/v1/jails/{id}/exec", [&d](Request& req, const Params& p, Reply reply) {
    auto doc = parse_body(req.body);
    if (!doc) return reply(field_error(doc.error(), ""));
    std::string field;
    auto r = decode_exec(*doc, &field);
    if (!r) return reply(field_error(r.error(), field));
    auto row = d.execs->create(p.at("id"), std::move(*r), uid_of(req));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(201, exec_json(*row)));
  });

  router.add("GET", "/v1/jails/{id}/exec", [&d](Request&, const Params& p, Reply reply) {
    auto rows = d.execs->list(p.at("id"));
    if (!rows) return reply(error_response(rows.error()));
    nlohmann::json out = nlohmann::json::array();
    for (const auto& r : *rows) out.push_back(exec_json(r));
    reply(json_response(200, out));
  });

  router.add("GET", "/v1/exec/{exec_id}", [&d](Request&, const Params& p, Reply reply) {
    auto row = d.execs->get(p.at("exec_id"));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(200, exec_json(*row)));
  });

  // The exec starts before the answer: a command that cannot run (400 jail.exec_failed) or a
  // jail that ended meanwhile (409) is an HTTP error, never text inside an upgraded stream.
  // What it writes until the client is connected waits in the HeldSink (past 4 MiB, in its pipe).
  router.add("POST", "/v1/exec/{exec_id}/start", [&d](Request& req, const Params& p,
                                                      Reply reply) {
    const std::string id = p.at("exec_id");
    auto detach = query_bool(req, "detach", false);
    if (!detach) return reply(field_error(detach.error(), "detach"));
    if (auto st = d.execs->startable(id); !st) return reply(error_response(st.error()));
    auto held = *detach ? nullptr : std::make_shared<HeldSink>(std::size_t{4} << 20);
    const bool upgrade = req.upgrade_tcp;
    const std::size_t limit = d.cfg.stream_backlog_bytes;
    d.execs->start(id, held, uid_of(req),
                   [held, upgrade, limit, reply = std::move(reply)](Result<Execs::Started> started) {
      if (!started) return reply(error_response(started.error()));
      if (!held) return reply(json_response(200, exec_json(started->row)));
      // The server may drop the callback uncalled (the client went before the answer): the
      // guard's destructor then releases the held output.
      auto guard = std::make_shared<ConnectOrAbandon>(held);
      Response resp;
      if (!upgrade) {
        // curl --unix-socket: the output as NDJSON records, then the end record; no input.
        resp.stream = [guard, limit](std::shared_ptr<StreamWriter> w) {
          guard->connect(std::make_shared<RecordSink>(std::move(w), limit));
        };
        return reply(std::move(resp));
      }
      auto input = std::make_shared<UniqueFd>(std::move(started->input));
      const bool tty = started->tty;
      resp.upgrade = [guard, input, tty, limit](int socket, std::string early) {
        // The client's half close ends a stdin pipe: the pump holds its only write end.
        guard->connect(
            start_attach_pump(socket, std::move(early), std::move(*input), tty, limit, nullptr));
      };
      reply(std::move(resp));
    });
  });

  router.add("POST", "/v1/exec/{exec_id}/resize", [&d](Request& req, const Params& p,
                                                       Reply reply) {
    auto ws = query_window(req, reply);
    if (!ws) return;
    auto st = d.execs->resize(p.at("exec_id"), ws->rows, ws->cols);
    if (!st) return reply(error_response(st.error()));
    reply(json_response(200, {{"rows", ws->rows}, {"cols", ws->cols}}));
  });

  router.add("GET", "/v1/exec/{exec_id}/wait", [&d](Request& req, const Params& p, Reply reply) {
    auto t = query_seconds(req, "timeout_s");
    if (!t) return reply(field_error(t.error(), "timeout_s"));
    std::optional<std::chrono::milliseconds> timeout;
    if (*t) timeout = std::chrono::milliseconds(static_cast<std::int64_t>(**t * 1000));
    d.execs->wait(p.at("exec_id"), timeout, [reply = std::move(reply)](auto row) {
      if (!row) return reply(error_response(row.error()));
      reply(json_response(200, exec_json(*row)));
    });
  });
}

}  // namespace lj::daemon
