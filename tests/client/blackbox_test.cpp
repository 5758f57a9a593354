// ljctl against the real ljd (tests/daemon's LjdProcess: a temporary root, socket and index), as a
// user would run it: exit codes, JSON, tables, one-line errors. Jails need root and ljd's Linux
// backend; without them those tests skip and say why.
#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "ljd_process.hpp"
#include "subprocess.hpp"

namespace lj::test {
namespace {

using nlohmann::json;

const std::string kLjctl = LJCTL_PATH;

class LjctlBlackbox : public ::testing::Test {
 protected:
  // One daemon for the suite: starting ljd costs more than most of these tests.
  static void SetUpTestSuite() {
    ljd_ = std::make_unique<lj::testing::LjdProcess>();
    auto st = ljd_->start();
    ASSERT_TRUE(st) << st.error().what();
    world_ok_ = static_cast<bool>(ljd_->make_busybox_world("bb"));
    auto info = run({kLjctl, "--socket", ljd_->socket(), "--json", "info"});
    json j = json::parse(info.out, nullptr, false);
    backend_ = j.is_object() && j.contains("backend") && j["backend"].is_string();
    if (j.is_object() && j.contains("extensions") && j["extensions"].is_array()) {
      for (const auto& e : j["extensions"]) extensions_.push_back(e.get<std::string>());
    }
  }
  static void TearDownTestSuite() { ljd_.reset(); }

  // Why jails cannot run here, or empty when they can.
  static std::string no_jails() {
    if (::geteuid() != 0) return "needs root: jails need namespaces, mounts and cgroups";
    if (!backend_) return "this ljd has no jail backend";
    if (!world_ok_) return "no busybox world (Debian: busybox-static)";
    return "";
  }
  static bool serves(const std::string& extension) {
    for (const auto& e : extensions_) {
      if (e == extension) return true;
    }
    return false;
  }

  static ProcResult ljctl(std::vector<std::string> args) {
    args.insert(args.begin(), {kLjctl, "--socket", ljd_->socket()});
    return run(args);
  }

