// A jail's network namespace (network mode none) made beside its spawn, when no pool has one
// ready (NetnsPool serves only processes that spawn more than once: ljoci and ljspawn spawn one
// jail each, and ljd's first spawn finds the pool empty). Made inside clone3 it was the dearest
// step of the spawn (copy_net_ns: the namespace's sysctls and its loopback device, ~0.5 ms of
// `ljoci run`'s 3); made by a helper on another CPU while the spawning thread makes the jail's
// cgroups and plans its root, it is ready, or nearly, when init is cloned, which joins it (setns).
//
// The helper is a process sharing our memory and descriptors (CLONE_VM|CLONE_FILES, no signal at
// its exit, so no reaper of ours sees it), on a small stack of its own, making system calls only
// and leaving errno alone: it runs on the spawning thread's thread block. A thread was dearer to
// start (pthread_create: 60-90 µs against 20-30). It is born on another CPU than ours: left to
// the scheduler, it most often queued behind us on our CPU (measured on a 2-vCPU VM), where it
// only added its cost. With no other CPU allowed there is nothing to gain: start() declines and
// the jail makes its own namespace in clone3, as before.
#pragma once

#include <sched.h>

#include <memory>

#include "common/fd.hpp"

namespace lj::jail {

class NetnsAhead {
 public:
  NetnsAhead() = default;
  NetnsAhead(const NetnsAhead&) = delete;
  NetnsAhead& operator=(const NetnsAhead&) = delete;
  ~NetnsAhead() { (void)take(); }  // waits for the helper: a namespace nobody took is closed

  // Starts making one (a new network namespace, loopback up). False when it cannot help (one
  // CPU allowed) or the helper did not start: the jail makes its own.
  bool start() noexcept;
  bool started() const { return pidfd_.get() >= 0; }
  // Waits for the helper: the namespace, or an empty descriptor when making it failed (the jail
  // then makes its own, and an error is the clone's to report).
  UniqueFd take() noexcept;

 private:
  static int make(void* self) noexcept;

  static constexpr std::size_t kStack = 16 * 1024;
  std::unique_ptr<char[]> stack_;
  cpu_set_t other_{};  // the CPUs allowed but the spawning thread's
  UniqueFd pidfd_;
  int fd_ = -1;  // the helper's result, read once it has exited
};

}  // namespace lj::jail
