#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <signal.h>
#include <sys/event.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/status_file.hpp"
#include "oci/config.hpp"
#include "oci/state.hpp"

namespace lj::oci {

Platform host_platform() { return Platform::freebsd_host; }

// kern.proc.pid (no procfs: FreeBSD hosts seldom mount /proc). A failed sysctl reads as gone,
// as an unreadable /proc/PID/stat does on Linux.
bool process_lives(pid_t pid, std::uint64_t start_time) {
  if (pid <= 0) return false;  // kern.proc.pid.0 is the kernel's own
  auto info = jail::freebsd::proc_info(pid);
  return info && *info && !(*info)->zombie && (*info)->start_usec == start_time;
}

namespace {

// The watcher itself, in the grandchild: nothing of ljoci's kept (stdio to /dev/null, every
// other descriptor closed, the jail's process descriptor among them: its last close is what
// leaves the process to the reaper, docs/freebsd.md), the watch set, "1" on `ready`, then the
// wait and the file's line, then exit.
[[noreturn]] void watch(pid_t pid, int ready, const std::string& path) {
  const int keep = ::fcntl(ready, F_DUPFD, 64);
  const int null = ::open("/dev/null", O_RDWR);
  if (keep < 0 || null < 0) ::_exit(1);
  for (int fd = 0; fd < 3; ++fd) (void)::dup2(null, fd);
  if (::dup2(keep, 3) != 3) ::_exit(1);
  ::closefrom(4);
  const int kq = ::kqueue();
  struct kevent ev;
  EV_SET(&ev, static_cast<uintptr_t>(pid), EVFILT_PROC, EV_ADD | EV_ONESHOT, NOTE_EXIT, 0, nullptr);
  const bool watching = kq >= 0 && ::kevent(kq, &ev, 1, nullptr, 0, nullptr) == 0;
  (void)!::write(3, watching ? "1" : "0", 1);
  ::close(3);
  if (!watching) ::_exit(1);
  for (;;) {
    const int n = ::kevent(kq, nullptr, 0, &ev, 1, nullptr);
    if (n == 1) break;
    if (n < 0 && errno != EINTR) ::_exit(1);
  }
  // EVFILT_PROC's NOTE_EXIT gives the wait(2) status of a process that is not our child.
  const std::string line = jail::status_line(jail::exit_status_of_wait(static_cast<int>(ev.data)));
  // Into the file the spawn made (empty: "not known yet"), never creating one: the container may
  // be deleted right now (its caller reaped the same exit), and a file made meanwhile would be
  // left behind in the root. One write(2) of one short line, as lj-init's.
  const int fd = ::open(path.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC);
  if (fd < 0) ::_exit(0);  // deleted first: nothing to write to
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  ::_exit(written ? 0 : 1);
}

}  // namespace

std::string engine_status_file(const StateDir& sd, const std::string& id) {
  return sd.exit_file(id).string();
}

// FreeBSD has no lj-init: once `create` has exited, the container's process (the command itself)
// is its reaper's child alone, and its status goes to the reaper's wait(2). The exit file is
// written by a watcher of ljoci's own: forked twice (its parent exits at once, so it is an orphan
// of the reaper, conmon's or the shim's, which reaps it as it reaps any), in a session of its own
// (a terminal's signals to the caller's group do not reach it), holding nothing of ljoci's, on the
// host (not in the jail: nothing in the container can see or signal it). kqueue's EVFILT_PROC
// watches a process that is not its child, as Backend::adopt does. The watch is set while the
// process is still held (create has not returned), so no end can come before it.
lj::Status watch_exit(const ContainerState& s) {
  const std::string& path = s.handle.status_file;
  if (path.empty()) return {};
  const pid_t pid = s.handle.pid;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return lj::fail_errno("oci", "pipe2 (exit watcher)");
  UniqueFd ready_r(fds[0]), ready_w(fds[1]);
  const pid_t child = ::fork();
  if (child < 0) return lj::fail_errno("oci", "fork (exit watcher)");
  if (child == 0) {
    (void)::setsid();
    const pid_t watcher = ::fork();
    if (watcher != 0) ::_exit(watcher < 0 ? 1 : 0);
    watch(pid, ready_w.get(), path);
  }
  ready_w.reset();
  int ws = 0;
  while (::waitpid(child, &ws, 0) < 0 && errno == EINTR) {
  }
  char ok = 0;
  ssize_t n;
  do n = ::read(ready_r.get(), &ok, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1 || ok != '1')
    return fail(Errc::internal, "oci",
                "the exit watcher of pid " + std::to_string(pid) + " could not watch it");
  return {};
}

// Every live process whose jail is the container's (found by name: jids are reused). None once
// the jail is gone, as runc's ps of a stopped container lists none.
Result<std::vector<pid_t>> container_pids(const ContainerState& s) {
  std::vector<pid_t> pids;
  auto jid = LJ_TRY(jail::freebsd::find_jail(s.handle.name));
  if (!jid) return pids;
  const auto procs = LJ_TRY(jail::freebsd::processes_in_jail(*jid));
  for (const auto& p : procs)
    if (!p.zombie) pids.push_back(p.pid);
  return pids;
}

const char* default_ps_args() { return "-axww -o user,pid,ppid,jid,stat,start,time,command"; }

}  // namespace lj::oci
