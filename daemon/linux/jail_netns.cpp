#include "daemon/networks.hpp"
#include "net/linux/netns.hpp"

namespace lj::daemon {

Result<UniqueFd> new_jail_netns() {
  return net::new_netns();
}

}  // namespace lj::daemon
