// Walking a directory tree of any depth the kernel allows: iteratively, with two descriptors at
// most, never following a symbolic link.
//
// Why not recursion or std::filesystem: a recursive walk overflowed ljd's stack on a tree some
// 10,000 levels deep that a build script left in its upper layer (issue 17: ljd died, and again in
// recovery at every start); recursive_directory_iterator keeps a descriptor per level (EMFILE at
// RLIMIT_NOFILE); and a path deeper than PATH_MAX (4,096 bytes) cannot be opened by name at all.
//
// A DirCursor holds one descriptor, the current directory. It goes down with openat(2)
// O_NOFOLLOW|O_DIRECTORY and back up with openat(fd, ".."), checking the (st_dev, st_ino) it
// recorded on the way down: a directory moved meanwhile is Errc::conflict, never a walk of some
// other part of the host. Syscalls go through LJ_SYS (sys.hpp) so tests can fail them.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj {

class DirCursor {
 public:
  // Opens `top`, which must be a directory and not a symlink (ELOOP/ENOTDIR otherwise). Errors
  // carry `domain` and name the path.
  static Result<DirCursor> open(const std::filesystem::path& top, std::string domain);

  DirCursor(DirCursor&&) noexcept = default;
  DirCursor& operator=(DirCursor&&) noexcept = default;

  int fd() const { return fd_.get(); }
  const std::string& domain() const { return domain_; }
  // 0 at the top.
  std::size_t depth() const { return levels_.size() - 1; }
  // The current directory relative to the top: "" at the top, else "a/b/c".
  const std::string& rel() const { return rel_; }
  // For messages: the top joined with rel() and `name` when given, its middle elided when long
  // ("/top/a/b/…(9,996 more)…/d/d/d").
  std::string describe(std::string_view name = {}) const;
  // The stat of the current directory, taken when the cursor entered it.
  const struct stat& st() const { return levels_.back().st; }

  // Into the subdirectory `name` of the current directory. With `expect`, it must still be that
  // inode (the stat a walk took before): Errc::conflict otherwise.
  Status down(const std::string& name, const struct stat* expect = nullptr);
  // Back to the parent directory, which must be the one the cursor came down from.
  Status up();

 private:
  struct Level {
    struct stat st;
    std::size_t rel_size;  // rel_.size() before this level's name was appended
  };
  DirCursor(UniqueFd fd, std::filesystem::path top, std::string domain, const struct stat& st);

  UniqueFd fd_;
  std::filesystem::path top_;
  std::string domain_;
  std::string rel_;
  std::vector<Level> levels_;  // [0] is the top
};

// The entries of the directory open at `dirfd`, without "." and "..", in readdir order. The
// caller keeps its descriptor (a duplicate is read). `what` names the directory in errors.
Result<std::vector<std::string>> list_dir(int dirfd, std::string_view domain,
                                          const std::string& what);

// What walk_tree() does at each entry. Every callback receives the cursor positioned in the
// directory that holds the entry (cursor.fd() is that directory: use *at(2) calls with `name`).
struct TreeWalk {
  // Siblings in bytewise order of their names (a digest needs a stable order); readdir's
  // otherwise.
  bool sorted = false;
  // A directory on another device than the top (a mount point) is Errc::conflict, before
  // anything below it is touched.
  bool one_filesystem = false;
  // An entry gone between readdir and its lstat is skipped (removal races nothing but itself);
  // otherwise it is an error.
  bool skip_vanished = false;
  // Every entry below the top, parents before children, with its lstat. For a directory, return
  // true to go into it. Required.
  std::function<Result<bool>(const DirCursor& at, const std::string& name, const struct stat& st)>
      visit;
  // After the cursor went into a directory (cursor.rel() names it), before its entries.
  std::function<Status(const DirCursor& in)> entered;
  // After everything below a directory was visited, the cursor back in its parent.
  std::function<Status(const DirCursor& at, const std::string& name, const struct stat& st)> leave;
};

// Walks everything below the cursor's directory (not the directory itself), depth first. The
// cursor ends where it started, unless an error stopped the walk. The memory used is the names of
// the directories being walked, not one frame of the C++ stack per level.
Status walk_tree(DirCursor& cursor, const TreeWalk& walk);

}  // namespace lj
