// Test helper: what another, unprivileged host user can do with a path of the store (issue 17:
// a build's setuid-root binary, published under 0755 directories, ran as root for any user).
// A child process drops to nobody (65534:65534, no supplementary groups) and tries. Header-only.
#pragma once

#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

namespace lj::test {

inline constexpr uid_t kNobody = 65534;

// Runs `attempt` in a child process as nobody; its result (0..126) is the child's exit status.
// -1 when the child could not switch users (the test is not root) or died otherwise.
template <class F>
int as_nobody(F attempt) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setresgid(kNobody, kNobody, kNobody) != 0 ||
        ::setresuid(kNobody, kNobody, kNobody) != 0) {
      ::_exit(255);
    }
    ::_exit(attempt() & 0x7f);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 255) return -1;
  return WEXITSTATUS(status);
}

// As nobody: 0 when `path` can be stat(2)ed, else the errno (EACCES when a directory on the way
// is closed to it).
inline int stat_errno_as_nobody(const std::filesystem::path& path) {
  return as_nobody([&] {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 ? 0 : errno;
  });
}

// As nobody: 0 when execve(2) of `path` started it (busybox then runs `arg1` and exits 0), else
// the errno of execve.
inline int exec_errno_as_nobody(const std::filesystem::path& path, const char* arg1 = "true") {
  return as_nobody([&] {
    char* const argv[] = {const_cast<char*>(path.c_str()), const_cast<char*>(arg1), nullptr};
    char* const envp[] = {nullptr};
    ::execve(path.c_str(), argv, envp);
    return errno;
  });
}

}  // namespace lj::test
