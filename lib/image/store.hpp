// The image store: content-addressed blobs and unpacked layers under the root, and the names
// (references) that point at manifests.
//
//   root/images/blobs/sha256/<hex>          blobs: manifests, indexes, configs, layer tars
//   root/images/layers/sha256/<diff_id hex>/ unpacked layers, one per diff_id, shared read-only
//                                           by every image (and jail) that stands on it
//   root/images/refs.json                   {"<reference>": "sha256:<manifest>"}
//
// Nothing appears under blobs/ or layers/ except by rename(2) from root/.staging, after the
// content was verified against its digest and fsynced: a crash, a bad digest or a truncated
// transfer leaves at most a staging directory, which Catalog::clean_staging removes. Blob and
// layer files are never modified after publication. Writers in several processes are safe
// (renames of identical content race harmlessly); refs.json is updated under an flock.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "image/digest.hpp"
#include "image/spec.hpp"
#include "image/unpack.hpp"
#include "overlay/root.hpp"
#include "overlay/staging.hpp"

namespace lj::image {

class Store;

// One blob being written: bytes are hashed and counted as they arrive; commit() verifies them
// against what the writer was told to expect and publishes the file. Destroyed without a
// successful commit, it leaves nothing.
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept = default;
  BlobWriter& operator=(BlobWriter&&) = delete;

  // Errc::limit when the bytes pass the limit given at creation (or the expected size).
  Status write(const void* data, std::size_t n);
  std::uint64_t written() const { return written_; }
  // Verifies the size and digest (Errc::invalid_argument naming both on a mismatch: a
  // truncated or corrupted transfer), fsyncs, renames into blobs/. Returns the digest.
  Result<Digest> commit();

 private:
  friend class Store;
  BlobWriter(overlay::StagingDir dir, UniqueFd fd, std::filesystem::path blobs,
             std::optional<Digest> expected, std::optional<std::uint64_t> size,
             std::uint64_t limit)
      : dir_(std::move(dir)), fd_(std::move(fd)), blobs_(std::move(blobs)),
        expected_(std::move(expected)), size_(size), limit_(limit) {}
  overlay::StagingDir dir_;
  UniqueFd fd_;
  std::filesystem::path blobs_;
  std::optional<Digest> expected_;
  std::optional<std::uint64_t> size_;
  std::uint64_t limit_;
  std::uint64_t written_ = 0;
  Sha256 hash_;
};

// A layer unpacked into a staging directory, its diff_id checked, not yet published.
// Store::publish_layers makes it durable and renames it into layers/; destroyed unpublished,
// it is removed.
struct StagedLayer {
  overlay::StagingDir dir;
  std::filesystem::path tree;  // dir/tree
  Digest diff_id;
  UnpackResult unpacked;
};

// A layer unpacked while its blob arrives (a pull: decompressing and unpacking on a thread of
// its own, overlapped with the transfer). The bytes given to write() are those the blob writer
// gets; finish() is called after the blob was verified (BlobWriter::commit), so nothing is
// published from a blob that failed its digest. Destroyed unfinished, it stops the unpacker and
// removes what it made.
class LayerStream {
 public:
  LayerStream(LayerStream&&) noexcept;
  LayerStream& operator=(LayerStream&&) = delete;
  ~LayerStream();

  // Hands bytes to the unpacker (blocking while it is behind: the transfer waits for it). When
  // the unpacker has failed, its error.
  Status write(const void* data, std::size_t n);
  // The end of the blob: waits for the unpacker and checks the diff_id it computed.
  Result<StagedLayer> finish();

 private:
  friend class Store;
  struct State;
  explicit LayerStream(std::unique_ptr<State> s);
  std::unique_ptr<State> s_;
};

// An image ready to run: its documents and its unpacked layers, bottom first.
struct Image {
  Digest manifest_digest;
  Manifest manifest;
  ImageConfig config;
  std::vector<Digest> diff_ids;                 // == config.diff_ids
  std::vector<std::filesystem::path> layer_dirs;  // root/images/layers/sha256/<diff_id>, bottom first
};

class Store {
 public:
  // Creates root/images/{blobs,layers}/sha256 (and root/.staging) when missing.
  static Result<Store> open(const overlay::Root& root);

