// sweep_cgroup_pool() and the cgroups of a killed ljspawn, "ljspawn-<pid>" (cgroup.hpp): those of
// a gone ljspawn are removed under every controller, those of a running one or that hold a
// process are kept.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/scope.hpp"
#include "common/sys.hpp"
#include "jail/linux/cgroup.hpp"
#include "test_world.hpp"

namespace lj::jail::test {
namespace {

std::vector<std::string> bases() {
  const CgroupLayout& l = cgroup_layout();
  std::vector<std::string> out;
  for (const auto& b : {l.v2_base, l.memory_base, l.pids_base, l.cpu_base})
    if (!b.empty()) out.push_back(b);
  return out;
}

// A child that waits to be killed under the command name `comm` (set before this returns).
pid_t sleeper(const char* comm) {
  int p[2];
  if (::pipe(p) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_NAME, comm);
    (void)!::write(p[1], "x", 1);
    for (;;) ::pause();
  }
  ::close(p[1]);
  char c;
  (void)!::read(p[0], &c, 1);
  ::close(p[0]);
  return pid;
}

// A pid that no process holds: a child that has exited and been waited for.
pid_t dead_pid() {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(0);
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  return pid;
}

class CgroupSweepTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lj::test::is_root()) GTEST_SKIP() << "needs root: makes cgroups under the ljd base";
    if (bases().empty()) GTEST_SKIP() << "no cgroup controller mounted";
  }
  void TearDown() override {
    lj::sys::clear_faults();
    for (pid_t p : children_) {
      ::kill(p, SIGKILL);
      ::waitpid(p, nullptr, 0);
    }
    // A killed child may still be leaving its cgroup (EBUSY) for a moment.
    for (const auto& d : made_)
      for (int i = 0; i < 100 && ::rmdir(d.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(10000);
  }

  // Makes "<base>/<name>" under every controller, with process `member` in it when not 0; their
  // paths. Made under a name no sweep touches and renamed last: tests beside this one sweep the
  // same bases (every make_backend() does), and would take a cgroup named after a gone ljspawn
  // before it is ready.
  std::vector<std::string> make_everywhere(const std::string& name, pid_t member = 0,
                                           const std::string& child_cgroup = {}) {
    std::vector<std::string> dirs;
    for (const auto& b : bases()) {
      ::mkdir(b.c_str(), 0755);
      std::string tmp = b + "/" + lj::test::unique_name("sweep-test"), d = b + "/" + name;
      EXPECT_EQ(::mkdir(tmp.c_str(), 0755), 0) << tmp << ": " << std::strerror(errno);
      made_.push_back(tmp);
      if (member) {
        std::ofstream procs(tmp + "/cgroup.procs");
        procs << member << std::flush;
        EXPECT_TRUE(procs.good()) << "moving " << member << " into " << tmp;
      }
      if (!child_cgroup.empty()) {
        EXPECT_EQ(::mkdir((tmp + "/" + child_cgroup).c_str(), 0755), 0);
      }
      EXPECT_EQ(::rename(tmp.c_str(), d.c_str()), 0) << d << ": " << std::strerror(errno);
      if (!child_cgroup.empty()) made_.push_back(d + "/" + child_cgroup);
      made_.push_back(d);
      dirs.push_back(d);
    }
    return dirs;
  }
  pid_t child(const char* comm) {
    pid_t p = sleeper(comm);
    if (p > 0) children_.push_back(p);
    return p;
  }

  std::vector<std::string> made_;
  std::vector<pid_t> children_;
};

std::size_t existing(const std::vector<std::string>& dirs) {
  std::size_t n = 0;
  for (const auto& d : dirs) n += std::filesystem::exists(d);
  return n;
}

TEST_F(CgroupSweepTest, AGoneLjspawnsCgroupsAreRemovedUnderEveryController) {
  auto dirs = make_everywhere("ljspawn-" + std::to_string(dead_pid()));
  // The first rmdir finds the jail's last task still exiting: the sweep tries again.
  lj::sys::inject_fault("rmdir", EBUSY);
  (void)sweep_cgroup_pool();
  EXPECT_EQ(lj::sys::faults_fired(), 1);
  EXPECT_EQ(existing(dirs), 0u);
}

TEST_F(CgroupSweepTest, ARunningLjspawnsCgroupsAreKeptAndGoWhenItIsAZombie) {
  pid_t p = child("ljspawn");
  ASSERT_GT(p, 0);
  auto dirs = make_everywhere("ljspawn-" + std::to_string(p));
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), dirs.size()) << "the cgroups of a running ljspawn were removed";
  // Killed and not yet waited for (as a shell leaves a killed background job): gone.
  ASSERT_EQ(::kill(p, SIGKILL), 0);
  siginfo_t si{};
  ASSERT_EQ(::waitid(P_PID, static_cast<id_t>(p), &si, WEXITED | WNOWAIT), 0);
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), 0u);
}

