#include "image/import.hpp"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "image/reference.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::image {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view kRefAnnotation = "org.opencontainers.image.ref.name";

struct ArchiveFree {
  void operator()(archive* a) const { ::archive_read_free(a); }
};

Error bad(const std::string& what) { return Error(Errc::invalid_argument, "image", what); }

// Where an import finds its files: a layout directory, or a tar already streamed into the store.
class Source {
 public:
  virtual ~Source() = default;
  virtual bool has(const std::string& rel) const = 0;
  virtual Result<std::string> small(const std::string& rel) const = 0;  // limited to kMaxDocumentBytes
  // Stores file `rel` as a blob (checked against `expected` and `size` when given).
  virtual Result<Digest> blob(const std::string& rel, std::optional<Digest> expected,
                              std::optional<std::uint64_t> size, std::uint64_t limit) = 0;
};

class DirSource : public Source {
 public:
  DirSource(const Store& s, fs::path dir) : store_(s), dir_(std::move(dir)) {}
  bool has(const std::string& rel) const override {
    struct stat st {};
    return ::lstat((dir_ / rel).c_str(), &st) == 0 && S_ISREG(st.st_mode);
  }
  Result<std::string> small(const std::string& rel) const override {
    return overlay::read_file(dir_ / rel, kMaxDocumentBytes);
  }
  Result<Digest> blob(const std::string& rel, std::optional<Digest> expected,
                      std::optional<std::uint64_t> size, std::uint64_t limit) override {
    if (!has(rel)) return fail(Errc::not_found, "image", "the layout has no " + rel);
    return store_.put_file(dir_ / rel, std::move(expected), size, limit);
  }

 private:
  const Store& store_;
  fs::path dir_;
};

// One pass over the tar: small files (the layout's documents, manifest.json) kept in memory,
// every other regular file streamed into the store; symlinks remembered and resolved on lookup.
class TarSource : public Source {
 public:
  explicit TarSource(const Store& s) : store_(s) {}

