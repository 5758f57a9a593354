// Descriptor numbers reserved early, while the process holds few: a jail's init starts in our
// descriptor table (CLONE_FILES) and makes it private with close_range (CLOSE_RANGE_UNSHARE),
// which copies only the numbers below a bound. Every descriptor the jail takes along is first
// dup'd onto a block of these, so init copies a few dozen descriptors instead of all of ours: ~4
// per live jail (pidfd, status and output pipes), and copying and closing them all made a spawn at
// 1,000 live jails ~1 ms dearer (perf: dup_fd, filp_flush). A spawn finding no free block (more at
// once than blocks) copies the whole table, as before.
//
// Threads: take() and give() from any thread.
#pragma once

#include <mutex>

#include "jail/linux/child.hpp"

namespace lj::jail {

class FdBlocks {
 public:
  static constexpr int kFds = kSlotEnd + 1;  // the slots, then our pidfd
  struct Block {
    int fd[kFds];
    bool busy = false;
  };

  FdBlocks() = default;
  FdBlocks(const FdBlocks&) = delete;
  FdBlocks& operator=(const FdBlocks&) = delete;
  ~FdBlocks();

  // A free block, or nullptr. The blocks are made at the second spawn (a process that spawns once,
  // ljspawn, holds few descriptors anyway), early in a daemon's life, while it holds few.
  Block* take();
  // /dev/null back on every number (dropping our copies of the jail's descriptors): only once
  // init has its private table, that is once clone(CLONE_VFORK) has returned. Raw system calls
  // only (raw_syscall.h): the caller's errno may be a process's of ours.
  void drop(Block* b) noexcept;
  // The block free again, its descriptors dropped.
  void give(Block* b);
  // Above every number of every block.
  unsigned bound() const { return static_cast<unsigned>(bound_); }

 private:
  void make();

  std::mutex mu_;
  Block blocks_[8];  // ljd spawns from its two pools of 4 threads (jails, builds) at most
  int null_ = -1;
  int bound_ = 0;
  unsigned asked_ = 0;
  bool made_ = false, ok_ = true;
};

// One spawn's block, if it got one: its descriptors dropped by drop() as soon as clone has
// returned (the error pipe's write end is among them), and given back at the latest when the
// spawn's state goes.
class FdBlockLease {
 public:
  FdBlockLease() = default;
  FdBlockLease(const FdBlockLease&) = delete;
  FdBlockLease& operator=(const FdBlockLease&) = delete;
  ~FdBlockLease() { give(); }
  void take(FdBlocks& blocks) {
    blocks_ = &blocks;
    block_ = blocks.take();
  }
  FdBlocks::Block* get() const { return block_; }
  void drop() noexcept {
    if (block_ && !dropped_) blocks_->drop(block_);
    dropped_ = block_ != nullptr;
  }
  void give() {
    drop();
    if (block_) blocks_->give(block_);
    block_ = nullptr;
    dropped_ = false;
  }

 private:
  FdBlocks* blocks_ = nullptr;
  FdBlocks::Block* block_ = nullptr;
  bool dropped_ = false;
};

}  // namespace lj::jail
