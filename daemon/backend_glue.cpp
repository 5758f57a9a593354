#include "daemon/backend_glue.hpp"

namespace lj::daemon {

Result<std::unique_ptr<jail::Backend>> open_backend(const std::filesystem::path& state_dir) {
  jail::BackendOptions options;
  options.state_dir = state_dir;
  return jail::make_backend(options);
}

}  // namespace lj::daemon
