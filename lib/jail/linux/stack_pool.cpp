#include "jail/linux/stack_pool.hpp"

#include <sys/mman.h>

namespace lj::jail {

StackPool::~StackPool() {
  for (char* s : free_) ::munmap(s, kSize);
}

Result<char*> StackPool::take() {
  {
    std::lock_guard lock(mu_);
    if (!free_.empty()) {
      char* s = free_.back();
      free_.pop_back();
      return s;
    }
  }
  void* m = ::mmap(nullptr, kSize, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) return fail_errno("jail", "mmap the stacks of init and the command");
  char* s = static_cast<char*>(m);
  if (::mprotect(s, kPage, PROT_NONE) != 0 ||
      ::mprotect(s + kPage + kCommand, kPage, PROT_NONE) != 0) {
    ::munmap(m, kSize);
    return fail_errno("jail", "mprotect the stacks' guard pages");
  }
  return s;
}

void StackPool::give(char* s) {
  std::lock_guard lock(mu_);
  if (free_.size() < kKeep)
    free_.push_back(s);
  else
    ::munmap(s, kSize);
}

}  // namespace lj::jail
