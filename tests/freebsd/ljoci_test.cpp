// ljoci, the OCI runtime, on the real FreeBSD kernel: runc's create, state, start, kill, delete,
// ps, pause/resume and update, the exit file and the runtime hooks, run as a caller (conmon,
// containerd's shim) runs them: a subreaper that runs the commands and waits for the
// container's process, which `create` leaves to it. They need root, a
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
#include <sys/rctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  // `more`: further members of the config's top-level object (", \"hooks\": {...}").
  fs::path bundle(const std::string& name, const std::vector<std::string>& probe_args,
                  const std::string& more = "") {
    const fs::path b = dir_ / name;
    fs::create_directories(b);
    std::string args = "\"/probe\"";
    for (const auto& a : probe_args) args += ", \"" + a + "\"";
    std::ofstream(b / "config.json")
        << R"({"ociVersion": "1.0.2", "root": {"path": ")" << world_
        << R"(", "readonly": true}, "process": {"args": [)" << args
        << R"(], "cwd": "/", "user": {"uid": 0, "gid": 0}}, "freebsd": {})" << more << "}";
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

  // The container's exit file once it has a line (its watcher writes it a moment after the
  // reaper's wait returns); empty when none comes within `limit`.
  std::string exit_file(const std::string& id, std::chrono::milliseconds limit = 10s) {
    for (auto until = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
      std::ifstream in(dir_ / "state" / (id + ".exit"));
      std::string line;
      if (std::getline(in, line) && !line.empty()) return line;
    }
    return {};
  }

  // The live processes of the container's jail (named by its id), once there are `want` of them
  // (its command forks); what there is after `limit` otherwise.
  static std::vector<ProcInfo> jail_processes(const std::string& id, std::size_t want,
                                              std::chrono::milliseconds limit = 10s) {
    std::vector<ProcInfo> live;
    for (auto until = std::chrono::steady_clock::now() + limit;; std::this_thread::sleep_for(10ms)) {
      live.clear();
      auto jid = find_jail(id);
      if (jid && *jid) {
        auto procs = processes_in_jail(**jid);
        if (procs)
          for (const auto& p : *procs)
            if (!p.zombie) live.push_back(p);
      }
      if (live.size() >= want || std::chrono::steady_clock::now() >= until) return live;
    }
  }

  // A running container started from `bundle`, its stdout to /dev/null: its pid, or -1.
  long create_and_start(const fs::path& bundle, const std::string& id) {
    UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
    Ran c = ljoci({"create", "--bundle", bundle.string(), id}, devnull.get());
    EXPECT_TRUE(c.ok()) << "ljoci create: status " << c.status;
    if (!c.ok()) return -1;
    // Read before the start: a command that ends at once is stopped (pid 0) right after it.
    const long pid = state(id).second;
    Ran s = ljoci({"start", id});
    EXPECT_TRUE(s.ok()) << "ljoci start: status " << s.status << " " << s.out;
    return s.ok() ? pid : -1;
  }

  // `ljoci create` of `bundle` as `id`, its stdout (which the container and its hooks keep) to
  // the file `out`.
  Ran create_with_stdout(const fs::path& bundle, const std::string& id, const fs::path& out) {
    UniqueFd file(::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) {
      ADD_FAILURE() << out << ": " << std::strerror(errno);
      return {};
    }
    return ljoci({"create", "--bundle", bundle.string(), id}, file.get());
  }

  // `ljoci start ID`, then the wait status of its process `pid` as its reaper gets it.
  int start_and_wait(const std::string& id, pid_t pid) {
    Ran s = ljoci({"start", id});
    EXPECT_TRUE(s.ok()) << "ljoci start: status " << s.status;
    return wait_child(pid);
  }

  // Kills every process of a running container (kill --all KILL), reaps them as its caller's
  // reaper does (the command first: its children are ours once it is gone; zombies would keep
  // the jail dying) and deletes it.
  void kill_all_and_delete(const std::string& id, pid_t main, const std::vector<ProcInfo>& procs) {
    Ran k = ljoci({"kill", "--all", id, "KILL"});
    EXPECT_TRUE(k.ok()) << "ljoci kill --all: status " << k.status;
    EXPECT_NE(wait_child(main), -1);
    for (const auto& p : procs)
      if (p.pid != main) EXPECT_NE(wait_child(p.pid), -1) << "pid " << p.pid;
    Ran d = ljoci({"delete", id});
    EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
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
  EXPECT_FALSE(fs::exists(dir_ / "state" / "c1.json"));
  EXPECT_FALSE(fs::exists(dir_ / "state" / "c1.exit"));
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
  EXPECT_EQ(exit_file("c2"), "killed " + std::to_string(WTERMSIG(ws)));
  EXPECT_FALSE(ljoci({"start", "c2"}).ok()) << "a stopped container started";
  Ran d = ljoci({"delete", "c2"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
  auto left = find_jail("c2", /*dying=*/false);
  ASSERT_TRUE(left);
  EXPECT_FALSE(left->has_value());
}

// The exit file after `create` (FreeBSD has no lj-init): once the command, the reaper's child,
// has exited, <root>/<id>/exit says how ("exited 7"), as Linux's init writes it, while the status
// still reaches the reaper's wait(2) (the watcher is no parent of it) and state says stopped.
TEST_F(LjociFreebsdTest, TheExitFileHoldsTheStatusAfterCreate) {
  const long pid = create_and_start(bundle("b3", {"exit", "7"}), "c3");
  ASSERT_GT(pid, 0);
  const int ws = wait_child(static_cast<pid_t>(pid));
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 7) << "wait status " << ws;
  EXPECT_EQ(exit_file("c3"), "exited 7");
  EXPECT_EQ(state("c3").first, "stopped");
  Ran d = ljoci({"delete", "c3"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
}

// ps lists every live process of the container's jail: the command and the children it forked
// (in sessions of their own), nothing of the host's.
TEST_F(LjociFreebsdTest, PsListsEveryProcessOfTheJail) {
  const long pid = create_and_start(bundle("b4", {"sleepers", "2", "60"}), "c4");
  ASSERT_GT(pid, 0);
  const auto procs = jail_processes("c4", 3);
  ASSERT_EQ(procs.size(), 3u);
  Ran ps = ljoci({"ps", "--format", "json", "c4"});
  EXPECT_TRUE(ps.ok()) << "ljoci ps: status " << ps.status;
  std::vector<long> listed;
  for (std::size_t at = ps.out.find_first_of("0123456789"); at != std::string::npos;
       at = ps.out.find_first_of("0123456789", ps.out.find_first_not_of("0123456789", at)))
    listed.push_back(std::stol(ps.out.substr(at)));
  std::vector<long> want;
  for (const auto& p : procs) want.push_back(p.pid);
  std::sort(listed.begin(), listed.end());
  std::sort(want.begin(), want.end());
  EXPECT_EQ(listed, want) << ps.out;
  EXPECT_NE(std::find(listed.begin(), listed.end(), pid), listed.end()) << "the command is not listed";
  kill_all_and_delete("c4", static_cast<pid_t>(pid), procs);
}

// pause stops every process of the jail (SIGSTOP: FreeBSD has no freezer) and state says paused;
// resume lets them all go on and state says running again. A created container cannot be paused.
TEST_F(LjociFreebsdTest, PauseStopsEveryProcessAndResumeLetsThemGo) {
  const fs::path b = bundle("b5", {"sleepers", "2", "60"});
  UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  ASSERT_TRUE(ljoci({"create", "--bundle", b.string(), "c5"}, devnull.get()).ok());
  EXPECT_FALSE(ljoci({"pause", "c5"}).ok()) << "a created container was paused";
  ASSERT_TRUE(ljoci({"start", "c5"}).ok());
  const pid_t pid = static_cast<pid_t>(state("c5").second);
  ASSERT_GT(pid, 0);
  const auto procs = jail_processes("c5", 3);
  ASSERT_EQ(procs.size(), 3u);
  Ran p = ljoci({"pause", "c5"});
  EXPECT_TRUE(p.ok()) << "ljoci pause: status " << p.status;
  EXPECT_EQ(state("c5").first, "paused");
  for (const auto& q : jail_processes("c5", 3)) EXPECT_TRUE(q.stopped) << "pid " << q.pid << " runs";
  EXPECT_FALSE(ljoci({"pause", "c5"}).ok()) << "a paused container was paused again";
  Ran r = ljoci({"resume", "c5"});
  EXPECT_TRUE(r.ok()) << "ljoci resume: status " << r.status;
  EXPECT_EQ(state("c5").first, "running");
  for (const auto& q : jail_processes("c5", 3)) EXPECT_FALSE(q.stopped) << "pid " << q.pid << " stopped";
  kill_all_and_delete("c5", pid, procs);
}

// update --pids-limit: rctl rules of the jail replaced while it runs. With a limit of 2 the
// command's second fork fails (it exits 1 at once instead of sleeping); a limit set and then
// lifted (0) lets all four children run.
TEST_F(LjociFreebsdTest, UpdateSetsAndLiftsThePidsLimit) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (rctl)";
  UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  const fs::path b = bundle("b6", {"sleepers", "4", "1"});
  for (const std::string id : {"c6", "c7"}) {
    ASSERT_TRUE(ljoci({"create", "--bundle", b.string(), id}, devnull.get()).ok());
    Ran u = ljoci({"update", "--pids-limit", "2", id});
    EXPECT_TRUE(u.ok()) << "ljoci update: status " << u.status;
  }
  Ran lift = ljoci({"update", "--pids-limit", "0", "c7"});
  EXPECT_TRUE(lift.ok()) << "ljoci update: status " << lift.status;
  for (const std::string id : {"c6", "c7"}) {
    const pid_t pid = static_cast<pid_t>(state(id).second);
    ASSERT_TRUE(ljoci({"start", id}).ok());
    const int ws = wait_child(pid);
    if (id == "c6")
      EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 1) << "limited: wait status " << ws;
    else
      EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "lifted: wait status " << ws;
    // c6's first child sleeps on (1 s): it is ours once the command is gone, and reaped when
    // it ends (a zombie would keep the jail dying and fail the delete).
    for (auto until = std::chrono::steady_clock::now() + 10s;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(10ms)) {
      while (::waitpid(-1, nullptr, WNOHANG) > 0) {
      }
      if (jail_processes(id, 0, 0ms).empty()) break;
    }
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    Ran d = ljoci({"delete", id});
    EXPECT_TRUE(d.ok()) << "ljoci delete " << id << ": status " << d.status;
  }
}

// The rules rctl holds for jail `name` (rctl_get_rules(2), as `rctl jail:NAME` prints them),
// comma-separated.
std::string rctl_rules_of(const std::string& name) {
  const std::string filter = "jail:" + name;
  std::string out(16384, '\0');
  if (::rctl_get_rules(filter.c_str(), filter.size() + 1, out.data(), out.size()) != 0)
    return errno == ESRCH ? "" : "? " + std::string(std::strerror(errno));
  out.resize(std::strlen(out.c_str()));
  return out;
}

// update --memory and --cpu-quota/--cpu-period: the jail's memory rules (sigkill and its log
// twin, which the kernel does not replace by itself as it does deny rules) and its pcpu rule are
// replaced, not added beside the old ones; 0 lifts a limit (its rules gone).
TEST_F(LjociFreebsdTest, UpdateReplacesTheMemoryAndCpuRules) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (rctl)";
  const long pid = create_and_start(bundle("b9", {"sleep", "60"}), "c9");
  ASSERT_GT(pid, 0);
  auto update = [&](std::vector<std::string> args) {
    args.insert(args.begin(), "update");
    args.push_back("c9");
    Ran u = ljoci(args);
    EXPECT_TRUE(u.ok()) << "ljoci update: status " << u.status;
  };
  update({"--memory", "67108864", "--cpu-quota", "50000", "--cpu-period", "100000"});
  std::string rules = rctl_rules_of("c9");
  EXPECT_NE(rules.find("jail:c9:memoryuse:sigkill=67108864"), std::string::npos) << rules;
  EXPECT_NE(rules.find("jail:c9:memoryuse:log=67108864"), std::string::npos) << rules;
  EXPECT_NE(rules.find("jail:c9:pcpu:deny=50"), std::string::npos) << rules;
  update({"--memory", "134217728"});
  rules = rctl_rules_of("c9");
  EXPECT_NE(rules.find("jail:c9:memoryuse:sigkill=134217728"), std::string::npos) << rules;
  EXPECT_NE(rules.find("jail:c9:memoryuse:log=134217728"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("=67108864"), std::string::npos) << "the old amount stayed: " << rules;
  EXPECT_NE(rules.find("jail:c9:pcpu:deny=50"), std::string::npos) << "cpu not given, yet changed: " << rules;
  update({"--cpu-quota", "0"});
  rules = rctl_rules_of("c9");
  EXPECT_EQ(rules.find("pcpu"), std::string::npos) << rules;
  kill_all_and_delete("c9", static_cast<pid_t>(pid), {});
  EXPECT_EQ(rctl_rules_of("c9"), "") << "rules outlived the container";
}

// The hooks of the runtime namespace, which ljoci runs on the host itself: prestart and
// createRuntime at create, poststart after start, poststop at delete, each once and at its
// point. Each is the world's probe writing a file of the test's and printing its kind (on ljoci's
// stdout: start's and delete's are captured).
TEST_F(LjociFreebsdTest, TheRuntimeHooksRunAtTheirPoints) {
  std::string hooks = R"(, "hooks": {)";
  const char* kinds[] = {"prestart", "createRuntime", "poststart", "poststop"};
  for (const char* k : kinds) {
    hooks += std::string(k == kinds[0] ? "" : ", ") + "\"" + k + R"(": [{"path": ")" + world_ +
             R"(/probe", "args": ["probe", "write", ")" + (dir_ / k).string() + R"(", ")" + k +
             R"("]}])";
  }
  hooks += "}";
  const fs::path b = bundle("b8", {"exit", "0"}, hooks);
  UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  Ran c = ljoci({"create", "--bundle", b.string(), "c8"}, devnull.get());
  ASSERT_TRUE(c.ok()) << "ljoci create: status " << c.status;
  EXPECT_TRUE(fs::exists(dir_ / "prestart"));
  EXPECT_TRUE(fs::exists(dir_ / "createRuntime"));
  EXPECT_FALSE(fs::exists(dir_ / "poststart")) << "poststart ran at create";
  const pid_t pid = static_cast<pid_t>(state("c8").second);
  ASSERT_GT(pid, 0);
  Ran s = ljoci({"start", "c8"});
  EXPECT_TRUE(s.ok()) << "ljoci start: status " << s.status;
  EXPECT_EQ(s.out, "poststart\n");
  EXPECT_FALSE(fs::exists(dir_ / "poststop")) << "poststop ran before delete";
  const int ws = wait_child(pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "wait status " << ws;
  Ran d = ljoci({"delete", "c8"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
  EXPECT_EQ(d.out, "poststop\n");
}

// createContainer and startContainer run inside the jail, from its first process (the backend's
// child, child.hpp steps 5b and 7b): createContainer at create, before the command; startContainer
// at start, just before the command's exec, with its ids and working directory. Both write to the
// container's stdout (here a file: `create`'s own), /probe resolving in the jail's root.
TEST_F(LjociFreebsdTest, TheContainerHooksRunInTheJail) {
  const std::string hooks =
      R"(, "hostname": "hooked", "hooks": {)"
      R"("createContainer": [{"path": "/probe", "args": ["probe", "jailed"], "timeout": 10}],)"
      R"("startContainer": [{"path": "/probe", "args": ["probe", "id"]}]})";
  const fs::path b = bundle("b9", {"exit", "0"}, hooks);
  const fs::path out = dir_ / "b9.out";
  Ran c = create_with_stdout(b, "c9", out);
  ASSERT_TRUE(c.ok()) << "ljoci create: status " << c.status;
  auto lines = [&] {
    std::vector<std::string> l;
    std::ifstream in(out);
    for (std::string line; std::getline(in, line);) l.push_back(line);
    return l;
  };
  auto got = lines();
  ASSERT_EQ(got.size(), 3u) << "createContainer's output: jailed, hostname, processes";
  EXPECT_EQ(got[0], "1");
  EXPECT_EQ(got[1], "hooked");
  const pid_t pid = static_cast<pid_t>(state("c9").second);
  ASSERT_GT(pid, 0);
  const int ws = start_and_wait("c9", pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "wait status " << ws;
  got = lines();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[3], "0 0 /");  // startContainer: the command's uid, gid and working directory
  Ran d = ljoci({"delete", "c9"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
}

// Both container hooks get the state on their stdin, as runc gives it (runtime-spec config.md,
// POSIX-platform hooks): the id, their point's status (creating, created) and the pid of the
// jail's first process, which is the container's (a jail has the host's pids). Each hook is
// `/probe cat /dev/stdin` (the jail's devfs shows stdin), its output on the container's stdout.
TEST_F(LjociFreebsdTest, TheContainerHooksGetTheStateOnStdin) {
  const std::string hooks =
      R"(, "hooks": {)"
      R"("createContainer": [{"path": "/probe", "args": ["probe", "cat", "/dev/stdin"]}],)"
      R"("startContainer": [{"path": "/probe", "args": ["probe", "cat", "/dev/stdin"]}]})";
  const fs::path b = bundle("b11", {"exit", "0"}, hooks);
  const fs::path out = dir_ / "b11.out";
  Ran c = create_with_stdout(b, "c11", out);
  ASSERT_TRUE(c.ok()) << "ljoci create: status " << c.status;
  auto content = [&] {
    std::ifstream in(out);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string created = content();
  const pid_t pid = static_cast<pid_t>(state("c11").second);
  ASSERT_GT(pid, 0);
  const std::string pid_field = "\"pid\": " + std::to_string(pid) + ",";
  EXPECT_NE(created.find(R"("id": "c11")"), std::string::npos)
      << "createContainer's stdin: " << created;
  EXPECT_NE(created.find(R"("status": "creating")"), std::string::npos) << created;
  EXPECT_NE(created.find(pid_field), std::string::npos) << created;
  const int ws = start_and_wait("c11", pid);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << "wait status " << ws;
  const std::string started = content().substr(created.size());
  EXPECT_NE(started.find(R"("id": "c11")"), std::string::npos)
      << "startContainer's stdin: " << started;
  EXPECT_NE(started.find(R"("status": "created")"), std::string::npos) << started;
  EXPECT_NE(started.find(pid_field), std::string::npos) << started;
  Ran d = ljoci({"delete", "c11"});
  EXPECT_TRUE(d.ok()) << "ljoci delete: status " << d.status;
}

// A failing createContainer hook fails the create, named with its status, and leaves no container.
TEST_F(LjociFreebsdTest, AFailingContainerHookFailsTheCreate) {
  const fs::path b = bundle(
      "b10", {"exit", "0"},
      R"(, "hooks": {"createContainer": [{"path": "/probe", "args": ["probe", "exit", "3"]}]})");
  UniqueFd devnull(::open("/dev/null", O_WRONLY | O_CLOEXEC));
  Ran c = ljoci({"create", "--bundle", b.string(), "c10"}, devnull.get());
  EXPECT_FALSE(c.ok());
  Ran l = ljoci({"list", "-q"});
  EXPECT_EQ(l.out, "");
}

}  // namespace
}  // namespace lj::jail::freebsd
