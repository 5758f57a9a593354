#include "jail/linux/netns_pool.hpp"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/log.hpp"
#include "jail/linux/child.hpp"

namespace lj::jail {

NetnsPool::~NetnsPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

UniqueFd NetnsPool::take(int* sysfs) {
  std::lock_guard lock(mu_);
  *sysfs = sysfs_.get();
  if (++asked_ < 2 || failed_) return UniqueFd();
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  UniqueFd fd;
  if (!ready_.empty()) {
    fd = std::move(ready_.back());
    ready_.pop_back();
  }
  cv_.notify_all();
  return fd;
}

void NetnsPool::run() {
  UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  {
    UniqueFd sysfs = make(own.get());
    std::lock_guard lock(mu_);
    sysfs_ = std::move(sysfs);  // none: every jail mounts its own sysfs, as before
  }
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || ready_.size() < kReady; });
      if (stop_) return;
    }
    UniqueFd made = make(own.get());
    std::lock_guard lock(mu_);
    if (!made) {
      failed_ = true;  // the jails make their own, as before
      return;
    }
    ready_.push_back(std::move(made));
  }
}

UniqueFd NetnsPool::make(int own) {
  if (own < 0 || ::unshare(CLONE_NEWNET) != 0) return UniqueFd();
  int err = 0;
  bool up = loopback_up(&err) == nullptr;
  UniqueFd fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (::setns(own, CLONE_NEWNET) != 0) {
    lj::log("jail")->error("network namespace pool: setns back: {}", std::strerror(errno));
    std::abort();  // a thread of ljd left in a foreign network namespace must not go on
  }
  if (!up) return UniqueFd();
  return fd;
}

}  // namespace lj::jail
