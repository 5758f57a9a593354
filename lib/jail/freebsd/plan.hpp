// The portable half of the FreeBSD backend: turning a JailSpec into the exact text and argument
// lists the kernel gets (rctl rules, the command line, PATH candidates), with no FreeBSD header.
// Compiled into the backend on FreeBSD, and into tests/jail_freebsd on every platform, so that
// this much of the FreeBSD code is exercised by the Linux CI too.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "jail/backend.hpp"
#include "jail/spec.hpp"

namespace lj::jail::freebsd {

// The extra rules FreeBSD puts on a jail name beyond validate_spec's [A-Za-z0-9_.-]{1,64}: a '.'
// separates hierarchical jail names ("a.b" is jail b inside jail a, jail(8)), and an all-digit
// name would be taken for a jid. invalid_argument naming the rule otherwise.
Status check_jail_name(const std::string& name);

// The first of an OCI runtime's process options (ProcessOptions) the FreeBSD backend does not
// apply, by its name for the error ("process.capabilities"); nullptr when only defaults are set.
// A jail and an exec refuse them rather than ignore them.
const char* unsupported_process_option(const ProcessOptions& p);

// One rule of a jail's own devfs ruleset (devfs(8) rule syntax in the comments).
struct DevfsRule {
  enum Kind { include, unhide } kind = include;
  int ruleset = 0;   // include: "add include $ruleset"
  std::string path;  // unhide: "add path 'PATH' unhide", PATH relative to /dev ("fuse")
  int mode = -1;     // unhide: with "mode MODE" (0..07777); -1: the node's own
  bool operator==(const DevfsRule&) const = default;
};

// The ruleset of a jail granted devices (Grants::devices), in order: the host's open ruleset
// included first (every jail's base: 4, devfsrules_jail), then each granted device unhidden with
// its parent directories ("/dev/dri/card0": "dri", then "dri/card0"), then the host's close
// ruleset included last (0: none), so that what the host closes stays hidden whatever a jail was
// granted. A device is "/dev/PATH"; a devfs pattern character (*?[]\) or an empty, "." or ".."
// component in PATH is Errc::invalid_argument (a grant names one node, never a pattern).
Result<std::vector<DevfsRule>> devfs_grant_rules(const std::vector<std::string>& devices,
                                                 int open_ruleset, int close_ruleset);
// The same with a mode for some devices (JailParameters::devices): the device's own unhide rule
// carries it (its parent directories keep theirs). A device listed twice takes the last mode.
Result<std::vector<DevfsRule>> devfs_device_rules(const std::vector<JailParameters::Device>& devices,
                                                 int open_ruleset, int close_ruleset);

// ---- JailParameters (an OCI config's freebsd section) ----

// The boolean allow.* parameters JailParameters::allow may name, without and with "no".
inline constexpr const char* kAllowParameters[] = {
    "allow.set_hostname", "allow.raw_sockets", "allow.chflags",        "allow.quotas",
    "allow.socket_af",    "allow.mlock",       "allow.reserved_ports", "allow.suser"};
// "allow.noraw_sockets" for "allow.raw_sockets": jail(8)'s negation of a boolean parameter.
std::string negated_parameter(const std::string& name);

// The kernel's value for a Sharing (sys/jail.h: JAIL_SYS_DISABLE 0, JAIL_SYS_NEW 1,
// JAIL_SYS_INHERIT 2; unset is -1).
int sharing_value(Sharing s);

// What the kernel calls the jail: "<parent>.<name>" with JailParameters::parent, else the name.
std::string kernel_jail_name(const JailSpec& spec);

// Checks spec.freebsd against the rest of the spec, naming the field and the rule broken:
// a parent name of [A-Za-z0-9_-] components separated by '.'; host inherit without a hostname;
// vnet (inherit only) and vnet_interfaces with network mode none only; enforce_statfs 0..2;
// allow names from kAllowParameters (or negated); mount types [a-z0-9] with enforce_statfs < 2;
// devfs_ruleset 1..65535; device modes 0..07777. Errc::invalid_argument.
Status check_jail_parameters(const JailSpec& spec);

// The rctl(8) rules for `limits`, subject "jail:<name>". Amounts are plain decimal numbers:
// rctl_add_rule(2) takes no unit suffix. Empty when no limit applies to rctl (nofile is an
// rlimit, timeout is ours).
//   memory_bytes -> memoryuse:sigkill=N and memoryuse:log=N (the log twin tells OOM apart)
//   pids         -> maxproc:deny=N and nthr:deny=N
//   cpu_percent  -> pcpu:deny=N (deny throttles pcpu)
std::vector<std::string> rctl_rules(const std::string& name, const Limits& limits);

// What rctl prints to the kernel message buffer when the memory log rule fires, up to the amount:
//   rctl: rule "jail:<name>:memoryuse:log=
std::string oom_log_needle(const std::string& name);

// "#!interp [arg]" on the first line -> {interp} or {interp, arg} (one argument, as execve(2)
// treats a shebang); empty without one.
std::vector<std::string> parse_shebang(const std::string& script);

// How a JailSpec's command runs.
struct Command {
  std::vector<std::string> argv;
  // Non-empty when the script must be a file in the jail (an interpreter other than sh): write
  // spec.script there (a path inside the jail) before starting.
  std::string script_path;
};
// argv as given; a script without shebang or with a sh shebang runs as `sh [arg] -c SCRIPT`;
// another interpreter gets the script as the file `script_path`.
Command command_for(const JailSpec& spec, const std::string& script_path = "/.ljd-script");

inline constexpr const char* kDefaultPath =
    "/sbin:/bin:/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin";

// The environment with PATH defaulted when absent.
std::vector<std::string> env_with_path(const std::vector<std::string>& env);
// The paths execve(2) tries for argv0: itself when it has a '/', else each PATH entry of `env`
// (an empty entry is the working directory, as execvp(3) does) joined with it.
std::vector<std::string> exec_candidates(const std::string& argv0,
                                         const std::vector<std::string>& env);

// The login name of `uid` in a passwd(5) file (the jail's own /etc/passwd); empty when absent.
std::string login_in_passwd(const std::filesystem::path& passwd, uid_t uid);

}  // namespace lj::jail::freebsd
