#include "jail/linux/undumpable.hpp"

#include <sys/prctl.h>

#include <mutex>

namespace lj::jail {
namespace {

std::mutex mu;
int holders = 0;  // under mu
int before = 1;   // PR_GET_DUMPABLE when the first holder came, under mu

}  // namespace

Status UndumpableLease::take() {
  std::lock_guard lock(mu);
  if (holders == 0) {
    before = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
    if (before != 0 && ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
      return fail_errno("jail", "prctl PR_SET_DUMPABLE 0");
  }
  ++holders;
  held_ = true;
  return {};
}

UndumpableLease::~UndumpableLease() {
  if (!held_) return;
  std::lock_guard lock(mu);
  // 2 (suid_dumpable) cannot be set by prctl: it stays 0, the safer of the two.
  if (--holders == 0 && before == 1) ::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

}  // namespace lj::jail
