// A real ljd for black-box tests: its own temporary root (index, logs, worlds) and socket, started
// from the built binary, stopped with SIGTERM (or killed) and cleaned up on every path.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>

#include "http_client.hpp"

namespace lj::testing {

class LjdProcess {
 public:
  // Makes a fresh temporary root; `extra_config` lines are appended to the generated config.
  explicit LjdProcess(std::string extra_config = "");
  ~LjdProcess();
  LjdProcess(const LjdProcess&) = delete;
  LjdProcess& operator=(const LjdProcess&) = delete;

  // Starts ljd and waits until it answers /v1/_ping with 200 (and /v1/info with 200, i.e. ready).
  // Errc::conflict when this one is already running (a second would leak the first).
  Status start();
  // SIGTERM and wait; returns the exit status (as from waitpid), or -1 on timeout (then killed).
  int stop(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // SIGKILL and reap: a crash.
  void crash();
  // Waits for ljd to exit on its own (a crash point, daemon/crash_point.hpp) and reaps it;
  // returns the status (as from waitpid), or -1 when it still runs after `timeout`.
  int wait_exit(std::chrono::milliseconds timeout);
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }

  const std::filesystem::path& root() const { return root_; }
  std::string socket() const { return (root_ / "ljd.sock").string(); }
  std::filesystem::path config_path() const { return root_ / "ljd.conf"; }
  std::string log() const;  // what ljd wrote to stderr

  HttpClient client() const;
  // A busybox world at root/worlds/<name> (static busybox + applet links), for jails.
  Status make_busybox_world(const std::string& name = "bb") const;

  // The next start() puts ljd in this cgroup (a directory of a v1 controller's hierarchy or of
  // v2: ljd writes itself to its cgroup.procs before it runs) instead of the test's: its jails'
  // "ljd" cgroup is then <dir>/ljd, the test's own, apart from every other ljd's on the machine.
  void start_in_cgroup(std::filesystem::path dir) { cgroup_ = std::move(dir); }

  static std::string binary();  // the ljd under test

 private:
  std::filesystem::path root_;
  std::string extra_;
  std::filesystem::path cgroup_;
  pid_t pid_ = -1;
};

}  // namespace lj::testing
