// Our address space closed to ptrace(2), /proc/PID/mem and process_vm_writev(2) while a process
// of a running jail runs in it: an exec's process (exec.cpp) runs the daemon's memory from its
// clone into the jail's pid namespace until its execve, its last steps with the jail's uid and
// capabilities; with the mm dumpable, any process of the jail with that uid could attach to it
// (__ptrace_may_access lets a caller with the same ids and a superset of the target's
// capabilities in, unless the mm is not dumpable), that is to ljd. PR_SET_DUMPABLE belongs to the
// whole process (the mm): a count of such processes, the flag 0 while it is not zero and back to
// what it was after the last one has exec'd or died (the exec's error pipe at EOF).
//
// Threads: any.
#pragma once

#include "common/error.hpp"

namespace lj::jail {

class UndumpableLease {
 public:
  UndumpableLease() = default;
  UndumpableLease(const UndumpableLease&) = delete;
  UndumpableLease& operator=(const UndumpableLease&) = delete;
  ~UndumpableLease();

  // The process non-dumpable until this lease (and every other one taken) is gone.
  Status take();

 private:
  bool held_ = false;
};

}  // namespace lj::jail
