// A Loop for in-process service tests: nothing runs on another thread and nothing waits on the
// clock. Posted and blocking work queue up and run, in order, on the test's thread when it calls
// run(); pipes handed to read_until_eof are read (non-blocking) by run(); a descriptor watched
// with when_readable fires once the test says it is ready (ready(fd)); timers fire when the test
// lets time pass (advance). So a test decides every interleaving and sleeps never.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string_view>
#include <vector>

#include "daemon/loop.hpp"

namespace lj::daemon::testing {

class InlineLoop final : public Loop {
 public:
  void post(std::function<void()> fn) override { queue_.push_back(std::move(fn)); }
  void blocking(std::function<void()> work) override {
    ++blocking_jobs_;
    queue_.push_back(std::move(work));
  }
  void long_blocking(std::function<void()> work) override { blocking(std::move(work)); }

  std::unique_ptr<Watch> at(std::chrono::steady_clock::time_point when,
                            std::function<void()> fn) override {
    auto e = std::make_shared<Entry>();
    e->fn = std::move(fn);
    timers_.emplace(when + skipped_, e);  // `when` is on the real clock: onto the loop's
    return std::make_unique<EntryWatch>(e);
  }
  std::unique_ptr<Watch> when_readable(int fd, std::function<void()> fn) override {
    auto e = std::make_shared<Entry>();
    e->fn = std::move(fn);
    readable_.emplace(fd, e);
    return std::make_unique<EntryWatch>(e);
  }
  std::unique_ptr<ReadWatch> read_until_eof(UniqueFd fd,
                                            std::function<void(std::string_view)> on_data,
                                            std::function<void()> on_eof) override {
    auto r = std::make_shared<Reader>();
    ::fcntl(fd.get(), F_SETFL, ::fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
    r->fd = std::move(fd);
    r->on_data = std::move(on_data);
    r->on_eof = std::move(on_eof);
    readers_.push_back(r);
    return std::make_unique<ReaderWatch>(r);
  }

  // Marks `fd` readable: its when_readable watches fire at the next run().
  void ready(int fd) { ready_.insert(fd); }

  // Runs everything that can run now, until nothing is left: queued work, pipe data and EOFs,
  // watches of ready descriptors.
  void run() {
    for (bool progress = true; progress;) {
      progress = false;
      while (!queue_.empty()) {
        auto fn = std::move(queue_.front());
        queue_.pop_front();
        fn();
        progress = true;
      }
      auto readers = readers_;
      for (auto& r : readers) progress |= pump(*r);
      std::erase_if(readers_, [](const auto& r) { return r->cancelled || !r->fd; });
      for (int fd : std::set<int>(ready_)) {
        auto [b, e] = readable_.equal_range(fd);
        std::vector<std::shared_ptr<Entry>> due;
        for (auto it = b; it != e; ++it) due.push_back(it->second);
        readable_.erase(b, e);
        for (auto& w : due) {
          if (w->cancelled) continue;
          w->cancelled = true;  // one shot
          w->fn();
          progress = true;
        }
      }
    }
  }

  // Lets `d` pass on the loop's clock (the real one plus every advance so far): fires, in time
  // order, every timer due by then (and those they set that fall due within it too), running
  // what each one causes.
  void advance(std::chrono::steady_clock::duration d) {
    skipped_ += d;
    const auto until = std::chrono::steady_clock::now() + skipped_;
    run();
    while (!timers_.empty() && timers_.begin()->first <= until) {
      auto e = timers_.begin()->second;
      timers_.erase(timers_.begin());
      if (e->cancelled) continue;
      e->cancelled = true;
      e->fn();
      run();
    }
  }

  // Timers still armed (not cancelled, not fired).
  std::size_t armed_timers() const {
    std::size_t n = 0;
    for (const auto& [t, e] : timers_) n += e->cancelled ? 0 : 1;
    return n;
  }
  int blocking_jobs() const { return blocking_jobs_; }

 private:
  struct Entry {
    virtual ~Entry() = default;
    std::function<void()> fn;
    bool cancelled = false;
  };
  struct Reader : Entry {
    bool paused = false;
    UniqueFd fd;
    std::function<void(std::string_view)> on_data;
    std::function<void()> on_eof;
  };
  class EntryWatch final : public Watch {
   public:
    explicit EntryWatch(std::shared_ptr<Entry> e) : e_(std::move(e)) {}
    ~EntryWatch() override { cancel(); }
    void cancel() override { e_->cancelled = true; }

   private:
    std::shared_ptr<Entry> e_;
  };

  class ReaderWatch final : public ReadWatch {
   public:
    explicit ReaderWatch(std::shared_ptr<Reader> r) : r_(std::move(r)) {}
    ~ReaderWatch() override { cancel(); }
    void cancel() override {
      r_->cancelled = true;
      r_->fd.reset();
    }
    void pause() override { r_->paused = true; }
    void resume() override { r_->paused = false; }

   private:
    std::shared_ptr<Reader> r_;
  };

  // Reads what `r`'s pipe holds now; true when something happened.
  static bool pump(Reader& r) {
    bool progress = false;
    char buf[4096];
    while (!r.cancelled && !r.paused && r.fd) {
      ssize_t n = ::read(r.fd.get(), buf, sizeof buf);
      if (n > 0) {
        r.on_data(std::string_view(buf, static_cast<std::size_t>(n)));
        progress = true;
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      r.fd.reset();  // EOF or error: as the Asio loop, on_eof once
      r.on_eof();
      return true;
    }
    return progress;
  }

  std::deque<std::function<void()>> queue_;
  std::multimap<std::chrono::steady_clock::time_point, std::shared_ptr<Entry>> timers_;
  std::multimap<int, std::shared_ptr<Entry>> readable_;
  std::vector<std::shared_ptr<Reader>> readers_;
  std::set<int> ready_;
  std::chrono::steady_clock::duration skipped_{};  // time advance() let pass
  int blocking_jobs_ = 0;
};

}  // namespace lj::daemon::testing
