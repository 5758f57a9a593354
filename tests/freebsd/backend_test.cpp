// Privileged integration tests of the FreeBSD backend on the real kernel. They need root and a
// world holding tests/freebsd/probe.c built static as /probe, named by $LJ_TEST_WORLD, and skip
// with the reason otherwise. They run in the FreeBSD 13 test guest (scripts/test-freebsd-guest,
// which makes that world) and on any FreeBSD host.
#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <arpa/inet.h>
#include <net/ethernet.h>  // before if_bridgevar.h
#include <net/if.h>
#include <net/if_bridgevar.h>
#include <netinet/in.h>
#include <netinet/in_var.h>
#include <sys/ioctl.h>
#include <sys/jail.h>
#include <sys/procctl.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <thread>

#include "common/fd.hpp"
#include "jail/backend.hpp"
#include "jail/freebsd/devfs_rules.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/freebsd/root_mounts.hpp"
#include "jail/terminal.hpp"
#include "world_fixture.hpp"

namespace lj::jail::freebsd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FreebsdBackendTest : public WorldTest {
 protected:
  FreebsdBackendTest() : WorldTest("lj-freebsd-test") {}

  void SetUp() override {
    WorldTest::SetUp();
    if (!ready()) return;
    BackendOptions options;
    options.state_dir = dir_ / ".ljd";  // jail directories go under our temp dir
    auto b = make_backend(options);
    ASSERT_TRUE(b) << b.error().what();
    backend_ = std::move(*b);
  }

  // A jail running `/probe VERB ARGS...`.
  JailSpec spec(std::vector<std::string> probe_args) {
    JailSpec s;
    s.name = "ljt-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);
    s.root.layers = {world_};
    s.argv = {"/probe"};
    s.argv.insert(s.argv.end(), probe_args.begin(), probe_args.end());
    return s;
  }

  // Runs `s` to the end with stdout captured.
  std::pair<ExitStatus, std::string> run(JailSpec s) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    UniqueFd r(fds[0]), w(fds[1]);
    s.stdio.out = w.get();
    auto j = backend_->spawn(s);
    EXPECT_TRUE(j) << j.error().what();
    if (!j) return {};
    w.reset();
    // As ljd drives a jail: one loop over the output pipe and wait_fd(), with poll() at least
    // every 50 ms (it enforces the timeout), then wait() (the teardown removes the jail and any
    // process left in it), then the rest of the output. The output is drained while the jail
    // runs, so that a full pipe cannot hold it. (No reader thread: std::thread crashed in this
    // static binary of the 2019 libthr.)
    std::string out;
    bool eof = false;
    auto drain = [&](int timeout_ms) {
      struct pollfd p = {r.get(), POLLIN, 0};
      char buf[4096];
      while (!eof && ::poll(&p, 1, timeout_ms) == 1) {
        ssize_t n = ::read(r.get(), buf, sizeof(buf));
        if (n <= 0) eof = true;
        else out.append(buf, static_cast<std::size_t>(n));
      }
    };
    for (std::optional<ExitStatus> done; !done;) {
      drain(50);
      if (eof) {
        struct pollfd p = {(*j)->wait_fd(), POLLIN, 0};
        ::poll(&p, 1, 50);
      }
      auto polled = (*j)->poll();
      EXPECT_TRUE(polled) << polled.error().what();
      if (!polled) return {};
      done = *polled;
    }
    auto st = (*j)->wait();
    drain(-1);
    EXPECT_TRUE(st) << st.error().what();
    return {st ? *st : ExitStatus{}, out};
  }

  // Everything a descriptor gives until EOF (or an error, or `limit` without data).
  static std::string read_to_end(int fd, int limit_ms = 20000) {
    std::string out;
    char buf[4096];
    struct pollfd p = {fd, POLLIN, 0};
    while (::poll(&p, 1, limit_ms) == 1) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }

  // An exec of `/probe ARGS...` into `jail` with stdout captured: its output to EOF, then its end.
  std::pair<ExitStatus, std::string> run_exec(const Jail& jail, std::vector<std::string> probe_args,
                                              ExecSpec es = {}) {
    int fds[2];
    EXPECT_EQ(::pipe(fds), 0);
    UniqueFd r(fds[0]), w(fds[1]);
    es.argv = {"/probe"};
    es.argv.insert(es.argv.end(), probe_args.begin(), probe_args.end());
    es.stdio.out = w.get();
    auto e = backend_->exec(jail.handle(), es);
    EXPECT_TRUE(e) << e.error().what();
    if (!e) return {};
    w.reset();
    // EOF comes only once the process is gone: neither the monitor nor anything else of ours
    // holds the pipe.
    std::string out = read_to_end(r.get());
    auto st = (*e)->wait(10s);
    EXPECT_TRUE(st) << st.error().what();
    return {st ? *st : ExitStatus{}, out};
  }

  static std::string file_text(const fs::path& p) {
    std::ifstream in(p);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // Ends a jail started for execs and tears it down.
  static void end(Jail& j) {
    EXPECT_TRUE(j.signal(SIGKILL, true));
    auto st = j.wait();
    EXPECT_TRUE(st) << st.error().what();
  }

  // ljd or ljoci's create dying: a forked spawner spawns `s`, hands the handle over and
  // _exits without destroying the Jail (the kernel closes its process descriptor). The handle
  // (pid 0 when the spawn failed) and the spawner's pid, once it is gone.
  std::pair<JailHandle, pid_t> spawn_then_die(const JailSpec& s) {
    JailHandle h;
    h.name = s.name;
    int rp[2];
    if (::pipe(rp) != 0) return {h, -1};
    UniqueFd rep_r(rp[0]), rep_w(rp[1]);
    const pid_t spawner = ::fork();
    if (spawner < 0) return {h, -1};
    if (spawner == 0) {
      auto j = backend_->spawn(s);
      long long msg[3] = {0, 0, 0};
      if (j) {
        msg[0] = (*j)->handle().pid;
        msg[1] = (*j)->handle().jid;
        msg[2] = static_cast<long long>((*j)->handle().start_time);
      }
      (void)!::write(rep_w.get(), msg, sizeof msg);
      ::_exit(j ? 0 : 1);
    }
    rep_w.reset();
    long long msg[3] = {0, 0, 0};
    const bool got = ::read(rep_r.get(), msg, sizeof msg) == static_cast<ssize_t>(sizeof msg);
    int ws = 0;
    (void)::waitpid(spawner, &ws, 0);
    if (got && WIFEXITED(ws) && WEXITSTATUS(ws) == 0) {
      h.pid = static_cast<pid_t>(msg[0]);
      h.jid = static_cast<int>(msg[1]);
      h.start_time = static_cast<std::uint64_t>(msg[2]);
    }
    return {h, spawner};
  }

  std::unique_ptr<Backend> backend_;
  int counter_ = 0;
};

