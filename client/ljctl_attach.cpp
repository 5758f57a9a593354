#include "client/ljctl_attach.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <sstream>

#include "client/http_client.hpp"
#include "common/fd.hpp"
#include "common/write_all.hpp"

namespace lj::ljctl {
namespace {

// The terminal's saved modes, for the signal handlers below (one attach at a time per process).
struct termios g_saved;
volatile sig_atomic_t g_raw_fd = -1;
int g_winch_pipe = -1;  // write end: SIGWINCH wakes the attach loop

// SIGINT, SIGTERM, SIGHUP while in raw mode: the terminal back as it was, then the signal's
// default action (async-signal-safe: tcsetattr, sigaction, raise).
void restore_and_reraise(int sig) {
  if (g_raw_fd >= 0) ::tcsetattr(g_raw_fd, TCSANOW, &g_saved);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  ::raise(sig);
}

void on_winch(int) {
  const int saved = errno;
  char c = 1;
  if (g_winch_pipe >= 0) (void)!::write(g_winch_pipe, &c, 1);
  errno = saved;
}

// The terminal in raw mode while it lives; the saved modes back on every path out, signals too.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &g_saved) != 0) return;
    struct sigaction sa {};
    sa.sa_handler = restore_and_reraise;
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &sa, &old_[i]);
    g_raw_fd = fd_;
    struct termios raw = g_saved;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &g_saved);
    g_raw_fd = -1;
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &old_[i], nullptr);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  static constexpr int kSignals[3] = {SIGINT, SIGTERM, SIGHUP};
  int fd_;
  struct sigaction old_[3] {};
  bool active_ = false;
};

// POST resize_target?h=&w= with ljctl's terminal size, on a connection of its own; best effort
// (a resize racing the end of the command fails harmlessly).
void send_resize(const std::string& socket_path, const std::string& target) {
  struct winsize ws {};
  if (::ioctl(0, TIOCGWINSZ, &ws) != 0 || ws.ws_row == 0 || ws.ws_col == 0) return;
  client::HttpClient c(socket_path);
  (void)c.request("POST", target + "?h=" + std::to_string(ws.ws_row) +
                              "&w=" + std::to_string(ws.ws_col));
}

}  // namespace

bool parse_detach_keys(const std::string& text, std::string* keys) {
  keys->clear();
  if (text.empty()) return true;
  std::istringstream in(text);
  for (std::string k; std::getline(in, k, ',');) {
    if (k.size() == 1) {
      *keys += k;
    } else if (k.size() == 6 && k.rfind("ctrl-", 0) == 0) {
      char c = k[5];
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c < '@' || c > '_') return false;
      *keys += static_cast<char>(c & 0x1f);
    } else {
      return false;
    }
  }
  return !keys->empty();
}

