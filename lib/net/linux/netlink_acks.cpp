#include "net/linux/netlink_acks.hpp"

#include <sys/socket.h>

#include <linux/netlink.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace lj::net {

Status read_acks(int fd, std::set<std::uint32_t> pending,
                 const std::function<std::string(std::uint32_t seq)>& what) {
  Status result;
  std::vector<std::uint8_t> in(16384);
  bool failed = false;
  while (!pending.empty()) {
    const ssize_t n = ::recv(fd, in.data(), in.size(), failed ? MSG_DONTWAIT : 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (failed && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      return fail_errno("net", "reading the answers to a netlink batch");
    }
    // Parsed by hand: the NLMSG_* macros cast in C's way.
    const auto size = static_cast<std::size_t>(n);
    constexpr std::size_t kHeader = NLMSG_ALIGN(sizeof(nlmsghdr));
    for (std::size_t off = 0; off + kHeader <= size;) {
      nlmsghdr h;
      std::memcpy(&h, in.data() + off, sizeof h);
      if (h.nlmsg_len < sizeof h || off + h.nlmsg_len > size) break;
      if (h.nlmsg_type == NLMSG_ERROR && h.nlmsg_len >= kHeader + sizeof(nlmsgerr)) {
        nlmsgerr err;
        std::memcpy(&err, in.data() + off + kHeader, sizeof err);
        pending.erase(h.nlmsg_seq);
        if (err.error != 0 && !failed) {
          failed = true;
          result = fail(Error::from_errno("net", what(h.nlmsg_seq), -err.error));
        }
      }
      off += NLMSG_ALIGN(h.nlmsg_len);
    }
  }
  return result;
}

}  // namespace lj::net