TEST_F(FreebsdBackendTest, ExitCodeAndSignalPropagate) {
  EXPECT_EQ(run(spec({"exit", "3"})).first.code, 3);
  auto killed = run(spec({"kill-self", "9"})).first;
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.shell_status(), 128 + SIGKILL);
}

TEST_F(FreebsdBackendTest, JailedWithItsHostnameAndNoHostProcess) {
  auto s = spec({"jailed"});
  s.hostname = "box";
  auto [st, out] = run(s);
  EXPECT_EQ(st.code, 0) << out;
  // jailed = 1, the hostname, and only the jail's own process (the probe; not init, not us).
  EXPECT_EQ(out, "1\nbox\n1\n");
}

TEST_F(FreebsdBackendTest, NoMountInsideAndStatfsConfined) {
  auto [st, out] = run(spec({"mounts", "/tmp"}));
  EXPECT_EQ(st.code, 0) << out;
  EXPECT_EQ(out.find("mounted"), std::string::npos) << out;
  // enforce_statfs=2: only the mounts at and under the root are visible (root, devfs).
  EXPECT_LE(std::stoi(out), 3) << out;
}

TEST_F(FreebsdBackendTest, WritableLayerIsPrivateAndDiscarded) {
  EXPECT_EQ(run(spec({"write", "/ljt", "x"})).second, "x\n");
  EXPECT_EQ(run(spec({"exists", "/ljt"})).first.code, 1);
  EXPECT_FALSE(fs::exists(fs::path(world_) / "ljt"));
}

TEST_F(FreebsdBackendTest, ReadOnlyRoot) {
  auto s = spec({"write", "/ljt", "x"});
  s.root.writable = WritableLayer::none();
  auto [st, out] = run(s);
  EXPECT_NE(st.code, 0) << out;
  EXPECT_FALSE(fs::exists(fs::path(world_) / "ljt"));
}

