#include "overlay/catalog.hpp"

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>

#include "../support/deep_tree.hpp"
#include "common/sys.hpp"
#include "overlay/staging.hpp"
#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

OverlayName N(std::string_view s) {
  return *OverlayName::parse(s);
}
Version V(std::string_view s) {
  return *Version::parse(s);
}
WorldName W(std::string_view s) {
  return *WorldName::parse(s);
}

class CatalogTest : public ::testing::Test {
 protected:
  CatalogTest() : root_(tmp_.path() / "root"), cat_(root_, mounts_) {
    EXPECT_TRUE(root_.create_skeleton());
    make_world("busybox");
  }

  void make_world(std::string_view name) {
    fs::create_directories(root_.worlds_dir() / name / "bin");
    std::ofstream(root_.worlds_dir() / name / "bin/sh") << "#!";
  }

  // Stages and publishes one overlay whose layer holds the file "<version>".
  Result<Manifest> publish(std::string_view name, std::string_view version,
                           std::optional<ParentRef> parent = std::nullopt,
                           std::string_view world = "busybox", std::string_view privileges = "") {
    auto st = StagingDir::create(root_, "build");
    if (!st) return fail(std::move(st).error());
    fs::create_directories(st->path() / "layer/etc");
    std::ofstream(st->path() / "layer/etc" / std::string(version)) << name;
    Manifest m;
    m.name = name;
    m.version = version;
    m.world = world;
    m.parent = std::move(parent);
    m.jailfile_digest = "sha256:00";
    m.privileges = *parse_privileges(privileges);
    auto r = cat_.publish(st->path(), m);
    if (r) st->release();
    return r;
  }

  std::size_t staging_entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(root_.staging_dir()), fs::directory_iterator()));
  }

  test::TempDir tmp_;
  StaticMountTable mounts_{{"/"}};
  Root root_;
  Catalog cat_;
};

