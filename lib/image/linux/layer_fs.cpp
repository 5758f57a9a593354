#include "image/layer_fs.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "common/fd.hpp"
#include "common/sys.hpp"

namespace lj::image::layer_fs {

int open_dir_beneath(int root_fd, const std::string& rel) {
  if (rel.empty()) return ::openat(root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
  long fd = LJ_SYS("openat2", ::syscall(SYS_openat2, root_fd, rel.c_str(), &how, sizeof how));
  if (fd >= 0) return static_cast<int>(fd);
  // Kernels before 5.6, or a seccomp filter that hides openat2.
  if (errno == ENOSYS) return walk_beneath(root_fd, rel, 0, false);
  return -1;
}

Status make_whiteout(int dir_fd, const std::string& name) {
  if (LJ_SYS("mknodat", ::mknodat(dir_fd, name.c_str(), S_IFCHR | 0, ::makedev(0, 0))) != 0) {
    return fail_errno("image", "mknodat whiteout " + name);
  }
  return {};
}

Status make_opaque(int dir_fd) {
  if (LJ_SYS("fsetxattr", ::fsetxattr(dir_fd, "trusted.overlay.opaque", "y", 1, 0)) != 0) {
    return fail_errno("image", "fsetxattr trusted.overlay.opaque");
  }
  return {};
}

Status set_xattr(int fd, const std::string& name, const void* value, std::size_t size) {
  if (LJ_SYS("fsetxattr", ::fsetxattr(fd, name.c_str(), value, size, 0)) != 0) {
    return fail_errno("image", "fsetxattr " + name);
  }
  return {};
}

bool is_reserved_xattr(const std::string& name) {
  return name.rfind("trusted.overlay.", 0) == 0 || name.rfind("user.overlay.", 0) == 0;
}

}  // namespace lj::image::layer_fs