TEST_F(FreebsdBackendTest, TimeoutKillsTheWholeJail) {
  auto s = spec({"sleepers", "2", "100"});
  s.limits.timeout = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto [st, out] = run(s);
  EXPECT_TRUE(st.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  auto alive = find_jail(s.name);
  ASSERT_TRUE(alive);
  EXPECT_FALSE(alive->has_value()) << "jail " << s.name << " survived its timeout";
}

TEST_F(FreebsdBackendTest, NameIsReusedOnceTheJailIsGone) {
  auto s = spec({"sleepers", "1", "100"});
  s.limits.timeout = 300ms;
  EXPECT_TRUE(run(s).first.timed_out);
  // The same name at once: the backend waited for the dying jail (its sleeper) to be removed.
  auto again = spec({"exit", "5"});
  again.name = s.name;
  EXPECT_EQ(run(again).first.code, 5);
}

TEST_F(FreebsdBackendTest, ProcessLimitHoldsAForkBomb) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (docs/freebsd.md)";
  auto s = spec({"forkbomb"});
  s.limits.pids = 20;
  s.limits.timeout = 3s;
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  // Judged by the highest of the readings until the bomb is well under way (at least 10) or 2.5 s
  // have passed, not by one after a fixed second: under QEMU without KVM on a loaded host, one
  // second saw 5 processes. None may ever exceed the limit.
  std::size_t most = 0;
  for (auto until = std::chrono::steady_clock::now() + 2500ms;
       most < 10 && std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(20ms)) {
    auto procs = processes_in_jail((*j)->handle().jid);
    ASSERT_TRUE(procs);
    EXPECT_LE(procs->size(), 20u);
    most = std::max(most, procs->size());
  }
  EXPECT_GE(most, 10u) << "the fork bomb did not run";
  auto st = (*j)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_TRUE(st->timed_out);
}

TEST_F(FreebsdBackendTest, MemoryHogIsKilledAndReportedAsOom) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (docs/freebsd.md)";
  auto s = spec({"hog", std::to_string(256ull << 20)});
  s.limits.memory_bytes = 64ull << 20;
  s.limits.timeout = 60s;
  auto [st, out] = run(s);
  EXPECT_EQ(st.signal, SIGKILL);
  EXPECT_TRUE(st.oom);
  EXPECT_EQ(out.find("survived"), std::string::npos);
}

TEST_F(FreebsdBackendTest, ReleaseIsIdempotent) {
  auto s = spec({"true"});
  EXPECT_EQ(run(s).first.code, 0);
  JailHandle h;
  h.name = s.name;
  EXPECT_TRUE(backend_->release(h));
  EXPECT_TRUE(backend_->release(h));
}

// Issue 13: an exec joins the running jail (jail_attach by jid): jailed, the jail's hostname, only
// the jail's processes visible (its main one and itself, none of the host's), in the jail's jid
// as the host sees it; its status is in the status file as the monitor wrote it.
TEST_F(FreebsdBackendTest, ExecJoinsTheRunningJail) {
  auto s = spec({"sleep", "60"});
  s.hostname = "box";
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  ExecSpec es;
  es.status_file = (dir_ / "exec.status").string();
  auto [st, out] = run_exec(**j, {"jailed"}, es);
  EXPECT_EQ(st.code, 0) << out;
  EXPECT_EQ(out, "1\nbox\n2\n");
  EXPECT_EQ(file_text(es.status_file), "exited 0\n");

  ExecSpec sleeper;
  sleeper.argv = {"/probe", "sleep", "60"};
  auto e = backend_->exec((*j)->handle(), sleeper);
  ASSERT_TRUE(e) << e.error().what();
  auto info = proc_info((*e)->handle().process);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((**info).jid, (*j)->handle().jid);
  auto in_jail = processes_in_jail((*j)->handle().jid);
  ASSERT_TRUE(in_jail);
  EXPECT_EQ(in_jail->size(), 2u);
  // The monitor stays on the host.
  auto monitor = proc_info((*e)->handle().pid);
  ASSERT_TRUE(monitor && *monitor);
  EXPECT_EQ((**monitor).jid, 0);
  // A signal goes through the monitor to the process, and its end is exact.
  EXPECT_FALSE(*(*e)->poll());
  ASSERT_TRUE((*e)->signal(SIGTERM));
  auto ended = (*e)->wait(10s);
  ASSERT_TRUE(ended) << ended.error().what();
  EXPECT_EQ(ended->signal, SIGTERM);
  EXPECT_FALSE((*e)->signal(SIGTERM)) << "a signal to an ended exec is a conflict";
  end(**j);
}

TEST_F(FreebsdBackendTest, ExecExitCodeAndSignalAreExact) {
  auto j = backend_->spawn(spec({"sleep", "60"}));
  ASSERT_TRUE(j) << j.error().what();
  EXPECT_EQ(run_exec(**j, {"exit", "7"}).first.code, 7);
  auto killed = run_exec(**j, {"kill-self", "9"}).first;
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.code, -1);
  // SIGKILL from the caller goes to the process itself (the monitor cannot catch it to pass it on).
  ExecSpec es;
  es.argv = {"/probe", "sleep", "60"};
  auto e = backend_->exec((*j)->handle(), es);
  ASSERT_TRUE(e) << e.error().what();
  ASSERT_TRUE((*e)->signal(SIGKILL));
  auto st = (*e)->wait(10s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGKILL);
  end(**j);
}

