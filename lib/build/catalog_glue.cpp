#include "build/catalog_glue.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "build/context.hpp"
#include "common/fd.hpp"
#include "common/sys.hpp"
#include "overlay/names.hpp"
#include "overlay/semver.hpp"

namespace fs = std::filesystem;
using nlohmann::json;

namespace lj::build {
namespace {

constexpr int kMaxChainDepth = 32;

Result<std::string> read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return fail_errno("build", "open " + p.string());
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return fail_errno("build", "read " + p.string());
  return buf.str();
}

struct ManifestView {
  std::string text;
  json doc;
};

Result<ManifestView> read_manifest(const fs::path& dir) {
  ManifestView m;
  m.text = LJ_TRY(read_file(dir / overlay::kManifestFile));
  try {
    m.doc = json::parse(m.text);
  } catch (const json::exception& e) {
    return fail(Errc::internal, "build",
                "corrupt manifest " + (dir / overlay::kManifestFile).string() + ": " + e.what());
  }
  return m;
}

std::string str_field(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string now_rfc3339() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Status write_synced(const fs::path& p, const std::string& text) {
  UniqueFd fd(LJ_SYS("open", ::open(p.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)));
  if (!fd) return fail_errno("build", "create " + p.string());
  std::string_view rest(text);
  while (!rest.empty()) {
    ssize_t w = ::write(fd.get(), rest.data(), rest.size());
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return fail_errno("build", "write " + p.string());
    rest.remove_prefix(static_cast<std::size_t>(w));
  }
  if (LJ_SYS("fsync", ::fsync(fd.get())) != 0) return fail_errno("build", "fsync " + p.string());
  return {};
}

}  // namespace

Result<fs::path> find_world(const overlay::Root& root, const std::string& world) {
  auto name = LJ_TRY(overlay::WorldName::parse(world));
  fs::path dir = root.world_dir(name);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return dir;
  std::string have;
  std::error_code ec;
  for (fs::directory_iterator it(root.worlds_dir(), ec), end; !ec && it != end; it.increment(ec)) {
    have += (have.empty() ? "" : ", ") + it->path().filename().string();
  }
  return fail(Errc::not_found, "world",
              "world " + world + " not found in " + root.worlds_dir().string() +
                  (have.empty() ? " (there are none)" : " (there are: " + have + ")"));
}

Result<fs::path> overlay_version_dir(const overlay::Root& root, const std::string& name,
                                     const std::string& version) {
  auto n = LJ_TRY(overlay::OverlayName::parse(name));
  auto v = LJ_TRY(overlay::Version::parse(version));
  return root.overlay_dir(n, v);
}

Result<ParentChain> resolve_parent_chain(const overlay::Root& root, const std::string& name,
                                         const std::string& constraint) {
  auto n = LJ_TRY(overlay::OverlayName::parse(name));
  auto c = LJ_TRY(overlay::Constraint::parse(constraint));
  std::vector<overlay::Version> versions;
  std::error_code ec;
  for (fs::directory_iterator it(root.overlay_dir(n), ec), end; !ec && it != end;
       it.increment(ec)) {
    auto v = overlay::Version::parse(it->path().filename().string());
    if (v && fs::exists(it->path() / overlay::kManifestFile)) versions.push_back(std::move(*v));
  }
  auto best = overlay::select_best(c, versions);
  if (!best) {
    std::string have;
    for (const auto& v : versions) have += (have.empty() ? "" : ", ") + v.str();
    return fail(Errc::not_found, "overlay",
                "no published version of " + name + " satisfies '" + constraint + "'" +
                    (have.empty() ? " (none is published)" : " (published: " + have + ")"));
  }
  ParentChain chain;
  chain.version = best->str();
  // Walk up: each manifest names its parent's exact version.
  std::vector<fs::path> layers;
  overlay::OverlayName cur_name = n;
  overlay::Version cur_version = *best;
  for (int depth = 0;; ++depth) {
    if (depth == kMaxChainDepth) {
      return fail(Errc::invalid_argument, "overlay",
                  "the parent chain of " + name + " is deeper than " +
                      std::to_string(kMaxChainDepth) + " (a cycle?)");
    }
    fs::path dir = root.overlay_dir(cur_name, cur_version);
    auto m = LJ_TRY(read_manifest(dir));
    if (depth == 0) {
      chain.manifest_digest = sha256_hex(m.text);
      chain.world = str_field(m.doc, "world");
    }
    layers.push_back(root.layer_dir(cur_name, cur_version));
    auto parent = m.doc.find("parent");
    if (parent == m.doc.end() || !parent->is_object()) break;
    cur_name = LJ_TRY(overlay::OverlayName::parse(str_field(*parent, "name")));
    cur_version = LJ_TRY(overlay::Version::parse(str_field(*parent, "version")));
  }
  chain.layers.assign(layers.rbegin(), layers.rend());
  return chain;
}

Result<std::optional<Published>> read_published(const overlay::Root& root, const std::string& name,
                                                const std::string& version) {
  fs::path dir = LJ_TRY(overlay_version_dir(root, name, version));
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno == ENOENT) return std::optional<Published>();
    return fail_errno("build", "lstat " + dir.string());
  }
  auto m = LJ_TRY(read_manifest(dir));
  Published p;
  auto digests = m.doc.find("digests");
  if (digests != m.doc.end() && digests->is_object())
    p.cache_key = str_field(*digests, "cache_key");
  p.build_id = str_field(m.doc, "build_id");
  if (auto s = m.doc.find("size_bytes"); s != m.doc.end() && s->is_number_unsigned()) {
    p.size_bytes = s->get<std::uint64_t>();
  }
  return std::optional<Published>(std::move(p));
}

