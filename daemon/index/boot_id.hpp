// Private to lj_index: this boot of the machine, from the platform's own file.
#pragma once

#include <string>

namespace lj::index::detail {

// A string that differs on every boot of the machine; empty when it cannot be read (then the index
// assumes the worst after an unclean close, see Index::epoch()).
std::string system_boot_id();

}  // namespace lj::index::detail
