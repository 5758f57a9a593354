#include "random_id.hpp"

#include <random>

namespace lj {

std::string random_id(std::string_view prefix, std::size_t nbytes) {
  static thread_local std::mt19937_64 rng{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(prefix);
  if (!id.empty()) id.push_back('-');
  std::uint64_t bits = 0;
  for (std::size_t i = 0; i < nbytes; ++i) {
    if (i % 8 == 0) bits = rng();
    auto byte = static_cast<unsigned>(bits & 0xff);
    bits >>= 8;
    id.push_back(kHex[byte >> 4]);
    id.push_back(kHex[byte & 0xf]);
  }
  return id;
}

}  // namespace lj
