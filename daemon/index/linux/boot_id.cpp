#include "index/boot_id.hpp"

#include <fstream>

namespace lj::index::detail {

// A random UUID the kernel draws at boot (random(4), "boot_id"; since Linux 2.6.26).
std::string system_boot_id() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::string id;
  std::getline(in, id);
  return id;
}

}  // namespace lj::index::detail
