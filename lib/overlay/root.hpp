// The root layout: where every lj* tool and the daemon keep worlds, overlays and their own state.
//
//   $LIGHTJAIL_ROOT (or /usr/local/lj when unset or empty; seeds 000: "MUST be read from the
//   LIGHTJAIL_ROOT environment variable by all lj* tools, /usr/local/lj MUST be used if the
//   variable is empty")
//   ├── worlds/<world>/                     base systems (FreeBSD: named by uname -r)
//   ├── images/                             OCI blobs, unpacked layers, names (lib/image)
//   │                                       (worlds/, images/, <ns>/, .staging/, .ljd/: mode 0700)
//   ├── <ns>/<name>/<version>/manifest.json  one published overlay ...
//   ├── <ns>/<name>/<version>/layer/         ... and its layer tree (docs/layers.md)
//   ├── .staging/                           layers being built, worlds being imported; never
//   │                                       read as published content, emptied at daemon start
//   ├── .ljd/                               the daemon's index, logs and run state
//   └── .rootfs/                            an empty directory: scratch mount point for jails
//
// Reserved top-level entries: "worlds", "images" and every name starting with '.'; overlay names cannot
// produce them (names.hpp). The layout is plain data: nothing here touches the disk except
// create_skeleton().
#pragma once

#include <filesystem>
#include <string_view>

#include "common/error.hpp"
#include "common/root_dir.hpp"
#include "overlay/names.hpp"
#include "overlay/semver.hpp"

namespace lj::overlay {

inline constexpr std::string_view kWorldsDir = "worlds";
inline constexpr std::string_view kImagesDir = "images";  // lib/image's store (image/store.hpp)
inline constexpr std::string_view kStagingDir = ".staging";
inline constexpr std::string_view kDaemonDir = ".ljd";
inline constexpr std::string_view kRootfsDir = ".rootfs";
inline constexpr std::string_view kManifestFile = "manifest.json";
inline constexpr std::string_view kLayerDir = "layer";

// True for top-level entries that are not overlay namespaces: "worlds", "images", dot-entries.
bool is_reserved_top_level(std::string_view entry);

class Root {
 public:
  // `dir` is used as given (it should be absolute; the daemon makes it so from its config).
  explicit Root(std::filesystem::path dir) : dir_(std::move(dir)) {}
  // $LIGHTJAIL_ROOT, or /usr/local/lj when it is unset or empty.
  static Root from_env();

  const std::filesystem::path& dir() const { return dir_; }

  std::filesystem::path worlds_dir() const { return dir_ / kWorldsDir; }
  std::filesystem::path world_dir(const WorldName& w) const { return worlds_dir() / w.str(); }

  // root/<ns>/<name>: holds the version directories of one overlay.
  std::filesystem::path overlay_dir(const OverlayName& n) const { return dir_ / n.str(); }
  // root/<ns>/<name>/<version>
  std::filesystem::path overlay_dir(const OverlayName& n, const Version& v) const {
    return overlay_dir(n) / v.str();
  }
  std::filesystem::path manifest_path(const OverlayName& n, const Version& v) const {
    return overlay_dir(n, v) / kManifestFile;
  }
  std::filesystem::path layer_dir(const OverlayName& n, const Version& v) const {
    return overlay_dir(n, v) / kLayerDir;
  }

  std::filesystem::path staging_dir() const { return dir_ / kStagingDir; }
  std::filesystem::path daemon_dir() const { return dir_ / kDaemonDir; }
  std::filesystem::path rootfs_dir() const { return dir_ / kRootfsDir; }

  // Creates the root and worlds/, .staging/, .ljd/, .rootfs/ when missing, then restrict_access().
  // Errors name the path.
  Status create_skeleton() const;

  // Makes the store unusable by other host users: worlds/, .staging/, .ljd/ and every overlay
  // namespace directory (root/<ns>) get mode 0700, owned by whoever runs ljd, existing ones
  // included (a root made before this rule had them 0755). Below them, layers and worlds keep the
  // modes their builds and archives gave them, set-id bits included, because jails need those;
  // the 0700 above is what keeps a host user from running a layer's setuid-root binary, reading
  // the index or a build log (issue 17; docs/security.md). .rootfs/ (an empty mount point) and
  // the root directory itself are left as they are. Symlinks are not followed.
  Status restrict_access() const;

 private:
  std::filesystem::path dir_;
};

}  // namespace lj::overlay
