// A small HTTP/1.1 client over a UNIX stream socket, on plain sockets: exactly what ljd's API needs
// (JSON requests, Content-Length and chunked responses, NDJSON streams read line by line) and
// nothing else (no TLS, no redirects, no TCP). One HttpClient is one connection, reused while the
// server keeps it alive; not thread-safe (owned by one thread).
//
//   lj::client::HttpClient c("/var/run/ljd.sock");
//   auto r = c.request("GET", "/v1/info");                      // r->status, r->body
//   c.stream("GET", "/v1/events?follow=true", {}, [](std::string_view line) { ...; return true; });
//
// Errors (lj::Error, domain "client"): a failed connect(2) carries its errno (ENOENT: no socket,
// ECONNREFUSED: nobody listening, EACCES: no permission); a failed read or write carries its
// errno; a malformed response is Errc::invalid_argument; a read interrupted while the interrupt
// flag is set is Errc::busy with errno EINTR; an idle timeout is Errc::timed_out.
#pragma once

#include <chrono>
#include <csignal>
#include <cstddef>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::client {

struct Response {
  int status = 0;
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, in order
  std::string body;  // whole body; for a 2xx stream(), empty (the lines went to the callback)

  // The first header named `name` (lower-case), or nullptr.
  const std::string* header(std::string_view name) const;
};

// Incremental decoder of Transfer-Encoding: chunked (RFC 9112 section 7.1): feed it bytes as they
// arrive, in pieces of any size; it appends the payload to `out` and stops after the last chunk
// and its trailer section. Chunk extensions and trailers are read and dropped.
class ChunkedDecoder {
 public:
  // Consumes a prefix of `in` (all of it unless done() became true on the way) and returns how
  // many bytes it consumed. A malformed size line or framing is Errc::invalid_argument.
  Result<std::size_t> feed(std::string_view in, std::string& out);
  bool done() const { return state_ == State::done; }

 private:
  enum class State { size, data, data_crlf, trailer, done };
  State state_ = State::size;
  std::string line_;        // the size or trailer line being read
  std::uint64_t left_ = 0;  // bytes of the current chunk not yet read
};

// Splits a byte stream into lines at '\n', handing each complete line (without the '\n' and a
// preceding '\r') to `on_line`; partial lines wait for the next feed(). Stops early, returning
// false, when on_line returns false.
class LineSplitter {
 public:
  bool feed(std::string_view data, const std::function<bool(std::string_view)>& on_line);
  // The bytes after the last newline (an unterminated last line, at the end of a stream).
  const std::string& rest() const { return partial_; }
  void clear() { partial_.clear(); }

 private:
  std::string partial_;
};

// Percent-encodes a query value (RFC 3986 unreserved characters pass as they are).
std::string url_encode(std::string_view s);

class HttpClient {
 public:
  explicit HttpClient(std::string socket_path) : path_(std::move(socket_path)) {}

  const std::string& socket_path() const { return path_; }

  // Between two reads, at most this long (0: no limit). A stream with heartbeats stays alive.
  void set_idle_timeout(std::chrono::milliseconds t) { idle_timeout_ = t; }

  // When a read or write is interrupted by a signal (EINTR, the handler installed without
  // SA_RESTART) and *flag is non-zero, the call gives up with Errc::busy / EINTR and the
  // connection is closed. Otherwise EINTR is retried.
  void set_interrupt_flag(const volatile std::sig_atomic_t* flag) { interrupt_ = flag; }

  // One request; the response with its whole body. `body` non-empty is sent as application/json.
  Result<Response> request(std::string_view method, std::string_view target,
                           std::string_view body = {});

  // One request whose 2xx body is a stream of lines (NDJSON): each line goes to on_line as it
  // arrives, until the body ends or on_line returns false (then the connection is closed). A
  // non-2xx response is returned whole, on_line not called.
  Result<Response> stream(std::string_view method, std::string_view target, std::string_view body,
                          const std::function<bool(std::string_view line)>& on_line);

  // As request(), with extra header lines ("X-Name", "value") besides the usual ones.
  using Headers = std::vector<std::pair<std::string, std::string>>;
  Result<Response> request(std::string_view method, std::string_view target, std::string_view body,
                           const Headers& headers);

  // An HTTP upgrade (RFC 9110 section 7.8): `method target` with `Connection: Upgrade`,
  // `Upgrade: protocol` and no body. On 101 Switching Protocols the connection is handed over:
  // `fd` is its socket (this client holds none after it) and `early` the bytes that came after
  // the head, the new protocol's first. Any other answer is read whole by its framing (ljd keeps
  // the connection open after it) and returned with `fd` empty.
  struct Upgrade {
    Response response;
    UniqueFd fd;
    std::string early;
  };
  Result<Upgrade> upgrade(std::string_view method, std::string_view target,
                          std::string_view protocol);

  // Closes the connection (the next request opens a new one).
  void close() { fd_.reset(); }

  // Lower-level pieces, for tests that speak malformed or partial HTTP to ljd. open() connects
  // now (if not connected); send_raw() writes bytes as they are; read_response() reads one
  // answer (status, headers, whole body) to a request of `method` sent before; read_head() only
  // its status and headers, after which read_raw() hands out the body's bytes as they come (""
  // once the connection is closed). closed_by_peer() is true once ljd has closed the connection
  // (within `timeout`); bytes that arrive meanwhile are kept for read_response().
  Status open();
  Status send_raw(std::string_view bytes);
  Result<Response> read_response(std::string_view method = "GET");
  Result<Response> read_head(bool* retryable = nullptr, bool upgrading = false);
  Result<std::string> read_raw();
  bool closed_by_peer(std::chrono::milliseconds timeout);
  bool connected() const { return static_cast<bool>(fd_); }

 private:
  using Sink = std::function<bool(std::string_view data)>;
  Result<Response> exchange(std::string_view method, std::string_view target, std::string_view body,
                            const Sink* sink_2xx);
  Result<Response> exchange_once(std::string_view method, std::string_view target,
                                 std::string_view body, const Sink* sink_2xx, bool* retryable);
  Result<Response> read_body(Response head, std::string_view method, const Sink* sink_2xx);
  Status send_request(std::string_view method, std::string_view target, std::string_view body,
                      bool* retryable);
  Status connect();
  Status send_all(std::string_view data);
  // Reads more bytes into buf_; 0 at EOF.
  Result<std::size_t> read_some();
  bool interrupted() const { return interrupt_ && *interrupt_ != 0; }

  std::string path_;
  UniqueFd fd_;
  std::string buf_;  // bytes read but not yet consumed
  std::chrono::milliseconds idle_timeout_{0};
  Headers extra_headers_;
  const volatile std::sig_atomic_t* interrupt_ = nullptr;
};

}  // namespace lj::client
