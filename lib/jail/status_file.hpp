// JailSpec::status_file: where a jail's init leaves the main command's exit status, so that an ljd
// restarted after a crash can still learn how a jail it no longer parents ended. One line,
// "exited N" or "killed N". Linux's init writes it with raw write(2)s (child.cpp, no allocation
// after clone); everything else reads and writes it through these two functions.
#pragma once

#include <optional>
#include <string>

#include "jail/backend.hpp"

namespace lj::jail {

// The file's line for a status: "exited N\n" or "killed N\n".
std::string status_line(const ExitStatus& status);

// How a process ended, from its wait(2) status (WIFSIGNALED/WTERMSIG, else WEXITSTATUS).
ExitStatus exit_status_of_wait(int wait_status);

// How an exec or a jail ended, from what its monitor left: the raw wait status it sent on its
// pipe when there is one, else the status file, else lost (the monitor was killed first).
ExitStatus reaped_status(std::optional<int> wait_status, const std::string& status_file);

// The status in such a file; nullopt when it is missing, empty, unfinished or not in the format.
std::optional<ExitStatus> read_status_file(const std::string& path);

}  // namespace lj::jail
