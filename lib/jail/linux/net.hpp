// Network mode `ip`: a macvlan child of a host interface, created directly inside the jail's
// network namespace as "eth0", with the jail's addresses, up. (ipvlan would share the host's MAC;
// this kernel lacks it, so macvlan in bridge mode it is: jails on one interface reach each other,
// the host itself does not reach them through that interface — macvlan's known property.)
#pragma once

#include <sys/types.h>

#include <string>

#include "common/error.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

// Runs in the parent while the child waits on its sync pipe. Per-thread setns(2) into the jail's
// network namespace just long enough to open a netlink socket there (a socket stays bound to the
// namespace it was created in), so the rest of a multi-threaded daemon never changes namespace.
Status setup_ip_network(pid_t jail_pid, const std::string& jail_name, const Network& net);

}  // namespace lj::jail
