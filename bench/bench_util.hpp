// Small helpers shared by the bench programs: running a peer tool quietly, order statistics, and
// reading a process's RSS and CPU time from /proc.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lj::bench {

// Runs argv (argv[0] an absolute path) with stdout and stderr on /dev/null and waits for it.
// True when it exited 0.
bool run_quiet(const std::vector<std::string>& argv);

// The q-quantile (0..1) of `v` by nearest rank; sorts v. 0 for an empty v.
double quantile(std::vector<double>& v, double q);
inline double median(std::vector<double>& v) {
  return quantile(v, 0.5);
}

// VmRSS of pid in KiB (0 when unreadable).
long rss_kib(pid_t pid);
// utime + stime of pid in seconds, plus those of its reaped children (cutime + cstime) when
// with_children (-1 when unreadable). /proc counts in clock ticks (10 ms): sum many operations.
double cpu_seconds(pid_t pid, bool with_children = false);
// CPU seconds (user + system) of this process (every thread: lib/jail's helper threads work for
// the jails it spawns) and of its reaped children.
double self_and_children_cpu_seconds();

// `sh -c cmd` with its stderr dropped: its standard output.
std::string shell_output(const std::string& cmd);
// `sh -c cmd` with its output dropped: its status (as from system(3)).
int shell(const std::string& cmd);
// Gbit/s received by `prefix iperf3 -J -t secs -c host -p port` (prefix: e.g. "ip netns exec X "),
// from iperf3's JSON; 0 when it failed.
double iperf3_gbps(const std::string& prefix, const std::string& host, int port, int secs);

}  // namespace lj::bench