AttachResult attach_stream(const std::string& socket_path, const AttachOptions& o) {
  AttachResult res;
  // A refusal is read by its Content-Length (HttpClient::upgrade): ljd keeps the connection open
  // after an answer, so reading it to EOF waited for the idle timeout (60 s after a jail that
  // ended before its attach: `ljctl run -i` stalled 1 run in 40).
  client::HttpClient http(socket_path);
  auto up = http.upgrade("POST", o.target, "tcp");
  if (!up) {
    res.error = up.error().what();
    return res;
  }
  if (up->response.status != 101) {
    res.refused_status = up->response.status;
    res.refused_body = up->response.body;
    res.error = "refused: HTTP/1.1 " + std::to_string(up->response.status) + " " +
                up->response.reason + " " + res.refused_body;
    return res;
  }
  const UniqueFd s = std::move(up->fd);

  const bool terminal = o.tty && ::isatty(0);
  std::optional<RawMode> raw;
  if (terminal) raw.emplace(0);
  // SIGWINCH through a pipe the loop polls; the size is sent once at the start as well.
  UniqueFd winch_r, winch_w;
  struct sigaction old_winch {};
  const bool resizing = terminal && !o.resize_target.empty();
  if (resizing) {
    int p[2];
    if (::pipe(p) == 0) {
      winch_r.reset(p[0]);
      winch_w.reset(p[1]);
      ::fcntl(p[0], F_SETFL, O_NONBLOCK);
      ::fcntl(p[1], F_SETFL, O_NONBLOCK);
      g_winch_pipe = p[1];
      struct sigaction sa {};
      sa.sa_handler = on_winch;
      sa.sa_flags = SA_RESTART;
      ::sigaction(SIGWINCH, &sa, &old_winch);
    }
    send_resize(socket_path, o.resize_target);
  }
  const std::string& keys = terminal ? o.detach_keys : std::string();
  std::size_t matched = 0;  // how many of the detach keys were just typed (held back)
  bool input = o.input;
  std::string pending;  // demultiplexing: bytes of an unfinished frame
  // The stream's bytes to our stdout: as they are with a terminal, else in frames (8-byte head:
  // the stream, 2 for stderr, and the length, big-endian in bytes 4-7).
  auto output = [&](const char* data, std::size_t n) {
    if (o.tty) {
      write_all(1, data, n);
      return;
    }
    pending.append(data, n);
    std::size_t at = 0;
    while (pending.size() - at >= 8) {
      std::size_t len = 0;
      for (int i = 4; i < 8; ++i) len = len << 8 | static_cast<unsigned char>(pending[at + i]);
      if (pending.size() - at - 8 < len) break;
      write_all(pending[at] == 2 ? 2 : 1, pending.data() + at + 8, len);
      at += 8 + len;
    }
    pending.erase(0, at);
  };
  output(up->early.data(), up->early.size());  // what came with the 101
  // Input read but not yet sent: sent as the socket takes it while the output is read on, so
  // that neither side waits on the other with both directions full (a large paste, `cat`).
  std::string unsent;
  std::size_t unsent_at = 0;
  char buf[65536];
  for (;;) {
    const bool sending = unsent_at < unsent.size();
    struct pollfd fds[3] = {{s.get(), static_cast<short>(POLLIN | (sending ? POLLOUT : 0)), 0},
                            {input && !sending ? 0 : -1, POLLIN, 0},
                            {winch_r ? winch_r.get() : -1, POLLIN, 0}};
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      res.error = std::string("poll: ") + std::strerror(errno);
      break;
    }
    if (fds[2].revents) {
      while (::read(winch_r.get(), buf, sizeof buf) > 0) {
      }
      send_resize(socket_path, o.resize_target);
    }
    if (sending && (fds[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = ::send(s.get(), unsent.data() + unsent_at, unsent.size() - unsent_at,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        unsent_at += static_cast<std::size_t>(n);
      } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
        input = false;  // ljd ended the input; the output may still come
        unsent.clear();
        unsent_at = 0;
      }
    }
    if (fds[1].revents) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0 && keys.empty()) {  // no detach keys to look for: as read (a stream's speed)
        unsent.assign(buf, static_cast<std::size_t>(n));
        unsent_at = 0;
      } else if (n > 0) {
        std::string out;
        for (ssize_t i = 0; i < n; ++i) {
          if (!keys.empty() && buf[i] == keys[matched]) {
            if (++matched == keys.size()) {
              res.detached = true;
              break;
            }
            continue;
          }
          out.append(keys, 0, matched);  // not the detach keys after all: theirs
          matched = 0;
          out += buf[i];
        }
        if (res.detached) break;
        unsent = std::move(out);
        unsent_at = 0;
      } else if (n == 0 || errno != EINTR) {
        input = false;
        ::shutdown(s.get(), SHUT_WR);  // ends a stdin pipe
      }
    }
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      ssize_t n = ::read(s.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      output(buf, static_cast<std::size_t>(n));
    }
  }
  if (winch_w) {
    ::sigaction(SIGWINCH, &old_winch, nullptr);
    g_winch_pipe = -1;
  }
  return res;
}

std::string attach_stdio(const std::string& socket_path, const std::string& id, bool tty,
                         bool* ended, bool* detached, bool input) {
  AttachOptions o;
  o.input = input;
  o.target = "/v1/jails/" + id + "/attach?logs=true";
  o.tty = tty;
  o.resize_target = "/v1/jails/" + id + "/resize";
  if (tty) parse_detach_keys("ctrl-p,ctrl-q", &o.detach_keys);
  AttachResult r = attach_stream(socket_path, o);
  *ended = r.refused_status == 409 && r.refused_body.find("not running") != std::string::npos;
  if (detached) *detached = r.detached;
  return r.error;
}

}  // namespace lj::ljctl
