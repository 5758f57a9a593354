#include "jail/linux/fd_blocks.hpp"

#include "jail/linux/raw_syscall.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>

namespace lj::jail {

FdBlocks::~FdBlocks() {
  if (!made_) return;
  for (auto& b : blocks_)
    for (int fd : b.fd)
      if (fd >= 0) ::close(fd);
  if (null_ >= 0) ::close(null_);
}

FdBlocks::Block* FdBlocks::take() {
  std::lock_guard lock(mu_);
  if (!made_ && ++asked_ >= 2) make();
  if (!made_ || !ok_) return nullptr;
  for (auto& b : blocks_)
    if (!b.busy) {
      b.busy = true;
      return &b;
    }
  return nullptr;
}

void FdBlocks::drop(Block* b) noexcept {
  for (int fd : b->fd) lj_syscall(SYS_dup3, null_, fd, O_CLOEXEC, 0, 0);
}

void FdBlocks::give(Block* b) {
  std::lock_guard lock(mu_);
  b->busy = false;
}

void FdBlocks::make() {
  made_ = true;
  null_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  for (auto& b : blocks_)
    for (int& fd : b.fd) {
      fd = null_ < 0 ? -1 : ::fcntl(null_, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) ok_ = false;
      bound_ = std::max(bound_, fd + 1);
    }
}

}  // namespace lj::jail
