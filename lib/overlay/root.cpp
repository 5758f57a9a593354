#include "overlay/root.hpp"

#include <sys/stat.h>

#include <cstdlib>
#include <string>

#include "common/sys.hpp"

namespace lj::overlay {
namespace {

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
  LJ_TRY(make_dir(worlds_dir(), 0755));
  LJ_TRY(make_dir(staging_dir(), 0700));
  LJ_TRY(make_dir(daemon_dir(), 0700));
  LJ_TRY(make_dir(rootfs_dir(), 0755));
  return {};
}

}  // namespace lj::overlay
