#include "build/jailfile_checks.hpp"

#include <vector>

namespace lj::build {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '+';
}

// One path component of a name: [A-Za-z0-9][A-Za-z0-9._+-]*, not "." or "..".
std::optional<BadValue> check_component(std::string_view c, int offset, std::string_view what) {
  if (c.empty()) return BadValue{offset, std::string(what) + " has an empty component"};
  if (c == "." || c == "..") {
    return BadValue{offset, std::string(what) + " must not contain '" + std::string(c) + "'"};
  }
  for (std::size_t i = 0; i < c.size(); ++i) {
    if (!is_name_char(c[i]) ||
        (i == 0 && !((c[0] >= 'a' && c[0] <= 'z') || (c[0] >= 'A' && c[0] <= 'Z') ||
                     (c[0] >= '0' && c[0] <= '9')))) {
      return BadValue{offset + static_cast<int>(i),
                      std::string(what) + ": character '" + std::string(1, c[i]) +
                          "' not allowed (components are [A-Za-z0-9][A-Za-z0-9._+-]*)"};
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<BadValue> check_overlay_name(std::string_view name) {
  std::size_t slash = name.find('/');
  if (slash == std::string_view::npos) {
    return BadValue{0, "name '" + std::string(name) +
                           "' has no slash: overlay names are NAMESPACE/NAME (e.g. lang/ruby)"};
  }
  if (name.find('/', slash + 1) != std::string_view::npos) {
    return BadValue{static_cast<int>(name.find('/', slash + 1)),
                    "name '" + std::string(name) + "' has more than one slash (NAMESPACE/NAME)"};
  }
  if (auto bad = check_component(name.substr(0, slash), 0, "name")) return bad;
  return check_component(name.substr(slash + 1), static_cast<int>(slash) + 1, "name");
}

std::optional<BadValue> check_world_name(std::string_view world) {
  if (world.find('/') != std::string_view::npos) {
    return BadValue{static_cast<int>(world.find('/')), "world names are one path component"};
  }
  return check_component(world, 0, "world");
}

std::optional<BadValue> check_version(std::string_view version) {
  // Until lib/overlay's semver lands: the character set only.
  for (std::size_t i = 0; i < version.size(); ++i) {
    char c = version[i];
    if (!(is_name_char(c) && c != '_')) {
      return BadValue{static_cast<int>(i), "character '" + std::string(1, c) + "' not allowed"};
    }
  }
  if (version.empty() || version[0] < '0' || version[0] > '9') {
    return BadValue{0, "a version starts with a digit (MAJOR.MINOR.PATCH)"};
  }
  return std::nullopt;
}

std::optional<BadValue> check_constraint(std::string_view constraint) {
  if (constraint.empty()) return BadValue{0, "empty constraint"};
  return std::nullopt;
}

tl::expected<std::string, BadValue> normalize_copy_dest(std::string_view dest) {
  if (dest.empty() || dest[0] != '/') {
    return tl::unexpected(
        BadValue{0, "copy destination must be an absolute path (e.g. / or /app)"});
  }
  std::vector<std::string_view> parts;
  std::size_t i = 0;
  while (i < dest.size()) {
    while (i < dest.size() && dest[i] == '/') ++i;
    std::size_t start = i;
    while (i < dest.size() && dest[i] != '/') ++i;
    std::string_view part = dest.substr(start, i - start);
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return tl::unexpected(
          BadValue{static_cast<int>(start), "copy destination must not contain '..'"});
    }
    for (std::size_t j = 0; j < part.size(); ++j) {
      auto c = static_cast<unsigned char>(part[j]);
      if (c < 0x20 || c == 0x7f) {
        return tl::unexpected(BadValue{static_cast<int>(start + j), "control character in path"});
      }
    }
    parts.push_back(part);
  }
  std::string out;
  for (auto p : parts) {
    out += '/';
    out += p;
  }
  if (out.empty()) out = "/";
  return out;
}

}  // namespace lj::build
