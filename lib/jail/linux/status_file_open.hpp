// A jail's or an exec's status file (jail/status_file.hpp), opened for its monitor (lj-init or
// lj-exec), which writes the one line when the command ends.
#pragma once

#include <string>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::jail {

// Creates (truncates) the file with the blocks of its line reserved now (fallocate with
// FALLOC_FL_KEEP_SIZE: it stays empty, which reads as "not ended"). The command may end when the
// disk is full (its own output, a build, any other writer), and a status the monitor cannot write
// is an exit that a restarted ljd can only report as lost. File systems without fallocate keep
// the old behaviour; no space for even this much is an error now, not a lost exit later.
Result<UniqueFd> open_status_file(const std::string& path);

}  // namespace lj::jail
