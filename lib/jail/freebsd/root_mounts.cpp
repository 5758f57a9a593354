#include "jail/freebsd/root_mounts.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>

#include "common/log.hpp"
#include "common/sys.hpp"
#include "jail/freebsd/root_steps.hpp"

namespace lj::jail::freebsd {
namespace fs = std::filesystem;

namespace {

// A root's errors keep the domain (and so the wire code) they had in lib/overlay.
constexpr const char* kDomain = "overlay";

// The name/value list of nmount(2). Values are NUL-terminated strings (length includes the NUL),
// booleans have no value, as build_iovec(3) of sbin/mount/getmntopts.c makes them. The kernel
// writes a human explanation of a failure into "errmsg" (vfs_mount_error(9)); we surface it.
class MountArgs {
 public:
  explicit MountArgs(const char* fstype) { add("fstype", fstype); }

  void add(const char* name, std::string value) {
    push_name(name);
    auto& v = strings_.emplace_back(std::move(value));
    iov_.push_back({const_cast<char*>(v.c_str()), v.size() + 1});
  }
  void flag(const char* name) {
    push_name(name);
    iov_.push_back({nullptr, 0});
  }

  // nmount(2) with `flags` (MNT_RDONLY, MNT_NOSUID...). `what` names the mount in errors.
  Status mount(int flags, const std::string& what) {
    char errmsg[256] = {};
    push_name("errmsg");
    iov_.push_back({errmsg, sizeof(errmsg)});
    int rc = LJ_SYS("nmount", ::nmount(iov_.data(), static_cast<unsigned>(iov_.size()), flags));
    iov_.pop_back();
    iov_.pop_back();
    if (rc == 0) return {};
    int err = errno;
    std::string msg = "nmount " + what;
    if (errmsg[0] != '\0') msg += " (kernel: " + std::string(errmsg) + ")";
    return fail_errno(kDomain, msg, err);
  }

 private:
  void push_name(const char* name) {
    auto& n = strings_.emplace_back(name);
    iov_.push_back({const_cast<char*>(n.c_str()), n.size() + 1});
  }

  std::deque<std::string> strings_;  // deque: growth never moves the strings iov_ points into
  std::vector<struct iovec> iov_;
};

bool is_at_or_under(std::string_view path, std::string_view dir) {
  if (path.size() < dir.size() || path.compare(0, dir.size(), dir) != 0) return false;
  return path.size() == dir.size() || path[dir.size()] == '/' || dir == "/";
}

// unmount(2), never forced: MNT_FORCE on a unionfs or nullfs still in use can pull files from
// under running processes (and unionfs has panicked on forced unmounts in the past). A busy file
// system is retried for up to ~2 s: the jail's last processes may still be exiting.
Status unmount_one(const fs::path& target) {
  for (int attempt = 0;; ++attempt) {
    if (LJ_SYS("unmount", ::unmount(target.c_str(), 0)) == 0) return {};
    int err = errno;
    if (err == EINVAL || err == ENOENT) return {};  // not (or no longer) a mount point
    if (err == EBUSY && attempt < 100) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      continue;
    }
    return fail_errno(kDomain, "unmount " + target.string(), err);
  }
}

// mkdir(2) that remembers what it made, so that teardown removes exactly that.
Status make_dir(const fs::path& dir, mode_t mode, std::vector<fs::path>* created) {
  if (LJ_SYS("mkdir", ::mkdir(dir.c_str(), mode)) == 0) {
    if (created) created->push_back(dir);
    return {};
  }
  if (errno == EEXIST) {
    struct stat st {};
    if (::lstat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return {};
    return fail(Errc::conflict, kDomain, dir.string() + " exists and is not a directory");
  }
  return fail_errno(kDomain, "mkdir " + dir.string());
}

Status require_dir(const fs::path& dir, std::string_view what) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0)
    return fail_errno(kDomain, std::string(what) + " " + dir.string());
  if (!S_ISDIR(st.st_mode))
    return fail(Errc::invalid_argument, kDomain,
                std::string(what) + " " + dir.string() + " is not a directory");
  return {};
}

