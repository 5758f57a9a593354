// Real builds on a busybox world, in a temporary root: the jail runs, the layer is published, the
// chain resolves. Needs root (namespaces, overlayfs); skips otherwise.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "../support/deep_tree.hpp"
#include "../support/other_user.hpp"
#include "build/builder.hpp"
#include "build_fixture.hpp"
#include "common/fd.hpp"
#include "common/sys.hpp"
#include "overlay/catalog.hpp"

namespace lj::build {
namespace {

namespace fs = std::filesystem;
using testing::BuildRoot;
using testing::CountingBackend;
using testing::read_text;
using testing::write_text;

class Builds : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: build jails use namespaces and overlayfs";
    auto b = jail::make_backend({});
    ASSERT_TRUE(b) << b.error().what();
    inner_ = std::move(*b);
    backend_ = std::make_unique<CountingBackend>(*inner_);
    root_ = std::make_unique<BuildRoot>();
    ASSERT_TRUE(root_->world_ok()) << "needs /bin/busybox (busybox-static)";
    builder_ = std::make_unique<Builder>(root_->root(), *backend_);
  }
  void TearDown() override {
    if (root_) {
      auto unmounted = lj::ensure_nothing_mounted(lj::system_mount_table(), root_->dir());
      EXPECT_TRUE(unmounted) << unmounted.error().what();
      // No build left a staging directory (lock files may stay: they are reused).
      for (const auto& e : fs::directory_iterator(root_->root().staging_dir())) {
        EXPECT_NE(e.path().filename().string().rfind("build", 0), 0u)
            << "staging left: " << e.path();
      }
    }
    builder_.reset();
    root_.reset();
  }

  Result<BuildResult> build(const std::string& sub, std::string_view jailfile,
                            std::vector<std::string>* lines = nullptr) {
    auto req = root_->jailfile(sub, jailfile);
    if (lines) req.on_output = [lines](std::string_view l) { lines->emplace_back(l); };
    return builder_->build(req);
  }

  nlohmann::json manifest(const std::string& name, const std::string& version) {
    return nlohmann::json::parse(read_text(root_->dir() / name / version / "manifest.json"));
  }

  // Runs `script` in a jail on the world plus the chain of name@version, with a throwaway
  // writable layer; returns its exit code and output.
  std::pair<int, std::string> run_on(const std::vector<fs::path>& layers,
                                     const std::string& script) {
    std::vector<fs::path> all = {root_->root().worlds_dir() / "busybox"};
    all.insert(all.end(), layers.begin(), layers.end());
    return run_layers(all, script);
  }
  // As run_on, with the whole stack given (a chain on an image has no world).
  std::pair<int, std::string> run_layers(const std::vector<fs::path>& layers,
                                         const std::string& script) {
    std::array<int, 2> p{};
    EXPECT_EQ(::pipe2(p.data(), O_CLOEXEC), 0);
    UniqueFd r(p[0]), w(p[1]);
    jail::JailSpec spec;
    spec.name = "lj-buildtest-" + std::to_string(::getpid()) + "-" + std::to_string(++runs_);
    spec.root.layers = layers;
    spec.script = script;
    spec.stdio.out = w.get();
    spec.stdio.err = w.get();
    auto j = inner_->spawn(spec);
    EXPECT_TRUE(j) << (j ? "" : j.error().what());
    w.reset();
    if (!j) return {-1, ""};
    std::string out;
    std::array<char, 4096> buf{};
    for (ssize_t n; (n = ::read(r.get(), buf.data(), buf.size())) > 0;) {
      out.append(buf.data(), static_cast<std::size_t>(n));
    }
    auto st = (*j)->wait();
    EXPECT_TRUE(st) << (st ? "" : st.error().what());
    return {st ? st->shell_status() : -1, out};
  }

  fs::path layer(const std::string& name, const std::string& version) {
    return root_->dir() / name / version / "layer";
  }