  static inline std::unique_ptr<lj::testing::LjdProcess> ljd_;
  static inline bool backend_ = false, world_ok_ = false;
  static inline std::vector<std::string> extensions_;
};

void expect_one_line(const ProcResult& r) {
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << r.err;
  EXPECT_EQ(r.err.rfind("ljctl: ", 0), 0u) << r.err;
}

TEST_F(LjctlBlackbox, InfoJsonIsTheApisAnswer) {
  auto r = ljctl({"info", "--json"});
  ASSERT_EQ(r.status, 0) << r.err;
  json j = json::parse(r.out);
  EXPECT_EQ(j["api_version"], "v1");
  EXPECT_TRUE(j["version"].is_string());
  EXPECT_TRUE(j["event_seq"].is_number());
  auto h = ljctl({"info"});
  EXPECT_EQ(h.status, 0);
  EXPECT_NE(h.out.find("api_version:"), std::string::npos) << h.out;
}

TEST_F(LjctlBlackbox, BadIdIsOneLineAnd125) {
  for (const char* cmd : {"inspect", "logs", "wait", "stop", "kill", "rm"}) {
    auto r = ljctl({cmd, "no-such-jail"});
    EXPECT_EQ(r.status, 125) << cmd;
    expect_one_line(r);
    EXPECT_NE(r.err.find("ljctl ps -a"), std::string::npos) << cmd << ": " << r.err;
  }
}

TEST_F(LjctlBlackbox, ListsAreTablesOrJson) {
  auto ps = ljctl({"ps", "-a", "--json"});
  ASSERT_EQ(ps.status, 0) << ps.err;
  EXPECT_TRUE(json::parse(ps.out).is_array());
  auto table = ljctl({"ps", "-a"});
  ASSERT_EQ(table.status, 0) << table.err;
  EXPECT_EQ(table.out.rfind("ID ", 0), 0u) << table.out;
  if (serves("worlds")) {
    auto w = ljctl({"worlds"});
    ASSERT_EQ(w.status, 0) << w.err;
    EXPECT_EQ(w.out.rfind("NAME ", 0), 0u) << w.out;
  } else {
    // A route this ljd lacks: one line that says to upgrade it.
    auto w = ljctl({"worlds"});
    EXPECT_EQ(w.status, 125);
    expect_one_line(w);
    EXPECT_NE(w.err.find("upgrade ljd"), std::string::npos) << w.err;
  }
  if (serves("overlays")) {
    auto ov = ljctl({"overlays", "--json"});
    ASSERT_EQ(ov.status, 0) << ov.err;
    EXPECT_TRUE(json::parse(ov.out).is_array());
  }
}

TEST_F(LjctlBlackbox, RunExitsWithTheJailsStatus) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto r = ljctl({"run", "bb", "--", "/bin/sh", "-c", "echo out; echo err >&2; exit 3"});
  EXPECT_EQ(r.status, 3) << r.err << ljd_->log();
  EXPECT_EQ(r.out, "out\n");
  EXPECT_EQ(r.err, "err\n");
}

TEST_F(LjctlBlackbox, RunKilledBySignalExits128PlusN) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto r = ljctl({"run", "bb", "--", "/bin/sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(r.status, 128 + SIGKILL) << r.err;
}

TEST_F(LjctlBlackbox, MissingCommandIs127) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto r = ljctl({"run", "bb", "--", "/no/such/command"});
  EXPECT_EQ(r.status, 127) << r.err;
  expect_one_line(r);
  EXPECT_NE(r.err.find("/no/such/command"), std::string::npos) << r.err;
  auto d = ljctl({"run", "-d", "bb", "--", "/no/such/command"});
  EXPECT_EQ(d.status, 127) << d.err;
  auto x = ljctl({"run", "bb", "--", "/etc"});  // exists, cannot be executed
  EXPECT_EQ(x.status, 126) << x.err;
}

// A volume's host path that does not exist is the request's fault, said once and naming the
// field, with no hint about overlays; a volume that fails when the root is mounted (a file over
// a directory) names the jail once ("starting jail j-…: starting jail j-…: …" before).
TEST_F(LjctlBlackbox, VolumeErrorsSayWhatIsWrongOnce) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto r = ljctl({"run", "-v", "/nonexistent-ljd-volume:/data", "bb", "--", "true"});
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_NE(r.err.find("volumes[0].host_path"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("/nonexistent-ljd-volume: No such file or directory"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("overlays"), std::string::npos) << r.err;

  const std::string file = ljd_->root().string() + "/volume-file";
  std::ofstream(file) << "x\n";
  r = ljctl({"run", "-v", file + ":/tmp", "bb", "--", "true"});
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  const std::string once = "starting jail j-";
  auto first = r.err.find(once);
  EXPECT_NE(first, std::string::npos) << r.err;
  EXPECT_EQ(r.err.find(once, first + 1), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("overlays"), std::string::npos) << r.err;
  std::filesystem::remove(file);
}

TEST_F(LjctlBlackbox, DetachPsWaitAndEvents) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto d = ljctl({"run", "-d", "--keep", "--name", "bbx", "-l", "t=1", "bb", "--", "/bin/sh", "-c",
                  "sleep 0.3; exit 5"});
  ASSERT_EQ(d.status, 0) << d.err;
  std::string id = d.out.substr(0, d.out.find('\n'));
  ASSERT_FALSE(id.empty());
  auto ps = ljctl({"ps", "-a", "-l", "t=1"});  // -a: under load the jail may have ended already
  EXPECT_EQ(ps.status, 0);
  EXPECT_NE(ps.out.find(id), std::string::npos) << ps.out;
  EXPECT_NE(ps.out.find("bbx"), std::string::npos) << ps.out;
  auto w = ljctl({"wait", id});
  EXPECT_EQ(w.status, 5) << w.err;
  EXPECT_EQ(w.out, "5\n");
  auto again = ljctl({"wait", "bbx"});  // answered from the record, by name
  EXPECT_EQ(again.status, 5);
  auto rm = ljctl({"rm", id});
  EXPECT_EQ(rm.status, 0) << rm.err;
  auto ev = ljctl({"events", "--json"});
  ASSERT_EQ(ev.status, 0);
  int mine = 0;
  std::istringstream lines(ev.out);
  for (std::string l; std::getline(lines, l);) {
    json e = json::parse(l);
    if (e["resource"] == id) ++mine;
  }
  EXPECT_GE(mine, 2) << ev.out;
}

TEST_F(LjctlBlackbox, StopGivesTheSignalStatus) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto d = ljctl({"run", "-d", "bb", "--", "/bin/sleep", "100"});
  ASSERT_EQ(d.status, 0) << d.err;
  std::string id = d.out.substr(0, d.out.find('\n'));
  auto s = ljctl({"stop", "-t", "5", id});
  EXPECT_EQ(s.status, 0) << s.err;
  auto w = ljctl({"wait", id});
  EXPECT_EQ(w.status, 128 + SIGTERM) << w.err;
}

