// One real ljd shared by a test suite, with a busybox world "bb": a daemon per test would dominate
// the suite's time. Derived::kConfig holds the extra config lines. With NeedsJails the suite needs
// root and a jail backend: as another user nothing is started and every test skips, saying why.
#pragma once

#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "ljd_process.hpp"

namespace lj::testing {

template <class Derived, bool NeedsJails>
class SharedLjdTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (NeedsJails && ::getuid() != 0) return;
    ljd_ = new LjdProcess(Derived::kConfig);
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
    ASSERT_TRUE(ljd_->make_busybox_world("bb"));
  }
  static void TearDownTestSuite() {
    delete ljd_;
    ljd_ = nullptr;
  }
  void SetUp() override {
    if (!NeedsJails) return;
    if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
    ASSERT_NE(ljd_, nullptr);
    if (ljd_->log().find("backend=none") != std::string::npos)
      GTEST_SKIP() << "no jail backend in this build";
  }
  HttpClient client() { return ljd_->client(); }

  inline static LjdProcess* ljd_ = nullptr;
};

}  // namespace lj::testing