  Status read(const fs::path& file) {
    std::unique_ptr<archive, ArchiveFree> a(::archive_read_new());
    ::archive_read_support_filter_all(a.get());
    ::archive_read_support_format_tar(a.get());
    if (::archive_read_open_filename(a.get(), file.c_str(), 256 * 1024) != ARCHIVE_OK) {
      return fail(bad(file.string() + ": " + ::archive_error_string(a.get())));
    }
    std::vector<char> buf(256 * 1024);
    for (;;) {
      archive_entry* e = nullptr;
      int r = ::archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r < ARCHIVE_WARN) return fail(bad(file.string() + ": " + ::archive_error_string(a.get())));
      std::string rel = LJ_TRY(layer_relative_path(::archive_entry_pathname(e), "archive entry"));
      if (const char* hl = ::archive_entry_hardlink(e)) {
        links_[rel] = LJ_TRY(layer_relative_path(hl, "hard link target"));
        continue;
      }
      auto type = ::archive_entry_filetype(e);
      if (type == AE_IFLNK) {
        // Relative to the link's directory, kept inside the archive's namespace.
        std::string target = ::archive_entry_symlink(e);
        auto slash = rel.rfind('/');
        std::string joined = target.starts_with("/") ? target
                             : slash == std::string::npos ? target
                                                          : rel.substr(0, slash) + "/" + target;
        links_[rel] = LJ_TRY(normalize(joined));
        continue;
      }
      if (type != AE_IFREG) continue;
      const bool is_doc = rel == "index.json" || rel == "oci-layout" || rel == "manifest.json" ||
                          rel == "repositories";
      if (is_doc) {
        std::string text;
        for (;;) {
          la_ssize_t n = ::archive_read_data(a.get(), buf.data(), buf.size());
          if (n < 0) return fail(bad(file.string() + ": " + ::archive_error_string(a.get())));
          if (n == 0) break;
          if (text.size() + static_cast<std::size_t>(n) > kMaxDocumentBytes) {
            return fail(Errc::limit, "image", rel + " in " + file.string() + " is over " +
                                                  std::to_string(kMaxDocumentBytes) + " bytes");
          }
          text.append(buf.data(), static_cast<std::size_t>(n));
        }
        docs_[rel] = std::move(text);
        continue;
      }
      // The layout names blobs by digest: check it while storing.
      std::optional<Digest> expected;
      if (rel.starts_with("blobs/sha256/")) {
        expected = LJ_TRY_CTX("archive entry " + rel, Digest::parse("sha256:" + rel.substr(13)));
      }
      auto w = LJ_TRY(store_.writer(expected, static_cast<std::uint64_t>(::archive_entry_size(e))));
      for (;;) {
        la_ssize_t n = ::archive_read_data(a.get(), buf.data(), buf.size());
        if (n < 0) return fail(bad(file.string() + ": " + rel + ": " + ::archive_error_string(a.get())));
        if (n == 0) break;
        LJ_TRY_CTX("archive entry " + rel, w.write(buf.data(), static_cast<std::size_t>(n)));
      }
      files_[rel] = LJ_TRY_CTX("archive entry " + rel, w.commit());
    }
    return {};
  }

  bool has(const std::string& rel) const override {
    auto r = resolve(rel);
    return r && (docs_.count(*r) || files_.count(*r));
  }
  Result<std::string> small(const std::string& rel) const override {
    auto r = LJ_TRY(resolve(rel));
    if (auto it = docs_.find(r); it != docs_.end()) return it->second;
    if (auto it = files_.find(r); it != files_.end()) return store_.read_document(it->second);
    return fail(Errc::not_found, "image", "the archive has no " + rel);
  }
  Result<Digest> blob(const std::string& rel, std::optional<Digest> expected,
                      std::optional<std::uint64_t> size, std::uint64_t limit) override {
    auto r = LJ_TRY(resolve(rel));
    auto it = files_.find(r);
    if (it == files_.end()) return fail(Errc::not_found, "image", "the archive has no " + rel);
    if (expected && it->second != *expected) {
      return fail(bad("archive file " + rel + " is " + it->second.str() + ", expected " +
                      expected->str()));
    }
    struct stat st {};
    if (::stat(store_.blob_path(it->second).c_str(), &st) == 0) {
      auto n = static_cast<std::uint64_t>(st.st_size);
      if ((size && n != *size) || n > limit) {
        return fail(bad("archive file " + rel + " has " + std::to_string(n) + " bytes, expected " +
                        (size ? std::to_string(*size) : "at most " + std::to_string(limit))));
      }
    }
    return it->second;
  }

 private:
  static Result<std::string> normalize(const std::string& p) {
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= p.size()) {
      auto s = p.find('/', i);
      if (s == std::string::npos) s = p.size();
      std::string c = p.substr(i, s - i);
      i = s + 1;
      if (c.empty() || c == ".") continue;
      if (c == "..") {
        if (parts.empty()) return fail(bad("archive symlink target " + p + " leaves the archive"));
        parts.pop_back();
        continue;
      }
      parts.push_back(c);
    }
    std::string out;
    for (const auto& c : parts) out += (out.empty() ? "" : "/") + c;
    return out;
  }
  Result<std::string> resolve(const std::string& rel) const {
    std::string cur = LJ_TRY(normalize(rel));
    for (int depth = 0; depth < 16; ++depth) {
      auto it = links_.find(cur);
      if (it == links_.end()) return cur;
      cur = it->second;
    }
    return fail(bad("archive path " + rel + ": too many links"));
  }

  const Store& store_;
  std::map<std::string, std::string> docs_;
  std::map<std::string, Digest> files_;
  std::map<std::string, std::string> links_;
};

std::string blob_rel(const Digest& d) { return "blobs/sha256/" + d.hex(); }

