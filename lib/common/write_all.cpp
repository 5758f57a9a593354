#include "common/write_all.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "common/sys.hpp"

namespace lj {

bool write_all(int fd, const void* data, std::size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t w = LJ_SYS("write", ::send(fd, p, n, MSG_NOSIGNAL));
    if (w < 0 && errno == ENOTSOCK) w = ::write(fd, p, n);  // a pipe, a file or a terminal
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return false;
    if (w == 0) {
      errno = EIO;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

Status write_all(int fd, std::string_view data, std::string_view domain, const std::string& what) {
  if (write_all(fd, data.data(), data.size())) return {};
  return fail_errno(std::string(domain), "write " + what);
}

}  // namespace lj
