// Helpers of the hostile-input suites (hostile_*.cpp).
#pragma once

#include <filesystem>
#include <string>

namespace lj::testing {

// `PRAGMA integrity_check` of the SQLite file at `db` through the sqlite3 shell (read-only):
// "ok", or what it reports (or why it could not run).
std::string integrity_check(const std::filesystem::path& db);

}  // namespace lj::testing
