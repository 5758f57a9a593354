// The Linux Jail: a jail's init supervised through its pidfd, with its cgroups and the status pipe
// lj-init reports the command's end on. Reap, then teardown, is the reverse of the spawn: reap init
// (which ends the pid namespace, so every process of the jail), read how the command ended, then
// remove the cgroups; the mounts went with the mount namespace.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"

namespace lj::jail {

// pidfd_send_signal(2).
int pidfd_send(int pidfd, int sig, siginfo_t* info = nullptr);

// /proc/PID/stat field 22: with the pid, what identifies a process across pid reuse.
// Errc::not_found when there is no such process.
Result<std::uint64_t> start_time_of(pid_t pid);

// A jail whose init is `pidfd`. child: we are init's parent (a spawned jail), so waitid() works
// and `status` is the read end of its status pipe; else (adopted) the exit is read from
// handle.status_file. `output`: the read ends of the output pipes taken back from init (adopt).
std::unique_ptr<Jail> make_linux_jail(JailHandle handle, UniqueFd pidfd, UniqueFd status,
                                      Cgroups cgroups, bool child,
                                      std::chrono::steady_clock::time_point deadline,
                                      std::pair<UniqueFd, UniqueFd> output = {});

}  // namespace lj::jail
