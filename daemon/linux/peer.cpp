#include <sys/socket.h>
#include <unistd.h>

#include <vector>

#include "daemon/peer.hpp"

namespace lj::daemon {

Result<Peer> peer_credentials(int fd, std::optional<gid_t> group) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return fail_errno("api", "getsockopt(SO_PEERCRED)");
  }
  Peer p;
  p.uid = cred.uid;
  p.gid = cred.gid;
  p.pid = cred.pid;
  p.allowed = cred.uid == 0 || cred.uid == ::geteuid();
  if (!p.allowed && group) {
    p.allowed = cred.gid == *group;
    // SO_PEERGROUPS (Linux 4.13): the supplementary groups at connect(2) time.
    std::vector<gid_t> groups(64);
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (!p.allowed && ::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      for (gid_t g : groups) p.allowed = p.allowed || g == *group;
    }
  }
  return p;
}

}  // namespace lj::daemon
