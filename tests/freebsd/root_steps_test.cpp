#include "jail/freebsd/root_steps.hpp"

#include <gtest/gtest.h>

namespace lj::jail::freebsd {
namespace {

namespace fs = std::filesystem;
using Options = std::vector<std::pair<std::string, std::string>>;

const fs::path kRoot = "/lj/.ljd/jails/j1/root";
const fs::path kUpper = "/lj/.ljd/jails/j1/upper";

std::string describe(const MountStep& s) {
  std::string d = s.fstype + " " + s.source.string() + " -> " +
                  (s.jail_path.empty() ? s.target.string() : "jail:" + s.jail_path);
  if (s.read_only) d += " ro";
  if (s.nosuid) d += " nosuid";
  if (s.noexec) d += " noexec";
  for (const auto& [k, v] : s.options) d += " " + k + "=" + v;
  return d;
}

std::vector<std::string> describe(const std::vector<MountStep>& steps) {
  std::vector<std::string> out;
  for (const auto& s : steps) out.push_back(describe(s));
  return out;
}

TEST(FreebsdMountSteps, NoWorldNoSteps) {
  EXPECT_TRUE(mount_steps(MountPlan{}, kRoot, kUpper, 4).empty());
}

TEST(FreebsdMountSteps, EphemeralStackBottomUp) {
  MountPlan p;
  p.layers = {"/lj/worlds/14.1-RELEASE", "/lj/lang/common/1.2.0/layer", "/lj/lang/ruby/2.1.1/layer"};
  p.writable = WritableLayer::tmpfs(1 << 30);
  p.volumes = {{"/srv/data", "/data", false}, {"/srv/conf", "/etc/app", true}};
  EXPECT_EQ(describe(mount_steps(p, kRoot, kUpper, 4)),
            (std::vector<std::string>{
                "nullfs /lj/worlds/14.1-RELEASE -> /lj/.ljd/jails/j1/root ro",
                "unionfs /lj/lang/common/1.2.0/layer -> /lj/.ljd/jails/j1/root ro "
                "copymode=transparent",
                "unionfs /lj/lang/ruby/2.1.1/layer -> /lj/.ljd/jails/j1/root ro "
                "copymode=transparent",
                "tmpfs  -> /lj/.ljd/jails/j1/upper nosuid from=tmpfs mode=0755 size=1073741824",
                "unionfs /lj/.ljd/jails/j1/upper -> /lj/.ljd/jails/j1/root copymode=transparent",
                "devfs  -> jail:/dev nosuid noexec from=devfs ruleset=4",
                "nullfs /srv/data -> jail:/data nosuid",
                "nullfs /srv/conf -> jail:/etc/app ro nosuid",
            }));
}

TEST(FreebsdMountSteps, BuildStagingLayerReplacesTmpfs) {
  MountPlan p;
  p.layers = {"/w"};
  p.writable = WritableLayer::host_dir("/lj/.staging/b-1");
  auto steps = mount_steps(p, kRoot, kUpper, 5);
  EXPECT_EQ(describe(steps), (std::vector<std::string>{
                                 "nullfs /w -> /lj/.ljd/jails/j1/root ro",
                                 "unionfs /lj/.staging/b-1/upper -> /lj/.ljd/jails/j1/root "
                                 "copymode=transparent",
                                 "devfs  -> jail:/dev nosuid noexec from=devfs ruleset=5",
                             }));
  EXPECT_EQ(upper_dir(p, kUpper), fs::path("/lj/.staging/b-1/upper"));
}

TEST(FreebsdMountSteps, ReadOnlyRootHasNoWritableLayer) {
  MountPlan p;
  p.layers = {"/w", "/l"};
  p.writable = WritableLayer::none();
  auto steps = mount_steps(p, kRoot, kUpper, 4);
  ASSERT_EQ(steps.size(), 3u);
  for (const auto& s : steps) EXPECT_NE(s.fstype, "tmpfs");
  EXPECT_TRUE(steps[0].read_only && steps[1].read_only);
  EXPECT_EQ(steps[2].fstype, "devfs");
  EXPECT_TRUE(upper_dir(p, kUpper).empty());
}

TEST(FreebsdMountSteps, WritableLowerIsTheRootItself) {
  MountPlan p;
  p.layers = {"/lj/worlds/14.1-RELEASE"};
  p.writable = WritableLayer::in_place();
  EXPECT_EQ(describe(mount_steps(p, kRoot, kUpper, 4)),
            (std::vector<std::string>{
                "nullfs /lj/worlds/14.1-RELEASE -> /lj/.ljd/jails/j1/root",
                "devfs  -> jail:/dev nosuid noexec from=devfs ruleset=4",
            }));
  EXPECT_EQ(upper_dir(p, kUpper), fs::path("/lj/worlds/14.1-RELEASE"));
}

TEST(FreebsdMountSteps, TmpfsWithoutSizeLeavesKernelDefault) {
  MountPlan p;
  p.layers = {"/w"};
  auto steps = mount_steps(p, kRoot, kUpper, 4);
  ASSERT_GE(steps.size(), 2u);
  EXPECT_EQ(steps[1].fstype, "tmpfs");
  EXPECT_EQ(steps[1].options, (Options{{"from", "tmpfs"}, {"mode", "0755"}}));
  EXPECT_EQ(upper_dir(p, kUpper), kUpper);
}

}  // namespace
}  // namespace lj::jail::freebsd
