#include "common/sys.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "common/fd.hpp"
#include "common/scope.hpp"

namespace lj {
namespace {

int open_null() { return LJ_SYS("open", ::open("/dev/null", O_RDONLY | O_CLOEXEC)); }

TEST(Sys, UnarmedCallsGoToTheKernel) {
  UniqueFd fd(open_null());
  EXPECT_TRUE(fd);
}

TEST(Sys, ArmedFaultFailsTheNthCallOnceWithItsErrno) {
  sys::clear_faults();
  sys::inject_fault("open", EMFILE, 1);
  UniqueFd first(open_null());
  EXPECT_TRUE(first);
  errno = 0;
  EXPECT_EQ(open_null(), -1);
  EXPECT_EQ(errno, EMFILE);
  UniqueFd third(open_null());
  EXPECT_TRUE(third);
  EXPECT_EQ(sys::faults_fired(), 1);
  sys::clear_faults();
}

TEST(Sys, FaultsMatchByName) {
  sys::clear_faults();
  sys::inject_fault("mount", EBUSY);
  UniqueFd fd(open_null());
  EXPECT_TRUE(fd);
  EXPECT_EQ(sys::faults_fired(), 0);
  sys::clear_faults();
}

TEST(UniqueFd, ClosesOnceAndMovesOwnership) {
  int raw;
  {
    UniqueFd a(open_null());
    raw = a.get();
    UniqueFd b(std::move(a));
    EXPECT_FALSE(a);
    EXPECT_EQ(b.get(), raw);
  }
  EXPECT_EQ(fcntl(raw, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
}

TEST(ScopeExit, RunsUnlessDismissed) {
  int ran = 0;
  { ScopeExit g([&] { ++ran; }); }
  {
    ScopeExit g([&] { ++ran; });
    g.dismiss();
  }
  EXPECT_EQ(ran, 1);
}

}  // namespace
}  // namespace lj