// The jail's user, from the jail's /etc/passwd (the test world has "probe", uid 1001).
TEST_F(FreebsdBackendTest, ExecRunsAsTheJailsUserInItsWorkdir) {
  auto j = backend_->spawn(spec({"sleep", "60"}));
  ASSERT_TRUE(j) << j.error().what();
  EXPECT_EQ(run_exec(**j, {"id"}).second, "0 0 /\n");
  ExecSpec es;
  es.user = "probe";
  es.workdir = "/tmp";
  EXPECT_EQ(run_exec(**j, {"id"}, es).second, "1001 1001 /tmp\n");
  end(**j);
}

// An exec that cannot start is an error, of the kind the API maps: no such command, no such user,
// a jail that has ended.
TEST_F(FreebsdBackendTest, ExecThatCannotStartIsAnError) {
  auto j = backend_->spawn(spec({"sleep", "60"}));
  ASSERT_TRUE(j) << j.error().what();
  ExecSpec es;
  es.argv = {"/no-such-command"};
  auto e = backend_->exec((*j)->handle(), es);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().errc(), Errc::exec_failed) << e.error().what();
  es.argv = {"/probe", "true"};
  es.user = "nobody-here";
  e = backend_->exec((*j)->handle(), es);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().errc(), Errc::invalid_argument) << e.error().what();
  es.user.clear();
  es.workdir = "/no-such-dir";
  e = backend_->exec((*j)->handle(), es);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("chdir"), std::string::npos) << e.error().what();
  // Nothing of the failed ones is left in the jail: only its main process (a failed one may
  // take a moment to become a zombie and be reaped).
  std::size_t live = 0;
  for (int i = 0; i < 200; ++i) {
    auto in_jail = processes_in_jail((*j)->handle().jid);
    ASSERT_TRUE(in_jail);
    live = static_cast<std::size_t>(std::count_if(in_jail->begin(), in_jail->end(),
                                                  [](const ProcInfo& p) { return !p.zombie; }));
    if (live == 1) break;
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_EQ(live, 1u);
  JailHandle h = (*j)->handle();
  end(**j);
  es.workdir = "/";
  e = backend_->exec(h, es);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().errc(), Errc::not_found) << e.error().what();
}

// The monitor outlives its caller's handle (PD_DAEMON): a caller that let go (a restarted ljd)
// adopts it and learns the exit code from the status file.
TEST_F(FreebsdBackendTest, ExecIsAdoptedAfterItsCallerLetGo) {
  auto j = backend_->spawn(spec({"sleep", "60"}));
  ASSERT_TRUE(j) << j.error().what();
  ExecSpec es;
  es.argv = {"/probe", "sleep", "1", "9"};
  es.status_file = (dir_ / "adopted.status").string();
  auto e = backend_->exec((*j)->handle(), es);
  ASSERT_TRUE(e) << e.error().what();
  ExecHandle h = (*e)->handle();
  e->reset();
  auto a = backend_->adopt_exec(h);
  ASSERT_TRUE(a) << a.error().what();
  auto st = (*a)->wait(20s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 9);
  EXPECT_FALSE(st->lost);
  auto again = backend_->adopt_exec(h);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errc(), Errc::not_found);
  end(**j);
}

// A terminal from the jail's devfs: the process's stdin is a pts, the master comes back on the
// console socket.
TEST_F(FreebsdBackendTest, ExecWithATerminal) {
  auto j = backend_->spawn(spec({"sleep", "60"}));
  ASSERT_TRUE(j) << j.error().what();
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
  UniqueFd ours(sv[0]), theirs(sv[1]);
  ExecSpec es;
  es.argv = {"/probe", "tty"};
  es.tty = Terminal{theirs.get(), 24, 80};
  auto e = backend_->exec((*j)->handle(), es);
  ASSERT_TRUE(e) << e.error().what();
  auto master = receive_terminal(ours.get());
  ASSERT_TRUE(master) << master.error().what();
  std::string out = read_to_end(master->get(), 10000);
  EXPECT_EQ(out.rfind("1 /dev/pts/", 0), 0u) << out;
  auto st = (*e)->wait(10s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 0);
  // The pts was made by a process of the jail and holds its credential, so the jail: a master
  // still open keeps the ended jail dying (seen here: "still dying after 10000 ms"). Its
  // holder closes it first, as ljd does when the exec ends.
  master->reset();
  end(**j);
}

