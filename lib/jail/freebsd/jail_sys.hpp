// Thin, typed wrappers over FreeBSD's jail(2) family, the process table and rctl(2), as the
// FreeBSD backend uses them. Every call goes through the syscall seam (LJ_SYS) and turns a failure
// into an lj::Error naming the call, its arguments, errno and, for jail_set(2)/jail_get(2), the
// kernel's own explanation (the "errmsg" parameter).
//
// Deliberately not libjail: its jail_errmsg is a process-wide buffer, so concurrent calls from the
// daemon's threads would garble each other's messages. A JailParams carries its own errmsg buffer.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace lj::jail::freebsd {

// A jail_set(2)/jail_get(2) name-value list with its own errmsg buffer. The iovec array points
// into this object: it is neither copyable nor movable. Safe to read from a forked child (the
// child's copy of the memory is consistent), which is why the backend builds it before pdfork(2).
class JailParams {
 public:
  JailParams();
  JailParams(const JailParams&) = delete;
  JailParams& operator=(const JailParams&) = delete;

  void str(const char* name, const std::string& value);           // NUL-terminated string value
  void integer(const char* name, int value);                      // int value
  void boolean(const char* name);                                 // "persist", "nopersist", ...
  void raw(const char* name, const void* data, std::size_t len);  // ip4.addr arrays, ...
  // After jail_get(2): the int the kernel wrote for `name` (given with integer()); nullopt when
  // no such parameter was given.
  std::optional<int> get_int(const char* name) const;

  // The list with "errmsg" last, for jail_set(2)/jail_get(2). Valid until the next mutation.
  struct iovec* iov();
  unsigned count() const { return static_cast<unsigned>(iov_.size()) + 2; }
  const char* errmsg() const { return errmsg_; }

 private:
  void push_name(const char* name);

  std::deque<std::string> strings_;  // deque: stable addresses as it grows
  std::deque<std::vector<unsigned char>> blobs_;
  std::vector<struct iovec> iov_;  // without the trailing errmsg pair
  std::vector<struct iovec> call_;
  char errmsg_[256];
};

// jail_set(2) in the calling (parent) process. Returns the jid.
Result<int> jail_set(JailParams& params, int flags, const std::string& what);

// The jid of the live jail called `name`; with dying = true also a jail being removed
// (JAIL_DYING). nullopt when there is none.
Result<std::optional<int>> find_jail(const std::string& name, bool dying = false);

// Before a jail is created inside `parent` (JailParameters::parent): the running jail of that
// name must exist, and its children.max is raised to children.cur + 1 when it has no room left
// (jail_set JAIL_UPDATE), as ocijail does; it is not lowered again (a parent outliving its
// children keeps the room). Errc::not_found when no such jail runs.
Status make_room_for_child(const std::string& parent);

// What the process table says about one process.
struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;                // ki_ppid
  int jid = 0;                   // ki_jid: 0 = the host
  std::uint64_t start_usec = 0;  // ki_start, microseconds since the epoch
  bool zombie = false;           // ki_stat == SZOMB
  bool stopped = false;          // ki_stat == SSTOP (SIGSTOP, a debugger)
};

// sysctl kern.proc.pid.<pid>; nullopt when there is no such process.
Result<std::optional<ProcInfo>> proc_info(pid_t pid);
// Every process whose ki_jid is `jid` (sysctl kern.proc.proc).
Result<std::vector<ProcInfo>> processes_in_jail(int jid);

// Kills every process of the jail called `name` (jail_remove(2)) and waits until none is left:
// jail_remove returns before its processes are gone, and a mount cannot be undone while they
// still hold it. The jail is looked up by name right before the call (jids are reused: never
// remove by a remembered jid). Success when no such jail exists. Errc::busy when processes are
// still there after `limit`.
Status remove_jail_and_wait(const std::string& name,
                            std::chrono::milliseconds limit = std::chrono::seconds(10));

// Waits until no jail called `name` exists, live or dying. A dying jail keeps its root
// directory's vnode (pr_root) until the kernel frees it, which happens only after its last
// process is reaped and its last credential released, and then in a task of its own: until then
// the root's unmount fails with EBUSY (seen in the FreeBSD 13 guest: docs/freebsd-guest.md).
// Errc::busy when the jail is still there after `limit`.
// `each_round` runs before every look (the caller's nudges: a devfs lookup, see teardown).
Status wait_jail_freed(const std::string& name,
                       std::chrono::milliseconds limit = std::chrono::seconds(10),
                       const std::function<void()>& each_round = {});

// Sends `sig` to every process of the jail called `name`. A process forked meanwhile can escape
// one pass, so SIGKILL is better done with remove_jail_and_wait().
Status signal_jail(const std::string& name, int sig);

// Stops every process of the jail called `name` where it is (frozen = true: SIGSTOP, pass after
// pass until one finds each live process stopped, so that a process forked meanwhile is caught by
// the next pass) or lets them go on (SIGCONT to each). FreeBSD has no freezer, so signals are the
// means (neither runj nor ocijail has a pause to follow); unlike Linux's cgroup freezer they can
// be seen from inside (a parent waiting with WUNTRACED learns of it; SIGCONT can be caught).
// Freezing: Errc::not_found when no such jail runs, Errc::busy when processes are still not
// stopped after `limit` (a fork loop outrunning the passes; the ones already stopped stay so, the
// caller decides). Thawing a jail that is gone succeeds: nothing is left stopped.
Status freeze_jail(const std::string& name, bool frozen,
                   std::chrono::milliseconds limit = std::chrono::seconds(2));

// ---- rctl(2) ----

// kern.racct.enable: resource accounting is a boot-time tunable (loader.conf), off by default.
bool racct_enabled();
// The error returned when limits are asked for and racct is off.
Error racct_disabled_error();

// rctl_add_rule(2) with one rule, e.g. "jail:web-1:memoryuse:sigkill=1073741824".
Status add_rctl_rule(const std::string& rule);
// rctl_remove_rule(2) with the filter "jail:<name>": every rule of the jail, which outlive the
// jail itself (they are keyed by name); with `resource` ("memoryuse", "maxproc"...) only the
// rules on it, "jail:<name>:<resource>". Success when there were none.
Status remove_rctl_rules(const std::string& name, const std::string& resource = {});

// How often the kernel message buffer holds `needle` (sysctl kern.msgbuf). Used to learn that an
// rctl "log" rule fired; 0 when the buffer cannot be read.
std::size_t count_in_msgbuf(const std::string& needle);

}  // namespace lj::jail::freebsd
