#include "daemon/networks.hpp"

namespace lj::daemon {

// lib/net's FreeBSD host attaches an epair to a VNET jail that exists already (JailTarget::jail),
// and lib/jail's FreeBSD backend makes no VNET jail yet: jails on networks are Linux-only for now
// (docs/networking.md, "Not done yet").
Result<UniqueFd> new_jail_netns() {
  return fail(Errc::unsupported, "net",
              "jails on networks are not supported by the FreeBSD backend yet (no VNET jail)");
}

}  // namespace lj::daemon
