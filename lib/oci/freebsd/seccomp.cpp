// FreeBSD has no seccomp: a config with linux.seccomp is refused by name.
#include "oci/config.hpp"

namespace lj::oci {

Result<std::vector<unsigned char>> compile_seccomp(const std::string&) {
  return fail(Errc::unsupported, "oci", "linux.seccomp is not supported on FreeBSD");
}

}  // namespace lj::oci
