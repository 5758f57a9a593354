// FreeBSD has no syncfs(2); fsync(2) every file and directory of the tree.
#include "overlay/fs_ops.hpp"

namespace lj::overlay {

Status sync_tree(const std::filesystem::path& dir) {
  return fsync_tree(dir);
}

}  // namespace lj::overlay
