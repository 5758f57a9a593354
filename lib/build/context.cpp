#include "build/context.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cstring>
#include <vector>

#include <openssl/evp.h>

#include "common/fd.hpp"
#include "common/sys.hpp"

namespace fs = std::filesystem;

namespace lj::build {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr);
}

Sha256::~Sha256() {
  EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
}

void Sha256::add(std::string_view bytes) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), bytes.data(), bytes.size());
}

void Sha256::add_field(std::string_view bytes) {
  std::string len = std::to_string(bytes.size()) + ":";
  add(len);
  add(bytes);
}

std::string Sha256::hex() {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int n = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), md.data(), &n);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < n; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 0xf];
  }
  return out;
}

std::string sha256_hex(std::string_view bytes) {
  Sha256 h;
  h.add(bytes);
  return h.hex();
}

namespace {

struct Entry {
  std::string rel;  // relative to the tree's top, "/"-separated, never empty
  struct stat st;
};

const char* special_kind(mode_t m) {
  if (S_ISSOCK(m)) return "socket";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  return nullptr;
}

// Every entry below `top`, sorted, with lstat data: a snapshot walked once, so the digest and
// the refusal of special files see the same tree. Walked through descriptors, each directory
// opened from its parent with O_NOFOLLOW: a directory swapped for a symlink while the walk runs
// is not followed into the host's tree (ELOOP/ENOTDIR: the build fails).
Status walk(int dirfd, const fs::path& top, const std::string& rel, std::vector<Entry>* out) {
  const fs::path dir = rel.empty() ? top : top / rel;
  std::vector<std::string> names;
  {
    int copy = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
    DIR* d = copy < 0 ? nullptr : ::fdopendir(copy);
    if (!d) {
      if (copy >= 0) ::close(copy);
      return fail_errno("build", "read directory " + dir.string());
    }
    errno = 0;
    while (struct dirent* de = ::readdir(d)) {
      std::string_view n = de->d_name;
      if (n != "." && n != "..") names.emplace_back(n);
    }
    const int err = errno;
    ::closedir(d);
    if (err != 0) return fail_errno("build", "read directory " + dir.string(), err);
  }
  std::sort(names.begin(), names.end());
  for (const auto& name : names) {
    Entry e;
    e.rel = rel.empty() ? name : rel + "/" + name;
    const fs::path p = top / e.rel;
    if (::fstatat(dirfd, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0)
      return fail_errno("build", "lstat " + p.string());
    if (const char* kind = special_kind(e.st.st_mode)) {
      return fail(Errc::invalid_argument, "build",
                  "the build context holds a " + std::string(kind) + ", " + p.string() +
                      ": only directories, regular files and symlinks can be copied");
    }
    const bool is_dir = S_ISDIR(e.st.st_mode);
    // A copy: the walk below pushes onto `out`, which reallocates, and a reference into it
    // (out->back().rel) read freed memory (issue 17, found by ASan).
    const std::string sub_rel = e.rel;
    out->push_back(std::move(e));
    if (is_dir) {
      UniqueFd sub(LJ_SYS(
          "open", ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
      if (!sub) return fail_errno("build", "open " + p.string() + " (changed during the build)");
      if (auto st = walk(sub.get(), top, sub_rel, out); !st) return st;
    }
  }
  return {};
}

Result<std::vector<Entry>> snapshot(const fs::path& top) {
  UniqueFd fd(LJ_SYS("open", ::open(top.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
  if (!fd && (errno == ENOTDIR || errno == ELOOP)) {
    return fail(Errc::invalid_argument, "build",
                "the build context " + top.string() + " is not a directory");
  }
  if (!fd) return fail_errno("build", "open " + top.string());
  std::vector<Entry> entries;
  if (auto walked = walk(fd.get(), top, "", &entries); !walked)
    return fail(std::move(walked).error());
  return entries;
}

// The directory holding root/rel, opened one component at a time with O_NOFOLLOW, and the last
// component's name: neither the entry nor a directory on its way may have been swapped for a
// symlink since the walk. A plain open(2) of the whole path follows a directory swapped for a link
// to /etc and copies the host's file into the overlay (found by tests/daemon/hostile_jail_test.cpp
// racing rename(2) against builds); this way the open fails instead.
Result<std::pair<UniqueFd, std::string>> open_parent(const fs::path& root, const std::string& rel) {
  const fs::path p = root / rel;
  UniqueFd dir(
      LJ_SYS("open", ::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
  if (!dir) return fail_errno("build", "open " + root.string());
  std::vector<std::string> parts;
  for (const auto& c : fs::path(rel)) parts.push_back(c.string());
  if (parts.empty()) return fail(Errc::internal, "build", "empty path in " + root.string());
  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    UniqueFd next(LJ_SYS("open", ::openat(dir.get(), parts[i].c_str(),
                                          O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)));
    if (!next) {
      return fail_errno(
          "build", "open " + p.string() + " (directory " + parts[i] + " changed during the build)");
    }
    dir = std::move(next);
  }
  return std::pair{std::move(dir), parts.back()};
}

// Opens root/rel, a regular file of the tree (see open_parent).
Result<UniqueFd> open_regular(const fs::path& root, const std::string& rel) {
  const fs::path p = root / rel;
  auto [dir, name] = LJ_TRY(open_parent(root, rel));
  UniqueFd fd(LJ_SYS(
      "open", ::openat(dir.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)));
  if (!fd) return fail_errno("build", "open " + p.string());
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("build", "fstat " + p.string());
  if (!S_ISREG(st.st_mode)) {
    return fail(Errc::conflict, "build", p.string() + " changed type during the build");
  }
  return fd;
}

// The text of root/rel, a symlink of the tree (see open_parent): readlinkat of a directory swapped
// for a link reads nothing outside the tree.
Result<std::string> read_link(const fs::path& root, const std::string& rel) {
  const fs::path p = root / rel;
  auto [dir, name] = LJ_TRY(open_parent(root, rel));
  std::string buf(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(dir.get(), name.c_str(), buf.data(), buf.size());
  if (n < 0) return fail_errno("build", "readlink " + p.string());
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

}  // namespace

Result<std::string> digest_tree(const fs::path& dir) {
  auto entries = LJ_TRY(snapshot(dir));
  Sha256 h;
  h.add_field("lj-tree-v1");
  std::array<char, 65536> buf{};
  for (const auto& e : entries) {
    fs::path p = dir / e.rel;
    h.add_field(e.rel);
    h.add_field(std::to_string(e.st.st_mode & 07777));
    if (S_ISDIR(e.st.st_mode)) {
      h.add_field("d");
    } else if (S_ISLNK(e.st.st_mode)) {
      h.add_field("l");
      h.add_field(LJ_TRY(read_link(dir, e.rel)));
    } else {
      h.add_field("f");
      auto fd = LJ_TRY(open_regular(dir, e.rel));
      Sha256 file;
      for (;;) {
        ssize_t n = ::read(fd.get(), buf.data(), buf.size());
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return fail_errno("build", "read " + p.string());
        if (n == 0) break;
        file.add(std::string_view(buf.data(), static_cast<std::size_t>(n)));
      }
      h.add_field(file.hex());
    }
  }
  return h.hex();
}

namespace {

Status copy_file_contents(const fs::path& root, const std::string& rel, const fs::path& to,
                          mode_t mode) {
  const fs::path from = root / rel;
  auto in = LJ_TRY(open_regular(root, rel));
  UniqueFd out(LJ_SYS(
      "open",
      ::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 07777)));
  if (!out) return fail_errno("build", "create " + to.string());
  std::array<char, 65536> buf{};
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("build", "read " + from.string());
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out.get(), buf.data() + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("build", "write " + to.string());
      off += w;
    }
  }
  // The umask trimmed the mode given to open(2).
  if (::fchmod(out.get(), mode & 07777) != 0) return fail_errno("build", "chmod " + to.string());
  return {};
}

}  // namespace

Status copy_tree(const fs::path& src, const fs::path& dst) {
  // Snapshot first: a special file anywhere refuses the whole copy before anything is written.
  auto entries = LJ_TRY(snapshot(src));
  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec) return fail(Error::from_errno("build", "mkdir -p " + dst.string(), ec.value()));
  const bool root = ::geteuid() == 0;
  for (const auto& e : entries) {
    fs::path from = src / e.rel;
    fs::path to = dst / e.rel;
    const mode_t mode = e.st.st_mode;
    if (S_ISDIR(mode)) {
      if (::mkdir(to.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail_errno("build", "mkdir " + to.string());
      }
      struct stat existing {};
      if (::lstat(to.c_str(), &existing) != 0 || !S_ISDIR(existing.st_mode)) {
        return fail(Errc::conflict, "build", to.string() + " exists and is not a directory");
      }
      // Permissions last would be stricter, but a read-only directory must still be filled.
      if (::chmod(to.c_str(), (mode & 07777) | S_IWUSR | S_IXUSR) != 0) {
        return fail_errno("build", "chmod " + to.string());
      }
    } else if (S_ISLNK(mode)) {
      auto target = LJ_TRY(read_link(src, e.rel));
      if (::symlink(target.c_str(), to.c_str()) != 0) {
        return fail_errno("build", "symlink " + to.string() + " -> " + target);
      }
    } else {
      if (auto st = copy_file_contents(src, e.rel, to, mode); !st) return st;
    }
    if (root && ::lchown(to.c_str(), e.st.st_uid, e.st.st_gid) != 0) {
      return fail_errno("build", "lchown " + to.string());
    }
    // chown(2) clears set-id bits: put them back.
    if (root && S_ISREG(mode) && (mode & (S_ISUID | S_ISGID)) != 0 &&
        ::chmod(to.c_str(), mode & 07777) != 0) {
      return fail_errno("build", "chmod " + to.string());
    }
  }
  // Directory modes exactly as in the context, deepest first (a 0555 parent is set after its
  // children were written).
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    if (!S_ISDIR(it->st.st_mode)) continue;
    fs::path to = dst / it->rel;
    if (::chmod(to.c_str(), it->st.st_mode & 07777) != 0) {
      return fail_errno("build", "chmod " + to.string());
    }
  }
  return {};
}

Status prepare_copy_dest(const std::vector<fs::path>& lower, const fs::path& upper,
                         const std::string& dest) {
  fs::path rel;
  for (const auto& part : fs::path(dest).relative_path()) {
    rel /= part;
    fs::path target = upper / rel;
    struct stat st {};
    if (::lstat(target.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return fail(Errc::conflict, "build", target.string() + " exists and is not a directory");
      }
      continue;
    }
    mode_t mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
    for (auto it = lower.rbegin(); it != lower.rend(); ++it) {
      fs::path in_layer = *it / rel;
      struct stat ls {};
      if (::lstat(in_layer.c_str(), &ls) != 0) continue;
      if (!S_ISDIR(ls.st_mode)) {
        return fail(Errc::invalid_argument, "build",
                    "/" + rel.string() + " is not a directory in " + it->string() +
                        " (a symlink or file): copy to the path it points at instead");
      }
      mode = ls.st_mode & 07777;
      uid = ls.st_uid;
      gid = ls.st_gid;
      break;
    }
    if (LJ_SYS("mkdir", ::mkdir(target.c_str(), mode)) != 0) {
      return fail_errno("build", "mkdir " + target.string());
    }
    if (::chmod(target.c_str(), mode) != 0) return fail_errno("build", "chmod " + target.string());
    if (::geteuid() == 0 && ::lchown(target.c_str(), uid, gid) != 0) {
      return fail_errno("build", "lchown " + target.string());
    }
  }
  return {};
}

}  // namespace lj::build
