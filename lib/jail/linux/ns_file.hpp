// Namespace files (/proc/PID/ns/TYPE, or a descriptor of one through /proc/self/fd/N): nsfs gives
// each namespace one inode, so two files name the same namespace when their device and inode match.
#pragma once

#include <string>

#include "common/error.hpp"

namespace lj::jail {

// Whether the namespace files at paths `a` and `b` name the same namespace (stat(2), following
// the magic links). An error names the path that could not be stat'ed (a process gone: ENOENT).
Result<bool> same_namespace(const std::string& a, const std::string& b);

}  // namespace lj::jail
