// Test helper: a directory chain `levels` deep ("d/d/d/..."), made with *at(2) calls because its
// path is far longer than PATH_MAX, and removed the same way. Header-only, for the unit tests of
// every module (issue 17: deep trees once overflowed the stack of every recursive walk).
#pragma once

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace lj::test {

// A temporary directory for deep trees, removed (with `rm -rf`, which walks any depth) at the end.
// On a tmpfs when there is one: on ext4 each mkdir and rmdir of a 20,000-level chain is a journal
// entry, about 1 ms apiece on a loaded VM (a minute per test); on /dev/shm it is 1.5 s.
class DeepScratch {
 public:
  DeepScratch() {
    struct statfs fs {};
    std::filesystem::path base = std::filesystem::temp_directory_path();
    if (::statfs("/dev/shm", &fs) == 0 && fs.f_type == TMPFS_MAGIC) base = "/dev/shm";
    std::string tmpl = (base / "lj-deep-test-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  DeepScratch(const DeepScratch&) = delete;
  DeepScratch& operator=(const DeepScratch&) = delete;
  ~DeepScratch() {
    const std::string cmd = "rm -rf '" + path_.string() + "'";
    if (std::system(cmd.c_str()) != 0) std::abort();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Makes top/d/d/.../d (`levels` directories below `top`, which must exist) and, in the deepest,
// the file "leaf" holding "leaf". Returns false on any failure.
inline bool make_deep_tree(const std::filesystem::path& top, int levels) {
  int fd = ::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  for (int i = 0; i < levels; ++i) {
    if (::mkdirat(fd, "d", 0755) != 0 && errno != EEXIST) break;
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(fd);
    fd = next;
    if (fd < 0) return false;
  }
  int f = ::openat(fd, "leaf", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = f >= 0 && ::write(f, "leaf", 4) == 4;
  if (f >= 0) ::close(f);
  ::close(fd);
  return ok;
}

// How many "d" levels are below `top` (following the chain by descriptor).
inline int deep_tree_levels(const std::filesystem::path& top) {
  int fd = ::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int n = 0;
  while (fd >= 0) {
    int next = ::openat(fd, "d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    ::close(fd);
    fd = next;
    if (fd >= 0) ++n;
  }
  return n;
}

}  // namespace lj::test
