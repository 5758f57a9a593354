#include "oci/config.hpp"
#include "oci/state.hpp"

#include "jail/freebsd/jail_sys.hpp"

namespace lj::oci {

Platform host_platform() { return Platform::freebsd_host; }

// kern.proc.pid (no procfs: FreeBSD hosts seldom mount /proc). A failed sysctl reads as gone,
// as an unreadable /proc/PID/stat does on Linux.
bool process_lives(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return false;  // kern.proc.pid.0 is the kernel's own
  auto info = jail::freebsd::proc_info(pid);
  return info && *info && !(*info)->zombie && (*info)->start_usec == start_time;
}

}  // namespace lj::oci
