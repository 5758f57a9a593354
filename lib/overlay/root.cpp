#include "overlay/root.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "common/sys.hpp"

namespace lj::overlay {
namespace {

// The store's top directories: only the user running ljd (root) goes in (restrict_access).
constexpr mode_t kPrivateMode = 0700;

Status make_dir(const std::filesystem::path& p, mode_t mode) {
  if (LJ_SYS("mkdir", ::mkdir(p.c_str(), mode)) == 0) return {};
  int err = errno;
  struct stat st {};
  if (err == EEXIST && ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
  return fail_errno("overlay", "mkdir " + p.string(), err == EEXIST ? ENOTDIR : err);
}

}  // namespace

bool is_reserved_top_level(std::string_view entry) {
  return entry == kWorldsDir || entry == kImagesDir || (!entry.empty() && entry.front() == '.');
}

Root Root::from_env() {
  return Root(root_from_env());
}

Status Root::create_skeleton() const {
  // The root's own parents may be missing (a fresh /usr/local/lj); create them 0755.
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec) return fail_errno("overlay", "creating root " + dir_.string(), ec.value());
  LJ_TRY(make_dir(worlds_dir(), kPrivateMode));
  LJ_TRY(make_dir(staging_dir(), kPrivateMode));
  LJ_TRY(make_dir(daemon_dir(), kPrivateMode));
  LJ_TRY(make_dir(rootfs_dir(), 0755));
  return restrict_access();
}

Status Root::restrict_access() const {
  auto restrict_dir = [](const std::filesystem::path& p) -> Status {
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      if (errno == ENOENT) return {};
      return fail_errno("overlay", "stat " + p.string());
    }
    if (!S_ISDIR(st.st_mode) || (st.st_mode & 07777) == kPrivateMode) return {};
    if (LJ_SYS("chmod", ::chmod(p.c_str(), kPrivateMode)) != 0) {
      return fail_errno("overlay", "chmod 0700 " + p.string());
    }
    return {};
  };
  LJ_TRY(restrict_dir(worlds_dir()));
  LJ_TRY(restrict_dir(dir_ / kImagesDir));  // OCI layers keep their set-id files (lib/image)
  LJ_TRY(restrict_dir(staging_dir()));
  LJ_TRY(restrict_dir(daemon_dir()));
  // The overlay namespaces: every top-level directory that is not reserved.
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (!is_reserved_top_level(name)) LJ_TRY(restrict_dir(it->path()));
  }
  if (ec) return fail_errno("overlay", "read " + dir_.string(), ec.value());
  return {};
}

}  // namespace lj::overlay
