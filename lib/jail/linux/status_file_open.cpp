#include "jail/linux/status_file_open.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>

#include "common/sys.hpp"

namespace lj::jail {

Result<UniqueFd> open_status_file(const std::string& path) {
  UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)));
  if (!fd) return fail_errno("jail", "open " + path);
  // The longest line is "killed 128\n" or "exited 255\n"; the reader skips the blanks after it.
  constexpr char kPlaceholder[] = "               \n";
  constexpr std::size_t kLen = sizeof kPlaceholder - 1;
  if (LJ_SYS("pwrite", ::pwrite(fd.get(), kPlaceholder, kLen, 0)) != static_cast<ssize_t>(kLen))
    return fail_errno("jail", "reserve space for the status file " + path);
  return fd;
}

}  // namespace lj::jail
