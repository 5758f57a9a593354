#include "daemon/backend_glue.hpp"

namespace lj::daemon {

Result<std::unique_ptr<jail::Backend>> open_backend() { return jail::make_backend(); }

}  // namespace lj::daemon
