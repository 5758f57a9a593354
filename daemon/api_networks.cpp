// /v1/networks: JSON <-> Networks (issue 14).
#include "daemon/api.hpp"
#include "daemon/networks.hpp"

namespace lj::daemon {

using nlohmann::json;

void add_network_routes(Router& router, Daemon& d) {
  router.add("POST", "/v1/networks", [&d](Request& req, const Params&, Reply reply) {
    auto doc = parse_body(req.body);
    if (!doc) return reply(field_error(doc.error(), ""));
    std::string field;
    auto create = decode_network(*doc, &field);
    if (!create) return reply(field_error(create.error(), field));
    auto row = d.networks->create(std::move(*create), static_cast<std::uint32_t>(req.peer.uid));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(201, d.networks->to_json(*row)));
  });

  router.add("GET", "/v1/networks", [&d](Request&, const Params&, Reply reply) {
    auto rows = d.networks->list();
    if (!rows) return reply(error_response(rows.error()));
    json out = json::array();
    for (const auto& r : *rows) out.push_back(d.networks->to_json(r));
    reply(json_response(200, out));
  });

  router.add("GET", "/v1/networks/{name}", [&d](Request&, const Params& p, Reply reply) {
    auto row = d.networks->get(p.at("name"));
    if (!row) return reply(error_response(row.error()));
    reply(json_response(200, d.networks->to_json(*row)));
  });

  router.add("DELETE", "/v1/networks/{name}", [&d](Request& req, const Params& p, Reply reply) {
    auto row = d.networks->get(p.at("name"));
    if (!row) return reply(error_response(row.error()));
    json body = d.networks->to_json(*row);
    if (auto st = d.networks->remove(row->name, static_cast<std::uint32_t>(req.peer.uid)); !st)
      return reply(error_response(st.error()));
    body["jails"] = json::array();
    reply(json_response(200, body));
  });
}

}  // namespace lj::daemon
