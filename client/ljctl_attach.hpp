// `ljctl run -i/-t`: the client side of an upgraded attach (docs/attach.md). Linux and FreeBSD
// alike (POSIX termios and sockets).
#pragma once

#include <string>

namespace lj::ljctl {

// Attaches this process's stdio to running jail `id` over ljd's socket: stdin to the jail (its end
// half-closes the connection, which closes a stdin pipe), the jail's output to stdout/stderr (a
// terminal's raw; else demultiplexed from the 8-byte stream headers). With `tty` and a terminal on
// stdin, the terminal is in raw mode for the while and restored on every return. Returns once ljd
// ends the stream (the jail ended), or an error message (empty on success). `*ended` says that ljd
// refused the attach because the jail had already ended (a command that did not wait for its
// stdin can finish between the start and the attach): its output is then in its log.
std::string attach_stdio(const std::string& socket_path, const std::string& id, bool tty,
                         bool* ended);

}  // namespace lj::ljctl
