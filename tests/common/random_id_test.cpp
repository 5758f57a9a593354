#include "common/random_id.hpp"

#include <set>

#include <gtest/gtest.h>

namespace lj {
namespace {

TEST(RandomId, PrefixDashAndTwoHexDigitsPerByte) {
  std::string id = random_id("j", 4);
  ASSERT_EQ(id.size(), 10u);
  EXPECT_EQ(id.substr(0, 2), "j-");
  for (char c : id.substr(2)) EXPECT_TRUE((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_EQ(random_id("", 4).size(), 8u);  // no prefix: no dash
  EXPECT_EQ(random_id("b", 12).size(), 26u);
  EXPECT_EQ(random_id("x", 0), "x-");
}

TEST(RandomId, DoesNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(random_id("j", 8));
  EXPECT_EQ(seen.size(), 1000u);
}

}  // namespace
}  // namespace lj
