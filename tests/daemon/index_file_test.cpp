// The index file deleted or replaced while ljd runs (issue 17): ljd notices within a second, says
// so (log, GET /v1/info "index"), puts its open index back at the path (the file found there kept
// aside), and loses no exit; and jails that no index or status file names any more (the index and
// .ljd/run emptied while ljd was down) are killed and their cgroups removed at the next start,
// instead of running and holding cgroups forever. Privileged (jails): skipped when not root.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "jail_cgroups.hpp"
#include "ljd_process.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

json sh(const std::string& script) {
  // Limits give the jail cgroups, whose removal is checked.
  return {{"world", "bb"},
          {"command", {"sh", "-c", script}},
          {"limits", {{"memory_bytes", 64 << 20}, {"pids", 64}}}};
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  auto close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

class IndexFile : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
    ljd_ = std::make_unique<LjdProcess>("heartbeat = 1s\n");
    ASSERT_TRUE(ljd_->make_busybox_world("bb"));
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
    if (ljd_->log().find("backend=none") != std::string::npos)
      GTEST_SKIP() << "no jail backend in this build";
  }
  void TearDown() override {
    if (ljd_ && !ljd_->running()) (void)ljd_->start();  // whatever a failed test left, ends
    ljd_.reset();
  }
  fs::path index() const { return ljd_->root() / ".ljd" / "index.db"; }
  std::string run(const std::string& script) {
    auto c = ljd_->client();
    auto r = c.post("/v1/jails?start=true", sh(script));
    EXPECT_TRUE(r && r->status == 201) << (r ? r->body : r.error().what());
    return r && r->status == 201 ? r->json()["id"].get<std::string>() : std::string();
  }
  json info() {
    auto c = ljd_->client();
    auto r = c.get("/v1/info");
    return r ? r->json() : json();
  }
  // Waits (up to 5 s) until ljd says it restored its index `n` times.
  json wait_restores(int n) {
    json i;
    for (int k = 0; k < 50; ++k) {
      i = info();
      if (i["index"].value("restores", 0) >= n) break;
      std::this_thread::sleep_for(100ms);
    }
    return i["index"];
  }
  json wait_jail(const std::string& id) {
    auto c = ljd_->client();
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=20");
    return w ? w->json() : json();
  }
  // The row after a clean restart: what the file on disk holds.
  json row_after_restart(const std::string& id) {
    EXPECT_EQ(ljd_->stop(), 0) << ljd_->log();
    auto st = ljd_->start();
    EXPECT_TRUE(st) << (st ? "" : st.error().what());
    auto c = ljd_->client();
    auto r = c.get("/v1/jails/" + id);
    EXPECT_TRUE(r && r->status == 200) << (r ? r->body : "") << "\n" << ljd_->log();
    return r ? r->json() : json();
  }

  std::unique_ptr<LjdProcess> ljd_;
};

TEST_F(IndexFile, DeletedWhileLjdRunsIsPutBackAndNoExitIsLost) {
  const std::string before = run("exit 3");
  EXPECT_EQ(wait_jail(before)["exit"]["code"], 3);
  const std::string id = run("sleep 1.5; exit 7");
  ASSERT_FALSE(id.empty());
  ASSERT_EQ(::unlink(index().c_str()), 0);

  json idx = wait_restores(1);
  EXPECT_EQ(idx["restores"], 1) << idx << "\n" << ljd_->log();
  EXPECT_EQ(idx["file"], "ok") << idx;
  EXPECT_NE(idx["last_restore"].get<std::string>().find("deleted"), std::string::npos) << idx;
  EXPECT_NE(ljd_->log().find("deleted while ljd ran"), std::string::npos) << ljd_->log();
  struct stat st {};
  ASSERT_EQ(::stat(index().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);

  json w = wait_jail(id);
  EXPECT_EQ(w["state"], "exited") << w;
  EXPECT_EQ(w["exit"]["code"], 7) << w;
  // On disk, both the exit recorded before the deletion and the one after.
  EXPECT_EQ(row_after_restart(id)["exit"]["code"], 7);
  auto c = ljd_->client();
  EXPECT_EQ(c.get("/v1/jails/" + before)->json()["exit"]["code"], 3);
  EXPECT_EQ(cgroups_named(id), std::vector<std::string>{});
}

TEST_F(IndexFile, ReplacedWhileLjdRunsIsPutBackAndTheReplacementKeptAside) {
  const std::string id = run("sleep 1.5; exit 5");
  ASSERT_FALSE(id.empty());
  const fs::path other = ljd_->root() / ".ljd" / "other.db";
  std::ofstream(other) << "somebody else's file\n";
  ASSERT_EQ(::rename(other.c_str(), index().c_str()), 0);

  json idx = wait_restores(1);
  EXPECT_EQ(idx["restores"], 1) << idx << "\n" << ljd_->log();
  const std::string what = idx["last_restore"].get<std::string>();
  EXPECT_NE(what.find("replaced"), std::string::npos) << what;
  const auto at = what.find(index().string() + ".replaced-");
  ASSERT_NE(at, std::string::npos) << what;
  std::string aside = what.substr(at);
  aside = aside.substr(0, aside.find_first_of(" ;"));
  EXPECT_EQ(slurp(aside), "somebody else's file\n") << aside;

  EXPECT_EQ(wait_jail(id)["exit"]["code"], 5);
  EXPECT_EQ(row_after_restart(id)["exit"]["code"], 5);
}

// ljd down, its index and the status files of its jails gone: the jails still run, named by no
// record. The next ljd finds them in its root's cgroup scope and kills and releases them; one
// whose status file is left is released from it, its last word logged.
TEST_F(IndexFile, JailsNoRecordNamesAreKilledAndReleasedAtTheNextStart) {
  const std::string a = run("sleep 600");
  const std::string b = run("sleep 600");
  ASSERT_FALSE(a.empty());
  ASSERT_FALSE(b.empty());
  auto c = ljd_->client();
  const pid_t pa = c.get("/v1/jails/" + a)->json()["pid"].get<pid_t>();
  const pid_t pb = c.get("/v1/jails/" + b)->json()["pid"].get<pid_t>();
  ASSERT_FALSE(cgroups_named(a).empty());
  ljd_->crash();
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((index().string() + suffix).c_str());
  ::unlink((ljd_->root() / ".ljd" / "run" / (a + ".status")).c_str());
  ASSERT_TRUE(alive(pa) && alive(pb));

  auto st = ljd_->start();
  ASSERT_TRUE(st) << st.error().what();
  json r = info()["recovery"]["jails"];
  EXPECT_EQ(r["unknown_released"], 2) << r << "\n" << ljd_->log();
  EXPECT_FALSE(alive(pa));
  EXPECT_FALSE(alive(pb));
  EXPECT_EQ(cgroups_named(a), std::vector<std::string>{});
  EXPECT_EQ(cgroups_named(b), std::vector<std::string>{});
  EXPECT_FALSE(fs::exists(ljd_->root() / ".ljd" / "run" / (b + ".status")));
  EXPECT_NE(ljd_->log().find("jail=" + a + " is unknown to the index"), std::string::npos)
      << ljd_->log();
  EXPECT_NE(ljd_->log().find("jail=" + b + " is unknown to the index"), std::string::npos)
      << ljd_->log();
}

}  // namespace
}  // namespace lj::testing
