// /v1/jails: JSON <-> Jails. Every body goes through the strict decoder (json_fields.hpp).
#include <algorithm>
#include <csignal>
#include <cstring>

#include "common/signals.hpp"
#include "daemon/api.hpp"
#include "daemon/images.hpp"
#include "daemon/jails.hpp"
#include "daemon/networks.hpp"
#include "daemon/wire.hpp"

namespace lj::daemon {

using nlohmann::json;

namespace {

Uid uid_of(const Request& req) {
  return static_cast<std::uint32_t>(req.peer.uid);
}

// "signal": 15, or a name of the shared table: "SIGTERM", "TERM", "15" (common/signals.hpp).
int read_signal(Fields& f, int dflt) {
  const json* v = f.opt_raw("signal");
  if (!v) return dflt;
  if (v->is_number_integer()) {
    auto n = v->get<std::int64_t>();
    if (n > 0 && n < 65) return static_cast<int>(n);
    f.reject("signal", "not a signal number");
    return dflt;
  }
  if (v->is_string()) {
    if (auto s = lj::parse_signal(v->get<std::string>())) return *s;
    f.reject("signal", "unknown signal name `" + v->get<std::string>() + "`");
    return dflt;
  }
  f.reject("signal", "expected a signal number or name");
  return dflt;
}

// A jail with the addresses it holds (its leases; none once it ended).
json jail_with_networks(Daemon& d, const index::JailRow& r) {
  json j = jail_json(r);
  j["networks"] = d.networks->jail_addresses(r.id);
  return j;
}

// What a jail on an overlay is weighed with besides its request (Images::chain_policy_facts);
// nothing on a world.
Result<ImagePolicyFacts> chain_facts(Daemon& d, const CreateJail& req) {
  if (!req.overlay) return ImagePolicyFacts{};
  auto chain = LJ_TRY(d.jails->resolve_chain(req));
  return d.images->chain_policy_facts(chain);
}

// The host policy (policy.hpp) on a create: everything the jail would be granted (the request's
// privileges, what its image or overlay chain declares, its listening ports: ExposedPorts and
// published ports) against ljd.conf's policy. Refused: 403 policy.permission_denied listing each
// item and the rule that refused it, unless a root caller gave policy_override. On success
// req.privileges is the whole grant and req.policy_override says whether it went beyond the
// policy: both are stored in the jail's spec.
std::optional<Response> decide_privileges(Daemon& d, CreateJail& req, const Peer& peer) {
  Privileges wanted = req.privileges;
  std::optional<std::vector<std::string>> names;
  if (!req.image.empty()) {
    auto id = d.images->expand_id(req.image);  // an image ID as `ljctl images` shows it
    if (!id) return field_error(id.error(), "image");
    req.image = *id;
    auto facts = d.images->policy_facts(req.image);
    if (!facts) return field_error(facts.error(), "image");
    wanted.merge(facts->declared);
    names = std::move(facts->names);
  } else if (req.overlay) {
    auto facts = chain_facts(d, req);
    if (!facts) return field_error(facts.error(), "overlay");
    wanted.merge(facts->declared);
    if (!facts->names.empty()) names = std::move(facts->names);
  }
  for (const auto& p : req.net.ports) {
    auto st = add_privilege(
        "port=" + std::to_string(p.jail_port) + "/" + std::string(net::proto_name(p.proto)), &wanted);
    if (!st) return field_error(st.error(), "ports");
  }
  auto refused = evaluate(d.cfg.policy, wanted, names ? &*names : nullptr);
  const bool override = req.policy_override;
  req.privileges = std::move(wanted);
  req.policy_override = false;
  if (refused.empty()) return std::nullopt;
  if (!override || peer.uid != 0) {
    Error err = refusal_error(refused);
    if (override) err.context("policy_override needs a root caller");
    return error_response(err, refusal_details(refused));
  }
  req.policy_override = true;  // recorded: this grant went beyond the host's policy
  return std::nullopt;
}

// The host policy again when a created jail starts: ljd.conf may have changed since its create
// (ljd restarted with another policy). The grant recorded in its spec must still be permitted,
// unless a root caller's override was recorded then (that decision was explicit, and stands).
// Refused: the 403 of a create, naming the items; the jail stays created. A jail on an overlay
// resolves its constraint again at start: a newer version that declares what the recorded grant
// lacks is a 409 (the grant is decided at create; create the jail again).
std::optional<Response> recheck_privileges(Daemon& d, const std::string& id) {
  auto row = d.jails->get(id);
  if (!row || row->state != index::JailState::created) return std::nullopt;  // start says why
  auto doc = json::parse(row->spec, nullptr, false);
  auto req = decode_create(doc, d.cfg, nullptr);
  if (!req) return std::nullopt;
  std::optional<std::vector<std::string>> names;
  if (!req->image.empty()) {
    auto facts = d.images->policy_facts(req->image);
    if (!facts) return error_response(facts.error().context("starting jail " + row->id));
    names = std::move(facts->names);
  } else if (req->overlay) {
    auto facts = chain_facts(d, *req);
    if (!facts) return error_response(facts.error().context("starting jail " + row->id));
    std::string missing;
    const auto granted = req->privileges.items();  // sorted
    for (const auto& item : facts->declared.items()) {
      if (!std::binary_search(granted.begin(), granted.end(), item))
        missing += (missing.empty() ? "" : ", ") + item;
    }
    if (!missing.empty()) {
      return error_response(Error(Errc::conflict, "policy",
                                  "starting jail " + row->id + ": its overlay " +
                                      req->overlay->name + " now declares " + missing +
                                      ", which the grant decided at its create lacks; create "
                                      "the jail again"));
    }
    if (!facts->names.empty()) names = std::move(facts->names);
  }
  if (req->policy_override) return std::nullopt;
  auto refused = evaluate(d.cfg.policy, req->privileges, names ? &*names : nullptr);
  if (refused.empty()) return std::nullopt;
  Error err = refusal_error(refused);
  err.context("starting jail " + row->id + ": the host policy no longer grants what it was "
              "created with");
  return error_response(err, refusal_details(refused));
}

RowDone reply_row(Daemon& d, Reply reply, int status) {
  return [&d, reply = std::move(reply), status](Result<index::JailRow> r) {
    if (!r) return reply(error_response(r.error()));
    reply(json_response(status, jail_with_networks(d, *r)));
  };
}

}  // namespace

void add_jail_routes(Router& router, Daemon& d) {
  router.add("POST", "/v1/jails", [&d](Request& req, const Params&, Reply reply) {
    auto start = query_bool(req, "start", false);
    if (!start) return reply(field_error(start.error(), "start"));
    auto doc = parse_body(req.body);
    if (!doc) return reply(field_error(doc.error(), ""));
    std::string field;
    auto create = decode_create(*doc, d.cfg, &field);
    if (!create) return reply(field_error(create.error(), field));
    if (auto st = check_volumes_exist(*create, &field); !st)
      return reply(field_error(st.error(), field));
    if (auto refused = decide_privileges(d, *create, req.peer)) return reply(std::move(*refused));
    d.jails->create(std::move(*create), *start, uid_of(req), reply_row(d, std::move(reply), 201));
  });

  router.add("GET", "/v1/jails", [&d](Request& req, const Params&, Reply reply) {
    index::JailFilter filter;
    auto [b, e] = req.query.equal_range("state");
    for (auto it = b; it != e; ++it) {
      if (it->second == "all") {
        for (auto s :
             {index::JailState::creating, index::JailState::created, index::JailState::running,
              index::JailState::stopping, index::JailState::exited, index::JailState::removed})
          filter.states.push_back(s);
        continue;
      }
      auto s = index::jail_state_from(it->second);
      if (!s) {
        return reply(field_error(Error(Errc::invalid_argument, "api",
                                       "query parameter state: unknown state `" + it->second + "`"),
                                 "state"));
      }
      filter.states.push_back(*s);
    }
    auto [lb, le] = req.query.equal_range("label");
    for (auto it = lb; it != le; ++it) {
      auto eq = it->second.find('=');
      if (eq == std::string::npos || eq == 0) {
        return reply(field_error(
            Error(Errc::invalid_argument, "api", "query parameter label: expected key=value"),
            "label"));
      }
      filter.labels.emplace_back(it->second.substr(0, eq), it->second.substr(eq + 1));
    }
    auto rows = d.jails->list(filter);
    if (!rows) return reply(error_response(rows.error()));
    Response r;
    r.status = 200;
    r.body = jail_list_json(*rows, [&d](const std::string& id) { return d.networks->jail_addresses(id); });
    reply(std::move(r));
  });

  router.add("GET", "/v1/jails/{id}", [&d](Request&, const Params& p, Reply reply) {
    auto row = d.jails->get(p.at("id"));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(200, jail_with_networks(d, *row)));
  });

