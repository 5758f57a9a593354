// Peer credentials of a UNIX-socket connection, read on accept: SO_PEERCRED + SO_PEERGROUPS on
// Linux (linux/peer.cpp), LOCAL_PEERCRED on FreeBSD (freebsd/peer.cpp).
#pragma once

#include <sys/types.h>

#include <optional>

#include "common/error.hpp"
#include "daemon/http_types.hpp"

namespace lj::daemon {

// Fills uid/gid/pid and `allowed`: root, ljd's own euid, or `group` among the peer's groups.
Result<Peer> peer_credentials(int fd, std::optional<gid_t> group);

}  // namespace lj::daemon
