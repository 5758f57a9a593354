// Privileged tests of the limits: processes, memory (OOM), CPU, open files, wall-clock timeout.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {
namespace fs = std::filesystem;

TEST_F(JailTest, ForkBombStopsAtThePidsLimitAndTheHostIsUnharmed) {
  auto s = probe({"forkbomb"});
  s.limits.pids = 32;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  // init and the bomb itself count: at most 30 children.
  int forked = -1;
  char err[32] = "";
  ASSERT_EQ(std::sscanf(r->out.c_str(), "forked %d then %31s", &forked, err), 2) << r->out;
  EXPECT_LE(forked, 30);
  EXPECT_GE(forked, 20);
  EXPECT_STREQ(err, "EAGAIN");
  EXPECT_EQ(r->status.code, 0);
  pid_t p = ::fork();  // the host still forks
  if (p == 0) ::_exit(0);
  ASSERT_GT(p, 0);
  int ws = 0;
  ASSERT_EQ(::waitpid(p, &ws, 0), p);
}

TEST_F(JailTest, MemoryHogIsKilledAndReportedAsOom) {
  auto s = probe({"memhog", "512"});
  s.limits.memory_bytes = 32 << 20;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(r->status.oom);
  EXPECT_EQ(r->status.signal, SIGKILL);
  EXPECT_EQ(r->out, "");

  s = probe({"memhog", "8"});  // under the limit: no OOM
  s.limits.memory_bytes = 64 << 20;
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_FALSE(r->status.oom);
  EXPECT_EQ(r->out, "survived\n");
}

TEST_F(JailTest, TimeoutKillsTheWholeTreeIncludingABackgroundGrandchild) {
  fs::path vol = world().mkdir("vol");
  auto s = probe({"bg-write", "/vol/alive", "0.8", "wait"});
  s.root.volumes = {{vol, "/vol", false}};
  s.limits.timeout = std::chrono::milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(r->status.timed_out);
  EXPECT_EQ(r->status.signal, SIGKILL);
  EXPECT_LT(took, std::chrono::milliseconds(700));
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  EXPECT_FALSE(fs::exists(vol / "alive")) << "the grandchild outlived the jail";

  // Without a timeout the grandchild dies with the main command too (init exits, the kernel
  // kills the pid namespace).
  s = probe({"bg-write", "/vol/alive", "0.3"});
  s.root.volumes = {{vol, "/vol", false}};
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.code, 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  EXPECT_FALSE(fs::exists(vol / "alive"));
}

TEST_F(JailTest, CpuAndOpenFileLimitsAreApplied) {
  auto s =
      spec({"sh", "-c", "ulimit -n; cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null; true"});
  s.limits.cpu_percent = 50;
  s.limits.nofile = 64;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out.rfind("64\n", 0), 0u) << r->out;
  EXPECT_EQ(r->status.code, 0);
}

}  // namespace
}  // namespace lj::jail::test
