// Routes "METHOD /v1/path/{param}" to handlers; the table of everything the server answers. Pure:
// no sockets. Unknown path: 404 api.no_route; known path, other method: 405 api.method_not_allowed.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "daemon/http_types.hpp"

namespace lj::daemon {

// Path parameters by name: {"id": "j-3f1a..."}.
using Params = std::map<std::string, std::string, std::less<>>;
using Handler = std::function<void(Request&, const Params&, Reply)>;

// The one table Errc -> HTTP status (and Retry-After for busy).
int http_status(Errc errc);

// {"code", "message", "details"} with the status of the error's kind; a command that cannot be
// executed (Errc::exec_failed, set by the backend) is 400 jail.exec_failed with details.reason
// "not_found" or "not_executable". Every error body the server writes is made here.
Response error_response(const Error& err, nlohmann::json details = nlohmann::json::object());

// Failures of HTTP itself, before any handler, whose status no Errc says: the rest of the one
// table (api.no_route 404, api.method_not_allowed 405, api.limit 413 and 431).
enum class HttpFailure { no_route, method_not_allowed, body_too_large, header_too_large };
Response error_response(HttpFailure failure, std::string message);

// A JSON response; `body` is dumped compactly.
Response json_response(int status, const nlohmann::json& body);

class Router {
 public:
  // `pattern` is a path with {name} segments, e.g. "/v1/jails/{id}/wait".
  void add(std::string method, std::string pattern, Handler handler);
  // Finds and runs the handler; answers 404/405 itself.
  void dispatch(Request& req, Reply reply) const;

  struct Route {
    std::string method;
    std::string pattern;
  };
  std::vector<Route> routes() const;

 private:
  struct Entry {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{id}" marks a parameter
    Handler handler;
  };
  std::vector<Entry> entries_;
};

}  // namespace lj::daemon
