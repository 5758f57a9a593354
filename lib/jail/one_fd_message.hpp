// One byte with room for one descriptor (SCM_RIGHTS) on a UNIX socket: a terminal's master sent to
// its console socket (terminal.cpp), a network namespace sent to init by the helper that made it
// (linux/netns_ahead.cpp). No system call here: the callers make theirs (the helper raw ones).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

namespace lj::jail {

// Not copyable: msg points into it.
struct OneFdMessage {
  char byte = 0;
  struct iovec iov {};
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))] = {};
  struct msghdr msg {};

  OneFdMessage() {
    iov = {&byte, 1};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctl;
    msg.msg_controllen = sizeof ctl;
  }
  OneFdMessage(const OneFdMessage&) = delete;
  OneFdMessage& operator=(const OneFdMessage&) = delete;

  // To send `fd` with the byte.
  void carry(int fd) noexcept {
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    __builtin_memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  // The descriptor a message of `received` bytes carried, or -1.
  int carried(long received) const noexcept {
    const struct cmsghdr* c = received == 1 ? CMSG_FIRSTHDR(&msg) : nullptr;
    if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
        c->cmsg_len != CMSG_LEN(sizeof(int)) || (msg.msg_flags & MSG_CTRUNC) != 0)
      return -1;
    int fd;
    __builtin_memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
  }
};

}  // namespace lj::jail
