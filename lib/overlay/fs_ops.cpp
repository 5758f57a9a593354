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

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kDomain = "overlay";

Status write_all(int fd, std::string_view data, const fs::path& what) {
  while (!data.empty()) {
    ssize_t n = LJ_SYS("write", ::write(fd, data.data(), data.size()));
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno(std::string(kDomain), "write " + what.string());
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

// Entries of an open directory, without "." and "..". Takes a dup so the caller keeps its fd.
Result<std::vector<std::string>> list_dir(int dirfd, const fs::path& what) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno(std::string(kDomain), "dup " + what.string());
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    int err = errno;
    ::close(dup);
    return fail_errno(std::string(kDomain), "fdopendir " + what.string(), err);
  }
  ScopeExit close_dir([d] { ::closedir(d); });
  ::rewinddir(d);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) return fail_errno(std::string(kDomain), "readdir " + what.string());
      break;
    }
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  return names;
}

Result<UniqueFd> open_dir_at(int parent, const std::string& name, const fs::path& what) {
  int fd = LJ_SYS("openat",
                  ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd < 0) return fail_errno(std::string(kDomain), "open " + what.string());
  return UniqueFd(fd);
}

// Empties the directory `dirfd` (at `what`), which lives on device `dev`.
Status remove_children(int dirfd, const fs::path& what, dev_t dev) {
  for (const std::string& name : LJ_TRY(list_dir(dirfd, what))) {
    fs::path child = what / name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;
      return fail_errno(std::string(kDomain), "stat " + child.string());
    }
    if (S_ISDIR(st.st_mode)) {
      if (st.st_dev != dev) {
        return fail(
            Errc::conflict, std::string(kDomain),
            "refusing to remove " + child.string() + ": another filesystem is mounted there");
      }
      UniqueFd sub = LJ_TRY(open_dir_at(dirfd, name, child));
      LJ_TRY(remove_children(sub.get(), child, dev));
    }
    int flags = S_ISDIR(st.st_mode) ? AT_REMOVEDIR : 0;
    if (LJ_SYS("unlinkat", ::unlinkat(dirfd, name.c_str(), flags)) != 0 && errno != ENOENT) {
      return fail_errno(std::string(kDomain), "remove " + child.string());
    }
  }
  return {};
}

Status fsync_children(int dirfd, const fs::path& what) {
  for (const std::string& name : LJ_TRY(list_dir(dirfd, what))) {
    fs::path child = what / name;
    struct stat st {};
    if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail_errno(std::string(kDomain), "stat " + child.string());
    }
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub = LJ_TRY(open_dir_at(dirfd, name, child));
      LJ_TRY(fsync_children(sub.get(), child));
    } else if (S_ISREG(st.st_mode)) {
      UniqueFd f(LJ_SYS(
          "openat", ::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)));
      if (!f) return fail_errno(std::string(kDomain), "open " + child.string());
      if (LJ_SYS("fsync", ::fsync(f.get())) != 0) {
        return fail_errno(std::string(kDomain), "fsync " + child.string());
      }
    }
  }
  if (LJ_SYS("fsync", ::fsync(dirfd)) != 0) {
    return fail_errno(std::string(kDomain), "fsync " + what.string());
  }
  return {};
}

}  // namespace

Status write_file_atomic(const fs::path& path, std::string_view data, mode_t mode) {
  fs::path tmp = path;
  tmp += ".tmp-" + random_token(8);
  UniqueFd fd(LJ_SYS("open", ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)));
  if (!fd) return fail_errno(std::string(kDomain), "create " + tmp.string());
  ScopeExit unlink_tmp([&] { ::unlink(tmp.c_str()); });
  LJ_TRY(write_all(fd.get(), data, tmp));
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

Status fsync_tree(const fs::path& dir) {
  UniqueFd fd(LJ_SYS("open", ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
  if (!fd) return fail_errno(std::string(kDomain), "open " + dir.string());
  return fsync_children(fd.get(), dir);
}

Result<std::uint64_t> tree_size(const fs::path& dir) {
  std::uint64_t total = 0;
  std::set<std::pair<dev_t, ino_t>> seen;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
  if (ec) return fail_errno(std::string(kDomain), "read " + dir.string(), ec.value());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail_errno(std::string(kDomain), "read " + dir.string(), ec.value());
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0) {
      return fail_errno(std::string(kDomain), "stat " + it->path().string());
    }
    if (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode)) continue;
    if (st.st_nlink > 1 && !seen.insert({st.st_dev, st.st_ino}).second) continue;
    total += static_cast<std::uint64_t>(st.st_size);
  }
  if (ec) return fail_errno(std::string(kDomain), "read " + dir.string(), ec.value());
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
    UniqueFd fd(
        LJ_SYS("open", ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
    if (!fd) return fail_errno(std::string(kDomain), "open " + path.string());
    LJ_TRY(remove_children(fd.get(), path, st.st_dev));
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