  std::unique_ptr<jail::Backend> inner_;
  std::unique_ptr<CountingBackend> backend_;
  std::unique_ptr<BuildRoot> root_;
  std::unique_ptr<Builder> builder_;
  int runs_ = 0;
};

std::string common_jailfile(const std::string& version) {
  return "name lang/common\nversion " + version +
         "\n#!/bin/sh\nset -e\nmkdir -p /etc/lang\necho common-" + version +
         " > /etc/lang/common\necho doomed > /etc/lang/doomed\necho built common " + version + "\n";
}

TEST_F(Builds, ChildResolvesTheHighestCompatibleParentAndSeesItsFiles) {
  for (const char* v : {"1.0.0", "1.2.0", "2.0.0"}) {
    std::vector<std::string> lines;
    auto res = build(std::string("common-") + v, common_jailfile(v), &lines);
    ASSERT_TRUE(res) << res.error().what();
    EXPECT_FALSE(res->cache_hit);
    EXPECT_EQ(res->ref(), std::string("lang/common@") + v);
    EXPECT_EQ(lines, std::vector<std::string>{std::string("built common ") + v});
  }
  std::vector<std::string> lines;
  auto t0 = std::chrono::steady_clock::now();
  auto ruby = build("ruby",
                    "name lang/ruby   # the child\n"
                    "version 2.1.1\n"
                    "from lang/common ~> 1.0\n"
                    "#!/bin/sh\n"
                    "set -e\n"
                    "cat /etc/lang/common\n"
                    "cp /etc/lang/common /etc/lang/seen-by-ruby 2>/dev/null || "
                    "cat /etc/lang/common > /etc/lang/seen-by-ruby\n"
                    "rm /etc/lang/doomed\n",
                    &lines);
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(ruby) << ruby.error().what();
  std::printf("build of lang/ruby took %lld ms\n", static_cast<long long>(ms.count()));
  ASSERT_TRUE(ruby->parent);
  EXPECT_EQ(ruby->parent->version, "1.2.0");
  EXPECT_EQ(lines, std::vector<std::string>{"common-1.2.0"});

  auto m = manifest("lang/ruby", "2.1.1");
  EXPECT_EQ(m["name"], "lang/ruby");
  EXPECT_EQ(m["version"], "2.1.1");
  EXPECT_EQ(m["world"], "busybox");
  EXPECT_EQ(m["parent"]["name"], "lang/common");
  EXPECT_EQ(m["parent"]["constraint"], "~> 1.0");
  EXPECT_EQ(m["parent"]["version"], "1.2.0");
  EXPECT_EQ(m["build_id"], ruby->build_id);
  EXPECT_FALSE(m["jailfile_digest"].get<std::string>().empty());

  // The child's layer holds its own file and a whiteout for the parent's deleted one.
  EXPECT_EQ(read_text(layer("lang/ruby", "2.1.1") / "etc/lang/seen-by-ruby"), "common-1.2.0\n");
  struct stat st {};
  ASSERT_EQ(::lstat((layer("lang/ruby", "2.1.1") / "etc/lang/doomed").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0)) << "an overlayfs whiteout";

  // In a jail on the child overlay the deletion holds and the parent's files show through.
  auto [code, out] = run_on({layer("lang/common", "1.2.0"), layer("lang/ruby", "2.1.1")},
                            "#!/bin/sh\ntest ! -e /etc/lang/doomed && cat /etc/lang/common "
                            "/etc/lang/seen-by-ruby\n");
  EXPECT_EQ(code, 0) << out;
  EXPECT_EQ(out, "common-1.2.0\ncommon-1.2.0\n");
  // ... and on the parent alone the file is still there.
  auto [pcode, pout] = run_on({layer("lang/common", "1.2.0")}, "#!/bin/sh\ncat /etc/lang/doomed\n");
  EXPECT_EQ(pcode, 0);
  EXPECT_EQ(pout, "doomed\n");
}

