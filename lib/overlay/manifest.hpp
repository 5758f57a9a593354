// The overlay manifest: root/<ns>/<name>/<version>/manifest.json, written once at publication and
// never changed. JSON, snake_case keys:
//
//   {"name": "lang/ruby", "version": "2.1.1", "world": "10.0-RELEASE",
//    "parent": {"name": "lang/common", "constraint": "~> 1.0", "version": "1.2.0"},   or null
//    "jailfile_digest": "sha256:...", "context_digest": "sha256:...",
//    "size_bytes": 1234, "created": "2026-11-24T18:07:00Z", "build_id": "b-3f1a"}
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

namespace lj::overlay {

struct ParentRef {
  std::string name;        // the parent overlay's name
  std::string constraint;  // as written in the Jailfile's `from` line
  std::string version;     // the version the constraint resolved to at build time
  bool operator==(const ParentRef&) const = default;
};

struct Manifest {
  std::string name;
  std::string version;
  std::string world;
  std::optional<ParentRef> parent;
  std::string jailfile_digest;  // opaque to this module, e.g. "sha256:<hex>"
  std::string context_digest;   // digest of the copied build context
  std::uint64_t size_bytes = 0;
  std::string created;   // RFC 3339, UTC, e.g. "2026-11-24T18:07:00Z"
  std::string build_id;  // the build that made it; empty when unknown
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
