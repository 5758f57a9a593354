// Privileged tests of the limits: processes, memory (OOM), CPU, open files, wall-clock timeout.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
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

// cpu_shares is the jail's CPU weight (v1 cpu.shares, v2 cpu.weight by runc's conversion); a
// cgroup reused from the pool is back at the kernel's default for a jail that sets none.
TEST_F(JailTest, CpuSharesAreTheJailsCpuWeight) {
  const CgroupLayout& l = cgroup_layout();
  if (!l.v2 && l.cpu_base.empty()) GTEST_SKIP() << "no cpu cgroup controller";
  auto weight_of = [&](const JailSpec& s, std::string* out) {
    auto started = start(s);
    ASSERT_TRUE(started) << started.error().what();
    std::istringstream in(started->jail->handle().cgroup);
    for (std::string d; std::getline(in, d, ';');) {
      const std::string f = d + (l.v2 ? "/cpu.weight" : "/cpu.shares");
      if (!d.empty() && fs::exists(f)) *out = read_trimmed(f);
    }
    (void)started->jail->signal(SIGKILL, true);
    (void)started->jail->wait();
  };
  auto s = spec({"sleep", "30"});
  s.limits.cpu_shares = 2;
  std::string w;
  weight_of(s, &w);
  EXPECT_EQ(w, l.v2 ? "1" : "2");
  auto t = spec({"sleep", "30"});
  t.limits.cpu_percent = 50;  // a cpu cgroup (v1), likely the one the first jail left in the pool
  weight_of(t, &w);
  EXPECT_EQ(w, l.v2 ? "100" : "1024");
}

// Device rules (cgroup v1): a devices cgroup of the jail's own whose list is the rules in order
// (after everything denied), then the engine's; a node the rules do not allow does not open,
// whatever its mode, and the engine's own nodes still do.
TEST_F(JailTest, DeviceRulesAreTheJailsDeviceCgroup) {
  const CgroupLayout& l = cgroup_layout();
  if (l.v2) GTEST_SKIP() << "cgroup v2: no devices.list (a device program: DeviceProgramTest)";
  if (l.devices_base.empty()) GTEST_SKIP() << "no devices cgroup controller";
  const std::vector<DeviceRule> rules = {{false, 'a', -1, -1, "rwm"},
                                         {true, 'c', 10, 229, "rwm"},
                                         {true, 'b', 8, 20, "rw"},
                                         {true, 'c', 136, -1, "r"}};
  auto s = spec({"sleep", "30"});
  s.limits.device_rules = rules;
  auto started = start(s);
  ASSERT_TRUE(started) << started.error().what();
  std::string list;
  std::istringstream in(started->jail->handle().cgroup);
  for (std::string d; std::getline(in, d, ';');)
    if (!d.empty() && fs::exists(d + "/devices.list")) {
      std::ifstream f(d + "/devices.list");
      for (std::string line; std::getline(f, line);) list += line + "\n";
    }
  (void)started->jail->signal(SIGKILL, true);
  (void)started->jail->wait();
  EXPECT_EQ(list,
            "c 10:229 rwm\nb 8:20 rw\nc 136:* rwm\nc *:* m\nb *:* m\nc 1:3 rwm\nc 1:5 rwm\n"
            "c 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:2 rwm\n");
  // /dev/mem's numbers, mode 0666: shut by the cgroup; /dev/null still opens.
  auto p = spec({"sh", "-c", "probe cat /dev/mem2; probe write /dev/null x"});
  p.limits.device_rules = rules;
  p.grants.nodes = {{"/dev/mem2", 'c', 1, 1, 0666, 0, 0}};
  auto r = run(p);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "open: EPERM\nok\n");
  // A nodev root with /dev left to the rules (MountPlan::dev_guarded_by_rules): a node the rules
  // allow opens there, one they do not gets EPERM; without rules it is refused.
  p = spec({"sh", "-c", "probe cat /dev/mem2; probe write /dev/null2 x"});
  p.root.nodev = true;
  p.root.dev_guarded_by_rules = true;
  p.grants.nodes = {{"/dev/mem2", 'c', 1, 1, 0666, 0, 0}, {"/dev/null2", 'c', 1, 3, 0666, 0, 0}};
  p.limits.device_rules = rules;
  r = run(p);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "open: EPERM\nok\n");
  p.root.dev_guarded_by_rules = false;  // the nodev /dev: neither opens
  r = run(p);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "open: EACCES\nopen: EACCES\n");
  p.root.dev_guarded_by_rules = true;
  p.limits.device_rules.clear();
  r = run(p);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("needs limits.device_rules"), std::string::npos) << r.error().what();
}

