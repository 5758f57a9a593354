#include "jail/freebsd/plan.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

namespace lj::jail::freebsd {

Status check_jail_name(const std::string& name) {
  if (name.find('.') != std::string::npos)
    return fail(Errc::invalid_argument, "jail",
                "FreeBSD jail names cannot contain '.': it separates a child jail from its parent "
                "('" +
                    name + "' would name jail '" + name.substr(name.rfind('.') + 1) +
                    "' inside jail '" + name.substr(0, name.rfind('.')) + "')");
  if (!name.empty() && name.find_first_not_of("0123456789") == std::string::npos)
    return fail(Errc::invalid_argument, "jail",
                "FreeBSD jail names cannot be all digits ('" + name + "' would be read as a jid)");
  return {};
}

const char* unsupported_process_option(const ProcessOptions& p) {
  if (p.capabilities) return "process.capabilities";
  if (!p.groups.empty()) return "process.groups";
  if (!p.no_new_privs) return "process.no_new_privs=false";
  if (!p.rlimits.empty()) return "process.rlimits";
  if (p.oom_score_adj) return "process.oom_score_adj";
  if (p.umask != 022) return "process.umask";
  if (!p.sysctl.empty()) return "process.sysctl";
  if (!p.seccomp_bpf.empty()) return "process.seccomp_bpf";
  if (p.preserve_fds) return "process.preserve_fds";
  return nullptr;
}

Result<std::vector<DevfsRule>> devfs_grant_rules(const std::vector<std::string>& devices,
                                                 int open_ruleset, int close_ruleset) {
  std::vector<JailParameters::Device> d;
  for (const auto& path : devices) d.push_back({path, std::nullopt});
  return devfs_device_rules(d, open_ruleset, close_ruleset);
}

Result<std::vector<DevfsRule>> devfs_device_rules(const std::vector<JailParameters::Device>& devices,
                                                 int open_ruleset, int close_ruleset) {
  std::vector<DevfsRule> rules;
  if (open_ruleset > 0) rules.push_back({DevfsRule::include, open_ruleset, {}});
  std::vector<std::string> seen;
  for (const auto& dev : devices) {
    const std::string& d = dev.path;
    auto bad = [&](const std::string& why) {
      return fail(Errc::invalid_argument, "jail", "device grant '" + d + "': " + why);
    };
    if (d.rfind("/dev/", 0) != 0 || d.size() == 5) return bad("not a path under /dev/");
    const std::string rel = d.substr(5);
    if (rel.find_first_of("*?[]\\") != std::string::npos)
      return bad("a devfs pattern character (*?[]\\) is not a device name");
    if (dev.mode && *dev.mode > 07777) return bad("mode is not a file mode");
    std::string prefix;
    for (std::size_t at = 0; at <= rel.size();) {
      std::size_t slash = rel.find('/', at);
      if (slash == std::string::npos) slash = rel.size();
      const std::string part = rel.substr(at, slash - at);
      if (part.empty() || part == "." || part == "..") return bad("empty, '.' or '..' component");
      prefix += (prefix.empty() ? "" : "/") + part;
      const bool leaf = slash == rel.size();
      const int mode = leaf && dev.mode ? static_cast<int>(*dev.mode) : -1;
      auto it = std::find(seen.begin(), seen.end(), prefix);
      if (it == seen.end()) {
        seen.push_back(prefix);
        rules.push_back({DevfsRule::unhide, 0, prefix, mode});
      } else if (leaf && dev.mode) {
        for (auto& r : rules)
          if (r.kind == DevfsRule::unhide && r.path == prefix) r.mode = mode;
      }
      at = slash + 1;
    }
  }
  if (close_ruleset > 0) rules.push_back({DevfsRule::include, close_ruleset, {}});
  return rules;
}

std::string negated_parameter(const std::string& name) {
  const auto dot = name.rfind('.');
  return dot == std::string::npos ? "no" + name
                                  : name.substr(0, dot + 1) + "no" + name.substr(dot + 1);
}

int sharing_value(Sharing s) {
  switch (s) {
    case Sharing::disable: return 0;
    case Sharing::new_: return 1;
    case Sharing::inherit: return 2;
    case Sharing::unset: break;
  }
  return -1;
}

std::string kernel_jail_name(const JailSpec& spec) {
  return spec.freebsd.parent.empty() ? spec.name : spec.freebsd.parent + "." + spec.name;
}

Status check_jail_parameters(const JailSpec& spec) {
  const JailParameters& p = spec.freebsd;
  auto bad = [](const std::string& what) { return fail(Errc::invalid_argument, "jail", what); };
  if (!p.parent.empty()) {
    std::size_t at = 0;
    for (;;) {
      const auto dot = p.parent.find('.', at);
      const std::string part = p.parent.substr(at, dot == std::string::npos ? dot : dot - at);
      if (part.empty() || part.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                                 "0123456789_-") != std::string::npos)
        return bad("parent jail '" + p.parent +
                   "': names of [A-Za-z0-9_-] separated by '.' (a jail in a jail)");
      if (dot == std::string::npos) break;
      at = dot + 1;
    }
  }
  if (p.host == Sharing::disable) return bad("host cannot be disabled (new or inherit)");
  if (p.host == Sharing::inherit && !spec.hostname.empty())
    return bad("host inherit takes the parent's hostname: the jail cannot also name its own ('" +
               spec.hostname + "')");
  if (p.vnet == Sharing::disable || p.vnet == Sharing::new_)
    return bad("vnet: inherit, or unset (the network mode decides)");
  if (p.vnet == Sharing::inherit && spec.network.mode != NetworkMode::none)
    return bad("vnet inherit goes with network mode none (no address on the parent's stack)");
  if (!p.vnet_interfaces.empty() &&
      (spec.network.mode != NetworkMode::none || p.vnet == Sharing::inherit))
    return bad("vnet interfaces need a VNET of the jail's own (network mode none)");
  for (const auto& i : p.vnet_interfaces)
    if (i.empty() || i.size() >= 16 || i.find_first_of("/ \t\n") != std::string::npos)
      return bad("vnet interface '" + i + "' is not an interface name");
  if (p.enforce_statfs && (*p.enforce_statfs < 0 || *p.enforce_statfs > 2))
    return bad("enforce_statfs " + std::to_string(*p.enforce_statfs) + " is not 0, 1 or 2");
  for (const auto& a : p.allow) {
    bool known = false;
    for (const char* k : kAllowParameters) known = known || a == k || a == negated_parameter(k);
    if (!known) return bad("'" + a + "' is not an allow.* parameter the engine sets");
  }
  for (const auto& t : p.mount_types)
    if (t.empty() || t.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos)
      return bad("mount type '" + t + "' is not a file system name");
  if (!p.mount_types.empty() && p.enforce_statfs.value_or(2) >= 2)
    return bad("mounting in a jail needs enforce_statfs below 2 (jail(8), allow.mount)");
  if (p.devfs_ruleset && (*p.devfs_ruleset <= 0 || *p.devfs_ruleset > 65535))
    return bad("devfs ruleset " + std::to_string(*p.devfs_ruleset) +
               " (0 has no rule: every device of the host)");
  for (const auto& d : p.devices)
    if (d.mode && *d.mode > 07777) return bad("device " + d.path + ": mode is not a file mode");
  return {};
}