TEST_F(CatalogTest, PublishFindResolveTheIssueScenario) {
  ASSERT_TRUE(publish("lang/common", "1.0.0"));
  ASSERT_TRUE(publish("lang/common", "1.2.0"));
  ASSERT_TRUE(publish("lang/common", "2.0.0"));
  auto c = *Constraint::parse("~> 1.0");
  auto parent_v = cat_.find(N("lang/common"), c);
  ASSERT_TRUE(parent_v) << parent_v.error().what();
  EXPECT_EQ(parent_v->str(), "1.2.0");
  auto m = publish("lang/ruby", "2.1.1", ParentRef{"lang/common", "~> 1.0", parent_v->str()});
  ASSERT_TRUE(m) << m.error().what();
  EXPECT_EQ(m->size_bytes, std::string("lang/ruby").size());
  EXPECT_TRUE(is_rfc3339_utc(m->created));
  EXPECT_EQ(staging_entries(), 0u);
  struct stat st {};
  ASSERT_EQ(::stat(root_.overlay_dir(N("lang/ruby"), V("2.1.1")).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u) << "published overlays are readable";

  auto on_disk = cat_.manifest(N("lang/ruby"), V("2.1.1"));
  ASSERT_TRUE(on_disk) << on_disk.error().what();
  EXPECT_EQ(*on_disk, *m);

  auto chain = cat_.resolve(N("lang/ruby"), V("2.1.1"));
  ASSERT_TRUE(chain) << chain.error().what();
  EXPECT_EQ(chain->world->str(), "busybox");
  EXPECT_EQ(chain->lower, (std::vector<fs::path>{root_.dir() / "worlds/busybox",
                                                 root_.dir() / "lang/common/1.2.0/layer",
                                                 root_.dir() / "lang/ruby/2.1.1/layer"}));
  ASSERT_EQ(chain->overlays.size(), 2u);
  EXPECT_EQ(chain->overlays[0].name.str(), "lang/common");

  auto all = cat_.list_overlays();
  ASSERT_TRUE(all) << all.error().what();
  std::vector<std::string> got;
  for (const auto& e : *all) got.push_back(e.name.str() + "@" + e.version.str());
  EXPECT_EQ(got, (std::vector<std::string>{"lang/common@1.0.0", "lang/common@1.2.0",
                                           "lang/common@2.0.0", "lang/ruby@2.1.1"}));
  auto vs = cat_.versions(N("lang/common"));
  ASSERT_EQ(vs->size(), 3u);
  EXPECT_EQ((*vs)[2].str(), "2.0.0");

  auto deps = cat_.dependents(N("lang/common"), V("1.2.0"));
  ASSERT_EQ(deps->size(), 1u);
  EXPECT_EQ((*deps)[0].name.str(), "lang/ruby");
  EXPECT_TRUE(cat_.dependents(N("lang/common"), V("2.0.0"))->empty());
  EXPECT_EQ(cat_.world_dependents(W("busybox"))->size(), 4u);
  EXPECT_EQ(cat_.list_worlds()->size(), 1u);

  auto world_only = cat_.resolve_world(W("busybox"));
  ASSERT_TRUE(world_only);
  EXPECT_EQ(world_only->lower, (std::vector<fs::path>{root_.dir() / "worlds/busybox"}));
  EXPECT_EQ(cat_.resolve_world(W("nope")).error().code(), "world.not_found");
}

// A chain declares what every member's Jailfile declared: a child inherits its ancestors'.
TEST_F(CatalogTest, AChainDeclaresItsMembersPrivileges) {
  ASSERT_TRUE(publish("p/base", "1.0.0", std::nullopt, "busybox", "device=/dev/fuse"));
  ASSERT_TRUE(publish("p/mid", "1.0.0", ParentRef{"p/base", "*", "1.0.0"}));
  ASSERT_TRUE(publish("p/top", "1.0.0", ParentRef{"p/mid", "*", "1.0.0"}, "busybox", "mlock"));
  auto top = cat_.resolve(N("p/top"), V("1.0.0"));
  ASSERT_TRUE(top) << top.error().what();
  EXPECT_EQ(top->privileges.items(), (std::vector<std::string>{"device=/dev/fuse", "mlock"}));
  auto mid = cat_.resolve(N("p/mid"), V("1.0.0"));
  ASSERT_TRUE(mid);
  EXPECT_EQ(mid->privileges.items(), (std::vector<std::string>{"device=/dev/fuse"}));
  EXPECT_TRUE(cat_.resolve_world(W("busybox"))->privileges.empty());
}

TEST_F(CatalogTest, NestedNamesAndLeftoversAreListedCorrectly) {
  ASSERT_TRUE(publish("a/b", "1.0.0"));
  ASSERT_TRUE(publish("a/b/c", "0.1.0"));
  ASSERT_TRUE(publish("ci/github.com/builder", "3.0.0-rc.1"));
  fs::create_directories(root_.dir() / "a/b/9.9.9");   // no manifest: not published
  fs::create_directories(root_.dir() / "a/b/01.0.0");  // not a version
  auto all = cat_.list_overlays();
  ASSERT_TRUE(all) << all.error().what();
  std::vector<std::string> got;
  for (const auto& e : *all) got.push_back(e.name.str() + "@" + e.version.str());
  EXPECT_EQ(got, (std::vector<std::string>{"a/b@1.0.0", "a/b/c@0.1.0",
                                           "ci/github.com/builder@3.0.0-rc.1"}));
  // A pre-release is only found when the constraint names its line.
  EXPECT_EQ(cat_.find(N("ci/github.com/builder"), *Constraint::parse("*")).error().errc(),
            Errc::not_found);
  EXPECT_TRUE(cat_.find(N("ci/github.com/builder"), *Constraint::parse(">=3.0.0-rc.0")));
}

TEST_F(CatalogTest, PublishNeverClobbers) {
  ASSERT_TRUE(publish("lang/common", "1.0.0"));
  auto again = publish("lang/common", "1.0.0");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), "overlay.exists");
  EXPECT_NE(again.error().what().find("already exists"), std::string::npos);
  // The loser's staging dir was removed by its StagingDir, the winner is intact.
  EXPECT_EQ(staging_entries(), 0u);
  EXPECT_TRUE(fs::exists(root_.layer_dir(N("lang/common"), V("1.0.0")) / "etc/1.0.0"));
  EXPECT_EQ(cat_.versions(N("lang/common"))->size(), 1u);
}

