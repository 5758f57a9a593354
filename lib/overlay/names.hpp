// Names of overlays and worlds. They become paths under the root, so they are validated once, at
// the edge, into types that cannot hold anything else: a path built from an OverlayName or a
// WorldName never escapes the root.
//
// Overlay names (seeds: "MUST contain a slash"): 2 to kMaxOverlayComponents components joined by
// '/', e.g. "lang/ruby" or "ci/github.com/builder". Every component matches
// [A-Za-z][A-Za-z0-9._+-]* and is at most kMaxComponentLength bytes: the leading letter keeps a
// component from ever looking like a version directory (versions start with a digit) or a
// hidden/reserved entry ('.', "..", ".staging"); the first component may not be "worlds" (the
// root's reserved directory). The whole name is at most kMaxOverlayNameLength bytes.
//
// World names: one component, [A-Za-z0-9][A-Za-z0-9._+-]*, at most kMaxComponentLength bytes
// ("10.0-RELEASE", "14.1-RELEASE-p3", "bookworm", "busybox").
//
// Errors are Errc::invalid_argument in domain "overlay" (overlay names) or "world" (world names)
// and say what is wrong and where: `overlay name "lang/../x": component 2 ".." must start with a
// letter`.
#pragma once

#include <compare>
#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.hpp"

namespace lj::overlay {

inline constexpr std::size_t kMaxComponentLength = 64;
inline constexpr std::size_t kMaxOverlayNameLength = 255;
inline constexpr std::size_t kMaxOverlayComponents = 4;

Status validate_overlay_name(std::string_view name);
Status validate_world_name(std::string_view name);

class OverlayName {
 public:
  static Result<OverlayName> parse(std::string_view name);
  const std::string& str() const { return name_; }
  // The first component ("lang" of "lang/ruby").
  std::string_view ns() const { return std::string_view(name_).substr(0, name_.find('/')); }
  bool operator==(const OverlayName&) const = default;
  // Spelled out: libc++ before 16 has no operator<=> for std::string (FreeBSD 13's libc++ 14).
  std::strong_ordering operator<=>(const OverlayName& o) const {
    return name_.compare(o.name_) <=> 0;
  }

 private:
  explicit OverlayName(std::string n) : name_(std::move(n)) {}
  std::string name_;
};

class WorldName {
 public:
  static Result<WorldName> parse(std::string_view name);
  const std::string& str() const { return name_; }
  bool operator==(const WorldName&) const = default;
  // Spelled out: libc++ before 16 has no operator<=> for std::string (FreeBSD 13's libc++ 14).
  std::strong_ordering operator<=>(const WorldName& o) const {
    return name_.compare(o.name_) <=> 0;
  }

 private:
  explicit WorldName(std::string n) : name_(std::move(n)) {}
  std::string name_;
};

}  // namespace lj::overlay
