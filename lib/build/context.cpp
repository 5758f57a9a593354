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
#include "common/tree_walk.hpp"

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

const char* special_kind(mode_t m) {
  if (S_ISSOCK(m)) return "socket";
  if (S_ISFIFO(m)) return "fifo";
  if (S_ISCHR(m)) return "character device";
  if (S_ISBLK(m)) return "block device";
  return nullptr;
}

Status refuse_special(const DirCursor& at, const std::string& name, const struct stat& st) {
  if (const char* kind = special_kind(st.st_mode)) {
    return fail(Errc::invalid_argument, "build",
                "the build context holds a " + std::string(kind) + ", " + at.describe(name) +
                    ": only directories, regular files and symlinks can be copied");
  }
  return {};
}

// The context's top, opened without following a symlink.
Result<DirCursor> open_context(const fs::path& top) {
  auto cursor = DirCursor::open(top, "build");
  if (!cursor && (cursor.error().sys_errno() == ENOTDIR || cursor.error().sys_errno() == ELOOP)) {
    return fail(Errc::invalid_argument, "build",
                "the build context " + top.string() + " is not a directory");
  }
  return cursor;
}

// Opens the regular file `name` of the directory at `at`; it must still be the inode the walk saw
// (`seen`): a file swapped for a symlink or a fifo since is not followed or waited on.
Result<UniqueFd> open_regular(const DirCursor& at, const std::string& name,
                              const struct stat& seen) {
  UniqueFd fd(LJ_SYS(
      "open", ::openat(at.fd(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)));
  if (!fd) return fail_errno("build", "open " + at.describe(name));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return fail_errno("build", "fstat " + at.describe(name));
  if (!S_ISREG(st.st_mode) || st.st_ino != seen.st_ino || st.st_dev != seen.st_dev) {
    return fail(Errc::conflict, "build", at.describe(name) + " changed during the build");
  }
  return fd;
}

// The target of the symlink `name` of the directory at `at`.
Result<std::string> read_link(const DirCursor& at, const std::string& name) {
  std::string buf(PATH_MAX, '\0');
  ssize_t n = ::readlinkat(at.fd(), name.c_str(), buf.data(), buf.size());
  if (n < 0) return fail_errno("build", "readlink " + at.describe(name));
  buf.resize(static_cast<std::size_t>(n));
  return buf;
}

}  // namespace

// Both walks below are iterative over descriptors, never following a symlink: a directory swapped
// for a symlink while they run is not followed into the host's tree (ELOOP/ENOTDIR, or the
// cursor's identity check: the build fails), and a context of any depth is walked without
// recursion (a recursive walk overflowed the stack; issue 17).
Result<std::string> digest_tree(const fs::path& dir) {
  auto cursor = LJ_TRY(open_context(dir));
  Sha256 h;
  h.add_field("lj-tree-v1");
  std::array<char, 65536> buf{};
  TreeWalk walk;
  walk.sorted = true;  // parents first, siblings by name (bytewise): the digest's order
  walk.visit = [&](const DirCursor& at, const std::string& name,
                   const struct stat& st) -> Result<bool> {
    LJ_TRY(refuse_special(at, name, st));
    h.add_field(at.rel().empty() ? name : at.rel() + "/" + name);
    h.add_field(std::to_string(st.st_mode & 07777));
    if (S_ISDIR(st.st_mode)) {
      h.add_field("d");
      return true;
    }
    if (S_ISLNK(st.st_mode)) {
      h.add_field("l");
      h.add_field(LJ_TRY(read_link(at, name)));
      return false;
    }
    h.add_field("f");
    auto fd = LJ_TRY(open_regular(at, name, st));
    Sha256 file;
    for (;;) {
      ssize_t n = ::read(fd.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("build", "read " + at.describe(name));
      if (n == 0) break;
      file.add(std::string_view(buf.data(), static_cast<std::size_t>(n)));
    }
    h.add_field(file.hex());
    return false;
  };
  LJ_TRY(walk_tree(cursor, walk));
  return h.hex();
}

namespace {

Status copy_file_contents(const DirCursor& from, const std::string& name, const struct stat& st,
                          const DirCursor& to) {
  auto in = LJ_TRY(open_regular(from, name, st));
  const mode_t mode = st.st_mode & 07777;
  UniqueFd out(LJ_SYS(
      "open",
      ::openat(to.fd(), name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)));
  if (!out) return fail_errno("build", "create " + to.describe(name));
  std::array<char, 65536> buf{};
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("build", "read " + from.describe(name));
    if (n == 0) break;
    for (ssize_t off = 0; off < n;) {
      ssize_t w = ::write(out.get(), buf.data() + off, static_cast<std::size_t>(n - off));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail_errno("build", "write " + to.describe(name));
      off += w;
    }
  }
  if (::geteuid() == 0 && ::fchown(out.get(), st.st_uid, st.st_gid) != 0) {
    return fail_errno("build", "chown " + to.describe(name));
  }
  // The umask trimmed the mode given to open(2), and chown(2) cleared the set-id bits.
  if (::fchmod(out.get(), mode) != 0) return fail_errno("build", "chmod " + to.describe(name));
  return {};
}

}  // namespace

