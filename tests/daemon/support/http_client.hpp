// The black-box tests' HTTP client: a thin layer over ljctl's own client (client/http_client.hpp,
// lj_http_client), with what tests need besides: a connection opened up front, raw bytes for
// malformed requests, NDJSON streams pulled line by line with a timeout, and a check that ljd
// closed the connection.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"
#include "common/error.hpp"

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

 private:
  explicit HttpClient(std::unique_ptr<client::HttpClient> c) : c_(std::move(c)) {}

  std::unique_ptr<client::HttpClient> c_;
  // A stream being pulled: the chunked decoding and the decoded bytes not yet returned as lines.
  std::unique_ptr<client::ChunkedDecoder> chunks_;
  std::string pending_;
  bool stream_ended_ = false;
};

}  // namespace lj::testing
