// The caller's side of a jail's terminal (JailSpec::tty): the master the jail's init sends on the
// console socket, as runc's --console-socket receivers (conmon, containerd) take it.
#pragma once

#include "common/error.hpp"
#include "common/fd.hpp"

namespace lj::jail {

// The jail's side: sends `fd` on `socket` (one byte, SCM_RIGHTS, MSG_NOSIGNAL). 0, or the errno
// of the failed sendmsg (EIO for a short send). Async-signal-safe, no allocation: it runs in the
// jail's init (Linux) or its pdfork child (FreeBSD), children of a multi-threaded daemon.
int send_terminal(int socket, int fd) noexcept;

// Receives the one descriptor sent on `socket` (one byte, SCM_RIGHTS), close-on-exec. Blocks until
// it comes: call it once Backend::spawn has returned (the master is sent before the command
// starts, so it is waiting by then). Errc::system when the message carries no descriptor.
Result<UniqueFd> receive_terminal(int socket);

}  // namespace lj::jail
