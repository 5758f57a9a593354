// The time a sequence of steps took, step by step, for a debug log line ("plan=120us row=80us"):
// where a start or an exit spends its time is read from ljd's own log (bench/net --ljd-log debug).
#pragma once

#include <fmt/format.h>

#include <chrono>
#include <string>

namespace lj {

class Laps {
 public:
  using Clock = std::chrono::steady_clock;

  // Ends the step running since the last lap (or the start) and names it.
  void lap(const char* what) {
    const auto now = Clock::now();
    text_ += fmt::format("{}{}={}us", text_.empty() ? "" : " ", what, us(now - last_));
    last_ = now;
  }
  // "a=1us b=2us", the steps so far.
  const std::string& text() const { return text_; }
  // Microseconds since the start.
  long long total_us() const { return us(Clock::now() - start_); }

 private:
  static long long us(Clock::duration d) {
    return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
  }
  Clock::time_point start_ = Clock::now(), last_ = start_;
  std::string text_;
};

}  // namespace lj
