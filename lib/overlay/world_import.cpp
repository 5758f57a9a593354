#include "overlay/world_import.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <memory>
#include <string>
#include <vector>

#include "common/archive_path.hpp"
#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"
#include "overlay/staging.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

struct ArchiveFree {
  void operator()(archive* a) const { ::archive_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveFree>;
struct EntryFree {
  void operator()(archive_entry* e) const { ::archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;
struct ResolverFree {
  void operator()(archive_entry_linkresolver* r) const { ::archive_entry_linkresolver_free(r); }
};

// libarchive's error for `a` as an lj::Error: the kind follows its errno (ENOSPC -> no_space).
Error archive_error(archive* a, const std::string& what) {
  int err = ::archive_errno(a);
  const char* msg = ::archive_error_string(a);
  std::string text = what + ": " + (msg ? msg : "libarchive error");
  if (err > 0) return Error::from_errno("world", text, err);
  return Error(Errc::system, "world", text);
}

// An archive path made relative and checked: "./usr/bin/" -> "usr/bin". Empty for the root.
Result<std::string> safe_relative(std::string_view p, std::string_view what) {
  return archive_relative_path(p, what, "world");
}

// Copies entries from a reader (an archive or a directory walk) into `dest` with write_disk.
class Extractor {
 public:
  Extractor(fs::path dest, const ImportProgressFn& progress)
      : dest_(std::move(dest)), progress_(progress), writer_(::archive_write_disk_new()) {}

  Status open() {
    if (!writer_) return fail(Errc::internal, "world", "archive_write_disk_new failed");
    int flags = ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_ACL |
                ARCHIVE_EXTRACT_XATTR | ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                ARCHIVE_EXTRACT_SECURE_NODOTDOT;
    // Not ARCHIVE_EXTRACT_UNLINK: with it, SECURE_SYMLINKS removes a symlink in the way
    // instead of refusing the entry, silently reshaping the tree.
    // Numeric ids, never names through the host's passwd: the world brings its own.
    if (::geteuid() == 0) flags |= ARCHIVE_EXTRACT_OWNER;
    if (::archive_write_disk_set_options(writer_.get(), flags) != ARCHIVE_OK) {
      return fail(archive_error(writer_.get(), "setting extraction options"));
    }
    return {};
  }

  // Maps an entry's (already relative, checked) path into the destination.
  void place(archive_entry* e, const std::string& rel) const {
    fs::path p = rel.empty() ? dest_ : dest_ / rel;
    ::archive_entry_copy_pathname(e, p.c_str());
  }
  void place_hardlink(archive_entry* e, const std::string& rel) const {
    ::archive_entry_copy_hardlink(e, (dest_ / rel).c_str());
  }

  // Writes one entry, its data read from `reader`; `shown` names it in errors (the archive's
  // own path, not the staging path).
  Status write(archive* reader, archive_entry* e, std::string_view shown) {
    std::string name = "entry \"" + std::string(shown) + "\"";
    int r = ::archive_write_header(writer_.get(), e);
    if (r < ARCHIVE_WARN) return fail(archive_error(writer_.get(), "writing " + name));
    if (r == ARCHIVE_OK && ::archive_entry_size(e) > 0) {
      const void* buf = nullptr;
      size_t size = 0;
      la_int64_t offset = 0;
      for (;;) {
        int rr = ::archive_read_data_block(reader, &buf, &size, &offset);
        if (rr == ARCHIVE_EOF) break;
        if (rr < ARCHIVE_WARN) return fail(archive_error(reader, "reading " + name));
        la_ssize_t w = ::archive_write_data_block(writer_.get(), buf, size, offset);
        // A failed write(2) (ENOSPC) comes back as ARCHIVE_WARN from write_data_block: any
        // negative answer means the file is incomplete.
        if (w < 0) return fail(archive_error(writer_.get(), "writing " + name));
        counts_.bytes += size;
      }
    }
    // ARCHIVE_WARN here is a metadata restore that did not take (an xattr the filesystem or
    // our privileges refuse): tolerated, as the header documents.
    if (::archive_write_finish_entry(writer_.get()) < ARCHIVE_WARN) {
      return fail(archive_error(writer_.get(), "finishing " + name));
    }
    ++counts_.entries;
    if (progress_) progress_(counts_);
    return {};
  }

  // Applies the deferred directory modes and times (write_disk fixes them up at close).
  Status close() {
    if (::archive_write_close(writer_.get()) < ARCHIVE_WARN) {
      return fail(archive_error(writer_.get(), "closing " + dest_.string()));
    }
    return {};
  }

  const ImportProgress& counts() const { return counts_; }

 private:
  fs::path dest_;
  const ImportProgressFn& progress_;
  ArchivePtr writer_;
  ImportProgress counts_;
};

Status extract_archive(const fs::path& file, Extractor& x) {
  ArchivePtr a(::archive_read_new());
  if (!a) return fail(Errc::internal, "world", "archive_read_new failed");
  ::archive_read_support_filter_all(a.get());
  ::archive_read_support_format_tar(a.get());
  ::archive_read_support_format_cpio(a.get());
  if (::archive_read_open_filename(a.get(), file.c_str(), 64 * 1024) != ARCHIVE_OK) {
    return fail(archive_error(a.get(), "opening " + file.string()));
  }
  for (;;) {
    archive_entry* e = nullptr;
    int r = ::archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(archive_error(a.get(), "reading " + file.string()));
    const char* raw_path = ::archive_entry_pathname(e);
    std::string raw = raw_path ? raw_path : "";
    std::string rel = LJ_TRY(safe_relative(raw, "archive entry"));
    if (const char* link = ::archive_entry_hardlink(e)) {
      std::string target = LJ_TRY(safe_relative(link, "hard link target"));
      if (target.empty()) {
        return fail(Errc::invalid_argument, "world",
                    "archive entry \"" + raw + "\" links to the root");
      }
      x.place_hardlink(e, target);
    }
    x.place(e, rel);
    LJ_TRY(x.write(a.get(), e, raw));
  }
  return {};
}

Status copy_directory(const fs::path& source, Extractor& x) {
  ArchivePtr a(::archive_read_disk_new());
  if (!a) return fail(Errc::internal, "world", "archive_read_disk_new failed");
  ::archive_read_disk_set_symlink_physical(a.get());
  ::archive_read_disk_set_behavior(
      a.get(), ARCHIVE_READDISK_NO_TRAVERSE_MOUNTS | ARCHIVE_READDISK_NO_FFLAGS);
  std::unique_ptr<archive_entry_linkresolver, ResolverFree> links(
      ::archive_entry_linkresolver_new());
  // The tar strategy: the first path of an inode carries the data, later ones become links to it.
  ::archive_entry_linkresolver_set_strategy(links.get(), ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
  if (::archive_read_disk_open(a.get(), source.c_str()) != ARCHIVE_OK) {
    return fail(archive_error(a.get(), "opening " + source.string()));
  }
  const std::string prefix = source.string();
  for (;;) {
    EntryPtr e(::archive_entry_new());
    int r = ::archive_read_next_header2(a.get(), e.get());
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return fail(archive_error(a.get(), "reading " + source.string()));
    if (::archive_entry_filetype(e.get()) == AE_IFDIR) ::archive_read_disk_descend(a.get());
    std::string p = ::archive_entry_pathname(e.get());
    if (p.compare(0, prefix.size(), prefix) != 0) {
      return fail(Errc::internal, "world", "directory walk left " + prefix + ": " + p);
    }
    // The walk yields "<source>" and "<source>/<rel>": keep what follows the separator.
    std::string rel = p.substr(prefix.size());
    if (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
    rel = LJ_TRY(safe_relative(rel, "path"));
    x.place(e.get(), rel);
    archive_entry* entry = e.get();
    archive_entry* spare = nullptr;
    ::archive_entry_linkify(links.get(), &entry, &spare);
    LJ_TRY(x.write(a.get(), entry, rel.empty() ? "." : rel));
  }
  return {};
}

}  // namespace

Status validate_world_tree(const fs::path& tree) {
  // Resolves like a chroot: a component stack, absolute link targets restart at `tree`.
  std::vector<std::string> todo = {"sh", "bin"};  // reversed: next component at the back
  std::vector<std::string> at;                    // resolved components so far
  int links = 0;
  auto bad = [&](const std::string& why) {
    return fail(Errc::invalid_argument, "world",
                "world " + tree.string() + " has no usable /bin/sh: " + why);
  };
  while (!todo.empty()) {
    std::string c = std::move(todo.back());
    todo.pop_back();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!at.empty()) at.pop_back();
      continue;
    }
    fs::path p = tree;
    for (const auto& s : at) p /= s;
    p /= c;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) return bad(p.string() + " does not exist");
    if (S_ISLNK(st.st_mode)) {
      if (++links > 40) return bad("too many symlinks");
      std::error_code ec;
      fs::path target = fs::read_symlink(p, ec);
      if (ec) return bad("cannot read link " + p.string());
      if (target.is_absolute()) at.clear();
      std::vector<std::string> parts;
      for (const auto& part : target) {
        if (part != "/") parts.push_back(part.string());
      }
      todo.insert(todo.end(), parts.rbegin(), parts.rend());
      continue;
    }
    if (!todo.empty() && !S_ISDIR(st.st_mode)) return bad(p.string() + " is not a directory");
    at.push_back(std::move(c));
    if (todo.empty()) {
      if (!S_ISREG(st.st_mode)) return bad(p.string() + " is not a regular file");
      if ((st.st_mode & 0111) == 0) return bad(p.string() + " is not executable");
    }
  }
  return {};
}

Result<ImportProgress> import_world(const Root& root, const WorldName& name, const fs::path& source,
                                    const ImportProgressFn& progress, const MountTable& mounts) {
  std::string what = "importing world " + name.str() + " from " + source.string();
  fs::path target = root.world_dir(name);
  struct stat st {};
  if (::lstat(target.c_str(), &st) == 0) {
    return fail(Errc::exists, "world", what + ": world " + name.str() + " already exists");
  }
  if (::stat(source.c_str(), &st) != 0) return fail_errno("world", what + ": stat");
  StagingDir staging = LJ_TRY_CTX(what, StagingDir::create(root, "world", mounts));
  // write_disk reaches files by absolute path; a symlinked root would trip SECURE_SYMLINKS.
  std::error_code ec;
  fs::path dest = fs::canonical(staging.path(), ec);
  if (ec) return fail_errno("world", what + ": resolving " + staging.path().string(), ec.value());
  if (::chmod(dest.c_str(), 0755) != 0)
    return fail_errno("world", what + ": chmod " + dest.string());

  Extractor x(dest, progress);
  LJ_TRY_CTX(what, x.open());
  if (S_ISDIR(st.st_mode)) {
    fs::path src = fs::canonical(source, ec);
    if (ec) return fail_errno("world", what + ": resolving the source", ec.value());
    LJ_TRY_CTX(what, copy_directory(src, x));
  } else if (S_ISREG(st.st_mode)) {
    LJ_TRY_CTX(what, extract_archive(source, x));
  } else {
    return fail(Errc::invalid_argument, "world", what + ": not a directory or an archive file");
  }
  LJ_TRY_CTX(what, x.close());
  LJ_TRY_CTX(what, validate_world_tree(dest));
  LJ_TRY_CTX(what, sync_tree(dest));

  // worlds/ is private: a world's set-id binaries are for its jails, not for the host's users.
  if (LJ_SYS("mkdir", ::mkdir(root.worlds_dir().c_str(), 0700)) != 0 && errno != EEXIST) {
    return fail_errno("world", what + ": mkdir " + root.worlds_dir().string());
  }
  LJ_TRY_CTX(what, root.restrict_access());
  if (LJ_SYS("rename", ::rename(staging.path().c_str(), target.c_str())) != 0) {
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return fail(Errc::exists, "world", what + ": world " + name.str() + " already exists");
    }
    return fail_errno("world", what + ": rename to " + target.string(), err);
  }
  staging.release();
  LJ_TRY_CTX(what, fsync_path(root.worlds_dir()));
  return x.counts();
}

}  // namespace lj::overlay
