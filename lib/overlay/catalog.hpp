// The catalog: what the root holds, and the only code that changes it. It lists worlds and
// overlays, picks the best version for a constraint, resolves an overlay's chain down to its
// world (the MountPlan's lower layers), publishes staged overlays atomically and removes overlays
// and worlds only when nothing depends on them and nothing is mounted under them.
//
// Consistency rules it keeps:
//   - an overlay directory is published by one rename(2) of a complete staged directory (manifest
//     and layer fsynced first), so readers see all of it or none of it;
//   - an overlay is only published when its world and its parent (exact version) exist, and is
//     only removed when no other overlay names it as parent; a world likewise; so chains stay
//     whole and cannot form cycles (resolve() still detects one made by hand);
//   - removal first proves nothing is mounted at or under the directory, then renames it into
//     .staging/ (it vanishes from listings at once), then deletes it without crossing devices.
//
// Thread-safety: a Catalog is immutable; calls may run concurrently. Mutations of the same name
// are made safe by the filesystem (rename refuses to replace a published overlay), but a
// remove() racing a publish() of a child of the removed overlay is not: callers serialize
// mutations (the daemon runs them on one strand; ljbuild is one process).
#pragma once

#include <cstddef>
#include <optional>
#include <filesystem>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "overlay/manifest.hpp"
#include "common/mount_table.hpp"
#include "overlay/names.hpp"
#include "overlay/root.hpp"
#include "overlay/semver.hpp"

namespace lj::overlay {

// Overlays may stack this deep (parent of parent ...). Each level is one overlayfs lower layer;
// the legacy mount(2) option string is limited to one page, which ~32 root paths fit.
inline constexpr std::size_t kMaxChainDepth = 32;

struct OverlayRef {
  OverlayName name;
  Version version;
};

struct OverlayEntry {
  OverlayName name;
  Version version;
  Manifest manifest;
};

// A resolved chain: what a jail on `top` stacks.
// A chain stands on a world or (overlays built `from image`) on an OCI image; exactly one of
// `world` and `image` is set.
struct Chain {
  std::optional<WorldName> world;
  std::optional<ImageBase> image;
  std::vector<OverlayRef> overlays;  // oldest ancestor first; the requested overlay is last
  // MountPlan::lower: the world directory, then each overlay's layer/ in the order above. On an
  // image, the image's layers are not here (this module knows no image store): the caller puts
  // them first (lib/image Store::image(digest).layer_dirs).
  std::vector<std::filesystem::path> lower;
  // What the chain's manifests declare, merged (a child inherits its ancestors' declarations).
  // On an image, the image's own label is not here: the caller adds it (it knows the store).
  Privileges privileges;
  // "world busybox" or "image reg/bb:1@sha256:..."
  std::string base() const;
};

class Catalog {
 public:
  // `mounts` must outlive the catalog; it is consulted before every removal.
  explicit Catalog(Root root, const MountTable& mounts = system_mount_table())
      : root_(std::move(root)), mounts_(&mounts) {}

  const Root& root() const { return root_; }

  // World directories, sorted by name. Entries that are not valid world names are skipped.
  Result<std::vector<WorldName>> list_worlds() const;
  Result<bool> has_world(const WorldName& w) const;

  // Every published overlay version (a version directory holding manifest.json), sorted by name
  // then version precedence, with its manifest. A damaged manifest is an error naming its file.
  Result<std::vector<OverlayEntry>> list_overlays() const;
  // The published versions of one overlay, ascending; empty when there are none.
  Result<std::vector<Version>> versions(const OverlayName& n) const;
  // Errc::not_found when that version is not published.
  Result<Manifest> manifest(const OverlayName& n, const Version& v) const;

  // The highest published version satisfying `c` (semver.hpp's pre-release rule applies).
  // Errc::not_found listing the versions there are.
  Result<Version> find(const OverlayName& n, const Constraint& c) const;

  // The chain of `n` at `v`: follows each manifest's parent at the exact version it resolved to
  // when built, down to the world. Errors: not_found (the overlay, a parent or the world is
  // missing), conflict (a cycle, or a parent built on another world), limit (deeper than
  // kMaxChainDepth), invalid_argument (a manifest that does not match its directory).
  Result<Chain> resolve(const OverlayName& n, const Version& v) const;
  // The chain of a jail on a bare world: lower = {world dir}. not_found when missing.
  Result<Chain> resolve_world(const WorldName& w) const;

  // Publishes `staging_dir` (which holds layer/ and nothing else, and must be on the root's
  // filesystem: put it under root/.staging, see StagingDir; a build whose writable layer was
  // <staging>/rw/{upper,work} renames upper to <staging>/layer and deletes rw/ first) as m.name
  // at m.version: validates the manifest, checks
  // that the world and the parent version exist, measures layer/ into size_bytes, sets created
  // (now) when empty, writes manifest.json into the staging dir, fsyncs the whole tree, then
  // rename(2)s it to root/<ns>/<name>/<version>. Errc::exists when that version is already
  // published (never replaced: a published overlay is a non-empty directory, which rename(2)
  // refuses to replace, POSIX: EEXIST or ENOTEMPTY). On failure the staging dir stays where it
  // was, owned by the caller. Returns the manifest as written.
  Result<Manifest> publish(const std::filesystem::path& staging_dir, Manifest m) const;

  // Removes one overlay version. Errc::not_found when not published; Errc::conflict when another
  // overlay names it as parent (dependents()) or something is mounted at or under it.
  Status remove(const OverlayName& n, const Version& v) const;
  // Removes a world. Errc::conflict when an overlay is built on it or something is mounted there.
  Status remove_world(const WorldName& w) const;

  // Overlays whose manifest names (n, v) as parent; sorted.
  Result<std::vector<OverlayRef>> dependents(const OverlayName& n, const Version& v) const;
  // Overlays built on world w; sorted.
  Result<std::vector<OverlayRef>> world_dependents(const WorldName& w) const;

  // Removes the leftovers in .staging/ of builds and imports that died (the daemon calls it at
  // start-up, ljbuild may too). Entries locked by a live StagingDir (of this or another process)
  // are left alone; entries with something mounted under them are left too and reported as
  // Errc::conflict after everything else was cleaned. An entry that cannot be removed (an I/O
  // error, a directory moved during the removal) does not stop the others either: every failure
  // is named in the error (Errc::system unless all are conflicts). Returns how many entries were
  // removed.
  Result<std::size_t> clean_staging() const;

  // Proves nothing is mounted at or under `dir` (with this catalog's table), then deletes it by
  // renaming it into .staging/ and removing it there. For directories under the root only.
  Status remove_dir(const std::filesystem::path& dir) const;

 private:
  Root root_;
  const MountTable* mounts_;
};

}  // namespace lj::overlay
