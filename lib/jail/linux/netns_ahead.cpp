#include "jail/linux/netns_ahead.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "jail/linux/child.hpp"
#include "jail/linux/raw_syscall.h"
#include "jail/one_fd_message.hpp"

namespace lj::jail {

bool NetnsAhead::start() noexcept {
  // A helper of an earlier start may still run, on the stack and CPU set replaced below.
  reap();
  CPU_ZERO(&other_);
  if (::sched_getaffinity(0, sizeof other_, &other_) != 0) return false;
  const int here = ::sched_getcpu();
  if (here >= 0 && here < CPU_SETSIZE) CPU_CLR(here, &other_);
  if (CPU_COUNT(&other_) == 0) return false;
  stack_.reset(new (std::nothrow) char[kStack]);
  if (!stack_) return false;
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return false;
  UniqueFd rx(sv[0]);
  tx_ = sv[1];
  int pidfd = -1;
  const int pid =
      ::clone(&NetnsAhead::make, stack_.get() + kStack, CLONE_VM | CLONE_PIDFD, this, &pidfd);
  ::close(tx_);  // ours: the helper has its copy, and its exit makes EOF
  if (pid < 0) return false;
  pidfd_.reset(pidfd);
  rx_ = std::move(rx);
  // Whichever of us runs first moves it (make() does the same): a new task starts on its
  // parent's CPU and may run there before we do.
  (void)::sched_setaffinity(pid, sizeof other_, &other_);
  return true;
}

// The helper: system calls only, errno untouched. The namespace is the helper's own (unshare),
// which it leaves by exiting; the descriptor in flight keeps it.
int NetnsAhead::make(void* self) noexcept {
  auto* a = static_cast<NetnsAhead*>(self);
  (void)lj_syscall(SYS_sched_setaffinity, 0, sizeof a->other_, reinterpret_cast<long>(&a->other_),
                   0, 0);
  int err = 0;
  if (lj_syscall(SYS_unshare, CLONE_NEWNET, 0, 0, 0, 0) != 0 || loopback_up(&err) != nullptr)
    return 1;
  const long fd = lj_syscall(SYS_openat, AT_FDCWD, reinterpret_cast<long>("/proc/self/ns/net"),
                             O_RDONLY | O_CLOEXEC, 0, 0);
  if (fd < 0) return 1;
  OneFdMessage m;
  m.carry(static_cast<int>(fd));
  (void)lj_syscall(SYS_sendmsg, a->tx_, reinterpret_cast<long>(&m.msg), MSG_NOSIGNAL, 0, 0);
  return 0;
}

void NetnsAhead::reap() noexcept {
  if (pidfd_.get() < 0) return;
  siginfo_t info;
  while (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.get()), &info, WEXITED | __WALL) != 0 &&
         errno == EINTR) {
  }
  pidfd_.reset();
  stack_.reset();
  tx_ = -1;
}

int receive_netns(int rx) noexcept {
  OneFdMessage m;
  long n;
  while ((n = lj_syscall(SYS_recvmsg, rx, reinterpret_cast<long>(&m.msg), MSG_CMSG_CLOEXEC, 0,
                         0)) == -EINTR) {
  }
  return m.carried(n);
}

}  // namespace lj::jail