// As a docker user expects (issue 13): a detached jail stopped stays listed by `ps -a` until
// `rm`; `create` then `start -a` runs it attached and exits with its status; --env-file, --rm.
TEST_F(LjctlBlackbox, RunDetachedThenStopLeavesTheJailListedUntilRm) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  auto d = ljctl({"run", "-d", "bb", "--", "/bin/sleep", "100"});
  ASSERT_EQ(d.status, 0) << d.err;
  const std::string id = d.out.substr(0, d.out.find('\n'));
  auto s = ljctl({"stop", "-t", "5", id});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_EQ(ljctl({"wait", id}).status, 128 + SIGTERM);
  auto ps = ljctl({"ps", "-a", "-q"});
  EXPECT_NE(ps.out.find(id), std::string::npos) << ps.out;
  EXPECT_EQ(ljctl({"ps", "-q"}).out.find(id), std::string::npos);
  auto rm = ljctl({"rm", id});
  EXPECT_EQ(rm.status, 0) << rm.err;
  EXPECT_EQ(ljctl({"ps", "-a", "-q"}).out.find(id), std::string::npos);
  // --rm: gone once it ends, detached or not.
  auto gone = ljctl({"run", "-d", "--rm", "bb", "--", "true"});
  ASSERT_EQ(gone.status, 0) << gone.err;
  const std::string gid = gone.out.substr(0, gone.out.find('\n'));
  (void)ljctl({"wait", gid});
  bool listed = true;
  for (int i = 0; i < 50 && listed; ++i) {
    listed = ljctl({"ps", "-a", "-q"}).out.find(gid) != std::string::npos;
    if (listed) ::usleep(100 * 1000);
  }
  EXPECT_FALSE(listed) << gid;
}

