#include "common/tree_walk.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../support/deep_tree.hpp"

namespace lj {
namespace {

namespace fs = std::filesystem;

class TreeWalkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "lj-tree-walk-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  fs::path dir_;
};

TEST_F(TreeWalkTest, VisitsParentsFirstInSortedOrderWithoutFollowingSymlinks) {
  fs::create_directories(dir_ / "t/b/y");
  fs::create_directories(dir_ / "t/a");
  std::ofstream(dir_ / "t/b/x") << "x";
  fs::create_directory_symlink(dir_, dir_ / "t/b/loop");
  auto c = DirCursor::open(dir_ / "t", "test");
  ASSERT_TRUE(c) << c.error().what();
  std::vector<std::string> seen, left;
  TreeWalk w;
  w.sorted = true;
  w.visit = [&](const DirCursor& at, const std::string& name,
                const struct stat& st) -> Result<bool> {
    seen.push_back(at.rel().empty() ? name : at.rel() + "/" + name);
    return S_ISDIR(st.st_mode);
  };
  w.leave = [&](const DirCursor& at, const std::string& name, const struct stat&) -> Status {
    left.push_back(at.rel().empty() ? name : at.rel() + "/" + name);
    return {};
  };
  ASSERT_TRUE(walk_tree(*c, w));
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "b", "b/loop", "b/x", "b/y"}));
  EXPECT_EQ(left, (std::vector<std::string>{"a", "b/y", "b"}));
  EXPECT_EQ(c->depth(), 0u);
  EXPECT_EQ(c->rel(), "");
}

TEST_F(TreeWalkTest, ASymlinkAsTheTopIsRefused) {
  fs::create_directories(dir_ / "real");
  fs::create_directory_symlink(dir_ / "real", dir_ / "link");
  auto c = DirCursor::open(dir_ / "link", "test");
  ASSERT_FALSE(c);
  EXPECT_TRUE(c.error().sys_errno() == ELOOP || c.error().sys_errno() == ENOTDIR)
      << c.error().what();
}

// A directory moved elsewhere while the walk is below it: going back up through ".." would land
// in another part of the tree. The walk stops instead.
TEST_F(TreeWalkTest, ADirectoryMovedDuringTheWalkStopsIt) {
  fs::create_directories(dir_ / "t/a/b/c");
  fs::create_directories(dir_ / "elsewhere");
  auto c = DirCursor::open(dir_ / "t", "test");
  ASSERT_TRUE(c);
  TreeWalk w;
  w.visit = [&](const DirCursor& at, const std::string& name,
                const struct stat& st) -> Result<bool> {
    if (at.rel() == "a/b" && name == "c") {
      fs::rename(dir_ / "t/a", dir_ / "elsewhere/a");
    }
    return S_ISDIR(st.st_mode);
  };
  auto s = walk_tree(*c, w);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errc(), Errc::conflict) << s.error().what();
  EXPECT_NE(s.error().what().find("moved during the walk"), std::string::npos) << s.error().what();
}

// 20,000 levels: far past PATH_MAX and a default RLIMIT_NOFILE, and deep enough that one C++
// frame per level would need far more stack than a thread has.
TEST_F(TreeWalkTest, WalksTwentyThousandLevelsWithTwoDescriptors) {
  constexpr int kLevels = 20000;
  test::DeepScratch scratch;
  ASSERT_TRUE(test::make_deep_tree(scratch.path(), kLevels));
  auto c = DirCursor::open(scratch.path(), "test");
  ASSERT_TRUE(c);
  std::size_t dirs = 0, files = 0, max_depth = 0;
  TreeWalk w;
  w.visit = [&](const DirCursor& at, const std::string&, const struct stat& st) -> Result<bool> {
    max_depth = std::max(max_depth, at.depth());
    if (S_ISDIR(st.st_mode)) ++dirs;
    if (S_ISREG(st.st_mode)) {
      ++files;
      // Never more than a handful of descriptors open at the deepest point.
      int probe = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
      EXPECT_LT(probe, 64);
      ::close(probe);
      // Messages about such a path keep both ends, not 40 kB.
      EXPECT_LT(at.describe("leaf").size(), 1000u) << at.describe("leaf");
    }
    return S_ISDIR(st.st_mode);
  };
  auto s = walk_tree(*c, w);
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_EQ(dirs, static_cast<std::size_t>(kLevels));
  EXPECT_EQ(files, 1u);
  EXPECT_EQ(max_depth, static_cast<std::size_t>(kLevels));
}

}  // namespace
}  // namespace lj
