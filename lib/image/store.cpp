#include "image/store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>
#include <system_error>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/log.hpp"
#include "common/sys.hpp"
#include "common/write_all.hpp"
#include "image/layer_fs.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::image {
namespace {

namespace fs = std::filesystem;

Status mkdirs(const fs::path& p) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return fail(Error(Errc::system, "image", "mkdir " + p.string() + ": " + ec.message(), ec.value()));
  return {};
}

}  // namespace

Status BlobWriter::write(const void* data, std::size_t n) {
  std::uint64_t cap = size_ ? std::min(*size_, limit_) : limit_;
  if (written_ + n > cap) {
    return fail(Errc::limit, "image",
                "blob " + (expected_ ? expected_->str() : std::string("(unnamed)")) +
                    " is larger than " + std::to_string(cap) + " bytes" +
                    (size_ && cap == *size_ ? " (its declared size)" : ""));
  }
  LJ_TRY(write_all(fd_.get(), std::string_view(static_cast<const char*>(data), n), "image", "blob"));
  hash_.update(data, n);
  written_ += n;
  return {};
}

Result<Digest> BlobWriter::commit() {
  Digest got = hash_.finish();
  if (size_ && written_ != *size_) {
    return fail(Errc::invalid_argument, "image",
                "blob " + (expected_ ? expected_->str() : got.str()) + " is truncated: " +
                    std::to_string(written_) + " of " + std::to_string(*size_) + " bytes");
  }
  if (expected_ && got != *expected_) {
    return fail(Errc::invalid_argument, "image",
                "blob digest mismatch: expected " + expected_->str() + ", content is " + got.str());
  }
  if (LJ_SYS("fsync", ::fsync(fd_.get())) != 0) return fail_errno("image", "fsync blob");
  fd_.reset();
  const fs::path dst = blobs_ / got.hex();
  const fs::path src = dir_.path() / "blob";
  if (LJ_SYS("rename", ::rename(src.c_str(), dst.c_str())) != 0) {
    return fail_errno("image", "rename blob to " + dst.string());
  }
  LJ_TRY(overlay::fsync_path(blobs_));
  return got;
}

Result<Store> Store::open(const overlay::Root& root) {
  Store s(root);
  LJ_TRY(mkdirs(s.dir() / "blobs" / "sha256"));
  LJ_TRY(mkdirs(s.dir() / "layers" / "sha256"));
  LJ_TRY(mkdirs(root.staging_dir()));
  // Layers keep their set-id files and devices: the store is the owner's alone (docs/security.md).
  LJ_TRY(root.restrict_access());
  return s;
}

fs::path Store::blob_path(const Digest& d) const { return dir() / "blobs" / "sha256" / d.hex(); }
fs::path Store::layer_path(const Digest& d) const { return dir() / "layers" / "sha256" / d.hex(); }

