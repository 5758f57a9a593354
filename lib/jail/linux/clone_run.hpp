// clone3(2) that runs a function on the new stack, as glibc's clone(2) does for the old system
// call, which has no CLONE_INTO_CGROUP. A jail's init is started with CLONE_VM|CLONE_VFORK on a
// stack of its own (backend.cpp): without this, init could not share the daemon's address space
// and also be cloned into its v2 cgroup.
#pragma once

#include <linux/sched.h>

#include <cstddef>

namespace lj::jail {

// Whether this architecture has the trampoline (x86_64, aarch64) and the build is not under
// AddressSanitizer. Otherwise the backend clones with a copy of the address space.
bool clone_run_supported();

// clone3(args): in the child, calls fn(arg) on the stack args->stack/stack_size (required) and
// exits with its return value; in the parent, returns the child's pid, or -1 with errno.
long clone_run(struct clone_args* args, int (*fn)(void*), void* arg);

}  // namespace lj::jail
