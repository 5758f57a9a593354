#include "oci/config.hpp"

namespace lj::oci {

Platform host_platform() { return Platform::freebsd_host; }

}  // namespace lj::oci
