// The FreeBSD side of Backend::exec and adopt_exec (jail/exec.hpp): one more process in a running
// jail.
//
// ljd pdfork(2)s a monitor (PD_DAEMON: it outlives the descriptor, so an exec survives a restart
// of its caller, as Linux's lj-exec does); the monitor stays on the host, in a session of its own,
// and pdforks the process, which jail_attach(2)es the jail by its jid and then takes the same
// steps as a jail's first process (child.hpp: the user from the jail's /etc/passwd, a terminal of
// the jail's devfs, stdio, RLIMIT_NOFILE, ids, working directory, execve). The monitor forwards
// the signals it gets to the process (kqueue EVFILT_SIGNAL), waits for it (EVFILT_PROCDESC, whose
// data is the wait status) and writes how it ended on a pipe to its caller and to
// ExecSpec::status_file, then exits. An exec dies with its jail (jail_remove kills it) and counts
// in the jail's rctl limits (they are keyed by the jail).
#pragma once

#include <memory>

#include "common/error.hpp"
#include "jail/backend.hpp"

namespace lj::jail::freebsd {

// Starts spec in the jail `jail` names (its main process jail.pid with jail.start_time, in the
// live jail jail.name); returns once the process has exec'd. Errors as Backend::exec.
Result<std::unique_ptr<Exec>> exec_in_jail(const JailHandle& jail, const ExecSpec& spec);

// An exec of an earlier process, from its handle: Errc::not_found when its monitor is gone (its
// end is then in handle.status_file).
Result<std::unique_ptr<Exec>> adopt_exec(const ExecHandle& handle);

}  // namespace lj::jail::freebsd
