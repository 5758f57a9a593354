// ljctl's view of ljd: JSON calls on the API, and every failure turned into ONE line that says
// what happened and what to do (an unreachable daemon, a socket without permission, an older
// daemon, an API error with its code). Owned by one thread.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"
#include "common/error.hpp"

namespace lj::ljctl {

inline constexpr std::string_view kDefaultSocket = "/var/run/ljd.sock";

// An API answer that was not a 2xx: the HTTP status and the error body's fields.
struct ApiError {
  int status = 0;
  std::string code;     // "jail.not_found"; empty when the body was not an error object
  std::string message;  // the daemon's message
  nlohmann::json details;
};

class Api {
 public:
  explicit Api(std::string socket);

  const std::string& socket() const { return http_.socket_path(); }
  client::HttpClient& http() { return http_; }

  // One call. A 2xx answer is its body, raw; anything else is an Error whose what() is the line
  // to print (after "ljctl: "); last_api_error() then holds the status and code.
  Result<std::string> call_raw(std::string_view method, const std::string& target,
                               const nlohmann::json* body = nullptr);
  // As call_raw, the body parsed (null when empty).
  Result<nlohmann::json> call(std::string_view method, const std::string& target,
                              const nlohmann::json* body = nullptr);
  // A streamed call: each NDJSON line goes to on_line (return false to stop).
  Status stream(std::string_view method, const std::string& target,
                const std::function<bool(std::string_view line)>& on_line);

  const ApiError& last_api_error() const { return last_; }

 private:
  Error api_error(std::string_view method, const std::string& target, const client::Response& r);
  Error transport_error(Error e) const;

  client::HttpClient http_;
  ApiError last_;
};

// The one line for a failure to connect to, or talk with, ljd at `socket` (without "ljctl: ").
std::string explain_transport(const Error& e, const std::string& socket);

}  // namespace lj::ljctl
