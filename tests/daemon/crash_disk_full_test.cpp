// Disk full: ljd's root on a small tmpfs (mounted in this test's private mount namespace, and
// unmounted at the end), filled by a world import, by a build's `copy` of its context, and by a
// build script. Each fails with a clear error naming ENOSPC (the resource's state and JSON
// error), publishes nothing, leaves no staging layer, keeps the index intact, and ljd keeps
// serving: a jail runs right after. Privileged: skipped with a reason when not root.
#include <sched.h>
#include <sqlite3.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "ljd_process.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class DiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root: mounts a tmpfs, runs jails";
    // Each test runs in its own process (gtest_discover_tests): the namespace is this test's.
    ASSERT_EQ(::unshare(CLONE_NEWNS), 0) << std::strerror(errno);
    ASSERT_EQ(::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr), 0);
    ljd_ = std::make_unique<LjdProcess>("workers = 2\n");
    ASSERT_EQ(::mount("tmpfs", ljd_->root().c_str(), "tmpfs", 0, "size=12m,mode=0755"), 0)
        << std::strerror(errno);
    mounted_ = true;
    ASSERT_TRUE(ljd_->make_busybox_world("bb"));  // ~2 MB of the 12
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
  }
  void TearDown() override {
    if (ljd_) ljd_->stop();
    if (mounted_) ::umount2(ljd_->root().c_str(), MNT_DETACH);
    ljd_.reset();
    std::error_code ec;
    if (!src_.empty()) fs::remove_all(src_, ec);
  }

  // A directory outside the root holding `mb` MiB of incompressible, non-sparse data.
  fs::path big_dir(int mb) {
    char tmpl[] = "/tmp/ljd-diskfull-src.XXXXXX";
    src_ = ::mkdtemp(tmpl);
    std::ofstream out(src_ / "big.bin", std::ios::binary);
    std::string block(1 << 20, 'x');
    for (int i = 0; i < mb; ++i) {
      block[static_cast<std::size_t>(i)] = static_cast<char>(i);
      out.write(block.data(), static_cast<std::streamsize>(block.size()));
    }
    return src_;
  }

  // After the failure: nothing staged or published, the index intact, and ljd still runs jails.
  void expect_intact() {
    SCOPED_TRACE(ljd_->log());
    std::error_code ec;
    EXPECT_TRUE(fs::is_empty(ljd_->root() / ".staging", ec) ||
                !fs::exists(ljd_->root() / ".staging"));
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open_v2((ljd_->root() / ".ljd" / "index.db").c_str(), &db,
                              SQLITE_OPEN_READONLY, nullptr),
              SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, nullptr), SQLITE_OK);
    ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
    EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);
    auto c = ljd_->client();
    EXPECT_EQ(c.get("/v1/info")->status, 200);
    auto r = c.post("/v1/jails?start=true",
                    {{"world", "bb"}, {"command", {"sh", "-c", "echo still here; exit 3"}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    auto w = c.get("/v1/jails/" + r->json()["id"].get<std::string>() + "/wait?timeout_s=20");
    EXPECT_EQ(w->json()["exit"]["code"], 3) << w->body;
  }

  // Submits a build and returns it once it ended.
  json build(const json& body) {
    auto c = ljd_->client();
    auto b = c.post("/v1/builds", body);
    EXPECT_TRUE(b) << b.error().what();
    if (!b) return {};
    EXPECT_EQ(b->status, 202) << b->body;
    auto w = c.get("/v1/builds/" + b->json()["id"].get<std::string>() + "/wait?timeout_s=60");
    EXPECT_TRUE(w) << w.error().what();
    return w ? w->json()["build"] : json();
  }

  std::unique_ptr<LjdProcess> ljd_;
  bool mounted_ = false;
  fs::path src_;
};

TEST_F(DiskFullTest, WorldImport) {
  fs::path src = big_dir(16);
  auto c = ljd_->client();
  auto r = c.post("/v1/worlds", {{"name", "huge"}, {"source", src.string()}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 202) << r->body;
  json w = c.get("/v1/worlds/huge/wait?timeout_s=60")->json()["world"];
  EXPECT_EQ(w["state"], "failed") << w;
  EXPECT_EQ(w["error"]["code"], "world.no_space") << w;
  EXPECT_NE(w["error"]["message"].get<std::string>().find("ENOSPC"), std::string::npos) << w;
  EXPECT_FALSE(fs::exists(ljd_->root() / "worlds" / "huge"));
  expect_intact();
}

TEST_F(DiskFullTest, BuildCopyingItsContext) {
  fs::path ctx = big_dir(16);
  std::ofstream(ctx / "Jailfile") << "name demo/big\nversion 1.0.0\nworld bb\ncopy /data\n"
                                  << "#!/bin/sh\ntrue\n";
  json b = build({{"context", ctx.string()}});
  EXPECT_EQ(b["state"], "failed") << b;
  EXPECT_EQ(b["published"], false);
  std::string msg = b["error"]["message"];
  EXPECT_NE(msg.find("ENOSPC"), std::string::npos) << b;
  EXPECT_FALSE(fs::exists(ljd_->root() / "demo" / "big"));
  EXPECT_EQ(ljd_->client().get("/v1/overlays/demo/big/1.0.0")->status, 404);
  expect_intact();
}

TEST_F(DiskFullTest, BuildScriptFillsTheDisk) {
  json b = build({{"jailfile",
                   "name demo/fill\nversion 1.0.0\nworld bb\n#!/bin/sh\n"
                   "yes 0123456789abcdef | head -c 64000000 > /fill\n"}});
  EXPECT_EQ(b["state"], "failed") << b;
  EXPECT_EQ(b["error"]["code"], "build.no_space") << b;
  EXPECT_NE(b["error"]["message"].get<std::string>().find("ENOSPC"), std::string::npos) << b;
  EXPECT_FALSE(fs::exists(ljd_->root() / "demo" / "fill"));
  expect_intact();
}

// The disk fills while a jail runs (here: another writer, as a jail's output or a build would):
// the jail's exit cannot go into the index (SQLITE_FULL) but must not be lost. Its status file
// was given its blocks when it was created, so lj-init's write of the status does not need new
// space; the record is retried until space comes back, or finished by the next ljd's recovery.
void fill(const fs::path& file) {
  int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0) << std::strerror(errno);
  std::string block(1 << 20, 'f');
  for (std::size_t size = block.size(); size >= 512; size /= 2)
    while (::write(fd, block.data(), size) == static_cast<ssize_t>(size)) {
    }
  ::close(fd);
}

void exit_while_the_disk_is_full(LjdProcess& ljd, bool crash_meanwhile) {
  auto c = ljd.client();
  auto r = c.post("/v1/jails?start=true",
                  {{"world", "bb"}, {"command", {"sh", "-c", "sleep 2; exit 9"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 201) << r->body;
  std::string id = r->json()["id"];
  auto status = ljd.root() / ".ljd" / "run" / (id + ".status");
  fs::path filler = ljd.root() / "filler";
  fill(filler);
  json pending;
  for (int i = 0; i < 200; ++i) {
    auto info = ljd.client().get("/v1/info");
    ASSERT_TRUE(info);
    pending = info->json()["exit_records"];
    if (pending.value("pending", 0) == 1) break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(pending.value("pending", 0), 1) << "the exit went into a full index?\n"
                                            << pending.dump() << "\n"
                                            << ljd.log();
  EXPECT_NE(pending.value("last_error", "").find(id), std::string::npos) << pending.dump();
  EXPECT_TRUE(fs::exists(status)) << "the durable copy of the exit went before the record";
  if (crash_meanwhile) ljd.crash();
  fs::remove(filler);
  if (crash_meanwhile) {
    auto st = ljd.start();
    ASSERT_TRUE(st) << st.error().what();
  }
  auto w = ljd.client().get("/v1/jails/" + id + "/wait?timeout_s=30");
  ASSERT_TRUE(w);
  EXPECT_EQ(w->json()["exit"]["code"], 9) << w->body;
  EXPECT_EQ(w->json()["exit"]["lost"], false) << w->body;
  EXPECT_FALSE(fs::exists(status));
}

TEST_F(DiskFullTest, AnExitRefusedByAFullIndexIsRetriedOnceThereIsSpace) {
  exit_while_the_disk_is_full(*ljd_, false);
  EXPECT_EQ(ljd_->client().get("/v1/info")->json()["exit_records"]["pending"], 0);
  expect_intact();
}

TEST_F(DiskFullTest, AnExitRefusedByAFullIndexIsFinishedByRecovery) {
  exit_while_the_disk_is_full(*ljd_, true);
  expect_intact();
}

}  // namespace
}  // namespace lj::testing
