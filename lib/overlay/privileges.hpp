// Declared privileges (issue 16): what an overlay or an image says it needs beyond the engine's
// defaults, as items of one syntax wherever they are written: a Jailfile's `privileges` line
// (recorded in the overlay's manifest), an image's label org.lightjail.privileges, a create
// request's "privileges". A declaration grants nothing: ljd weighs it against the host's policy
// (daemon/policy.hpp) and hands the backend what it granted.
//
//   item        meaning
//   device=P    host device node P (a plain path under /dev)
//   raw_sockets raw sockets (Linux CAP_NET_RAW, FreeBSD allow.raw_sockets)
//   mlock       locking memory (Linux CAP_IPC_LOCK, FreeBSD allow.mlock)
//   sysvipc     System V IPC (FreeBSD sysv*=new)
//   port=N[/p]  listening on port N (tcp|udp|sctp; tcp when not written)
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"

namespace lj::overlay {

// The image label that declares an image's privileges: a comma-separated list of items
// ("device=/dev/fuse,raw_sockets,port=80/tcp"). An exported overlay chain carries its
// declarations under it.
inline constexpr std::string_view kPrivilegesLabel = "org.lightjail.privileges";

struct Privileges {
  std::set<std::string> devices;  // "/dev/fuse"
  bool raw_sockets = false;
  bool mlock = false;
  bool sysvipc = false;
  std::set<std::string> ports;  // "80/tcp"

  bool empty() const { return devices.empty() && !raw_sockets && !mlock && !sysvipc && ports.empty(); }
  void merge(const Privileges& other);
  // The items, sorted: ["device=/dev/fuse", "port=80/tcp", "raw_sockets"].
  std::vector<std::string> items() const;
  // items() joined by ", ": the label's text.
  std::string list() const;
  bool operator==(const Privileges&) const = default;
};

// One item ("device=/dev/fuse", "mlock", "port=80", "port=53/udp") into `p`. Errc::invalid_argument
// (domain "policy") naming the item.
Status add_privilege(std::string_view item, Privileges* p);
// A comma-separated list of items (an image's label, a Jailfile's line); blanks around items are
// ignored. On an error, *error_offset (when given) is the bad item's offset in `list`.
Result<Privileges> parse_privileges(std::string_view list, std::size_t* error_offset = nullptr);

// The items of a comma-separated list, blanks around them trimmed, empty ones skipped.
std::vector<std::string_view> split_list(std::string_view list);
// A plain path under /dev: "/dev/" and components that are neither empty, "." nor "..", none of
// "\0\n,:\\" (the backends' syntax of a granted device).
bool is_device_path(std::string_view path);
// A port number, 1..65535, the whole text; false otherwise (*out untouched).
bool parse_port(std::string_view text, std::uint16_t* out);

}  // namespace lj::overlay