// The host path of `jail_path` inside `root`, creating missing directories when the root is
// writable. Each component is lstat(2)ed: a symlink is refused, because it would be resolved
// against the HOST's root when the parent mounts on it (an absolute link in a layer could
// otherwise make us mount over any host directory). Nothing untrusted runs in the root yet, and
// the lower layers are read-only, so the check cannot be raced from inside the jail.
Result<fs::path> host_path_in_root(const fs::path& root, const std::string& jail_path,
                                   bool may_create) {
  fs::path rel(jail_path);
  if (!rel.is_absolute())
    return fail(Errc::invalid_argument, kDomain, "jail path '" + jail_path + "' is not absolute");
  fs::path at = root;
  for (const auto& part : rel.relative_path()) {
    if (part == ".." || part == ".")
      return fail(Errc::invalid_argument, kDomain,
                  "jail path '" + jail_path + "' has a '" + part.string() + "' component");
    if (part.empty()) continue;
    at /= part;
    struct stat st {};
    if (::lstat(at.c_str(), &st) == 0) {
      if (S_ISLNK(st.st_mode))
        return fail(Errc::invalid_argument, kDomain,
                    "jail path '" + jail_path + "' crosses a symlink at " + at.string());
      if (!S_ISDIR(st.st_mode))
        return fail(Errc::invalid_argument, kDomain,
                    "jail path '" + jail_path + "': " + at.string() + " is not a directory");
      continue;
    }
    if (errno != ENOENT) return fail_errno(kDomain, "lstat " + at.string());
    if (!may_create)
      return fail(Errc::not_found, kDomain,
                  "jail path '" + jail_path + "' is missing and the root is read-only");
    LJ_TRY(make_dir(at, 0755, nullptr));
  }
  return at;
}

// Looks a mount point just made up through statfs(2) until it names the new mount. Found in a
// FreeBSD 13.0-CURRENT (2019) guest: after devfs is mounted on a directory of the unionfs root,
// the first path lookup through it still reaches the unionfs directory below (no /dev/null in
// the jail); one lookup of the mount point itself first makes every later one see the mount
// (tests/freebsd/guest_kernel_test.c, mounts vs mounts-unprimed; docs/freebsd-guest.md).
Status make_visible(const fs::path& target) {
  for (int lookup = 0; lookup < 3; ++lookup) {
    struct statfs sf {};
    if (::statfs(target.c_str(), &sf) != 0) return fail_errno(kDomain, "statfs " + target.string());
    if (target == sf.f_mntonname) return {};
  }
  return fail(Errc::system, kDomain, "mounted on " + target.string() + " but lookups do not see it");
}

Result<fs::path> canonical_dir(const fs::path& p) {
  std::error_code ec;
  fs::path c = fs::canonical(p, ec);
  if (ec) return fail_errno(kDomain, "realpath " + p.string(), ec.value());
  return c;
}

}  // namespace

Result<std::vector<MountRecord>> mounts_under(const fs::path& dir) {
  // getfsstat(2) twice: once for the count, once with a little slack for mounts made meanwhile.
  int n = LJ_SYS("getfsstat", ::getfsstat(nullptr, 0, MNT_NOWAIT));
  if (n < 0) return fail_errno(kDomain, "getfsstat");
  std::vector<struct statfs> table(static_cast<std::size_t>(n) + 16);
  n = LJ_SYS("getfsstat",
             ::getfsstat(table.data(), static_cast<long>(table.size() * sizeof(struct statfs)),
                         MNT_NOWAIT));
  if (n < 0) return fail_errno(kDomain, "getfsstat");
  std::vector<MountRecord> out;
  const std::string d = dir.string();
  for (int i = 0; i < n; ++i) {
    const struct statfs& m = table[static_cast<std::size_t>(i)];
    if (!is_at_or_under(m.f_mntonname, d)) continue;
    out.push_back({fs::path(m.f_mntonname), m.f_fstypename, m.f_mntfromname});
  }
  return out;
}

