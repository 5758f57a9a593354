// Importing a world (a base system tree) into root/worlds/<name>, from a directory or from an
// archive: .tar, .txz/.tar.xz, .tgz/.tar.gz, .tar.zst, .tar.bz2, and cpio in the same
// compressions (the seeds ship worlds as xz'd cpio; FreeBSD's base.txz is a tar.xz). The format
// is sniffed from the content by libarchive, not taken from the file name.
//
// The import is staged: everything is unpacked into a StagingDir under root/.staging, validated
// (a /bin/sh exists, possibly as a symlink that resolves inside the tree), fsynced, and only then
// renamed to worlds/<name>. On any failure (a hostile entry, ENOSPC, a missing /bin/sh) the
// staging directory is removed and nothing is published.
//
// What is preserved: file types (directories, regular files, symlinks, hard links, fifos,
// character and block devices), modes, times, numeric owners (only when running as root; world
// trees carry their own /etc/passwd, so names are never mapped through the host's), ACLs and
// extended attributes where the filesystem and privileges allow (a failure to restore one is
// tolerated). File flags (FreeBSD schg/uchg) are not restored: they would make the world
// impossible to remove, and jails do not need them. Device nodes need root; without it they
// fail the import with Errc::permission_denied.
//
// Archive entries are refused (Errc::invalid_argument, naming the entry) when their path or
// hard-link target is absolute or has a ".." component, and libarchive's
// ARCHIVE_EXTRACT_SECURE_SYMLINKS refuses to write through a symlink the archive made earlier.
// Directory sources are read without crossing into other filesystems (a mounted /proc or /dev
// inside the source is not copied).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>

#include "common/error.hpp"
#include "common/mount_table.hpp"
#include "overlay/names.hpp"
#include "overlay/root.hpp"

namespace lj::overlay {

struct ImportProgress {
  std::uint64_t entries = 0;  // entries written so far (files, directories, links, ...)
  std::uint64_t bytes = 0;    // file content bytes written so far
};

// Called on the importing thread after each entry; must not throw. It may be called tens of
// thousands of times (base.txz has ~20k entries): throttle in the callback when needed.
using ImportProgressFn = std::function<void(const ImportProgress&)>;

// Imports `source` (a directory or an archive file) as world `name`. Errc::exists when the world
// is already installed (never replaced). Returns the final counts. Blocks for as long as the copy
// takes: run it off the event loop.
Result<ImportProgress> import_world(const Root& root, const WorldName& name,
                                    const std::filesystem::path& source,
                                    const ImportProgressFn& progress = {},
                                    const MountTable& mounts = system_mount_table());

// Success when `tree` has a /bin/sh that is, after following symlinks as a chroot would (absolute
// targets resolved against `tree`, ".." stopping at it), a regular executable file inside it.
Status validate_world_tree(const std::filesystem::path& tree);

}  // namespace lj::overlay
