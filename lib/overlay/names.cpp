#include "overlay/names.hpp"

#include <string>

namespace lj::overlay {
namespace {

bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_component_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '.' || c == '_' || c == '+' || c == '-';
}

// Printable form of untrusted input for an error message: control bytes (NUL included) are
// shown as \xNN so the message stays one readable line.
std::string quoted(std::string_view s) {
  std::string out = "\"";
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s.substr(0, 300)) {
    if (c < 0x20 || c == 0x7f || c == '"' || c == '\\') {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > 300) out += "...";
  return out + "\"";
}

// Empty when `c` is a valid component, else why not.
std::string component_problem(std::string_view c, bool letter_first) {
  if (c.empty()) return "is empty";
  if (c.size() > kMaxComponentLength) {
    return "is longer than " + std::to_string(kMaxComponentLength) + " bytes";
  }
  if (letter_first ? !is_alpha(c[0]) : !(is_alpha(c[0]) || is_digit(c[0]))) {
    return letter_first ? "must start with a letter" : "must start with a letter or a digit";
  }
  for (char ch : c) {
    if (!is_component_char(ch)) {
      return "has a character outside [A-Za-z0-9._+-]";
    }
  }
  return {};
}

}  // namespace

Status validate_overlay_name(std::string_view name) {
  auto bad = [&](std::string why) {
    return fail(Errc::invalid_argument, "overlay", "overlay name " + quoted(name) + ": " + why);
  };
  if (name.empty()) return bad("is empty");
  if (name.size() > kMaxOverlayNameLength) {
    return bad("is longer than " + std::to_string(kMaxOverlayNameLength) + " bytes");
  }
  if (name.front() == '/') return bad("must be relative (namespace/name), not an absolute path");
  if (name.find('/') == std::string_view::npos) {
    return bad("must contain a slash (namespace/name, e.g. lang/ruby)");
  }
  std::size_t count = 0;
  std::size_t start = 0;
  for (;;) {
    std::size_t slash = name.find('/', start);
    std::string_view c =
        name.substr(start, slash == std::string_view::npos ? slash : slash - start);
    ++count;
    if (count > kMaxOverlayComponents) {
      return bad("has more than " + std::to_string(kMaxOverlayComponents) + " components");
    }
    if (std::string why = component_problem(c, true); !why.empty()) {
      return bad("component " + std::to_string(count) + " " + quoted(c) + " " + why);
    }
    if (count == 1 && c == "worlds") return bad("\"worlds\" is reserved for base systems");
    if (count == 1 && c == "images") return bad("\"images\" is reserved for OCI images");
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return {};
}

Status validate_world_name(std::string_view name) {
  std::string why = component_problem(name, false);
  if (why.empty()) return {};
  if (name.find('/') != std::string_view::npos) why = "must not contain '/'";
  return fail(Errc::invalid_argument, "world", "world name " + quoted(name) + " " + why);
}

Result<OverlayName> OverlayName::parse(std::string_view name) {
  LJ_TRY(validate_overlay_name(name));
  return OverlayName(std::string(name));
}

Result<WorldName> WorldName::parse(std::string_view name) {
  LJ_TRY(validate_world_name(name));
  return WorldName(std::string(name));
}

}  // namespace lj::overlay