TEST_F(Builds, CopyPutsTheContextInWithoutFollowingSymlinks) {
  auto req = root_->jailfile("app",
                             "name app/hello\nversion 0.1.0\ncopy /srv/app\n"
                             "#!/bin/sh\ncat /srv/app/hello.txt\nls /srv/app/sub\n");
  fs::path ctx = req.jailfile.parent_path();
  write_text(ctx / "hello.txt", "hello from the context\n");
  write_text(ctx / "sub/inner.txt", "inner\n");
  fs::create_symlink("/etc/shadow", ctx / "escape");
  std::vector<std::string> lines;
  req.on_output = [&](std::string_view l) { lines.emplace_back(l); };
  auto res = builder_->build(req);
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_EQ(lines, (std::vector<std::string>{"hello from the context", "inner.txt"}));
  fs::path l = layer("app/hello", "0.1.0");
  EXPECT_EQ(read_text(l / "srv/app/hello.txt"), "hello from the context\n");
  EXPECT_EQ(read_text(l / "srv/app/Jailfile"), read_text(req.jailfile));
  EXPECT_TRUE(fs::is_symlink(l / "srv/app/escape"));
  EXPECT_EQ(fs::read_symlink(l / "srv/app/escape"), "/etc/shadow");
  EXPECT_NE(manifest("app/hello", "0.1.0")["context_digest"].get<std::string>(), "");
}

TEST_F(Builds, AFailingScriptPublishesNothingAndKeepsItsLog) {
  std::vector<std::string> lines;
  auto res = build("fail", "name a/fail\nversion 1.0.0\n#!/bin/sh\necho before\nexit 3\n", &lines);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code(), "build.conflict");
  EXPECT_NE(res.error().what().find("exited with status 3"), std::string::npos)
      << res.error().what();
  EXPECT_EQ(lines, std::vector<std::string>{"before"});
  EXPECT_FALSE(fs::exists(root_->dir() / "a/fail/1.0.0"));
  // The log survives, and the error names it.
  auto logs = root_->root().daemon_dir() / "builds";
  int found = 0;
  for (const auto& e : fs::directory_iterator(logs)) {
    EXPECT_EQ(read_text(e.path()), "before\n");
    EXPECT_NE(res.error().what().find(e.path().string()), std::string::npos);
    ++found;
  }
  EXPECT_EQ(found, 1);
  // TearDown checks: no staging directory, no mount.
}

// A script that leaves a tree 10,000 levels deep in its upper layer: the recursive removal of
// the staging directory overflowed the stack of ljd and ljbuild (issue 17). Failed or published,
// the builder survives and leaves no staging directory (TearDown checks); a published one is
// sized, synced and removed again. Five `mkdir -p` of 2,000 levels each, not a mkdir per level:
// a fork each through overlayfs was 70 ms a level here. `cd -P`: busybox ash's logical cd builds
// the whole path and stops at PATH_MAX (about 2,040 levels); set -e: the loop reaches the bottom.
constexpr std::string_view kDeepScript =
    "set -e; p=d; j=1; while [ $j -lt 2000 ]; do p=$p/d; j=$((j+1)); done\n"
    "for k in 1 2 3 4 5; do mkdir -p $p; cd -P $p; done; echo deep > leaf\n";

TEST_F(Builds, ATenThousandLevelTreeOfAFailedBuildIsRemoved) {
  auto res =
      build("deepfail", "name a/deepfail\nversion 1.0.0\n#!/bin/sh\nmkdir /deep\ncd /deep\n" +
                            std::string(kDeepScript) + "exit 1\n");
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().what().find("exited with status 1"), std::string::npos)
      << res.error().what();
  EXPECT_FALSE(fs::exists(root_->dir() / "a/deepfail/1.0.0"));
}

