// FreeBSD: the layer is stacked by unionfs (docs/layers.md "FreeBSD: unionfs"). A whiteout is a
// directory entry of type DT_WHT, which mknod(2) creates when given S_IFWHT (kern_mknodat in
// sys/kern/vfs_syscalls.c: VOP_WHITEOUT(CREATE); needs PRIV_VFS_MKNOD_WHT, i.e. root, and a
// filesystem that stores whiteouts: UFS does, ZFS does not). An opaque directory is one with
// the UF_OPAQUE flag, which unionfs checks before looking below it. Not run here: type-checked
// with scripts/check-freebsd only.
#include "image/layer_fs.hpp"

#include <sys/types.h>
#include <sys/extattr.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <unistd.h>

#include "common/fd.hpp"
#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"

// FreeBSD 13.0+ sys/fcntl.h; the older sysroot scripts/check-freebsd may use lacks it.
#ifndef O_RESOLVE_BENEATH
#define O_RESOLVE_BENEATH 0x00800000
#endif

namespace lj::image::layer_fs {

int open_dir_beneath(int root_fd, const std::string& rel) {
  return walk_beneath(root_fd, rel, O_RESOLVE_BENEATH, false);
}

// kern.proc.umask (sysctl) would tell; -1 keeps the unpacker's fchmod(2) per file.
int process_umask() { return -1; }

Status sync_trees(const std::vector<std::string>& trees) {
  for (const auto& t : trees) LJ_TRY(overlay::sync_tree(t));
  return {};
}

Status make_whiteout(int dir_fd, const std::string& name) {
  if (LJ_SYS("mknodat", ::mknodat(dir_fd, name.c_str(), S_IFWHT, 0)) != 0) {
    return fail_errno("image", "mknodat whiteout " + name);
  }
  return {};
}

Status make_opaque(int dir_fd) {
  struct stat st {};
  if (::fstat(dir_fd, &st) != 0) return fail_errno("image", "fstat for UF_OPAQUE");
  if (LJ_SYS("fchflags", ::fchflags(dir_fd, st.st_flags | UF_OPAQUE)) != 0) {
    return fail_errno("image", "fchflags UF_OPAQUE");
  }
  return {};
}

Status set_xattr(int fd, const std::string& name, const void* value, std::size_t size) {
  // libarchive names FreeBSD extattrs "user.NAME" and "system.NAME".
  int ns;
  std::string attr;
  if (name.rfind("user.", 0) == 0) {
    ns = EXTATTR_NAMESPACE_USER;
    attr = name.substr(5);
  } else if (name.rfind("system.", 0) == 0) {
    ns = EXTATTR_NAMESPACE_SYSTEM;
    attr = name.substr(7);
  } else {
    return fail(Errc::unsupported, "image", "extended attribute " + name + " has no FreeBSD namespace");
  }
  if (LJ_SYS("extattr_set_fd", ::extattr_set_fd(fd, ns, attr.c_str(), value, size)) < 0) {
    return fail_errno("image", "extattr_set_fd " + name);
  }
  return {};
}

bool is_whiteout(const struct stat& st) {
  return S_ISWHT(st.st_mode);
}

Result<bool> is_opaque(int dir_fd) {
  struct stat st {};
  if (::fstat(dir_fd, &st) != 0) return fail_errno("image", "fstat for UF_OPAQUE");
  return (st.st_flags & UF_OPAQUE) != 0;
}

Result<std::vector<std::pair<std::string, std::string>>> read_xattrs(int fd) {
  std::vector<std::pair<std::string, std::string>> out;
  for (auto [ns, prefix] : {std::pair<int, const char*>{EXTATTR_NAMESPACE_USER, "user."},
                            std::pair<int, const char*>{EXTATTR_NAMESPACE_SYSTEM, "system."}}) {
    ssize_t n = ::extattr_list_fd(fd, ns, nullptr, 0);
    if (n < 0) {
      if (errno == EPERM || errno == EOPNOTSUPP) continue;  // system.* needs root; no EA support
      return fail_errno("image", std::string("extattr_list_fd ") + prefix);
    }
    std::string list(static_cast<std::size_t>(n), '\0');
    n = ::extattr_list_fd(fd, ns, list.data(), list.size());
    if (n < 0) return fail_errno("image", std::string("extattr_list_fd ") + prefix);
    // Each name is a length byte, then the name (extattr_list_fd(2)).
    for (std::size_t i = 0; i < static_cast<std::size_t>(n);) {
      std::size_t len = static_cast<unsigned char>(list[i]);
      std::string name = list.substr(i + 1, len);
      i += len + 1;
      ssize_t m = ::extattr_get_fd(fd, ns, name.c_str(), nullptr, 0);
      if (m < 0) return fail_errno("image", "extattr_get_fd " + name);
      std::string value(static_cast<std::size_t>(m), '\0');
      m = ::extattr_get_fd(fd, ns, name.c_str(), value.data(), value.size());
      if (m < 0) return fail_errno("image", "extattr_get_fd " + name);
      value.resize(static_cast<std::size_t>(m));
      out.emplace_back(prefix + name, std::move(value));
    }
  }
  return out;
}

bool is_reserved_xattr(const std::string& name) {
  (void)name;
  return false;  // unionfs keeps no state in extended attributes
}

}  // namespace lj::image::layer_fs
