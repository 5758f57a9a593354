#include "index/index.hpp"

namespace lj::index {

Time now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

}  // namespace lj::index
