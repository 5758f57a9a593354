// Where ljd's jail cgroups are, from the test's side (lib/jail/linux/cgroup.hpp): below a "ljd"
// cgroup of this process's cgroup in each hierarchy, directly (ljspawn, ljbuild) or in a root's
// scope ("scope-*", ljd). For tests that check that a jail's cgroups are gone.
#pragma once

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace lj::testing {

// The "ljd" cgroups of this process, one per hierarchy (v1 controllers, the v2 mount points).
inline std::vector<std::string> ljd_cgroup_bases() {
  std::vector<std::string> bases;
  std::ifstream in("/proc/self/cgroup");
  for (std::string line; std::getline(in, line);) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (path == "/") path.clear();
    if (ctrls.empty()) {
      for (const char* m : {"/sys/fs/cgroup/unified", "/sys/fs/cgroup"})
        bases.push_back(m + path + "/ljd");
    } else {
      bases.push_back("/sys/fs/cgroup/" + ctrls + path + "/ljd");
    }
  }
  return bases;
}

// The directories jail cgroups go in below a "ljd" cgroup `base`: the base and its scopes.
inline std::vector<std::string> with_scopes(const std::string& base) {
  std::vector<std::string> dirs = {base};
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(base, ec)) {
    if (e.path().filename().string().rfind("scope-", 0) == 0) dirs.push_back(e.path());
  }
  return dirs;
}

// The cgroup directories of the jail `name`, every hierarchy (empty once it is released).
inline std::vector<std::string> cgroups_named(const std::string& name) {
  std::vector<std::string> found;
  for (const auto& base : ljd_cgroup_bases()) {
    for (const auto& dir : with_scopes(base)) {
      struct stat st {};
      if (::stat((dir + "/" + name).c_str(), &st) == 0) found.push_back(dir + "/" + name);
    }
  }
  return found;
}

}  // namespace lj::testing
