// An OCI bundle's config.json (runtime-spec v1.x) -> the engine's JailSpec, plus what the runtime
// itself acts on (hooks, terminal, annotations). Strict: every field is either honoured or an
// error naming it ("linux.intelRdt is not supported"), never silently dropped; docs/oci.md lists
// how each field is honoured. Knows no state directory and starts nothing.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/exec.hpp"
#include "jail/spec.hpp"

namespace lj::oci {

using Hook = jail::Hook;

// The runtime namespace's four kinds of the runtime spec, run by ljoci itself. createContainer
// and startContainer run in the container's: they go to the spec's ProcessOptions::create_hooks
// and start_hooks, run by the engine (jail/spec.hpp).
struct Hooks {
  std::vector<Hook> prestart, create_runtime, poststart, poststop;
};

struct Bundle {
  std::filesystem::path dir;  // absolute
  std::string oci_version;
  jail::JailSpec spec;  // name = the container id; no stdio yet (the runtime's caller gives it)
  bool terminal = false;
  unsigned short rows = 0, cols = 0;  // process.consoleSize
  Hooks hooks;
  std::map<std::string, std::string> annotations;
  // linux.namespaces network path: to be joined. The caller opens it and sets the spec's
  // network to NetworkMode::netns with that descriptor (spec.network is "none" until then).
  std::string netns_path;
  // The other namespaces given with a path (pid, ipc, uts, cgroup, mount), to be joined: the
  // caller opens them and sets the spec's JoinedNamespaces (jail/spec.hpp).
  std::string pidns_path, ipcns_path, utsns_path, cgroupns_path, mntns_path;
  std::string cgroups_path;  // linux.cgroupsPath as given (see cgroup_path_of)
  std::string config_text;   // config.json as read (load_bundle), what the state keeps
};

// Which platform section of a config is read: the one of the platform ljoci runs on (linux, or
// freebsd: runtime-spec config-freebsd.md -> JailSpec::freebsd and JailSpec::network). The other
// platform's section is refused by name, as are the process fields the platform lacks. Tests
// parse for either.
enum class Platform { linux_host, freebsd_host };
Platform host_platform();  // lib/oci/<platform>/platform.cpp

// linux.cgroupsPath -> JailSpec::cgroup_path. With systemd_style (runc's --systemd-cgroup) the
// value is "slice:prefix:name" and names the cgroup systemd would give the scope: the slice
// expanded ("a-b.slice" -> "/a.slice/a-b.slice"; empty: system.slice) and "prefix-name.scope"
// in it. No transient unit is made: ljoci makes the cgroup itself (docs/oci.md).
Result<std::string> cgroup_path_of(const std::string& cgroups_path, bool systemd_style);

// linux.resources.memory.swap (memory and swap together, docker's --memory-swap; -1 unlimited,
// 0 unset) as jail::Limits::memory_swap_bytes, against the memory limit given with it (0: none
// given, as in an update of the swap alone: the engine checks it against the current one).
// Equal to the limit is "no swap" (0).
Result<std::uint64_t> swap_of(std::int64_t swap, std::uint64_t memory_limit);

// Reads dir/config.json. `id` names the jail (and its cgroup).
Result<Bundle> load_bundle(const std::filesystem::path& dir, const std::string& id,
                           Platform platform = host_platform());

// The same from text (tests): dir is taken as the bundle's directory.
Result<Bundle> parse_config(const std::string& text, const std::filesystem::path& dir,
                            const std::string& id, Platform platform = host_platform());

// The hooks the runtime itself runs (prestart, createRuntime, poststart, poststop) of a config
// that `create` already accepted whole: for `start` and `delete`, which need nothing else of it
// (parse_config would compile the seccomp profile again, tens of ms for podman's).
Result<Hooks> runtime_hooks_of(const std::string& text);

// `exec`'s process (runc exec --process process.json, what conmon and containerd's shim pass: the
// runtime spec's "process" object) as the engine's ExecSpec. The container's own config gives
// what the process does not name: its seccomp profile (the exec runs under the container's
// filter, as runc's does). Refused by name as in config.json; oomScoreAdj too (an exec keeps the
// runtime's).
struct ExecProcess {
  jail::ExecSpec spec;  // no stdio yet
  bool terminal = false;
  unsigned short rows = 0, cols = 0;
};
Result<ExecProcess> parse_exec_process(const std::string& process_json, const Bundle& container,
                                       Platform platform = host_platform());

// runc's `spec`: a default config.json for a rootfs in ./rootfs running `sh`.
std::string default_config();

// The capability names this runtime knows ("CAP_CHOWN" ...), by number.
const std::vector<std::string>& capability_names();

// The OCI seccomp section (linux.seccomp, as JSON text) compiled to classic BPF for this machine
// (libseccomp on Linux; unsupported elsewhere).
Result<std::vector<unsigned char>> compile_seccomp(const std::string& seccomp_json);

}  // namespace lj::oci
