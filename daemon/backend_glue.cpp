#include "daemon/backend_glue.hpp"

namespace lj::daemon {

// Until lib/jail's backend is on main this build has none: the jail routes answer 501.
Result<std::unique_ptr<jail::Backend>> open_backend() {
  return fail(Errc::unsupported, "jail", "lib/jail has no backend in this build yet");
}

}  // namespace lj::daemon
