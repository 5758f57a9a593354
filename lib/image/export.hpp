// Exporting: directory trees (a world, the layers of an overlay chain) become an OCI image in the
// store, and a stored image becomes an OCI archive (`podman load`, `skopeo copy oci-archive:`).
//
// A layer is an uncompressed tar (application/vnd.oci.image.layer.v1.tar, so its digest is its
// diff_id) written in a stable order (names sorted bytewise) with numeric owners, modes, mtimes,
// hard links within the layer and extended attributes; the backend's whiteouts and opaque
// directories become the OCI ones (`.wh.NAME`, `.wh..wh..opq`, image-spec layer.md), and the
// union filesystem's own attributes (trusted.overlay.*) are left out. The same tree exports to
// the same digest. Sockets are skipped (a tar cannot hold one).
//
// Every blob goes through the store's verifying writer (store.hpp): a failure leaves nothing
// named, and at most unreferenced blobs for `prune`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "image/store.hpp"

namespace lj::image {

struct ExportLayer {
  std::filesystem::path dir;  // a world directory or an overlay's layer/
  std::string created_by;     // the history entry: "world busybox", "overlay lang/ruby@2.1.1"
};

struct ExportRequest {
  // A stored image whose layers come first, as they are (blobs reused, not re-made); its config
  // gives the defaults (Entrypoint, Cmd, Env, ...). Without one, Cmd is /bin/sh and PATH is set.
  std::optional<Digest> base;
  std::vector<ExportLayer> layers;  // bottom first, above the base
  std::map<std::string, std::string> labels;
};

// `index` of `count` layers being written, `bytes` so far.
using ExportProgressFn =
    std::function<void(std::size_t index, std::size_t count, std::uint64_t bytes, bool done)>;

// Writes each tree as a layer blob, then the config and manifest. Returns the manifest's digest
// (the caller names it). Errors name the tree and the entry.
Result<Digest> export_image(const Store& store, const ExportRequest& request,
                            const ExportProgressFn& progress = {});

// Makes the image `manifest`, just exported from `request`, runnable here: its own layers are
// unpacked into the store with their files hard-linked from the trees they were made of (one
// copy of each file on disk, not two: the trees are published overlays and worlds, never
// modified, and the store's layers are read-only too; a file the tree no longer matches, or a
// tree on another filesystem, is written instead), then the base image's layers are checked
// (Store::install). Removal is unchanged: the store's layer and the overlay are two names of
// the same inodes, each removed on its own.
Result<Image> install_export(const Store& store, const Digest& manifest,
                             const ExportRequest& request, const UnpackPolicy& policy);

// Writes the stored image `manifest` to `out_fd` as an OCI archive: a tar of an image layout
// (oci-layout, index.json whose one manifest is annotated org.opencontainers.image.ref.name =
// `ref_name` when given, blobs/sha256/...). Every blob is verified against its digest as it is
// read; a blob missing from the store is Errc::not_found before anything is written.
Status write_oci_archive(const Store& store, const Digest& manifest, const std::string& ref_name,
                         int out_fd);

}  // namespace lj::image