TEST_F(CatalogTest, PublishChecksWorldParentAndLayer) {
  auto no_world = publish("lang/common", "1.0.0", std::nullopt, "freebsd14");
  ASSERT_FALSE(no_world);
  EXPECT_EQ(no_world.error().code(), "world.not_found");
  auto no_parent = publish("lang/ruby", "1.0.0", ParentRef{"lang/common", "*", "1.0.0"});
  ASSERT_FALSE(no_parent);
  EXPECT_EQ(no_parent.error().errc(), Errc::not_found);
  EXPECT_NE(no_parent.error().what().find("lang/common 1.0.0 is not published"), std::string::npos)
      << no_parent.error().what();

  make_world("other");
  ASSERT_TRUE(publish("lang/common", "1.0.0", std::nullopt, "other"));
  auto cross = publish("lang/ruby", "1.0.0", ParentRef{"lang/common", "*", "1.0.0"});
  ASSERT_FALSE(cross);
  EXPECT_EQ(cross.error().errc(), Errc::conflict);

  auto st = StagingDir::create(root_, "build");
  ASSERT_TRUE(st);
  Manifest m{"lang/x", "1.0.0", "busybox", std::nullopt, "", "", 0, "", "", std::nullopt, {}};
  auto no_layer = cat_.publish(st->path(), m);
  ASSERT_FALSE(no_layer);
  EXPECT_NE(no_layer.error().what().find("layer is not a directory"), std::string::npos);
  m.name = "x";
  EXPECT_EQ(cat_.publish(st->path(), m).error().errc(), Errc::invalid_argument);
  m.name = "lang/x";
  fs::create_directories(st->path() / "layer");
  fs::create_directories(st->path() / "work/work");
  auto stray = cat_.publish(st->path(), m);
  ASSERT_FALSE(stray);
  EXPECT_NE(stray.error().what().find("unexpected entry"), std::string::npos);
  fs::remove_all(st->path() / "work");
  EXPECT_TRUE(cat_.publish(st->path(), m));
  st->release();
  EXPECT_EQ(staging_entries(), 0u);
}

TEST_F(CatalogTest, FailedPublishPublishesNothing) {
  for (const char* call : {"rename", "fsync", "write"}) {
    auto st = StagingDir::create(root_, "build");
    ASSERT_TRUE(st);
    fs::create_directories(st->path() / "layer");
    sys::clear_faults();
    sys::inject_fault(call, EIO);
    auto r = cat_.publish(st->path(),
                          Manifest{"lang/x", "1.0.0", "busybox", std::nullopt, "", "", 0, "", "", std::nullopt, {}});
    sys::clear_faults();
    ASSERT_FALSE(r) << call;
    EXPECT_TRUE(cat_.versions(N("lang/x"))->empty()) << call;
    EXPECT_TRUE(fs::exists(st->path() / "layer")) << "the staging dir stays the caller's";
  }
  EXPECT_EQ(staging_entries(), 0u);
}

TEST_F(CatalogTest, RemoveRefusesDependentsAndMounts) {
  ASSERT_TRUE(publish("lang/common", "1.2.0"));
  ASSERT_TRUE(publish("lang/ruby", "2.1.1", ParentRef{"lang/common", "~> 1.0", "1.2.0"}));

  auto parent = cat_.remove(N("lang/common"), V("1.2.0"));
  ASSERT_FALSE(parent);
  EXPECT_EQ(parent.error().code(), "overlay.conflict");
  EXPECT_NE(parent.error().what().find("parent of lang/ruby 2.1.1"), std::string::npos);

  fs::path ruby = root_.overlay_dir(N("lang/ruby"), V("2.1.1"));
  StaticMountTable busy({"/", fs::canonical(ruby) / "layer/proc"});
  Catalog guarded(root_, busy);
  auto mounted = guarded.remove(N("lang/ruby"), V("2.1.1"));
  ASSERT_FALSE(mounted);
  EXPECT_EQ(mounted.error().errc(), Errc::conflict);
  EXPECT_NE(mounted.error().what().find("layer/proc"), std::string::npos);
  EXPECT_TRUE(fs::exists(ruby / "layer/etc/2.1.1"));

  auto world = cat_.remove_world(W("busybox"));
  ASSERT_FALSE(world);
  EXPECT_EQ(world.error().code(), "world.conflict");

  ASSERT_TRUE(cat_.remove(N("lang/ruby"), V("2.1.1")));
  EXPECT_FALSE(fs::exists(root_.dir() / "lang/ruby")) << "empty name directories are dropped";
  EXPECT_EQ(cat_.remove(N("lang/ruby"), V("2.1.1")).error().errc(), Errc::not_found);
  ASSERT_TRUE(cat_.remove(N("lang/common"), V("1.2.0")));
  EXPECT_FALSE(fs::exists(root_.dir() / "lang"));
  EXPECT_TRUE(cat_.list_overlays()->empty());

  StaticMountTable world_busy({root_.world_dir(W("busybox")) / "dev"});
  EXPECT_EQ(Catalog(root_, world_busy).remove_world(W("busybox")).error().errc(), Errc::conflict);
  ASSERT_TRUE(cat_.remove_world(W("busybox")));
  EXPECT_TRUE(cat_.list_worlds()->empty());
  EXPECT_EQ(staging_entries(), 0u);
}

