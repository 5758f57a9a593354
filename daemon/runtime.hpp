// The only place Asio and Beast live: the io_context and its thread (the loop thread), the
// blocking pool, signals, and the HTTP/1.1 server on the UNIX socket. Everything else sees Loop and
// the plain Request/Response of http_types.hpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>

#include "common/error.hpp"
#include "daemon/http_types.hpp"
#include "daemon/loop.hpp"

namespace lj::daemon {

struct ServerOptions {
  std::filesystem::path socket;
  unsigned mode = 0660;
  std::optional<gid_t> group;  // chown'd to it; its members are allowed in
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;
  // A whole request must arrive within this (so a trickling client cannot hold a connection),
  // and every write must progress within it.
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 1024;  // beyond: answered 503 api.busy at once and closed
  std::chrono::seconds heartbeat{15};  // NDJSON streams send one while idle
};

// Called on the loop thread for each request from an allowed peer.
using RequestHandler = std::function<void(Request&, Reply)>;

class Runtime {
 public:
  explicit Runtime(unsigned workers);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  Loop& loop();

  // Binds the socket. A socket file left by a dead ljd is replaced; one that answers (another ljd)
  // is Errc::exists; a non-socket at the path is Errc::exists too.
  Status listen(const ServerOptions& opts, RequestHandler handler);
  // Stops accepting, closes idle keep-alive connections and ends every stream; requests in
  // flight finish. Loop thread.
  void stop_accepting();
  // Number of open connections (for /v1/info and tests of idle timeouts).
  std::size_t connections() const;

  // fn(signo) on the loop thread for SIGTERM, SIGINT, SIGHUP.
  void on_signal(std::function<void(int)> fn);

  // Runs the loop on the calling thread until stop(). The calling thread is the loop thread.
  void run();
  // Ends run(). Thread-safe.
  void stop();
  // Waits for the blocking pool to finish its jobs (after run() returned, before the state they
  // touch is destroyed).
  void join_workers();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace lj::daemon