Status publish_layer(const overlay::Root& root, const std::string& name, const std::string& version,
                     StagingDir staging, const PublishRecord& record, bool replace) {
  auto n = LJ_TRY(overlay::OverlayName::parse(name));
  auto v = LJ_TRY(overlay::Version::parse(version));
  fs::path target = root.overlay_dir(n, v);

  // The staging directory becomes the overlay directory: upper/ is the layer, work/ goes.
  fs::path layer = staging.dir() / overlay::kLayerDir;
  if (::rename(staging.upper().c_str(), layer.c_str()) != 0) {
    return fail_errno("build", "rename " + staging.upper().string() + " to " + layer.string());
  }
  std::error_code ec;
  fs::remove_all(staging.work(), ec);
  if (ec) return fail(Error::from_errno("build", "remove " + staging.work().string(), ec.value()));

  json manifest = {
      {"name", name},
      {"version", version},
      {"world", record.world},
      {"parent", nullptr},
      {"digests",
       {{"jailfile", record.jailfile_digest},
        {"context", record.context_digest},
        {"cache_key", record.cache_key}}},
      {"size_bytes", record.size_bytes},
      {"created", now_rfc3339()},
      {"build_id", record.build_id},
  };
  if (record.parent) {
    manifest["parent"] = {{"name", record.parent->name},
                          {"constraint", record.parent->constraint},
                          {"version", record.parent->version},
                          {"manifest_digest", record.parent->manifest_digest}};
  }
  LJ_TRY(write_synced(staging.dir() / overlay::kManifestFile, manifest.dump(2) + "\n"));

  fs::create_directories(root.overlay_dir(n), ec);
  if (ec) {
    return fail(Error::from_errno("build", "mkdir " + root.overlay_dir(n).string(), ec.value()));
  }
  // RENAME_NOREPLACE: never clobbers, even an empty directory (rename(2) would replace one).
  // RENAME_EXCHANGE for a forced rebuild: readers see the old or the new version, never none.
  unsigned flags = replace ? RENAME_EXCHANGE : RENAME_NOREPLACE;
  if (LJ_SYS("renameat2",
             ::renameat2(AT_FDCWD, staging.dir().c_str(), AT_FDCWD, target.c_str(), flags)) != 0) {
    if (errno == EEXIST) {
      return fail(Errc::exists, "build", name + "@" + version + " was published meanwhile");
    }
    return fail_errno("build", "renameat2 " + staging.dir().string() + " " + target.string());
  }
  if (!replace) staging.release();  // now the published directory
  // With RENAME_EXCHANGE the staging path holds the old version; ~StagingDir removes it.
  return {};
}

}  // namespace lj::build
