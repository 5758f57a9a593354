// Random identifiers for resources (jails "j-3f1a09bc", builds "b-...", the index's epoch): one
// generator for every kind, so that they all look alike and collide alike. Not for secrets.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace lj {

// `prefix` + "-" + 2*nbytes lowercase hex digits ("j-3f1a09bc" for ("j", 4)); without a prefix,
// the hex digits alone. Thread-safe (a generator per thread, seeded from std::random_device).
std::string random_id(std::string_view prefix, std::size_t nbytes);

}  // namespace lj
