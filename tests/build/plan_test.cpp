// plan_build: world and parent resolution, digests and the cache key. No jail runs here: parents
// are "published" by hand (a manifest and a layer directory), as the catalog lays them out.
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include <gtest/gtest.h>

#include "build/builder.hpp"
#include "build/context.hpp"
#include "build_fixture.hpp"
#include "overlay/manifest.hpp"

namespace lj::build {
namespace {

namespace fs = std::filesystem;
using testing::BuildRoot;
using testing::write_text;

// Publishes name@version on the busybox world with an optional parent, without building it.
void fake_publish(const overlay::Root& root, const std::string& name, const std::string& version,
                  const std::string& parent_name = "", const std::string& parent_version = "") {
  auto n = overlay::OverlayName::parse(name);
  auto v = overlay::Version::parse(version);
  ASSERT_TRUE(n && v);
  fs::create_directories(root.layer_dir(*n, *v));
  overlay::Manifest m;
  m.name = name;
  m.version = version;
  m.world = "busybox";
  m.created = "2026-11-24T18:00:00Z";
  if (!parent_name.empty()) m.parent = overlay::ParentRef{parent_name, "*", parent_version};
  auto st = overlay::write_manifest(root.manifest_path(*n, *v), m);
  ASSERT_TRUE(st) << st.error().what();
}

TEST(Plan, ResolvesTheHighestSatisfyingParentAndItsChain) {
  BuildRoot r;
  fake_publish(r.root(), "base/os", "1.0.0");
  for (const char* v : {"1.0.0", "1.2.0", "1.10.0-rc.1", "2.0.0"}) {
    fake_publish(r.root(), "lang/common", v, "base/os", "1.0.0");
  }
  auto req =
      r.jailfile("ruby", "name lang/ruby\nversion 2.1.1\nfrom lang/common ~> 1.0\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_TRUE(plan) << plan.error().what();
  ASSERT_TRUE(plan->parent);
  EXPECT_EQ(plan->parent->version, "1.2.0");
  EXPECT_EQ(plan->parent->constraint, "~> 1.0");
  ASSERT_EQ(plan->lower.size(), 3u);
  EXPECT_EQ(plan->lower[0], r.root().worlds_dir() / "busybox");
  EXPECT_EQ(plan->lower[1], r.dir() / "base/os/1.0.0/layer");
  EXPECT_EQ(plan->lower[2], r.dir() / "lang/common/1.2.0/layer");
  EXPECT_EQ(plan->target, r.dir() / "lang/ruby/2.1.1");
  EXPECT_EQ(plan->world, "busybox");
}

TEST(Plan, MissingWorldAndUnsatisfiableParentSayWhatExists) {
  BuildRoot r;
  auto req = r.jailfile("a", "name a/b\nworld 14.1-RELEASE\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), "world.not_found");
  EXPECT_NE(plan.error().what().find("14.1-RELEASE"), std::string::npos) << plan.error().what();

  fake_publish(r.root(), "lang/common", "2.0.0");
  req = r.jailfile("b", "name a/b\nfrom lang/common ~> 1.0\n#!/bin/sh\n");
  plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().errc(), Errc::not_found);
  EXPECT_NE(plan.error().what().find("published: 2.0.0"), std::string::npos) << plan.error().what();
}

TEST(Plan, NoWorldAnywhereIsAnError) {
  BuildRoot r;
  auto req = r.jailfile("a", "name a/b\n#!/bin/sh\n");
  req.default_world = "";
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_NE(plan.error().what().find("no world"), std::string::npos) << plan.error().what();
}

TEST(Plan, SyntaxErrorsNameTheFileLineAndColumn) {
  BuildRoot r;
  auto req = r.jailfile("a", "name a/b\nvresion 1.0.0\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().code(), "build.invalid_argument");
  EXPECT_NE(plan.error().what().find(req.jailfile.string() + ":2:1: unknown directive"),
            std::string::npos)
      << plan.error().what();
}

// The Jailfile is a file of an untrusted context: one that is a symlink to a secret is refused
// without a byte of the secret in the error (its first line came back as an "unknown directive").
TEST(Plan, AJailfileThatIsASymlinkIsRefusedWithoutItsTarget) {
  BuildRoot r;
  auto req = r.jailfile("secret", "");
  fs::path secret = r.dir() / "secret";
  write_text(secret, "root:$6$hashhashhash:19000:0:99999:7:::\n");
  fs::remove(req.jailfile);
  fs::create_symlink(secret, req.jailfile);
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().errc(), Errc::invalid_argument) << plan.error().what();
  EXPECT_NE(plan.error().what().find("symbolic link"), std::string::npos) << plan.error().what();
  EXPECT_EQ(plan.error().what().find("hashhash"), std::string::npos) << plan.error().what();
  if (::access("/etc/shadow", F_OK) == 0) {
    fs::remove(req.jailfile);
    fs::create_symlink("/etc/shadow", req.jailfile);
    auto shadow = plan_build(r.root(), req);
    ASSERT_FALSE(shadow);
    EXPECT_NE(shadow.error().what().find("symbolic link"), std::string::npos)
        << shadow.error().what();
    EXPECT_EQ(shadow.error().what().find("root:"), std::string::npos) << shadow.error().what();
  }
}

// In a child (EXPECT_EXIT): plans `req` with its data limited to 512 MiB; exits 0 when the plan
// is refused as invalid_argument, 1 otherwise (an unbounded read dies of the limit instead).
[[noreturn]] void plan_refused_under_a_data_limit(const BuildRoot& r, const BuildRequest& req) {
  struct rlimit lim {};
  lim.rlim_cur = lim.rlim_max = rlim_t{512} << 20;
  ::setrlimit(RLIMIT_DATA, &lim);
  auto plan = plan_build(r.root(), req);
  std::_Exit(!plan && plan.error().errc() == Errc::invalid_argument ? 0 : 1);
}

// A Jailfile that reads forever (-> /dev/zero) grew the reader to the OOM killer. In a child with
// a data limit, so that the unfixed reader fails the test instead of the machine.
TEST(Plan, AJailfileThatIsADeviceOrAFifoIsRefused) {
  BuildRoot r;
  auto req = r.jailfile("zero", "");
  fs::remove(req.jailfile);
  fs::create_symlink("/dev/zero", req.jailfile);
  EXPECT_EXIT(plan_refused_under_a_data_limit(r, req), ::testing::ExitedWithCode(0), "");
  fs::remove(req.jailfile);
  ASSERT_EQ(::mkfifo(req.jailfile.c_str(), 0600), 0);
  auto fifo = plan_build(r.root(), req);  // O_NONBLOCK: no writer, no hang
  ASSERT_FALSE(fifo);
  EXPECT_EQ(fifo.error().errc(), Errc::invalid_argument) << fifo.error().what();
  EXPECT_NE(fifo.error().what().find("not a regular file"), std::string::npos)
      << fifo.error().what();
}

TEST(Plan, AJailfileOverOneMebibyteIsRefused) {
  BuildRoot r;
  std::string text = "name a/big\nversion 1.0.0\n#!/bin/sh\n";
  text += std::string(std::size_t{1} << 20, '#') + "\n";
  auto req = r.jailfile("big", text);
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().errc(), Errc::limit) << plan.error().what();
  EXPECT_NE(plan.error().what().find("1048576 bytes"), std::string::npos) << plan.error().what();
  // At the limit, it is read.
  auto fits = r.jailfile("fits", text.substr(0, std::size_t{1} << 20));
  auto ok = plan_build(r.root(), fits);
  ASSERT_TRUE(ok) << ok.error().what();
}

TEST(Plan, CacheKeyFollowsJailfileCopiedContextAndParent) {
  BuildRoot r;
  fake_publish(r.root(), "lang/common", "1.0.0");
  auto req = r.jailfile(
      "app", "name a/app\nversion 1.0.0\nfrom lang/common ~> 1.0\ncopy /app\n#!/bin/sh\n");
  auto key = [&] {
    auto plan = plan_build(r.root(), req);
    EXPECT_TRUE(plan) << plan.error().what();
    return plan ? plan->cache_key : std::string();
  };
  const std::string k1 = key();
  EXPECT_EQ(key(), k1);

  write_text(req.jailfile.parent_path() / "data.txt", "x");
  const std::string k2 = key();
  EXPECT_NE(k2, k1) << "a copied context is part of the key";

  fake_publish(r.root(), "lang/common", "1.1.0");
  const std::string k3 = key();
  EXPECT_NE(k3, k2) << "a new parent version is part of the key";

  write_text(req.jailfile,
             "name a/app\nversion 1.0.0\nfrom lang/common ~> 1.0\ncopy /app\n#!/bin/sh\ntrue\n");
  EXPECT_NE(key(), k3) << "the Jailfile is part of the key";
}

TEST(Plan, ContextWithoutCopyIsNotPartOfTheKey) {
  BuildRoot r;
  auto req = r.jailfile("plain", "name a/plain\nversion 1.0.0\n#!/bin/sh\n");
  auto p1 = plan_build(r.root(), req);
  ASSERT_TRUE(p1) << p1.error().what();
  write_text(req.jailfile.parent_path() / "README", "unrelated");
  auto p2 = plan_build(r.root(), req);
  ASSERT_TRUE(p2);
  EXPECT_EQ(p1->cache_key, p2->cache_key);
  EXPECT_TRUE(p2->context_digest.empty());
}

// `from image REF`: the image's layers are the base, pinned by the manifest digest, which is part
// of the cache key (a tag moved to another image changes it; moved back, it is the same again).
TEST(Plan, FromImageByTagOrDigestAndItsDigestInTheKey) {
  BuildRoot r;
  const std::string ref = "127.0.0.1:5000/test/bb:1";
  const std::string d1 = testing::store_busybox_image(r.root(), ref, "one");
  ASSERT_FALSE(d1.empty());
  auto store = image::Store::open(r.root());
  ASSERT_TRUE(store);
  auto img = store->image(*image::Digest::parse(d1));
  ASSERT_TRUE(img) << img.error().what();

  auto req = r.jailfile("app", "name a/app\nversion 1.0.0\nfrom image " + ref + "\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_TRUE(plan) << plan.error().what();
  ASSERT_TRUE(plan->image);
  EXPECT_EQ(plan->image->digest, d1);
  EXPECT_EQ(plan->image->reference, ref);
  EXPECT_TRUE(plan->world.empty());
  EXPECT_FALSE(plan->parent);
  EXPECT_EQ(plan->lower, img->layer_dirs);
  const std::string k1 = plan->cache_key;

  const std::string d2 = testing::store_busybox_image(r.root(), ref, "two");  // retagged
  ASSERT_FALSE(d2.empty());
  ASSERT_NE(d1, d2);
  auto p2 = plan_build(r.root(), req);
  ASSERT_TRUE(p2) << p2.error().what();
  EXPECT_EQ(p2->image->digest, d2);
  EXPECT_NE(p2->cache_key, k1) << "the image's digest is part of the key";
  ASSERT_FALSE(testing::store_busybox_image(r.root(), ref, "one").empty());  // tagged back
  auto p3 = plan_build(r.root(), req);
  ASSERT_TRUE(p3);
  EXPECT_EQ(p3->cache_key, k1) << "the same digest is the same key";

  // By digest: pinned whatever the tag says.
  auto byd = r.jailfile("pinned", "name a/pinned\nfrom image 127.0.0.1:5000/test/bb@" + d2 +
                                      "\n#!/bin/sh\n");
  auto p4 = plan_build(r.root(), byd);
  ASSERT_TRUE(p4) << p4.error().what();
  EXPECT_EQ(p4->image->digest, d2);
}

TEST(Plan, FromImageMissingSaysPullItFirst) {
  BuildRoot r;
  auto req = r.jailfile("app", "name a/app\nfrom image 127.0.0.1:5000/nope:1\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_FALSE(plan);
  EXPECT_EQ(plan.error().errc(), Errc::not_found);
  EXPECT_NE(plan.error().what().find("pull or load it first"), std::string::npos)
      << plan.error().what();
}

// A child `from` an overlay built on an image stands on the same image, below its parent.
TEST(Plan, ChildOfAnImageBasedOverlayInheritsTheImage) {
  BuildRoot r;
  const std::string ref = "127.0.0.1:5000/test/bb:1";
  const std::string d1 = testing::store_busybox_image(r.root(), ref, "one");
  ASSERT_FALSE(d1.empty());
  auto n = overlay::OverlayName::parse("img/base");
  auto v = overlay::Version::parse("1.0.0");
  fs::create_directories(r.root().layer_dir(*n, *v));
  overlay::Manifest m;
  m.name = "img/base";
  m.version = "1.0.0";
  m.image = overlay::ImageBase{ref, d1};
  m.created = "2026-11-24T18:00:00Z";
  ASSERT_TRUE(overlay::write_manifest(r.root().manifest_path(*n, *v), m));

  auto req = r.jailfile("child", "name img/child\nfrom img/base ~> 1.0\n#!/bin/sh\n");
  auto plan = plan_build(r.root(), req);
  ASSERT_TRUE(plan) << plan.error().what();
  ASSERT_TRUE(plan->image);
  EXPECT_EQ(plan->image->digest, d1);
  EXPECT_TRUE(plan->world.empty());
  ASSERT_EQ(plan->lower.size(), 2u);
  EXPECT_EQ(plan->lower[1], r.root().layer_dir(*n, *v));

  auto on_world = r.jailfile("w", "name img/w\nworld busybox\nfrom img/base ~> 1.0\n#!/bin/sh\n");
  auto bad = plan_build(r.root(), on_world);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().errc(), Errc::conflict) << bad.error().what();
}

}  // namespace
}  // namespace lj::build