Result<MountedRoot> MountedRoot::mount(const MountPlan& plan, RootOptions options) {
  LJ_TRY(check_plan(plan));
  if (options.devfs_ruleset <= 0)
    return fail(Errc::invalid_argument, kDomain,
                "devfs ruleset must be > 0: ruleset 0 would expose every host device");
  if (options.jail_dir.empty() || !options.jail_dir.is_absolute())
    return fail(Errc::invalid_argument, kDomain, "jail directory must be an absolute path");

  MountedRoot r;
  r.options_ = std::move(options);
  r.released_ = false;
  // From here on, r's destructor unwinds whatever the steps below managed to do.

  std::error_code ec;
  fs::create_directories(r.options_.jail_dir.parent_path(), ec);
  if (ec)
    return fail_errno(kDomain, "mkdir -p " + r.options_.jail_dir.parent_path().string(),
                      ec.value());
  LJ_TRY(make_dir(r.options_.jail_dir, 0700, &r.created_));
  fs::path jail_dir = LJ_TRY(canonical_dir(r.options_.jail_dir));
  r.options_.jail_dir = jail_dir;
  auto stale = LJ_TRY(mounts_under(jail_dir));
  if (!stale.empty())
    return fail(Errc::conflict, kDomain,
                jail_dir.string() + " still has mounts (" + stale.front().target.string() +
                    "): release the previous jail of this name first");

  r.root_ = jail_dir / "root";
  LJ_TRY(make_dir(r.root_, 0755, &r.created_));
  const fs::path tmpfs_upper = jail_dir / "upper";
  switch (plan.writable.kind) {
    case WritableLayer::Kind::in_place:
      r.upper_ = LJ_TRY(canonical_dir(plan.layers[0]));  // the jail writes into the world itself
      break;
    case WritableLayer::Kind::host_dir: {
      fs::path base = LJ_TRY(canonical_dir(plan.writable.dir));
      LJ_TRY(make_dir(base / "upper", 0755, nullptr));  // outlives the jail: never removed here
      r.upper_ = base / "upper";
      break;
    }
    case WritableLayer::Kind::tmpfs:
      LJ_TRY(make_dir(tmpfs_upper, 0700, &r.created_));
      r.upper_ = tmpfs_upper;
      break;
    case WritableLayer::Kind::none:
      break;
  }

  MountPlan canonical = plan;
  if (canonical.writable.kind == WritableLayer::Kind::host_dir)
    canonical.writable.dir = r.upper_.parent_path();
  for (const MountStep& step :
       mount_steps(canonical, r.root_, tmpfs_upper, r.options_.devfs_ruleset)) {
    MountRecord rec;
    rec.fstype = step.fstype;
    rec.target = step.jail_path.empty()
                     ? step.target
                     : LJ_TRY(host_path_in_root(r.root_, step.jail_path,
                                              plan.writable.kind != WritableLayer::Kind::none));
    MountArgs args(step.fstype.c_str());
    args.add("fspath", rec.target.string());
    if (!step.source.empty()) {
      fs::path src = LJ_TRY(canonical_dir(step.source));
      LJ_TRY(require_dir(src, step.fstype + " source"));  // nullfs file mounts are 14.x-only
      rec.source = src.string();
      args.add("target", rec.source);  // nullfs and unionfs take "target" on every release
    }
    for (const auto& [name, value] : step.options) args.add(name.c_str(), value);
    int flags = (step.read_only ? MNT_RDONLY : 0) | (step.nosuid ? MNT_NOSUID : 0) |
                (step.noexec ? MNT_NOEXEC : 0) | (step.noatime ? MNT_NOATIME : 0);

    // Announce, then mount; the record is kept only once the mount exists.
    if (r.options_.before_mount)
      LJ_TRY_CTX("recording mount " + rec.target.string(), r.options_.before_mount(rec));
    std::string what = rec.fstype + " " + (rec.source.empty() ? rec.fstype : rec.source) + " on " +
                       rec.target.string();
    if (auto st = args.mount(flags, what); !st) {
      // Announced but not made: let the journal forget it again.
      if (r.options_.after_unmount) r.options_.after_unmount(rec);
      return fail(std::move(st).error());
    }
    lj::log("jail")->debug("mounted {}", what);
    r.mounts_.push_back(std::move(rec));
    LJ_TRY(make_visible(r.mounts_.back().target));
  }
  return r;
}

