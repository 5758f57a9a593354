// A jail::Backend for in-process service tests, where the real one cannot run (no root, no
// namespaces): it records what the jail service asks of it (spawns, signals, teardowns,
// releases) and lets the test decide when and how each jail ends. A jail holds the write ends of
// its output pipes, as a real one does, until it ends; the test can write through them.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "jail/backend.hpp"
#include "tests/daemon/support/inline_loop.hpp"

namespace lj::daemon::testing {

class CountingBackend;

class CountingJail final : public jail::Jail {
 public:
  CountingJail(CountingBackend& b, InlineLoop& loop, const jail::JailSpec& spec, int fd);
  ~CountingJail() override;

  const jail::JailHandle& handle() const override { return handle_; }
  int wait_fd() const override { return fd_; }
  Status signal(int sig, bool all) override;
  Result<jail::ExitStatus> wait(std::chrono::milliseconds) override {
    if (auto st = poll(); st && *st) {
      LJ_TRY(teardown());
      return **st;
    }
    return fail(Errc::timed_out, "jail", "a counting jail ends when its test says so");
  }
  Result<std::optional<jail::ExitStatus>> poll() override {
    if (!exit_) return std::optional<jail::ExitStatus>();
    reaped_ = true;
    return std::optional<jail::ExitStatus>(*exit_);
  }
  Status teardown() override;
  std::chrono::steady_clock::time_point deadline() const override {
    return std::chrono::steady_clock::time_point::max();
  }
  Status expire() override {
    end(jail::ExitStatus{.code = -1, .signal = SIGKILL, .timed_out = true});
    return {};
  }

  // The main command ends with `st`: the output pipes close and the wait descriptor turns
  // readable.
  void end(jail::ExitStatus st);
  // Writes to the jail's stdout (0) or stderr (1), as its command would.
  void print(int stream, std::string_view text) {
    (void)!::write(stream == 0 ? out_.get() : err_.get(), text.data(), text.size());
  }

 private:
  CountingBackend& b_;
  InlineLoop& loop_;
  jail::JailHandle handle_;
  int fd_;
  UniqueFd out_, err_;
  std::optional<jail::ExitStatus> exit_;
  bool reaped_ = false;
  bool torn_down_ = false;
};

class CountingBackend final : public jail::Backend {
 public:
  explicit CountingBackend(InlineLoop& loop) : loop_(loop) {}

  std::string_view name() const override { return "counting"; }
  std::vector<std::string> features() const override { return {}; }

  Result<std::unique_ptr<jail::Jail>> spawn(const jail::JailSpec& spec) override {
    spawns.push_back(spec.name);
    if (fail_next) {
      Error e = std::move(*fail_next);
      fail_next.reset();
      return fail(std::move(e));
    }
    auto j = std::make_unique<CountingJail>(*this, loop_, spec, next_fd_++);
    jails[spec.name] = j.get();
    ++alive;
    return std::unique_ptr<jail::Jail>(std::move(j));
  }
  Result<std::unique_ptr<jail::Jail>> adopt(const jail::JailHandle& h) override {
    return fail(Errc::not_found, "jail", "counting backend adopts nothing: " + h.name);
  }
  Status release(const jail::JailHandle& h) override {
    releases.push_back(h.name);
    return {};
  }

  // The live jail named `name` (a jail id); a test that names none is wrong: it aborts.
  CountingJail& jail(const std::string& name) {
    auto it = jails.find(name);
    if (it == jails.end() || !it->second) std::abort();
    return *it->second;
  }

  // What the service asked for, in order.
  std::vector<std::string> spawns;                   // jail names
  std::vector<std::pair<std::string, int>> signals;  // (name, signal)
  std::vector<std::string> teardowns;                // names, as teardown() ran
  std::vector<std::string> releases;
  int alive = 0;                      // Jail objects not yet destroyed
  int killed_by_drop = 0;             // destroyed before they ended: the owner gave up on them
  std::set<int> ends_on = {SIGKILL};  // signals that end a jail (the command dies of them)
  std::optional<Error> fail_next;     // the next spawn fails with this
  std::function<void(const std::string&)> on_teardown;  // called in teardown(), on its thread

  std::map<std::string, CountingJail*> jails;  // live ones, by name

 private:
  InlineLoop& loop_;
  int next_fd_ = 100000;  // wait descriptors are names for InlineLoop::ready, never real fds
};

inline CountingJail::CountingJail(CountingBackend& b, InlineLoop& loop, const jail::JailSpec& spec,
                                  int fd)
    : b_(b), loop_(loop), fd_(fd) {
  handle_.name = spec.name;
  handle_.pid = fd;
  handle_.start_time = 1;
  handle_.status_file = spec.status_file;
  // As the real backends, the status file is made at spawn (recovery finds a jail by it).
  if (!spec.status_file.empty())
    UniqueFd(::open(spec.status_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
  // A jail keeps its own copies of the write ends: the service closes its copies after spawn.
  if (spec.stdio.out >= 0) out_.reset(::fcntl(spec.stdio.out, F_DUPFD_CLOEXEC, 0));
  if (spec.stdio.err >= 0) err_.reset(::fcntl(spec.stdio.err, F_DUPFD_CLOEXEC, 0));
}

inline CountingJail::~CountingJail() {
  if (!exit_) ++b_.killed_by_drop;
  if (!torn_down_) (void)teardown();  // as a real Jail: nothing outlives the object
  b_.jails.erase(handle_.name);
  --b_.alive;
}

inline Status CountingJail::signal(int sig, bool) {
  if (exit_) return fail(Errc::conflict, "jail", "jail " + handle_.name + " has exited");
  b_.signals.emplace_back(handle_.name, sig);
  if (b_.ends_on.count(sig)) end(jail::ExitStatus{.code = -1, .signal = sig});
  return {};
}

inline Status CountingJail::teardown() {
  if (torn_down_) return {};
  torn_down_ = true;
  b_.teardowns.push_back(handle_.name);
  if (b_.on_teardown) b_.on_teardown(handle_.name);
  return {};
}

inline void CountingJail::end(jail::ExitStatus st) {
  if (exit_) return;
  exit_ = st;
  out_.reset();
  err_.reset();
  loop_.ready(fd_);
}

}  // namespace lj::daemon::testing
