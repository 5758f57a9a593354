#include "image/export.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/sys.hpp"
#include "common/tree_walk.hpp"
#include "common/write_all.hpp"
#include "image/layer_fs.hpp"

namespace lj::image {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

struct WriteFree {
  void operator()(archive* a) const { ::archive_write_free(a); }
};
using WritePtr = std::unique_ptr<archive, WriteFree>;
struct EntryFree {
  void operator()(archive_entry* e) const { ::archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

// A pax tar (ustar where it fits) whose bytes go to `sink`. Blocked in 10 KiB records as tar(1)
// writes them, so the sink sees few, large writes.
class TarWriter {
 public:
  using Sink = std::function<Status(const void*, std::size_t)>;
  static Result<std::unique_ptr<TarWriter>> open(Sink sink, const std::string& what) {
    auto t = std::unique_ptr<TarWriter>(new TarWriter(std::move(sink), what));
    if (!t->a_ || ::archive_write_set_format_pax_restricted(t->a_.get()) != ARCHIVE_OK ||
        ::archive_write_add_filter_none(t->a_.get()) != ARCHIVE_OK ||
        ::archive_write_open(t->a_.get(), t.get(), nullptr, &TarWriter::write_cb, nullptr) !=
            ARCHIVE_OK) {
      return fail(t->error("opening the tar writer"));
    }
    return t;
  }

  // Writes `e`'s header; its data follows with data().
  Status header(archive_entry* e) {
    if (::archive_write_header(a_.get(), e) != ARCHIVE_OK) {
      return fail(error(std::string("writing the header of ") + ::archive_entry_pathname(e)));
    }
    return {};
  }
  Status data(const void* p, std::size_t n, const std::string& path) {
    while (n > 0) {
      la_ssize_t w = ::archive_write_data(a_.get(), p, n);
      if (w <= 0) return fail(error("writing " + path));
      p = static_cast<const char*>(p) + w;
      n -= static_cast<std::size_t>(w);
    }
    return {};
  }
  // An empty regular file (whiteouts, small documents use file()).
  Status file(const std::string& path, std::string_view content, mode_t mode = 0644) {
    EntryPtr e(::archive_entry_new());
    ::archive_entry_set_pathname(e.get(), path.c_str());
    ::archive_entry_set_filetype(e.get(), AE_IFREG);
    ::archive_entry_set_perm(e.get(), mode);
    ::archive_entry_set_size(e.get(), static_cast<la_int64_t>(content.size()));
    LJ_TRY(header(e.get()));
    return data(content.data(), content.size(), path);
  }
  // Ends the archive (its two zero records) and flushes it to the sink.
  Status close() {
    if (::archive_write_close(a_.get()) != ARCHIVE_OK) return fail(error("closing the tar"));
    return {};
  }

 private:
  TarWriter(Sink sink, std::string what)
      : a_(::archive_write_new()), sink_(std::move(sink)), what_(std::move(what)) {}
  static la_ssize_t write_cb(archive* a, void* ctx, const void* buf, size_t n) {
    auto* self = static_cast<TarWriter*>(ctx);
    if (Status st = self->sink_(buf, n); !st) {
      self->sink_error_ = st.error();
      ::archive_set_error(a, EIO, "%s", st.error().what().c_str());
      return -1;
    }
    return static_cast<la_ssize_t>(n);
  }
  Error error(const std::string& doing) const {
    if (sink_error_) {
      Error e = *sink_error_;
      return std::move(e.context(what_ + ": " + doing));
    }
    const char* msg = a_ ? ::archive_error_string(a_.get()) : nullptr;
    return Error(Errc::system, "image", what_ + ": " + doing + ": " + (msg ? msg : "libarchive"));
  }

  WritePtr a_;
  Sink sink_;
  std::string what_;
  std::optional<Error> sink_error_;
};

Status copy_fd(TarWriter& tar, int fd, const std::string& path, std::uint64_t* bytes = nullptr) {
  std::array<char, 128 * 1024> buf{};
  for (;;) {
    ssize_t n = LJ_SYS("read", ::read(fd, buf.data(), buf.size()));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("image", "read " + path);
    if (n == 0) return {};
    LJ_TRY(tar.data(buf.data(), static_cast<std::size_t>(n), path));
    if (bytes) *bytes += static_cast<std::uint64_t>(n);
  }
}

Status add_xattrs(archive_entry* e, int fd) {
  for (const auto& [name, value] : LJ_TRY(layer_fs::read_xattrs(fd))) {
    if (layer_fs::is_reserved_xattr(name)) continue;
    ::archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
  }
  return {};
}

// One tree as one layer tar, into `tar`.
Status write_layer(TarWriter& tar, const fs::path& dir, const std::function<void()>& tick) {
  auto top = LJ_TRY(DirCursor::open(dir, "image"));
  // Hard links within the layer: the first path of each (dev, ino) with st_nlink > 1.
  std::map<std::pair<dev_t, ino_t>, std::string> seen;
  auto join = [](const std::string& rel, const std::string& name) {
    return rel.empty() ? name : rel + "/" + name;
  };
  TreeWalk walk;
  walk.sorted = true;
  walk.one_filesystem = true;
  walk.visit = [&](const DirCursor& at, const std::string& name,
                   const struct stat& st) -> Result<bool> {
    const std::string path = join(at.rel(), name);
    if (layer_fs::is_whiteout(st)) {
      LJ_TRY(tar.file(join(at.rel(), ".wh." + name), {}));
      return false;
    }
    if (S_ISSOCK(st.st_mode)) return false;
    EntryPtr e(::archive_entry_new());
    ::archive_entry_set_pathname(e.get(), path.c_str());
    ::archive_entry_set_uid(e.get(), st.st_uid);
    ::archive_entry_set_gid(e.get(), st.st_gid);
    ::archive_entry_set_perm(e.get(), st.st_mode & 07777);
    ::archive_entry_set_mtime(e.get(), st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    UniqueFd fd;
    if (S_ISDIR(st.st_mode) || S_ISREG(st.st_mode)) {
      const int flags = O_RDONLY | O_NOFOLLOW | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0);
      fd = UniqueFd(LJ_SYS("openat", ::openat(at.fd(), name.c_str(), flags)));
      if (!fd) return fail_errno("image", "open " + at.describe(name));
      struct stat now {};
      if (::fstat(fd.get(), &now) != 0 || now.st_ino != st.st_ino || now.st_dev != st.st_dev) {
        return fail(Errc::conflict, "image", at.describe(name) + " changed while it was exported");
      }
      LJ_TRY_CTX(at.describe(name), add_xattrs(e.get(), fd.get()));
    }
    if (S_ISDIR(st.st_mode)) {
      ::archive_entry_set_filetype(e.get(), AE_IFDIR);
      LJ_TRY(tar.header(e.get()));
      return true;
    }
    if (S_ISREG(st.st_mode)) {
      if (st.st_nlink > 1) {
        auto [it, first] = seen.emplace(std::make_pair(st.st_dev, st.st_ino), path);
        if (!first) {
          ::archive_entry_set_filetype(e.get(), AE_IFREG);
          ::archive_entry_set_hardlink(e.get(), it->second.c_str());
          ::archive_entry_set_size(e.get(), 0);
          LJ_TRY(tar.header(e.get()));
          return false;
        }
      }
      ::archive_entry_set_filetype(e.get(), AE_IFREG);
      ::archive_entry_set_size(e.get(), st.st_size);
      LJ_TRY(tar.header(e.get()));
      LJ_TRY(copy_fd(tar, fd.get(), at.describe(name)));
      if (tick) tick();
      return false;
    }
    if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<std::size_t>(st.st_size) + 1, '\0');
      ssize_t n = ::readlinkat(at.fd(), name.c_str(), target.data(), target.size());
      if (n < 0) return fail_errno("image", "readlink " + at.describe(name));
      target.resize(static_cast<std::size_t>(n));
      ::archive_entry_set_filetype(e.get(), AE_IFLNK);
      ::archive_entry_set_symlink(e.get(), target.c_str());
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      ::archive_entry_set_filetype(e.get(), S_ISCHR(st.st_mode) ? AE_IFCHR : AE_IFBLK);
      ::archive_entry_set_rdev(e.get(), st.st_rdev);
    } else if (S_ISFIFO(st.st_mode)) {
      ::archive_entry_set_filetype(e.get(), AE_IFIFO);
    } else {
      return false;
    }
    LJ_TRY(tar.header(e.get()));
    return false;
  };
  walk.entered = [&](const DirCursor& in) -> Status {
    const bool opaque = LJ_TRY(layer_fs::is_opaque(in.fd()));
    if (opaque) return tar.file(join(in.rel(), ".wh..wh..opq"), {});
    return {};
  };
  return walk_tree(top, walk);
}

// One layer blob: the tar of `dir`, hashed as it is written. Returns its descriptor.
Result<Descriptor> store_layer(const Store& store, const fs::path& dir,
                               const std::function<void(std::uint64_t)>& on_bytes) {
  auto writer = LJ_TRY(store.writer(std::nullopt, std::nullopt));
  auto sink = [&](const void* p, std::size_t n) -> Status {
    LJ_TRY(writer.write(p, n));
    if (on_bytes) on_bytes(writer.written());
    return {};
  };
  auto tar = LJ_TRY(TarWriter::open(sink, "exporting " + dir.string()));
  LJ_TRY(write_layer(*tar, dir, {}));
  LJ_TRY(tar->close());
  Descriptor d;
  d.media_type = std::string(media::kOciLayer);
  d.size = static_cast<std::int64_t>(writer.written());
  d.digest = LJ_TRY(writer.commit());
  return d;
}

}  // namespace