TEST_F(Builds, ATenThousandLevelTreeIsPublishedAndRemoved) {
  auto res =
      build("deepok", "name a/deepok\nversion 1.0.0\n#!/bin/sh\nset -e\nmkdir /deep\ncd /deep\n" +
                          std::string(kDeepScript));
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_EQ(lj::test::deep_tree_levels(layer("a/deepok", "1.0.0") / "deep"), 10000);
  EXPECT_GE(res->size_bytes, 5u);
  overlay::Catalog catalog(root_->root());
  auto removed =
      catalog.remove(*overlay::OverlayName::parse("a/deepok"), *overlay::Version::parse("1.0.0"));
  ASSERT_TRUE(removed) << removed.error().what();
  EXPECT_FALSE(fs::exists(root_->dir() / "a/deepok/1.0.0"));
}

// A build script can make a setuid-root binary; published under directories any host user can
// traverse, it ran as root for all of them (issue 17). Jails still get the bit; host users get no
// path to the layer, the world or the build's log.
TEST_F(Builds, ASetuidBinaryOfABuildIsOutOfReachOfOtherHostUsers) {
  auto res = build("suid",
                   "name a/suid\nversion 1.0.0\n#!/bin/sh\nset -e\ncp /bin/busybox /suid\n"
                   "chown 0:0 /suid\nchmod 4755 /suid\n");
  ASSERT_TRUE(res) << res.error().what();
  const fs::path suid = layer("a/suid", "1.0.0") / "suid";
  struct stat st {};
  ASSERT_EQ(::lstat(suid.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u) << "the jails' own set-id files keep their bits";
  EXPECT_EQ(lj::test::stat_errno_as_nobody(suid), EACCES);
  EXPECT_EQ(lj::test::exec_errno_as_nobody(suid), EACCES);
  EXPECT_EQ(lj::test::stat_errno_as_nobody(root_->root().worlds_dir() / "busybox/bin"), EACCES);
  EXPECT_EQ(lj::test::stat_errno_as_nobody(res->log_path), EACCES);
  EXPECT_EQ(lj::test::stat_errno_as_nobody(root_->root().staging_dir()), 0)
      << "the directory itself is visible; its contents are not";
  auto [code, out] = run_on({layer("a/suid", "1.0.0")}, "stat -c %a /suid");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "4755\n");
}

TEST_F(Builds, AKilledScriptIsReportedBySignal) {
  auto res = build("killed", "name a/killed\nversion 1.0.0\n#!/bin/sh\nkill -9 $$\n");
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().what().find("signal 9"), std::string::npos) << res.error().what();
  EXPECT_FALSE(fs::exists(root_->dir() / "a/killed/1.0.0"));
}

TEST_F(Builds, TheTimeoutKillsTheBuild) {
  auto req = root_->jailfile("slow", "name a/slow\nversion 1.0.0\n#!/bin/sh\nsleep 30\n");
  req.limits.timeout = std::chrono::milliseconds(300);
  auto res = builder_->build(req);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().errc(), Errc::timed_out) << res.error().what();
  EXPECT_FALSE(fs::exists(root_->dir() / "a/slow/1.0.0"));
}

TEST_F(Builds, ASecondIdenticalBuildIsACacheHitAndRunsNoJail) {
  const std::string jf = "name a/cached\nversion 1.0.0\ncopy /opt\n#!/bin/sh\necho run\n";
  auto first = build("cached", jf);
  ASSERT_TRUE(first) << first.error().what();
  EXPECT_TRUE(first->ran_jail);
  const int spawns = backend_->spawns;

  auto t0 = std::chrono::steady_clock::now();
  auto second = build("cached", jf);
  auto us =
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_TRUE(second->cache_hit);
  EXPECT_FALSE(second->ran_jail);
  EXPECT_EQ(backend_->spawns, spawns) << "a cache hit spawns nothing";
  std::printf("first build %lld ms, cache hit %lld us\n",
              static_cast<long long>(first->elapsed.count()), static_cast<long long>(us.count()));

  // Same version, different context: a version is immutable.
  write_text(root_->dir() / "src/cached/new-file", "x");
  auto changed = build("cached", jf);
  ASSERT_FALSE(changed);
  EXPECT_EQ(changed.error().errc(), Errc::exists) << changed.error().what();
  EXPECT_NE(changed.error().what().find("bump"), std::string::npos);
  EXPECT_EQ(backend_->spawns, spawns);
}