TEST_F(CatalogTest, ResolveDetectsDamage) {
  auto hand_made = [&](std::string_view name, std::string_view version, std::string_view world,
                       std::optional<ParentRef> parent) {
    fs::path d = root_.dir() / name / version;
    fs::create_directories(d / "layer");
    Manifest m{std::string(name),
               std::string(version),
               std::string(world),
               std::move(parent),
               "",
               "",
               0,
               "2026-11-24T00:00:00Z",
               "",
               std::nullopt,
               {}};
    ASSERT_TRUE(write_manifest(d / "manifest.json", m));
  };
  hand_made("a/x", "1.0.0", "busybox", ParentRef{"a/y", "*", "1.0.0"});
  hand_made("a/y", "1.0.0", "busybox", ParentRef{"a/x", "*", "1.0.0"});
  auto cycle = cat_.resolve(N("a/x"), V("1.0.0"));
  ASSERT_FALSE(cycle);
  EXPECT_EQ(cycle.error().errc(), Errc::conflict);
  EXPECT_NE(cycle.error().what().find("a/x 1.0.0 -> a/y 1.0.0 -> a/x 1.0.0"), std::string::npos)
      << cycle.error().what();

  hand_made("b/x", "1.0.0", "busybox", ParentRef{"b/gone", "~> 1", "1.0.0"});
  auto orphan = cat_.resolve(N("b/x"), V("1.0.0"));
  ASSERT_FALSE(orphan);
  EXPECT_EQ(orphan.error().errc(), Errc::not_found);
  EXPECT_NE(orphan.error().what().find("its parent b/gone 1.0.0 is not published"),
            std::string::npos);

  hand_made("c/x", "1.0.0", "vanished", std::nullopt);
  auto no_world = cat_.resolve(N("c/x"), V("1.0.0"));
  ASSERT_FALSE(no_world);
  EXPECT_EQ(no_world.error().code(), "world.not_found");

  hand_made("d/x", "1.0.0", "busybox", std::nullopt);
  fs::rename(root_.dir() / "d/x/1.0.0", root_.dir() / "d/x/2.0.0");
  auto moved = cat_.resolve(N("d/x"), V("2.0.0"));
  ASSERT_FALSE(moved);
  EXPECT_NE(moved.error().what().find("describes d/x 1.0.0"), std::string::npos);

  EXPECT_EQ(cat_.resolve(N("e/x"), V("1.0.0")).error().code(), "overlay.not_found");
}

TEST_F(CatalogTest, FindExplainsWhatThereIs) {
  auto none = cat_.find(N("lang/common"), *Constraint::parse("*"));
  EXPECT_NE(none.error().what().find("has no published version"), std::string::npos);
  ASSERT_TRUE(publish("lang/common", "1.0.0"));
  ASSERT_TRUE(publish("lang/common", "2.0.0"));
  auto miss = cat_.find(N("lang/common"), *Constraint::parse("~> 3.0"));
  ASSERT_FALSE(miss);
  EXPECT_NE(miss.error().what().find("satisfies \"~> 3.0\" (published: 1.0.0, 2.0.0)"),
            std::string::npos)
      << miss.error().what();
}

