#include "image/unpack.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "common/archive_path.hpp"
#include "common/fd.hpp"
#include "common/sys.hpp"
#include "image/layer_fs.hpp"

namespace lj::image {
namespace {

namespace fs = std::filesystem;

struct ArchiveFree {
  void operator()(archive* a) const { ::archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;

Error archive_error(archive* a, const std::string& what) {
  const char* msg = ::archive_error_string(a);
  int err = ::archive_errno(a);
  std::string text = what + ": " + (msg ? msg : "libarchive error");
  if (err == ENOSPC || err == EDQUOT) return Error(Errc::no_space, "image", text, err);
  return Error(Errc::invalid_argument, "image", text);
}

Error bad_entry(const std::string& entry, const std::string& why) {
  return Error(Errc::invalid_argument, "image", "layer entry \"" + entry + "\" " + why);
}

// The decompressed stream: an outer libarchive reader in "raw" format (filters only) feeds the
// tar reader through this callback, and every byte it hands over is hashed. That gives the
// diff_id in the same single pass as the extraction.
struct Stream {
  archive* outer = nullptr;
  Sha256 hash;
  std::vector<char> buf = std::vector<char>(128 * 1024);
  bool failed = false;

  static la_ssize_t read(archive*, void* self, const void** out) {
    auto* s = static_cast<Stream*>(self);
    la_ssize_t n = ::archive_read_data(s->outer, s->buf.data(), s->buf.size());
    if (n < 0) {
      s->failed = true;
      return -1;
    }
    s->hash.update(s->buf.data(), static_cast<std::size_t>(n));
    *out = s->buf.data();
    return n;
  }
};

struct DeferredDir {
  std::string rel;
  mode_t mode;
  struct timespec times[2];
};

std::pair<std::string, std::string> split(const std::string& rel) {
  auto slash = rel.rfind('/');
  if (slash == std::string::npos) return {"", rel};
  return {rel.substr(0, slash), rel.substr(slash + 1)};
}

// The descriptors of the directories used last, by path relative to the layer's root. A tar made
// by a tree walk returns to a parent after each subdirectory ("a/x", "a/b/", "a/b/y", "a/z"):
// caching only the last directory cost one openat2(2) per such return, and the directory just
// made by a directory entry is the next entries' parent. A removed directory is dropped
// (Unpacker::clear); a stale descriptor could only fail a creation (ENOENT), never redirect it.
class DirCache {
 public:
  int get(const std::string& rel) {
    for (auto& s : slots_) {
      if (s.fd && s.rel == rel) {
        s.used = ++clock_;
        return s.fd.get();
      }
    }
    return -1;
  }
  int put(const std::string& rel, UniqueFd fd) {
    Slot* victim = nullptr;
    for (auto& s : slots_) {
      if (s.fd && s.rel == rel) victim = &s;  // the same directory made again: the newer fd
    }
    if (victim == nullptr) {
      victim = &slots_[0];
      for (auto& s : slots_) {
        if (!s.fd) {
          victim = &s;
          break;
        }
        if (s.used < victim->used) victim = &s;
      }
    }
    victim->rel = rel;
    victim->fd = std::move(fd);
    victim->used = ++clock_;
    return victim->fd.get();
  }
  void drop(const std::string& rel) {
    for (auto& s : slots_) {
      if (s.fd && s.rel == rel) s.fd.reset();
    }
  }
  void clear() {
    for (auto& s : slots_) s.fd.reset();
  }

 private:
  struct Slot {
    std::string rel;
    UniqueFd fd;
    std::uint64_t used = 0;
  };
  std::array<Slot, 32> slots_;
  std::uint64_t clock_ = 0;
};

class Unpacker {
 public:
  Unpacker(int root_fd, const UnpackPolicy& policy, int share_fd)
      : root_fd_(root_fd), share_fd_(share_fd), policy_(policy), as_root_(::geteuid() == 0) {}

  Status entry(archive* a, archive_entry* e) {
    const char* raw_path = ::archive_entry_pathname(e);
    const std::string raw = raw_path ? raw_path : "";
    std::string rel = LJ_TRY(layer_relative_path(raw, "layer entry"));
    const auto type = ::archive_entry_filetype(e);
    if (rel.empty()) {
      if (type != AE_IFDIR) return fail(bad_entry(raw, "names the layer's root but is not a directory"));
      defer_dir("", e);
      return {};
    }
    auto [parent, base] = split(rel);

    if (base.rfind(".wh.", 0) == 0) return whiteout(raw, parent, base);

    int pfd = LJ_TRY(dir(parent, raw, /*create=*/true));

    if (const char* link = ::archive_entry_hardlink(e)) {
      std::string target = LJ_TRY(layer_relative_path(link, "hard link target"));
      if (target.empty()) return fail(bad_entry(raw, "is a hard link to the layer's root"));
      auto [tparent, tbase] = split(target);
      UniqueFd tfd(layer_fs::open_dir_beneath(root_fd_, tparent));
      if (!tfd) {
        return fail(bad_entry(raw, "is a hard link to \"" + std::string(link) +
                                       "\", which is not an entry of this layer"));
      }
      struct stat st {};
      if (::fstatat(tfd.get(), tbase.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || S_ISDIR(st.st_mode)) {
        return fail(bad_entry(raw, "is a hard link to \"" + std::string(link) +
                                       "\", which is not a file of this layer"));
      }
      LJ_TRY(clear(pfd, rel, base, raw));
      if (LJ_SYS("linkat", ::linkat(tfd.get(), tbase.c_str(), pfd, base.c_str(), 0)) != 0) {
        return fail_errno("image", "linkat " + raw);
      }
      ++entries_;
      return {};
    }

    switch (type) {
      case AE_IFDIR: {
        // mkdirat first: the name is new for nearly every directory of a layer, and an
        // existing one costs the fstatat(2) only then.
        bool fresh = true;
        if (LJ_SYS("mkdirat", ::mkdirat(pfd, base.c_str(), 0700)) != 0) {
          if (errno != EEXIST) return fail_errno("image", "mkdirat " + raw);
          fresh = false;
          struct stat st {};
          if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISDIR(st.st_mode)) {
            LJ_TRY(clear(pfd, rel, base, raw));
            if (LJ_SYS("mkdirat", ::mkdirat(pfd, base.c_str(), 0700)) != 0) {
              return fail_errno("image", "mkdirat " + raw);
            }
          }
        }
        UniqueFd dfd(::openat(pfd, base.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!dfd) return fail_errno("image", "open " + raw);
        // A directory root just made is root's; one made earlier gets this entry's owner.
        if (!fresh || ::archive_entry_uid(e) != 0 || ::archive_entry_gid(e) != 0) {
          LJ_TRY(owner(dfd.get(), e, raw));
        }
        LJ_TRY(xattrs(dfd.get(), e, raw));
        defer_dir(rel, e);
        // Its entries come next in a tar made by a tree walk: keep the descriptor.
        dirs_.put(rel, std::move(dfd));
        break;
      }
      case AE_IFREG: {
        if (LJ_TRY(link_shared(a, e, pfd, rel, parent, base, raw))) break;
        // Create first, clear only when something is there (rare: a later entry of the same
        // name): one fstatat(2) less per file than clearing first.
        // Created with its final permission bits when the umask leaves them as they are and
        // it has no set-id bits (a fchown(2) would clear those): no fchmod(2) for most files.
        // The staging directory is the store owner's alone, so the mode is never seen early.
        constexpr int kCreate = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
        const mode_t mode = mode_of(e);
        const bool exact = umask_ >= 0 && (mode & 07000) == 0 &&
                           (mode & static_cast<mode_t>(umask_)) == 0;
        const mode_t create_mode = exact ? mode : 0600;
        UniqueFd fd(LJ_SYS("openat", ::openat(pfd, base.c_str(), kCreate, create_mode)));
        if (!fd && errno == EEXIST) {
          LJ_TRY(clear(pfd, rel, base, raw));
          fd = UniqueFd(LJ_SYS("openat", ::openat(pfd, base.c_str(), kCreate, create_mode)));
        }
        if (!fd) return fail_errno("image", "create " + raw);
        LJ_TRY(content(a, fd.get(), e, raw));
        // A file root just created is root's (no setgid directory yet: directory modes are
        // applied at the end): most files of most images need no fchown(2).
        if (::archive_entry_uid(e) != 0 || ::archive_entry_gid(e) != 0) {
          LJ_TRY(owner(fd.get(), e, raw));
        }
        if (!exact && LJ_SYS("fchmod", ::fchmod(fd.get(), mode)) != 0) {
          return fail_errno("image", "fchmod " + raw);
        }
        LJ_TRY(xattrs(fd.get(), e, raw));
        struct timespec ts[2] = {atime_of(e), mtime_of(e)};
        if (::futimens(fd.get(), ts) != 0) return fail_errno("image", "futimens " + raw);
        break;
      }
      case AE_IFLNK: {
        const char* target = ::archive_entry_symlink(e);
        if (target == nullptr) return fail(bad_entry(raw, "is a symlink without a target"));
        LJ_TRY(clear(pfd, rel, base, raw));
        // The target is stored, never followed here: it is resolved inside the jail's root.
        if (LJ_SYS("symlinkat", ::symlinkat(target, pfd, base.c_str())) != 0) {
          return fail_errno("image", "symlinkat " + raw);
        }
        if (as_root_ && ::fchownat(pfd, base.c_str(), ::archive_entry_uid(e),
                                   ::archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0) {
          return fail_errno("image", "lchown " + raw);
        }
        struct timespec ts[2] = {atime_of(e), mtime_of(e)};
        if (::utimensat(pfd, base.c_str(), ts, AT_SYMLINK_NOFOLLOW) != 0) {
          return fail_errno("image", "utimensat " + raw);
        }
        break;
      }
      case AE_IFCHR:
      case AE_IFBLK:
      case AE_IFIFO: {
        if (type != AE_IFIFO && !policy_.allow_devices) {
          return fail(Error(Errc::permission_denied, "image",
                            "layer entry \"" + raw + "\" is a device node (" +
                                (type == AE_IFCHR ? "c " : "b ") +
                                std::to_string(::archive_entry_rdevmajor(e)) + ":" +
                                std::to_string(::archive_entry_rdevminor(e)) +
                                "); the unpack policy refuses device nodes"));
        }
        LJ_TRY(clear(pfd, rel, base, raw));
        mode_t kind = type == AE_IFCHR ? S_IFCHR : type == AE_IFBLK ? S_IFBLK : S_IFIFO;
        if (LJ_SYS("mknodat", ::mknodat(pfd, base.c_str(), kind | 0600,
                                        ::archive_entry_rdev(e))) != 0) {
          return fail_errno("image", "mknodat " + raw);
        }
        if (as_root_ && ::fchownat(pfd, base.c_str(), ::archive_entry_uid(e),
                                   ::archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) != 0) {
          return fail_errno("image", "chown " + raw);
        }
        if (::fchmodat(pfd, base.c_str(), mode_of(e), 0) != 0) {
          return fail_errno("image", "chmod " + raw);
        }
        break;
      }
      default:
        // Sockets (and anything libarchive may add): nothing an image needs on disk.
        break;
    }
    ++entries_;
    return {};
  }

  // Directory modes and times, children before parents (reverse path order), so that setting a
  // parent's mtime comes after every change inside it.
  Status finish() {
    std::sort(deferred_.begin(), deferred_.end(),
              [](const DeferredDir& x, const DeferredDir& y) { return x.rel > y.rel; });
    dirs_.clear();
    for (const auto& d : deferred_) {
      UniqueFd fd(layer_fs::open_dir_beneath(root_fd_, d.rel));
      // A directory a later entry replaced or removed is gone: nothing to apply.
      if (!fd) continue;
      if (LJ_SYS("fchmod", ::fchmod(fd.get(), d.mode)) != 0) {
        return fail_errno("image", "fchmod " + (d.rel.empty() ? "/" : d.rel));
      }
      if (::futimens(fd.get(), d.times) != 0) {
        return fail_errno("image", "futimens " + (d.rel.empty() ? "/" : d.rel));
      }
    }
    return {};
  }

  std::uint64_t entries() const { return entries_; }
  std::uint64_t bytes() const { return bytes_; }
  std::uint64_t linked() const { return linked_; }

 private:
  static mode_t mode_of(archive_entry* e) { return ::archive_entry_perm(e) & 07777; }
  static struct timespec mtime_of(archive_entry* e) {
    return {static_cast<time_t>(::archive_entry_mtime(e)), ::archive_entry_mtime_nsec(e)};
  }
  static struct timespec atime_of(archive_entry* e) {
    if (!::archive_entry_atime_is_set(e)) return mtime_of(e);
    return {static_cast<time_t>(::archive_entry_atime(e)), ::archive_entry_atime_nsec(e)};
  }

  void defer_dir(const std::string& rel, archive_entry* e) {
    deferred_.push_back({rel, mode_of(e), {atime_of(e), mtime_of(e)}});
  }

  // The directory `rel` beneath the root, made (mode 0755, like the runtimes do for parents a
  // tar leaves out) when `create` and missing. Cached (DirCache).
  Result<int> dir(const std::string& rel, const std::string& raw, bool create) {
    if (int cached = dirs_.get(rel); cached >= 0) return cached;
    int fd = layer_fs::open_dir_beneath(root_fd_, rel);
    // Make the missing components one at a time, each opened without following symlinks.
    if (fd < 0 && errno == ENOENT && create) fd = layer_fs::walk_beneath(root_fd_, rel, 0, true);
    if (fd < 0) {
      if (errno == ELOOP || errno == ENOTDIR || errno == EXDEV) {
        return fail(bad_entry(raw, "lies under \"" + rel +
                                       "\", which is a symlink or not a directory in this layer"));
      }
      return fail_errno("image", "opening directory " + rel + " for " + raw);
    }
    return dirs_.put(rel, UniqueFd(fd));
  }

  // The regular file entry `e` hard-linked from the same path of the shared tree when the file
  // there is the one the entry was made from (unpack_layer's share_from); its data skipped.
  // False when it is not linked (no shared tree, another file there, a link refused): the
  // caller writes it.
  Result<bool> link_shared(archive* a, archive_entry* e, int pfd, const std::string& rel,
                           const std::string& parent, const std::string& base,
                           const std::string& raw) {
    if (share_fd_ < 0) return false;
    int sdir = share_dirs_.get(parent);
    if (sdir < 0) {
      UniqueFd fd(layer_fs::open_dir_beneath(share_fd_, parent));
      if (!fd) return false;
      sdir = share_dirs_.put(parent, std::move(fd));
    }
    // O_NONBLOCK: a fifo at that path must not block the open (it is refused below).
    UniqueFd src(::openat(sdir, base.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!src) return false;
    struct stat st {};
    if (::fstat(src.get(), &st) != 0 || !S_ISREG(st.st_mode)) return false;
    if (!::archive_entry_size_is_set(e) || st.st_size != ::archive_entry_size(e) ||
        (st.st_mode & 07777) != mode_of(e) ||
        static_cast<la_int64_t>(st.st_uid) != ::archive_entry_uid(e) ||
        static_cast<la_int64_t>(st.st_gid) != ::archive_entry_gid(e) ||
        st.st_mtim.tv_sec != mtime_of(e).tv_sec ||
        // A tar keeps nanoseconds only where its format has room for them (pax headers).
        (mtime_of(e).tv_nsec != 0 && st.st_mtim.tv_nsec != mtime_of(e).tv_nsec)) {
      return false;
    }
    // The same attributes: none that only the unpacker may write, and the entry's others.
    auto have = layer_fs::read_xattrs(src.get());
    if (!have) return false;
    auto want = entry_xattrs(e);
    for (const auto& [n, v] : *have) {
      if (layer_fs::is_reserved_xattr(n)) return false;
    }
    std::sort(want.begin(), want.end());
    std::sort(have->begin(), have->end());
    if (want != *have) return false;
    if (LJ_SYS("linkat", ::linkat(sdir, base.c_str(), pfd, base.c_str(), 0)) != 0) {
      if (errno == EEXIST) {
        LJ_TRY(clear(pfd, rel, base, raw));
        if (::linkat(sdir, base.c_str(), pfd, base.c_str(), 0) == 0) return linked(a, raw);
      }
      // Another filesystem: no file of this tree can be linked.
      if (errno == EXDEV) share_fd_ = -1;
      return false;
    }
    return linked(a, raw);
  }

  Result<bool> linked(archive* a, const std::string& raw) {
    // Read through (not seeked): the stream's hash is the diff_id.
    if (::archive_read_data_skip(a) < ARCHIVE_WARN) {
      return fail(archive_error(a, "reading layer entry \"" + raw + "\""));
    }
    ++linked_;
    return true;
  }

  // Removes what is at `base` before an entry replaces it (a later tar entry wins). A directory
  // is removed only when empty.
  Status clear(int pfd, const std::string& rel, const std::string& base, const std::string& raw) {
    struct stat st {};
    if (::fstatat(pfd, base.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return {};
    if (S_ISDIR(st.st_mode)) {
      if (::unlinkat(pfd, base.c_str(), AT_REMOVEDIR) != 0) {
        return fail(bad_entry(raw, "replaces a non-empty directory of the same layer"));
      }
      // Its descriptor would name a removed directory (empty, so none of its children is
      // cached); the parent's (the caller's pfd) stays valid.
      dirs_.drop(rel);
      return {};
    }
    if (::unlinkat(pfd, base.c_str(), 0) != 0) return fail_errno("image", "unlinkat " + raw);
    return {};
  }

  Status whiteout(const std::string& raw, const std::string& parent, const std::string& base) {
    ++entries_;
    if (base == ".wh..wh..opq") {
      int pfd = LJ_TRY(dir(parent, raw, true));
      LJ_TRY_CTX("layer entry \"" + raw + "\"", layer_fs::make_opaque(pfd));
      return {};
    }
    if (base.rfind(".wh..wh.", 0) == 0) return {};  // aufs metadata (.wh..wh.plnk, ...)
    std::string name = base.substr(4);
    if (name.empty() || name == "." || name == "..") {
      return fail(bad_entry(raw, "is a whiteout of no valid name"));
    }
    int pfd = LJ_TRY(dir(parent, raw, true));
    struct stat st {};
    // The same layer has NAME: the whiteout only concerns the layers below, and this layer's
    // own entry already hides them.
    if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) return {};
    LJ_TRY_CTX("layer entry \"" + raw + "\"", layer_fs::make_whiteout(pfd, name));
    return {};
  }

  Status owner(int fd, archive_entry* e, const std::string& raw) {
    if (!as_root_) return {};
    if (LJ_SYS("fchown", ::fchown(fd, ::archive_entry_uid(e), ::archive_entry_gid(e))) != 0) {
      return fail_errno("image", "fchown " + raw);
    }
    return {};
  }

  // The entry's extended attributes, without those only the unpacker may write.
  static std::vector<std::pair<std::string, std::string>> entry_xattrs(archive_entry* e) {
    std::vector<std::pair<std::string, std::string>> out;
    if (::archive_entry_xattr_reset(e) == 0) return out;
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    while (::archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK) {
      std::string n = name ? name : "";
      if (n.empty() || layer_fs::is_reserved_xattr(n)) continue;
      out.emplace_back(std::move(n), std::string(static_cast<const char*>(value), size));
    }
    return out;
  }

  Status xattrs(int fd, archive_entry* e, const std::string& raw) {
    for (const auto& [n, v] : entry_xattrs(e)) {
      auto s = layer_fs::set_xattr(fd, n, v.data(), v.size());
      if (!s && as_root_) return fail(std::move(s).error().context("layer entry \"" + raw + "\""));
    }
    return {};
  }

  Status content(archive* a, int fd, archive_entry* e, const std::string& raw) {
    const void* buf = nullptr;
    size_t size = 0;
    la_int64_t offset = 0;
    la_int64_t end = 0;  // the end of the data written
    for (;;) {
      int r = ::archive_read_data_block(a, &buf, &size, &offset);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return fail(archive_error(a, "reading layer entry \"" + raw + "\""));
      const char* p = static_cast<const char*>(buf);
      while (size > 0) {
        ssize_t w = LJ_SYS("pwrite", ::pwrite(fd, p, size, offset));
        if (w < 0) {
          if (errno == EINTR) continue;
          return fail_errno("image", "writing " + raw);
        }
        p += w;
        offset += w;
        size -= static_cast<size_t>(w);
        bytes_ += static_cast<std::uint64_t>(w);
      }
      end = std::max<la_int64_t>(end, offset);
    }
    // A sparse file's trailing hole: the size the entry declares (no ftruncate(2) when the
    // data reached it, as for every file that is not sparse).
    if (::archive_entry_size_is_set(e) && ::archive_entry_size(e) != end &&
        ::ftruncate(fd, static_cast<off_t>(::archive_entry_size(e))) != 0) {
      return fail_errno("image", "ftruncate " + raw);
    }
    return {};
  }

  int root_fd_;
  int share_fd_;  // the tree files may be linked from (unpack_layer's share_from); -1: none
  DirCache share_dirs_;
  std::uint64_t linked_ = 0;
  const UnpackPolicy& policy_;
  bool as_root_;
  std::vector<DeferredDir> deferred_;
  DirCache dirs_;
  int umask_ = layer_fs::process_umask();
  std::uint64_t entries_ = 0;
  std::uint64_t bytes_ = 0;
};

}  // namespace

Result<std::string> layer_relative_path(std::string_view p, std::string_view what) {
  return archive_relative_path(p, what, "image");
}

Result<UnpackResult> unpack_layer(const fs::path& blob, const fs::path& dest,
                                  const UnpackPolicy& policy, const fs::path& share_from) {
  UniqueFd in(::open(blob.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return fail_errno("image", "opening layer " + blob.string());
  return unpack_layer_fd(in.get(), blob.string(), dest, policy, share_from);
}

Result<UnpackResult> unpack_layer_fd(int fd, const std::string& what, const fs::path& dest,
                                     const UnpackPolicy& policy, const fs::path& share_from) {
  UniqueFd root(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!root) return fail_errno("image", "open " + dest.string());
  UniqueFd share;
  if (!share_from.empty()) {
    share.reset(::open(share_from.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!share) return fail_errno("image", "open " + share_from.string());
  }

  ArchivePtr outer(::archive_read_new());
  ArchivePtr inner(::archive_read_new());
  if (!outer || !inner) return fail(Errc::internal, "image", "archive_read_new failed");
  ::archive_read_support_filter_all(outer.get());
  ::archive_read_support_format_raw(outer.get());
  if (::archive_read_open_fd(outer.get(), fd, 128 * 1024) != ARCHIVE_OK) {
    return fail(archive_error(outer.get(), "opening layer " + what));
  }
  archive_entry* raw_entry = nullptr;
  if (::archive_read_next_header(outer.get(), &raw_entry) != ARCHIVE_OK) {
    return fail(archive_error(outer.get(), "reading layer " + what));
  }
  Stream stream;
  stream.outer = outer.get();
  ::archive_read_support_format_tar(inner.get());
  if (::archive_read_open(inner.get(), &stream, nullptr, &Stream::read, nullptr) != ARCHIVE_OK) {
    return fail(archive_error(inner.get(), "reading layer " + what));
  }

  Unpacker u(root.get(), policy, share.get());
  for (;;) {
    archive_entry* e = nullptr;
    int r = ::archive_read_next_header(inner.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (stream.failed) return fail(archive_error(outer.get(), "decompressing layer " + what));
      return fail(archive_error(inner.get(), "reading layer " + what));
    }
    LJ_TRY(u.entry(inner.get(), e));
  }
  LJ_TRY(u.finish());
  // The tar reader stops at the end-of-archive blocks; the diff_id covers the whole stream.
  const void* out = nullptr;
  while (Stream::read(nullptr, &stream, &out) > 0) {
  }
  if (stream.failed) return fail(archive_error(outer.get(), "decompressing layer " + what));
  return UnpackResult{stream.hash.finish(), u.entries(), u.bytes(), u.linked()};
}

}  // namespace lj::image
