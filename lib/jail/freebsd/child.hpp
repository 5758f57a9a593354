// The first process of a FreeBSD jail, and of an exec into one: a pdfork(2)ed child of the
// (multi-threaded) daemon that enters the jail, takes its stdio or a terminal of the jail's devfs,
// becomes the command's user and execs. Only async-signal-safe work: every string, iovec and
// ioctl argument is prepared by the parent before the fork (ChildPlan).
//
// The steps, in order (run_child):
//   1. signals back to their defaults and an empty mask; setsid
//   2. enter the jail: jail_set(JAIL_CREATE | JAIL_ATTACH) for a spawn (the jail is made with
//      this process), jail_attach(2) by jid for an exec; either chroots to the jail's path
//   3. lo0 up in a fresh VNET (spawn); with a VNET hook, wait for the parent's go (the jail's
//      links moved in by then)
//   4. the user, resolved in the jail's own /etc/passwd and /etc/group (user_lookup.hpp)
//   5. a terminal (posix_openpt inside the jail, its master sent back), or the given stdio
//   5b. the createContainer hooks (ProcessOptions::create_hooks), as root inside the jail
//   6. RLIMIT_NOFILE; the working directory made when asked (still root)
//   7. setlogin, setgroups, setgid, setuid (uid last: it drops root); chdir; the
//      startContainer hooks (start_hooks, with the command's ids); execve
//   7b. held (ProcessOptions::hold_fd, ljoci's create): the executable found, the report pipe
//      closed (the spawn returns), one byte read from the hold descriptor, the startContainer
//      hooks, then execve
// Each step that fails writes a ChildReport (the step, errno and the kernel's errmsg) on the
// close-on-exec report pipe and _exit(127)s: EOF on the pipe after a jid means execve succeeded,
// or, held, that the command waits for its start byte. After the hold nobody reads the pipe: a
// failure there is a line on the command's stderr and 127, as on Linux.
#pragma once

#include <sys/types.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include <cstddef>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/freebsd/net.hpp"
#include "jail/hook_run.hpp"

namespace lj::jail::freebsd {

// One record on the report pipe. Well under PIPE_BUF, so each write is atomic.
struct ChildReport {
  // jid: the jail was entered (jid_value); pid: an exec's monitor started its process
  // (pid_value); failed: the step that failed (then _exit(127)).
  enum Kind : int { jid = 1, failed = 2, pid = 3 };
  int kind = 0;
  int err = 0;
  int jid_value = 0;
  int pid_value = 0;
  char step[32] = {};
  char errmsg[256] = {};
};

// Everything the child needs, made by the parent before pdfork(2).
struct ChildPlan {
  // Spawn: the jail_set(2) parameters (JAIL_CREATE | JAIL_ATTACH). Exec: attach_jid > 0 and
  // jail_attach(2) instead.
  struct iovec* iov = nullptr;
  unsigned niov = 0;
  const char* jail_errmsg = nullptr;  // the JailParams buffer jail_set writes into
  int attach_jid = 0;
  bool vnet = false;
  VnetLoopback lo;
  // Spawn with Network::on_vnet: once the jail exists (its jid reported) and lo0 is up, the child
  // waits for one byte on go_fd, the parent's word that the jail's links are in; EOF (the parent
  // failed to set them up and reports it) ends the child with nothing run. go_peer is the
  // parent's end, closed here first so that EOF can come.
  int go_fd = -1, go_peer = -1;
  int stdio[3] = {-1, -1, -1};
  int report_fd = -1;
  const char* workdir = "/";
  bool make_workdir = false;  // JailSpec::make_workdir
  const char* login = nullptr;
  uid_t uid = 0;
  gid_t gid = 0;
  const char* user = nullptr;  // JailSpec::user, resolved in the child once inside the jail
  bool tty = false;            // a pty for stdio, its master sent on console_fd
  int console_fd = -1;
  unsigned short tty_rows = 0, tty_cols = 0;
  bool set_nofile = false;
  struct rlimit nofile {};
  // ProcessOptions::hold_fd: the start byte is read here (step 7b); -1: exec at once. Moved to
  // descriptor 4, close-on-exec, and closed before the execve: it never reaches the command.
  int hold_fd = -1;
  // The runtime spec's hooks "in the container namespace": inside the jail (its root assembled,
  // its network up), each with the jail's first process's pid in its state: step 5b and 7.
  // Empty for an exec.
  PreparedHooks create_hooks, start_hooks;
  std::vector<const char*> candidates;  // execve paths to try, in order
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// A command as the child execs it: argv and the environment (PATH defaulted) owned here, with
// the NULL-terminated arrays and the execve candidates (PATH resolved by the parent: execvp(3)
// is not async-signal-safe) pointing into them. Neither copyable nor movable, for those pointers.
struct ChildCommand {
  ChildCommand(std::vector<std::string> argv, const std::vector<std::string>& env);
  ChildCommand(const ChildCommand&) = delete;
  ChildCommand& operator=(const ChildCommand&) = delete;
  // Points p.argv, p.envp and p.candidates here.
  void into(ChildPlan& p) const;

  const std::vector<std::string> argv_s, env_s, candidates_s;

 private:
  std::vector<char*> argv_, envp_;
};

// Copies at most cap-1 bytes of src and a NUL; async-signal-safe.
void copy_cstr(char* dst, std::size_t cap, const char* src) noexcept;

// Writes a failure record for `step` on fd and _exit(127)s.
[[noreturn]] void child_fail(int fd, const char* step, int err, const char* errmsg = nullptr) noexcept;

// The steps above; never returns.
[[noreturn]] void run_child(ChildPlan& p) noexcept;

// The parent's reading of a failure record: a user or group the jail lacks (resolve user, errno
// 0) is Errc::invalid_argument, as on Linux; execve is Errc::exec_failed (API jail.exec_failed,
// ljspawn 126/127); a hook that failed Errc::system (timed out: Errc::timed_out) with its path
// and status, as on Linux; any other step a system error naming the step and the kernel's errmsg.
Error child_error(const ChildReport& r, const std::string& ctx, const std::string& argv0);

}  // namespace lj::jail::freebsd