Status copy_tree(const fs::path& src, const fs::path& dst) {
  // A check first: a special file anywhere refuses the whole copy before anything is written.
  {
    auto cursor = LJ_TRY(open_context(src));
    TreeWalk check;
    check.visit = [](const DirCursor& at, const std::string& name,
                     const struct stat& st) -> Result<bool> {
      LJ_TRY(refuse_special(at, name, st));
      return S_ISDIR(st.st_mode);
    };
    LJ_TRY(walk_tree(cursor, check));
  }
  std::error_code ec;
  fs::create_directories(dst, ec);
  if (ec) return fail(Error::from_errno("build", "mkdir -p " + dst.string(), ec.value()));
  auto from = LJ_TRY(open_context(src));
  auto to = LJ_TRY(DirCursor::open(dst, "build"));
  const bool root = ::geteuid() == 0;
  std::string entering;  // the directory the walk goes into next: `to` follows it
  TreeWalk walk;
  walk.visit = [&](const DirCursor& at, const std::string& name,
                   const struct stat& st) -> Result<bool> {
    LJ_TRY(refuse_special(at, name, st));  // one made since the check
    const mode_t mode = st.st_mode;
    if (S_ISREG(mode)) {
      LJ_TRY(copy_file_contents(at, name, st, to));
      return false;
    }
    if (S_ISLNK(mode)) {
      auto target = LJ_TRY(read_link(at, name));
      if (::symlinkat(target.c_str(), to.fd(), name.c_str()) != 0) {
        return fail_errno("build", "symlink " + to.describe(name) + " -> " + target);
      }
    } else {
      if (::mkdirat(to.fd(), name.c_str(), 0700) != 0 && errno != EEXIST) {
        return fail_errno("build", "mkdir " + to.describe(name));
      }
      struct stat existing {};
      if (::fstatat(to.fd(), name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) != 0 ||
          !S_ISDIR(existing.st_mode)) {
        return fail(Errc::conflict, "build", to.describe(name) + " exists and is not a directory");
      }
      // Its own mode once it is filled (leave below): a read-only directory must be written to.
      if (::fchmodat(to.fd(), name.c_str(), (mode & 07777) | S_IWUSR | S_IXUSR, 0) != 0) {
        return fail_errno("build", "chmod " + to.describe(name));
      }
      entering = name;
    }
    if (root && ::fchownat(to.fd(), name.c_str(), st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) {
      return fail_errno("build", "lchown " + to.describe(name));
    }
    return S_ISDIR(mode);
  };
  walk.entered = [&](const DirCursor&) { return to.down(entering); };
  // Directory modes exactly as in the context, deepest first (a 0555 parent is set after its
  // children were written).
  walk.leave = [&](const DirCursor&, const std::string& name, const struct stat& st) -> Status {
    LJ_TRY(to.up());
    if (::fchmodat(to.fd(), name.c_str(), st.st_mode & 07777, 0) != 0) {
      return fail_errno("build", "chmod " + to.describe(name));
    }
    return {};
  };
  return walk_tree(from, walk);
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
