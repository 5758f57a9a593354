// Safe unpacking of one layer blob (a tar, optionally gzip- or zstd-compressed: the compression
// is sniffed from the content) into an empty directory, in the backend's layer format.
//
// The layer is untrusted input (issue 16: images "should not be considered trusted"):
// - every entry's path is made relative and refused (Errc::invalid_argument, naming the entry)
//   when it is absolute or has a ".." component;
// - every parent directory is opened beneath the layer's root without following any symlink
//   (layer_fs::open_dir_beneath), and every file is created with O_CREAT|O_EXCL|O_NOFOLLOW
//   relative to its parent's descriptor: an entry reached through a symlink, even one the same
//   layer made, is refused instead of followed. Layer tars made from a filesystem diff never
//   need that; a tar that does is either broken or an attack;
// - a hard link must name an entry already unpacked in this layer (found the same way), and
//   links to it with linkat(2) without following it;
// - device nodes (character and block) are refused unless UnpackPolicy::allow_devices; fifos
//   are allowed; sockets are skipped;
// - extended attributes that steer the union filesystem (trusted.overlay.*, user.overlay.*) are
//   dropped: only the unpacker writes those, from the tar's own whiteout entries.
// Whiteouts (image-spec layer.md): ".wh.NAME" becomes the backend's whiteout for NAME (unless
// this layer itself has NAME, which then stays visible), ".wh..wh..opq" makes its directory
// opaque, other ".wh..wh." entries (aufs bookkeeping) are ignored.
// Kept: file types, content (sparse regions as holes), modes (setuid/setgid/sticky included),
// numeric owners (as root only; the image has its own /etc/passwd), modification times,
// extended attributes (a failure to set one is an error as root, skipped otherwise).
// Directory modes and times are applied last, children first, so a read-only directory can
// still be filled.
//
// The uncompressed stream is hashed while it is read: the result carries the layer's diff_id
// for the caller to compare with the image config (rootfs.diff_ids).
#pragma once

#include <cstdint>
#include <filesystem>

#include "common/error.hpp"
#include "image/digest.hpp"

namespace lj::image {

struct UnpackPolicy {
  // Device nodes in layers: refused by default. A jail gets its /dev from the backend, not
  // from an image, and a device node in a layer is a way around the host's device policy.
  bool allow_devices = false;
};

struct UnpackResult {
  Digest diff_id;              // sha256 of the uncompressed tar stream
  std::uint64_t entries = 0;   // entries read (whiteouts included)
  std::uint64_t bytes = 0;     // file content bytes written
  std::uint64_t linked = 0;    // regular files hard-linked from `share_from` instead of written
};

// Unpacks `blob` into `dest`, an existing empty directory. On failure `dest` holds a partial
// tree that the caller discards (the store unpacks into a staging directory).
//
// `share_from`, when not empty, is the immutable tree the layer was exported from (a published
// overlay's layer/, a world), on the same filesystem: a regular file entry whose file at the
// same path there is a regular file of the same size, mode, owner, mtime and extended
// attributes (and none that only the unpacker may write) is hard-linked from it instead of
// written, its data skipped (still hashed: the diff_id covers it). Everything else (directories,
// links, whiteouts, devices, a file that differs) is unpacked as always. Another filesystem
// (EXDEV) turns linking off for the rest of the layer.
Result<UnpackResult> unpack_layer(const std::filesystem::path& blob,
                                  const std::filesystem::path& dest,
                                  const UnpackPolicy& policy = {},
                                  const std::filesystem::path& share_from = {});

// The same from the layer blob's bytes read from `fd` (a file, a pipe or a socket: it is read
// once, front to back, until its end); `what` names it in errors.
Result<UnpackResult> unpack_layer_fd(int fd, const std::string& what,
                                     const std::filesystem::path& dest,
                                     const UnpackPolicy& policy = {},
                                     const std::filesystem::path& share_from = {});

// Splits an archive path into a checked relative path ("./usr/bin/" -> "usr/bin"; "" for the
// root). Errc::invalid_argument for an absolute path or a ".." component. Exposed for tests.
Result<std::string> layer_relative_path(std::string_view p, std::string_view what);

}  // namespace lj::image
