#include "overlay/semver.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace lj::overlay {
namespace {

Version v(std::string_view s) {
  auto r = Version::parse(s);
  EXPECT_TRUE(r) << s << ": " << r.error().what();
  return r ? *r : Version{};
}

TEST(Version, ParsesAndRoundTrips) {
  for (std::string_view s :
       {"0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-0.3.7",
        "1.0.0-x.7.z.92", "1.0.0-alpha+001", "1.0.0+20130313144700", "1.0.0-beta+exp.sha.5114f85",
        "1.0.0+21AF26D3----117B344092BD", "1.0.0-x-y-z.--", "0.0.0-qjx4h2",
        "18446744073709551614.0.0", "1.2.3+007"}) {
    auto r = Version::parse(s);
    ASSERT_TRUE(r) << s << ": " << r.error().what();
    EXPECT_EQ(r->str(), s);
  }
  Version x = v("1.2.3-rc.1+b.5");
  EXPECT_EQ(x.major, 1u);
  EXPECT_EQ(x.minor, 2u);
  EXPECT_EQ(x.patch, 3u);
  EXPECT_EQ(x.prerelease, (std::vector<std::string>{"rc", "1"}));
  EXPECT_EQ(x.build, (std::vector<std::string>{"b", "5"}));
  EXPECT_TRUE(x.is_prerelease());
}

TEST(Version, RefusesWithColumn) {
  struct Case {
    std::string_view in;
    std::string_view want;  // a substring of the message
  };
  for (const Case& c : std::vector<Case>{
           {"", "column 1: expected a version"},
           {"1", "column 2: expected a full MAJOR.MINOR.PATCH"},
           {"1.2", "column 4: expected a full"},
           {"1.2.x", "column 6: expected a full"},
           {"v1.2.3", "column 1: expected a version"},
           {"01.2.3", "column 1: leading zero"},
           {"1.02.3", "column 3: leading zero"},
           {"1.2.3-01", "column 7: leading zero in a numeric pre-release"},
           {"1.2.3-", "column 7: expected an identifier"},
           {"1.2.3-a..b", "column 9: expected an identifier"},
           {"1.2.3+", "column 7: expected an identifier"},
           {"1.2.3 ", "column 6: unexpected character"},
           {"1.2.3-a_b", "column 8: unexpected character"},
           {"1.2.3.4", "column 6: unexpected character"},
           {"18446744073709551615.0.0", "column 1: number too large"},
           {"99999999999999999999.0.0", "column 1: number too large"},
           {"1.2.-3", "column 5: expected a number"},
       }) {
    auto r = Version::parse(c.in);
    ASSERT_FALSE(r) << "accepted \"" << c.in << "\"";
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    EXPECT_EQ(r.error().code(), "overlay.invalid_argument");
    EXPECT_NE(r.error().what().find(c.want), std::string::npos)
        << c.in << " -> " << r.error().what() << " (want " << c.want << ")";
  }
}

// Found by fuzz/semver_fuzz.cpp: the parser kept a view of its "version \"...\"" label, a
// temporary, and read it after it was freed when writing the message (a use-after-free any
// malformed version reached, e.g. DELETE /v1/overlays/a/b/1.x). The message names the input.
TEST(Version, ErrorNamesTheVersionItRefused) {
  for (const std::string& in : std::vector<std::string>{"01.2.3", "1.x.0" + std::string(40, 'y'),
                                                        std::string(100, '9') + ".0.0"}) {
    auto r = Version::parse(in);
    ASSERT_FALSE(r) << in;
    EXPECT_NE(r.error().what().find("bad version \"" + in + "\""), std::string::npos)
        << r.error().what();
  }
}

TEST(Version, PrecedenceFollowsSemverOrg) {
  // semver.org item 11's example chain, plus numeric/length corner cases.
  std::vector<std::string_view> order = {
      "0.9.9",      "1.0.0-alpha",  "1.0.0-alpha.1", "1.0.0-alpha.beta",
      "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
      "1.0.0",      "1.0.1",        "1.1.0",         "1.10.0",
      "2.0.0",      "10.0.0"};
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (std::size_t j = 0; j < order.size(); ++j) {
      auto got = compare(v(order[i]), v(order[j]));
      auto want = i <=> j;
      EXPECT_TRUE(got == want) << order[i] << " vs " << order[j];
    }
  }
  EXPECT_TRUE(compare(v("1.0.0+a"), v("1.0.0+b")) == 0);
  EXPECT_FALSE(v("1.0.0+a") == v("1.0.0+b"));
  EXPECT_TRUE(compare(v("1.0.0-2"), v("1.0.0-10")) < 0);
  EXPECT_TRUE(compare(v("1.0.0-10"), v("1.0.0-9a")) < 0);  // numeric < alphanumeric
}

