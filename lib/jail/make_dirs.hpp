// mkdir -p for a jail's working directory, run by the jail's command itself before it drops
// root: inside the jail's root (after pivot_root, or jail_attach's chroot), so every component,
// a symlink a layer planted included, resolves within the jail. Async-signal-safe (the callers
// are children of fork/clone): strlen and memcpy are (POSIX.1-2017, 2.4.3), mkdir is.
#pragma once

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

namespace lj::jail {

// Makes `path` (absolute) and its missing parents, 0755, owned by the caller. 0, or the errno
// of the failed mkdir (ENAMETOOLONG beyond 4095 bytes).
inline int make_dirs(const char* path) noexcept {
  char buf[4096];
  const std::size_t n = std::strlen(path);
  if (n >= sizeof buf) return ENAMETOOLONG;
  std::memcpy(buf, path, n + 1);
  for (std::size_t i = 1; i <= n; ++i) {
    if (buf[i] != '/' && buf[i] != '\0') continue;
    const char c = buf[i];
    buf[i] = '\0';
    if (::mkdir(buf, 0755) != 0 && errno != EEXIST) return errno;
    buf[i] = c;
  }
  return 0;
}

}  // namespace lj::jail
