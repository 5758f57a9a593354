#include "jail/terminal.hpp"

#include <cerrno>

#include "jail/one_fd_message.hpp"

namespace lj::jail {

int send_terminal(int socket, int fd) noexcept {
  OneFdMessage m;
  m.carry(fd);
  ssize_t n;
  while ((n = ::sendmsg(socket, &m.msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n == 1 ? 0 : n < 0 ? errno : EIO;
}

Result<UniqueFd> receive_terminal(int socket) {
  OneFdMessage m;
  ssize_t n;
  while ((n = ::recvmsg(socket, &m.msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return fail_errno("jail", "recvmsg the terminal's master");
  const int fd = m.carried(n);
  if (fd < 0) return fail(Errc::system, "jail", "the console socket carried no terminal");
  return UniqueFd(fd);
}

}  // namespace lj::jail
