// The set-up every privileged FreeBSD test shares (backend_test.cpp, ljoci_test.cpp): root, a
// world holding tests/freebsd/probe.c built static as /probe ($LJ_TEST_WORLD), a temporary
// directory of the test's own, and at the end the proof that nothing is left mounted under it
// (then it is removed; otherwise it stays, as evidence). A test suite derives from WorldTest,
// names its directory's prefix, and when it has set-up of its own calls WorldTest::SetUp() first
// and returns when that skipped or failed.
#pragma once

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "jail/freebsd/root_mounts.hpp"

namespace lj::jail::freebsd {

class WorldTest : public ::testing::Test {
 protected:
  // `prefix`: the temporary directory's name begins with it ("lj-freebsd-test": the backend's).
  explicit WorldTest(std::string prefix) : prefix_(std::move(prefix)) {}

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jail_set(2), nmount(2)";
    const char* w = ::getenv("LJ_TEST_WORLD");
    if (w == nullptr || *w == '\0' || !std::filesystem::exists(std::filesystem::path(w) / "probe"))
      GTEST_SKIP() << "set LJ_TEST_WORLD to a world with tests/freebsd/probe.c built as /probe";
    world_ = w;
    std::string tmpl = (std::filesystem::temp_directory_path() /
                        (prefix_ + "-" + std::to_string(::getpid()) + "-XXXXXX"))
                           .string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }

  void TearDown() override {
    if (dir_.empty()) return;
    // Every jail of this test must have left nothing mounted under its directory.
    auto left = mounts_under(std::filesystem::canonical(dir_));
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->empty()) << "mount left: " << left->front().target;
    if (left && left->empty()) std::filesystem::remove_all(dir_);
  }

  // Whether the derived suite's SetUp should go on after WorldTest::SetUp().
  bool ready() const { return !IsSkipped() && !HasFatalFailure(); }

  std::string world_;          // $LJ_TEST_WORLD
  std::filesystem::path dir_;  // the test's temporary directory
 private:
  std::string prefix_;
};

}  // namespace lj::jail::freebsd
