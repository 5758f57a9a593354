// The API layer's view of HTTP, as plain data: no sockets, no Beast. The server (server.cpp) turns
// wire bytes into a Request and a Response (or a Stream) back into wire bytes; everything between
// is a pure function of these structs, testable without a socket.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace lj::daemon {

// Who is on the other end of the socket, from SO_PEERCRED (Linux) / LOCAL_PEERCRED (FreeBSD),
// read once on accept.
struct Peer {
  uid_t uid = static_cast<uid_t>(-1);
  gid_t gid = static_cast<gid_t>(-1);
  pid_t pid = 0;
  bool allowed = false;  // root, ljd's own uid, or a member of the configured socket group
};

struct Request {
  std::string method;  // "GET", "POST", "DELETE", ...
  std::string target;  // as sent: "/v1/jails?state=running"
  std::string path;    // target without the query, percent-decoded: "/v1/jails"
  std::multimap<std::string, std::string> query;  // percent-decoded
  std::string body;
  Peer peer;
  std::string request_id;  // "r-<n>", for logs
  // "Connection: Upgrade" with "Upgrade: tcp": the client asks for the raw duplex byte stream of
  // Docker's attach hijack (docs/attach.md).
  bool upgrade_tcp = false;

  // The last value of a query parameter, or nullptr.
  const std::string* param(std::string_view key) const;
};

// The producer side of an NDJSON stream. Owned by the server's session; producers hold a
// shared_ptr and drop it once closed() or after end(). Loop thread only.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  // Queues one record (a JSON object without the trailing newline). False once the client is gone:
  // the producer should then unsubscribe.
  virtual bool write(std::string record) = 0;
  // Ends the stream after everything queued has been sent.
  virtual void end() = 0;
  virtual bool closed() const = 0;
  // Bytes queued but not yet written to the socket: a producer whose subscriber falls behind
  // tells it so (an explicit record) rather than buffering without bound.
  virtual std::size_t backlog() const = 0;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length
  std::string body;                                          // JSON, or empty
  // Set for a chunked NDJSON stream: called once the headers are out, with the writer the
  // producer feeds. The server adds heartbeats while the stream is idle.
  std::function<void(std::shared_ptr<StreamWriter>)> stream;
  // Set to take the connection over (only for a request with upgrade_tcp): the server answers
  // 101 Switching Protocols, then hands over the connected socket (blocking mode, close-on-exec;
  // the callee owns it) and any bytes the client sent after the request. Loop thread.
  std::function<void(int socket, std::string early)> upgrade;
};

// Answers one request, exactly once, on the loop thread; possibly later (a wait, a stream).
using Reply = std::function<void(Response)>;

// Percent-decodes a URL component; false on a malformed escape.
bool url_decode(std::string_view in, std::string* out, bool plus_is_space);
// Splits "path?query" into a Request's path and query; false when malformed.
bool parse_target(std::string_view target, Request* req);

}  // namespace lj::daemon
