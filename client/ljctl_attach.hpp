// ljctl's interactive streams: the client side of an upgraded attach or exec start
// (docs/attach.md), for `run -i/-t`, `attach` and `exec`. Linux and FreeBSD alike (POSIX termios
// and sockets).
#pragma once

#include <string>

namespace lj::ljctl {

// Docker's --detach-keys: "ctrl-p,ctrl-q" -> "\x10\x11" (ctrl-<a-z@[\]^_> or a single character,
// comma separated). Empty text: no detach keys. false for a malformed one.
bool parse_detach_keys(const std::string& text, std::string* keys);

struct AttachOptions {
  std::string target;         // the upgraded POST: "/v1/jails/ID/attach?logs=true", "/v1/exec/ID/start"
  bool tty = false;           // raw output; the terminal on stdin in raw mode for the while
  bool input = true;          // feed ljctl's stdin to it (its end half-closes the connection)
  std::string detach_keys;    // typed on a terminal: leave, the jail or exec running
  std::string resize_target;  // "/v1/jails/ID/resize": SIGWINCH sends ljctl's size; "" none
};

struct AttachResult {
  std::string error;    // empty on success
  bool detached = false;  // the detach keys were typed
  int refused_status = 0;  // the HTTP status of a refused upgrade (with its body), else 0
  std::string refused_body;
};

// Attaches this process's stdio over ljd's socket: stdin to the jail or exec, its output to
// stdout/stderr (a terminal's raw; else demultiplexed from the 8-byte stream headers). With `tty`
// and a terminal on stdin, the terminal is in raw mode for the while and restored on every path
// out: returns, and SIGINT, SIGTERM, SIGHUP (restored, then the signal's default action), and
// SIGWINCH is forwarded as a resize. Returns once ljd ends the stream (the command ended) or the
// detach keys were typed.
AttachResult attach_stream(const std::string& socket_path, const AttachOptions& o);

// `run -i/-t`: attach_stream on a jail's attach (Ctrl-P Ctrl-Q detach with a tty). Returns an
// error message (empty on success). `*ended`: ljd refused the attach because the jail had already
// ended (its output is then in its log); `*detached`: the user detached.
// `input`: feed ljctl's stdin to it (false: output only, as `start -a` without -i).
std::string attach_stdio(const std::string& socket_path, const std::string& id, bool tty,
                         bool* ended, bool* detached = nullptr, bool input = true);

}  // namespace lj::ljctl