struct MatchCase {
  std::string_view constraint;
  std::vector<std::string_view> yes;
  std::vector<std::string_view> no;
};

TEST(Constraint, MatchTable) {
  std::vector<MatchCase> cases = {
      // Primitive operators on full versions.
      {"1.2.3", {"1.2.3", "1.2.3+b"}, {"1.2.4", "1.2.2", "1.2.3-rc.1"}},
      {"=1.2.3", {"1.2.3"}, {"1.2.4"}},
      {"== 1.2.3", {"1.2.3"}, {"1.2.4"}},
      {"!=1.2.3", {"1.2.2", "2.0.0"}, {"1.2.3", "1.2.4-rc.1"}},
      {">1.2.3", {"1.2.4", "2.0.0"}, {"1.2.3", "1.0.0", "1.2.4-alpha"}},
      {">=1.2.3", {"1.2.3", "9.9.9"}, {"1.2.2"}},
      {"<1.2.3", {"1.2.2", "0.0.1"}, {"1.2.3", "1.2.3-rc.1"}},
      {"<=1.2.3", {"1.2.3", "0.1.0"}, {"1.2.4"}},
      // Partial versions and wildcards.
      {"1.2", {"1.2.0", "1.2.99"}, {"1.3.0", "1.1.9", "1.2.5-beta"}},
      {"1.2.x", {"1.2.0", "1.2.7"}, {"1.3.0"}},
      {"1.X", {"1.0.0", "1.99.0"}, {"2.0.0", "0.9.0"}},
      {"1", {"1.0.0", "1.5.5"}, {"2.0.0"}},
      {"*", {"0.0.0", "1.0.0", "99.1.2"}, {"1.0.0-rc.1"}},
      {"x", {"3.0.0"}, {}},
      {">1.2", {"1.3.0", "2.0.0"}, {"1.2.9", "1.2.0"}},
      {">1", {"2.0.0"}, {"1.9.9"}},
      {">=1.2", {"1.2.0", "1.3.0"}, {"1.1.9"}},
      {"<1.2", {"1.1.9"}, {"1.2.0"}},
      {"<=1.2", {"1.2.9"}, {"1.3.0"}},
      {"<=1.2.x", {"1.2.9"}, {"1.3.0"}},
      {"!=1.2", {"1.1.9", "1.3.0"}, {"1.2.0", "1.2.5"}},
      {">*", {}, {"0.0.0", "1.0.0"}},
      {"<*", {}, {"0.0.0", "1.0.0"}},
      {">=*", {"0.0.0", "5.0.0"}, {}},
      // Pessimistic (the seeds' gosemver/Ruby ~>).
      {"~> 1.0", {"1.0.0", "1.2.0", "1.99.99"}, {"2.0.0", "0.9.0", "2.0.0-rc.1"}},
      {"~>1.0", {"1.5.0"}, {"2.0.0"}},
      {"~> 1", {"1.0.0", "1.9.0"}, {"2.0.0"}},
      {"~> 1.2", {"1.2.0", "1.9.0"}, {"1.1.0", "2.0.0"}},
      {"~> 1.2.3", {"1.2.3", "1.2.99"}, {"1.3.0", "1.2.2"}},
      {"~> 0.2.3", {"0.2.3", "0.2.9"}, {"0.3.0"}},
      {"~> 1.2.3-beta",
       {"1.2.3-beta", "1.2.3-rc.1", "1.2.3", "1.2.5"},
       {"1.2.3-alpha", "1.2.4-rc.1", "1.3.0"}},
      // Tilde.
      {"~1.2.3", {"1.2.3", "1.2.9"}, {"1.3.0", "1.2.2"}},
      {"~1.2", {"1.2.0", "1.2.9"}, {"1.3.0"}},
      {"~1", {"1.0.0", "1.9.9"}, {"2.0.0", "0.9.9"}},
      {"~ 1.2", {"1.2.1"}, {"1.3.0"}},
      {"~0.0.1", {"0.0.1", "0.0.9"}, {"0.1.0"}},
      // Caret, with the 0.x rules.
      {"^1.2.3", {"1.2.3", "1.9.0"}, {"2.0.0", "1.2.2"}},
      {"^0.2.3", {"0.2.3", "0.2.9"}, {"0.3.0", "0.2.2"}},
      {"^0.0.3", {"0.0.3"}, {"0.0.4", "0.0.2"}},
      {"^1.2", {"1.2.0", "1.99.0"}, {"2.0.0"}},
      {"^0.2", {"0.2.0", "0.2.9"}, {"0.3.0"}},
      {"^0.0", {"0.0.0", "0.0.9"}, {"0.1.0"}},
      {"^1", {"1.0.0"}, {"2.0.0"}},
      {"^0", {"0.0.0", "0.9.9"}, {"1.0.0"}},
      {"^0.0.x", {"0.0.5"}, {"0.1.0"}},
      {"^1.x", {"1.5.0"}, {"2.0.0"}},
      {"^*", {"0.0.0", "9.0.0"}, {}},
      {"^1.2.3-beta.2",
       {"1.2.3-beta.2", "1.2.3-beta.4", "1.2.3", "1.9.0"},
       {"1.2.3-beta.1", "1.2.4-pre"}},
      // AND with commas and/or spaces, OR, hyphen ranges.
      {">=1.2, <2.0", {"1.2.0", "1.9.9"}, {"2.0.0", "1.1.0"}},
      {">= 1.2 , < 2.0", {"1.5.0"}, {"2.0.0"}},
      {">=1.2 <2.0", {"1.5.0"}, {"2.0.0"}},
      {">=1.2,<2.0,!=1.5.0", {"1.4.0", "1.5.1"}, {"1.5.0"}},
      {"1.x || >=2.5.0 || 5.0.0 - 7.2.3", {"1.2.3", "2.5.0", "3.0.0", "7.2.3"}, {"2.0.0", "0.1.0"}},
      {"<1.0||>2.0", {"0.5.0", "2.1.0"}, {"1.5.0", "2.0.0"}},
      {"1.2.3 - 2.3.4", {"1.2.3", "2.3.4", "2.0.0"}, {"2.3.5", "1.2.2"}},
      {"1.2 - 2.3.4", {"1.2.0", "2.3.4"}, {"1.1.9", "2.3.5"}},
      {"1.2.3 - 2.3", {"2.3.9"}, {"2.4.0"}},
      {"1.2.3 - 2", {"2.9.9"}, {"3.0.0"}},
      {"* - 2", {"0.0.0", "2.9.0"}, {"3.0.0"}},
      {"  ~> 1.0  ", {"1.1.0"}, {"2.0.0"}},
      // Pre-releases only when named on the same MAJOR.MINOR.PATCH.
      {">=1.2.3-beta", {"1.2.3-beta", "1.2.3-rc.1", "1.2.4"}, {"1.2.4-alpha", "1.2.3-alpha"}},
      {">1.2.3-alpha <1.2.4", {"1.2.3-beta"}, {"1.2.4-rc.1"}},
      {"1.2.3-rc.1", {"1.2.3-rc.1"}, {"1.2.3-rc.2", "1.2.3"}},
      {"<2.0.0-0 >=1.0.0", {"1.5.0"}, {"2.0.0-0", "2.0.0-rc.1", "1.9.9-beta"}},
  };
  int checked = 0;
  for (const auto& c : cases) {
    auto k = Constraint::parse(c.constraint);
    ASSERT_TRUE(k) << c.constraint << ": " << k.error().what();
    EXPECT_EQ(k->str(), c.constraint);
    for (auto s : c.yes) {
      EXPECT_TRUE(k->matches(v(s))) << "\"" << c.constraint << "\" should match " << s;
      ++checked;
    }
    for (auto s : c.no) {
      EXPECT_FALSE(k->matches(v(s))) << "\"" << c.constraint << "\" should not match " << s;
      ++checked;
    }
  }
  EXPECT_GT(checked, 150);
}

