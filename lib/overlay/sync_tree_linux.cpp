// Linux: syncfs(2) flushes the whole filesystem holding the tree in one call.
#include <fcntl.h>
#include <unistd.h>

#include "common/fd.hpp"
#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::overlay {

Status sync_tree(const std::filesystem::path& dir) {
  UniqueFd fd(LJ_SYS("open", ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
  if (!fd) return fail_errno("overlay", "open " + dir.string());
  if (LJ_SYS("syncfs", ::syncfs(fd.get())) != 0) {
    return fail_errno("overlay", "syncfs " + dir.string());
  }
  return {};
}

}  // namespace lj::overlay
