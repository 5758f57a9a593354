#include "client/ljctl_attach.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "common/fd.hpp"
#include "common/write_all.hpp"

namespace lj::ljctl {
namespace {

// The terminal in raw mode while it lives; the saved modes back on every path out.
class RawMode {
 public:
  explicit RawMode(int fd) : fd_(fd) {
    if (::tcgetattr(fd_, &saved_) != 0) return;
    struct termios raw = saved_;
    ::cfmakeraw(&raw);
    active_ = ::tcsetattr(fd_, TCSANOW, &raw) == 0;
  }
  ~RawMode() {
    if (active_) ::tcsetattr(fd_, TCSANOW, &saved_);
  }
  RawMode(const RawMode&) = delete;
  RawMode& operator=(const RawMode&) = delete;

 private:
  int fd_;
  struct termios saved_ {};
  bool active_ = false;
};

}  // namespace

std::string attach_stdio(const std::string& socket_path, const std::string& id, bool tty,
                         bool* ended) {
  *ended = false;
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un sa {};
  sa.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof sa.sun_path) return "socket path too long: " + socket_path;
  std::memcpy(sa.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (!s || ::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0)
    return "connect " + socket_path + ": " + std::strerror(errno);
  const std::string req = "POST /v1/jails/" + id +
                          "/attach?logs=true HTTP/1.1\r\nHost: ljd\r\nConnection: Upgrade\r\n"
                          "Upgrade: tcp\r\nContent-Length: 0\r\n\r\n";
  if (!write_all(s.get(), req.data(), req.size())) return "sending the attach request failed";
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::read(s.get(), &c, 1) == 1) head += c;
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    std::string rest;
    char buf[4096];
    for (ssize_t n; (n = ::read(s.get(), buf, sizeof buf)) > 0;) rest.append(buf, n);
    *ended = head.rfind("HTTP/1.1 409", 0) == 0 && rest.find("not running") != std::string::npos;
    return "attach refused: " + head.substr(0, head.find("\r\n")) + " " + rest;
  }

  std::optional<RawMode> raw;
  if (tty && ::isatty(0)) raw.emplace(0);
  bool input = true;
  std::string pending;  // demultiplexing: bytes of an unfinished frame
  char buf[65536];
  for (;;) {
    struct pollfd fds[2] = {{s.get(), POLLIN, 0}, {input ? 0 : -1, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return std::string("poll: ") + std::strerror(errno);
    }
    if (fds[1].revents) {
      ssize_t n = ::read(0, buf, sizeof buf);
      if (n > 0) {
        if (!write_all(s.get(), buf, static_cast<std::size_t>(n))) input = false;
      } else if (n == 0 || errno != EINTR) {
        input = false;
        ::shutdown(s.get(), SHUT_WR);  // ends the jail's stdin
      }
    }
    if (fds[0].revents) {
      ssize_t n = ::read(s.get(), buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      if (tty) {
        write_all(1, buf, static_cast<std::size_t>(n));
        continue;
      }
      pending.append(buf, static_cast<std::size_t>(n));
      std::size_t at = 0;
      while (pending.size() - at >= 8) {
        std::size_t len = 0;
        for (int i = 4; i < 8; ++i) len = len << 8 | static_cast<unsigned char>(pending[at + i]);
        if (pending.size() - at - 8 < len) break;
        write_all(pending[at] == 2 ? 2 : 1, pending.data() + at + 8, len);
        at += 8 + len;
      }
      pending.erase(0, at);
    }
  }
  return "";
}

}  // namespace lj::ljctl
