#include "daemon/backend_glue.hpp"

#include <cstdint>
#include <cstdio>

namespace lj::daemon {

std::string cgroup_scope_of(const std::filesystem::path& root) {
  std::error_code ec;
  std::string path = std::filesystem::weakly_canonical(std::filesystem::absolute(root), ec).string();
  if (ec) path = root.string();
  std::uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a, 64 bits: the same on every build
  for (unsigned char c : path) h = (h ^ c) * 0x100000001b3ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return std::string("scope-") + hex;
}

Result<std::unique_ptr<jail::Backend>> open_backend(const Config& cfg) {
  jail::BackendOptions options;
  options.state_dir = cfg.root / ".ljd";
  options.cgroup_scope = cgroup_scope_of(cfg.root);
  options.jails_pids_max = cfg.jails_pids_max;
  options.devfs_ruleset = cfg.devfs_ruleset;
  options.devfs_close_ruleset = cfg.devfs_close_ruleset;
  options.devfs_rulesets_first = cfg.devfs_rulesets.first;
  options.devfs_rulesets_last = cfg.devfs_rulesets.last;
  return jail::make_backend(options);
}

}  // namespace lj::daemon
