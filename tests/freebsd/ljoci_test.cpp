// ljoci, the OCI runtime, on the real FreeBSD kernel: runc's create, state, start, kill and
// delete, run as a caller (conmon, containerd's shim) runs them: a subreaper that runs the
// commands and waits for the container's process, which `create` leaves to it. They need root, a
// world holding tests/freebsd/probe.c built static as /probe ($LJ_TEST_WORLD) and the ljoci
// binary ($LJOCI), and skip with the reason otherwise. They run in the FreeBSD 13 test guest
// (scripts/test-freebsd-guest builds both) and on any FreeBSD host.
#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/procctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/freebsd/root_mounts.hpp"
#include "world_fixture.hpp"

namespace lj::jail::freebsd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

struct Ran {
  int status = -1;  // the wait(2) status
  std::string out;  // stdout, when captured
  bool ok() const { return WIFEXITED(status) && WEXITSTATUS(status) == 0; }
};

class LjociFreebsdTest : public WorldTest {
 protected:
  LjociFreebsdTest() : WorldTest("lj-ljoci-test") {}

  void SetUp() override {
    WorldTest::SetUp();
    if (!ready()) return;
    const char* l = ::getenv("LJOCI");
    if (l == nullptr || *l == '\0' || !fs::exists(l)) GTEST_SKIP() << "set LJOCI to the ljoci binary";
    ljoci_ = l;
    // As conmon and containerd's shim: the container's process, left by `create`, becomes ours.
    ASSERT_EQ(::procctl(P_PID, ::getpid(), PROC_REAP_ACQUIRE, nullptr), 0) << std::strerror(errno);
    reaper_ = true;
  }

  void TearDown() override {
    if (reaper_) (void)::procctl(P_PID, ::getpid(), PROC_REAP_RELEASE, nullptr);
    WorldTest::TearDown();
  }

  // A bundle whose process is `/probe ARGS...` on the world, read-only (the guest's / is cd9660).
  fs::path bundle(const std::string& name, const std::vector<std::string>& probe_args) {
    const fs::path b = dir_ / name;
    fs::create_directories(b);
    std::string args = "\"/probe\"";
    for (const auto& a : probe_args) args += ", \"" + a + "\"";
    std::ofstream(b / "config.json")
        << R"({"ociVersion": "1.0.2", "root": {"path": ")" << world_
        << R"(", "readonly": true}, "process": {"args": [)" << args
        << R"(], "cwd": "/", "user": {"uid": 0, "gid": 0}}, "freebsd": {}})";
    return b;
  }

  // `ljoci --root DIR/state ARGS...`; its stdout to `out_fd` when given (it stays with a container
  // it creates), else captured.
  Ran ljoci(std::vector<std::string> args, int out_fd = -1) {
    args.insert(args.begin(), {ljoci_, "--root", (dir_ / "state").string()});
    int p[2] = {-1, -1};
    if (out_fd < 0 && ::pipe(p) != 0) return {};
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::dup2(out_fd >= 0 ? out_fd : p[1], 1);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      ::_exit(126);
    }
    Ran r;
    if (out_fd < 0) {
      ::close(p[1]);
      char buf[4096];
      for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;) r.out.append(buf, static_cast<std::size_t>(n));
      ::close(p[0]);
    }
    (void)::waitpid(pid, &r.status, 0);
    return r;
  }

  // The "status" and "pid" of `ljoci state ID`.
  std::pair<std::string, long> state(const std::string& id) {
    Ran r = ljoci({"state", id});
    EXPECT_TRUE(r.ok()) << r.out;
    auto field = [&](const std::string& key) {
      auto at = r.out.find("\"" + key + "\":");
      if (at == std::string::npos) return std::string();
      at = r.out.find_first_not_of(" \"", at + key.size() + 3);
      auto end = r.out.find_first_of("\",\n}", at);
      return r.out.substr(at, end - at);
    };
    const std::string pid = field("pid");
    return {field("status"), pid.empty() ? -1 : std::stol(pid)};
  }

  // waitpid with a limit: the container's process is our child once its creator has exited.
  static int wait_child(pid_t pid, std::chrono::milliseconds limit = 20s) {
    int ws = 0;
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
      pid_t got = ::waitpid(pid, &ws, WNOHANG);
      if (got == pid) return ws;
      if (got < 0) return -1;
    }
    return -1;
  }

  std::string ljoci_;
  bool reaper_ = false;
};