TEST(Constraint, RefusesWithColumn) {
  struct Case {
    std::string_view in;
    std::string_view want;
  };
  for (const Case& c : std::vector<Case>{
           {"", "bad constraint at column 1: expected a version"},
           {"   ", "column 4: expected a version"},
           {">=", "column 3: expected a version"},
           {">= ", "column 4: expected a version"},
           {"~>", "column 3: expected a version"},
           {">=1.0,", "column 7: expected a version"},
           {">=1.0, ", "column 8: expected a version"},
           {"1.0 ||", "column 7: expected a version"},
           {"|| 1.0", "column 1: expected a version"},
           {"1.0 || || 2.0", "column 8: expected a version"},
           {"1.0 | 2.0", "column 5: expected ',', '||'"},
           {"=>1.0", "column 2: expected a version"},
           {"1.2.3 -2", "column 8: expected a space after '-'"},
           {"1.2.3 - ", "column 9: expected a version"},
           {"1.2 -", "column 6: expected a space after '-'"},
           {">=1.2 - 2", "column 7: expected a version"},
           {"1.x.3", "column 5: a number cannot follow a wildcard"},
           {"1.2-beta", "column 4: a pre-release needs a full"},
           {"1.2+b", "column 4: build metadata needs a full"},
           {"v1.2.3", "column 1: expected a version"},
           {"1.2.3.4", "column 6: expected ',', '||'"},
           {"lang/common", "column 1: expected a version"},
           {"~> 1.0 foo", "column 8: expected a version"},
           {"01.2", "column 1: leading zero"},
           {"1.2.3-", "column 7: expected an identifier"},
           {"1.", "column 3: expected a number or a wildcard"},
           {">=1.0 ,, <2", "column 8: expected a version"},
           {"1.0\t&& 2.0", "column 5: expected a version"},
           {"1.0 - 2.0 - 3.0", "column 11: expected a version"},
       }) {
    auto r = Constraint::parse(c.in);
    ASSERT_FALSE(r) << "accepted \"" << c.in << "\"";
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    EXPECT_NE(r.error().what().find(c.want), std::string::npos)
        << "\"" << c.in << "\" -> " << r.error().what() << " (want " << c.want << ")";
  }
}

