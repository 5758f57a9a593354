// The OCI createContainer and startContainer hooks (ProcessOptions::create_hooks, start_hooks)
// as a jail's own process runs them, for both backends. The spawner prepares each hook's argv and
// envp before its clone (Linux) or pdfork (FreeBSD); the child, a copy of a possibly
// multi-threaded process, runs them with system calls only (signal-safety(7)): no allocation, no
// locks, no logging. Where and when each point runs is the backend's (spec.hpp ProcessOptions).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "jail/spec.hpp"

namespace lj::jail {

struct PreparedHook {
  std::string path;
  std::vector<std::string> argv_storage, env_storage;
  std::vector<char*> argv, envp;  // null-terminated, into the storage above
  int timeout_s = 0;
};

// One point's hooks, ready. Not copyable in effect: argv and envp point into the list's own
// strings (a move keeps them: the list's elements stay where they are).
struct PreparedHooks {
  const char* kind = "";  // "createContainer", "startContainer": named in a failure
  std::vector<PreparedHook> list;
  std::string state_head, state_tail;  // HookPoint's
  bool empty() const { return list.empty(); }
};

// `point`'s hooks into `out`: argv just the path when the hook gives none, env exactly as given.
void prepare_hooks(const HookPoint& point, const char* kind, PreparedHooks& out);

// What a failed hook reports: step "<kind> hook"; detail "<path>: exit status N", ": killed by
// signal N", ": timed out after Ns" or ": <call>" (err its errno); err ETIMEDOUT for a timeout,
// 0 for a hook that ran and failed.
struct HookFailure {
  char step[48];
  char detail[256];
  int err = 0;
};

// Runs the hooks one after the other as the calling process's children (its jail, ids, working
// directory and descriptors but the close-on-exec ones), each with the state on its stdin (head,
// the caller's pid as it sees itself, tail) and waited for, killed at its timeout. True when
// every one exited 0; else false at the first that did not, with *f filled. Syscalls only.
bool run_hooks(const PreparedHooks& hs, HookFailure* f) noexcept;

// A failed startContainer hook after a hold (ProcessOptions::hold_fd), when nobody reads the
// spawn's report any more: "ljoci: <step> <detail>" on stderr and exit 127, as an exec failure.
[[noreturn]] void exit_held_hook_failure(const HookFailure& f) noexcept;

// The two calls run_hooks makes that differ by platform, defined by each backend. An anonymous
// close-on-exec file for a hook's stdin: a writer would block on a hook that does not read it.
// A child as fork(2) makes one, without the atfork handlers a copy of a threaded process must not
// run: 0 in the child, its pid in the caller. Both -1 with errno on failure.
int hook_state_file() noexcept;
pid_t fork_for_hook() noexcept;

}  // namespace lj::jail
