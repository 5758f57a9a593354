// Interactive jails: attach (the HTTP upgrade of Docker's hijack, or a plain output stream) and
// resize. docs/attach.md says why an upgrade rather than a WebSocket.

#include "daemon/api.hpp"
#include "daemon/attach.hpp"
#include "daemon/jails.hpp"
#include "daemon/wire.hpp"

namespace lj::daemon {

void add_attach_routes(Router& router, Daemon& d) {
  router.add("POST", "/v1/jails/{id}/attach", [&d](Request& req, const Params& p, Reply reply) {
    auto row = d.jails->get(p.at("id"));
    if (!row) return reply(error_response(row.error()));
    if (row->state != index::JailState::running)
      return reply(error_response(Error(Errc::conflict, "jail",
                                        "jail " + row->id + " is " +
                                            std::string(index::to_string(row->state)) +
                                            ", not running")));
    auto logs = query_bool(req, "logs", false);
    if (!logs) return reply(field_error(logs.error(), "logs"));
    const bool from_start = *logs;
    Response resp;
    if (!req.upgrade_tcp) {
      // Not upgraded (curl --unix-socket): the output from now on as NDJSON, then the end record
      // with the exit; no input.
      resp.stream = [&d, id = row->id, from_start](std::shared_ptr<StreamWriter> w) {
        if (auto a = d.jails->attach(id, w, from_start); !a) {
          w->write(R"({"type":"end","state":"unknown","reason":)" +
                   nlohmann::json(a.error().what()).dump() + "}");
          w->end();
        }
      };
      return reply(std::move(resp));
    }
    // Upgraded: 101, then the raw duplex stream on the socket (attach.hpp). Attached now, before
    // the answer: the output from here on waits in a HeldSink until the pump has the socket, and
    // a jail that ends in between still gives its output and its end (it used to be refused as
    // text inside the raw stream, and its output lost).
    struct Stdio {
      UniqueFd input;
      bool tty = false;
      Replay replay;
    };
    auto stdio = std::make_shared<Stdio>();
    auto held = std::make_shared<HeldSink>(d.cfg.stream_backlog_bytes);
    auto a = d.jails->attach_stdio(row->id, from_start, [&](UniqueFd input, bool tty, Replay r) {
      *stdio = Stdio{std::move(input), tty, std::move(r)};
      return held;
    });
    if (!a) return reply(error_response(a.error()));
    // A callback the server drops uncalled (the client went before the 101) releases the held
    // output and the input's duplicate.
    auto guard = std::make_shared<ConnectOrAbandon>(held);
    resp.upgrade = [&d, id = row->id, guard, stdio](int socket, std::string early) {
      Loop* loop = &d.loop;
      Jails* jails = d.jails.get();
      guard->connect(start_attach_pump(
          socket, std::move(early), std::move(stdio->input), stdio->tty,
          d.cfg.stream_backlog_bytes,
          [loop, jails, id] { loop->post([jails, id] { jails->close_stdin(id); }); },
          std::move(stdio->replay)));
    };
    reply(std::move(resp));
  });

  router.add("POST", "/v1/jails/{id}/resize", [&d](Request& req, const Params& p, Reply reply) {
    auto ws = query_window(req, reply);
    if (!ws) return;
    auto st = d.jails->resize(p.at("id"), ws->rows, ws->cols);
    if (!st) return reply(error_response(st.error()));
    reply(json_response(200, {{"rows", ws->rows}, {"cols", ws->cols}}));
  });
}

}  // namespace lj::daemon