// Copies one image manifest and everything it references from the layout, then unpacks it.
Result<Digest> import_manifest(const Store& store, Source& src, const Descriptor& desc,
                               const UnpackPolicy& policy) {
  Digest md = LJ_TRY(src.blob(blob_rel(desc.digest), desc.digest, desc.size, kMaxDocumentBytes));
  Manifest m = LJ_TRY(store.read_manifest(md));
  LJ_TRY(src.blob(blob_rel(m.config.digest), m.config.digest, m.config.size, kMaxDocumentBytes));
  for (const auto& l : m.layers) {
    LJ_TRY(src.blob(blob_rel(l.digest), l.digest, l.size, UINT64_MAX));
  }
  LJ_TRY(store.install(md, policy));
  return md;
}

// An index entry -> the manifest for this host (following nested indexes, as podman writes them
// for manifest lists).
Result<Descriptor> resolve_entry(const Store& store, Source& src, Descriptor d, int depth = 0) {
  if (depth > 4) return fail(bad("image indexes nested too deep"));
  if (!media::is_index(d.media_type)) return d;
  Digest id = LJ_TRY(src.blob(blob_rel(d.digest), d.digest, d.size, kMaxDocumentBytes));
  Index nested = LJ_TRY(store.read_index(id));
  Descriptor chosen = LJ_TRY(select_platform(nested, host_platform()));
  if (d.annotations.count(std::string(kRefAnnotation))) chosen.annotations = d.annotations;
  return resolve_entry(store, src, chosen, depth + 1);
}

// The layout's reference annotation as a full reference, when it is one ("localhost/bb:1");
// a bare tag ("latest", as image-layout.md allows) names nothing without a repository.
std::string annotated_ref(const Descriptor& d) {
  auto it = d.annotations.find(std::string(kRefAnnotation));
  if (it == d.annotations.end()) return "";
  if (it->second.find('/') == std::string::npos && it->second.find(':') == std::string::npos) {
    return "";
  }
  auto r = Reference::parse(it->second);
  return r ? r->str() : "";
}

Result<std::vector<std::pair<std::string, Digest>>> import_layout(const Store& store, Source& src,
                                                                  const ImportOptions& opt) {
  std::string index_text = LJ_TRY(src.small("index.json"));
  Index idx = LJ_TRY_CTX("index.json", parse_index(index_text));
  std::vector<std::pair<std::string, Digest>> out;
  for (const auto& entry : idx.manifests) {
    Descriptor d = entry;
    if (media::is_index(d.media_type)) {
      d = LJ_TRY(resolve_entry(store, src, entry));
    } else if (entry.platform) {
      // A layout may list one manifest per platform directly: keep only this host's.
      Index one{{entry}};
      if (!select_platform(one, host_platform())) continue;
    }
    Digest md = LJ_TRY(import_manifest(store, src, d, opt.unpack));
    out.emplace_back(annotated_ref(entry), md);
  }
  if (out.empty()) return fail(Errc::not_found, "image", "the layout has no image for this platform");
  return out;
}

