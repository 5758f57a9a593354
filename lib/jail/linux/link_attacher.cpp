#include "jail/linux/link_attacher.hpp"

#include <sys/socket.h>

#include <exception>

namespace lj::jail {

Status LinkAttacher::Pending::wait() {
  if (done_.valid()) status_ = done_.get();
  return status_.value_or(Status{});
}

LinkAttacher::~LinkAttacher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

LinkAttacher::Pending LinkAttacher::start(std::function<Status()> attach, UniqueFd ready) {
  Pending p;
  std::lock_guard lock(mu_);
  Job& job = jobs_.emplace_back(Job{std::move(attach), std::move(ready), {}});
  p.done_ = job.done.get_future();
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  cv_.notify_one();
  return p;
}

void LinkAttacher::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, every job run
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    Status st;
    try {
      st = job.attach();
    } catch (const std::exception& e) {  // an allocation; the spawn must not wait for ever
      st = fail(Errc::internal, "jail", std::string("attaching the jail's links: ") + e.what());
    }
    // A failed send is not the links' failure: init is gone already (its record says why), or
    // it reads EOF once `ready` is closed and fails the spawn.
    if (st) (void)::send(job.ready.get(), "x", 1, MSG_NOSIGNAL);
    job.ready.reset();
    job.done.set_value(std::move(st));
  }
}

}  // namespace lj::jail
