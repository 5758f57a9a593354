#include "bench_util.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

extern char** environ;

namespace lj::bench {

bool run_quiet(const std::vector<std::string>& argv) {
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
  while (waitpid(pid, &ws, 0) < 0) {
  }
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

double quantile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto i = static_cast<std::size_t>(q * static_cast<double>(v.size()));
  return v[std::min(v.size() - 1, i)];
}

namespace {
// The whole of a small /proc file ("" when unreadable). Plain read(2): libstdc++'s streams trip
// GCC 12's -Wnull-dereference.
std::string slurp(const std::string& path) {
  std::string out;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}
}  // namespace

long rss_kib(pid_t pid) {
  std::string s = slurp("/proc/" + std::to_string(pid) + "/status");
  auto p = s.find("\nVmRSS:");
  return p == std::string::npos ? 0 : std::strtol(s.c_str() + p + 7, nullptr, 10);
}

double cpu_seconds(pid_t pid, bool with_children) {
  std::string s = slurp("/proc/" + std::to_string(pid) + "/stat");
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  auto p = s.rfind(')');
  if (p == std::string::npos) return -1;
  const char* c = s.c_str() + p + 1;
  unsigned long long utime = 0, stime = 0;
  long long cutime = 0, cstime = 0;
  // Field 3 is the state; 14 and 15 are utime and stime, 16 and 17 cutime and cstime, in ticks.
  if (std::sscanf(c, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld", &utime,
                  &stime, &cutime, &cstime) != 4)
    return -1;
  double ticks = static_cast<double>(utime + stime);
  if (with_children) ticks += static_cast<double>(cutime + cstime);
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double self_and_children_cpu_seconds() {
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  rusage self{}, kids{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &kids);
  return secs(self.ru_utime) + secs(self.ru_stime) + secs(kids.ru_utime) + secs(kids.ru_stime);
}

std::string shell_output(const std::string& cmd) {
  std::string out;
  FILE* p = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (!p) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  ::pclose(p);
  return out;
}

int shell(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

double iperf3_gbps(const std::string& prefix, const std::string& host, int port, int secs) {
  std::string j = shell_output(prefix + "iperf3 -J -t " + std::to_string(secs) + " -c " + host +
                               " -p " + std::to_string(port));
  auto at = j.find("\"sum_received\"");
  if (at == std::string::npos) return 0;
  at = j.find("\"bits_per_second\"", at);
  if (at == std::string::npos) return 0;
  return std::atof(j.c_str() + j.find(':', at) + 1) / 1e9;
}

}  // namespace lj::bench