Result<std::vector<std::pair<std::string, Digest>>> import_docker(const Store& store, Source& src,
                                                                  const ImportOptions& opt) {
  json j = json::parse(LJ_TRY(src.small("manifest.json")), nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.empty()) {
    return fail(bad("manifest.json of the docker archive is not a non-empty array"));
  }
  std::vector<std::pair<std::string, Digest>> out;
  for (const auto& item : j) {
    if (!item.is_object() || !item.contains("Config") || !item["Config"].is_string() ||
        !item.contains("Layers") || !item["Layers"].is_array()) {
      return fail(bad("manifest.json: an entry without Config and Layers"));
    }
    Manifest m;
    m.media_type = media::kOciManifest;
    m.config.media_type = media::kOciConfig;
    m.config.digest = LJ_TRY(src.blob(item["Config"].get<std::string>(), std::nullopt,
                                      std::nullopt, kMaxDocumentBytes));
    std::string config_text = LJ_TRY(store.read_document(m.config.digest));
    m.config.size = static_cast<std::int64_t>(config_text.size());
    ImageConfig cfg = LJ_TRY(parse_config(config_text));
    for (const auto& l : item["Layers"]) {
      if (!l.is_string()) return fail(bad("manifest.json: a layer that is not a path"));
      Descriptor d;
      d.digest = LJ_TRY(src.blob(l.get<std::string>(), std::nullopt, std::nullopt, UINT64_MAX));
      struct stat st {};
      if (::stat(store.blob_path(d.digest).c_str(), &st) != 0) {
        return fail_errno("image", "stat " + store.blob_path(d.digest).string());
      }
      d.size = st.st_size;
      // The layer file as it is: an uncompressed tar in every docker-archive writer known
      // (its digest is then its diff_id); gzip when it starts with gzip's magic.
      char magic[2] = {};
      FILE* f = std::fopen(store.blob_path(d.digest).c_str(), "rb");
      if (f) {
        if (std::fread(magic, 1, 2, f) != 2) magic[0] = 0;
        std::fclose(f);
      }
      d.media_type = (magic[0] == '\x1f' && magic[1] == '\x8b') ? media::kOciLayerGzip : media::kOciLayer;
      m.layers.push_back(std::move(d));
    }
    if (m.layers.size() != cfg.diff_ids.size()) {
      return fail(bad("manifest.json names " + std::to_string(m.layers.size()) +
                      " layers, the config lists " + std::to_string(cfg.diff_ids.size())));
    }
    Digest md = LJ_TRY(store.put(manifest_json(m)));
    LJ_TRY(store.install(md, opt.unpack));
    std::string ref;
    if (auto tags = item.find("RepoTags"); tags != item.end() && tags->is_array() && !tags->empty() &&
                                           (*tags)[0].is_string()) {
      if (auto r = Reference::parse((*tags)[0].get<std::string>())) ref = r->str();
    }
    out.emplace_back(ref, md);
  }
  return out;
}

// A name an OCI archive or a docker archive holds (relative, no "./" or trailing slash):
// oci-layout, index.json, blobs/..., manifest.json, repositories, and docker save's
// <id>.json, <id>.tar, <id>/{layer.tar,VERSION,json} (<id>: 64 hex digits).
bool image_archive_name(std::string_view rel) {
  if (rel.empty() || rel == "oci-layout" || rel == "index.json" || rel == "manifest.json" ||
      rel == "repositories" || rel == "blobs" || rel.starts_with("blobs/")) {
    return true;
  }
  const auto slash = rel.find('/');
  std::string_view head = rel.substr(0, slash);
  std::string_view id = head;
  if (slash == std::string_view::npos && (head.ends_with(".json") || head.ends_with(".tar"))) {
    id = head.substr(0, head.rfind('.'));
  }
  const bool hex =
      id.size() == 64 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!hex || slash == std::string_view::npos) return hex;
  std::string_view tail = rel.substr(slash + 1);
  return tail.empty() || tail == "layer.tar" || tail == "VERSION" || tail == "json";
}

// An archive entry's name as image_archive_name takes it: "./blobs/sha256/" -> "blobs/sha256".
std::string_view entry_name(std::string_view p) {
  while (p.starts_with("./")) p.remove_prefix(2);
  while (p.starts_with("/")) p.remove_prefix(1);
  while (p.ends_with("/")) p.remove_suffix(1);
  return p == "." ? std::string_view() : p;
}

constexpr std::string_view kWorldHint =
    "a root filesystem is imported as a world (ljctl world import NAME FILE)";

}  // namespace

