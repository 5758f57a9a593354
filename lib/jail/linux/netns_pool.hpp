// Network namespaces made ahead of time. A jail's own network namespace (network mode none) is
// the dearest part of clone3 in ljd: copy_net_ns registers the namespace's sysctls and its
// loopback device (perf of ljd through its API: a third of clone3, a tenth of ljd's time). A
// thread of ours makes a few in advance (unshare in that thread, loopback up, a descriptor kept,
// back to our own), and init joins one with setns. Only processes that spawn more than once use
// it (ljspawn spawns one jail: it would only pay for a namespace nobody takes; a spawn that finds
// none ready makes its own beside it, NetnsAhead). Idle namespaces hold no process; closing the
// descriptor frees them.
//
// Threads: take() from any thread; the pool's own thread makes the namespaces.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <thread>
#include <vector>

#include "common/fd.hpp"

namespace lj::jail {

class NetnsPool {
 public:
  NetnsPool() = default;
  NetnsPool(const NetnsPool&) = delete;
  NetnsPool& operator=(const NetnsPool&) = delete;
  ~NetnsPool();

  // A ready namespace, or an empty descriptor (then the caller makes its own). *sysfs: the
  // pool's own namespace for /sys (AssembleOptions::sysfs_netns_fd) once made, else -1; it
  // stays open as long as the pool.
  UniqueFd take(int* sysfs);

 private:
  static constexpr std::size_t kReady = 2;  // two clients' worth

  void run();
  // Leaves this thread in `own` again whatever happens (or aborts: see the .cpp).
  UniqueFd make(int own);

  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<UniqueFd> ready_;
  UniqueFd sysfs_;  // a namespace no jail runs in: every jail's /sys shows it
  std::thread thread_;
  unsigned asked_ = 0;
  bool stop_ = false, failed_ = false;
};

}  // namespace lj::jail
