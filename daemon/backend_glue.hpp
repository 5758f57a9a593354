// The jail backend this ljd runs on, or why there is none.
#pragma once

#include <memory>

#include "common/error.hpp"
#include "jail/backend.hpp"

namespace lj::daemon {
Result<std::unique_ptr<jail::Backend>> open_backend();
}
