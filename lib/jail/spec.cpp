#include "jail/spec.hpp"

#include <sys/socket.h>  // AF_INET: FreeBSD's <arpa/inet.h> does not declare it
#include <arpa/inet.h>

#include <algorithm>
#include <string_view>

namespace lj::jail {
namespace {

auto bad(std::string msg) {
  return fail(Errc::invalid_argument, "jail", std::move(msg));
}

bool valid_name(const std::string& n) {
  if (n.empty() || n.size() > 64 || n == "." || n == "..") return false;
  return std::all_of(n.begin(), n.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '.' || c == '-';
  });
}

bool valid_address(const std::string& a) {
  auto slash = a.find('/');
  std::string host = a.substr(0, slash);
  if (slash != std::string::npos) {
    std::string prefix = a.substr(slash + 1);
    if (prefix.empty() || prefix.size() > 3 ||
        !std::all_of(prefix.begin(), prefix.end(), [](char c) { return c >= '0' && c <= '9'; }))
      return false;
    int p = std::stoi(prefix);
    if (p > (host.find(':') != std::string::npos ? 128 : 32)) return false;
  }
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

}  // namespace

bool valid_user_form(const std::string& user) {
  if (user.empty()) return true;
  const auto colon = user.find(':');
  return !(user.size() > 255 || colon == 0 || colon + 1 == user.size() ||
           user.find(':', colon == std::string::npos ? colon : colon + 1) != std::string::npos ||
           user.find_first_of(std::string_view("\0\n", 2)) != std::string::npos);
}

Status validate_spec(const JailSpec& spec) {
  if (!valid_name(spec.name))
    return bad("jail name must be 1-64 characters of [A-Za-z0-9_.-]: '" + spec.name + "'");
  if (spec.argv.empty() == spec.script.empty())
    return bad("exactly one of a command (argv) or a script must be given");
  if (!spec.argv.empty() && spec.argv[0].empty()) return bad("empty command name");
  if (spec.root.layers.empty()) return bad("no root directory (mount plan without layers)");
  for (const auto& e : spec.env)
    if (e.find('=') == std::string::npos || e[0] == '=')
      return bad("environment entry is not KEY=value: '" + e + "'");
  if (spec.workdir.empty() || spec.workdir[0] != '/')
    return bad("working directory must be absolute: '" + spec.workdir + "'");
  if (spec.hostname.size() > 64) return bad("hostname longer than 64 characters");
  if (spec.limits.timeout.count() < 0) return bad("negative timeout");
  if (spec.network.mode == NetworkMode::ip) {
    if (spec.network.interface.empty()) return bad("network mode ip needs a host interface");
    if (spec.network.addresses.empty()) return bad("network mode ip needs at least one address");
    for (const auto& a : spec.network.addresses)
      if (!valid_address(a)) return bad("not an IPv4/IPv6 address[/prefix]: '" + a + "'");
  } else if (!spec.network.addresses.empty()) {
    return bad("addresses are only meaningful with network mode ip");
  }
  // Mode netns takes a prepared namespace (Linux) or a hook that moves the links into the jail's
  // own VNET once it exists (FreeBSD, Network::on_vnet).
  if (spec.network.mode == NetworkMode::netns
          ? spec.network.netns_fd < 0 && !spec.network.on_vnet
          : spec.network.netns_fd >= 0 || spec.network.on_vnet)
    return bad("a network namespace descriptor (or on_vnet) goes with network mode netns, and only with it");
  if (spec.network.attach_links &&
      (spec.network.mode != NetworkMode::netns || spec.network.netns_fd < 0))
    return bad("attach_links goes with network mode netns and its namespace descriptor");
  if (!valid_user_form(spec.user)) return bad("user must be name|uid[:group|gid]: '" + spec.user + "'");
  // A plain path under /dev: it names the host's node and the jail's alike.
  auto dev_path = [](const std::string& d) {
    return !(d.size() < 6 || d.compare(0, 5, "/dev/") != 0 || d.find("/../") != std::string::npos ||
             d.find("/./") != std::string::npos || d.find("//") != std::string::npos ||
             d.back() == '/' || d.ends_with("/..") || d.ends_with("/.") ||
             d.find_first_of(std::string_view("\0\n,:", 4)) != std::string::npos);
  };
  for (const auto& d : spec.grants.devices)
    if (!dev_path(d)) return bad("a granted device must be a plain path under /dev: '" + d + "'");
  for (const auto& n : spec.grants.nodes) {
    if (!dev_path(n.path)) return bad("a device node must be a plain path under /dev: '" + n.path + "'");
    if (n.type != 'c' && n.type != 'b' && n.type != 'p')
      return bad("device node " + n.path + ": type must be c, b or p");
    if (n.mode > 07777) return bad("device node " + n.path + ": mode is not a file mode");
    if (n.path == "/dev/pts" || n.path.starts_with("/dev/pts/") || n.path == "/dev/shm" ||
        n.path.starts_with("/dev/shm/"))
      return bad("device node " + n.path + " is under a file system of the engine's /dev");
  }
  if (spec.root.dev_guarded_by_rules && spec.limits.device_rules.empty())
    return bad("a /dev guarded by device rules (root.dev_guarded_by_rules) needs limits.device_rules");
  if (spec.tty) {
    if (spec.tty->socket < 0) return bad("a terminal needs a socket to hand its master back on");
    const Stdio& io = spec.stdio;
    if (io.in >= 0 || io.out >= 0 || io.err >= 0 || io.out_read >= 0 || io.err_read >= 0)
      return bad("a jail with a terminal takes its stdio from it: no stdio descriptors");
  }
  if (spec.userns && spec.userns->count == 0) return bad("user namespace maps no id");
  if (spec.userns && spec.join.any())
    return bad("joining namespaces goes without a user namespace of the jail's own");
  if (!spec.cgroup_path.empty()) {
    const std::string& c = spec.cgroup_path;
    if (c.find("/../") != std::string::npos || c.rfind("../", 0) == 0 || c == ".." ||
        (c.size() >= 3 && c.compare(c.size() - 3, 3, "/..") == 0) || c.find('\0') != std::string::npos ||
        c.find_first_not_of('/') == std::string::npos)
      return bad("cgroup path must name a cgroup without '..': '" + c + "'");
  }
  for (const auto& v : spec.root.volumes)
    if (!v.host_path.is_absolute() || v.jail_path.empty() || v.jail_path[0] != '/')
      return bad("volume paths must be absolute: '" + v.host_path.string() + ":" + v.jail_path +
                 "'");
  return {};
}

const char* JailParameters::first_set() const {
  if (!parent.empty()) return "parent";
  if (host != Sharing::unset) return "host";
  if (vnet != Sharing::unset) return "vnet";
  if (!vnet_interfaces.empty()) return "vnet_interfaces";
  if (sysvmsg != Sharing::unset) return "sysvmsg";
  if (sysvsem != Sharing::unset) return "sysvsem";
  if (sysvshm != Sharing::unset) return "sysvshm";
  if (enforce_statfs) return "enforce_statfs";
  if (!allow.empty()) return "allow";
  if (!mount_types.empty()) return "mount_types";
  if (devfs_ruleset) return "devfs_ruleset";
  if (!devices.empty()) return "devices";
  return nullptr;
}

}  // namespace lj::jail
