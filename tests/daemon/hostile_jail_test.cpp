// Hostile input that needs jails to run (root, the Linux backend, a busybox world): build contexts
// whose `copy` source holds symlinks out of the context, or has a directory swapped for one while
// the build reads it; commands that cannot be executed; more jails than max_jails. The jail must
// never see a host file it was not given, and every refusal is a clear status with a JSON body.
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "shared_ljd.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

constexpr const char* kSecret = "HOST-SECRET-7f3a91";

class HostileJailTest : public SharedLjdTest<HostileJailTest, true> {
 public:
  static constexpr const char* kConfig = "max_jails = 3\nworkers = 4\n";

 protected:
  static void SetUpTestSuite() {
    SharedLjdTest::SetUpTestSuite();
    if (ljd_ == nullptr || HasFatalFailure()) return;
    // A host directory the jails must never read: what a symlink in a context points at.
    secret_ = new fs::path(ljd_->root() / "host-secret");
    fs::create_directories(*secret_);
    std::ofstream(*secret_ / "f") << kSecret << "\n";
  }
  static void TearDownTestSuite() {
    SharedLjdTest::TearDownTestSuite();
    delete secret_;
    secret_ = nullptr;
  }

  // Builds `context`; the build's final JSON (state succeeded or failed).
  json build(HttpClient& c, const fs::path& context) {
    auto b = c.post("/v1/builds", {{"context", context.string()}, {"force", true}});
    EXPECT_TRUE(b);
    if (!b) return json();
    EXPECT_EQ(b->status, 202) << b->body;
    std::string id = b->json().value("id", "");
    auto w = c.get("/v1/builds/" + id + "/wait?timeout_s=120");
    EXPECT_TRUE(w);
    if (!w) return json();
    return w->json()["build"];
  }

  // Runs `script` in a jail on the overlay; its stdout.
  std::string run_on(HttpClient& c, const std::string& name, const std::string& version,
                     const std::string& script) {
    auto r =
        c.post("/v1/jails?start=true", {{"overlay", {{"name", name}, {"version", "=" + version}}},
                                        {"command", {"sh", "-c", script}}});
    EXPECT_TRUE(r);
    if (!r || r->status != 201) {
      ADD_FAILURE() << (r ? r->body : r.error().what());
      return "";
    }
    std::string id = r->json()["id"];
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    EXPECT_TRUE(w);
    auto logs = c.get("/v1/jails/" + id + "/logs");
    std::string out;
    std::istringstream in(logs ? logs->body : "");
    for (std::string line; std::getline(in, line);) {
      json rec = json::parse(line, nullptr, false);
      if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    }
    (void)c.del("/v1/jails/" + id + "?force=true");
    return out;
  }

  static fs::path* secret_;
};
fs::path* HostileJailTest::secret_ = nullptr;

fs::path make_context(const fs::path& dir, const std::string& name, const std::string& version) {
  fs::create_directories(dir);
  std::ofstream(dir / "Jailfile") << "name " << name << "\nversion " << version
                                  << "\nworld bb\ncopy /app\n#!/bin/sh\ntrue\n";
  return dir;
}

TEST_F(HostileJailTest, CopiedSymlinksStaySymlinksAndNeverReadTheHost) {
  auto ctx = make_context(ljd_->root() / "ctx-links", "hostile/links", "1.0.0");
  fs::create_symlink(*secret_, ctx / "secret-dir");
  fs::create_symlink(*secret_ / "f", ctx / "secret-file");
  fs::create_symlink("/etc", ctx / "etc");
  auto c = ljd_->client();
  json b = build(c, ctx);
  ASSERT_EQ(b.value("state", ""), "succeeded") << b.dump();
  std::string out = run_on(c, "hostile/links", "1.0.0",
                           "readlink /app/secret-dir; cat /app/secret-dir/f /app/secret-file "
                           "2>/dev/null; readlink /app/etc; echo done");
  EXPECT_EQ(out.find(kSecret), std::string::npos) << out;
  EXPECT_NE(out.find(secret_->string()), std::string::npos) << "copied as a link: " << out;
  EXPECT_NE(out.find("done"), std::string::npos) << out;
}

