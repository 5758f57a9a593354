// A small blocking HTTP/1.1 client over a UNIX socket: what the black-box tests (and later ljctl)
// speak to ljd with. Plain sockets, keep-alive, Content-Length and chunked bodies, and NDJSON
// streams read line by line.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::testing {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  // The body as JSON (null when it is not JSON).
  nlohmann::json json() const;
  const std::string& header(const std::string& name) const;
};

class HttpClient {
 public:
  // Connects to the socket at `path`.
  static Result<HttpClient> connect(const std::string& path);
  HttpClient(HttpClient&&) = default;
  HttpClient& operator=(HttpClient&&) = default;

  // One request/response on the (kept-alive) connection; the whole body is read.
  Result<HttpResponse> request(const std::string& method, const std::string& target,
                               const std::string& body = "",
                               const std::map<std::string, std::string>& headers = {});
  Result<HttpResponse> get(const std::string& target) { return request("GET", target); }
  Result<HttpResponse> post(const std::string& target, const nlohmann::json& body) {
    return request("POST", target, body.dump());
  }
  Result<HttpResponse> del(const std::string& target) { return request("DELETE", target); }

  // Starts a streaming request: returns the status and headers; then read lines with next_line().
  Result<HttpResponse> open_stream(const std::string& target);
  // The next NDJSON line of a stream (heartbeats included), nullopt at the end of the stream;
  // Errc::timed_out when nothing came within `timeout`.
  Result<std::optional<std::string>> next_line(std::chrono::milliseconds timeout);

  // Writes raw bytes (for malformed requests) and reads whatever answer comes.
  Status send_raw(const std::string& bytes);
  Result<HttpResponse> read_response(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // True once the server closed the connection (within `timeout`).
  bool closed_by_peer(std::chrono::milliseconds timeout);

  int fd() const { return fd_.get(); }

 private:
  explicit HttpClient(UniqueFd fd) : fd_(std::move(fd)) {}
  Status fill(std::chrono::milliseconds timeout);  // reads more into buf_
  Result<std::string> read_line(std::chrono::milliseconds timeout);
  Result<std::string> read_exact(std::size_t n, std::chrono::milliseconds timeout);
  Result<HttpResponse> read_head(std::chrono::milliseconds timeout);
  Result<std::string> read_chunk(std::chrono::milliseconds timeout, bool* last);

  UniqueFd fd_;
  std::string buf_;
  bool chunked_stream_ = false;
  std::string stream_buf_;  // decoded stream bytes not yet returned as lines
  bool stream_ended_ = false;
};

}  // namespace lj::testing
