#include <sys/socket.h>
#include <sys/types.h>
#include <sys/ucred.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon/peer.hpp"

namespace lj::daemon {

// LOCAL_PEERCRED (unix(4)): the credentials at connect(2) time, supplementary groups included.
Result<Peer> peer_credentials(int fd, std::optional<gid_t> group) {
  xucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_LOCAL, LOCAL_PEERCRED, &cred, &len) != 0) {
    return fail_errno("api", "getsockopt(LOCAL_PEERCRED)");
  }
  Peer p;
  p.uid = cred.cr_uid;
  p.gid = cred.cr_ngroups > 0 ? cred.cr_groups[0] : static_cast<gid_t>(-1);
  p.pid = cred.cr_pid;
  p.allowed = cred.cr_uid == 0 || cred.cr_uid == ::geteuid();
  for (int i = 0; !p.allowed && group && i < cred.cr_ngroups; ++i) {
    p.allowed = cred.cr_groups[i] == *group;
  }
  return p;
}

}  // namespace lj::daemon
