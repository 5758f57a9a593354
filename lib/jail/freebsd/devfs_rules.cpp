#include "jail/freebsd/devfs_rules.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <fs/devfs/devfs.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"

namespace lj::jail::freebsd {
namespace {

namespace fs = std::filesystem;
constexpr const char* kDomain = "jail";

fs::path claims_dir(const fs::path& state_dir) { return state_dir / "devfs-rulesets"; }

// The host's devfs, where the rule ioctls go (devfs(8) opens the mount point the same way).
Result<UniqueFd> open_devfs() {
  UniqueFd fd(LJ_SYS("open", ::open("/dev", O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
  if (!fd) return fail_errno(kDomain, "open /dev (devfs rule ioctls)");
  return fd;
}

// The rules of `ruleset` with every include replaced by the included ruleset's rules, in order.
// Why not an include rule: the kernel applies includes only vfs.devfs.rule_depth (default 1)
// levels deep, and ruleset 4 is itself made of includes (1, 2, 3): included from a jail's own
// ruleset, its hide-all would silently not apply (seen in the FreeBSD guest: every device
// shown). So the host's rulesets are copied as they are when the jail starts.
Status expand_ruleset(int devfs, int ruleset, int depth, std::vector<struct devfs_rule>& out) {
  const std::string name = "devfs ruleset " + std::to_string(ruleset);
  if (depth > 8) return fail(Errc::invalid_argument, kDomain, name + ": includes nest too deep");
  if (!LJ_TRY(devfs_ruleset_exists(ruleset)))
    return fail(Errc::unsupported, kDomain,
                name + " is not loaded (devfs_load_rulesets=YES and service devfs restart: "
                       "docs/freebsd.md)");
  devfs_rnum after = 0;
  for (;;) {
    struct devfs_rule dr;
    std::memset(&dr, 0, sizeof dr);
    dr.dr_magic = DEVFS_MAGIC;
    dr.dr_id = mkrid(static_cast<devfs_rsnum>(ruleset), after);
    if (LJ_SYS("ioctl", ::ioctl(devfs, DEVFSIO_RGETNEXT, &dr)) != 0) {
      if (errno == ENOENT) return {};
      return fail_errno(kDomain, "devfs rule -s " + std::to_string(ruleset) + " show");
    }
    after = static_cast<devfs_rnum>(rid2rn(dr.dr_id));
    if (dr.dr_iacts & DRA_INCSET) {
      // An include with conditions applies the set to matching entries only: not expressible
      // as a flat list.
      if (dr.dr_icond != 0)
        return fail(Errc::unsupported, kDomain,
                    name + " rule " + std::to_string(after) + ": a conditional include cannot be copied");
      LJ_TRY(expand_ruleset(devfs, dr.dr_incset, depth + 1, out));
      dr.dr_iacts &= ~DRA_INCSET;
      if (dr.dr_iacts == 0) continue;
    }
    out.push_back(dr);
  }
}

// The kernel rules of a plan: includes expanded, unhides made.
Result<std::vector<struct devfs_rule>> kernel_rules(int devfs, const std::vector<DevfsRule>& rules) {
  std::vector<struct devfs_rule> out;
  for (const auto& r : rules) {
    if (r.kind == DevfsRule::include) {
      LJ_TRY(expand_ruleset(devfs, r.ruleset, 0, out));
      continue;
    }
    struct devfs_rule dr;
    std::memset(&dr, 0, sizeof dr);
    dr.dr_magic = DEVFS_MAGIC;
    if (r.path.size() >= sizeof dr.dr_pathptrn)
      return fail(Errc::invalid_argument, kDomain, "device path too long for a devfs rule: " + r.path);
    dr.dr_icond = DRC_PATHPTRN;
    std::memcpy(dr.dr_pathptrn, r.path.c_str(), r.path.size() + 1);
    dr.dr_iacts = DRA_BACTS;
    dr.dr_bacts = DRB_UNHIDE;
    if (r.mode >= 0) {  // devfs(8) "mode": sys/fs/devfs/devfs_rule.c applies DRA_MODE
      dr.dr_iacts |= DRA_MODE;
      dr.dr_mode = static_cast<mode_t>(r.mode);
    }
    out.push_back(dr);
  }
  return out;
}

Status add_rule(int devfs, int ruleset, int number, struct devfs_rule dr) {
  dr.dr_magic = DEVFS_MAGIC;
  dr.dr_id = mkrid(static_cast<devfs_rsnum>(ruleset), static_cast<devfs_rnum>(number));
  if (LJ_SYS("ioctl", ::ioctl(devfs, DEVFSIO_RADD, &dr)) == 0) return {};
  return fail_errno(kDomain, "devfs rule -s " + std::to_string(ruleset) + " add " +
                                 std::to_string(number) +
                                 (dr.dr_icond & DRC_PATHPTRN ? " path '" + std::string(dr.dr_pathptrn) + "'" : ""));
}

// Every rule of `ruleset`, deleted (DEVFSIO_RGETNEXT from rule 0, DEVFSIO_RDEL each).
Status delete_rules(int devfs, int ruleset) {
  for (;;) {
    struct devfs_rule dr;
    std::memset(&dr, 0, sizeof dr);
    dr.dr_magic = DEVFS_MAGIC;
    dr.dr_id = mkrid(static_cast<devfs_rsnum>(ruleset), 0);
    if (LJ_SYS("ioctl", ::ioctl(devfs, DEVFSIO_RGETNEXT, &dr)) != 0) {
      if (errno == ENOENT) return {};  // no rule left, or no such ruleset
      return fail_errno(kDomain, "devfs rule -s " + std::to_string(ruleset) + " show");
    }
    devfs_rid id = dr.dr_id;
    if (LJ_SYS("ioctl", ::ioctl(devfs, DEVFSIO_RDEL, &id)) != 0 && errno != ENOENT)
      return fail_errno(kDomain, "devfs rule -s " + std::to_string(ruleset) + " del " +
                                     std::to_string(rid2rn(id)));
  }
}

Status remove_ruleset(int number, const fs::path& claim) {
  auto devfs = LJ_TRY(open_devfs());
  LJ_TRY(delete_rules(devfs.get(), number));
  if (LJ_TRY(devfs_ruleset_exists(number)))
    return fail(Errc::busy, kDomain,
                "devfs ruleset " + std::to_string(number) +
                    " has no rule left but is still in use by a devfs mount; its claim " +
                    claim.string() + " stays");
  if (::unlink(claim.c_str()) != 0 && errno != ENOENT)
    return fail_errno(kDomain, "unlink " + claim.string());
  return {};
}

}  // namespace

Result<bool> devfs_ruleset_exists(int number) {
  auto devfs = LJ_TRY(open_devfs());
  devfs_rsnum n = static_cast<devfs_rsnum>(number - 1);
  if (LJ_SYS("ioctl", ::ioctl(devfs.get(), DEVFSIO_SGETNEXT, &n)) != 0) {
    if (errno == ENOENT) return false;
    return fail_errno(kDomain, "devfs ruleset lookup");
  }
  return n == number;
}

Result<DevfsRuleset> DevfsRuleset::make(const fs::path& state_dir, const std::string& jail,
                                        DevfsRange range, const std::vector<DevfsRule>& rules) {
  if (range.first < 1 || range.last > 65535 || range.last < range.first)
    return fail(Errc::invalid_argument, kDomain,
                "devfs ruleset range " + std::to_string(range.first) + "-" +
                    std::to_string(range.last) + " is empty or outside 1-65535");
  const fs::path dir = claims_dir(state_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Errc::system, kDomain, "creating " + dir.string() + ": " + ec.message());
  DevfsRuleset rs;
  for (int n = range.first; n <= range.last && rs.number_ == 0; ++n) {
    const fs::path claim = dir / std::to_string(n);
    UniqueFd fd(LJ_SYS("open", ::open(claim.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)));
    if (!fd) {
      if (errno == EEXIST) continue;  // another jail's
      return fail_errno(kDomain, "create " + claim.string());
    }
    const std::string line = jail + "\n";
    if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      const int err = errno;
      ::unlink(claim.c_str());
      return fail_errno(kDomain, "write " + claim.string(), err);
    }
    auto taken = devfs_ruleset_exists(n);
    if (!taken || *taken) {
      ::unlink(claim.c_str());  // the kernel's already (not ours), or cannot tell
      if (!taken) return fail(std::move(taken).error());
      continue;
    }
    rs.number_ = n;
    rs.claim_ = claim;
  }
  if (rs.number_ == 0)
    return fail(Errc::limit, kDomain,
                "no free devfs ruleset number in the reserved range " + std::to_string(range.first) +
                    "-" + std::to_string(range.last) + " for jail " + jail);
  // From here on, rs's destructor removes what was added.
  auto devfs = LJ_TRY(open_devfs());
  auto flat = LJ_TRY_CTX("jail " + jail, kernel_rules(devfs.get(), rules));
  if (flat.size() > 65535)
    return fail(Errc::limit, kDomain, "jail " + jail + ": more than 65535 devfs rules");
  int number = 0;
  for (const auto& dr : flat) LJ_TRY_CTX("jail " + jail, add_rule(devfs.get(), rs.number_, ++number, dr));
  return rs;
}

DevfsRuleset::DevfsRuleset(DevfsRuleset&& o) noexcept
    : claim_(std::move(o.claim_)), number_(o.number_) {
  o.number_ = 0;
  o.claim_.clear();
}

DevfsRuleset& DevfsRuleset::operator=(DevfsRuleset&& o) noexcept {
  if (this != &o) {
    (void)remove();
    claim_ = std::move(o.claim_);
    number_ = o.number_;
    o.number_ = 0;
    o.claim_.clear();
  }
  return *this;
}

DevfsRuleset::~DevfsRuleset() {
  if (auto st = remove(); !st) lj::log("jail")->error("devfs ruleset: {}", st.error().what());
}

Status DevfsRuleset::remove() {
  if (number_ == 0) return {};
  LJ_TRY(remove_ruleset(number_, claim_));
  number_ = 0;
  claim_.clear();
  return {};
}

Status release_devfs_rulesets(const fs::path& state_dir, const std::string& jail) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(claims_dir(state_dir), ec)) {
    std::ifstream in(e.path());
    std::string owner;
    std::getline(in, owner);
    if (owner != jail) continue;
    int number = 0;
    try {
      number = std::stoi(e.path().filename().string());
    } catch (...) {
      continue;
    }
    LJ_TRY_CTX("releasing jail " + jail, remove_ruleset(number, e.path()));
  }
  return {};
}

}  // namespace lj::jail::freebsd
