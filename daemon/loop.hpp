// The event loop as the daemon core sees it: one thread (the loop thread) owns the jail table, the
// index and the event bus; blocking work (clone + mounts, teardown, builds, imports) runs on a
// small pool and posts its result back. Implemented over Asio in runtime.cpp so that no other file
// pulls Asio in.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "common/fd.hpp"

namespace lj::daemon {

// A pending timer or fd watch. Destroying it (or cancel()) guarantees its callback will not run.
class Watch {
 public:
  virtual ~Watch() = default;
  virtual void cancel() = 0;
};

// A pipe being read (read_until_eof). pause() stops reading after the chunk in hand (if any), so
// that the writer blocks once the pipe is full: the back-pressure of a slow attached client
// (attach.hpp); resume() reads on.
class ReadWatch : public Watch {
 public:
  virtual void pause() = 0;
  virtual void resume() = 0;
};

class Loop {
 public:
  virtual ~Loop() = default;
  // Runs fn on the loop thread, later. Thread-safe.
  virtual void post(std::function<void()> fn) = 0;
  // Runs work on the blocking pool; it posts back whatever it produces. Thread-safe.
  virtual void blocking(std::function<void()> work) = 0;
  // As blocking(), on a separate pool for long work (builds, world imports), so that it never
  // holds up jail spawns and teardowns.
  virtual void long_blocking(std::function<void()> work) = 0;
  virtual std::unique_ptr<Watch> at(std::chrono::steady_clock::time_point when,
                                    std::function<void()> fn) = 0;
  std::unique_ptr<Watch> after(std::chrono::steady_clock::duration d, std::function<void()> fn) {
    return at(std::chrono::steady_clock::now() + d, std::move(fn));
  }
  // Calls fn once, when `fd` becomes readable (a pidfd at exit). `fd` stays owned by the caller
  // and must outlive the watch.
  virtual std::unique_ptr<Watch> when_readable(int fd, std::function<void()> fn) = 0;
  // Reads `fd` (a pipe; made non-blocking here) until EOF or error: on_data for each chunk, then
  // on_eof once. The watch owns fd.
  virtual std::unique_ptr<ReadWatch> read_until_eof(UniqueFd fd,
                                                    std::function<void(std::string_view)> on_data,
                                                    std::function<void()> on_eof) = 0;
};

}  // namespace lj::daemon
