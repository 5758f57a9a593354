// The overlay manifest: root/<ns>/<name>/<version>/manifest.json, written once at publication and
// never changed. JSON, snake_case keys:
//
//   {"name": "lang/ruby", "version": "2.1.1", "world": "10.0-RELEASE",
//    "parent": {"name": "lang/common", "constraint": "~> 1.0", "version": "1.2.0"},   or null
//    "image": {"reference": "reg/bb:1", "digest": "sha256:..."},   absent or null unless on an image
//    "jailfile_digest": "sha256:...", "context_digest": "sha256:...",
//    "size_bytes": 1234, "created": "2026-11-24T18:07:00Z", "build_id": "b-3f1a",
//    "privileges": ["device=/dev/fuse", "raw_sockets"]}   absent unless the Jailfile declares some
//
// Reading validates every field (names, semver, the parent's constraint, the RFC 3339 UTC time)
// so the catalog never acts on a damaged manifest; unknown keys are ignored so a newer ljd's
// manifests stay readable. Errors (domain "overlay") name the file and the field.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json_fwd.hpp>

#include "common/error.hpp"
#include "overlay/privileges.hpp"

namespace lj::overlay {

struct ParentRef {
  std::string name;        // the parent overlay's name
  std::string constraint;  // as written in the Jailfile's `from` line
  std::string version;     // the version the constraint resolved to at build time
  bool operator==(const ParentRef&) const = default;
};

// The OCI image a chain stands on instead of a world (a Jailfile's `from image REF`): every
// overlay of such a chain names the same image, pinned by its manifest digest. This module only
// records it; the image store (lib/image) turns the digest into layer directories.
struct ImageBase {
  std::string reference;  // as the Jailfile wrote it, normalized; informational
  std::string digest;     // "sha256:<64 hex>", the image manifest's digest
  bool operator==(const ImageBase&) const = default;
};

struct Manifest {
  std::string name;
  std::string version;
  std::string world;              // empty exactly when `image` is set
  std::optional<ParentRef> parent;
  std::string jailfile_digest;  // opaque to this module, e.g. "sha256:<hex>"
  std::string context_digest;   // digest of the copied build context
  std::uint64_t size_bytes = 0;
  std::string created;   // RFC 3339, UTC, e.g. "2026-11-24T18:07:00Z"
  std::string build_id;  // the build that made it; empty when unknown
  std::optional<ImageBase> image;  // last: positional initializers of older fields stay valid
  // What this overlay's Jailfile declares it needs (its `privileges` line), its own only: a jail
  // on it is weighed with the whole chain's (Chain::privileges) and its base image's label.
  Privileges privileges;
  bool operator==(const Manifest&) const = default;
};

// Checks every field as reading does (created may be empty here: publish fills it in).
Status validate_manifest(const Manifest& m);

nlohmann::json manifest_to_json(const Manifest& m);
Result<Manifest> manifest_from_json(const nlohmann::json& j);

// Reads and validates; Errc::not_found when the file does not exist.
Result<Manifest> read_manifest(const std::filesystem::path& file);
// Validates, then writes atomically (temp file, fsync, rename, fsync the directory).
Status write_manifest(const std::filesystem::path& file, const Manifest& m);

// "YYYY-MM-DDTHH:MM:SSZ" for a time point, in UTC.
std::string rfc3339_utc(std::chrono::system_clock::time_point t);
// True for "YYYY-MM-DDTHH:MM:SS[.fraction]Z" with plausible field ranges.
bool is_rfc3339_utc(std::string_view s);

}  // namespace lj::overlay