  router.add("POST", "/v1/jails/{id}/start", [&d](Request& req, const Params& p, Reply reply) {
    if (!decode_small(req, reply, [](Fields&) {})) return;
    if (auto refused = recheck_privileges(d, p.at("id"))) return reply(std::move(*refused));
    d.jails->start(p.at("id"), uid_of(req), reply_row(d, std::move(reply), 200));
  });

  router.add("POST", "/v1/jails/{id}/stop", [&d](Request& req, const Params& p, Reply reply) {
    int sig = 0;  // none named: the jail's own stop signal (Jails::stop)
    std::chrono::milliseconds timeout = d.cfg.stop_timeout;
    if (!decode_small(req, reply, [&](Fields& f) {
          sig = read_signal(f, 0);
          if (auto t = f.opt_seconds("timeout_s")) timeout = *t;
        }))
      return;
    d.jails->stop(p.at("id"), sig, timeout, uid_of(req), reply_row(d, std::move(reply), 200));
  });

  router.add("POST", "/v1/jails/{id}/kill", [&d](Request& req, const Params& p, Reply reply) {
    int sig = SIGKILL;
    if (!decode_small(req, reply, [&](Fields& f) { sig = read_signal(f, SIGKILL); })) return;
    auto row = d.jails->kill(p.at("id"), sig, uid_of(req));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(200, jail_json(*row)));
  });

  router.add("GET", "/v1/jails/{id}/wait", [&d](Request& req, const Params& p, Reply reply) {
    auto t = query_seconds(req, "timeout_s");
    if (!t) return reply(field_error(t.error(), "timeout_s"));
    std::optional<std::chrono::milliseconds> timeout;
    if (*t) timeout = std::chrono::milliseconds(static_cast<std::int64_t>(**t * 1000));
    d.jails->wait(p.at("id"), timeout, [reply = std::move(reply)](Result<WaitResult> r) {
      if (!r) return reply(error_response(r.error()));
      reply(json_response(200, {{"id", r->row.id},
                                {"state", index::to_string(r->row.state)},
                                {"exit", exit_json(r->row)},
                                {"timed_out", r->timed_out}}));
    });
  });

  router.add("GET", "/v1/jails/{id}/logs", [&d](Request& req, const Params& p, Reply reply) {
    auto q = log_query(req);
    if (!q) return reply(std::move(q).error());
    auto row = d.jails->get(p.at("id"));
    if (!row) return reply(error_response(row.error()));
    Response resp;
    resp.stream = [&d, row = std::move(*row), f = q->follow, a = q->after](
                      std::shared_ptr<StreamWriter> w) { d.jails->logs(row, a, f, std::move(w)); };
    reply(std::move(resp));
  });

  router.add("DELETE", "/v1/jails/{id}", [&d](Request& req, const Params& p, Reply reply) {
    auto force = query_bool(req, "force", false);
    if (!force) return reply(field_error(force.error(), "force"));
    d.jails->remove(p.at("id"), *force, uid_of(req), reply_row(d, std::move(reply), 200));
  });
}

}  // namespace lj::daemon
