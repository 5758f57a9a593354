#include "overlay/catalog.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <set>
#include <string>

#include "common/sys.hpp"
#include "overlay/fs_ops.hpp"
#include "overlay/staging.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string label(const OverlayName& n, const Version& v) {
  return n.str() + " " + v.str();
}

enum class Kind { missing, dir, file, other };
Result<Kind> kind_of(const fs::path& p) {
  struct stat st {};
  if (::lstat(p.c_str(), &st) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return Kind::missing;
    return fail_errno("overlay", "stat " + p.string());
  }
  if (S_ISDIR(st.st_mode)) return Kind::dir;
  if (S_ISREG(st.st_mode)) return Kind::file;
  return Kind::other;
}

Result<std::vector<std::string>> entries(const fs::path& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  fs::directory_iterator it(dir, ec), end;
  if (ec == std::errc::no_such_file_or_directory) return out;
  if (ec) return fail_errno("overlay", "read " + dir.string(), ec.value());
  for (; it != end; it.increment(ec)) {
    if (ec) return fail_errno("overlay", "read " + dir.string(), ec.value());
    out.push_back(it->path().filename().string());
  }
  if (ec) return fail_errno("overlay", "read " + dir.string(), ec.value());
  std::sort(out.begin(), out.end());
  return out;
}

void sort_versions(std::vector<Version>& vs) {
  std::sort(vs.begin(), vs.end(), [](const Version& a, const Version& b) {
    auto c = compare(a, b);
    return c != 0 ? c < 0 : a.str() < b.str();
  });
}

bool ref_less(const OverlayRef& a, const OverlayRef& b) {
  if (a.name != b.name) return a.name < b.name;
  auto c = compare(a.version, b.version);
  return c != 0 ? c < 0 : a.version.str() < b.version.str();
}

// mkdir -p for the directories of an overlay name under the root; new directories are made
// durable (their parent fsynced) before anything is renamed into them.
Status make_parents(const fs::path& root, const OverlayName& n) {
  fs::path p = root;
  std::string_view rest = n.str();
  while (!rest.empty()) {
    std::size_t slash = rest.find('/');
    p /= std::string(rest.substr(0, slash));
    rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
    // root/<ns> is private (Root::restrict_access); what is below it is reached through it.
    const mode_t mode = p.parent_path() == root.lexically_normal() ? 0700 : 0755;
    if (LJ_SYS("mkdir", ::mkdir(p.c_str(), mode)) == 0) {
      LJ_TRY(fsync_path(p.parent_path()));
      continue;
    }
    if (errno != EEXIST) return fail_errno("overlay", "mkdir " + p.string());
    if (LJ_TRY(kind_of(p)) != Kind::dir) {
      return fail(Errc::conflict, "overlay", p.string() + " exists and is not a directory");
    }
  }
  return {};
}

}  // namespace

Result<std::vector<WorldName>> Catalog::list_worlds() const {
  std::vector<WorldName> out;
  for (const auto& e : LJ_TRY(entries(root_.worlds_dir()))) {
    auto w = WorldName::parse(e);
    if (!w) continue;
    if (LJ_TRY(kind_of(root_.worlds_dir() / e)) == Kind::dir) out.push_back(std::move(*w));
  }
  return out;
}

Result<bool> Catalog::has_world(const WorldName& w) const {
  return LJ_TRY(kind_of(root_.world_dir(w))) == Kind::dir;
}

Result<std::vector<Version>> Catalog::versions(const OverlayName& n) const {
  std::vector<Version> out;
  fs::path dir = root_.overlay_dir(n);
  for (const auto& e : LJ_TRY(entries(dir))) {
    if (e.empty() || !is_digit(e[0])) continue;
    auto v = Version::parse(e);
    if (!v || v->str() != e) continue;  // not a version directory (or not canonical): not ours
    if (LJ_TRY(kind_of(dir / e / kManifestFile)) != Kind::file) continue;
    out.push_back(std::move(*v));
  }
  sort_versions(out);
  return out;
}

