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

}  // namespace
}  // namespace lj::overlay
