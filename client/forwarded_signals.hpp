// The signals ljspawn passes on to its command, as one descriptor that poll(2) reports readable
// while one is pending. They are blocked in ljspawn, so they do not end it; the jail's processes
// start with their own mask. Linux: signalfd(2) (linux/forwarded_signals.cpp); FreeBSD: a kqueue
// with an EVFILT_SIGNAL per signal (freebsd/forwarded_signals.cpp), which records a signal sent
// to the process even while it is blocked (kqueue(2)).
#pragma once

#include <signal.h>

#include "common/fd.hpp"

namespace lj::client {

class ForwardedSignals {
 public:
  // Blocks `set` and opens the descriptor; fd() is -1 when it cannot be had (the signals then
  // stay blocked and are not passed on).
  explicit ForwardedSignals(const sigset_t& set);

  int fd() const { return fd_.get(); }
  // The next signal received, 0 when none is pending. Call when fd() is readable.
  int next();

 private:
  UniqueFd fd_;
};

}  // namespace lj::client