TEST_F(CgroupSweepTest, APidReusedByAnotherProgramIsNoLjspawn) {
  pid_t p = child("not-ljspawn");
  ASSERT_GT(p, 0);
  auto dirs = make_everywhere("ljspawn-" + std::to_string(p));
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), 0u);
}

TEST_F(CgroupSweepTest, ACgroupWithAProcessInItIsKept) {
  // A gone ljspawn's name, but a process lives in it (a jail named so by hand, say).
  pid_t p = child("jailed");
  ASSERT_GT(p, 0);
  auto dirs = make_everywhere("ljspawn-" + std::to_string(dead_pid()), p);
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), dirs.size());
  ::kill(p, SIGKILL);
  ::waitpid(p, nullptr, 0);
  children_.clear();
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), 0u);
}

TEST_F(CgroupSweepTest, ACgroupWithChildCgroupsIsKeptWithoutWaiting) {
  auto dirs = make_everywhere("ljspawn-" + std::to_string(dead_pid()), 0, "inner");
  auto start = std::chrono::steady_clock::now();
  (void)sweep_cgroup_pool();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250))
      << "EBUSY of a cgroup with children is no exiting task to wait for";
  EXPECT_EQ(existing(dirs), dirs.size());
}

// A daemon's scope is empty from its start to its first jail: another daemon starting meanwhile
// (its make_backend() sweeps) must not take it, or the first jail's cgroup finds no parent.
TEST_F(CgroupSweepTest, AnEmptyScopeIsKeptWhileItsDaemonLivesAndGoesAfter) {
  const std::string name = lj::test::unique_name("scope-sweep-test");
  std::vector<std::string> dirs;
  for (const auto& b : bases()) dirs.push_back(b + "/" + name);
  for (const auto& d : dirs) made_.push_back(d);
  // The scope of a live daemon: this process holds it.
  ASSERT_TRUE(prepare_scope({name, 0}));
  ASSERT_EQ(existing(dirs), dirs.size());
  (void)sweep_cgroup_pool();  // as another daemon's start does
  EXPECT_EQ(existing(dirs), dirs.size()) << "a live daemon's empty scope was swept";
  // Its daemon gone (a child held it and was killed): the next sweep removes it.
  remove_scope({name, 0});
  ASSERT_EQ(existing(dirs), 0u);
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t p = ::fork();
  if (p == 0) {
    ::_exit(prepare_scope({name, 0}) && ::write(ready[1], "x", 1) == 1 ? (::pause(), 0) : 1);
  }
  children_.push_back(p);
  ::close(ready[1]);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  ::close(ready[0]);
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), dirs.size()) << "another live process's empty scope was swept";
  ::kill(p, SIGKILL);
  ::waitpid(p, nullptr, 0);
  children_.clear();
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), 0u) << "a gone daemon's empty scope was kept";
}

TEST_F(CgroupSweepTest, OtherNamesAreLeftAlone) {
  auto dirs = make_everywhere(lj::test::unique_name("ljspawn-x"));
  (void)sweep_cgroup_pool();
  EXPECT_EQ(existing(dirs), dirs.size());
}

}  // namespace
}  // namespace lj::jail::test
