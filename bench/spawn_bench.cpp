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

#include "jail/backend.hpp"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct Stats {
  std::string name;
  double median_ms = 0, p99_ms = 0;
  int failures = 0;
};

bool run_cmd(const std::vector<std::string>& argv) {
  std::vector<char*> a;
  for (const auto& s : argv) a.push_back(const_cast<char*>(s.c_str()));
  a.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawn(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return false;
  int ws = 0;
  waitpid(pid, &ws, 0);
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

Stats measure(const std::string& name, int n, const std::function<bool()>& once) {
  Stats s;
  s.name = name;
  for (int i = 0; i < 5; ++i) once();  // warm-up: page cache, dentries, cgroup parents
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    auto t0 = Clock::now();
    bool ok = once();
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!ok) ++s.failures;
  }
  std::sort(ms.begin(), ms.end());
  s.median_ms = ms[ms.size() / 2];
  s.p99_ms = ms[std::min(ms.size() - 1, ms.size() * 99 / 100)];
  return s;
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
  auto backend = lj::jail::make_backend();
  if (!backend) {
    std::fprintf(stderr, "%s\n", backend.error().what().c_str());
    return 1;
  }
  std::vector<Stats> all;
  int seq = 0;
  auto libjail = [&](bool ro) {
    return [&, ro] {
      lj::jail::JailSpec spec;
      spec.name = "bench-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
      spec.root.lower = {world};
      spec.root.read_only = ro;
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
  all.push_back(measure("libjail-overlay", n, libjail(false)));
  all.push_back(measure("libjail-robind", n, libjail(true)));
  all.push_back(measure("ljspawn", n, [&] {
    return run_cmd({ljspawn, "-d", world, "--ephemeral", "--", "/bin/true"});
  }));
  if (access("/usr/bin/bwrap", X_OK) == 0) {
    all.push_back(measure("bwrap", n, [&] {
      return run_cmd({"/usr/bin/bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", world,
                      "/", "--dev", "/dev", "--proc", "/proc", "/bin/true"});
    }));
  }
  if (!bundle.empty() && access("/usr/bin/crun", X_OK) == 0) {
    all.push_back(measure("crun", n, [&] {
      return run_cmd({"/usr/bin/crun", "run", "--bundle", bundle,
                      "lj-bench-" + std::to_string(getpid()) + "-" + std::to_string(seq++)});
    }));
  }
  double bwrap = 0;
  for (const auto& s : all)
    if (s.name == "bwrap") bwrap = s.median_ms;
  std::printf("spawn-to-reap of /bin/true, %d runs each\n", n);
  std::printf("%-16s %10s %10s %10s %8s\n", "", "median ms", "p99 ms", "vs bwrap", "failed");
  for (const auto& s : all) {
    char ratio[32] = "-";
    if (bwrap > 0) std::snprintf(ratio, sizeof ratio, "%.2fx", s.median_ms / bwrap);
    std::printf("%-16s %10.3f %10.3f %10s %8d\n", s.name.c_str(), s.median_ms, s.p99_ms, ratio,
                s.failures);
  }
  return 0;
}