// The memory knobs besides the limit land in the jail's memory cgroup (v1 here; v2 takes only the
// reservation, as memory.low, and refuses the others by name).
TEST_F(JailTest, MemoryReservationSwappinessAndOomControlAreTheCgroups) {
  const CgroupLayout& l = cgroup_layout();
  if (!l.v2 && l.memory_base.empty()) GTEST_SKIP() << "no memory cgroup controller";
  auto s = spec({"sleep", "30"});
  s.limits.memory_bytes = 64 << 20;
  s.limits.memory_reservation = 32 << 20;
  if (l.v2) {
    s.limits.memory_swappiness = 10;
    auto refused = start(s);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().what().find("memory_swappiness"), std::string::npos);
    s.limits.memory_swappiness.reset();
  } else {
    s.limits.memory_swappiness = 10;
    s.limits.memory_no_oom_killer = true;
    s.limits.memory_kernel_tcp_bytes = 16 << 20;
  }
  auto started = start(s);
  ASSERT_TRUE(started) << started.error().what();
  std::map<std::string, std::string> got;
  std::istringstream in(started->jail->handle().cgroup);
  for (std::string d; std::getline(in, d, ';');)
    for (const char* f : {"memory.low", "memory.soft_limit_in_bytes", "memory.swappiness",
                          "memory.oom_control", "memory.kmem.tcp.limit_in_bytes"})
      if (!d.empty() && fs::exists(d + "/" + f)) got[f] = read_trimmed(d + "/" + f);
  (void)started->jail->signal(SIGKILL, true);
  (void)started->jail->wait();
  if (l.v2) {
    EXPECT_EQ(got["memory.low"], std::to_string(32 << 20));
    return;
  }
  EXPECT_EQ(got["memory.soft_limit_in_bytes"], std::to_string(32 << 20));
  EXPECT_EQ(got["memory.swappiness"], "10");
  EXPECT_EQ(got["memory.oom_control"], "oom_kill_disable 1");
  EXPECT_EQ(got["memory.kmem.tcp.limit_in_bytes"], std::to_string(16 << 20));
}

}  // namespace
}  // namespace lj::jail::test

namespace lj::jail::test {
namespace {

// A jail without any limit still has cgroups of its own (memory and pids on v1, one on v2): its
// processes are charged apart from the spawner's, counted, and signalled or killed as a group.
TEST_F(JailTest, AJailWithoutLimitsHasCgroupsOfItsOwn) {
  const CgroupLayout& l = cgroup_layout();
  if (!l.v2 && (l.memory_base.empty() || l.pids_base.empty()))
    GTEST_SKIP() << "no memory and pids cgroup controllers";
  auto s = spec({"/bin/sh", "-c", "probe memhog 16; sleep 30 & sleep 30 & wait"});
  ASSERT_EQ(s.limits.pids + s.limits.memory_bytes + s.limits.cpu_percent, 0u);
  auto started = start(s);
  ASSERT_TRUE(started) << started.error().what();
  auto& jail = started->jail;
  char buf[16] = {};
  ASSERT_EQ(::read(started->out.get(), buf, 9), 9);  // "survived\n": the memory is charged by now
  const std::string handle = jail->handle().cgroup;
  std::vector<std::string> dirs;
  for (std::istringstream in(handle); std::getline(in, dirs.emplace_back(), ';');) {
  }
  dirs.pop_back();
  ASSERT_EQ(dirs.size(), l.v2 ? 1u : 2u) << handle;
  const std::string mem = l.v2 ? dirs[0] : l.memory_base + "/" + s.name;
  const std::string pids = l.v2 ? dirs[0] : l.pids_base + "/" + s.name;
  for (const auto& d : {mem, pids})
    EXPECT_NE(std::find(dirs.begin(), dirs.end(), d), dirs.end()) << d << " in " << handle;
  // Accounted: init, sh, two sleeps; the hog's 16 MiB were charged here, not to us.
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_GE(std::stoul(read_trimmed(pids + "/pids.current")), 4u);
  EXPECT_EQ(read_trimmed(pids + "/pids.max"), "max");
  const std::string peak = mem + (l.v2 ? "/memory.peak" : "/memory.max_usage_in_bytes");
  if (fs::exists(peak)) {
    EXPECT_GE(std::stoull(read_trimmed(peak)), 16ull << 20) << peak;
  }
  // Signalled as a group: SIGSTOP is not one init passes on, so it goes to the cgroup's
  // processes (a jail without a cgroup was refused this before).
  ASSERT_TRUE(jail->signal(SIGSTOP, true));
  // The stop takes effect as each process next runs: look until all four are stopped.
  auto count_stopped = [&] {
    std::ifstream procs((l.v2 ? pids : mem) + "/cgroup.procs");
    int n = 0;
    for (pid_t pid; procs >> pid;) {
      std::ifstream st("/proc/" + std::to_string(pid) + "/stat");
      std::string line;
      std::getline(st, line);
      auto rp = line.rfind(')');
      if (rp != std::string::npos && rp + 2 < line.size() && line[rp + 2] == 'T') ++n;
    }
    return n;
  };
  int stopped = 0;
  for (int i = 0; i < 200 && (stopped = count_stopped()) < 4; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GE(stopped, 4);
  ASSERT_TRUE(jail->signal(SIGKILL, true));
  auto st = jail->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGKILL);
  EXPECT_FALSE(st->oom);
  // Teardown gave the cgroups back (TearDown checks that none is left under the jail's name).
}

}  // namespace
}  // namespace lj::jail::test
