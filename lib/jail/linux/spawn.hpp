// Starting one Linux jail, as a checklist of named steps (spawn.cpp, in the manner of nsjail's
// containProc): prepare the root, the command, the descriptors and the cgroups; clone init; the
// parent's side (uid/gid maps, the network, the sync byte); wait for the command's exec. What the
// steps make is owned by one Launch, whose members are declared in the order the steps make them,
// so a failed step unwinds the rest in reverse (C++ destroys members last-declared first).
#pragma once

#include <linux/filter.h>

#include <memory>

#include "common/error.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/fd_blocks.hpp"
#include "jail/linux/netns_pool.hpp"
#include "jail/linux/stack_pool.hpp"

namespace lj::jail {

// What every spawn of one backend draws on; owned by the backend, shared by its spawns (each
// pool is thread-safe).
struct SpawnContext {
  const sock_fprog* seccomp = nullptr;  // the jails' filter, loaded by init
  int reaper = -1;                      // the lj-init memfd init execs
  int self_pidfd = -1;                  // this process, for die_with_parent
  NetnsPool* netns = nullptr;
  StackPool* stacks = nullptr;
  FdBlocks* fd_blocks = nullptr;
  const CgroupScope* cgroups = nullptr;  // where the jails' cgroups go (null: the base)
};

// Starts a jail for a spec validate_spec() accepted. On failure everything made so far is
// undone before returning (the child killed and reaped, cgroups removed, descriptors closed).
Result<std::unique_ptr<Jail>> spawn_jail(const JailSpec& spec, const SpawnContext& ctx);

}  // namespace lj::jail
