#include "jail/status_file.hpp"

#include <fstream>

namespace lj::jail {

std::string status_line(const ExitStatus& status) {
  if (status.signal != 0) return "killed " + std::to_string(status.signal) + "\n";
  return "exited " + std::to_string(status.code) + "\n";
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
