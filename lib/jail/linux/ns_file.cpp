#include "jail/linux/ns_file.hpp"

#include <sys/stat.h>

namespace lj::jail {

Result<bool> same_namespace(const std::string& a, const std::string& b) {
  struct stat sa {}, sb {};
  if (::stat(a.c_str(), &sa) != 0) return fail_errno("jail", "stat " + a);
  if (::stat(b.c_str(), &sb) != 0) return fail_errno("jail", "stat " + b);
  return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

}  // namespace lj::jail
