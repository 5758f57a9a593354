#include "sys.hpp"

#include <mutex>
#include <string>
#include <vector>

namespace lj::sys {
namespace detail {
std::atomic<bool> armed{false};
}  // namespace detail

namespace {
struct Fault {
  std::string name;
  int err;
  int countdown;
};
std::mutex g_mu;             // guards g_faults and g_fired
std::vector<Fault> g_faults;
int g_fired = 0;
}  // namespace

void inject_fault(std::string_view name, int err, int nth) {
  std::lock_guard lock(g_mu);
  g_faults.push_back({std::string(name), err, nth});
  detail::armed.store(true, std::memory_order_relaxed);
}

void clear_faults() {
  std::lock_guard lock(g_mu);
  g_faults.clear();
  g_fired = 0;
  detail::armed.store(false, std::memory_order_relaxed);
}

int faults_fired() {
  std::lock_guard lock(g_mu);
  return g_fired;
}

bool detail::take_fault(std::string_view name, int* err) {
  std::lock_guard lock(g_mu);
  for (auto it = g_faults.begin(); it != g_faults.end(); ++it) {
    if (it->name != name) continue;
    if (it->countdown-- > 0) continue;
    *err = it->err;
    g_faults.erase(it);
    ++g_fired;
    if (g_faults.empty()) detail::armed.store(false, std::memory_order_relaxed);
    return true;
  }
  return false;
}

}  // namespace lj::sys
