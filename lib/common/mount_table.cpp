#include "common/mount_table.hpp"

#include <string>

namespace lj {
namespace {

namespace fs = std::filesystem;

bool is_octal(char c) {
  return c >= '0' && c <= '7';
}

std::string unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size() + 0 && is_octal(s[i + 1]) && is_octal(s[i + 2]) &&
        is_octal(s[i + 3])) {
      out +=
          static_cast<char>(((s[i + 1] - '0') << 6) | ((s[i + 2] - '0') << 3) | (s[i + 3] - '0'));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool is_at_or_under(const fs::path& mount, const fs::path& dir) {
  const std::string& m = mount.native();
  const std::string& d = dir.native();
  if (m.size() < d.size() || m.compare(0, d.size(), d) != 0) return false;
  return m.size() == d.size() || d == "/" || m[d.size()] == '/';
}

}  // namespace

Result<std::vector<fs::path>> parse_mountinfo(std::string_view text) {
  // "36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue"
  std::vector<fs::path> out;
  std::size_t lineno = 0;
  while (!text.empty()) {
    std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    ++lineno;
    if (line.empty()) continue;
    std::string_view field;
    for (int k = 0; k < 5; ++k) {
      std::size_t sp = line.find(' ');
      if (sp == std::string_view::npos && k < 4) {
        return fail(Errc::internal, "overlay",
                    "mountinfo line " + std::to_string(lineno) + ": fewer than 5 fields");
      }
      field = line.substr(0, sp);
      line.remove_prefix(sp == std::string_view::npos ? line.size() : sp + 1);
    }
    if (field.empty() || field.front() != '/') {
      return fail(Errc::internal, "overlay",
                  "mountinfo line " + std::to_string(lineno) + ": mount point is not absolute");
    }
    out.emplace_back(unescape(field));
  }
  return out;
}

Status ensure_nothing_mounted(const MountTable& table, const fs::path& dir) {
  std::error_code ec;
  fs::path canon = fs::canonical(dir, ec);
  if (ec == std::errc::no_such_file_or_directory) return {};
  if (ec) return fail_errno("overlay", "resolving " + dir.string(), ec.value());
  std::vector<fs::path> points = LJ_TRY_CTX("reading the mount table", table.mount_points());
  std::vector<std::string> hits;
  for (const auto& m : points) {
    if (is_at_or_under(m.lexically_normal(), canon)) hits.push_back(m.string());
  }
  if (hits.empty()) return {};
  std::string list;
  for (std::size_t i = 0; i < hits.size() && i < 5; ++i) list += (i ? ", " : "") + hits[i];
  if (hits.size() > 5) list += ", ...";
  return fail(Errc::conflict, "overlay",
              "refusing to remove " + dir.string() + ": " + std::to_string(hits.size()) +
                  " mount(s) at or under it (" + list + "); unmount first");
}

}  // namespace lj