// Issue 16: a granted device is in the jail's /dev, an ungranted one is not; the jail's own ruleset
// (host-open ruleset 4 included, the device unhidden) is numbered from the reserved range while
// the jail runs and gone, claim and all, after its teardown.
TEST_F(FreebsdBackendTest, GrantedDeviceIsVisibleOthersAreNot) {
  auto base = devfs_ruleset_exists(4);
  ASSERT_TRUE(base) << base.error().what();
  if (!*base) GTEST_SKIP() << "devfs ruleset 4 (devfsrules_jail) is not loaded (docs/freebsd.md)";
  const int first = BackendOptions{}.devfs_rulesets_first;
  EXPECT_EQ(run(spec({"exists", "/dev/mem"})).first.code, 1) << "ruleset 4 shows /dev/mem";
  auto s = spec({"sleep", "60"});
  s.grants.devices = {"/dev/mem"};
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  auto mine = devfs_ruleset_exists(first);
  ASSERT_TRUE(mine);
  EXPECT_TRUE(*mine) << "no devfs ruleset " << first << " while the jail runs";
  EXPECT_EQ(run_exec(**j, {"exists", "/dev/mem"}).first.code, 0);
  EXPECT_EQ(run_exec(**j, {"exists", "/dev/kmem"}).first.code, 1);
  EXPECT_EQ(run_exec(**j, {"exists", "/dev/null"}).first.code, 0);
  end(**j);
  mine = devfs_ruleset_exists(first);
  ASSERT_TRUE(mine);
  EXPECT_FALSE(*mine) << "devfs ruleset " << first << " outlived its jail";
  EXPECT_TRUE(fs::is_empty(dir_ / ".ljd" / "devfs-rulesets"));
}

// Out of ruleset numbers is an error, not a jail on a shared ruleset; a grant that is a pattern is
// refused before anything is made.
TEST_F(FreebsdBackendTest, DeviceGrantsOutOfRulesetsAreAnError) {
  auto base = devfs_ruleset_exists(4);
  ASSERT_TRUE(base) << base.error().what();
  if (!*base) GTEST_SKIP() << "devfs ruleset 4 (devfsrules_jail) is not loaded (docs/freebsd.md)";
  BackendOptions options;
  options.state_dir = dir_ / ".ljd";
  options.devfs_rulesets_first = options.devfs_rulesets_last = 60500;
  auto b = make_backend(options);
  ASSERT_TRUE(b) << b.error().what();
  auto s = spec({"sleep", "60"});
  s.grants.devices = {"/dev/mem"};
  auto j = (*b)->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  auto second = spec({"true"});
  second.grants.devices = {"/dev/mem"};
  auto k = (*b)->spawn(second);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().errc(), Errc::limit) << k.error().what();
  auto pattern = spec({"true"});
  pattern.grants.devices = {"/dev/*"};
  k = (*b)->spawn(pattern);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().errc(), Errc::invalid_argument) << k.error().what();
  end(**j);
}

// Issue 14, the backend's part: a jail on a network is a VNET jail of its own whose links the
// caller moves in (Network::on_vnet, as lib/net's Host::attach does with SIOCSIFVNET) after the
// jail exists and before its command runs: the command sees the link at its first instruction.
// When the jail is gone, the link's end is back in the host's VNET (the kernel returns moved
// interfaces to their home), and destroying the pair leaves no interface.
TEST_F(FreebsdBackendTest, VnetJailGetsItsLinkBeforeItsCommand) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(s);
  std::string a, b;
  auto spec_ = spec({"ifaces"});
  spec_.network.mode = NetworkMode::netns;
  spec_.network.on_vnet = [&](int jid) -> Status {
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strcpy(ifr.ifr_name, "epair");
    if (::ioctl(s.get(), SIOCIFCREATE2, &ifr) != 0) return fail_errno("test", "create epair");
    a = ifr.ifr_name;
    b = a.substr(0, a.size() - 1) + "b";
    std::memset(&ifr, 0, sizeof ifr);
    std::strncpy(ifr.ifr_name, b.c_str(), IFNAMSIZ - 1);
    ifr.ifr_jid = jid;
    if (::ioctl(s.get(), SIOCSIFVNET, &ifr) != 0) return fail_errno("test", "move " + b);
    return {};
  };
  auto [st, out] = run(spec_);
  EXPECT_EQ(st.code, 0) << out;
  ASSERT_FALSE(b.empty());
  EXPECT_NE(out.find("lo0\n"), std::string::npos) << out;
  EXPECT_NE(out.find(b + "\n"), std::string::npos) << out;
  EXPECT_NE(::if_nametoindex(b.c_str()), 0u) << b << " did not come back to the host";
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, a.c_str(), IFNAMSIZ - 1);
  EXPECT_EQ(::ioctl(s.get(), SIOCIFDESTROY, &ifr), 0);
  EXPECT_EQ(::if_nametoindex(a.c_str()), 0u);
  EXPECT_EQ(::if_nametoindex(b.c_str()), 0u);
}

// A set-up that fails fails the spawn, and nothing of the jail is left (its command never ran).
TEST_F(FreebsdBackendTest, VnetSetUpFailureFailsTheSpawn) {
  auto s = spec({"write", "/ran", "x"});
  s.network.mode = NetworkMode::netns;
  s.network.on_vnet = [](int) -> Status { return fail(Errc::not_found, "test", "no such network"); };
  auto j = backend_->spawn(s);
  ASSERT_FALSE(j);
  EXPECT_NE(j.error().what().find("no such network"), std::string::npos) << j.error().what();
  auto alive = find_jail(s.name, /*dying=*/true);
  ASSERT_TRUE(alive);
  EXPECT_FALSE(alive->has_value());
  // A network namespace descriptor (Linux's form of mode netns) is refused by name on FreeBSD.
  s.network.on_vnet = nullptr;
  s.network.netns_fd = 0;
  j = backend_->spawn(s);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().errc(), Errc::unsupported);
}

