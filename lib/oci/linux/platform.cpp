#include <fstream>
#include <sstream>
#include <string>

#include "oci/config.hpp"
#include "oci/state.hpp"

namespace lj::oci {

Platform host_platform() { return Platform::linux_host; }

bool process_lives(pid_t pid, std::uint64_t start_time) {
  std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(st, line)) return false;
  const auto rp = line.rfind(')');
  if (rp == std::string::npos || rp + 2 >= line.size()) return false;
  std::istringstream fields(line.substr(rp + 2));
  std::string state, f;
  fields >> state;
  for (int i = 4; i < 22; ++i) fields >> f;
  std::uint64_t start = 0;
  fields >> start;
  return state != "Z" && state != "X" && start == start_time;
}

std::string engine_status_file(const StateDir&, const std::string&) { return {}; }

lj::Status watch_exit(const ContainerState&) { return {}; }

Result<std::vector<pid_t>> container_pids(const ContainerState& s) {
  std::vector<pid_t> pids;
  std::string dirs = s.handle.cgroup;
  const std::string first = dirs.substr(0, dirs.find(';'));
  if (first.empty()) return fail(Errc::unsupported, "oci", "container " + s.id + " has no cgroup");
  std::ifstream in(first + "/cgroup.procs");
  if (!in) return lj::fail_errno("oci", "open " + first + "/cgroup.procs");
  for (pid_t p; in >> p;) pids.push_back(p);
  return pids;
}

const char* default_ps_args() { return "-ef"; }

}  // namespace lj::oci
