// The jail's init after the command has started: lj-init, exec'd from ljd's sealed memfd, not the
// copy of the daemon that assembled the jail (docs/performance.md, "Init execs a reaper").
#include <signal.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {

std::string proc_file(pid_t pid, const char* entry) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + entry);
  std::string s;
  std::getline(in, s);
  return s;
}

// Proportional set size of a process, in KiB (smaps_rollup, Linux 4.14).
long pss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/smaps_rollup");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("Pss:", 0) == 0) return std::stol(line.substr(4));
  return -1;
}

TEST_F(JailTest, InitIsTheSealedReaperNotTheHostBinary) {
  auto jail = backend_->spawn(probe({"sleep", "30"}));
  ASSERT_TRUE(jail) << jail.error().what();
  const pid_t init = (*jail)->handle().pid;
  std::error_code ec;
  auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(init) + "/exe", ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(exe.string().rfind("/memfd:lj-init", 0), 0U) << exe;
  auto self = std::filesystem::read_symlink("/proc/self/exe");
  EXPECT_NE(exe, self);
  EXPECT_EQ(proc_file(init, "comm"), "lj-init");
  // Non-dumpable again after its execve: the jail cannot reach its fds, memory or binary.
  std::string status;
  {
    std::ifstream in("/proc/" + std::to_string(init) + "/status");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("Seccomp:", 0) == 0) status = line;
  }
  EXPECT_EQ(status, "Seccomp:\t2");              // the jail's filter stays on it
  ASSERT_TRUE((*jail)->signal(SIGTERM, false));  // forwarded by the reaper
  auto st = (*jail)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGTERM);
}

// A forwarded signal to everyone (a queued signal carrying kBroadcastSignal) reaches every process
// of the jail through lj-init's kill(-1); without it only the command gets it.
TEST_F(JailTest, ForwardedSignalReachesTheCommandOrEveryone) {
  for (bool all : {false, true}) {
    // sh survives a TERM (trapped); its background sleep dies of TERM only if it gets one.
    auto s = spec({"/bin/sh", "-c",
                   "sleep 30 & p=$!; trap 'echo term; kill -9 $p 2>/dev/null' TERM; echo ready; "
                   // A wait the trap interrupts answers 143 and leaves the job to the second;
                   // a wait that reported the job leaves the second nothing (127).
                   "wait $p; s=$?; wait $p 2>/dev/null; t=$?; [ $t -ne 127 ] && s=$t; "
                   "echo bg=$s"});
    s.limits.timeout = std::chrono::seconds(20);
    auto started = start(s);
    ASSERT_TRUE(started) << started.error().what();
    const int rd = started->out.get();
    char buf[6] = {};
    ASSERT_EQ(::read(rd, buf, 6), 6);  // "ready\n"
    ASSERT_TRUE(started->jail->signal(SIGTERM, all));
    std::string out;
    char b[256];
    for (ssize_t n; (n = ::read(rd, b, sizeof b)) > 0;) out.append(b, static_cast<std::size_t>(n));
    auto st = started->jail->wait();
    ASSERT_TRUE(st) << st.error().what();
    EXPECT_EQ(st->code, 0);
    EXPECT_FALSE(st->timed_out);
    // The broadcast's TERM kills the sleep (a fatal signal decides the exit at once: sh's KILL
    // after it changes nothing); without it, sh's KILL does.
    EXPECT_EQ(out, all ? "term\nbg=143\n" : "term\nbg=137\n") << "all=" << all;
  }
}

// ProcessOptions::command_is_init (ljoci, runc's model): no lj-init, the command is pid 1 and
// init's status is its own; a TERM from outside is the pid 1's to handle (none here: ignored), a
// KILL ends it; a status file, which only lj-init writes, is refused.
TEST_F(JailTest, ACommandThatIsInitIsPidOneAndItsStatusIsInits) {
  auto s = spec({"/bin/sh", "-c", "echo $$; cat /proc/1/comm; exit 5"});
  s.process.command_is_init = true;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "1\nsh\n");
  EXPECT_EQ(r->status.code, 5);

  auto sleeper = spec({"sleep", "30"});
  sleeper.process.command_is_init = true;
  auto jail = backend_->spawn(sleeper);
  ASSERT_TRUE(jail) << jail.error().what();
  EXPECT_EQ(proc_file((*jail)->handle().pid, "comm"), "sleep");
  ASSERT_TRUE((*jail)->signal(SIGTERM, false));
  auto st = (*jail)->wait(std::chrono::milliseconds(300));
  ASSERT_FALSE(st);  // still running: a pid 1 without a handler
  EXPECT_EQ(st.error().errc(), Errc::timed_out) << st.error().what();
  ASSERT_TRUE((*jail)->signal(SIGKILL, false));
  st = (*jail)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGKILL);

  s.status_file = (world().dir() / "status").string();
  auto refused = backend_->spawn(s);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().errc(), Errc::invalid_argument) << refused.error().what();
}

TEST_F(JailTest, InitsPinLittleMemory) {
  // A copy of ljd pinned ~770 KB of copy-on-write pages per jail; the reaper's own pages (its
  // text is the shared memfd's page cache) are a few tens of KB.
  constexpr int kJails = 8;
  std::vector<std::unique_ptr<Jail>> jails;
  for (int i = 0; i < kJails; ++i) {
    auto j = backend_->spawn(probe({"sleep", "30"}));
    ASSERT_TRUE(j) << j.error().what();
    jails.push_back(std::move(*j));
  }
  long total = 0;
  for (auto& j : jails) total += pss_kib(j->handle().pid);
  EXPECT_LT(total / kJails, 200) << "inits' Pss " << total << " KiB for " << kJails << " jails";
  for (auto& j : jails) {
    ASSERT_TRUE(j->signal(SIGKILL, true));
    ASSERT_TRUE(j->wait());
  }
}

}  // namespace
}  // namespace lj::jail::test