std::vector<std::string> rctl_rules(const std::string& name, const Limits& l) {
  const std::string subject = "jail:" + name + ":";
  std::vector<std::string> rules;
  if (l.memory_bytes > 0) {
    const auto n = std::to_string(l.memory_bytes);
    rules.push_back(subject + "memoryuse:sigkill=" + n);
    rules.push_back(subject + "memoryuse:log=" + n);
  }
  if (l.pids > 0) {
    // Linux's pids.max counts threads: maxproc bounds processes (the fork bomb), nthr threads.
    rules.push_back(subject + "maxproc:deny=" + std::to_string(l.pids));
    rules.push_back(subject + "nthr:deny=" + std::to_string(l.pids));
  }
  if (l.cpu_percent > 0) rules.push_back(subject + "pcpu:deny=" + std::to_string(l.cpu_percent));
  return rules;
}

std::string oom_log_needle(const std::string& name) {
  return "rctl: rule \"jail:" + name + ":memoryuse:log=";
}

std::vector<std::string> parse_shebang(const std::string& script) {
  if (script.rfind("#!", 0) != 0) return {};
  auto eol = script.find('\n');
  std::string line = script.substr(2, eol == std::string::npos ? std::string::npos : eol - 2);
  auto trim = [](const std::string& s) {
    auto b = s.find_first_not_of(" \t\r");
    auto e = s.find_last_not_of(" \t\r");
    return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
  };
  line = trim(line);
  if (line.empty()) return {};
  auto sp = line.find_first_of(" \t");
  if (sp == std::string::npos) return {line};
  std::string arg = trim(line.substr(sp));
  if (arg.empty()) return {line.substr(0, sp)};
  return {line.substr(0, sp), arg};
}

Command command_for(const JailSpec& spec, const std::string& script_path) {
  Command c;
  if (!spec.argv.empty()) {
    c.argv = spec.argv;
    return c;
  }
  auto interp = parse_shebang(spec.script);
  if (interp.empty()) {
    c.argv = {"/bin/sh", "-c", spec.script};
    return c;
  }
  if (std::filesystem::path(interp[0]).filename() == "sh") {
    c.argv = interp;
    c.argv.push_back("-c");  // the "#!" line is a comment to sh
    c.argv.push_back(spec.script);
    return c;
  }
  c.argv = interp;
  c.argv.push_back(script_path);
  c.script_path = script_path;
  return c;
}

std::vector<std::string> env_with_path(const std::vector<std::string>& env) {
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) return env;
  auto out = env;
  out.push_back(std::string("PATH=") + kDefaultPath);
  return out;
}

std::vector<std::string> exec_candidates(const std::string& argv0,
                                         const std::vector<std::string>& env) {
  if (argv0.find('/') != std::string::npos) return {argv0};
  std::string path = kDefaultPath;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    auto colon = path.find(':', start);
    std::string dir = path.substr(start, colon == std::string::npos ? colon : colon - start);
    out.push_back((dir.empty() ? std::string(".") : dir) + "/" + argv0);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return out;
}

std::string login_in_passwd(const std::filesystem::path& passwd, uid_t uid) {
  std::ifstream in(passwd);
  std::string line;
  const std::string want = std::to_string(uid);
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    std::istringstream fields(line);
    std::string name, pw, id;
    if (!std::getline(fields, name, ':') || !std::getline(fields, pw, ':') ||
        !std::getline(fields, id, ':'))
      continue;
    if (id == want) return name;
  }
  return {};
}

}  // namespace lj::jail::freebsd
