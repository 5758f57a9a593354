// A jail's network namespace (network mode none) made beside its spawn, when no pool has one
// ready (NetnsPool serves only processes that spawn more than once: ljoci and ljspawn spawn one
// jail each, and ljd's first spawn finds the pool empty). Made inside clone3 it was the dearest
// step of the spawn (copy_net_ns: the namespace's sysctls and its loopback device, ~0.5 ms of
// `ljoci run`'s 3); made by a helper on another CPU while the spawning thread makes the jail's
// cgroups and plans its root, it is ready, or nearly, when init is cloned, which joins it (setns).
//
// The helper is a process sharing our memory (CLONE_VM, no signal at its exit, so no reaper of
// ours sees it), on a small stack of its own, making system calls only and leaving errno alone: it
// runs on the spawning thread's thread block. A thread was dearer to start (pthread_create: 60-90
// µs against 20-30). It is born on another CPU than ours: left to the scheduler, it most often
// queued behind us on our CPU (measured on a 2-vCPU VM), where it only added its cost. With no
// other CPU allowed there is nothing to gain: start() declines and the jail makes its own
// namespace in clone3, as before.
//
// Nobody waits for it: the helper sends the namespace's descriptor on a socket (SCM_RIGHTS) and
// init, cloned meanwhile, receives it where it first needs the namespace (child.cpp), most often
// long after it was sent. The spawning thread waited for the helper before the clone (~0.2 ms of
// `ljoci run` in the benchmark). The helper has a descriptor table of its own (a copy), so that
// its end of the socket closes when it exits: a helper that failed, or died, sends nothing and init
// reads EOF, and makes a namespace itself (with a shared table, a helper killed before it closed
// its end would leave init waiting for good). The copy is the clone's: ~13 µs with a few
// descriptors, ~40 with 4,000 (ljd with ~1,000 live jails, when its pool is empty).
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
  ~NetnsAhead() { reap(); }

  // Starts making one (a new network namespace, loopback up), after the helper of an earlier
  // start, if any, has ended. False when it cannot help (one CPU allowed) or the helper did not
  // start: the jail makes its own.
  bool start() noexcept;
  // Started, and its socket's end not given away yet.
  bool started() const { return rx_.get() >= 0; }
  // The end the namespace arrives on: one byte with the namespace's descriptor (SCM_RIGHTS), or
  // EOF when making it failed. Once; the caller (init) owns it.
  UniqueFd receiver() noexcept { return std::move(rx_); }
  // Waits for the helper to end, which it does on its own once it has sent (or failed).
  void reap() noexcept;

 private:
  static int make(void* self) noexcept;

  static constexpr std::size_t kStack = 16 * 1024;
  std::unique_ptr<char[]> stack_;
  cpu_set_t other_{};  // the CPUs allowed but the spawning thread's
  UniqueFd pidfd_;
  UniqueFd rx_;
  int tx_ = -1;  // the helper's end, in its table only (ours is closed after the clone)
};

// Receives what NetnsAhead's helper sent on `rx`: the namespace, or -1 (EOF: it failed). System
// calls only (init calls it, on the spawner's memory).
int receive_netns(int rx) noexcept;

}  // namespace lj::jail