// create leaves the container's process held in its jail; state says created with that pid;
// nothing runs until start; then the command runs (with stdio only: no descriptor of ljoci's
// leaked), its exit reaches its reaper, state says stopped and delete leaves nothing mounted.
TEST_F(LjociFreebsdTest, CreateThenStartRunsTheCommand) {
  const fs::path b = bundle("b1", {"fds"});
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  UniqueFd r(p[0]), w(p[1]);
  const std::string pid_file = (dir_ / "c1.pid").string();
  Ran c = ljoci({"create", "--bundle", b.string(), "--pid-file", pid_file, "c1"}, w.get());
  ASSERT_TRUE(c.ok()) << "ljoci create: status " << c.status;
  w.reset();
  auto [st, pid] = state("c1");
  EXPECT_EQ(st, "created");
  std::ifstream pf(pid_file);
  long from_file = 0;
  pf >> from_file;
  EXPECT_EQ(pid, from_file);
  ASSERT_GT(pid, 0);
  auto info = proc_info(static_cast<pid_t>(pid));
  ASSERT_TRUE(info && *info);
  EXPECT_GT((*info)->jid, 0) << "the container's process is not in a jail";
  EXPECT_EQ((*info)->ppid, ::getpid()) << "not left to its creator's reaper";
  struct pollfd pl = {r.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&pl, 1, 500), 0) << "the command ran before start";
  Ran s = ljoci({"start", "c1"});
  ASSERT_TRUE(s.ok()) << "ljoci start: status " << s.status << " " << s.out;
  std::string out;
  char buf[256];
  for (ssize_t n; ::poll(&pl, 1, 20000) == 1 && (n = ::read(r.get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  EXPECT_EQ(out, "fds:\n");
  const int ws = wait_child(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "wait status " << ws;
  EXPECT_EQ(state("c1").first, "stopped");
  Ran d = ljoci({"delete", "c1"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
  EXPECT_FALSE(fs::exists(dir_ / "state" / "c1"));
}

// A created container that is killed never runs its command; delete then removes its jail and
// mounts. kill TERM ends the held process (runc's created container stops on TERM too).
TEST_F(LjociFreebsdTest, KillACreatedContainerThenDelete) {
  const fs::path b = bundle("b2", {"sleep", "60"});
  // Not a pipe we read to its end: the held process keeps its stdout.
  UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(devnull);
  Ran c = ljoci({"create", "--bundle", b.string(), "c2"}, devnull.get());
  ASSERT_TRUE(c.ok()) << "ljoci create: status " << c.status;
  auto [st, pid] = state("c2");
  EXPECT_EQ(st, "created");
  ASSERT_GT(pid, 0);
  Ran k = ljoci({"kill", "c2", "TERM"});
  EXPECT_TRUE(k.ok()) << "ljoci kill: status " << k.status;
  const int ws = wait_child(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFSIGNALED(ws)) << "wait status " << ws;
  EXPECT_EQ(state("c2").first, "stopped");
  EXPECT_FALSE(ljoci({"start", "c2"}).ok()) << "a stopped container started";
  Ran d = ljoci({"delete", "c2"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
  auto left = find_jail("c2", /*dying=*/false);
  ASSERT_TRUE(left);
  EXPECT_FALSE(left->has_value());
}

}  // namespace
}  // namespace lj::jail::freebsd
