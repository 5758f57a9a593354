// ljd's configuration: `key = value` lines (etc/ljd.conf.sample documents every key), then the
// command line's overrides. Plain data, read once at start-up.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "daemon/host_ports.hpp"
#include "daemon/policy.hpp"

namespace lj::daemon {

enum class OnShutdown { stop, leave };

struct Config {
  std::filesystem::path root = "/usr/local/lj";  // $LIGHTJAIL_ROOT when set
  std::filesystem::path socket = "/var/run/ljd.sock";
  std::string socket_group;  // empty: root (and ljd's uid) only
  unsigned socket_mode = 0660;
  std::filesystem::path pidfile;  // empty: none
  std::string default_world;      // used when a jail names none
  // Defaults applied to jails that set no limit of their own (0 = none), and to builds (whose 0
  // means "the default"). Pids: enough for any build (make -j, a test suite's workers), far below
  // the host's pid_max, so a fork bomb stops in its jail; memory: none, since no one value fits
  // both a shell and a linker (bound all jails together with the service's MemoryMax=/rctl).
  std::uint64_t default_memory_bytes = 0;
  std::uint64_t default_pids = 4096;
  std::uint32_t default_cpu_percent = 0;
  std::uint64_t default_nofile = 0;
  std::uint64_t default_timeout_s = 0;
  // Pids all jails and builds of the host's ljds together may hold (Linux: the pids.max of the
  // "ljd" cgroup every root's scope sits under; the last ljd to start sets it), so that however
  // many jails fork, the ljds and the host keep some. nullopt: "auto", the host's pid_max (or
  // threads-max, the lower) less a reserve of an eighth, at least 1,024; 0: none set.
  std::optional<std::uint64_t> jails_pids_max;
  std::size_t max_body_bytes = 1 << 20;
  std::size_t max_header_bytes = 16 << 10;
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 1024;  // beyond: 503 api.busy and closed, so fds stay bounded
  std::chrono::seconds heartbeat{15};
  std::chrono::seconds retention{24 * 3600};  // exit records and events kept this long
  std::size_t max_jails = 4096;
  std::size_t stream_backlog_bytes = 4 << 20;  // a stream subscriber this far behind is cut off
  // A jail's stored output (its NDJSON log, counted as stored, escapes included) stops here: one
  // `truncated` record, then further output is read and dropped. 0: no limit.
  std::uint64_t log_max_bytes = 64ull << 20;
  unsigned workers = 4;                        // blocking pool (spawn, teardown, builds)
  std::string log_level = "info";
  OnShutdown on_shutdown = OnShutdown::stop;
  std::chrono::seconds stop_timeout{10};  // SIGTERM -> SIGKILL on shutdown and default for stop
  // The index's PRAGMA synchronous: false = NORMAL, true = FULL (docs/index.md, "Durability").
  bool index_synchronous_full = false;
  // The host privilege policy: policy_registries, policy_devices, policy_allow, policy_ports
  // (daemon/policy.hpp). The default grants no privilege beyond the engine's, any listening
  // port, and images of any registry.
  HostPolicy policy;
  // Where publish_all (ljctl run -P) picks host ports: "publish_port_range = FIRST-LAST"; unset:
  // the host's ephemeral range (host_ports.hpp).
  PortRange publish_port_range;
  // FreeBSD (jail::BackendOptions; Linux ignores them): every jail's devfs ruleset
  // (devfs_ruleset, 4: devfsrules_jail), the host's closing ruleset included after a jail's
  // device grants (devfs_close_ruleset, 0: none), and the numbers a jail's own composed ruleset
  // may take (devfs_rulesets = FIRST-LAST), a range nothing else on the host uses, holding
  // neither of the other two.
  int devfs_ruleset = 4;
  int devfs_close_ruleset = 0;
  PortRange devfs_rulesets{60000, 60999};
};

// Applies the `key = value` lines of `text` on top of `cfg`. Unknown keys and bad values are
// errors naming the line.
Status parse_config(std::string_view text, Config* cfg);
Status load_config(const std::filesystem::path& file, Config* cfg);

}  // namespace lj::daemon
