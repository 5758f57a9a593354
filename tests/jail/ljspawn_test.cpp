// Black-box tests of the ljspawn binary: exit statuses, its own error codes, -d in place.
#include <sys/wait.h>

#include <cstdio>
#include <fstream>

#include "jail_fixture.hpp"
#include "shell.hpp"

namespace lj::jail::test {
namespace {

using Out = lj::test::ShellOut;
using lj::test::sh;

class LjspawnTest : public JailTest {
 protected:
  std::string ljspawn(const std::string& args) {
    return std::string(LJSPAWN_PATH) + " -d " + world().world().string() + " " + args;
  }
};

TEST_F(LjspawnTest, ExitStatusIsTheCommands) {
  auto o = sh(ljspawn("--ephemeral -- /bin/probe exit 9"));
  EXPECT_EQ(o.status, 9) << o.text;
  o = sh(ljspawn("--ephemeral -- /bin/probe kill-self 15"));
  EXPECT_EQ(o.status, 143) << o.text;
  o = sh(ljspawn("--ephemeral -H h1 -e A=b -- sh -c 'echo $(hostname) $A'"));
  EXPECT_EQ(o.status, 0);
  EXPECT_EQ(o.text, "h1 b\n");
}

TEST_F(LjspawnTest, OwnFailuresHaveDistinctCodesAndNameTheCause) {
  auto o = sh(ljspawn("-- /no/such"));
  EXPECT_EQ(o.status, 127);
  EXPECT_NE(o.text.find("execve /no/such"), std::string::npos) << o.text;
  o = sh(ljspawn("--bogus-option -- true"));
  EXPECT_EQ(o.status, 125) << o.text;
  o = sh(ljspawn("-v /nonexistent:/x -- true"));
  EXPECT_EQ(o.status, 125) << o.text;
  EXPECT_NE(o.text.find("/nonexistent"), std::string::npos) << o.text;
  o = sh(ljspawn("--ephemeral -t 0.2 -- sleep 5"));
  EXPECT_EQ(o.status, 137);
  EXPECT_NE(o.text.find("timed out"), std::string::npos) << o.text;
}

TEST_F(LjspawnTest, DirIsWritableInPlaceAsTheSeedsInstallAWorld) {
  auto o = sh(ljspawn("-p '#!/bin/sh\necho installed > /etc/motd'"));
  EXPECT_EQ(o.status, 0) << o.text;
  std::ifstream in(world().world() / "etc/motd");
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "installed");
}

TEST_F(LjspawnTest, KillingLjspawnKillsTheJailAndTheNextOneRemovesItsCgroups) {
  // The killed ljspawn cannot remove its jail's cgroups ("ljspawn-PID"); the next ljspawn's
  // start does (sweep_cgroup_pool). Without it every run of the suite left them behind.
  auto o = sh(ljspawn("--ephemeral -- /bin/probe sleep 31.4159 & p=$!; sleep 0.3; kill -9 $p; "
                      "sleep 0.3; pgrep -f '^/bin/probe slee[p] 31.4159' || echo gone $p; ") +
              ljspawn("--ephemeral -- true"));
  ASSERT_EQ(o.text.rfind("gone ", 0), 0u) << o.text;
  EXPECT_EQ(o.status, 0) << o.text;
  const std::string name = "ljspawn-" + std::to_string(std::stol(o.text.substr(5)));
  const CgroupLayout& l = cgroup_layout();
  for (const auto& base : {l.v2_base, l.memory_base, l.pids_base, l.cpu_base})
    if (!base.empty()) {
      EXPECT_FALSE(std::filesystem::exists(base + "/" + name)) << base;
    }
}

}  // namespace
}  // namespace lj::jail::test
