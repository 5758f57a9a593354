// Runs a callable when the scope ends, unless dismissed: the unwinding half of a multi-step setup.
#pragma once

#include <memory>
#include <utility>
#include <vector>

namespace lj {

template <class F>
class ScopeExit {
 public:
  explicit ScopeExit(F f) : f_(std::move(f)) {}
  ScopeExit(const ScopeExit&) = delete;
  ScopeExit& operator=(const ScopeExit&) = delete;
  ~ScopeExit() {
    if (armed_) f_();
  }
  void dismiss() { armed_ = false; }

 private:
  F f_;
  bool armed_ = true;
};

// Keeps an object for the rest of the process, never destroyed: for objects whose destructors
// would undo what the process hands over as it exits (a Jail's kills its jail: ljd leaving its
// jails to the next ljd, ljoci leaving a container to its caller). Reachable from here, so the
// intent is written down and LeakSanitizer does not report a leak.
template <class T>
void keep_forever(std::unique_ptr<T> p) {
  static auto* kept = new std::vector<std::unique_ptr<T>>();  // never destroyed
  kept->push_back(std::move(p));
}

}  // namespace lj
