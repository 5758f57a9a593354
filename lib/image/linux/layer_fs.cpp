#include "image/layer_fs.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "common/fd.hpp"
#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"

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

int process_umask() {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  if (!fd) return -1;
  char buf[4096];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return -1;
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nUmask:");
  if (line == nullptr) return -1;
  char* end = nullptr;
  long mask = std::strtol(line + 7, &end, 8);
  if (end == line + 7 || mask < 0 || mask > 0777) return -1;
  return static_cast<int>(mask);
}

Status sync_trees(const std::vector<std::string>& trees) {
  if (trees.empty()) return {};
  return overlay::sync_tree(trees.front());
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

bool is_whiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && st.st_rdev == ::makedev(0, 0);
}

Result<bool> is_opaque(int dir_fd) {
  char v[2] = {};
  ssize_t n = ::fgetxattr(dir_fd, "trusted.overlay.opaque", v, sizeof v);
  if (n < 0) {
    if (errno == ENODATA || errno == ENOTSUP) return false;
    return fail_errno("image", "fgetxattr trusted.overlay.opaque");
  }
  return n == 1 && v[0] == 'y';
}

Result<std::vector<std::pair<std::string, std::string>>> read_xattrs(int fd) {
  std::vector<std::pair<std::string, std::string>> out;
  std::string names(4096, '\0');
  ssize_t n;
  while ((n = ::flistxattr(fd, names.data(), names.size())) < 0 && errno == ERANGE) {
    names.resize(names.size() * 4);
  }
  if (n < 0) {
    if (errno == ENOTSUP) return out;
    return fail_errno("image", "flistxattr");
  }
  for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
    std::string name(names.c_str() + i);
    i += name.size() + 1;
    std::string value(256, '\0');
    ssize_t m;
    while ((m = ::fgetxattr(fd, name.c_str(), value.data(), value.size())) < 0 && errno == ERANGE) {
      value.resize(value.size() * 4);
    }
    if (m < 0) {
      if (errno == ENODATA) continue;  // removed meanwhile
      return fail_errno("image", "fgetxattr " + name);
    }
    value.resize(static_cast<std::size_t>(m));
    out.emplace_back(std::move(name), std::move(value));
  }
  return out;
}

bool is_reserved_xattr(const std::string& name) {
  return name.rfind("trusted.overlay.", 0) == 0 || name.rfind("user.overlay.", 0) == 0;
}

}  // namespace lj::image::layer_fs
