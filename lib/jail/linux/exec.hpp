// The Linux side of Backend::exec and adopt_exec (jail/exec.hpp): join a running jail.
#pragma once

#include <memory>

#include "common/error.hpp"
#include "jail/backend.hpp"
#include "jail/linux/spawn.hpp"

namespace lj::jail {

// Starts spec in the jail `jail` names; returns once the process has exec'd (errors as
// Backend::exec). Everything made on the way is released on failure.
Result<std::unique_ptr<Exec>> exec_in_jail(const JailHandle& jail, const ExecSpec& spec,
                                           const SpawnContext& ctx);

// An exec of an earlier process, from its handle: Errc::not_found when its monitor is gone.
Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& handle);

}  // namespace lj::jail
