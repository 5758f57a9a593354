#include "overlay/root.hpp"

#include <sys/stat.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>

#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

TEST(Root, FromEnvFallsBackToUsrLocalLj) {
  const char* old = std::getenv("LIGHTJAIL_ROOT");
  std::string saved = old ? old : "";
  ::unsetenv("LIGHTJAIL_ROOT");
  EXPECT_EQ(Root::from_env().dir(), "/usr/local/lj");
  ::setenv("LIGHTJAIL_ROOT", "", 1);
  EXPECT_EQ(Root::from_env().dir(), "/usr/local/lj");
  ::setenv("LIGHTJAIL_ROOT", "/srv/lj", 1);
  EXPECT_EQ(Root::from_env().dir(), "/srv/lj");
  if (old) {
    ::setenv("LIGHTJAIL_ROOT", saved.c_str(), 1);
  } else {
    ::unsetenv("LIGHTJAIL_ROOT");
  }
}

TEST(Root, Paths) {
  Root r("/srv/lj");
  auto n = *OverlayName::parse("lang/ruby");
  auto v = *Version::parse("2.1.1");
  EXPECT_EQ(r.worlds_dir(), "/srv/lj/worlds");
  EXPECT_EQ(r.world_dir(*WorldName::parse("10.0-RELEASE")), "/srv/lj/worlds/10.0-RELEASE");
  EXPECT_EQ(r.overlay_dir(n), "/srv/lj/lang/ruby");
  EXPECT_EQ(r.overlay_dir(n, v), "/srv/lj/lang/ruby/2.1.1");
  EXPECT_EQ(r.manifest_path(n, v), "/srv/lj/lang/ruby/2.1.1/manifest.json");
  EXPECT_EQ(r.layer_dir(n, v), "/srv/lj/lang/ruby/2.1.1/layer");
  EXPECT_EQ(r.staging_dir(), "/srv/lj/.staging");
  EXPECT_EQ(r.daemon_dir(), "/srv/lj/.ljd");
  EXPECT_EQ(r.rootfs_dir(), "/srv/lj/.rootfs");
  EXPECT_TRUE(is_reserved_top_level("worlds"));
  EXPECT_TRUE(is_reserved_top_level(".staging"));
  EXPECT_TRUE(is_reserved_top_level(".anything"));
  EXPECT_FALSE(is_reserved_top_level("lang"));
}

TEST(Root, CreateSkeletonIsIdempotent) {
  test::TempDir tmp;
  Root r(tmp.path() / "a" / "lj");
  ASSERT_TRUE(r.create_skeleton());
  for (auto p : {r.worlds_dir(), r.staging_dir(), r.daemon_dir(), r.rootfs_dir()}) {
    EXPECT_TRUE(fs::is_directory(p)) << p;
  }
  struct stat st {};
  ASSERT_EQ(::stat(r.daemon_dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  auto again = r.create_skeleton();
  EXPECT_TRUE(again) << again.error().what();
}

TEST(Root, CreateSkeletonNamesTheBlockingPath) {
  test::TempDir tmp;
  Root r(tmp.path());
  std::ofstream(tmp.path() / "worlds") << "not a directory";
  auto s = r.create_skeleton();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().what().find((tmp.path() / "worlds").string()), std::string::npos)
      << s.error().what();
}

static mode_t mode_of(const fs::path& p) {
  struct stat st {};
  return ::lstat(p.c_str(), &st) == 0 ? st.st_mode & 07777 : 0;
}

// A root made before the store was private (worlds/, .ljd/ and the overlay namespaces 0755) is
// tightened when a tool next prepares it; .rootfs/ and the root itself are left alone (issue 17).
TEST(Root, CreateSkeletonMakesTheStorePrivateOnAnExistingRoot) {
  test::TempDir tmp;
  Root r(tmp.path() / "root");
  for (const char* d :
       {"worlds/busybox", ".ljd/builds", ".staging", ".rootfs", "lang/ruby/1.0.0"}) {
    fs::create_directories(r.dir() / d);
  }
  for (const char* d : {"", "worlds", ".ljd", ".staging", ".rootfs", "lang", "worlds/busybox"}) {
    ASSERT_EQ(::chmod((r.dir() / d).c_str(), 0755), 0) << d;
  }
  fs::create_symlink(tmp.path(), r.dir() / "link");
  const mode_t outside = mode_of(tmp.path());
  ASSERT_TRUE(r.create_skeleton());
  EXPECT_EQ(mode_of(r.worlds_dir()), 0700u);
  EXPECT_EQ(mode_of(r.daemon_dir()), 0700u);
  EXPECT_EQ(mode_of(r.staging_dir()), 0700u);
  EXPECT_EQ(mode_of(r.dir() / "lang"), 0700u);
  EXPECT_EQ(mode_of(r.rootfs_dir()), 0755u);
  EXPECT_EQ(mode_of(r.dir()), 0755u);
  EXPECT_EQ(mode_of(r.dir() / "worlds/busybox"), 0755u) << "a jail's root keeps its mode";
  EXPECT_EQ(mode_of(tmp.path()), outside) << "a symlink is not followed";
}

TEST(Root, AFreshRootIsPrivate) {
  test::TempDir tmp;
  Root r(tmp.path() / "fresh");
  ASSERT_TRUE(r.create_skeleton());
  EXPECT_EQ(mode_of(r.worlds_dir()), 0700u);
  EXPECT_EQ(mode_of(r.daemon_dir()), 0700u);
  EXPECT_EQ(mode_of(r.staging_dir()), 0700u);
}

}  // namespace
}  // namespace lj::overlay
