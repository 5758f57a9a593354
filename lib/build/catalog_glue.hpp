// What the builder needs from the catalog of worlds and overlays, in the builder's terms: find a
// world, resolve a parent constraint to a version and its layer chain, look at a published
// version, publish a staging layer. Implemented on lib/overlay (root layout, semver, catalog).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "build/builder.hpp"
#include "build/staging.hpp"
#include "common/error.hpp"
#include "overlay/root.hpp"

namespace lj::build {

// root/worlds/<world>, which must exist. Errc::not_found names the worlds there are.
Result<std::filesystem::path> find_world(const overlay::Root& root, const std::string& world);

struct ParentChain {
  std::string version;          // the parent's resolved version
  std::string manifest_digest;  // SHA-256 of its manifest.json
  std::string world;            // the world it was built on
  // Layer directories, oldest ancestor first, the parent's own last.
  std::vector<std::filesystem::path> layers;
};

// The highest published version of `name` satisfying `constraint`, and its ancestors' layers.
// Errc::not_found says which versions exist when none satisfies.
Result<ParentChain> resolve_parent_chain(const overlay::Root& root, const std::string& name,
                                         const std::string& constraint);

// root/<ns>/<name>/<version>, from validated parts.
Result<std::filesystem::path> overlay_version_dir(const overlay::Root& root,
                                                  const std::string& name,
                                                  const std::string& version);

// What a build needs to know of an already published version.
struct Published {
  std::string cache_key;
  std::string build_id;
  std::uint64_t size_bytes = 0;
};
Result<std::optional<Published>> read_published(const overlay::Root& root, const std::string& name,
                                                const std::string& version);

struct PublishRecord {
  std::string build_id;
  std::string cache_key;
  std::string jailfile_digest;
  std::string context_digest;
  std::string world;
  std::optional<ResolvedParent> parent;
  std::uint64_t size_bytes = 0;
};

// Turns a finished staging directory (upper/ = the layer) into root/<ns>/<name>/<version>/
// (manifest.json + layer/), atomically. Never replaces a published version unless `replace`
// (a forced rebuild). Consumes the staging directory on success and on failure.
Status publish_layer(const overlay::Root& root, const std::string& name, const std::string& version,
                     StagingDir staging, const PublishRecord& record, bool replace);

}  // namespace lj::build