Result<std::vector<OverlayEntry>> Catalog::list_overlays() const {
  std::vector<OverlayEntry> out;
  // Depth-first over name components; a component starts with a letter, a version with a digit.
  std::vector<std::string> stack;
  for (const auto& e : LJ_TRY(entries(root_.dir()))) {
    if (!is_reserved_top_level(e) && !e.empty() && is_alpha(e[0])) stack.push_back(e);
  }
  while (!stack.empty()) {
    std::string name = std::move(stack.back());
    stack.pop_back();
    if (LJ_TRY(kind_of(root_.dir() / name)) != Kind::dir) continue;
    std::size_t depth = static_cast<std::size_t>(std::count(name.begin(), name.end(), '/')) + 1;
    if (auto on = OverlayName::parse(name); on) {
      for (auto& v : LJ_TRY(versions(*on))) {
        Manifest m = LJ_TRY(manifest(*on, v));
        out.push_back(OverlayEntry{*on, std::move(v), std::move(m)});
      }
    }
    if (depth >= kMaxOverlayComponents) continue;
    for (const auto& e : LJ_TRY(entries(root_.dir() / name))) {
      if (!e.empty() && is_alpha(e[0])) stack.push_back(name + "/" + e);
    }
  }
  std::sort(out.begin(), out.end(), [](const OverlayEntry& a, const OverlayEntry& b) {
    return ref_less({a.name, a.version}, {b.name, b.version});
  });
  return out;
}

Result<Manifest> Catalog::manifest(const OverlayName& n, const Version& v) const {
  auto m = read_manifest(root_.manifest_path(n, v));
  if (!m) {
    if (m.error().errc() == Errc::not_found) {
      return fail(Errc::not_found, "overlay", "overlay " + label(n, v) + " is not published");
    }
    return fail(std::move(m).error());
  }
  if (m->name != n.str() || m->version != v.str()) {
    return fail(Errc::invalid_argument, "overlay",
                "manifest " + root_.manifest_path(n, v).string() + " describes " + m->name + " " +
                    m->version + ", not " + label(n, v));
  }
  return m;
}

Result<Version> Catalog::find(const OverlayName& n, const Constraint& c) const {
  std::vector<Version> vs = LJ_TRY(versions(n));
  if (auto best = select_best(c, vs)) return *best;
  if (vs.empty()) {
    return fail(Errc::not_found, "overlay", "overlay " + n.str() + " has no published version");
  }
  std::string have;
  for (const auto& v : vs) have += (have.empty() ? "" : ", ") + v.str();
  return fail(
      Errc::not_found, "overlay",
      "no version of " + n.str() + " satisfies \"" + c.str() + "\" (published: " + have + ")");
}

std::string Chain::base() const {
  if (image) return "image " + image->reference + "@" + image->digest;
  return "world " + (world ? world->str() : std::string("?"));
}

Result<Chain> Catalog::resolve_world(const WorldName& w) const {
  if (!LJ_TRY(has_world(w))) {
    return fail(Errc::not_found, "world", "world " + w.str() + " is not installed");
  }
  return Chain{w, std::nullopt, {}, {root_.world_dir(w)}, {}};
}

namespace {
// What a manifest stands on, for comparing the members of one chain.
std::string base_of(const Manifest& m) {
  return m.image ? "image " + m.image->digest : "world " + m.world;
}
}  // namespace

Result<Chain> Catalog::resolve(const OverlayName& top_name, const Version& top_version) const {
  std::vector<OverlayRef> rev;  // requested overlay first
  std::set<std::string> seen;
  std::optional<Manifest> bottom;  // the first manifest read: the base every member shares
  Privileges declared;             // every member's declaration
  OverlayRef cur{top_name, top_version};
  std::string path_so_far;
  for (;;) {
    std::string key = label(cur.name, cur.version);
    path_so_far += (path_so_far.empty() ? "" : " -> ") + key;
    if (!seen.insert(key).second) {
      return fail(Errc::conflict, "overlay", "parent cycle: " + path_so_far);
    }
    if (rev.size() == kMaxChainDepth) {
      return fail(Errc::limit, "overlay",
                  "overlay " + label(top_name, top_version) + " stacks more than " +
                      std::to_string(kMaxChainDepth) + " layers");
    }
    auto m = manifest(cur.name, cur.version);
    if (!m) {
      if (rev.empty()) return fail(std::move(m).error());
      return fail(Errc::not_found, "overlay",
                  "overlay " + label(rev.back().name, rev.back().version) + ": its parent " + key +
                      " is not published");
    }
    if (!m->image) {
      auto w = WorldName::parse(m->world);
      if (!w) return fail(std::move(w).error().context("manifest of " + key));
    }
    if (!bottom) {
      bottom = *m;
    } else if (base_of(*bottom) != base_of(*m)) {
      return fail(Errc::conflict, "overlay",
                  "overlay " + label(rev.back().name, rev.back().version) + " is on " +
                      base_of(*bottom) + " but its parent " + key + " is on " + base_of(*m));
    }
    rev.push_back(cur);
    declared.merge(m->privileges);
    if (!m->parent) break;
    auto pn = OverlayName::parse(m->parent->name);
    auto pv = Version::parse(m->parent->version);
    if (!pn || !pv) {
      return fail(Errc::invalid_argument, "overlay", "manifest of " + key + ": bad parent");
    }
    cur = OverlayRef{std::move(*pn), std::move(*pv)};
  }
  Chain chain;
  chain.privileges = std::move(declared);
  if (bottom->image) {
    chain.image = bottom->image;
  } else {
    auto world = *WorldName::parse(bottom->world);
    if (!LJ_TRY(has_world(world))) {
      return fail(Errc::not_found, "world",
                  "world " + world.str() + " of overlay " + label(top_name, top_version) +
                      " is not installed");
    }
    chain.lower.push_back(root_.world_dir(world));
    chain.world = std::move(world);
  }
  for (auto it = rev.rbegin(); it != rev.rend(); ++it) {
    chain.lower.push_back(root_.layer_dir(it->name, it->version));
    chain.overlays.push_back(std::move(*it));
  }
  return chain;
}

