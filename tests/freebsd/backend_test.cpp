// Privileged integration tests of the FreeBSD backend on the real kernel. They need root and a
// world holding tests/freebsd/probe.c built static as /probe, named by $LJ_TEST_WORLD, and skip
// with the reason otherwise. They run in the FreeBSD 13 test guest (scripts/test-freebsd-guest,
// which makes that world) and on any FreeBSD host.
#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <thread>

#include "common/fd.hpp"
#include "jail/backend.hpp"
#include "jail/freebsd/jail_sys.hpp"
#include "jail/freebsd/root_mounts.hpp"

namespace lj::jail::freebsd {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FreebsdBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root: jail_set(2), nmount(2)";
    const char* w = ::getenv("LJ_TEST_WORLD");
    if (w == nullptr || *w == '\0' || !fs::exists(fs::path(w) / "probe"))
      GTEST_SKIP() << "set LJ_TEST_WORLD to a world with tests/freebsd/probe.c built as /probe";
    world_ = w;
    std::string tmpl =
        (fs::temp_directory_path() / ("lj-freebsd-test-" + std::to_string(::getpid()) + "-XXXXXX"))
            .string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    BackendOptions options;
    options.state_dir = root_ / ".ljd";  // jail directories go under our temp dir
    auto b = make_backend(options);
    ASSERT_TRUE(b) << b.error().what();
    backend_ = std::move(*b);
  }

  void TearDown() override {
    if (root_.empty()) return;
    // Every jail of this test must have left nothing mounted under its directory.
    auto left = freebsd::mounts_under(fs::canonical(root_));
    ASSERT_TRUE(left);
    EXPECT_TRUE(left->empty()) << "mount left: " << left->front().target;
    if (left && left->empty()) fs::remove_all(root_);
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

  std::string world_;
  fs::path root_;
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
  std::this_thread::sleep_for(1s);
  auto procs = processes_in_jail((*j)->handle().jid);
  ASSERT_TRUE(procs);
  EXPECT_LE(procs->size(), 20u);
  EXPECT_GE(procs->size(), 10u) << "the fork bomb did not run";
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

}  // namespace
}  // namespace lj::jail::freebsd
