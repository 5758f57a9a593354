// A jail's own devfs ruleset (device grants, issue 16), made with devfs(8)'s ioctls on the host's
// devfs (sys/fs/devfs/devfs.h: DEVFSIO_RADD, DEVFSIO_RGETNEXT, DEVFSIO_RDEL, DEVFSIO_SGETNEXT).
//
// Rulesets are the kernel's, global and numbered (16 bits). The backend takes numbers only from a
// reserved range (BackendOptions::devfs_rulesets_first/last) and claims one by creating, O_EXCL,
// state_dir/devfs-rulesets/<N> holding the jail's name before it adds a rule: two spawns never
// take one number, a number the kernel already has (an admin's) is skipped, and a release after a
// crash finds the jail's ruleset by its name. No free number is Errc::limit, never a fallback to
// a shared ruleset. The rules exist before the jail's devfs is mounted with ruleset=N (a devfs
// mounted with an unknown number would create it empty: every device shown).
//
// Includes are copied, not included: the kernel applies includes only vfs.devfs.rule_depth
// (default 1) levels deep, and ruleset 4 is itself three includes, so an "include 4" would not
// hide anything. The jail gets the host's rulesets as they are at its start.
//
// Removed after the devfs is unmounted: its rules deleted, the kernel frees a ruleset once it has
// no rule and no mount (devfs_ruleset_reap), and that is checked before the claim goes.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/freebsd/plan.hpp"

namespace lj::jail::freebsd {

struct DevfsRange {
  int first = 0, last = -1;  // inclusive; empty when last < first
};

class DevfsRuleset {
 public:
  // Claims a number of `range` for `jail` and adds `rules` (devfs_grant_rules) to it, in order.
  static Result<DevfsRuleset> make(const std::filesystem::path& state_dir, const std::string& jail,
                                   DevfsRange range, const std::vector<DevfsRule>& rules);

  DevfsRuleset(DevfsRuleset&& o) noexcept;
  DevfsRuleset& operator=(DevfsRuleset&& o) noexcept;
  DevfsRuleset(const DevfsRuleset&) = delete;
  DevfsRuleset& operator=(const DevfsRuleset&) = delete;
  ~DevfsRuleset();  // remove(), logged on failure

  int number() const { return number_; }
  // Deletes the rules, checks the kernel freed the ruleset (Errc::busy while a devfs still uses
  // it), then drops the claim. Idempotent.
  Status remove();

 private:
  DevfsRuleset() = default;
  std::filesystem::path claim_;
  int number_ = 0;
};

// Whether the kernel has ruleset `number` (DEVFSIO_SGETNEXT).
Result<bool> devfs_ruleset_exists(int number);

// Recovery: removes every ruleset claimed for `jail` under state_dir (after a crash). Idempotent.
Status release_devfs_rulesets(const std::filesystem::path& state_dir, const std::string& jail);

}  // namespace lj::jail::freebsd