Result<Manifest> Catalog::publish(const fs::path& staging_dir, Manifest m) const {
  LJ_TRY_CTX("publishing " + m.name + " " + m.version, validate_manifest(m));
  auto name = *OverlayName::parse(m.name);
  auto version = *Version::parse(m.version);
  if (version.str() != m.version) {
    return fail(Errc::internal, "overlay", "version " + m.version + " is not canonical");
  }
  std::string what = "publishing " + label(name, version);
  // An image base is not checked here (this module knows no image store): the builder
  // resolved it to unpacked layers before anything ran.
  if (!m.image) {
    auto world = *WorldName::parse(m.world);
    if (!LJ_TRY(has_world(world))) {
      return fail(Errc::not_found, "world", what + ": world " + world.str() + " is not installed");
    }
  }
  if (m.parent) {
    auto pn = *OverlayName::parse(m.parent->name);
    auto pv = *Version::parse(m.parent->version);
    auto pm = LJ_TRY_CTX(what + ": parent", manifest(pn, pv));
    if (base_of(pm) != base_of(m)) {
      return fail(Errc::conflict, "overlay",
                  what + ": parent " + label(pn, pv) + " is on " + base_of(pm) + ", not " +
                      base_of(m));
    }
  }
  if (LJ_TRY(kind_of(staging_dir / kLayerDir)) != Kind::dir) {
    return fail(Errc::invalid_argument, "overlay",
                what + ": " + (staging_dir / kLayerDir).string() + " is not a directory");
  }
  // A published overlay holds exactly manifest.json and layer/ (an overlayfs work/ dir or a
  // build log left in the staging dir would be published with it).
  for (const auto& e : LJ_TRY(entries(staging_dir))) {
    if (e != kLayerDir && e != kManifestFile) {
      return fail(Errc::invalid_argument, "overlay",
                  what + ": unexpected entry " + (staging_dir / e).string() +
                      " (a staging dir holds layer/ only)");
    }
  }
  // Staging dirs are 0700 (in-progress content is private); a published overlay is readable, as
  // a jail whose user namespace maps root to another uid must still traverse it.
  if (LJ_SYS("chmod", ::chmod(staging_dir.c_str(), 0755)) != 0) {
    return fail_errno("overlay", what + ": chmod " + staging_dir.string());
  }
  m.size_bytes = LJ_TRY_CTX(what, tree_size(staging_dir / kLayerDir));
  if (m.created.empty()) m.created = rfc3339_utc(std::chrono::system_clock::now());
  LJ_TRY_CTX(what, write_manifest(staging_dir / kManifestFile, m));
  LJ_TRY_CTX(what, sync_tree(staging_dir));
  LJ_TRY_CTX(what, make_parents(root_.dir(), name));
  fs::path target = root_.overlay_dir(name, version);
  if (LJ_SYS("rename", ::rename(staging_dir.c_str(), target.c_str())) != 0) {
    int err = errno;
    if (err == EEXIST || err == ENOTEMPTY) {
      return fail(Errc::exists, "overlay", "overlay " + label(name, version) + " already exists");
    }
    if (err == EXDEV) {
      return fail(Errc::invalid_argument, "overlay",
                  what + ": staging dir " + staging_dir.string() +
                      " is not on the root's filesystem (use root/.staging)");
    }
    return fail_errno("overlay",
                      what + ": rename " + staging_dir.string() + " to " + target.string(), err);
  }
  LJ_TRY_CTX(what, fsync_path(target.parent_path()));
  if (staging_dir.has_parent_path()) (void)fsync_path(staging_dir.parent_path());
  return m;
}

