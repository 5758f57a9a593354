#include "jail/linux/status_file_open.hpp"

#include <fcntl.h>

#include <cerrno>

#include "common/sys.hpp"

namespace lj::jail {

Result<UniqueFd> open_status_file(const std::string& path) {
  UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)));
  if (!fd) return fail_errno("jail", "open " + path);
  // "killed 128\n" and the like: a block is the least any file system allocates.
  constexpr off_t kReserve = 4096;
  if (LJ_SYS("fallocate", ::fallocate(fd.get(), FALLOC_FL_KEEP_SIZE, 0, kReserve)) != 0 &&
      errno != EOPNOTSUPP && errno != ENOSYS)
    return fail_errno("jail", "reserve space for the status file " + path);
  return fd;
}

}  // namespace lj::jail
