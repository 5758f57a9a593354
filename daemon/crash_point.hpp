// Test seam: named points where ljd can be made to die by SIGKILL, to prove that recovery leaves
// nothing behind whatever instant ljd is killed at (tests/daemon/crash_*.cpp).
//
// Armed only by the environment, read once: LJD_CRASH_AT=<name> kills ljd the first time
// crash_point(<name>) runs; LJD_CRASH_AT=<name>:<n> the n-th time. Unarmed (production), a call
// is one load and one compare of an empty string. The names in use are listed in
// docs/index.md ("Crash points"); a test that names an unknown point simply never crashes, so
// the tests check that ljd did die.
//
// LJD_FAULT=<name>:<value>[,<name>:<value>...] arms injected faults, read once too; unarmed, a
// fault() call is one load and one compare. In use: teardown.delay_ms:<ms>, a sleep in every
// jail's teardown (on the worker), so a test can show that a slow teardown stalls nobody.
//
// LJD_RECOVERY_DELAY_MS=<ms> holds ljd in reconciliation (answering 503) that much longer after
// recovery is done, so that the 503 can be observed by a test; it is not a tuning knob.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <map>
#include <string>
#include <string_view>

namespace lj::daemon {

namespace detail {
struct CrashArm {
  std::string name;  // empty: unarmed
  long at = 1;       // the hit that kills
  std::atomic<long> hits{0};
  CrashArm() {
    const char* env = std::getenv("LJD_CRASH_AT");
    if (!env) return;
    name = env;
    if (auto colon = name.rfind(':'); colon != std::string::npos) {
      at = std::strtol(name.c_str() + colon + 1, nullptr, 10);
      name.resize(colon);
      if (at < 1) at = 1;
    }
  }
};
inline CrashArm& crash_arm() {
  static CrashArm arm;
  return arm;
}
}  // namespace detail

// Dies by SIGKILL here when armed for `name` (see above). Thread-safe.
inline void crash_point(std::string_view name) {
  detail::CrashArm& arm = detail::crash_arm();
  if (arm.name.empty() || arm.name != name) return;
  if (arm.hits.fetch_add(1) + 1 != arm.at) return;
  ::kill(::getpid(), SIGKILL);  // the whole process, not a thread (raise() targets a thread)
  ::pause();
}

namespace detail {
struct FaultArms {
  std::map<std::string, long, std::less<>> values;  // empty: unarmed
  FaultArms() {
    const char* env = std::getenv("LJD_FAULT");
    std::string_view rest = env ? env : "";
    while (!rest.empty()) {
      std::string_view item = rest.substr(0, rest.find(','));
      rest.remove_prefix(std::min(rest.size(), item.size() + 1));
      auto colon = item.rfind(':');
      if (colon == std::string_view::npos) continue;
      values[std::string(item.substr(0, colon))] =
          std::strtol(std::string(item.substr(colon + 1)).c_str(), nullptr, 10);
    }
  }
};
inline const FaultArms& fault_arms() {
  static const FaultArms arms;
  return arms;
}
}  // namespace detail

// The value LJD_FAULT gives `name` (see above), or 0 when it is not armed. Thread-safe.
inline long fault(std::string_view name) {
  const auto& v = detail::fault_arms().values;
  if (v.empty()) return 0;
  auto it = v.find(name);
  return it == v.end() ? 0 : it->second;
}

// LJD_RECOVERY_DELAY_MS (see above); zero when unset.
inline std::chrono::milliseconds recovery_delay() {
  const char* env = std::getenv("LJD_RECOVERY_DELAY_MS");
  return std::chrono::milliseconds(env ? std::strtol(env, nullptr, 10) : 0);
}

}  // namespace lj::daemon
