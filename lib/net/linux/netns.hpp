// Network namespaces for jails, made before the jail: the veth's jail end is created directly in
// it (one netlink request, no move), and the jail's init joins it (JailSpec network mode `netns`).
#pragma once

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::net {

// A new network namespace with its loopback up, held by the returned descriptor (nothing runs in
// it; closing the last descriptor, and the exit of the last process in it, frees it). Made in
// this thread with unshare(2), which then returns to its own namespace.
Result<UniqueFd> new_netns();

}  // namespace lj::net
