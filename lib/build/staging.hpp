// The staging directory of one build, root/.staging/build-<id>/ with upper/ and work/ (the
// overlayfs writable layer handed to the build jail as MountPlan::writable_dir).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "overlay/root.hpp"

namespace lj::build {

class StagingDir {
 public:
  // Creates root/.staging/<name>/{upper,work} (mode 0755). Errc::exists when it is already there.
  static Result<StagingDir> create(const overlay::Root& root, const std::string& name);

  StagingDir(StagingDir&& o) noexcept : dir_(std::move(o.dir_)) { o.dir_.clear(); }
  StagingDir& operator=(StagingDir&&) = delete;
  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;
  // Removes the directory, unless something is mounted at or under it (then it is left, and a
  // warning names the mount: removing through a mount would delete what is mounted).
  ~StagingDir();

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path upper() const { return dir_ / "upper"; }
  std::filesystem::path work() const { return dir_ / "work"; }

  // Removes it now; the error says why it could not be.
  Status remove();
  // Forgets the directory: the caller has moved it away or owns it from now on.
  std::filesystem::path release() {
    auto d = std::move(dir_);
    dir_.clear();
    return d;
  }

 private:
  explicit StagingDir(std::filesystem::path dir) : dir_(std::move(dir)) {}
  std::filesystem::path dir_;
};

// Mount points at or below `dir` in this process's mount namespace (/proc/self/mountinfo).
Result<std::vector<std::filesystem::path>> mounts_under(const std::filesystem::path& dir);

// Creates the directories of `dest` ("/usr/local/app") below `upper` that are missing, each with
// the mode and owner of the same directory in the topmost lower layer that has it (0755 root
// otherwise), so that the copy does not change the merged view's /usr or /usr/local. A path that
// is not a directory in the layers (a symlink such as Debian's /bin -> usr/bin) is refused:
// copying through it would replace the link in the merged view.
Status prepare_parents(const std::vector<std::filesystem::path>& lower,
                       const std::filesystem::path& upper, const std::string& dest);

// Bytes of a tree: the sum of lstat sizes of its regular files and symlinks.
Result<std::uint64_t> tree_size(const std::filesystem::path& dir);

}  // namespace lj::build