// Creates a cloned interface ("epair", "bridge"): the kernel's name for it (epair: the a end).
std::string clone_if(int s, const char* kind) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, kind, IFNAMSIZ - 1);
  return ::ioctl(s, SIOCIFCREATE2, &ifr) == 0 ? std::string(ifr.ifr_name) : std::string();
}

bool destroy_if(int s, const std::string& name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  return ::ioctl(s, SIOCIFDESTROY, &ifr) == 0;
}

bool set_up(int s, const std::string& name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return false;
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  return ::ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
}

// What lib/net's FreeBSD host does for a jail on a network, by hand (no pfctl in the guest): an
// epair, its a end in `bridge` and up, its b end moved into the jail and given `addr`/24 from
// inside it (a child that jail_attach(2)es, as lib/net's configure_inside does).
Status link_jail(int s, const std::string& bridge, int jid, const char* addr, std::string* a_end) {
  std::string a = clone_if(s, "epair");
  if (a.empty()) return fail_errno("test", "create epair");
  *a_end = a;
  const std::string b = a.substr(0, a.size() - 1) + "b";
  struct ifbreq req;
  std::memset(&req, 0, sizeof req);
  std::strncpy(req.ifbr_ifsname, a.c_str(), IFNAMSIZ - 1);
  struct ifdrv ifd;
  std::memset(&ifd, 0, sizeof ifd);
  std::strncpy(ifd.ifd_name, bridge.c_str(), IFNAMSIZ - 1);
  ifd.ifd_cmd = BRDGADD;
  ifd.ifd_len = sizeof req;
  ifd.ifd_data = &req;
  if (::ioctl(s, SIOCSDRVSPEC, &ifd) != 0) return fail_errno("test", "add " + a + " to " + bridge);
  if (!set_up(s, a)) return fail_errno("test", "up " + a);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, b.c_str(), IFNAMSIZ - 1);
  ifr.ifr_jid = jid;
  if (::ioctl(s, SIOCSIFVNET, &ifr) != 0) return fail_errno("test", "move " + b);
  struct in_aliasreq ar;
  std::memset(&ar, 0, sizeof ar);
  std::strncpy(ar.ifra_name, b.c_str(), IFNAMSIZ - 1);
  auto* sin = reinterpret_cast<struct sockaddr_in*>(&ar.ifra_addr);
  sin->sin_family = AF_INET;
  sin->sin_len = sizeof *sin;
  ::inet_pton(AF_INET, addr, &sin->sin_addr);
  auto* mask = reinterpret_cast<struct sockaddr_in*>(&ar.ifra_mask);
  mask->sin_family = AF_INET;
  mask->sin_len = sizeof *mask;
  mask->sin_addr.s_addr = htonl(0xffffff00u);
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("test", "fork");
  if (pid == 0) {
    if (::jail_attach(jid) != 0) ::_exit(10);
    int in = ::socket(AF_INET, SOCK_DGRAM, 0);
    if (in < 0 || ::ioctl(in, SIOCAIFADDR, &ar) != 0) ::_exit(11);
    if (!set_up(in, b)) ::_exit(12);
    ::_exit(0);
  }
  int ws = 0;
  ::waitpid(pid, &ws, 0);
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return fail(Errc::system, "test", "configuring " + b + " in jail " + std::to_string(jid) +
                                          ": child status " + std::to_string(ws));
  return {};
}

// Two VNET jails on one if_bridge(4), each with an epair(4) and an address set up before its
// command ran: one serves TCP, the other reaches it over the bridge. Teardown leaves no interface.
TEST_F(FreebsdBackendTest, VnetJailsTalkOverABridge) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(s);
  const std::string bridge = clone_if(s.get(), "bridge");
  ASSERT_FALSE(bridge.empty()) << "no if_bridge: " << std::strerror(errno);
  ASSERT_TRUE(set_up(s.get(), bridge));
  std::string a1, a2;
  auto server = spec({"serve", "7777"});
  server.network.mode = NetworkMode::netns;
  server.network.on_vnet = [&](int jid) { return link_jail(s.get(), bridge, jid, "10.99.0.2", &a1); };
  auto j = backend_->spawn(server);
  ASSERT_TRUE(j) << j.error().what();
  auto client = spec({"connect", "10.99.0.2", "7777"});
  client.network.mode = NetworkMode::netns;
  client.network.on_vnet = [&](int jid) { return link_jail(s.get(), bridge, jid, "10.99.0.3", &a2); };
  auto [st, out] = run(client);
  EXPECT_EQ(st.code, 0) << out;
  EXPECT_EQ(out, "hello from the server\n");
  auto served = (*j)->wait(10s);
  ASSERT_TRUE(served) << served.error().what();
  EXPECT_EQ(served->code, 0);
  // The epairs' b ends came back to the host with their jails' end; destroying each pair and the
  // bridge leaves none of them.
  for (const auto& a : {a1, a2}) {
    EXPECT_TRUE(destroy_if(s.get(), a)) << a;
    EXPECT_EQ(::if_nametoindex(a.c_str()), 0u);
    EXPECT_EQ(::if_nametoindex((a.substr(0, a.size() - 1) + "b").c_str()), 0u);
  }
  EXPECT_TRUE(destroy_if(s.get(), bridge));
  EXPECT_EQ(::if_nametoindex(bridge.c_str()), 0u);
}