Result<Digest> export_image(const Store& store, const ExportRequest& request,
                            const ExportProgressFn& progress) {
  Manifest m;
  m.media_type = std::string(media::kOciManifest);
  json config;
  json diff_ids = json::array();
  if (request.base) {
    Manifest base = LJ_TRY_CTX("the base image", store.read_manifest(*request.base));
    std::string raw = LJ_TRY_CTX("the base image", store.read_document(base.config.digest));
    config = json::parse(raw, nullptr, false);
    if (!config.is_object()) {
      return fail(Errc::invalid_argument, "image", "the base image's config is not a JSON object");
    }
    auto base_config = LJ_TRY(parse_config(raw));
    for (const auto& d : base_config.diff_ids) diff_ids.push_back(d.str());
    m.layers = base.layers;
  } else {
    const Platform p = host_platform();
    config = {{"architecture", p.architecture},
              {"os", p.os},
              {"config",
               {{"Env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}},
                {"Cmd", {"/bin/sh"}}}},
              {"history", json::array()}};
  }
  const std::size_t count = request.layers.size();
  for (std::size_t i = 0; i < count; ++i) {
    const auto& l = request.layers[i];
    auto d = LJ_TRY(store_layer(store, l.dir, [&](std::uint64_t bytes) {
      if (progress) progress(i, count, bytes, false);
    }));
    if (progress) progress(i, count, static_cast<std::uint64_t>(d.size), true);
    diff_ids.push_back(d.digest.str());  // uncompressed: the blob is its own diff_id
    m.layers.push_back(std::move(d));
    if (config.contains("history") && config["history"].is_array()) {
      config["history"].push_back({{"created_by", l.created_by}, {"comment", "ljd export"}});
    }
  }
  config["rootfs"] = {{"type", "layers"}, {"diff_ids", diff_ids}};
  if (!request.labels.empty()) {
    json& labels = config["config"]["Labels"];
    if (!labels.is_object()) labels = json::object();
    for (const auto& [k, v] : request.labels) labels[k] = v;
  }
  const std::string config_text = config.dump();
  m.config.media_type = std::string(media::kOciConfig);
  m.config.digest = LJ_TRY(store.put(config_text));
  m.config.size = static_cast<std::int64_t>(config_text.size());
  return store.put(manifest_json(m));
}

Result<Image> install_export(const Store& store, const Digest& manifest,
                             const ExportRequest& request, const UnpackPolicy& policy) {
  Manifest m = LJ_TRY(store.read_manifest(manifest));
  ImageConfig c = LJ_TRY(store.read_config(m.config.digest));
  const std::size_t own = request.layers.size();
  if (m.layers.size() != c.diff_ids.size() || m.layers.size() < own) {
    return fail(Errc::internal, "image", "image " + manifest.str() + " is not the export of its request");
  }
  // The request's trees are the manifest's top layers, bottom first.
  std::vector<StagedLayer> staged;
  for (std::size_t j = 0; j < own; ++j) {
    const std::size_t i = m.layers.size() - own + j;
    if (store.has_layer(c.diff_ids[i])) continue;
    bool dup = false;
    for (const auto& s : staged) dup = dup || s.diff_id == c.diff_ids[i];
    if (dup) continue;
    staged.push_back(LJ_TRY_CTX("unpacking the exported layer of " + request.layers[j].dir.string(),
                                store.stage_layer(m.layers[i].digest, c.diff_ids[i], policy,
                                                  request.layers[j].dir)));
  }
  LJ_TRY(store.publish_layers(std::move(staged)));
  return store.install(manifest, policy);
}

Status write_oci_archive(const Store& store, const Digest& manifest, const std::string& ref_name,
                         int out_fd) {
  // Everything the archive holds, checked present before a byte is written.
  Manifest m = LJ_TRY(store.read_manifest(manifest));
  std::vector<Digest> blobs = {manifest, m.config.digest};
  for (const auto& l : m.layers) blobs.push_back(l.digest);
  for (const auto& d : blobs) {
    if (!store.has_blob(d)) {
      return fail(Errc::not_found, "image", "blob " + d.str() + " of " + manifest.str() +
                                                " is not in the store (pulled partly?)");
    }
  }
  struct stat mst {};
  if (::stat(store.blob_path(manifest).c_str(), &mst) != 0) {
    return fail_errno("image", "stat " + store.blob_path(manifest).string());
  }
  auto tar = LJ_TRY(TarWriter::open(
      [out_fd](const void* p, std::size_t n) -> Status {
        if (!write_all(out_fd, p, n)) return fail_errno("image", "write the archive");
        return {};
      },
      "saving " + manifest.str()));
  json desc = {{"mediaType", m.media_type.empty() ? std::string(media::kOciManifest) : m.media_type},
               {"digest", manifest.str()},
               {"size", mst.st_size}};
  if (!ref_name.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", ref_name}};
  json index = {{"schemaVersion", 2},
                {"mediaType", std::string(media::kOciIndex)},
                {"manifests", json::array({desc})}};
  LJ_TRY(tar->file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})"));
  LJ_TRY(tar->file("index.json", index.dump()));
  std::set<std::string> written;
  for (const auto& d : blobs) {
    if (!written.insert(d.hex()).second) continue;  // a layer listed twice
    const fs::path file = store.blob_path(d);
    UniqueFd fd(LJ_SYS("open", ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)));
    if (!fd) return fail_errno("image", "open " + file.string());
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail_errno("image", "fstat " + file.string());
    EntryPtr e(::archive_entry_new());
    const std::string path = "blobs/sha256/" + d.hex();
    ::archive_entry_set_pathname(e.get(), path.c_str());
    ::archive_entry_set_filetype(e.get(), AE_IFREG);
    ::archive_entry_set_perm(e.get(), 0644);
    ::archive_entry_set_size(e.get(), st.st_size);
    LJ_TRY(tar->header(e.get()));
    // Verified as it is read: a blob damaged on disk is an error, not a bad archive.
    Sha256 hash;
    std::array<char, 128 * 1024> buf{};
    std::uint64_t total = 0;
    for (;;) {
      ssize_t n = LJ_SYS("read", ::read(fd.get(), buf.data(), buf.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return fail_errno("image", "read " + file.string());
      if (n == 0) break;
      hash.update(buf.data(), static_cast<std::size_t>(n));
      total += static_cast<std::uint64_t>(n);
      LJ_TRY(tar->data(buf.data(), static_cast<std::size_t>(n), path));
    }
    if (total != static_cast<std::uint64_t>(st.st_size) || hash.finish() != d) {
      return fail(Errc::invalid_argument, "image",
                  "blob " + file.string() + " does not match its digest (damaged on disk)");
    }
  }
  return tar->close();
}

}  // namespace lj::image
