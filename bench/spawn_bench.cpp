// Spawn-to-reap of /bin/true, measured in one run beside the peers:
//   libjail-overlay  Backend::spawn + wait, ephemeral overlay root (what the daemon pays)
//   libjail-robind   the same with a read-only bind root (bwrap's shape)
//   ljspawn          the command-line tool, exec'd per jail
//   bwrap            bwrap --unshare-all --ro-bind WORLD / --dev /dev --proc /proc (when installed)
//   crun             crun run on an OCI bundle of the world, inside a private mount namespace with
//                    the empty cgroup2 mount hidden (crun refuses hybrid hierarchies otherwise)
// Usage: spawn_bench WORLD LJSPAWN [N]   (bench/run prepares the world)
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bench_util.hpp"
#include "jail/backend.hpp"

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  std::string name;
  double median_ms = 0, p99_ms = 0;
  int failures = 0;
};

struct Variant {
  std::string name;
  std::function<bool()> once;
  std::vector<double> ms;
  int failures = 0;
};

// Round-robin: one run of every variant per round, so that load changes on a shared machine
// hit all variants alike and the ratios stay meaningful even when the absolute figures move.
std::vector<Stats> measure(std::vector<Variant>& vs, int n) {
  for (auto& v : vs)
    for (int i = 0; i < 5; ++i) v.once();  // warm-up: page cache, dentries, cgroup parents
  for (int i = 0; i < n; ++i)
    for (auto& v : vs) {
      auto t0 = Clock::now();
      bool ok = v.once();
      v.ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      if (!ok) ++v.failures;
    }
  std::vector<Stats> out;
  for (auto& v : vs) {
    std::sort(v.ms.begin(), v.ms.end());
    Stats s;
    s.name = v.name;
    s.failures = v.failures;
    s.median_ms = v.ms[v.ms.size() / 2];
    s.p99_ms = v.ms[std::min(v.ms.size() - 1, v.ms.size() * 99 / 100)];
    out.push_back(s);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: spawn_bench WORLD LJSPAWN [N] [CRUN_BUNDLE]\n");
    return 2;
  }
  const std::string world = argv[1], ljspawn = argv[2];
  const int n = argc > 3 ? std::atoi(argv[3]) : 200;
  const std::string bundle = argc > 4 ? argv[4] : "";
  auto backend = lj::jail::make_backend({});
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().what().c_str());
    return 1;
  }
  std::vector<Variant> vs;
  int seq = 0;
  auto libjail = [&](bool ro) {
    return [&, ro] {
      lj::jail::JailSpec spec;
      spec.name = "bench-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
      spec.root.layers = {world};
      if (ro) spec.root.writable = lj::jail::WritableLayer::none();
      spec.argv = {"/bin/true"};
      auto j = (*backend)->spawn(spec);
      if (!j) {
        std::fprintf(stderr, "%s\n", j.error().what().c_str());
        return false;
      }
      auto st = (*j)->wait();
      return st && st->code == 0;
    };
  };
  vs.push_back({"libjail-overlay", libjail(false), {}, 0});
  vs.push_back({"libjail-robind", libjail(true), {}, 0});
  vs.push_back(
      {"ljspawn",
       [&] {
         return lj::bench::run_quiet({ljspawn, "-d", world, "--ephemeral", "--", "/bin/true"});
       },
       {},
       0});
  if (access("/usr/bin/bwrap", X_OK) == 0) {
    vs.push_back({"bwrap",
                  [&] {
                    return lj::bench::run_quiet({"/usr/bin/bwrap", "--unshare-all",
                                                 "--die-with-parent", "--ro-bind", world, "/",
                                                 "--dev", "/dev", "--proc", "/proc", "/bin/true"});
                  },
                  {},
                  0});
  }
  if (!bundle.empty() && access("/usr/bin/crun", X_OK) == 0) {
    vs.push_back({"crun",
                  [&] {
                    return lj::bench::run_quiet(
                        {"/usr/bin/crun", "run", "--bundle", bundle,
                         "lj-bench-" + std::to_string(getpid()) + "-" + std::to_string(seq++)});
                  },
                  {},
                  0});
  }
  std::vector<Stats> all = measure(vs, n);
  double bwrap = 0;
  for (const auto& s : all)
    if (s.name == "bwrap") bwrap = s.median_ms;
  std::printf("spawn-to-reap of /bin/true, %d rounds (one run of each per round)\n", n);
  std::printf("%-16s %10s %10s %10s %8s\n", "", "median ms", "p99 ms", "vs bwrap", "failed");
  for (const auto& s : all) {
    char ratio[32] = "-";
    if (bwrap > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", s.median_ms / bwrap);
    std::printf("%-16s %10.3f %10.3f %10s %8d\n", s.name.c_str(), s.median_ms, s.p99_ms, ratio,
                s.failures);
  }
  return 0;
}