Status Catalog::remove_dir(const fs::path& dir) const {
  LJ_TRY(ensure_nothing_mounted(*mounts_, dir));
  fs::path staging = root_.staging_dir();
  if (LJ_SYS("mkdir", ::mkdir(staging.c_str(), 0700)) != 0 && errno != EEXIST) {
    return fail_errno("overlay", "mkdir " + staging.string());
  }
  // Unpublish in one step: a half-deleted tree never shows up in a listing.
  fs::path doomed = staging / ("removing-" + random_token(12));
  if (LJ_SYS("rename", ::rename(dir.c_str(), doomed.c_str())) != 0) {
    return fail_errno("overlay", "rename " + dir.string() + " to " + doomed.string());
  }
  (void)fsync_path(dir.parent_path());
  return remove_tree(doomed);
}

Status Catalog::remove(const OverlayName& n, const Version& v) const {
  std::string what = "removing overlay " + label(n, v);
  LJ_TRY_CTX(what, manifest(n, v));
  auto deps = LJ_TRY_CTX(what, dependents(n, v));
  if (!deps.empty()) {
    std::string list;
    for (const auto& d : deps) list += (list.empty() ? "" : ", ") + label(d.name, d.version);
    return fail(Errc::conflict, "overlay", what + ": it is the parent of " + list);
  }
  LJ_TRY_CTX(what, remove_dir(root_.overlay_dir(n, v)));
  // Drop the name's directories that became empty (rmdir refuses non-empty ones).
  fs::path p = root_.overlay_dir(n);
  while (p != root_.dir() && p.has_parent_path() && ::rmdir(p.c_str()) == 0) p = p.parent_path();
  return {};
}

Status Catalog::remove_world(const WorldName& w) const {
  std::string what = "removing world " + w.str();
  if (!LJ_TRY(has_world(w))) {
    return fail(Errc::not_found, "world", what + ": it is not installed");
  }
  auto deps = LJ_TRY_CTX(what, world_dependents(w));
  if (!deps.empty()) {
    std::string list;
    for (const auto& d : deps) list += (list.empty() ? "" : ", ") + label(d.name, d.version);
    return fail(Errc::conflict, "world", what + ": overlays are built on it: " + list);
  }
  return remove_dir(root_.world_dir(w)).map_error([&](Error e) {
    return std::move(e).context(what);
  });
}

Result<std::vector<OverlayRef>> Catalog::dependents(const OverlayName& n, const Version& v) const {
  std::vector<OverlayRef> out;
  for (auto& e : LJ_TRY(list_overlays())) {
    if (!e.manifest.parent || e.manifest.parent->name != n.str()) continue;
    auto pv = Version::parse(e.manifest.parent->version);
    if (pv && *pv == v) out.push_back(OverlayRef{std::move(e.name), std::move(e.version)});
  }
  return out;
}

Result<std::vector<OverlayRef>> Catalog::world_dependents(const WorldName& w) const {
  std::vector<OverlayRef> out;
  for (auto& e : LJ_TRY(list_overlays())) {
    if (e.manifest.world == w.str()) {
      out.push_back(OverlayRef{std::move(e.name), std::move(e.version)});
    }
  }
  return out;
}

Result<std::size_t> Catalog::clean_staging() const {
  std::size_t removed = 0;
  std::vector<std::string> refused;
  bool conflict_only = true;
  fs::path base = root_.staging_dir();
  // Whatever one entry holds (a tree as deep as the kernel allows, an unreadable directory, a
  // mount), the others are still cleaned: ljd runs this at every start, and an entry that stops
  // it would stop every start (issue 17).
  for (const auto& e : LJ_TRY(entries(base))) {
    fs::path p = base / e;
    Status st = [&]() -> Status {
      Kind k = LJ_TRY(kind_of(p));
      if (k == Kind::missing) return {};
      if (k == Kind::dir && !LJ_TRY(staging_entry_is_stale(p))) return {};  // a live StagingDir
      LJ_TRY(ensure_nothing_mounted(*mounts_, p));
      LJ_TRY(remove_tree(p));
      ++removed;
      return {};
    }();
    if (!st) {
      conflict_only = conflict_only && st.error().errc() == Errc::conflict;
      refused.push_back(st.error().what());
    }
  }
  if (!refused.empty()) {
    std::string msg = "cleaning " + base.string() + ": ";
    for (std::size_t i = 0; i < refused.size(); ++i) msg += (i ? "; " : "") + refused[i];
    return fail(conflict_only ? Errc::conflict : Errc::system, "overlay", msg);
  }
  return removed;
}

}  // namespace lj::overlay
