// The jail backend this ljd runs on, or why there is none.
#pragma once

#include <filesystem>
#include <memory>

#include "common/error.hpp"
#include "jail/backend.hpp"

namespace lj::daemon {
// `state_dir`: the backend's per-jail state (BackendOptions), <root>/.ljd.
Result<std::unique_ptr<jail::Backend>> open_backend(const std::filesystem::path& state_dir);
}
