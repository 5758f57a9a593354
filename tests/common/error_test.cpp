#include "common/error.hpp"

#include <cstring>

#include <gtest/gtest.h>

namespace lj {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return fail(Errc::invalid_argument, "test", "not positive: " + std::to_string(v));
  return v;
}

Result<int> doubled(int v) {
  int x = LJ_TRY_CTX("doubling " + std::to_string(v), parse_positive(v));
  return 2 * x;
}

Status checked(int v) {
  LJ_TRY(parse_positive(v));
  return {};
}

// LJ_TRY of a Status (tl::expected<void, E> has no value()).
Status checked_twice(int v) {
  LJ_TRY(checked(v));
  LJ_TRY_CTX("again", checked(v));
  return {};
}

TEST(Error, TryPropagatesAStatus) {
  EXPECT_TRUE(checked_twice(1));
  auto r = checked_twice(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
}

TEST(Error, FromErrnoMapsKindAndNamesTheErrno) {
  Error e = Error::from_errno("overlay", "mount /x", EBUSY);
  EXPECT_EQ(e.errc(), Errc::busy);
  EXPECT_EQ(e.sys_errno(), EBUSY);
  EXPECT_EQ(e.code(), "overlay.busy");
  EXPECT_NE(e.what().find("mount /x: "), std::string::npos) << e.what();
  EXPECT_NE(e.what().find("(EBUSY)"), std::string::npos) << e.what();
  EXPECT_EQ(Error::from_errno("x", "y", ENOENT).errc(), Errc::not_found);
  EXPECT_EQ(Error::from_errno("x", "y", EPERM).errc(), Errc::permission_denied);
  EXPECT_EQ(Error::from_errno("x", "y", ENOSPC).errc(), Errc::no_space);
  EXPECT_EQ(Error::from_errno("x", "y", EINVAL).errc(), Errc::system);
}

TEST(Error, ContextChainsOutermostFirst) {
  Error e = Error::from_errno("jail", "mounting /data", EBUSY);
  std::move(e).context("starting").context("creating jail web-1");
  EXPECT_EQ(e.what(), "creating jail web-1: starting: mounting /data: " +
                          std::string(std::strerror(EBUSY)) + " (EBUSY)");
}

TEST(Error, TryPropagatesWithContextAndPassesValues) {
  EXPECT_EQ(doubled(4).value(), 8);
  auto r = doubled(-1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().what(), "doubling -1: not positive: -1");
  EXPECT_EQ(r.error().code(), "test.invalid_argument");
  EXPECT_TRUE(checked(1));
  EXPECT_FALSE(checked(0));
}

TEST(Error, UnknownErrnoStillHasAName) {
  EXPECT_EQ(errno_name(EBUSY), "EBUSY");
  EXPECT_EQ(errno_name(4242), "E4242");
}

}  // namespace
}  // namespace lj
