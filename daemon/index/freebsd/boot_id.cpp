#include "index/boot_id.hpp"

#include <sys/types.h>  // before sysctl.h (sysctl(3) SYNOPSIS)
#include <sys/sysctl.h>
#include <sys/time.h>

#include <string>

namespace lj::index::detail {

// kern.boottime: the time of this boot (sysctl(3)); it changes on every boot.
std::string system_boot_id() {
  struct timeval tv {};
  size_t len = sizeof(tv);
  if (::sysctlbyname("kern.boottime", &tv, &len, nullptr, 0) != 0) return {};
  return std::to_string(tv.tv_sec) + "." + std::to_string(tv.tv_usec);
}

}  // namespace lj::index::detail
