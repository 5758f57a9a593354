// The syscall seam. Code that wants its failure paths tested calls a syscall through
// LJ_SYS(name, call): in production it is the call itself plus one relaxed atomic load; a test
// arms a fault (sys::inject_fault("mount", EBUSY)) and the next matching call fails with that
// errno instead, without touching the kernel. Names are the syscall's own ("mount", "clone3").
#pragma once

#include <atomic>
#include <cerrno>
#include <string_view>

namespace lj::sys {

// Arms a fault: the call of `name` numbered `nth` (0 = the next one) from now fails with `err`.
void inject_fault(std::string_view name, int err, int nth = 0);
// Disarms every fault.
void clear_faults();
// How many armed faults have fired since the last clear_faults().
int faults_fired();

namespace detail {
extern std::atomic<bool> armed;
bool take_fault(std::string_view name, int* err);
}  // namespace detail

// True (with errno set) when an armed fault claims this call.
inline bool faulted(std::string_view name) {
  if (!detail::armed.load(std::memory_order_relaxed)) return false;
  int err = 0;
  if (!detail::take_fault(name, &err)) return false;
  errno = err;
  return true;
}

}  // namespace lj::sys

// Evaluates `call` unless a fault is armed for `name`; then yields -1 with errno set.
#define LJ_SYS(name, call) (::lj::sys::faulted(name) ? -1 : (call))
