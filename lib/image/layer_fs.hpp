// The platform half of unpacking a layer: resolving a directory beneath the layer's root without
// following any symlink, and writing the backend's own whiteouts, opaque markers and extended
// attributes. linux/layer_fs.cpp (overlayfs), freebsd/layer_fs.cpp (unionfs). Every function
// takes descriptors, never host paths, so nothing here can be redirected out of the layer.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <sys/stat.h>

#include "common/error.hpp"

namespace lj::image::layer_fs {

// Opens the existing directory `rel` ("a/b/c": relative, no "." or ".." components, checked by
// the caller; "" is the root itself) beneath `root_fd` for reading, refusing a symlink anywhere
// on the way (ELOOP) and a non-directory (ENOTDIR). Returns the fd, or -1 with errno set.
// Linux: one openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS (5.6+), a walk otherwise;
// FreeBSD: a walk of openat(2) with O_NOFOLLOW | O_RESOLVE_BENEATH per component.
int open_dir_beneath(int root_fd, const std::string& rel);

// The calling process's umask without changing it (umask(2) sets it, a race with the other
// threads of ljd), or -1 when this platform cannot tell: Linux reads /proc/self/status
// ("Umask:", 4.7+); FreeBSD answers -1. The unpacker creates files with their final mode only
// when it knows the umask leaves that mode as it is.
int process_umask();

// Makes the staged layer trees `trees` (all in one root's staging directory: one filesystem)
// durable before they are published. Linux: one syncfs(2) for all of them (overlay::sync_tree:
// a per-file fsync(2) costs a journal commit and a cache flush per file); FreeBSD: an fsync(2)
// walk of each.
Status sync_trees(const std::vector<std::string>& trees);

// The portable walk behind open_dir_beneath: one openat(2) per component with O_DIRECTORY |
// O_NOFOLLOW | `extra_flags`; when `create`, a missing component is made (mode 0755) first.
// Returns the fd, or -1 with errno set. layer_fs.cpp.
int walk_beneath(int root_fd, const std::string& rel, int extra_flags, bool create);

// Marks `name` in directory `dir_fd` deleted for the layers below: Linux, a character device
// 0/0 (overlayfs.rst "whiteouts"); FreeBSD, a whiteout directory entry (mknod(2) with S_IFWHT,
// which UFS stores as DT_WHT and unionfs honours). Needs root on both.
Status make_whiteout(int dir_fd, const std::string& name);

// Marks the directory `dir_fd` opaque (the layers below do not show through it): Linux, the
// xattr trusted.overlay.opaque=y; FreeBSD, the UF_OPAQUE file flag. Needs root on both.
Status make_opaque(int dir_fd);

// Sets extended attribute `name` ("user.x", "security.capability", ...: the names libarchive
// reports) on the open file `fd`. Names this platform has no namespace for are Errc::unsupported.
Status set_xattr(int fd, const std::string& name, const void* value, std::size_t size);

// ---- reading a layer back (export: a published overlay's layer/ -> a tar with OCI whiteouts) ----

// Whether the entry `st` (an lstat of `name` in `dir_fd`) is this backend's whiteout: Linux, a
// character device 0/0; FreeBSD, S_IFWHT.
bool is_whiteout(const struct stat& st);

// Whether the open directory `dir_fd` is marked opaque: Linux, trusted.overlay.opaque=y;
// FreeBSD, UF_OPAQUE.
Result<bool> is_opaque(int dir_fd);

// The extended attributes of the open file `fd`, named as libarchive names them ("user.x",
// "security.capability"; FreeBSD "user.x", "system.x"), values as bytes.
Result<std::vector<std::pair<std::string, std::string>>> read_xattrs(int fd);

// Attributes that only the unpacker may set, never an archive: they would steer the union
// filesystem (overlayfs redirects, metacopy, opaque markers) from inside an untrusted layer.
bool is_reserved_xattr(const std::string& name);

}  // namespace lj::image::layer_fs
