#include "common/mount_table.hpp"

#include <gtest/gtest.h>

#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

TEST(Mountinfo, ParsesMountPointsAndDecodesEscapes) {
  auto points = parse_mountinfo(
      "22 1 0:21 / / rw,relatime shared:1 - ext4 /dev/sda1 rw\n"
      "36 22 98:0 /mnt1 /mnt/with\\040space rw,noatime master:1 - ext3 /dev/root rw\n"
      "37 22 0:5 / /a\\134b\\012c rw - tmpfs tmpfs rw\n");
  ASSERT_TRUE(points) << points.error().what();
  EXPECT_EQ(*points, (std::vector<fs::path>{"/", "/mnt/with space", "/a\\b\nc"}));
  auto bad = parse_mountinfo("22 1 0:21 /\n");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("line 1"), std::string::npos);
}

TEST(Mountinfo, TheSystemTableHasTheRoot) {
  auto points = system_mount_table().mount_points();
  ASSERT_TRUE(points) << points.error().what();
  EXPECT_NE(std::find(points->begin(), points->end(), fs::path("/")), points->end());
}

TEST(EnsureNothingMounted, SeesMountsAtAndUnderButNotBesideOrAbove) {
  test::TempDir tmp;
  fs::path dir = fs::canonical(tmp.path()) / "ns/name/1.0.0";
  fs::create_directories(dir);
  auto check = [&](std::vector<fs::path> points) {
    return ensure_nothing_mounted(StaticMountTable(std::move(points)), dir);
  };
  EXPECT_TRUE(check({"/", fs::canonical(tmp.path())}));
  EXPECT_TRUE(check({dir.string() + "0", dir.parent_path() / "1.0.01"}));
  auto at = check({"/", dir});
  ASSERT_FALSE(at);
  EXPECT_EQ(at.error().errc(), Errc::conflict);
  EXPECT_NE(at.error().what().find("1 mount(s)"), std::string::npos) << at.error().what();
  auto under = check({dir / "layer/dev", dir / "layer/proc"});
  ASSERT_FALSE(under);
  EXPECT_NE(under.error().what().find((dir / "layer/dev").string()), std::string::npos);
  // The path is compared after resolving symlinks.
  fs::create_directory_symlink(dir, tmp.path() / "alias");
  EXPECT_FALSE(ensure_nothing_mounted(StaticMountTable({dir / "x"}), tmp.path() / "alias"));
  EXPECT_TRUE(ensure_nothing_mounted(StaticMountTable({dir}), tmp.path() / "missing"));
}

}  // namespace
}  // namespace lj::overlay
