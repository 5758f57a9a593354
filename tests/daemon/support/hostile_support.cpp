#include "hostile_support.hpp"

#include <cstdio>

namespace lj::testing {

std::string integrity_check(const std::filesystem::path& db) {
  std::string cmd = "sqlite3 -readonly '" + db.string() + "' 'PRAGMA integrity_check;' 2>&1";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return "popen failed";
  std::string out;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = ::pclose(p);
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return rc == 0 ? out : "sqlite3 failed: " + out;
}

}  // namespace lj::testing