TEST_F(Builds, ForceRebuildsAnIdenticalVersion) {
  const std::string jf = "name a/forced\nversion 1.0.0\n#!/bin/sh\necho $LJ_BUILD_ID > /id\n";
  auto first = build("forced", jf);
  ASSERT_TRUE(first) << first.error().what();
  auto req = root_->jailfile("forced", jf);
  req.force = true;
  auto second = builder_->build(req);
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_FALSE(second->cache_hit);
  EXPECT_TRUE(second->ran_jail);
  EXPECT_EQ(read_text(layer("a/forced", "1.0.0") / "id"), second->build_id + "\n");
  EXPECT_EQ(manifest("a/forced", "1.0.0")["build_id"], second->build_id);
}

TEST_F(Builds, AFailureBeforeTheJailLeavesNothingStaged) {
  sys::clear_faults();
  sys::inject_fault("pipe2", EMFILE);
  auto res = build("nopipe", "name a/nopipe\nversion 1.0.0\ncopy /src\n#!/bin/sh\ntrue\n");
  sys::clear_faults();
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().sys_errno(), EMFILE) << res.error().what();
  EXPECT_EQ(backend_->spawns, 0);
  EXPECT_FALSE(fs::exists(root_->dir() / "a/nopipe"));
  // TearDown: no staging directory, no mount.
}

TEST_F(Builds, DifferentOverlaysBuildInParallel) {
  std::array<Result<BuildResult>, 2> results{fail(Errc::internal, "t", ""),
                                             fail(Errc::internal, "t", "")};
  std::array<BuildRequest, 2> reqs{
      root_->jailfile("p1", "name par/one\nversion 1.0.0\n#!/bin/sh\nsleep 1\necho one\n"),
      root_->jailfile("p2", "name par/two\nversion 1.0.0\n#!/bin/sh\nsleep 1\necho two\n")};
  auto t0 = std::chrono::steady_clock::now();
  std::thread t([&] { results[0] = builder_->build(reqs[0]); });
  results[1] = builder_->build(reqs[1]);
  t.join();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0);
  ASSERT_TRUE(results[0]) << results[0].error().what();
  ASSERT_TRUE(results[1]) << results[1].error().what();
  EXPECT_TRUE(fs::exists(root_->dir() / "par/one/1.0.0/manifest.json"));
  EXPECT_TRUE(fs::exists(root_->dir() / "par/two/1.0.0/manifest.json"));
  std::printf("two 1 s builds in parallel: %lld ms\n", static_cast<long long>(ms.count()));
}

TEST_F(Builds, TheSameVersionBuiltTwiceAtOnceIsBuiltOnce) {
  const std::string jf = "name race/same\nversion 1.0.0\n#!/bin/sh\nsleep 1\n";
  auto req = root_->jailfile("race", jf);
  std::array<Result<BuildResult>, 2> results{fail(Errc::internal, "t", ""),
                                             fail(Errc::internal, "t", "")};
  std::thread t([&] { results[0] = builder_->build(req); });
  results[1] = builder_->build(req);
  t.join();
  ASSERT_TRUE(results[0]) << results[0].error().what();
  ASSERT_TRUE(results[1]) << results[1].error().what();
  EXPECT_NE(results[0]->cache_hit, results[1]->cache_hit) << "one built, the other waited";
  EXPECT_EQ(backend_->spawns, 1);
}

