// The jail backend this ljd runs on, or why there is none.
#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.hpp"
#include "daemon/config.hpp"
#include "jail/backend.hpp"

namespace lj::daemon {
// The backend of this root: its per-jail state in <root>/.ljd, its jails' cgroups in the root's
// own scope (cgroup_scope_of), all scopes together capped at jails_pids_max (BackendOptions).
Result<std::unique_ptr<jail::Backend>> open_backend(const Config& cfg);
// "scope-" and 16 hex digits of a hash of the root's absolute path: stable across restarts, one
// per root (the root lock keeps it to one ljd).
std::string cgroup_scope_of(const std::filesystem::path& root);
}