// ---- the create/start split (ProcessOptions::hold_fd: ljoci's create, then start) ----

// A FIFO as ljoci makes it (<root>/<id>/exec.fifo, opened O_RDWR by create).
UniqueFd hold_fifo(const fs::path& path) {
  if (::mkfifo(path.c_str(), 0600) != 0) return UniqueFd();
  return UniqueFd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
}

// ljoci's start: the byte, written through a descriptor of its own.
bool start_fifo(const fs::path& path) {
  UniqueFd w(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
  return w && ::write(w.get(), "0", 1) == 1;
}

// The process is there, in jail `jid`, and has not ended.
::testing::AssertionResult held_in_jail(pid_t pid, int jid) {
  auto info = proc_info(pid);
  if (!info) return ::testing::AssertionFailure() << info.error().what();
  if (!*info) return ::testing::AssertionFailure() << "pid " << pid << " is gone";
  if ((*info)->zombie) return ::testing::AssertionFailure() << "pid " << pid << " has exited";
  if ((*info)->jid != jid)
    return ::testing::AssertionFailure() << "pid " << pid << " is in jid " << (*info)->jid;
  return ::testing::AssertionSuccess();
}

// The spawn returns with the jail made and its process in it, which does not exec until a byte
// is written to the FIFO; then it runs (its output says which descriptors it got: stdio alone,
// neither the hold FIFO nor the report pipe) and its exit arrives as any jail's does.
TEST_F(FreebsdBackendTest, HeldCommandRunsOnlyOnceStarted) {
  const fs::path fifo = dir_ / "exec.fifo";
  UniqueFd hold = hold_fifo(fifo);
  ASSERT_TRUE(hold) << std::strerror(errno);
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  UniqueFd r(fds[0]), w(fds[1]);
  auto s = spec({"fds"});
  s.stdio.out = w.get();
  s.process.hold_fd = hold.get();
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  w.reset();
  const JailHandle h = (*j)->handle();
  EXPECT_GT(h.jid, 0);
  // Created, not started: nothing printed, no exit, the process waiting in the jail.
  struct pollfd p = {r.get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 500), 0) << "the held command ran before its start";
  auto polled = (*j)->poll();
  ASSERT_TRUE(polled) << polled.error().what();
  EXPECT_FALSE(polled->has_value());
  EXPECT_TRUE(held_in_jail(h.pid, h.jid));
  ASSERT_TRUE(start_fifo(fifo)) << std::strerror(errno);
  EXPECT_EQ(read_to_end(r.get()), "fds:\n");
  auto st = (*j)->wait(10s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 0);
  EXPECT_EQ(st->signal, 0);
}

// Every writer of the hold descriptor gone without a byte: nobody will start the command, which
// ends with 127 and says so on its stderr. (ljoci's FIFO never gets there: the command's own
// descriptor is O_RDWR, a writer too, so an unstarted container waits until it is killed; a pipe
// shows the path.)
TEST_F(FreebsdBackendTest, HeldCommandWithoutAStartByteExits127) {
  int hp[2], ep[2];
  ASSERT_EQ(::pipe2(hp, O_CLOEXEC), 0);
  ASSERT_EQ(::pipe(ep), 0);
  UniqueFd hold_r(hp[0]), hold_w(hp[1]), err_r(ep[0]), err_w(ep[1]);
  auto s = spec({"true"});
  s.stdio.err = err_w.get();
  s.process.hold_fd = hold_r.get();
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  err_w.reset();
  EXPECT_TRUE(held_in_jail((*j)->handle().pid, (*j)->handle().jid));
  hold_w.reset();
  const std::string err = read_to_end(err_r.get());
  auto st = (*j)->wait(10s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 127) << err;
  EXPECT_NE(err.find("not started"), std::string::npos) << err;
}