  const overlay::Root& root() const { return root_; }
  std::filesystem::path dir() const { return root_.dir() / overlay::kImagesDir; }
  std::filesystem::path blob_path(const Digest& d) const;
  std::filesystem::path layer_path(const Digest& diff_id) const;
  bool has_blob(const Digest& d) const;
  bool has_layer(const Digest& diff_id) const;

  // A writer for one blob. `expected`/`size`, when given, are checked at commit; `limit` caps
  // the bytes accepted (kMaxDocumentBytes for documents; no cap for layers).
  Result<BlobWriter> writer(std::optional<Digest> expected, std::optional<std::uint64_t> size,
                            std::uint64_t limit = UINT64_MAX) const;
  // Stores `data` (checked against `expected` when given). Returns its digest.
  Result<Digest> put(std::string_view data, std::optional<Digest> expected = std::nullopt) const;
  // Copies a file into the store, checked like a writer's bytes.
  Result<Digest> put_file(const std::filesystem::path& file, std::optional<Digest> expected,
                          std::optional<std::uint64_t> size,
                          std::uint64_t limit = UINT64_MAX) const;
  // A stored document (manifest, index, config): Errc::limit over `limit`, and its digest is
  // verified again on the way in (a blob damaged on disk is an error, not an image).
  Result<std::string> read_document(const Digest& d, std::size_t limit = kMaxDocumentBytes) const;
  // A stored document, read as above and parsed.
  Result<Manifest> read_manifest(const Digest& d) const;
  Result<Index> read_index(const Digest& d) const;
  Result<ImageConfig> read_config(const Digest& d) const;

  // Unpacks the stored layer blob `blob` into layers/<diff_id> unless it is there already;
  // the computed diff_id must equal `diff_id` (else Errc::invalid_argument and nothing kept).
  // Returns true when it unpacked, false when the layer was already present.
  Result<bool> ensure_layer(const Digest& blob, const Digest& diff_id,
                            const UnpackPolicy& policy = {}) const;

  // The two halves of ensure_layer, for callers that overlap them with other work: unpack into
  // staging and check the diff_id (Errc::invalid_argument on a mismatch), then publish.
  // `share_from`: the tree the layer was exported from, whose files may be hard-linked
  // (unpack_layer): an exported layer is not a second copy of its overlay.
  Result<StagedLayer> stage_layer(const Digest& blob, const Digest& diff_id,
                                  const UnpackPolicy& policy = {},
                                  const std::filesystem::path& share_from = {}) const;
  // Unpacks from bytes still arriving (see LayerStream); `what` names the layer in errors.
  Result<LayerStream> stream_layer(const Digest& diff_id, const std::string& what,
                                   const UnpackPolicy& policy = {}) const;
  // Publishes staged layers: one sync of the store's filesystem for all of them, then one
  // rename each (a layer another process published meanwhile is kept, ours dropped). Returns
  // how many were renamed into place.
  Result<std::size_t> publish_layers(std::vector<StagedLayer> layers) const;

  // Everything needed to run the image whose manifest is stored as `manifest`: its config is
  // read, checked against this host's OS and architecture, and each layer unpacked (once; a
  // layer shared with another image is reused). `on_layer` is told each layer as it is done.
  Result<Image> install(const Digest& manifest, const UnpackPolicy& policy = {},
                        const std::function<void(std::size_t index, bool unpacked)>& on_layer = {}) const;
  // The image of a stored manifest whose layers are all unpacked; Errc::not_found otherwise.
  Result<Image> image(const Digest& manifest) const;

  // References -> manifest digests (refs.json).
  Result<std::map<std::string, Digest>> refs() const;
  Status set_ref(const std::string& ref, const Digest& manifest) const;
  // Errc::not_found when the reference does not exist.
  Status remove_ref(const std::string& ref) const;
  Result<Digest> resolve_ref(const std::string& ref) const;

 private:
  explicit Store(overlay::Root root) : root_(std::move(root)) {}
  Result<UniqueFd> lock_refs() const;
  Result<std::map<std::string, Digest>> read_refs() const;
  overlay::Root root_;
};

}  // namespace lj::image
