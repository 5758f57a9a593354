#include "overlay/fs_ops.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "../support/deep_tree.hpp"
#include "common/sys.hpp"
#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

using test::slurp;

TEST(FsOps, WriteFileAtomicReplacesAndSetsTheMode) {
  test::TempDir tmp;
  fs::path f = tmp.path() / "f";
  ASSERT_TRUE(write_file_atomic(f, "one", 0600));
  ASSERT_TRUE(write_file_atomic(f, "two", 0640));
  EXPECT_EQ(slurp(f), "two");
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0640u);
}

TEST(FsOps, WriteFileAtomicLeavesTheOldContentOnFailure) {
  test::TempDir tmp;
  fs::path f = tmp.path() / "f";
  ASSERT_TRUE(write_file_atomic(f, "old"));
  for (const char* call : {"write", "fsync", "rename"}) {
    sys::clear_faults();
    sys::inject_fault(call, call == std::string("write") ? ENOSPC : EIO);
    auto s = write_file_atomic(f, "new");
    sys::clear_faults();
    ASSERT_FALSE(s) << call;
    EXPECT_NE(s.error().what().find(f.string()), std::string::npos) << s.error().what();
    EXPECT_EQ(slurp(f), "old") << call;
    EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1)
        << "temp file left after a failed " << call;
  }
  sys::inject_fault("write", ENOSPC);
  EXPECT_EQ(write_file_atomic(f, "new").error().errc(), Errc::no_space);
  sys::clear_faults();
}

TEST(FsOps, TreeSizeCountsHardLinksOnce) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "a/b");
  std::ofstream(tmp.path() / "a/b/f") << "12345";
  std::ofstream(tmp.path() / "g") << "123";
  ASSERT_EQ(::link((tmp.path() / "g").c_str(), (tmp.path() / "a/h").c_str()), 0);
  fs::create_symlink("xy", tmp.path() / "s");
  auto n = tree_size(tmp.path());
  ASSERT_TRUE(n) << n.error().what();
  EXPECT_EQ(*n, 5u + 3u + 2u);
  EXPECT_TRUE(fsync_tree(tmp.path()));
}

TEST(FsOps, RemoveTreeNeverFollowsSymlinks) {
  test::TempDir tmp;
  fs::path keep = tmp.path() / "keep";
  fs::create_directories(keep);
  std::ofstream(keep / "precious") << "data";
  fs::path doomed = tmp.path() / "doomed";
  fs::create_directories(doomed / "x/y");
  std::ofstream(doomed / "x/y/f") << "f";
  fs::create_directory_symlink(keep, doomed / "x/link");
  ::chmod((doomed / "x/y").c_str(), 0500);  // read-only dirs are still removable by the owner
  ASSERT_TRUE(remove_tree(doomed));
  EXPECT_FALSE(fs::exists(doomed));
  EXPECT_EQ(slurp(keep / "precious"), "data");
  EXPECT_TRUE(remove_tree(doomed)) << "a missing tree is success";
}

TEST(FsOps, RemoveTreeReportsTheFailingPath) {
  test::TempDir tmp;
  fs::create_directories(tmp.path() / "d/e");
  sys::inject_fault("unlinkat", EIO);
  auto s = remove_tree(tmp.path() / "d");
  sys::clear_faults();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what().find((tmp.path() / "d/e").string()), std::string::npos)
      << s.error().what();
}

// A tree 20,000 levels deep (a build script can leave one in its upper layer): the size walk, the
// fsync walk and the removal go through it without recursion, without a descriptor per level,
// and without following the symlink placed in it.
TEST(FsOps, TheWalksAndTheRemovalHandleATwentyThousandLevelTree) {
  lj::test::DeepScratch tmp;
  fs::path keep = tmp.path() / "keep";
  fs::create_directories(keep);
  std::ofstream(keep / "precious") << "data";
  fs::path doomed = tmp.path() / "doomed";
  fs::create_directories(doomed);
  ASSERT_TRUE(lj::test::make_deep_tree(doomed, 20000));
  fs::create_directory_symlink(keep, doomed / "d" / "d" / "link");
  auto n = tree_size(doomed);
  ASSERT_TRUE(n) << n.error().what();
  EXPECT_EQ(*n, 4u + keep.string().size());  // "leaf" and the link's target
  auto synced = fsync_tree(doomed);
  EXPECT_TRUE(synced) << synced.error().what();
  auto removed = remove_tree(doomed);
  ASSERT_TRUE(removed) << removed.error().what();
  EXPECT_FALSE(fs::exists(doomed));
  EXPECT_EQ(slurp(keep / "precious"), "data");
}

}  // namespace
}  // namespace lj::overlay