// `from image REF`: the build jail stands on the image's layers (no world); the overlay records
// the image by digest; the same digest is a cache hit, a tag moved to another image is not (and a
// pinned version then refuses to be rebuilt differently); a child stacks on the same image.
TEST_F(Builds, FromAnImageByTagThenCacheByDigest) {
  const std::string ref = "127.0.0.1:5000/test/bb:1";
  const std::string d1 = testing::store_busybox_image(root_->root(), ref, "one");
  ASSERT_FALSE(d1.empty());
  const std::string jf = "name img/app\nversion 1.0.0\nfrom image " + ref +
                         "\n#!/bin/sh\nset -e\ntest ! -e /etc/world-release-x\n"
                         "cat /etc/image-marker\ncp /etc/image-marker /etc/seen-by-app\n";
  std::vector<std::string> lines;
  auto res = build("app", jf, &lines);
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_FALSE(res->cache_hit);
  EXPECT_EQ(lines, std::vector<std::string>{"one"});
  ASSERT_TRUE(res->image);
  EXPECT_EQ(res->image->digest, d1);
  auto m = manifest("img/app", "1.0.0");
  EXPECT_EQ(m["world"], "");
  EXPECT_EQ(m["image"]["digest"], d1);
  EXPECT_EQ(m["image"]["reference"], ref);
  EXPECT_EQ(read_text(layer("img/app", "1.0.0") / "etc/seen-by-app"), "one\n");

  auto again = build("app", jf);
  ASSERT_TRUE(again) << again.error().what();
  EXPECT_TRUE(again->cache_hit) << "the same image digest: nothing runs";
  EXPECT_EQ(backend_->spawns, 1);

  // The tag now names another image: not the same build; version 1.0.0 is immutable.
  ASSERT_FALSE(testing::store_busybox_image(root_->root(), ref, "two").empty());
  auto moved = build("app", jf);
  ASSERT_FALSE(moved);
  EXPECT_EQ(moved.error().errc(), Errc::exists) << moved.error().what();
  EXPECT_EQ(backend_->spawns, 1);
  // Bumped, it builds on the new image.
  auto bumped = build("app2", "name img/app\nversion 1.0.1\nfrom image " + ref +
                                  "\n#!/bin/sh\ncat /etc/image-marker\n", &lines);
  ASSERT_TRUE(bumped) << bumped.error().what();
  EXPECT_EQ(lines.back(), "two");

  // A child of img/app@1.0.0 stacks on image one (by digest), then img/app's layer.
  auto child = build("child", "name img/child\nversion 1.0.0\nfrom img/app =1.0.0\n"
                              "#!/bin/sh\nset -e\ncat /etc/seen-by-app /etc/image-marker\n",
                     &lines);
  ASSERT_TRUE(child) << child.error().what();
  ASSERT_TRUE(child->image);
  EXPECT_EQ(child->image->digest, d1);
  EXPECT_EQ(lines.back(), "one");
  overlay::Catalog catalog(root_->root());
  auto chain = catalog.resolve(*overlay::OverlayName::parse("img/child"),
                               *overlay::Version::parse("1.0.0"));
  ASSERT_TRUE(chain) << chain.error().what();
  EXPECT_FALSE(chain->world);
  ASSERT_TRUE(chain->image);
  auto store = image::Store::open(root_->root());
  ASSERT_TRUE(store);
  auto img = store->image(*image::Digest::parse(chain->image->digest));
  ASSERT_TRUE(img) << img.error().what();
  std::vector<fs::path> stack = img->layer_dirs;
  stack.insert(stack.end(), chain->lower.begin(), chain->lower.end());
  auto [code, out] = run_layers(stack, "cat /etc/image-marker /etc/seen-by-app");
  EXPECT_EQ(code, 0);
  EXPECT_EQ(out, "one\none\n");
}

}  // namespace
}  // namespace lj::build
