#include "client/forwarded_signals.hpp"

#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <fcntl.h>

#include <vector>

namespace lj::client {

ForwardedSignals::ForwardedSignals(const sigset_t& set) {
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  UniqueFd kq(::kqueue());
  if (!kq || ::fcntl(kq.get(), F_SETFD, FD_CLOEXEC) != 0) return;
  std::vector<struct kevent> changes;
  for (int s = 1; s < NSIG; ++s) {
    if (sigismember(&set, s) != 1) continue;
    struct kevent ev;
    EV_SET(&ev, static_cast<uintptr_t>(s), EVFILT_SIGNAL, EV_ADD, 0, 0, nullptr);
    changes.push_back(ev);
  }
  if (::kevent(kq.get(), changes.data(), static_cast<int>(changes.size()), nullptr, 0, nullptr) !=
      0)
    return;
  fd_ = std::move(kq);
}

int ForwardedSignals::next() {
  struct kevent ev;
  const struct timespec now = {0, 0};
  if (::kevent(fd_.get(), nullptr, 0, &ev, 1, &now) != 1) return 0;
  // A signal sent N times before this read is one event (ev.data counts them): the command gets
  // it once, as a blocked signal would have been delivered once.
  return static_cast<int>(ev.ident);
}

}  // namespace lj::client
