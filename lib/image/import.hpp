// Importing images from files, as `podman save`, `skopeo copy` and `docker save` write them:
//   - an OCI image layout directory (image-spec image-layout.md: oci-layout, index.json,
//     blobs/sha256/...);
//   - an OCI archive: a tar of such a layout (`podman save --format oci-archive`,
//     `skopeo copy ... oci-archive:F`);
//   - a docker archive: a tar with manifest.json ([{"Config", "RepoTags", "Layers"}]) and the
//     files it names (`docker save`, `podman save` default format); symlinked duplicate layers
//     are followed within the archive. Its images get a synthesized OCI manifest whose config
//     is the archive's config file and whose layers are the archive's layer files.
// The kind is told by the content: a directory, or a tar holding oci-layout (an OCI archive) or
// else manifest.json (a docker archive). A tar is read in one pass, each file streamed into the
// blob store through a verifying writer; nothing is unpacked to a temporary tree.
//
// Every blob is checked against its digest (OCI: the file name and the descriptor; docker: the
// config's diff_ids when its layers are unpacked); documents are size-limited; indexes resolve
// to this host's platform. On any failure nothing is named (no reference written); blobs
// already verified may stay in the store, unreferenced, for `prune`.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "image/store.hpp"

namespace lj::image {

struct ImportOptions {
  // Names the imported image (a reference, normalized); required when the source names none,
  // and refused (Errc::invalid_argument) when the source holds more than one image.
  std::optional<std::string> name;
  UnpackPolicy unpack;
};

struct ImportedImage {
  std::string ref;        // normalized reference, "" when the image stays unnamed
  Digest manifest;
  std::size_t layers = 0;
};

// What kind of image `source` is: "an OCI image layout" (a directory with oci-layout), "an OCI
// archive" or "a docker archive" (a tar holding oci-layout, else manifest.json), "an image
// archive" (a compressed tar whose first entry is one an image archive has). Otherwise an
// Errc::invalid_argument saying why not, naming the first entry no image archive has (a root
// filesystem's tar fails at its first entry or two) and that a root filesystem is a world's.
// Reads names only: an uncompressed tar's file data is skipped by seeking, and a compressed one
// is judged by its first entry, so the answer costs a few reads whatever the size; callers that
// take trees (world imports) use it to refuse an image before making anything.
Result<std::string> image_source_kind(const std::filesystem::path& source);

// Imports every image of `source` (for an OCI layout with several manifests, each of them).
// A source image_source_kind refuses is refused before anything is stored.
Result<std::vector<ImportedImage>> import_images(const Store& store,
                                                 const std::filesystem::path& source,
                                                 const ImportOptions& options = {});

}  // namespace lj::image
