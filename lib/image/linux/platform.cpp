#include <sys/utsname.h>

#include <string>

#include "image/spec.hpp"

namespace lj::image {

Platform host_platform() {
  struct utsname u {};
  ::uname(&u);
  std::string m = u.machine;
  // uname's names -> Go's GOARCH names, which the image spec uses.
  if (m == "x86_64") m = "amd64";
  else if (m == "aarch64") m = "arm64";
  else if (m == "i686" || m == "i386") m = "386";
  return Platform{"linux", m, m == "arm64" ? "v8" : ""};
}

}  // namespace lj::image
