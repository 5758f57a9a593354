#include "overlay/manifest.hpp"

#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

#include "overlay/fs_ops.hpp"
#include "overlay/names.hpp"
#include "overlay/semver.hpp"

namespace lj::overlay {
namespace {

using nlohmann::json;

Error bad(std::string msg) {
  return Error(Errc::invalid_argument, "overlay", std::move(msg));
}

Result<std::string> get_string(const json& j, const char* key, bool required) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) {
    if (required) return fail(bad(std::string("missing field \"") + key + "\""));
    return std::string();
  }
  if (!it->is_string()) return fail(bad(std::string("field \"") + key + "\" is not a string"));
  return it->get<std::string>();
}

bool digits(std::string_view s, std::size_t at, std::size_t n, int lo, int hi) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  return v >= lo && v <= hi;
}

}  // namespace

bool is_rfc3339_utc(std::string_view s) {
  // 2026-11-24T18:07:00Z or 2026-11-24T18:07:00.123Z
  if (s.size() < 20) return false;
  if (!digits(s, 0, 4, 0, 9999) || s[4] != '-' || !digits(s, 5, 2, 1, 12) || s[7] != '-' ||
      !digits(s, 8, 2, 1, 31) || (s[10] != 'T' && s[10] != 't') || !digits(s, 11, 2, 0, 23) ||
      s[13] != ':' || !digits(s, 14, 2, 0, 59) || s[16] != ':' || !digits(s, 17, 2, 0, 60)) {
    return false;
  }
  std::size_t i = 19;
  if (s[i] == '.') {
    std::size_t start = ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    if (i == start) return false;
  }
  return i + 1 == s.size() && (s[i] == 'Z' || s[i] == 'z');
}

std::string rfc3339_utc(std::chrono::system_clock::time_point t) {
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status validate_manifest(const Manifest& m) {
  LJ_TRY_CTX("field \"name\"", validate_overlay_name(m.name));
  LJ_TRY_CTX("field \"version\"", Version::parse(m.version));
  if (m.image) {
    if (!m.world.empty()) {
      return fail(bad("fields \"world\" and \"image\": an overlay stands on one or the other"));
    }
    const std::string& d = m.image->digest;
    const bool hex = d.size() == 71 && d.rfind("sha256:", 0) == 0 &&
                     d.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
    if (!hex) return fail(bad("field \"image.digest\": \"" + d + "\" is not sha256:<64 hex>"));
  } else {
    LJ_TRY_CTX("field \"world\"", validate_world_name(m.world));
  }
  if (m.parent) {
    LJ_TRY_CTX("field \"parent.name\"", validate_overlay_name(m.parent->name));
    LJ_TRY_CTX("field \"parent.constraint\"", Constraint::parse(m.parent->constraint));
    auto pv = LJ_TRY_CTX("field \"parent.version\"", Version::parse(m.parent->version));
    if (m.parent->name == m.name && pv == *Version::parse(m.version)) {
      return fail(bad("overlay " + m.name + " " + m.version + " names itself as its parent"));
    }
  }
  if (!m.created.empty() && !is_rfc3339_utc(m.created)) {
    return fail(bad("field \"created\": \"" + m.created + "\" is not an RFC 3339 UTC time"));
  }
  return {};
}

json manifest_to_json(const Manifest& m) {
  json j = {
      {"name", m.name},
      {"version", m.version},
      {"world", m.world},
      {"parent", nullptr},
      {"jailfile_digest", m.jailfile_digest},
      {"context_digest", m.context_digest},
      {"size_bytes", m.size_bytes},
      {"created", m.created},
      {"build_id", m.build_id},
  };
  if (m.parent) {
    j["parent"] = {{"name", m.parent->name},
                   {"constraint", m.parent->constraint},
                   {"version", m.parent->version}};
  }
  if (m.image) j["image"] = {{"reference", m.image->reference}, {"digest", m.image->digest}};
  if (!m.privileges.empty()) j["privileges"] = m.privileges.items();
  return j;
}

Result<Manifest> manifest_from_json(const json& j) {
  if (!j.is_object()) return fail(bad("a manifest is a JSON object"));
  Manifest m;
  m.name = LJ_TRY(get_string(j, "name", true));
  m.version = LJ_TRY(get_string(j, "version", true));
  m.world = LJ_TRY(get_string(j, "world", true));
  if (auto it = j.find("parent"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail(bad("field \"parent\" is neither an object nor null"));
    ParentRef p;
    p.name = LJ_TRY_CTX("in \"parent\"", get_string(*it, "name", true));
    p.constraint = LJ_TRY_CTX("in \"parent\"", get_string(*it, "constraint", true));
    p.version = LJ_TRY_CTX("in \"parent\"", get_string(*it, "version", true));
    m.parent = std::move(p);
  } else if (it == j.end()) {
    return fail(bad("missing field \"parent\" (null when there is none)"));
  }
  if (auto it = j.find("image"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) return fail(bad("field \"image\" is neither an object nor null"));
    ImageBase b;
    b.reference = LJ_TRY_CTX("in \"image\"", get_string(*it, "reference", false));
    b.digest = LJ_TRY_CTX("in \"image\"", get_string(*it, "digest", true));
    m.image = std::move(b);
  }
  m.jailfile_digest = LJ_TRY(get_string(j, "jailfile_digest", false));
  m.context_digest = LJ_TRY(get_string(j, "context_digest", false));
  if (auto it = j.find("size_bytes"); it != j.end() && !it->is_null()) {
    if (!it->is_number_unsigned()) {
      return fail(bad("field \"size_bytes\" is not a non-negative integer"));
    }
    m.size_bytes = it->get<std::uint64_t>();
  }
  m.created = LJ_TRY(get_string(j, "created", true));
  m.build_id = LJ_TRY(get_string(j, "build_id", false));
  if (auto it = j.find("privileges"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) return fail(bad("field \"privileges\" is not an array"));
    for (const auto& item : *it) {
      if (!item.is_string()) return fail(bad("field \"privileges\" holds a non-string"));
      LJ_TRY_CTX("field \"privileges\"", add_privilege(item.get<std::string>(), &m.privileges));
    }
  }
  LJ_TRY(validate_manifest(m));
  return m;
}

Result<Manifest> read_manifest(const std::filesystem::path& file) {
  std::string text = LJ_TRY_CTX("manifest", read_file(file, 1u << 20));
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return fail(bad("manifest " + file.string() + ": invalid JSON: " + e.what()));
  }
  return manifest_from_json(j).map_error(
      [&](Error e) { return std::move(e).context("manifest " + file.string()); });
}

Status write_manifest(const std::filesystem::path& file, const Manifest& m) {
  LJ_TRY_CTX("manifest " + file.string(), validate_manifest(m));
  return write_file_atomic(file, manifest_to_json(m).dump(2) + "\n", 0644);
}

}  // namespace lj::overlay
