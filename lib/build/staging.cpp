#include "build/staging.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "common/log.hpp"
#include "common/sys.hpp"

namespace fs = std::filesystem;

namespace lj::build {

Result<StagingDir> StagingDir::create(const overlay::Root& root, const std::string& name) {
  fs::path dir = root.staging_dir() / name;
  std::error_code ec;
  fs::create_directories(root.staging_dir(), ec);
  if (ec)
    return fail(Error::from_errno("build", "mkdir " + root.staging_dir().string(), ec.value()));
  if (LJ_SYS("mkdir", ::mkdir(dir.c_str(), 0755)) != 0) {
    return fail_errno("build", "mkdir " + dir.string());
  }
  StagingDir staging(dir);
  for (const char* sub : {"upper", "work"}) {
    fs::path p = dir / sub;
    if (LJ_SYS("mkdir", ::mkdir(p.c_str(), 0755)) != 0)
      return fail_errno("build", "mkdir " + p.string());
    // The umask may have trimmed it; the merged root takes upper/'s mode.
    if (::chmod(p.c_str(), 0755) != 0) return fail_errno("build", "chmod " + p.string());
  }
  return staging;
}

StagingDir::~StagingDir() {
  if (dir_.empty()) return;
  if (auto st = remove(); !st) {
    lj::log("build")->warn("staging directory left behind dir={} error={}", dir_.string(),
                           st.error().what());
  }
}

Status StagingDir::remove() {
  if (dir_.empty()) return {};
  auto mounted = mounts_under(dir_);
  if (!mounted) return fail(std::move(mounted).error());
  if (!mounted->empty()) {
    return fail(
        Errc::busy, "build",
        "not removing " + dir_.string() + ": " + (*mounted)[0].string() + " is mounted under it");
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
  if (ec) return fail(Error::from_errno("build", "remove " + dir_.string(), ec.value()));
  dir_.clear();
  return {};
}

namespace {

// mountinfo escapes ' ', '\t', '\n' and '\\' as \ooo (proc(5)).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (std::size_t j = 1; j <= 3; ++j) {
        char c = s[i + j];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

Result<std::vector<fs::path>> mounts_under(const fs::path& dir) {
  std::ifstream in("/proc/self/mountinfo");
  if (!in) return fail_errno("build", "open /proc/self/mountinfo");
  std::string prefix = dir.lexically_normal().string();
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  std::vector<fs::path> out;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string id, parent, devno, root, mount_point;
    if (!(fields >> id >> parent >> devno >> root >> mount_point)) continue;
    std::string mp = unescape(mount_point);
    if (mp == prefix || (mp.size() > prefix.size() && mp.compare(0, prefix.size(), prefix) == 0 &&
                         mp[prefix.size()] == '/')) {
      out.emplace_back(mp);
    }
  }
  return out;
}

Status prepare_parents(const std::vector<fs::path>& lower, const fs::path& upper,
                       const std::string& dest) {
  fs::path rel;
  for (const auto& part : fs::path(dest).relative_path()) {
    rel /= part;
    fs::path target = upper / rel;
    struct stat st {};
    if (::lstat(target.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) {
        return fail(Errc::conflict, "build", target.string() + " exists and is not a directory");
      }
      continue;
    }
    mode_t mode = 0755;
    uid_t uid = 0;
    gid_t gid = 0;
    for (auto it = lower.rbegin(); it != lower.rend(); ++it) {
      fs::path in_layer = *it / rel;
      struct stat ls {};
      if (::lstat(in_layer.c_str(), &ls) != 0) continue;
      if (!S_ISDIR(ls.st_mode)) {
        return fail(Errc::invalid_argument, "build",
                    "/" + rel.string() + " is not a directory in " + it->string() +
                        " (a symlink or file): copy to the path it points at instead");
      }
      mode = ls.st_mode & 07777;
      uid = ls.st_uid;
      gid = ls.st_gid;
      break;
    }
    if (LJ_SYS("mkdir", ::mkdir(target.c_str(), mode)) != 0) {
      return fail_errno("build", "mkdir " + target.string());
    }
    if (::chmod(target.c_str(), mode) != 0) return fail_errno("build", "chmod " + target.string());
    if (::geteuid() == 0 && ::lchown(target.c_str(), uid, gid) != 0) {
      return fail_errno("build", "lchown " + target.string());
    }
  }
  return {};
}

Result<std::uint64_t> tree_size(const fs::path& dir) {
  std::uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0)
      return fail_errno("build", "lstat " + it->path().string());
    if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
  }
  if (ec) return fail(Error::from_errno("build", "walk " + dir.string(), ec.value()));
  return total;
}

}  // namespace lj::build
