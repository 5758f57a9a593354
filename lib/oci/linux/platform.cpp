#include "oci/config.hpp"

namespace lj::oci {

Platform host_platform() { return Platform::linux_host; }

}  // namespace lj::oci
