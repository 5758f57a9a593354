// Network::attach_links, run beside the spawn: the caller's links (bridge port, addresses, rules)
// are made while the jail's init assembles its root, and init starts the command once they are
// (one byte on kSlotLinksReady). Not on the spawning thread, which sleeps until the command has
// exec'd (init runs on its memory, CLONE_VFORK), and not on a pool the spawns themselves run on:
// every thread of it could be a spawn waiting for its links. One thread of the backend's, jobs
// in order (the caller's host serialises attaches anyway), started by the first job.
//
// Threads: start() from any thread; Pending is its caller's.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::jail {

class LinkAttacher {
 public:
  // A job given to the thread: its status once it ran. Waited for at the latest by the
  // destructor (the job uses its caller's state).
  class Pending {
   public:
    Pending() = default;
    Pending(Pending&&) = default;
    Pending& operator=(Pending&&) = default;
    ~Pending() { (void)wait(); }
    explicit operator bool() const { return done_.valid() || status_.has_value(); }
    // Ok for a Pending that holds no job.
    Status wait();

   private:
    friend class LinkAttacher;
    std::future<Status> done_;
    std::optional<Status> status_;
  };

  LinkAttacher() = default;
  LinkAttacher(const LinkAttacher&) = delete;
  LinkAttacher& operator=(const LinkAttacher&) = delete;
  ~LinkAttacher();  // runs the jobs given, then stops

  // Runs `attach` on the thread, then writes one byte on `ready` when it succeeded; `ready` is
  // closed either way (a socket: a reader gone does not raise SIGPIPE).
  Pending start(std::function<Status()> attach, UniqueFd ready);

 private:
  struct Job {
    std::function<Status()> attach;
    UniqueFd ready;
    std::promise<Status> done;
  };
  void run();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;
  std::thread thread_;
  bool stop_ = false;
};

}  // namespace lj::jail
