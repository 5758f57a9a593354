// ljctl's command-line values turned into API values, as pure functions (no socket, no daemon):
// sizes, durations, signals, volumes, key=value pairs, the run target, the body of
// POST /v1/jails, and the exit status ljctl reports for a jail's exit record.
// Errors are lj::Error in domain "ljctl", Errc::invalid_argument, with a message that names the
// bad value and the accepted form.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"

namespace lj::ljctl {

// ljctl's exit codes besides a jail's own status (documented in ljctl(1)).
inline constexpr int kExitFailed = 1;       // the requested work failed (a build), not ljctl
inline constexpr int kExitError = 125;      // ljctl or ljd failed: usage, unreachable, API error
inline constexpr int kExitCannotRun = 126;  // the jail's command exists but cannot be executed
inline constexpr int kExitNotFound = 127;   // the jail's command was not found

// "512M", "1G", "1.5g", "64KiB", "4096" -> bytes. Units are binary (K = 1024), an optional "B"
// or "iB" follows; no unit means bytes.
Result<std::uint64_t> parse_size(std::string_view s);

// "4096" -> 4096: a whole number, nothing else.
Result<std::uint64_t> parse_count(std::string_view s);

// "30", "30s", "1.5s", "5m", "1h30m", "250ms" -> seconds. No unit means seconds.
Result<double> parse_duration(std::string_view s);

// "0.5", "2" (CPUs, as docker's --cpus) or "150%" -> percent of one CPU (50, 200, 150).
Result<std::uint32_t> parse_cpu(std::string_view s);

// "TERM", "SIGTERM", "term", "15" -> the signal number of this platform.
Result<int> parse_signal(std::string_view s);
// 15 -> "SIGTERM"; unknown numbers -> "signal 42".
std::string signal_name(int sig);

// "k=v" -> {k, v}; `what` names the option in the error ("--label").
Result<std::pair<std::string, std::string>> parse_kv(std::string_view s, std::string_view what);

// "HOST:JAIL[:ro|:rw]" -> {"host_path", "jail_path", "read_only"}; a relative HOST is made
// absolute against `cwd` (the daemon does not share ljctl's working directory).
Result<nlohmann::json> parse_volume(std::string_view s, const std::filesystem::path& cwd);

// What `ljctl run` runs on: a world ("bookworm"), or an overlay (its name has a slash) with an
// optional semver constraint after '@' ("lang/ruby@~>2.1"), or an OCI image: a reference with a
// tag, a digest, or a registry ("busybox:1.36", "127.0.0.1:5000/app", "app@sha256:...",
// "docker.io/library/busybox"), or any name given with --image.
struct Target {
  std::string image;       // set for an image
  std::string world;       // set for a world
  std::string overlay;     // set for an overlay
  std::string constraint;  // overlay only; empty: the newest
};
Result<Target> parse_target(std::string_view s);

struct RunNetOptions;  // ljctl_network.hpp

struct RunOptions {
  std::string target;
  bool image = false;  // --image: the target is an image reference
  std::vector<std::string> command;
  std::string name;
  std::string world;             // --world: with an overlay target, overrides its world
  std::vector<std::string> env;  // "K=V", or "K" to pass ljctl's own $K
  std::vector<std::string> env_files;  // --env-file PATH: read by the caller into env (first)
  std::string workdir;
  std::string hostname;
  std::string net;  // none|inherit|ip; empty: the daemon's default
  std::string interface;
  std::vector<std::string> addresses;
  std::vector<std::string> volumes;                // "HOST:JAIL[:ro]"
  std::string memory, pids, cpu, nofile, timeout;  // as typed; empty: the daemon's default
  std::vector<std::string> labels;                 // "k=v"
  // The jail's record after its exit (the jail itself is ephemeral either way: its writable layer
  // is gone at the exit): --keep keeps it, --rm removes it, neither: keep_by_default says.
  bool keep = false;
  bool rm = false;
  bool keep_by_default = false;  // run -d and create: kept (docker's habit); run: removed
  const RunNetOptions* networking = nullptr;  // --network, -p, ... (ljctl_network.hpp)
  bool interactive = false;  // -i: stdin kept open and fed from ljctl's
  bool tty = false;          // -t: a terminal
  std::string user;          // -u: name|uid[:group|gid], resolved in the jail
  unsigned short rows = 0, cols = 0;  // with tty: ljctl's terminal size, 0 when unknown
  std::vector<std::string> privileges;  // --privilege ITEM (daemon/policy.hpp's items)
  bool policy_override = false;         // --policy-override (root only)
};

// The body of POST /v1/jails for `ljctl run` (sent with ?start=true). `getenv` looks up the
// "-e K" form (injected for tests).
Result<nlohmann::json> make_create_body(
    const RunOptions& o, const std::filesystem::path& cwd,
    const std::function<std::optional<std::string>(const std::string&)>& getenv);

// docker's --env-file: one KEY=VALUE per line (the value as written, no quotes taken off), KEY
// alone for ljctl's own $KEY; blank lines and lines starting with # are skipped, leading
// whitespace ignored. The entries in -e's form, in file order; a bad line is an error naming it.
Result<std::vector<std::string>> read_env_file(const std::string& path);

// The status ljctl exits with for a jail's exit record ({"code", "signal", ...}): the code, or
// 128+N for signal N; kExitError for a null or "lost" record (the daemon does not know).
int exit_status(const nlohmann::json& exit);

}  // namespace lj::ljctl