Result<std::string> image_source_kind(const fs::path& source) {
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return fail_errno("image", "stat " + source.string());
  if (S_ISDIR(st.st_mode)) {
    struct stat f {};
    if (::lstat((source / "oci-layout").c_str(), &f) == 0 && S_ISREG(f.st_mode)) {
      return std::string("an OCI image layout");
    }
    return fail(bad(source.string() + " is a directory without oci-layout: not an OCI image " +
                    "layout; " + std::string(kWorldHint)));
  }
  std::unique_ptr<archive, ArchiveFree> a(::archive_read_new());
  ::archive_read_support_filter_all(a.get());
  ::archive_read_support_format_tar(a.get());
  if (::archive_read_open_filename(a.get(), source.c_str(), 64 * 1024) != ARCHIVE_OK) {
    return fail(bad(source.string() + ": " + ::archive_error_string(a.get())));
  }
  bool layout = false, docker = false;
  for (;;) {
    archive_entry* e = nullptr;
    int r = ::archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return fail(bad(source.string() + ": " + ::archive_error_string(a.get())));
    }
    std::string_view rel = entry_name(::archive_entry_pathname(e));
    if (!image_archive_name(rel)) {
      return fail(bad(source.string() + " holds " + std::string(rel) +
                      ", which no OCI or docker archive holds: not an image; " +
                      std::string(kWorldHint)));
    }
    layout = layout || rel == "oci-layout";
    docker = docker || rel == "manifest.json";
    // Skipping a compressed tar's data means decompressing it: judge by the first name.
    if (!rel.empty() && ::archive_filter_code(a.get(), 0) != ARCHIVE_FILTER_NONE) {
      return std::string("an image archive");
    }
  }
  if (layout) return std::string("an OCI archive");
  if (docker) return std::string("a docker archive");
  return fail(bad(source.string() +
                  " is neither an OCI archive (oci-layout, index.json) nor a docker archive "
                  "(manifest.json)"));
}

Result<std::vector<ImportedImage>> import_images(const Store& store, const fs::path& source,
                                                 const ImportOptions& options) {
  std::optional<std::string> name;
  if (options.name) name = LJ_TRY(Reference::parse(*options.name)).str();
  LJ_TRY(image_source_kind(source));  // nothing stored for what is not an image
  struct stat st {};
  if (::stat(source.c_str(), &st) != 0) return fail_errno("image", "stat " + source.string());

  std::unique_ptr<Source> src;
  std::vector<std::pair<std::string, Digest>> found;
  if (S_ISDIR(st.st_mode)) {
    src = std::make_unique<DirSource>(store, source);
    found = LJ_TRY_CTX(source.string(), import_layout(store, *src, options));
  } else {
    auto tar = std::make_unique<TarSource>(store);
    LJ_TRY(tar->read(source));
    src = std::move(tar);
    if (src->has("oci-layout") && src->has("index.json")) {
      found = LJ_TRY_CTX(source.string(), import_layout(store, *src, options));
    } else if (src->has("manifest.json")) {
      found = LJ_TRY_CTX(source.string(), import_docker(store, *src, options));
    } else {
      return fail(bad(source.string() +
                      " is neither an OCI archive (oci-layout, index.json) nor a docker archive "
                      "(manifest.json)"));
    }
  }
  if (name && found.size() > 1) {
    return fail(bad(source.string() + " holds " + std::to_string(found.size()) +
                    " images; a name can be given to one only"));
  }
  std::vector<ImportedImage> out;
  for (auto& [ref, md] : found) {
    ImportedImage im;
    im.ref = name ? *name : ref;
    im.manifest = md;
    im.layers = LJ_TRY(store.read_manifest(md)).layers.size();
    if (!im.ref.empty()) LJ_TRY(store.set_ref(im.ref, md));
    log("image")->info("imported image ref={} manifest={} from={}", im.ref.empty() ? "-" : im.ref,
                       md.str(), source.string());
    out.push_back(std::move(im));
  }
  return out;
}

}  // namespace lj::image
