#include "overlay/fs_ops.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <random>
#include <set>
#include <string>
#include <utility>

#include "common/fd.hpp"
#include "common/scope.hpp"
#include "common/sys.hpp"
#include "common/tree_walk.hpp"
#include "common/write_all.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDomain = "overlay";

}  // namespace

Status write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp-" + random_token(8);
  UniqueFd fd(LJ_SYS("open", ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)));
  if (!fd) return fail_errno(std::string(kDomain), "create " + tmp.string());
  ScopeExit unlink_tmp([&] { ::unlink(tmp.c_str()); });
  LJ_TRY(write_all(fd.get(), data, kDomain, tmp.string()));
  // The mode given to open(2) is filtered by the umask; the file must have exactly `mode`.
  if (::fchmod(fd.get(), mode) != 0)
    return fail_errno(std::string(kDomain), "chmod " + tmp.string());
  if (LJ_SYS("fsync", ::fsync(fd.get())) != 0) {
    return fail_errno(std::string(kDomain), "fsync " + tmp.string());
  }
  fd.reset();
  if (LJ_SYS("rename", ::rename(tmp.c_str(), path.c_str())) != 0) {
    return fail_errno(std::string(kDomain), "rename " + tmp.string() + " to " + path.string());
  }
  unlink_tmp.dismiss();
  return fsync_path(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

std::string random_token(std::size_t n) {
  static thread_local std::mt19937_64 rng(std::random_device{}());
  static constexpr char kChars[] = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string s(n, 'x');
  for (char& c : s) c = kChars[rng() % (sizeof(kChars) - 1)];
  return s;
}

Result<std::string> read_file(const fs::path& path, std::size_t max_bytes) {
  UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), O_RDONLY | O_CLOEXEC)));
  if (!fd) return fail_errno(std::string(kDomain), "open " + path.string());
  std::string text;
  char buf[16384];
  for (;;) {
    ssize_t n = LJ_SYS("read", ::read(fd.get(), buf, sizeof buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(std::string(kDomain), "read " + path.string());
    }
    if (n == 0) return text;
    text.append(buf, static_cast<std::size_t>(n));
    if (text.size() > max_bytes) {
      return fail(Errc::limit, std::string(kDomain),
                  path.string() + " is larger than " + std::to_string(max_bytes) + " bytes");
    }
  }
}

Status fsync_path(const fs::path& path) {
  UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC)));
  if (!fd) return fail_errno(std::string(kDomain), "open " + path.string());
  if (LJ_SYS("fsync", ::fsync(fd.get())) != 0) {
    return fail_errno(std::string(kDomain), "fsync " + path.string());
  }
  return {};
}

// Every walk below is iterative and holds two descriptors at most (common/tree_walk.hpp): a tree
// as deep as the kernel allows, left by a build script in its upper layer, once overflowed ljd's
// stack here and in recovery's staging cleanup at every start (issue 17).

Status fsync_tree(const fs::path& dir) {
  auto cursor = LJ_TRY(DirCursor::open(dir, std::string(kDomain)));
  auto fsync_at = [](const DirCursor& at, const std::string& name, int flags) -> Status {
    UniqueFd f(LJ_SYS("openat", ::openat(at.fd(), name.c_str(),
                                         flags | O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)));
    if (!f) return fail_errno(std::string(kDomain), "open " + at.describe(name));
    if (LJ_SYS("fsync", ::fsync(f.get())) != 0) {
      return fail_errno(std::string(kDomain), "fsync " + at.describe(name));
    }
    return {};
  };
  TreeWalk walk;
  walk.visit = [&](const DirCursor& at, const std::string& name,
                   const struct stat& st) -> Result<bool> {
    if (S_ISREG(st.st_mode)) LJ_TRY(fsync_at(at, name, 0));
    return S_ISDIR(st.st_mode);
  };
  // A directory after its children.
  walk.leave = [&](const DirCursor& at, const std::string& name, const struct stat&) {
    return fsync_at(at, name, O_DIRECTORY);
  };
  LJ_TRY(walk_tree(cursor, walk));
  if (LJ_SYS("fsync", ::fsync(cursor.fd())) != 0) {
    return fail_errno(std::string(kDomain), "fsync " + dir.string());
  }
  return {};
}

Result<std::uint64_t> tree_size(const fs::path& dir) {
  std::uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  auto cursor = LJ_TRY(DirCursor::open(dir, std::string(kDomain)));
  TreeWalk walk;
  walk.visit = [&](const DirCursor&, const std::string&, const struct stat& st) -> Result<bool> {
    if (S_ISDIR(st.st_mode)) return true;
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) return false;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) return false;
    total += static_cast<std::uint64_t>(st.st_size);
    return false;
  };
  LJ_TRY(walk_tree(cursor, walk));
  return total;
}

Status remove_tree(const fs::path& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return {};
    return fail_errno(std::string(kDomain), "stat " + path.string());
  }
  if (S_ISDIR(st.st_mode)) {
    struct stat parent {};
    fs::path up = path.parent_path().empty() ? fs::path(".") : path.parent_path();
    if (::stat(up.c_str(), &parent) == 0 && parent.st_dev != st.st_dev) {
      return fail(Errc::conflict, std::string(kDomain),
                  "refusing to remove " + path.string() + ": it is a mount point");
    }
    auto cursor = LJ_TRY(DirCursor::open(path, std::string(kDomain)));
    TreeWalk walk;
    walk.one_filesystem = true;  // "another filesystem is mounted there": nothing below is touched
    walk.skip_vanished = true;
    walk.visit = [](const DirCursor& at, const std::string& name,
                    const struct stat& child) -> Result<bool> {
      if (S_ISDIR(child.st_mode)) return true;  // emptied first, removed on the way back up
      if (LJ_SYS("unlinkat", ::unlinkat(at.fd(), name.c_str(), 0)) != 0 && errno != ENOENT) {
        return fail_errno(std::string(kDomain), "remove " + at.describe(name));
      }
      return false;
    };
    walk.leave = [](const DirCursor& at, const std::string& name, const struct stat&) -> Status {
      if (LJ_SYS("unlinkat", ::unlinkat(at.fd(), name.c_str(), AT_REMOVEDIR)) != 0 &&
          errno != ENOENT) {
        return fail_errno(std::string(kDomain), "remove " + at.describe(name));
      }
      return {};
    };
    LJ_TRY(walk_tree(cursor, walk));
    if (LJ_SYS("rmdir", ::rmdir(path.c_str())) != 0 && errno != ENOENT) {
      return fail_errno(std::string(kDomain), "rmdir " + path.string());
    }
    return {};
  }
  if (LJ_SYS("unlink", ::unlink(path.c_str())) != 0 && errno != ENOENT) {
    return fail_errno(std::string(kDomain), "unlink " + path.string());
  }
  return {};
}

}  // namespace lj::overlay
