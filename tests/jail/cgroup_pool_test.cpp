// The idle pool of jail cgroups (lib/jail/linux/cgroup.hpp): reuse keeps the limits and the OOM
// report exact, and idle cgroups left by a dead process are swept.
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>

#include "common/scope.hpp"
#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {

// Idle cgroups this process parked under one controller's base (every jail also has a pids
// cgroup, parked on its own; tests running beside this one park theirs under other pids).
std::size_t parked_under(const std::string& base) {
  const std::string mine = ".pool-" + std::to_string(::getpid()) + "-";
  std::size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator(base))
    if (e.path().filename().string().starts_with(mine)) ++n;
  return n;
}

TEST_F(JailTest, CgroupsAreReusedWithTheNewJailsLimits) {
  const CgroupLayout& l = cgroup_layout();
  if (l.v2 || l.pids_base.empty() || l.memory_base.empty())
    GTEST_SKIP() << "written for v1 memory+pids controllers";
  Limits a;
  a.pids = 32;
  a.memory_bytes = 64 << 20;
  std::string na = lj::test::unique_name("pa"), nb = lj::test::unique_name("pb");
  names_.push_back(na);
  names_.push_back(nb);
  auto cg = Cgroups::create(na, a);
  ASSERT_TRUE(cg) << cg.error().what();
  ASSERT_TRUE(cg->destroy());
  EXPECT_FALSE(std::filesystem::exists(l.pids_base + "/" + na));
  const std::size_t idle = idle_cgroups();
  EXPECT_GE(idle, 2u);  // its memory and pids cgroups wait for the next jail

  Limits b;
  b.pids = 16;
  b.memory_bytes = 128 << 20;
  auto cg2 = Cgroups::create(nb, b);
  ASSERT_TRUE(cg2) << cg2.error().what();
  EXPECT_EQ(idle_cgroups(), idle - 2);
  EXPECT_EQ(read_trimmed(l.pids_base + "/" + nb + "/pids.max"), "16");
  EXPECT_EQ(read_trimmed(l.memory_base + "/" + nb + "/memory.limit_in_bytes"),
            std::to_string(128 << 20));
  ASSERT_TRUE(cg2->destroy());

  // A jail without a pids limit in reused cgroups: nothing of the earlier limit is left (every
  // jail has a pids cgroup, limited or not).
  Limits c;
  c.memory_bytes = 32 << 20;
  auto cg3 = Cgroups::create(na, c);
  ASSERT_TRUE(cg3) << cg3.error().what();
  EXPECT_EQ(read_trimmed(l.memory_base + "/" + na + "/memory.limit_in_bytes"),
            std::to_string(32 << 20));
  EXPECT_EQ(read_trimmed(l.pids_base + "/" + na + "/pids.max"), "max");
}

TEST_F(JailTest, AReusedMemoryCgroupDoesNotReportAnEarlierJailsOom) {
  auto hog = probe({"memhog", "512"});
  hog.limits.memory_bytes = 32 << 20;
  auto r = run(hog);
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_TRUE(r->status.oom);
  // The pool hands out the cgroup returned last: the hog's.
  auto s = spec({"/bin/true"});
  s.limits.memory_bytes = 32 << 20;
  auto r2 = run(s);
  ASSERT_TRUE(r2) << r2.error().what();
  EXPECT_EQ(r2->status.code, 0);
  EXPECT_FALSE(r2->status.oom);
}

TEST_F(JailTest, AMemoryCgroupLeftWithMuchChargedIsRemovedNotReused) {
  const CgroupLayout& l = cgroup_layout();
  if (l.v2 || l.memory_base.empty()) GTEST_SKIP() << "written for the v1 memory controller";
  // 24 MiB written to a tmpfs file by a process in the cgroup: shmem pages stay charged to the
  // cgroup after the process exits (a disk file's page cache may already be cached, and charged
  // elsewhere, when the reader comes).
  std::string big = "/dev/shm/cgroup-pool-big-" + std::to_string(::getpid());
  lj::ScopeExit rm([&] { ::unlink(big.c_str()); });
  Limits a;
  a.memory_bytes = 256 << 20;
  std::string name = lj::test::unique_name("pm");
  names_.push_back(name);
  auto cg = Cgroups::create(name, a);
  ASSERT_TRUE(cg) << cg.error().what();
  int go[2];
  ASSERT_EQ(::pipe2(go, O_CLOEXEC), 0);
  pid_t child = ::fork();
  if (child == 0) {
    char c;
    if (::read(go[0], &c, 1) != 1) ::_exit(1);
    int fd = ::open(big.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static char chunk[1 << 20];
    std::memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 24; ++i)
      if (::write(fd, chunk, sizeof chunk) != static_cast<ssize_t>(sizeof chunk)) ::_exit(2);
    ::_exit(0);
  }
  ASSERT_GT(child, 0);
  std::string pid = std::to_string(child);
  for (int tasks : cg->join_fds())  // memory and pids
    ASSERT_EQ(::write(tasks, pid.data(), pid.size()), static_cast<ssize_t>(pid.size()));
  ASSERT_EQ(::write(go[1], "x", 1), 1);
  int ws = 0;
  ASSERT_EQ(::waitpid(child, &ws, 0), child);
  ASSERT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  ::close(go[0]);
  ::close(go[1]);
  const std::size_t idle = parked_under(l.memory_base);
  ASSERT_TRUE(cg->destroy());
  EXPECT_EQ(parked_under(l.memory_base), idle);  // removed, not parked
  EXPECT_FALSE(std::filesystem::exists(l.memory_base + "/" + name));
}

TEST_F(JailTest, IdleCgroupsOfADeadProcessAreSwept) {
  const CgroupLayout& l = cgroup_layout();
  std::string base = l.v2 ? l.v2_base : l.pids_base;
  if (base.empty()) GTEST_SKIP() << "no pids cgroup controller";
  // Make sure the base exists (a jail with a limit makes it).
  Limits a;
  a.pids = 8;
  ASSERT_TRUE(Cgroups::create(lj::test::unique_name("ps"), a));
  pid_t dead = ::fork();
  if (dead == 0) ::_exit(0);
  ASSERT_GT(dead, 0);
  int ws = 0;
  ASSERT_EQ(::waitpid(dead, &ws, 0), dead);
  std::string left = base + "/.pool-" + std::to_string(dead) + "-7";
  ASSERT_EQ(::mkdir(left.c_str(), 0755), 0) << left;
  EXPECT_GE(sweep_cgroup_pool(), 1u);
  EXPECT_FALSE(std::filesystem::exists(left));
  // Our own idle cgroups stay.
  const std::size_t idle = idle_cgroups();
  (void)sweep_cgroup_pool();
  EXPECT_EQ(idle_cgroups(), idle);
}

}  // namespace
}  // namespace lj::jail::test
