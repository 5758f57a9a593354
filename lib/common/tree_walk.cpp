#include "common/tree_walk.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include "common/scope.hpp"
#include "common/sys.hpp"

namespace lj {
namespace {

constexpr int kDirFlags = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;

bool same_inode(const struct stat& a, const struct stat& b) {
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

// Where the walk is: one directory's names, and the next one to visit.
struct Frame {
  std::vector<std::string> names;
  std::size_t next = 0;
  std::string name;  // of this directory in its parent ("" for the top)
  struct stat st {};
};

}  // namespace

DirCursor::DirCursor(UniqueFd fd, std::filesystem::path top, std::string domain,
                     const struct stat& st)
    : fd_(std::move(fd)), top_(std::move(top)), domain_(std::move(domain)) {
  levels_.push_back(Level{st, 0});
}

Result<DirCursor> DirCursor::open(const std::filesystem::path& top, std::string domain) {
  UniqueFd fd(LJ_SYS("open", ::open(top.c_str(), kDirFlags)));
  if (!fd) return fail_errno(domain, "open " + top.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno(domain, "fstat " + top.string());
  return DirCursor(std::move(fd), top, std::move(domain), st);
}

std::string DirCursor::describe(std::string_view name) const {
  std::string rel = rel_;
  if (!name.empty()) {
    if (!rel.empty()) rel += '/';
    rel += name;  // appended, not "/" + name: g++ 12 -O3 warns -Wrestrict on that (a false positive)
  }
  // A message naming a 20,000-level path would be 40 kB: keep both ends.
  constexpr std::size_t kKeep = 120;
  if (rel.size() > 3 * kKeep) {
    const auto head = rel.find('/', kKeep);
    const auto tail = rel.rfind('/', rel.size() - kKeep);
    if (head != std::string::npos && tail != std::string::npos && head < tail) {
      const auto skipped = std::count(rel.begin() + static_cast<long>(head) + 1,
                                      rel.begin() + static_cast<long>(tail), '/');
      rel =
          rel.substr(0, head) + "/…(" + std::to_string(skipped + 1) + " more)…" + rel.substr(tail);
    }
  }
  return rel.empty() ? top_.string() : (top_ / rel).string();
}

Status DirCursor::down(const std::string& name, const struct stat* expect) {
  UniqueFd sub(LJ_SYS("openat", ::openat(fd_.get(), name.c_str(), kDirFlags)));
  if (!sub) return fail_errno(domain_, "open " + describe(name));
  struct stat st {};
  if (::fstat(sub.get(), &st) != 0) return fail_errno(domain_, "fstat " + describe(name));
  if (expect != nullptr && !same_inode(st, *expect)) {
    return fail(Errc::conflict, domain_, describe(name) + " changed during the walk");
  }
  levels_.push_back(Level{st, rel_.size()});
  if (!rel_.empty()) rel_ += '/';
  rel_ += name;
  fd_ = std::move(sub);
  return {};
}

Status DirCursor::up() {
  if (levels_.size() < 2) return fail(Errc::internal, domain_, "walk went above " + top_.string());
  UniqueFd parent(LJ_SYS("openat", ::openat(fd_.get(), "..", kDirFlags)));
  if (!parent) return fail_errno(domain_, "open " + describe(".."));
  struct stat st {};
  if (::fstat(parent.get(), &st) != 0) return fail_errno(domain_, "fstat " + describe(".."));
  // A directory moved elsewhere while the walk was below it: its ".." is not where we came from.
  if (!same_inode(st, levels_[levels_.size() - 2].st)) {
    return fail(Errc::conflict, domain_, describe() + " was moved during the walk");
  }
  rel_.resize(levels_.back().rel_size);
  levels_.pop_back();
  fd_ = std::move(parent);
  return {};
}

Result<std::vector<std::string>> list_dir(int dirfd, std::string_view domain,
                                          const std::string& what) {
  const std::string dom(domain);
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return fail_errno(dom, "dup " + what);
  DIR* d = ::fdopendir(dup);
  if (d == nullptr) {
    const int err = errno;
    ::close(dup);
    return fail_errno(dom, "fdopendir " + what, err);
  }
  ScopeExit close_dir([d] { ::closedir(d); });
  ::rewinddir(d);  // the duplicate shares the offset of a descriptor read before
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) return fail_errno(dom, "readdir " + what);
      break;
    }
    std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  return names;
}

Status walk_tree(DirCursor& cursor, const TreeWalk& walk) {
  const std::string& domain = cursor.domain();
  const dev_t top_dev = cursor.st().st_dev;
  auto listed = [&](const DirCursor& c) -> Result<std::vector<std::string>> {
    auto names = LJ_TRY(list_dir(c.fd(), domain, c.describe()));
    if (walk.sorted) std::sort(names.begin(), names.end());
    return names;
  };
  std::vector<Frame> stack;
  stack.push_back(Frame{LJ_TRY(listed(cursor)), 0, "", cursor.st()});
  while (!stack.empty()) {
    Frame& f = stack.back();
    if (f.next == f.names.size()) {
      if (stack.size() == 1) break;  // the top: the caller's
      Frame done = std::move(f);
      stack.pop_back();
      LJ_TRY(cursor.up());
      if (walk.leave) LJ_TRY(walk.leave(cursor, done.name, done.st));
      continue;
    }
    std::string name = std::move(f.names[f.next++]);
    struct stat st {};
    if (::fstatat(cursor.fd(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT && walk.skip_vanished) continue;
      return fail_errno(domain, "lstat " + cursor.describe(name));
    }
    if (S_ISDIR(st.st_mode) && walk.one_filesystem && st.st_dev != top_dev) {
      return fail(Errc::conflict, domain,
                  "refusing to walk into " + cursor.describe(name) +
                      ": another filesystem is mounted there");
    }
    if (!LJ_TRY(walk.visit(cursor, name, st)) || !S_ISDIR(st.st_mode)) continue;
    LJ_TRY(cursor.down(name, &st));
    // `f` is not used past this point: the push below may move it.
    stack.push_back(Frame{LJ_TRY(listed(cursor)), 0, std::move(name), st});
    if (walk.entered) LJ_TRY(walk.entered(cursor));
  }
  return {};
}

}  // namespace lj