bool Store::has_blob(const Digest& d) const {
  struct stat st {};
  return ::lstat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool Store::has_layer(const Digest& d) const {
  struct stat st {};
  return ::lstat(layer_path(d).c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Result<BlobWriter> Store::writer(std::optional<Digest> expected, std::optional<std::uint64_t> size,
                                 std::uint64_t limit) const {
  if (size && *size > limit) {
    return fail(Errc::limit, "image",
                "blob " + (expected ? expected->str() : std::string("(unnamed)")) + " declares " +
                    std::to_string(*size) + " bytes, over the limit of " + std::to_string(limit));
  }
  auto staging = LJ_TRY(overlay::StagingDir::create(root_, "blob"));
  const fs::path p = staging.path() / "blob";
  UniqueFd fd(LJ_SYS("open", ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)));
  if (!fd) return fail_errno("image", "create " + p.string());
  return BlobWriter(std::move(staging), std::move(fd), dir() / "blobs" / "sha256", std::move(expected), size, limit);
}

Result<Digest> Store::put(std::string_view data, std::optional<Digest> expected) const {
  if (expected && has_blob(*expected)) return *expected;
  auto w = LJ_TRY(writer(expected, data.size()));
  LJ_TRY(w.write(data.data(), data.size()));
  return w.commit();
}

Result<Digest> Store::put_file(const fs::path& file, std::optional<Digest> expected,
                               std::optional<std::uint64_t> size, std::uint64_t limit) const {
  if (expected && has_blob(*expected)) return *expected;
  UniqueFd in(::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return fail_errno("image", "open " + file.string());
  auto w = LJ_TRY(writer(expected, size, limit));
  std::vector<char> buf(256 * 1024);
  for (;;) {
    ssize_t n = ::read(in.get(), buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("image", "read " + file.string());
    }
    if (n == 0) break;
    LJ_TRY_CTX(file.string(), w.write(buf.data(), static_cast<std::size_t>(n)));
  }
  return LJ_TRY_CTX(file.string(), w.commit());
}

Result<std::string> Store::read_document(const Digest& d, std::size_t limit) const {
  auto text = LJ_TRY(overlay::read_file(blob_path(d), limit));
  if (Digest::of(text) != d) {
    return fail(Errc::internal, "image", "stored blob " + d.str() + " does not match its digest");
  }
  return text;
}

Result<Manifest> Store::read_manifest(const Digest& d) const {
  auto text = LJ_TRY(read_document(d));
  return LJ_TRY_CTX("manifest " + d.str(), parse_manifest(text));
}
Result<Index> Store::read_index(const Digest& d) const {
  auto text = LJ_TRY(read_document(d));
  return LJ_TRY_CTX("index " + d.str(), parse_index(text));
}
Result<ImageConfig> Store::read_config(const Digest& d) const {
  auto text = LJ_TRY(read_document(d));
  return LJ_TRY_CTX("config " + d.str(), parse_config(text));
}

Result<StagedLayer> Store::stage_layer(const Digest& blob, const Digest& diff_id,
                                       const UnpackPolicy& policy,
                                       const fs::path& share_from) const {
  auto staging = LJ_TRY(overlay::StagingDir::create(root_, "layer"));
  fs::path tree = staging.path() / "tree";
  if (::mkdir(tree.c_str(), 0755) != 0) return fail_errno("image", "mkdir " + tree.string());
  auto r = LJ_TRY_CTX("unpacking layer " + blob.str(), unpack_layer(blob_path(blob), tree, policy, share_from));
  if (r.diff_id != diff_id) {
    return fail(Errc::invalid_argument, "image",
                "layer " + blob.str() + " unpacks to diff_id " + r.diff_id.str() +
                    ", the image config says " + diff_id.str());
  }
  return StagedLayer{std::move(staging), std::move(tree), diff_id, r};
}

// The unpacker of a LayerStream: a thread reading a socketpair that write() fills. A socket
// rather than a pipe: send(2) takes MSG_NOSIGNAL, so an unpacker that stopped early (a bad
// entry) is an EPIPE to the writer, never a SIGPIPE to the process.
struct LayerStream::State {
  std::optional<overlay::StagingDir> dir;
  fs::path tree;
  Digest diff_id;
  std::string what;
  UniqueFd tx;  // the writer's end; closed: end of the blob
  std::thread worker;
  std::optional<Result<UnpackResult>> result;  // the worker's, read after join()
  bool reader_gone = false;

  void stop() {
    tx.reset();
    if (worker.joinable()) worker.join();
  }
};

LayerStream::LayerStream(std::unique_ptr<State> s) : s_(std::move(s)) {}
LayerStream::LayerStream(LayerStream&&) noexcept = default;
LayerStream::~LayerStream() {
  if (s_) s_->stop();
}

Status LayerStream::write(const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0 && !s_->reader_gone) {
    ssize_t w = ::send(s_->tx.get(), p, n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno != EPIPE && errno != ECONNRESET) return fail_errno("image", "feeding the unpacker of " + s_->what);
      // The unpacker stopped: a failure is this transfer's failure; after the end of the
      // layer's stream, the rest of the blob is not the unpacker's.
      s_->stop();
      s_->reader_gone = true;
      if (s_->result && !*s_->result) return fail(s_->result->error());
      break;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return {};
}

Result<StagedLayer> LayerStream::finish() {
  s_->stop();
  if (!s_->result) return fail(Errc::internal, "image", "the unpacker of " + s_->what + " gave no result");
  auto r = LJ_TRY_CTX("unpacking layer " + s_->what, std::move(*s_->result));
  if (r.diff_id != s_->diff_id) {
    return fail(Errc::invalid_argument, "image",
                "layer " + s_->what + " unpacks to diff_id " + r.diff_id.str() +
                    ", the image config says " + s_->diff_id.str());
  }
  return StagedLayer{std::move(*s_->dir), std::move(s_->tree), s_->diff_id, r};
}

Result<LayerStream> Store::stream_layer(const Digest& diff_id, const std::string& what,
                                        const UnpackPolicy& policy) const {
  auto st = std::make_unique<LayerStream::State>();
  st->dir.emplace(LJ_TRY(overlay::StagingDir::create(root_, "layer")));
  st->tree = st->dir->path() / "tree";
  st->diff_id = diff_id;
  st->what = what;
  if (::mkdir(st->tree.c_str(), 0755) != 0) return fail_errno("image", "mkdir " + st->tree.string());
  int sv[2];
  if (LJ_SYS("socketpair", ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) != 0) {
    return fail_errno("image", "socketpair");
  }
  st->tx.reset(sv[0]);
  auto rx = std::make_shared<UniqueFd>(sv[1]);
  LayerStream::State* raw = st.get();
  try {
    // The worker writes only `result`, read by the writer after join().
    st->worker = std::thread([raw, rx, policy] {
      raw->result = unpack_layer_fd(rx->get(), raw->what, raw->tree, policy);
      rx->reset();  // EPIPE for a writer still sending
    });
  } catch (const std::system_error& e) {
    return fail(Error(Errc::system, "image", std::string("starting the unpacker: ") + e.what(), e.code().value()));
  }
  return LayerStream(std::move(st));
}

Result<std::size_t> Store::publish_layers(std::vector<StagedLayer> layers) const {
  if (layers.empty()) return std::size_t{0};
  // Durable before it is named: a crash never leaves a published layer with missing data.
  std::vector<std::string> trees;
  for (const auto& l : layers) trees.push_back(l.tree.string());
  LJ_TRY(layer_fs::sync_trees(trees));
  std::size_t renamed = 0;
  for (auto& l : layers) {
    const fs::path dst = layer_path(l.diff_id);
    if (LJ_SYS("rename", ::rename(l.tree.c_str(), dst.c_str())) != 0) {
      // Another process published the same layer first: identical content, keep theirs.
      if ((errno == EEXIST || errno == ENOTEMPTY) && has_layer(l.diff_id)) continue;
      return fail_errno("image", "rename layer to " + dst.string());
    }
    ++renamed;
    log("image")->info("unpacked layer diff_id={} entries={} bytes={} linked={}", l.diff_id.str(),
                       l.unpacked.entries, l.unpacked.bytes, l.unpacked.linked);
  }
  if (renamed > 0) LJ_TRY(overlay::fsync_path(layer_path(layers.front().diff_id).parent_path()));
  return renamed;
}

Result<bool> Store::ensure_layer(const Digest& blob, const Digest& diff_id,
                                 const UnpackPolicy& policy) const {
  if (has_layer(diff_id)) return false;
  std::vector<StagedLayer> one;
  one.push_back(LJ_TRY(stage_layer(blob, diff_id, policy)));
  return LJ_TRY(publish_layers(std::move(one))) == 1;
}

Result<Image> Store::install(const Digest& manifest, const UnpackPolicy& policy,
                             const std::function<void(std::size_t, bool)>& on_layer) const {
  Image img;
  img.manifest_digest = manifest;
  img.manifest = LJ_TRY(read_manifest(manifest));
  img.config = LJ_TRY(read_config(img.manifest.config.digest));
  const Platform host = host_platform();
  if (img.config.platform.os != host.os ||
      img.config.platform.architecture != host.architecture) {
    return fail(Errc::unsupported, "image",
                "image " + manifest.str() + " is for " + img.config.platform.str() +
                    ", this host is " + host.os + "/" + host.architecture);
  }
  if (img.config.diff_ids.size() != img.manifest.layers.size()) {
    return fail(Errc::invalid_argument, "image",
                "image " + manifest.str() + " has " + std::to_string(img.manifest.layers.size()) +
                    " layers but its config lists " + std::to_string(img.config.diff_ids.size()) +
                    " diff_ids");
  }
  img.diff_ids = img.config.diff_ids;
  // Every missing layer staged, then all published with one sync.
  std::vector<StagedLayer> staged;
  std::vector<std::size_t> staged_index;
  for (std::size_t i = 0; i < img.manifest.layers.size(); ++i) {
    const auto& l = img.manifest.layers[i];
    img.layer_dirs.push_back(layer_path(img.diff_ids[i]));
    // A layer unpacked for another image needs no blob: the diff_id names its content.
    if (has_layer(img.diff_ids[i])) continue;
    if (!has_blob(l.digest)) {
      return fail(Errc::not_found, "image", "layer blob " + l.digest.str() + " is not stored");
    }
    // The same diff_id twice in one image (an empty layer repeated): unpacked once.
    bool dup = false;
    for (const auto& s : staged) dup = dup || s.diff_id == img.diff_ids[i];
    if (dup) continue;
    staged.push_back(LJ_TRY(stage_layer(l.digest, img.diff_ids[i], policy)));
    staged_index.push_back(i);
  }
  LJ_TRY(publish_layers(std::move(staged)));
  if (on_layer) {
    for (std::size_t i = 0, k = 0; i < img.manifest.layers.size(); ++i) {
      bool unpacked = k < staged_index.size() && staged_index[k] == i;
      if (unpacked) ++k;
      on_layer(i, unpacked);
    }
  }
  return img;
}

Result<Image> Store::image(const Digest& manifest) const {
  Image img;
  img.manifest_digest = manifest;
  img.manifest = LJ_TRY(read_manifest(manifest));
  img.config = LJ_TRY(read_config(img.manifest.config.digest));
  img.diff_ids = img.config.diff_ids;
  for (const auto& d : img.diff_ids) {
    if (!has_layer(d)) {
      return fail(Errc::not_found, "image",
                  "layer " + d.str() + " of image " + manifest.str() + " is not unpacked");
    }
    img.layer_dirs.push_back(layer_path(d));
  }
  return img;
}

Result<UniqueFd> Store::lock_refs() const {
  const fs::path p = dir() / "refs.lock";
  UniqueFd fd(::open(p.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("image", "open " + p.string());
  while (::flock(fd.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return fail_errno("image", "flock " + p.string());
  }
  return fd;
}

Result<std::map<std::string, Digest>> Store::read_refs() const {
  std::map<std::string, Digest> out;
  const fs::path p = dir() / "refs.json";
  auto text = overlay::read_file(p, 64 * 1024 * 1024);
  if (!text) {
    if (text.error().errc() == Errc::not_found) return out;
    return fail(std::move(text).error());
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return fail(Errc::internal, "image", p.string() + " is not a JSON object");
  }
  for (const auto& [k, v] : j.items()) {
    if (!v.is_string()) return fail(Errc::internal, "image", p.string() + ": " + k + " is not a digest");
    out.emplace(k, LJ_TRY_CTX(p.string(), Digest::parse(v.get<std::string>())));
  }
  return out;
}

Result<std::map<std::string, Digest>> Store::refs() const {
  auto lock = LJ_TRY(lock_refs());
  return read_refs();
}

Status Store::set_ref(const std::string& ref, const Digest& manifest) const {
  auto lock = LJ_TRY(lock_refs());
  auto refs = LJ_TRY(read_refs());
  refs[ref] = manifest;
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : refs) j[k] = v.str();
  return overlay::write_file_atomic(dir() / "refs.json", j.dump(1) + "\n", 0644);
}

Status Store::remove_ref(const std::string& ref) const {
  auto lock = LJ_TRY(lock_refs());
  auto refs = LJ_TRY(read_refs());
  if (refs.erase(ref) == 0) return fail(Errc::not_found, "image", "no image named " + ref);
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [k, v] : refs) j[k] = v.str();
  return overlay::write_file_atomic(dir() / "refs.json", j.dump(1) + "\n", 0644);
}

Result<Digest> Store::resolve_ref(const std::string& ref) const {
  auto refs = LJ_TRY(this->refs());
  auto it = refs.find(ref);
  if (it == refs.end()) return fail(Errc::not_found, "image", "no image named " + ref);
  return it->second;
}

}  // namespace lj::image
