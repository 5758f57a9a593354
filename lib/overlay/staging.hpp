// A staging directory: root/.staging/<purpose>-<random>/, where a build assembles a layer or an
// import unpacks a world before one rename(2) publishes it. While a StagingDir object lives it
// holds an flock(2) on the directory, which tells Catalog::clean_staging (in any process) that
// the directory is in use; the kernel drops the lock when the process dies, so a crashed
// build's leftovers become cleanable without any pid bookkeeping.
//
// The destructor removes the directory (after proving nothing is mounted under it) unless it was
// released, i.e. published elsewhere by rename.
#pragma once

#include <filesystem>
#include <string_view>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/mount_table.hpp"
#include "overlay/root.hpp"

namespace lj::overlay {

class StagingDir {
 public:
  // Creates root/.staging (when missing) and a fresh, locked, mode 0700 directory in it.
  // `purpose` becomes the name's prefix ("build", "world"); it must match [a-z0-9-]+.
  static Result<StagingDir> create(const Root& root, std::string_view purpose,
                                   const MountTable& mounts = system_mount_table());

  StagingDir(StagingDir&&) noexcept = default;
  StagingDir& operator=(StagingDir&&) = delete;
  ~StagingDir();

  const std::filesystem::path& path() const { return path_; }

  // The directory was renamed away (published): do not remove anything at destruction.
  void release();
  // Removes the directory now, refusing (Errc::conflict) when something is mounted under it.
  Status remove();

 private:
  StagingDir(std::filesystem::path p, UniqueFd lock, const MountTable* mounts)
      : path_(std::move(p)), lock_(std::move(lock)), mounts_(mounts) {}

  std::filesystem::path path_;
  UniqueFd lock_;  // the directory itself, flock(LOCK_EX) held; -1 once released or removed
  const MountTable* mounts_;
};

// Tries to take the lock a StagingDir holds; true when nobody holds it (the directory is stale).
Result<bool> staging_entry_is_stale(const std::filesystem::path& dir);

}  // namespace lj::overlay
