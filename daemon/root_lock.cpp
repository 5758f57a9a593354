#include "daemon/root_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <string>

namespace lj::daemon {

namespace {

// What the holder wrote: its pid, or "" when the file is empty (the holder is between open and
// write, which it does while holding the lock, so this is only ever a very short window).
std::string read_holder(int fd) {
  char buf[32] = {};
  ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return {};
  std::string s(buf, static_cast<size_t>(n));
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<RootLock> RootLock::acquire(const std::filesystem::path& root) {
  auto path = root / ".ljd" / "lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!fd) return fail_errno("daemon", "opening " + path.string());
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    if (err != EWOULDBLOCK) return fail_errno("daemon", "locking " + path.string(), err);
    std::string holder = read_holder(fd.get());
    return fail(Errc::busy, "daemon",
                "root " + root.string() + " is in use by another ljd (pid " +
                    (holder.empty() ? std::string("unknown") : holder) + ", lock " +
                    path.string() + ")");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd.get(), 0) != 0 ||
      ::pwrite(fd.get(), pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    return fail_errno("daemon", "writing " + path.string());
  }
  return RootLock(std::move(fd), std::move(path));
}

}  // namespace lj::daemon
