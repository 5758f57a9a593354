// Test helpers: layer tars built in memory (libarchive's pax writer, optionally gzip), and OCI
// image layouts written by hand from them, so tests control every entry an attacker could.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../overlay/temp_dir.hpp"
#include "image/digest.hpp"

namespace lj::image::test {

namespace fs = std::filesystem;
using overlay::test::TempDir;
using overlay::test::slurp;

struct Entry {
  std::string path;
  unsigned type = AE_IFREG;
  unsigned perm = 0644;
  std::string data;
  std::string symlink;
  std::string hardlink;
  unsigned uid = 0, gid = 0;
  unsigned rmajor = 0, rminor = 0;
  std::map<std::string, std::string> xattrs;
};
inline Entry dir(std::string p, unsigned perm = 0755) {
  Entry e;
  e.path = std::move(p);
  e.type = AE_IFDIR;
  e.perm = perm;
  return e;
}
inline Entry file(std::string p, std::string data, unsigned perm = 0644) {
  Entry e;
  e.path = std::move(p);
  e.data = std::move(data);
  e.perm = perm;
  return e;
}
inline Entry sym(std::string p, std::string target) {
  Entry e;
  e.path = std::move(p);
  e.type = AE_IFLNK;
  e.perm = 0777;
  e.symlink = std::move(target);
  return e;
}
inline Entry hard(std::string p, std::string target) {
  Entry e;
  e.path = std::move(p);
  e.hardlink = std::move(target);
  return e;
}
inline Entry chr(std::string p, unsigned ma, unsigned mi) {
  Entry e;
  e.path = std::move(p);
  e.type = AE_IFCHR;
  e.rmajor = ma;
  e.rminor = mi;
  return e;
}

inline la_ssize_t append_cb(archive*, void* out, const void* buf, size_t n) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

// A pax tar of `entries`, gzip'd when `gzip`.
inline std::string make_tar(const std::vector<Entry>& entries, bool gzip = false) {
  std::string out;
  archive* a = archive_write_new();
  if (gzip) archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_in_last_block(a, 1);
  archive_write_open(a, &out, nullptr, append_cb, nullptr);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_uid(ae, e.uid);
    archive_entry_set_gid(ae, e.gid);
    archive_entry_set_mtime(ae, 1700000000, 0);
    if (!e.symlink.empty()) archive_entry_set_symlink(ae, e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(ae, e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(ae, e.rmajor);
      archive_entry_set_rdevminor(ae, e.rminor);
    }
    for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
    archive_entry_set_size(ae, e.type == AE_IFREG && e.hardlink.empty() ? static_cast<la_int64_t>(e.data.size()) : 0);
    archive_write_header(a, ae);
    if (e.type == AE_IFREG && e.hardlink.empty() && !e.data.empty()) {
      archive_write_data(a, e.data.data(), e.data.size());
    }
    archive_entry_free(ae);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// The uncompressed tar's digest, whatever `blob` is (gunzip through libarchive's raw format).
inline Digest diff_id_of(const std::string& blob) {
  archive* a = archive_read_new();
  archive_read_support_filter_all(a);
  archive_read_support_format_raw(a);
  archive_read_open_memory(a, blob.data(), blob.size());
  archive_entry* e = nullptr;
  archive_read_next_header(a, &e);
  Sha256 h;
  char buf[65536];
  la_ssize_t n;
  while ((n = archive_read_data(a, buf, sizeof buf)) > 0) h.update(buf, static_cast<size_t>(n));
  archive_read_free(a);
  return h.finish();
}

inline void write_file(const fs::path& p, const std::string& data) {
  fs::create_directories(p.parent_path());
  FILE* f = std::fopen(p.c_str(), "wb");
  if (!f) std::abort();
  std::fwrite(data.data(), 1, data.size(), f);
  std::fclose(f);
}

// An image made of `layers` (blobs as given, gzip'd or not), for linux/<host arch>.
struct BuiltImage {
  std::vector<std::string> layer_blobs;
  std::string config;
  std::string manifest;
  Digest manifest_digest;
};

inline BuiltImage build_image(const std::vector<std::string>& layer_blobs,
                              const std::string& arch = "amd64",
                              const nlohmann::json& cfg_extra = nlohmann::json::object()) {
  using json = nlohmann::json;
  BuiltImage img;
  img.layer_blobs = layer_blobs;
  json diff_ids = json::array();
  json layers = json::array();
  for (const auto& b : layer_blobs) {
    diff_ids.push_back(diff_id_of(b).str());
    bool gz = b.size() > 2 && b[0] == '\x1f' && b[1] == '\x8b';
    layers.push_back({{"mediaType", gz ? "application/vnd.oci.image.layer.v1.tar+gzip"
                                       : "application/vnd.oci.image.layer.v1.tar"},
                      {"digest", Digest::of(b).str()},
                      {"size", b.size()}});
  }
  json cfg = {{"architecture", arch},
              {"os", "linux"},
              {"config", cfg_extra},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
  img.config = cfg.dump();
  json m = {{"schemaVersion", 2},
            {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"config",
             {{"mediaType", "application/vnd.oci.image.config.v1+json"},
              {"digest", Digest::of(img.config).str()},
              {"size", img.config.size()}}},
            {"layers", layers}};
  img.manifest = m.dump();
  img.manifest_digest = Digest::of(img.manifest);
  return img;
}

// Writes `img` as an OCI image layout in `dir`, named `ref` (annotation) when not empty.
inline void write_layout(const fs::path& dir, const BuiltImage& img, const std::string& ref = "") {
  using json = nlohmann::json;
  write_file(dir / "oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  auto blob = [&](const std::string& b) { write_file(dir / "blobs/sha256" / Digest::of(b).hex(), b); };
  for (const auto& b : img.layer_blobs) blob(b);
  blob(img.config);
  blob(img.manifest);
  json d = {{"mediaType", "application/vnd.oci.image.manifest.v1+json"},
            {"digest", img.manifest_digest.str()},
            {"size", img.manifest.size()}};
  if (!ref.empty()) d["annotations"] = {{"org.opencontainers.image.ref.name", ref}};
  json index = {{"schemaVersion", 2}, {"manifests", json::array({d})}};
  write_file(dir / "index.json", index.dump());
}

// Entries under `dir` (relative paths), for "nothing was stored" checks.
inline std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    out.push_back(fs::relative(it->path(), dir).string());
  }
  return out;
}

}  // namespace lj::image::test
