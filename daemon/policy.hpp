// The host privilege policy (issue 16): what a jail may be granted beyond the engine's defaults.
// An image declares what it needs (the label below, and its ExposedPorts as listening ports), a
// create request may ask for more ("privileges"); ljd.conf's policy_* keys say what this host
// grants and which registries images may run from. Pure data and a pure evaluation: the daemon
// refuses a create whose evaluation is not empty (403 policy.permission_denied, the refusals in
// details.refused), unless a root caller overrides it, and records the grant on the jail.
//
//   item        meaning                                   granted by
//   device=P    host device node P (under /dev)           policy_devices = /dev/fuse, ...
//   raw_sockets raw sockets (Linux CAP_NET_RAW)           policy_allow = raw_sockets
//   mlock       locking memory (Linux CAP_IPC_LOCK)       policy_allow = mlock
//   sysvipc     System V IPC (FreeBSD sysv*=new)          policy_allow = sysvipc
//   port=N[/p]  listening on port N (tcp|udp|sctp)        policy_ports = 1024-65535, 80
//   (image)     running an image of a registry/repository policy_registries = 127.0.0.1:5000
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "jail/spec.hpp"
#include "overlay/privileges.hpp"

namespace lj::daemon {

// The declared items (overlay/privileges.hpp: one syntax for labels, Jailfiles and requests).
using overlay::add_privilege;
using overlay::kPrivilegesLabel;
using overlay::parse_privileges;
using overlay::Privileges;

// What a backend grants of `p` (ports need nothing of it: see policy_ports in docs/images.md).
jail::Grants grants_of(const Privileges& p);

struct HostPolicy {
  // Where images may run from: "127.0.0.1:5000" (a whole registry) or "127.0.0.1:5000/app"
  // (one repository and the ones below it). Empty: any.
  std::vector<std::string> registries;
  std::set<std::string> devices;
  bool raw_sockets = false, mlock = false, sysvipc = false;
  std::vector<std::pair<std::uint16_t, std::uint16_t>> ports = {{1, 65535}};  // inclusive ranges
};

// A `policy_*` key of ljd.conf into `policy` (false: not a policy key). Errc::invalid_argument
// naming the bad value.
Result<bool> parse_policy_key(std::string_view key, std::string_view value, HostPolicy* policy);

struct Refusal {
  std::string item;  // "device=/dev/fuse", "image=127.0.0.1:5000/app"
  std::string rule;  // the ljd.conf key that did not grant it: "policy_devices"
  std::string message;
};

// What `policy` does not grant of `wanted`, and, for a jail on an image, whether one of the
// image's names ("registry/repository", at least one) is in policy_registries. Empty: all granted.
std::vector<Refusal> evaluate(const HostPolicy& policy, const Privileges& wanted,
                              const std::vector<std::string>* image_names);

// The 403 of a refused create: the error (its message lists the refused items) and its details
// {"refused": [{"item", "rule", "message"}]}.
Error refusal_error(const std::vector<Refusal>& refused);
nlohmann::json refusal_details(const std::vector<Refusal>& refused);

}  // namespace lj::daemon
