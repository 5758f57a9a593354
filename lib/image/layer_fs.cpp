#include "image/layer_fs.hpp"

#include <fcntl.h>
#include <sys/stat.h>

#include "common/fd.hpp"

namespace lj::image::layer_fs {

int walk_beneath(int root_fd, const std::string& rel, int extra_flags, bool create) {
  UniqueFd cur(::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!cur) return -1;
  std::size_t i = 0;
  while (i < rel.size()) {
    std::size_t slash = rel.find('/', i);
    if (slash == std::string::npos) slash = rel.size();
    std::string comp = rel.substr(i, slash - i);
    i = slash + 1;
    if (create && ::mkdirat(cur.get(), comp.c_str(), 0755) != 0 && errno != EEXIST) return -1;
    int next = ::openat(cur.get(), comp.c_str(),
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC | extra_flags);
    if (next < 0) return -1;
    cur.reset(next);
  }
  return cur.release();
}

}  // namespace lj::image::layer_fs
