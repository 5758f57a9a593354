#include "build/context.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "../support/deep_tree.hpp"

namespace fs = std::filesystem;

namespace lj::build {
namespace {

class Context : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("lj-context-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    src_ = dir_ / "src";
    fs::create_directories(src_ / "sub" / "deeper");
    write(src_ / "Jailfile", "name a/b\n#!/bin/sh\n");
    write(src_ / "sub" / "run.sh", "#!/bin/sh\necho hi\n");
    ::chmod((src_ / "sub" / "run.sh").c_str(), 0750);
    fs::create_symlink("/etc/passwd", src_ / "outside");
    fs::create_symlink("sub/run.sh", src_ / "inside");
  }
  void TearDown() override { fs::remove_all(dir_); }
  static void write(const fs::path& p, std::string_view text) { std::ofstream(p) << text; }

  fs::path dir_, src_;
};

TEST_F(Context, Sha256KnownAnswer) {
  EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(Context, DigestIsStableAndSeesContentsModesAndLinkTargets) {
  auto a = digest_tree(src_);
  ASSERT_TRUE(a) << a.error().what();
  EXPECT_EQ(*a, *digest_tree(src_));

  write(src_ / "sub" / "run.sh", "#!/bin/sh\necho ho\n");
  auto b = digest_tree(src_);
  EXPECT_NE(*a, *b);

  ::chmod((src_ / "sub" / "run.sh").c_str(), 0755);
  auto c = digest_tree(src_);
  EXPECT_NE(*b, *c);

  fs::remove(src_ / "outside");
  fs::create_symlink("/etc/group", src_ / "outside");
  auto d = digest_tree(src_);
  EXPECT_NE(*c, *d);

  fs::create_directories(src_ / "empty");
  EXPECT_NE(*d, *digest_tree(src_));
}

TEST_F(Context, CopyKeepsSymlinksAsSymlinksAndModes) {
  fs::path dst = dir_ / "upper" / "app";
  auto st = copy_tree(src_, dst);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_TRUE(fs::is_symlink(dst / "outside"));
  EXPECT_EQ(fs::read_symlink(dst / "outside"), "/etc/passwd");
  EXPECT_EQ(fs::read_symlink(dst / "inside"), "sub/run.sh");
  EXPECT_TRUE(fs::is_directory(dst / "sub" / "deeper"));
  struct stat s {};
  ASSERT_EQ(::lstat((dst / "sub" / "run.sh").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0750u);
  std::ifstream in(dst / "sub" / "run.sh");
  std::ostringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "#!/bin/sh\necho hi\n");
  // The copy digests like its source.
  EXPECT_EQ(*digest_tree(src_), *digest_tree(dst));
}

// The walk once passed the directory's own path by reference into the entries' vector, which the
// walk below it reallocates: a directory first in its parent, holding a few entries, read freed
// memory (an uninstrumented run aborted with std::bad_alloc; ASan: heap-use-after-free).
TEST_F(Context, ASubdirectoryWhoseEntriesGrowTheWalkIsWalkedWhole) {
  fs::path top = dir_ / "wide";
  for (int i = 0; i < 40; ++i) {
    fs::create_directories(top / "a" / ("d" + std::to_string(i)));
    write(top / "a" / ("f" + std::to_string(i)), std::to_string(i));
  }
  auto d = digest_tree(top);
  ASSERT_TRUE(d) << d.error().what();
  fs::path dst = dir_ / "copy";
  auto st = copy_tree(top, dst);
  ASSERT_TRUE(st) << st.error().what();
  for (int i = 0; i < 40; ++i) {
    EXPECT_TRUE(fs::is_directory(dst / "a" / ("d" + std::to_string(i)))) << i;
    EXPECT_TRUE(fs::is_regular_file(dst / "a" / ("f" + std::to_string(i)))) << i;
  }
  EXPECT_EQ(*d, *digest_tree(dst));
}

TEST_F(Context, SpecialFilesAreRefusedBeforeAnythingIsCopied) {
  ASSERT_EQ(::mkfifo((src_ / "sub" / "pipe").c_str(), 0600), 0);
  fs::path dst = dir_ / "upper";
  auto st = copy_tree(src_, dst);
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().errc(), Errc::invalid_argument);
  EXPECT_NE(st.error().what().find("fifo"), std::string::npos) << st.error().what();
  EXPECT_FALSE(fs::exists(dst / "Jailfile"));
  auto d = digest_tree(src_);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().errc(), Errc::invalid_argument);
}

TEST_F(Context, AContextThatIsASymlinkIsRefused) {
  fs::create_directory_symlink(src_, dir_ / "link");
  auto d = digest_tree(dir_ / "link");
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().errc(), Errc::invalid_argument);
}

TEST_F(Context, CopyDestinationParentsTakeTheLayersModes) {
  fs::path world = dir_ / "world", parent = dir_ / "parent", upper = dir_ / "upper";
  fs::create_directories(world / "usr/local");
  fs::create_directories(parent / "usr/local");
  fs::create_directories(upper);
  ::chmod((world / "usr/local").c_str(), 0755);
  ::chmod((parent / "usr/local").c_str(), 0750);  // the topmost layer that has it wins
  auto st = prepare_copy_dest({world, parent}, upper, "/usr/local/app");
  ASSERT_TRUE(st) << st.error().what();
  struct stat s {};
  ASSERT_EQ(::lstat((upper / "usr/local").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0750u);
  ASSERT_EQ(::lstat((upper / "usr/local/app").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0755u);  // in no layer: 0755
}

TEST_F(Context, CopyDestinationThroughASymlinkInTheLayersIsRefused) {
  fs::path world = dir_ / "world", upper = dir_ / "upper";
  fs::create_directories(world / "usr/bin");
  fs::create_directory_symlink("usr/bin", world / "bin");
  fs::create_directories(upper);
  auto st = prepare_copy_dest({world}, upper, "/bin/tools");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().errc(), Errc::invalid_argument);
  EXPECT_NE(st.error().what().find("/bin is not a directory"), std::string::npos)
      << st.error().what();
  EXPECT_FALSE(fs::exists(upper / "bin"));
}

// A context 10,000 levels deep (far past PATH_MAX): digested and copied whole, without
// recursion (a recursive walk overflowed the stack of ljd and ljbuild; issue 17). Not 20,000 as
// in the walk's own tests: the digest hashes every entry's path, quadratic in the depth by format.
TEST_F(Context, ATenThousandLevelContextIsDigestedAndCopied) {
  constexpr int kLevels = 10000;
  test::DeepScratch scratch;
  fs::path top = scratch.path() / "deep";
  fs::create_directories(top);
  ASSERT_TRUE(test::make_deep_tree(top, kLevels));
  auto d = digest_tree(top);
  ASSERT_TRUE(d) << d.error().what();
  fs::path dst = scratch.path() / "copy";
  auto st = copy_tree(top, dst);
  EXPECT_TRUE(st) << st.error().what();
  EXPECT_EQ(test::deep_tree_levels(dst), kLevels);
  auto copied = digest_tree(dst);
  ASSERT_TRUE(copied) << copied.error().what();
  EXPECT_EQ(*d, *copied);
}

}  // namespace
}  // namespace lj::build