TEST_F(CatalogTest, CleanStagingKeepsLiveDirsAndMounts) {
  auto live = StagingDir::create(root_, "build");
  ASSERT_TRUE(live);
  fs::create_directories(root_.staging_dir() / "build-dead1/layer/x");
  fs::create_directories(root_.staging_dir() / "world-dead2");
  std::ofstream(root_.staging_dir() / "stray-file") << "x";
  auto n = cat_.clean_staging();
  ASSERT_TRUE(n) << n.error().what();
  EXPECT_EQ(*n, 3u);
  EXPECT_TRUE(fs::exists(live->path()));

  fs::create_directories(root_.staging_dir() / "build-dead3/layer");
  fs::create_directories(root_.staging_dir() / "build-dead4");
  StaticMountTable busy({fs::canonical(root_.staging_dir()) / "build-dead3/layer"});
  auto refused = Catalog(root_, busy).clean_staging();
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errc(), Errc::conflict);
  EXPECT_TRUE(fs::exists(root_.staging_dir() / "build-dead3/layer"));
  EXPECT_FALSE(fs::exists(root_.staging_dir() / "build-dead4"));
  fs::remove_all(root_.staging_dir() / "build-dead3");
}

// Recovery's cleanup at every ljd start: a leftover tree 20,000 levels deep (a build's upper
// layer) once overflowed the stack here, and so every start died again. It is removed, and an
// entry that cannot be removed stops nothing else.
TEST_F(CatalogTest, CleanStagingRemovesADeepLeftoverAndGoesOnPastARefusal) {
  lj::test::DeepScratch scratch;  // a root of its own, on a tmpfs when there is one
  Root root(scratch.path() / "root");
  ASSERT_TRUE(root.create_skeleton());
  fs::create_directories(root.staging_dir() / "build-deep");
  ASSERT_TRUE(lj::test::make_deep_tree(root.staging_dir() / "build-deep", 20000));
  fs::create_directories(root.staging_dir() / "build-busy/layer");
  fs::create_directories(root.staging_dir() / "build-plain/layer/x");
  StaticMountTable busy({fs::canonical(root.staging_dir()) / "build-busy/layer"});
  auto n = Catalog(root, busy).clean_staging();
  ASSERT_FALSE(n);
  EXPECT_EQ(n.error().errc(), Errc::conflict) << n.error().what();
  EXPECT_NE(n.error().what().find("build-busy"), std::string::npos) << n.error().what();
  EXPECT_FALSE(fs::exists(root.staging_dir() / "build-deep"));
  EXPECT_FALSE(fs::exists(root.staging_dir() / "build-plain"));
  EXPECT_TRUE(fs::exists(root.staging_dir() / "build-busy/layer"));
}

TEST_F(CatalogTest, StagingDirRemovesItselfUnlessReleased) {
  fs::path p;
  {
    auto st = StagingDir::create(root_, "world");
    ASSERT_TRUE(st);
    p = st->path();
    EXPECT_EQ(p.parent_path(), root_.staging_dir());
    EXPECT_EQ(p.filename().string().rfind("world-", 0), 0u);
    fs::create_directories(p / "a/b");
    EXPECT_FALSE(*staging_entry_is_stale(p));
  }
  EXPECT_FALSE(fs::exists(p));
  EXPECT_EQ(StagingDir::create(root_, "../x").error().errc(), Errc::invalid_argument);
}

// Privileged: a real mount, made in a private mount namespace of a child process (so it dies
// with the child), must stop remove() with the system's mount table.
TEST_F(CatalogTest, RealMountUnderAnOverlayBlocksRemoval) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mounts a tmpfs in a private mount namespace";
  ASSERT_TRUE(publish("lang/common", "1.0.0"));
  fs::path target = root_.layer_dir(N("lang/common"), V("1.0.0")) / "etc";
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    if (::mount("tmpfs", target.c_str(), "tmpfs", 0, "size=1m") != 0) ::_exit(12);
    Catalog real(root_);
    auto s = real.remove(N("lang/common"), V("1.0.0"));
    if (s || s.error().errc() != Errc::conflict) ::_exit(13);
    if (!fs::exists(target)) ::_exit(14);
    if (::umount(target.c_str()) != 0) ::_exit(15);
    ::_exit(real.remove(N("lang/common"), V("1.0.0")) ? 0 : 16);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_TRUE(cat_.list_overlays()->empty());
}

}  // namespace
}  // namespace lj::overlay