TEST_F(HostileJailTest, ADirectorySwappedForASymlinkDuringTheCopyNeverLeaksTheHost) {
  auto ctx = make_context(ljd_->root() / "ctx-race", "hostile/race", "1.0.0");
  // d/ is a real directory with a harmless f; a twin link points at the secret. A thread swaps
  // them with rename(2) as fast as it can while builds read the context.
  fs::create_directories(ctx / "d");
  std::ofstream(ctx / "d" / "f") << "benign\n";
  fs::create_symlink(*secret_, ctx / "..race-link");
  std::atomic<bool> go{true};
  std::thread swapper([&] {
    auto real = ctx / "d", spare = ctx.parent_path() / "race-real-d", link = ctx / "..race-link";
    while (go) {
      ::rename(real.c_str(), spare.c_str());
      ::rename(link.c_str(), real.c_str());
      std::this_thread::sleep_for(50us);
      ::rename(real.c_str(), link.c_str());
      ::rename(spare.c_str(), real.c_str());
    }
  });
  auto c = ljd_->client();
  int published = 0;
  std::string leaks;
  for (int i = 0; i < 20; ++i) {
    std::string version = "1.0." + std::to_string(i);
    {
      std::ofstream(ctx / "Jailfile")
          << "name hostile/race\nversion " << version << "\nworld bb\ncopy /app\n#!/bin/sh\ntrue\n";
    }
    json b = build(c, ctx);
    if (b.value("state", "") != "succeeded") continue;  // a refused copy is fine; a leak is not
    ++published;
    std::string out =
        run_on(c, "hostile/race", version, "cat /app/d/f /app/..race-link/f 2>/dev/null; true");
    if (out.find(kSecret) != std::string::npos) leaks += version + " ";
  }
  go = false;
  swapper.join();
  EXPECT_EQ(leaks, "") << "the jail read the host's file through a swapped-in symlink";
  std::printf("context swap race: %d of 20 builds published, none leaked\n", published);
}

TEST_F(HostileJailTest, ACommandThatCannotRunIsExecFailed) {
  auto c = ljd_->client();
  struct Case {
    json command;
    std::string reason;
  };
  for (const auto& tc :
       {Case{{"/no/such/command"}, "not_found"}, Case{{"no-such-command-in-path"}, "not_found"},
        Case{{"/etc/passwd"}, "not_executable"}}) {
    auto r = c.post("/v1/jails?start=true", {{"world", "bb"}, {"command", tc.command}});
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    json j = r->json();
    EXPECT_EQ(j.value("code", ""), "jail.exec_failed") << r->body;
    EXPECT_EQ(j["details"].value("reason", ""), tc.reason) << r->body;
    EXPECT_TRUE(j["message"].is_string());
  }
}

TEST_F(HostileJailTest, MoreJailsThanMaxJailsIs429) {
  auto c = ljd_->client();
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = c.post("/v1/jails?start=true", {{"world", "bb"}, {"command", {"sleep", "30"}}});
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 201) << r->body;
    ids.push_back(r->json()["id"]);
  }
  auto over = c.post("/v1/jails?start=true", {{"world", "bb"}, {"command", {"true"}}});
  ASSERT_TRUE(over);
  EXPECT_EQ(over->status, 429) << over->body;
  EXPECT_EQ(over->json().value("code", ""), "jail.limit") << over->body;
  for (const auto& id : ids) {
    auto d = c.del("/v1/jails/" + id + "?force=true");
    ASSERT_TRUE(d);
    EXPECT_EQ(d->status, 200) << d->body;
  }
  // Room again.
  auto again = c.post("/v1/jails?start=true", {{"world", "bb"}, {"command", {"true"}}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 201) << again->body;
  (void)c.get("/v1/jails/" + again->json()["id"].get<std::string>() + "/wait?timeout_s=10");
}

}  // namespace
}  // namespace lj::testing
