// /v1/worlds, /v1/overlays, /v1/builds: JSON <-> Resources.
#include "daemon/api.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/resources.hpp"

namespace lj::daemon {

using nlohmann::json;

namespace {

Uid uid_of(const Request& req) {
  return static_cast<std::uint32_t>(req.peer.uid);
}

JsonDone reply_json(Reply reply, int status) {
  return [reply = std::move(reply), status](Result<json> r) {
    if (!r) return reply(error_response(r.error()));
    reply(json_response(status, *r));
  };
}

void reply_result(const Reply& reply, const Result<json>& r, int status = 200) {
  if (!r) return reply(error_response(r.error()));
  reply(json_response(status, *r));
}

// /wait answers {"<kind>": resource, "timed_out": bool}.
JsonDone reply_wait(Reply reply, const char* kind) {
  return [reply = std::move(reply), kind](Result<json> r) {
    if (!r) return reply(error_response(r.error()));
    reply(json_response(200, {{kind, (*r)["resource"]}, {"timed_out", (*r)["timed_out"]}}));
  };
}

bool timeout_of(const Request& req, const Reply& reply,
                std::optional<std::chrono::milliseconds>* out) {
  auto t = query_seconds(req, "timeout_s");
  if (!t) {
    reply(field_error(t.error(), "timeout_s"));
    return false;
  }
  if (*t) *out = std::chrono::milliseconds(static_cast<std::int64_t>(**t * 1000));
  return true;
}

// "ns/name" or "ns/name/version": name components start with a letter, versions with a digit.
void split_ref(const std::string& ref, std::string* name, std::string* version) {
  auto slash = ref.rfind('/');
  if (slash != std::string::npos && slash + 1 < ref.size() && std::isdigit(ref[slash + 1])) {
    *name = ref.substr(0, slash);
    *version = ref.substr(slash + 1);
  } else {
    *name = ref;
    version->clear();
  }
}

}  // namespace

void add_resource_routes(Router& router, Daemon& d) {
  Resources& res = *d.resources;

  // ---- worlds ----
  router.add("POST", "/v1/worlds", [&res](Request& req, const Params&, Reply reply) {
    auto doc = parse_body(req.body);
    if (!doc) return reply(field_error(doc.error(), ""));
    Fields f(*doc);
    std::string name = f.string("name");
    std::string source = f.string("source");
    if (auto st = f.finish(); !st) {
      return reply(field_error(st.error(), f.error() ? f.error()->field : ""));
    }
    res.import_world(name, source, uid_of(req), reply_json(std::move(reply), 202));
  });
  router.add("GET", "/v1/worlds",
             [&res](Request&, const Params&, Reply reply) { reply_result(reply, res.worlds()); });
  router.add("GET", "/v1/worlds/{name}", [&res](Request&, const Params& p, Reply reply) {
    reply_result(reply, res.world(p.at("name")));
  });
  router.add("GET", "/v1/worlds/{name}/wait", [&res](Request& req, const Params& p, Reply reply) {
    std::optional<std::chrono::milliseconds> timeout;
    if (!timeout_of(req, reply, &timeout)) return;
    res.wait_world(p.at("name"), timeout, reply_wait(std::move(reply), "world"));
  });
  router.add("DELETE", "/v1/worlds/{name}", [&res](Request& req, const Params& p, Reply reply) {
    reply_result(reply, res.remove_world(p.at("name"), uid_of(req)));
  });

  // ---- overlays ----
  router.add("GET", "/v1/overlays", [&res](Request& req, const Params&, Reply reply) {
    const std::string* name = req.param("name");
    reply_result(reply, res.overlays(name ? *name : ""));
  });
  router.add("GET", "/v1/overlays/{ref*}", [&res](Request&, const Params& p, Reply reply) {
    std::string name, version;
    split_ref(p.at("ref"), &name, &version);
    reply_result(reply, version.empty() ? res.overlays(name) : res.overlay(name, version));
  });
  router.add("DELETE", "/v1/overlays/{ref*}", [&res](Request& req, const Params& p, Reply reply) {
    std::string name, version;
    split_ref(p.at("ref"), &name, &version);
    if (version.empty()) {
      return reply(
          error_response(Error(Errc::invalid_argument, "overlay",
                               "name the version to delete: /v1/overlays/" + name + "/<version>")));
    }
    reply_result(reply, res.remove_overlay(name, version, uid_of(req)));
  });

  // ---- builds ----
  router.add("POST", "/v1/builds", [&res](Request& req, const Params&, Reply reply) {
    auto doc = parse_body(req.body);
    if (!doc) return reply(field_error(doc.error(), ""));
    std::string field;
    auto b = decode_build(*doc, &field);
    if (!b) return reply(field_error(b.error(), field));
    res.submit_build(std::move(*b), uid_of(req), reply_json(std::move(reply), 202));
  });
  router.add("GET", "/v1/builds", [&res](Request& req, const Params&, Reply reply) {
    std::optional<index::BuildState> state;
    if (const std::string* s = req.param("state")) {
      state = index::build_state_from(*s);
      if (!state) {
        return reply(field_error(Error(Errc::invalid_argument, "api",
                                       "query parameter state: unknown state `" + *s + "`"),
                                 "state"));
      }
    }
    reply_result(reply, res.builds(state));
  });
  router.add("GET", "/v1/builds/{id}", [&res](Request&, const Params& p, Reply reply) {
    reply_result(reply, res.build(p.at("id")));
  });
  router.add("GET", "/v1/builds/{id}/wait", [&res](Request& req, const Params& p, Reply reply) {
    std::optional<std::chrono::milliseconds> timeout;
    if (!timeout_of(req, reply, &timeout)) return;
    res.wait_build(p.at("id"), timeout, reply_wait(std::move(reply), "build"));
  });
  router.add("GET", "/v1/builds/{id}/logs", [&res](Request& req, const Params& p, Reply reply) {
    auto q = log_query(req);
    if (!q) return reply(std::move(q).error());
    std::string id = p.at("id");
    if (auto cur = res.build(id); !cur) return reply(error_response(cur.error()));
    Response resp;
    resp.stream = [&res, id, fl = q->follow, a = q->after](std::shared_ptr<StreamWriter> w) {
      if (auto st = res.build_logs(id, a, fl, w); !st) {
        w->write(
            json{{"type", "error"}, {"code", st.error().code()}, {"message", st.error().what()}}
                .dump());
        w->end();
      }
    };
    reply(std::move(resp));
  });
}

}  // namespace lj::daemon
