#include <sys/utsname.h>

#include <string>

#include "image/spec.hpp"

namespace lj::image {

Platform host_platform() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;  // hw.machine: "amd64", "arm64", "i386" (already GOARCH names)
  if (m == "aarch64") m = "arm64";
  return Platform{"freebsd", m, ""};
}

}  // namespace lj::image
