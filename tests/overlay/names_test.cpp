#include "overlay/names.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace lj::overlay {
namespace {

TEST(OverlayName, AcceptsSafeNamesWithASlash) {
  for (std::string_view s : {"lang/ruby", "lang/common", "a/b", "Lang/Ruby2.1", "ci/my-app_1+x",
                             "ci/github.com/builder", "a/b/c/d", "x/a..b"}) {
    auto n = OverlayName::parse(s);
    ASSERT_TRUE(n) << s << ": " << n.error().what();
    EXPECT_EQ(n->str(), s);
  }
  EXPECT_EQ(OverlayName::parse("lang/ruby")->ns(), "lang");
  std::string longest = std::string(64, 'a') + "/" + std::string(64, 'b');
  EXPECT_TRUE(OverlayName::parse(longest));
}

TEST(OverlayName, RefusesWithAClearReason) {
  struct Case {
    std::string in;
    std::string_view want;
  };
  std::vector<Case> cases = {
      {"", "is empty"},
      {"ruby", "must contain a slash"},
      {"/lang/ruby", "must be relative"},
      {"lang/", "component 2 \"\" is empty"},
      {"lang//ruby", "component 2 \"\" is empty"},
      {"lang/../etc", "component 2 \"..\" must start with a letter"},
      {"../lang/ruby", "component 1 \"..\" must start with a letter"},
      {"lang/./ruby", "component 2 \".\" must start with a letter"},
      {".staging/x", "component 1 \".staging\" must start with a letter"},
      {"worlds/x", "\"worlds\" is reserved"},
      {"images/x", "\"images\" is reserved"},
      {"lang/1.0.0", "component 2 \"1.0.0\" must start with a letter"},
      {"lang/ru by", "outside [A-Za-z0-9._+-]"},
      {"lang/ru\\by", "outside"},
      {std::string("lang/ru\0by", 10), "\"lang/ru\\x00by\""},
      {"lang/rüby", "outside"},
      {"a/b/c/d/e", "more than 4 components"},
      {"lang/" + std::string(65, 'r'), "longer than 64 bytes"},
      {std::string(64, 'a') + "/" + std::string(64, 'b') + "/" + std::string(64, 'c') + "/" +
           std::string(64, 'd'),
       "longer than 255 bytes"},
  };
  for (const auto& c : cases) {
    auto n = OverlayName::parse(c.in);
    ASSERT_FALSE(n) << "accepted " << c.in;
    EXPECT_EQ(n.error().code(), "overlay.invalid_argument");
    EXPECT_NE(n.error().what().find(c.want), std::string::npos)
        << n.error().what() << " (want " << c.want << ")";
  }
}

TEST(WorldName, AcceptsReleaseNames) {
  for (std::string_view s :
       {"10.0-RELEASE", "14.1-RELEASE-p3", "bookworm", "busybox", "15.0-CURRENT"}) {
    auto w = WorldName::parse(s);
    ASSERT_TRUE(w) << s << ": " << w.error().what();
    EXPECT_EQ(w->str(), s);
  }
}

TEST(WorldName, Refuses) {
  for (const std::string& s :
       std::vector<std::string>{"", ".", "..", ".hidden", "a/b", "/abs", "-rf", "a b",
                                std::string(65, 'w'), std::string("a\0b", 3)}) {
    auto w = WorldName::parse(s);
    ASSERT_FALSE(w) << "accepted " << s;
    EXPECT_EQ(w.error().code(), "world.invalid_argument") << w.error().what();
  }
  EXPECT_NE(WorldName::parse("a/b").error().what().find("must not contain '/'"), std::string::npos);
}

}  // namespace
}  // namespace lj::overlay
