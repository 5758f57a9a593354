// Exec: one more process in a jail that is already running (docker exec, runc exec), as plain
// data. The engine's primitive is Backend::exec (backend.hpp), which returns an Exec (there too);
// ljd's exec sessions and ljoci's `exec` are both built on it and nothing else.
//
// What the process joins (Linux): every namespace of the jail's init (pidfd-based setns(2), kernel
// 5.8; pid, mount and so its root, uts, ipc, net, cgroup, user when the jail has one; a jail whose
// root is a chroot in the caller's own mount namespace, JoinedNamespaces::mnt: the others, and a
// chroot into its init's root, /proc/PID/root), the jail's cgroup (counted in its pids and
// memory limits: clone3 CLONE_INTO_CGROUP on v2, `tasks` on v1), then the privileges the jail's
// command gets (ExecSpec::process and ::nofile, the same defaults as JailSpec's: the engine's
// capability set, no_new_privs, the engine's seccomp filter). It
// carries no descriptor of the caller's but its stdio and, with process.preserve_fds N (runc's
// exec --preserve-fds), the caller's 3 .. 3+N-1 at the same numbers. Its user is resolved in the jail's own
// /etc/passwd and /etc/group, a terminal is a pty of the jail's own devpts, as for a JailSpec.
// FreeBSD: jail_attach(2) in a pdfork(2)ed child (the jail found by name), a pty of the jail's
// devfs.
//
// Every exec has a monitor outside the jail (Linux: a process in the host's pid namespace running
// lj-init as "lj-exec"; it is what the handle names): it waits for the process, forwards signals
// to it, and writes how it ended to ExecSpec::status_file, so a caller that dies and comes back
// learns the exit code from there (Backend::adopt_exec). An exec dies with its jail: the kernel
// kills it when the jail's pid namespace ends (FreeBSD: jail_remove kills it).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/spec.hpp"

namespace lj::jail {

struct ExecSpec {
  // argv[0] resolved through PATH inside the jail (the PATH of env, else the default).
  std::vector<std::string> argv;
  std::vector<std::string> env;  // "KEY=value"; PATH gets a default when absent
  std::string workdir = "/";     // absolute, in the jail
  // JailSpec::user's forms ("name", "uid", optionally ":group"/":gid"), resolved in the jail's
  // /etc/passwd and /etc/group. Empty: uid 0, gid 0 (root in the jail), as docker exec's default.
  std::string user;
  Stdio stdio;                  // in, out, err (-1: /dev/null); out_read/err_read must stay -1
  std::optional<Terminal> tty;  // as JailSpec::tty: the master comes back on tty->socket
  // The jail's own: JailSpec::limits.nofile, and its ProcessOptions (capabilities, groups,
  // no_new_privs, rlimits, seccomp_bpf, preserve_fds; sysctl, oom_score_adj, hold_fd and the
  // hooks are the jail's and refused here). The caller passes what it started the jail with, so the exec gets exactly the
  // jail's command's privileges; an OCI runtime passes the exec's process.json instead.
  std::uint64_t nofile = 0;
  ProcessOptions process;
  // Host path the monitor writes "exited N\n" / "killed N\n" to, created (truncated) by the
  // caller's side before the start. Empty: none (the exit is then known only to this process).
  std::string status_file;
};

Status validate_exec_spec(const ExecSpec& spec);

// What identifies a live exec across a restart of its caller (persisted by ljd's index).
struct ExecHandle {
  pid_t pid = 0;                 // the monitor, in the host's pid namespace
  std::uint64_t start_time = 0;  // Linux /proc/PID/stat field 22 (pids are reused)
  pid_t process = 0;             // the exec'd process (host pid), informational
  std::string status_file;       // ExecSpec::status_file
};

}  // namespace lj::jail
