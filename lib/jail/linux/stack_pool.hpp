// Stacks for a jail's init and its command while they run in the daemon's address space (one
// mapping: a guard page, the command's stack, a guard page, init's stack). Reused: a munmap in a
// multi-threaded process costs a TLB shootdown on every core, and a stack handed back is only
// ever reused once both its users have exec'd or died (the error pipe's EOF, see spawn.cpp).
//
// Threads: take() and give() from any thread.
#pragma once

#include <cstddef>
#include <mutex>
#include <vector>

#include "common/error.hpp"

namespace lj::jail {

class StackPool {
 public:
  static constexpr std::size_t kPage = 4096, kCommand = 64 * 1024, kInit = 192 * 1024;
  static constexpr std::size_t kSize = kPage + kCommand + kPage + kInit;

  StackPool() = default;
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool();

  // The mapping's base; give() it back.
  Result<char*> take();
  void give(char* s);

  static char* command_top(char* s) { return s + kPage + kCommand; }
  static char* init_bottom(char* s) { return s + kPage + kCommand + kPage; }

 private:
  static constexpr std::size_t kKeep = 8;
  std::mutex mu_;
  std::vector<char*> free_;
};

// One spawn's stacks, handed back when it goes: declared before the child's owner (spawn.cpp), so
// that both users of the stacks are dead or exec'd by then.
class StackLease {
 public:
  StackLease() = default;
  StackLease(const StackLease&) = delete;
  StackLease& operator=(const StackLease&) = delete;
  ~StackLease() {
    if (base_) pool_->give(base_);
  }
  Status take(StackPool& pool) {
    pool_ = &pool;
    base_ = LJ_TRY(pool.take());
    return {};
  }
  char* base() const { return base_; }

 private:
  StackPool* pool_ = nullptr;
  char* base_ = nullptr;
};

}  // namespace lj::jail
