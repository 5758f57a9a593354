// A jail's or an exec's status file (jail/status_file.hpp), opened for its monitor (lj-init or
// lj-exec), which writes the one line when the command ends.
#pragma once

#include <string>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::jail {

// Creates (truncates) the file with the space of its line taken now: a placeholder of blanks as
// long as the longest line, written at offset 0 without moving the descriptor's offset, which the
// monitor's line then overwrites before it cuts the file after the line (lj_init.c; blanks alone
// read as "not ended"). The command may end when the
// disk is full (its own output, a build, any other writer), and a status the monitor cannot write
// is an exit that a restarted ljd can only report as lost; an overwrite inside data already
// written needs no new space (ext4 and XFS reserve a delayed-allocation block at the first write,
// tmpfs charges the page then). No space for even this much is an error now, not a lost exit
// later. Not fallocate(2): a block allocated at once is discarded when the file is removed, and on
// a file system mounted with `discard` and no journal that is a synchronous discard, measured
// 2 to 4 ms on every container's deletion (docs/oci.md, Benchmark); a short-lived file's delayed
// block is never allocated at all.
Result<UniqueFd> open_status_file(const std::string& path);

}  // namespace lj::jail
