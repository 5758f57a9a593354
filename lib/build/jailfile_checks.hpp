// The value checks of the Jailfile parser: each names the byte offset (0-based, inside the value)
// of the first problem, so the parser can report a line and column. Names and semver are
// lib/overlay's; this file only adapts their errors to positions.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <tl/expected.hpp>

namespace lj::build {

struct BadValue {
  int offset = 0;  // 0-based byte offset inside the value
  std::string message;
};

std::optional<BadValue> check_overlay_name(std::string_view name);
std::optional<BadValue> check_world_name(std::string_view world);
std::optional<BadValue> check_version(std::string_view version);
std::optional<BadValue> check_constraint(std::string_view constraint);
// An OCI image reference as lib/image reads it ([registry/]repository[:tag][@sha256:...]).
std::optional<BadValue> check_image_reference(std::string_view ref);
// "/", "/app", "app/" -> "/", "/app", error for relative paths, "..", NUL.
tl::expected<std::string, BadValue> normalize_copy_dest(std::string_view dest);

}  // namespace lj::build