// A missing executable fails the spawn itself, before the hold (as runc's create): no start byte
// is ever written here, and no jail of that name is left.
TEST_F(FreebsdBackendTest, HeldMissingExecutableFailsTheSpawn) {
  int hp[2];
  ASSERT_EQ(::pipe2(hp, O_CLOEXEC), 0);
  UniqueFd hold_r(hp[0]), hold_w(hp[1]);  // the write end stays open: a hold would never end
  auto s = spec({});
  s.argv = {"/no-such-command"};
  s.process.hold_fd = hold_r.get();
  auto j = backend_->spawn(s);
  ASSERT_FALSE(j);
  EXPECT_EQ(j.error().errc(), Errc::exec_failed) << j.error().what();
  EXPECT_NE(j.error().what().find("/no-such-command"), std::string::npos) << j.error().what();
  auto left = find_jail(s.name, /*dying=*/true);
  ASSERT_TRUE(left) << left.error().what();
  EXPECT_FALSE(left->has_value());
}

// ljoci's create exits right after the spawn, closing its process descriptor. The held command
// outlives it (PD_DAEMON; without it the close SIGKILLs the command), reparented to the
// spawner's reaper: here this test, as the shim or conmon is for ljoci. The reaper starts it and
// gets its exit status from wait(2); release() then removes what the jail left (its mounts).
TEST_F(FreebsdBackendTest, HeldCommandOutlivesItsSpawner) {
  ASSERT_EQ(::procctl(P_PID, ::getpid(), PROC_REAP_ACQUIRE, nullptr), 0) << std::strerror(errno);
  struct Unreap {
    ~Unreap() { (void)::procctl(P_PID, ::getpid(), PROC_REAP_RELEASE, nullptr); }
  } unreap;
  const fs::path fifo = dir_ / "exec.fifo";
  UniqueFd hold = hold_fifo(fifo);
  ASSERT_TRUE(hold) << std::strerror(errno);
  auto s = spec({"exit", "7"});
  s.process.hold_fd = hold.get();
  // ljoci create: spawn, hand the handle on, exit without destroying the Jail.
  auto [h, spawner] = spawn_then_die(s);
  ASSERT_GT(spawner, 0) << std::strerror(errno);
  ASSERT_GT(h.pid, 0);
  int ws = 0;
  // The spawner is gone; its held command is not, and is ours now.
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(held_in_jail(h.pid, h.jid));
  auto info = proc_info(h.pid);
  ASSERT_TRUE(info && *info);
  EXPECT_EQ((*info)->ppid, ::getpid());
  EXPECT_TRUE(start_fifo(fifo)) << std::strerror(errno);
  pid_t got = 0;
  for (int i = 0; i < 1000 && got == 0; ++i) {
    got = ::waitpid(h.pid, &ws, WNOHANG);
    if (got == 0) std::this_thread::sleep_for(10ms);
  }
  ASSERT_EQ(got, h.pid) << std::strerror(errno);
  EXPECT_TRUE(WIFEXITED(ws));
  EXPECT_EQ(WEXITSTATUS(ws), 7);
  auto released = backend_->release(h);
  EXPECT_TRUE(released) << released.error().what();
}

// ljd killed (kill -9) or left with on_shutdown = leave: its process ends without destroying
// its Jails, and the kernel closes their process descriptors. The jail lives on (PD_DAEMON;
// without it that close SIGKILLs its main process), reparented to the spawner's reaper, and the
// next ljd adopts it: a process that is not its child, watched with EVFILT_PROC NOTE_EXIT, whose
// exit code arrives as a spawned jail's does. The adopted Jail's teardown releases its mounts.
TEST_F(FreebsdBackendTest, JailOutlivesItsSpawnerAndIsAdopted) {
  auto s = spec({"sleep", "4", "9"});
  auto [h, spawner] = spawn_then_die(s);
  ASSERT_GT(spawner, 0) << std::strerror(errno);
  ASSERT_GT(h.pid, 0);
  // The spawner is gone, its descriptor closed; the jail's process is not.
  std::this_thread::sleep_for(300ms);
  const auto alive = held_in_jail(h.pid, h.jid);
  auto info = proc_info(h.pid);
  auto a = backend_->adopt(h);
  if (!alive || !a) {
    (void)backend_->release(h);  // kills what is left and unmounts
    FAIL() << (alive ? std::string(a.error().what()) : std::string(alive.message()));
  }
  ASSERT_TRUE(info && *info);
  EXPECT_NE((*info)->ppid, spawner);
  auto st = (*a)->wait(20s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 9);
  EXPECT_EQ(st->signal, 0);
  EXPECT_FALSE(st->lost);
  a->reset();
  auto left = find_jail(s.name, /*dying=*/true);
  ASSERT_TRUE(left) << left.error().what();
  EXPECT_FALSE(left->has_value());
}

}  // namespace
}  // namespace lj::jail::freebsd
