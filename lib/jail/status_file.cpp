#include "jail/status_file.hpp"

#include <sys/wait.h>

#include <fstream>

namespace lj::jail {

std::string status_line(const ExitStatus& status) {
  if (status.signal != 0) return "killed " + std::to_string(status.signal) + "\n";
  return "exited " + std::to_string(status.code) + "\n";
}

ExitStatus exit_status_of_wait(int wait_status) {
  ExitStatus s;
  if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
    s.code = -1;
  } else {
    s.code = WEXITSTATUS(wait_status);
  }
  return s;
}

ExitStatus reaped_status(std::optional<int> wait_status, const std::string& status_file) {
  if (wait_status) return exit_status_of_wait(*wait_status);
  if (auto f = read_status_file(status_file)) return *f;
  ExitStatus s;
  s.lost = true;
  return s;
}

std::optional<ExitStatus> read_status_file(const std::string& path) {
  if (path.empty()) return std::nullopt;
  std::ifstream in(path);
  std::string word;
  int n = 0;
  if (!(in >> word >> n)) return std::nullopt;
  ExitStatus s;
  if (word == "exited") {
    s.code = n;
  } else if (word == "killed") {
    s.signal = n;
  } else {
    return std::nullopt;
  }
  return s;
}

}  // namespace lj::jail
