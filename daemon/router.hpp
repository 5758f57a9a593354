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

// True for a start that failed because the command could not be executed (jail.exec_failed).
bool is_exec_failure(const Error& err);
// {"code", "message", "details"} with the status of the error's kind; a command that cannot be
// executed is 400 jail.exec_failed with details.reason "not_found" or "not_executable".
Response error_response(const Error& err, nlohmann::json details = nlohmann::json::object());
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
