// Starting one Linux jail, as a checklist of named steps (spawn.cpp, in the manner of nsjail's
// containProc): prepare the root, the command, the descriptors and the cgroups; clone init; the
// parent's side (uid/gid maps, the network, the sync byte); wait for the command's exec. What the
// steps make is owned by one Launch, whose members are declared in the order the steps make them,
// so a failed step unwinds the rest in reverse (C++ destroys members last-declared first).
#pragma once

#include <linux/filter.h>
#include <linux/sched.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/fd_blocks.hpp"
#include "jail/linux/link_attacher.hpp"
#include "jail/linux/netns_ahead.hpp"
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
  NetnsAhead* prepared_netns = nullptr;  // Backend::prepare()'s, taken by the next spawn that can
  LinkAttacher* links = nullptr;  // Network::attach_links (null: run in line, before the clone)
  StackPool* stacks = nullptr;
  FdBlocks* fd_blocks = nullptr;
  const CgroupScope* cgroups = nullptr;  // where the jails' cgroups go (null: the base)
};

// Network mode none without a user namespace: a network namespace of the jail's own, which
// can be made ahead (NetnsPool, NetnsAhead) and joined; a user namespace's jail makes its own in
// clone3 (the namespace must belong to it).
inline bool wants_own_netns(const JailSpec& spec) {
  return spec.network.mode == NetworkMode::none && !spec.userns;
}

// Starts a jail for a spec validate_spec() accepted. On failure everything made so far is
// undone before returning (the child killed and reaped, cgroups removed, descriptors closed).
Result<std::unique_ptr<Jail>> spawn_jail(const JailSpec& spec, const SpawnContext& ctx);

// The parts of a plan a jail's command and an exec (exec.cpp) share. plan_command: the
// environment (PATH defaulted) and the PATH search list, argv/envp pointing into plan's storage
// (argv_storage filled by the caller first), workdir, user, terminal, RLIMIT_NOFILE and the
// engine's default capabilities. plan_process_options: ProcessOptions resolved (rlimit names,
// explicit capabilities, a caller's seccomp program, which `command_seccomp` then holds and must
// outlive the child); Errc::invalid_argument for an unknown rlimit or a malformed program.
void plan_command(const std::vector<std::string>& env, const std::string& workdir,
                  const std::string& user, const std::optional<Terminal>& tty,
                  std::uint64_t nofile, ChildPlan& plan);
// The error a child's failure record stands for: Errc::exec_failed for the command's execve,
// invalid_argument for an unknown user, else the step's errno with its detail.
Status child_failure(ChildError& record);
Status plan_process_options(const ProcessOptions& o, ChildPlan& plan, sock_fprog& command_seccomp);

// A child in our own address space (a jail's init, an exec's monitor), as spawn.cpp's clone_init
// says why. put_on_block: the plan's descriptors (and parent_pidfd) dup'd onto a reserved block
// of `blocks` when one is free, plan.private_fds_below set (the child unshares only those);
// without a free block the plan stays as it was (the child copies our whole table).
// clone_sharing_memory: clone3(args + CLONE_VM|CLONE_VFORK, CLONE_FILES with a block) running
// fn(&plan) on the init stack of `stacks`. The caller sleeps until the child has exec'd or died;
// the child's own child (the command, an exec's process) then still runs our memory, on this
// thread's block (errno), until its execve. So before it returns, this thread waits for that
// with raw system calls only (raw_syscall.h) and every signal still blocked (a handler saves
// and restores errno): it drops its write ends of the error pipe (`err_wr`, the block's copy) and
// reads `err_rd` to its EOF, into *record. The child's pid, or -1 with errno (no wait then).
// read_exec_record: the error pipe read to its EOF (every write end is close-on-exec): the record
// of the step that failed, if a child wrote one. Raw system calls only.
struct ExecRecord {
  ChildError error;
  std::size_t got = 0;
  bool failed() const { return got == sizeof error; }
};
ExecRecord read_exec_record(int err_rd) noexcept;
Status put_on_block(FdBlocks& blocks, FdBlockLease& lease, ChildPlan& plan);
long clone_sharing_memory(clone_args& args, FdBlockLease& block, const StackLease& stacks,
                          int (*fn)(void*), ChildPlan& plan, UniqueFd& err_wr, int err_rd,
                          ExecRecord* record);

}  // namespace lj::jail