TEST(Constraint, SelectBestPicksTheHighestSatisfying) {
  std::vector<Version> vs = {v("1.0.0"), v("2.0.0"),    v("1.2.0"),   v("1.3.0-rc.1"),
                             v("0.9.0"), v("1.2.0+b2"), v("1.2.0+b1")};
  auto best = [&](std::string_view c) -> std::string {
    auto k = Constraint::parse(c);
    EXPECT_TRUE(k) << k.error().what();
    auto b = select_best(*k, vs);
    return b ? b->str() : "none";
  };
  EXPECT_EQ(best("~> 1.0"), "1.2.0+b2");  // the case: ~> 1.0 resolves 1.2.x, not 2.0.0
  EXPECT_EQ(best("*"), "2.0.0");
  EXPECT_EQ(best("<1.0"), "0.9.0");
  EXPECT_EQ(best(">=1.3.0-rc.1 <2"), "1.3.0-rc.1");
  EXPECT_EQ(best(">2"), "none");
  EXPECT_EQ(best("=1.2.0"), "1.2.0+b2");
  std::reverse(vs.begin(), vs.end());
  EXPECT_EQ(best("=1.2.0"), "1.2.0+b2");  // independent of input order
  EXPECT_EQ(best("~> 1.0"), "1.2.0+b2");
  EXPECT_FALSE(select_best(*Constraint::parse("*"), std::span<const Version>{}));
}

}  // namespace
}  // namespace lj::overlay
