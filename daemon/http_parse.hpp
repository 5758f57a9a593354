// The server's reading of HTTP/1.1 requests, without sockets and without Beast in the header: a
// RequestReader is fed the bytes a connection receives, in pieces of any size, and says when a
// request is complete (then take() it) or when the connection must end (with the answer to close
// it with, if any). runtime.cpp feeds it from the socket; the fuzzer and tests feed it bytes.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "daemon/http_types.hpp"

namespace lj::daemon {

struct HttpLimits {
  std::size_t max_header_bytes = 16 << 10;  // over it: 431
  std::size_t max_body_bytes = 1 << 20;     // over it: 413
};

class RequestReader {
 public:
  explicit RequestReader(const HttpLimits& limits);
  ~RequestReader();
  RequestReader(const RequestReader&) = delete;
  RequestReader& operator=(const RequestReader&) = delete;

  enum class State { more, done, failed };
  // Consumes a prefix of `bytes` (what it needs of them: the rest belongs to the next request)
  // and returns its length. A header is only parsed once whole, so while state() is `more`, feed
  // it again with the unconsumed bytes and what arrived since.
  std::size_t feed(std::string_view bytes);
  // The peer closed its side: an incomplete request fails (without an answer).
  void eof();
  State state() const { return state_; }

  // Once done: fills req's method, target, path, query and body; returns the 400 to answer
  // instead when the target is malformed. keep_alive and the HTTP minor version of the request.
  std::optional<Response> take(Request* req);
  bool keep_alive() const;
  unsigned version() const;

  // Once failed: the answer to close the connection with (400 malformed or obs-fold, 413 body,
  // 431 header, 501 a transfer coding other than chunked alone), or nullopt when the client just
  // went away mid-request.
  const std::optional<Response>& error() const { return error_; }

  // True once, when the header is whole, asks `Expect: 100-continue` and the body is still to
  // come: the server answers an interim 100 before it reads on (RFC 9110 10.1.1; curl waits a
  // second for it otherwise).
  bool take_continue();

 private:
  // The header's checks that Beast does not make (RFC 9112 5.2 and 6.1), once it is whole.
  void check_header();

  struct Impl;
  std::unique_ptr<Impl> impl_;
  State state_ = State::more;
  std::optional<Response> error_;
  bool header_checked_ = false;
  bool continue_pending_ = false;
};

// What a connection makes of `bytes` (one or more pipelined requests): the requests it would
// hand to the API, in order, and the answer it would close the connection with, if any. An
// incomplete last request is dropped, as when a client goes away mid-request.
struct ParsedRequests {
  std::vector<Request> requests;
  std::optional<Response> error;
};
ParsedRequests parse_requests(std::string_view bytes, const HttpLimits& limits);

}  // namespace lj::daemon
