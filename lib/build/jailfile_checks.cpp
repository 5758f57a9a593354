#include "build/jailfile_checks.hpp"

#include <cstdlib>
#include <vector>

#include "image/reference.hpp"
#include "overlay/names.hpp"
#include "overlay/semver.hpp"

namespace lj::build {
namespace {

// lib/overlay's semver errors read "bad <what> at column N: <why>" (N 1-based, in the value).
BadValue from_semver_error(const Error& e) {
  const std::string& m = e.message();
  static constexpr std::string_view kAt = " at column ";
  std::size_t at = m.find(kAt);
  if (at == std::string::npos) return BadValue{0, m};
  std::size_t num = at + kAt.size();
  std::size_t colon = m.find(": ", num);
  if (colon == std::string::npos) return BadValue{0, m};
  int column = std::atoi(m.substr(num, colon - num).c_str());
  return BadValue{column > 0 ? column - 1 : 0, m.substr(colon + 2)};
}

}  // namespace

std::optional<BadValue> check_overlay_name(std::string_view name) {
  auto st = overlay::validate_overlay_name(name);
  if (st) return std::nullopt;
  // Point at the component the error names ("component 2 ..."), else at the name.
  const std::string& m = st.error().message();
  int offset = 0;
  static constexpr std::string_view kComponent = ": component ";
  if (std::size_t at = m.find(kComponent); at != std::string::npos) {
    int index = std::atoi(m.c_str() + at + kComponent.size());
    std::size_t pos = 0;
    for (int i = 1; i < index && pos != std::string_view::npos; ++i) {
      pos = name.find('/', pos);
      if (pos != std::string_view::npos) ++pos;
    }
    if (pos != std::string_view::npos) offset = static_cast<int>(pos);
  }
  return BadValue{offset, m};
}

std::optional<BadValue> check_world_name(std::string_view world) {
  if (std::size_t slash = world.find('/'); slash != std::string_view::npos) {
    return BadValue{static_cast<int>(slash), "world names are one path component"};
  }
  auto st = overlay::validate_world_name(world);
  if (st) return std::nullopt;
  return BadValue{0, st.error().message()};
}

std::optional<BadValue> check_version(std::string_view version) {
  auto v = overlay::Version::parse(version);
  if (v) return std::nullopt;
  return from_semver_error(v.error());
}

std::optional<BadValue> check_constraint(std::string_view constraint) {
  auto c = overlay::Constraint::parse(constraint);
  if (c) return std::nullopt;
  return from_semver_error(c.error());
}

std::optional<BadValue> check_image_reference(std::string_view ref) {
  auto r = image::Reference::parse(ref);
  if (r) return std::nullopt;
  return BadValue{0, r.error().message()};
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
  std::string out(1, '/');
  for (std::size_t k = 0; k < parts.size(); ++k) {
    if (k > 0) out.push_back('/');
    out.append(parts[k]);
  }
  return out;
}

}  // namespace lj::build
