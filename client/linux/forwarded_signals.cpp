#include "client/forwarded_signals.hpp"

#include <sys/signalfd.h>
#include <unistd.h>

namespace lj::client {

ForwardedSignals::ForwardedSignals(const sigset_t& set) {
  ::sigprocmask(SIG_BLOCK, &set, nullptr);
  fd_.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
}

int ForwardedSignals::next() {
  signalfd_siginfo si;
  if (::read(fd_.get(), &si, sizeof si) != static_cast<ssize_t>(sizeof si)) return 0;
  return static_cast<int>(si.ssi_signo);
}

}  // namespace lj::client
