// The API: `handle(Request, Reply)` over plain structs, knowing nothing of sockets. Routes are
// registered per resource family (api_*.cpp) into one Router; proto/openapi.yaml describes them
// all (tests/daemon/spec_test.cpp checks both ways).
#pragma once

#include "daemon/core.hpp"
#include "daemon/http_types.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/router.hpp"

namespace lj::daemon {

class Api {
 public:
  explicit Api(Daemon& d);
  // Loop thread. Until recovery is done every route but /v1/_ping answers 503 api.busy.
  void handle(Request& req, Reply reply);
  const Router& router() const { return router_; }

 private:
  Daemon& d_;
  Router router_;
};

// Registration, one function per resource family.
void add_system_routes(Router& r, Daemon& d);
void add_jail_routes(Router& r, Daemon& d);
void add_event_routes(Router& r, Daemon& d);
void add_resource_routes(Router& r, Daemon& d);
void add_network_routes(Router& r, Daemon& d);  // api_networks.cpp
void add_attach_routes(Router& r, Daemon& d);  // api_attach.cpp
void add_image_routes(Router& r, Daemon& d);
void add_exec_routes(Router& r, Daemon& d);  // api_exec.cpp

// Query helpers shared by the families: a malformed value is a 400 naming the parameter.
Result<bool> query_bool(const Request& req, std::string_view key, bool dflt);
Result<std::int64_t> query_int(const Request& req, std::string_view key, std::int64_t dflt);
Result<std::optional<double>> query_seconds(const Request& req, std::string_view key);
// The error response of a decoding failure, with details.field.
Response field_error(const Error& err, const std::string& field);
// A terminal's window size from ?h=&w= (1..65535 each, POST .../resize of a jail or an exec);
// answers the 400 naming the parameter itself and returns nullopt on error.
struct WindowSize {
  unsigned short rows = 0, cols = 0;
};
std::optional<WindowSize> query_window(const Request& req, const Reply& reply);

// Decodes a small body with `read` (which reads every field of the Fields it is given); answers
// the 400 itself and returns false on error.
template <class F>
bool decode_small(const Request& req, const Reply& reply, F read) {
  auto doc = parse_body(req.body);
  if (!doc) {
    reply(field_error(doc.error(), ""));
    return false;
  }
  Fields f(*doc);
  read(f);
  if (auto st = f.finish(); !st) {
    reply(field_error(st.error(), f.error() ? f.error()->field : ""));
    return false;
  }
  return true;
}

// `?follow=&after=` of a log stream (jail logs, build logs): whether to follow, and the seq to
// start after (>= 0). A malformed value is the 400 to answer.
struct LogQuery {
  bool follow = false;
  std::uint64_t after = 0;
};
tl::expected<LogQuery, Response> log_query(const Request& req);

}  // namespace lj::daemon
