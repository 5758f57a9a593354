// /v1/images and /v1/image_jobs: JSON <-> Images.
#include "daemon/api.hpp"
#include "daemon/images.hpp"
#include "daemon/json_fields.hpp"

namespace lj::daemon {

using nlohmann::json;

namespace {

Uid uid_of(const Request& req) {
  return static_cast<std::uint32_t>(req.peer.uid);
}

void reply_result(const Reply& reply, const Result<json>& r, int status = 200) {
  if (!r) return reply(error_response(r.error()));
  reply(json_response(status, *r));
}

JsonDone reply_202(Reply reply) {
  return [reply = std::move(reply)](Result<json> r) { reply_result(reply, r, 202); };
}

std::set<std::string> to_set(std::optional<std::vector<std::string>> v) {
  return v ? std::set<std::string>(v->begin(), v->end()) : std::set<std::string>();
}

}  // namespace

void add_image_routes(Router& router, Daemon& d) {
  Images& img = *d.images;

  router.add("GET", "/v1/images",
             [&img](Request&, const Params&, Reply reply) { reply_result(reply, img.list()); });
  // The fixed names first: {ref*} below would take them.
  router.add("POST", "/v1/images/pull", [&img](Request& req, const Params&, Reply reply) {
    PullRequest p;
    if (!decode_small(req, reply, [&](Fields& f) {
          p.reference = f.string("reference");
          p.insecure = to_set(f.opt_strings("insecure"));
          p.allow_devices = f.opt_bool("allow_devices").value_or(false);
        })) {
      return;
    }
    img.pull(std::move(p), uid_of(req), reply_202(std::move(reply)));
  });
  router.add("POST", "/v1/images/load", [&img](Request& req, const Params&, Reply reply) {
    LoadRequest l;
    if (!decode_small(req, reply, [&](Fields& f) {
          l.source = f.string("source");
          l.name = f.opt_string("name");
          l.allow_devices = f.opt_bool("allow_devices").value_or(false);
        })) {
      return;
    }
    img.load(std::move(l), uid_of(req), reply_202(std::move(reply)));
  });
  router.add("POST", "/v1/images/push", [&img](Request& req, const Params&, Reply reply) {
    PushRequest p;
    if (!decode_small(req, reply, [&](Fields& f) {
          p.reference = f.string("reference");
          p.destination = f.opt_string("destination").value_or("");
          p.insecure = to_set(f.opt_strings("insecure"));
        })) {
      return;
    }
    img.push(std::move(p), uid_of(req), reply_202(std::move(reply)));
  });
  router.add("POST", "/v1/images/export", [&img](Request& req, const Params&, Reply reply) {
    ExportOverlayRequest e;
    if (!decode_small(req, reply, [&](Fields& f) {
          e.overlay = f.string("overlay");
          e.version = f.opt_string("version").value_or("");
          e.reference = f.string("reference");
          e.include_base = f.opt_bool("include_base").value_or(true);
        })) {
      return;
    }
    img.export_overlay(std::move(e), uid_of(req), reply_202(std::move(reply)));
  });
  router.add("POST", "/v1/images/save", [&img](Request& req, const Params&, Reply reply) {
    SaveRequest sr;
    if (!decode_small(req, reply, [&](Fields& f) {
          sr.reference = f.string("reference");
          sr.destination = f.string("destination");
        })) {
      return;
    }
    img.save(std::move(sr), uid_of(req), reply_202(std::move(reply)));
  });
  router.add("POST", "/v1/images/login", [&img](Request& req, const Params&, Reply reply) {
    LoginRequest l;
    if (!decode_small(req, reply, [&](Fields& f) {
          l.registry = f.string("registry");
          l.username = f.string("username");
          l.password = f.string("password");
          l.insecure = to_set(f.opt_strings("insecure"));
        })) {
      return;
    }
    img.login(std::move(l), uid_of(req),
              [reply = std::move(reply)](Result<json> r) { reply_result(reply, r); });
  });
  router.add("POST", "/v1/images/logout", [&img](Request& req, const Params&, Reply reply) {
    std::string registry;
    if (!decode_small(req, reply, [&](Fields& f) { registry = f.string("registry"); })) return;
    reply_result(reply, img.logout(registry, uid_of(req)));
  });
  router.add("POST", "/v1/images/tag", [&img](Request& req, const Params&, Reply reply) {
    std::string source, target;
    if (!decode_small(req, reply, [&](Fields& f) {
          source = f.string("source");
          target = f.string("target");
        })) {
      return;
    }
    reply_result(reply, img.tag(source, target, uid_of(req)));
  });
  router.add("POST", "/v1/images/prune", [&img](Request& req, const Params&, Reply reply) {
    reply_result(reply, img.prune(uid_of(req)));
  });
  router.add("GET", "/v1/images/{ref*}", [&img](Request&, const Params& p, Reply reply) {
    reply_result(reply, img.inspect(p.at("ref")));
  });
  router.add("DELETE", "/v1/images/{ref*}", [&img](Request& req, const Params& p, Reply reply) {
    reply_result(reply, img.remove(p.at("ref"), uid_of(req)));
  });

  router.add("GET", "/v1/image_jobs",
             [&img](Request&, const Params&, Reply reply) { reply_result(reply, img.jobs()); });
  router.add("GET", "/v1/image_jobs/{id}", [&img](Request&, const Params& p, Reply reply) {
    reply_result(reply, img.job(p.at("id")));
  });
  router.add("GET", "/v1/image_jobs/{id}/wait", [&img](Request& req, const Params& p, Reply reply) {
    auto t = query_seconds(req, "timeout_s");
    if (!t) return reply(field_error(t.error(), "timeout_s"));
    std::optional<std::chrono::milliseconds> timeout;
    if (*t) timeout = std::chrono::milliseconds(static_cast<std::int64_t>(**t * 1000));
    img.wait_job(p.at("id"), timeout, [reply = std::move(reply)](Result<json> r) {
      if (!r) return reply(error_response(r.error()));
      reply(json_response(200, {{"job", (*r)["resource"]}, {"timed_out", (*r)["timed_out"]}}));
    });
  });
}

}  // namespace lj::daemon