TEST_F(LjctlBlackbox, CreateThenStartAttachedExitsWithTheStatus) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  const std::string env_file = ljd_->root().string() + "/env.list";
  std::ofstream(env_file) << "# a comment\n\nA=from file\nB=b=c\n  C=spaced\nLJ_FROM_ENV\n";
  auto c = run({kLjctl, "--socket", ljd_->socket(), "create", "--env-file", env_file, "-e", "A=flag",
                "bb", "--", "/bin/sh", "-c", "echo \"$A|$B|$C|$LJ_FROM_ENV\"; exit 4"},
               {"LJ_FROM_ENV=passed"});
  ASSERT_EQ(c.status, 0) << c.err;
  const std::string id = c.out.substr(0, c.out.find('\n'));
  auto row = ljctl({"inspect", "--json", id});
  EXPECT_NE(row.out.find("\"created\""), std::string::npos) << row.out;
  auto s = ljctl({"start", "-a", id});
  EXPECT_EQ(s.status, 4) << s.err;
  EXPECT_EQ(s.out, "flag|b=c|spaced|passed\n");
  // Made by create: listed after its end, until rm.
  EXPECT_NE(ljctl({"ps", "-a", "-q"}).out.find(id), std::string::npos);
  EXPECT_EQ(ljctl({"rm", id}).status, 0);
  // start without -a returns at once; a jail that is not created is refused in one line.
  auto c2 = ljctl({"create", "bb", "--", "true"});
  ASSERT_EQ(c2.status, 0) << c2.err;
  const std::string id2 = c2.out.substr(0, c2.out.find('\n'));
  EXPECT_EQ(ljctl({"start", id2}).status, 0);
  EXPECT_EQ(ljctl({"wait", id2}).status, 0);
  auto again = ljctl({"start", id2});
  EXPECT_EQ(again.status, 125);
  expect_one_line(again);
  EXPECT_EQ(ljctl({"rm", id2}).status, 0);
  auto bad = ljctl({"run", "--env-file", "/nonexistent-env-file", "bb", "--", "true"});
  EXPECT_EQ(bad.status, 125);
  expect_one_line(bad);
  EXPECT_NE(bad.err.find("/nonexistent-env-file"), std::string::npos) << bad.err;
}

TEST_F(LjctlBlackbox, BuildPublishesAndRunsTheOverlay) {
  if (auto why = no_jails(); !why.empty()) GTEST_SKIP() << why;
  if (!serves("builds")) GTEST_SKIP() << "this ljd does not build";
  char tmpl[] = "/tmp/ljctl-ctx-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  std::string ctx = tmpl;
  {
    std::ofstream(ctx + "/Jailfile") << "name t/hello\nversion 1.0.0\nworld bb\ncopy /app\n"
                                        "#!/bin/sh\necho building\n";
    std::ofstream(ctx + "/Bad") << "name t/bad\nversion 1.0.0\nworld bb\n#!/bin/sh\nexit 2\n";
    std::ofstream(ctx + "/msg") << "from the context\n";
  }
  auto b = ljctl({"build", ctx});
  EXPECT_EQ(b.status, 0) << b.err;
  EXPECT_NE(b.out.find("s] building\n"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("s] published t/hello@1.0.0\n"), std::string::npos) << b.out;
  auto again = ljctl({"build", ctx});
  EXPECT_NE(again.out.find("s] cached t/hello@1.0.0\n"), std::string::npos) << again.out;
  auto ov = ljctl({"overlays", "--json"});
  EXPECT_NE(ov.out.find("\"t/hello\""), std::string::npos) << ov.out;
  auto r = ljctl({"run", "t/hello@~1.0", "--", "/bin/cat", "/app/msg"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "from the context\n");
  auto bad = ljctl({"build", "-f", ctx + "/Bad"});
  EXPECT_EQ(bad.status, 1);
  EXPECT_NE(bad.err.find("failed after"), std::string::npos) << bad.err;
  auto rm = ljctl({"overlay", "rm", "t/hello@1.0.0"});
  EXPECT_EQ(rm.status, 0) << rm.err;
  std::filesystem::remove_all(ctx);
}

TEST_F(LjctlBlackbox, StoppedDaemonIsOneLine) {
  lj::testing::LjdProcess other;
  ASSERT_TRUE(other.start());
  std::string sock = other.socket();
  ASSERT_EQ(run({kLjctl, "--socket", sock, "info"}).status, 0);
  other.stop();
  auto r = run({kLjctl, "--socket", sock, "ps"});
  EXPECT_EQ(r.status, 125);
  expect_one_line(r);
  EXPECT_NE(r.err.find("cannot reach ljd at " + sock), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("is ljd running?"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace lj::test
