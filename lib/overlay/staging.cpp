#include "overlay/staging.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#include <string>

#include "common/log.hpp"
#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::overlay {
namespace {

bool valid_purpose(std::string_view p) {
  if (p.empty() || p.size() > 32) return false;
  for (char c : p) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

}  // namespace

Result<StagingDir> StagingDir::create(const Root& root, std::string_view purpose,
                                      const MountTable& mounts) {
  if (!valid_purpose(purpose)) {
    return fail(Errc::invalid_argument, "overlay",
                "staging purpose \"" + std::string(purpose) + "\" must match [a-z0-9-]{1,32}");
  }
  const auto base = root.staging_dir();
  if (LJ_SYS("mkdir", ::mkdir(base.c_str(), 0700)) != 0 && errno != EEXIST) {
    return fail_errno("overlay", "mkdir " + base.string());
  }
  // A concurrent clean_staging() may lock (and delete) a directory between our mkdir and our
  // flock; then the lock fails, or succeeds on a deleted inode: retry with another name.
  for (int attempt = 0; attempt < 8; ++attempt) {
    auto p = base / (std::string(purpose) + "-" + random_token(12));
    if (LJ_SYS("mkdir", ::mkdir(p.c_str(), 0700)) != 0) {
      if (errno == EEXIST) continue;
      return fail_errno("overlay", "mkdir " + p.string());
    }
    UniqueFd fd(LJ_SYS("open", ::open(p.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
    if (!fd) {
      if (errno == ENOENT) continue;
      return fail_errno("overlay", "open " + p.string());
    }
    if (LJ_SYS("flock", ::flock(fd.get(), LOCK_EX | LOCK_NB)) != 0) {
      if (errno == EWOULDBLOCK) continue;
      return fail_errno("overlay", "flock " + p.string());
    }
    struct stat by_fd {
    }, by_path{};
    if (::fstat(fd.get(), &by_fd) != 0 || ::lstat(p.c_str(), &by_path) != 0 ||
        by_fd.st_ino != by_path.st_ino || by_fd.st_dev != by_path.st_dev) {
      continue;
    }
    return StagingDir(std::move(p), std::move(fd), &mounts);
  }
  return fail(Errc::busy, "overlay", "could not create a staging directory in " + base.string());
}

StagingDir::~StagingDir() {
  if (!lock_) return;
  if (auto s = remove(); !s) {
    // Nothing to return to: the directory stays and clean_staging() retries at the next start.
    log("overlay")->error("leaving staging dir={} error=\"{}\"", path_.string(), s.error().what());
  }
}

void StagingDir::release() {
  lock_.reset();
}

Status StagingDir::remove() {
  LJ_TRY(ensure_nothing_mounted(*mounts_, path_));
  LJ_TRY(remove_tree(path_));
  lock_.reset();
  return {};
}

Result<bool> staging_entry_is_stale(const std::filesystem::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return fail_errno("overlay", "open " + dir.string());
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) return false;
    return fail_errno("overlay", "flock " + dir.string());
  }
  return true;
}

}  // namespace lj::overlay