MountedRoot::MountedRoot(MountedRoot&& o) noexcept
    : options_(std::move(o.options_)),
      root_(std::move(o.root_)),
      upper_(std::move(o.upper_)),
      mounts_(std::move(o.mounts_)),
      created_(std::move(o.created_)),
      released_(std::exchange(o.released_, true)) {}

MountedRoot& MountedRoot::operator=(MountedRoot&& o) noexcept {
  if (this != &o) {
    (void)unmount();
    options_ = std::move(o.options_);
    root_ = std::move(o.root_);
    upper_ = std::move(o.upper_);
    mounts_ = std::move(o.mounts_);
    created_ = std::move(o.created_);
    released_ = std::exchange(o.released_, true);
  }
  return *this;
}

MountedRoot::~MountedRoot() {
  if (released_) return;
  if (auto st = unmount(); !st)
    lj::log("jail")->error("teardown of {} left state behind: {}", options_.jail_dir.string(),
                              st.error().what());
}

Status MountedRoot::unmount() {
  if (released_) return {};
  // Reverse order: volumes and devfs first, the world last.
  while (!mounts_.empty()) {
    const MountRecord& rec = mounts_.back();
    LJ_TRY_CTX("tearing down " + options_.jail_dir.string(), unmount_one(rec.target));
    if (options_.after_unmount) options_.after_unmount(rec);
    mounts_.pop_back();
  }
  // Prove it before removing anything (a directory with a live mount below it must survive).
  if (!options_.jail_dir.empty()) {
    auto left = LJ_TRY(mounts_under(options_.jail_dir));
    if (!left.empty())
      return fail(Errc::busy, kDomain,
                  "still mounted after teardown: " + left.back().target.string() +
                      " (not removing " + options_.jail_dir.string() + ")");
  }
  while (!created_.empty()) {
    const fs::path& d = created_.back();
    if (LJ_SYS("rmdir", ::rmdir(d.c_str())) != 0 && errno != ENOENT)
      return fail_errno(kDomain, "rmdir " + d.string());
    created_.pop_back();
  }
  released_ = true;
  return {};
}

Status release_jail_dir(const fs::path& jail_dir,
                        const std::function<void(const MountRecord&)>& after_unmount) {
  std::error_code ec;
  if (!fs::exists(jail_dir, ec)) return {};
  fs::path dir = LJ_TRY(canonical_dir(jail_dir));
  auto mounts = LJ_TRY(mounts_under(dir));
  for (auto it = mounts.rbegin(); it != mounts.rend(); ++it) {
    LJ_TRY_CTX("releasing " + dir.string(), unmount_one(it->target));
    if (after_unmount) after_unmount(*it);
  }
  auto left = LJ_TRY(mounts_under(dir));
  if (!left.empty())
    return fail(Errc::busy, kDomain,
                "still mounted after release: " + left.back().target.string() + " (not removing " +
                    dir.string() + ")");
  for (const char* sub : {"root", "upper"}) {
    fs::path d = dir / sub;
    if (LJ_SYS("rmdir", ::rmdir(d.c_str())) != 0 && errno != ENOENT)
      return fail_errno(kDomain, "rmdir " + d.string());
  }
  if (LJ_SYS("rmdir", ::rmdir(dir.c_str())) != 0 && errno != ENOENT)
    return fail_errno(kDomain, "rmdir " + dir.string());
  return {};
}

}  // namespace lj::jail::freebsd
