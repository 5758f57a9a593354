// Archive entry names made safe to place under a destination directory: "./usr/bin/" ->
// "usr/bin" (empty for the root itself). An absolute name or one with a ".." component is
// Errc::invalid_argument in `domain`, naming the entry. Used by world imports (lib/overlay) and
// image layers and archives (lib/image), whose inputs are equally untrusted.
#pragma once

#include <string>
#include <string_view>

#include "common/error.hpp"

namespace lj {

Result<std::string> archive_relative_path(std::string_view p, std::string_view what,
                                          const std::string& domain);

}  // namespace lj
