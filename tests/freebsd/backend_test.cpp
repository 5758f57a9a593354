// Privileged integration tests of the FreeBSD backend on the real kernel. Built on FreeBSD only;
// they need root and a FreeBSD world (a base.txz extracted) named by $LJ_TEST_WORLD, and skip with
// the reason otherwise. Never run yet: see docs/platforms.md.
#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
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
    if (w == nullptr || *w == '\0' || !fs::exists(fs::path(w) / "bin" / "sh"))
      GTEST_SKIP() << "set LJ_TEST_WORLD to a FreeBSD world (base.txz extracted)";
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

  JailSpec spec(std::vector<std::string> argv) {
    JailSpec s;
    s.name = "ljt-" + std::to_string(::getpid()) + "-" + std::to_string(++counter_);
    s.root.layers = {world_};
    s.argv = std::move(argv);
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
    std::string out;
    char buf[4096];
    for (ssize_t n; (n = ::read(r.get(), buf, sizeof(buf))) > 0;) out.append(buf, n);
    auto st = (*j)->wait();
    EXPECT_TRUE(st) << st.error().what();
    return {st ? *st : ExitStatus{}, out};
  }

  std::string world_;
  fs::path root_;
  std::unique_ptr<Backend> backend_;
  int counter_ = 0;
};

TEST_F(FreebsdBackendTest, ExitCodeAndSignalPropagate) {
  EXPECT_EQ(run(spec({"/bin/sh", "-c", "exit 3"})).first.code, 3);
  auto killed = run(spec({"/bin/sh", "-c", "kill -9 $$"})).first;
  EXPECT_EQ(killed.signal, SIGKILL);
  EXPECT_EQ(killed.shell_status(), 128 + SIGKILL);
}

TEST_F(FreebsdBackendTest, JailedWithItsHostnameAndNoHostProcess) {
  auto s =
      spec({"/bin/sh", "-c", "sysctl -n security.jail.jailed; hostname; ps -ax -o pid= | wc -l"});
  s.hostname = "box";
  auto [st, out] = run(s);
  EXPECT_EQ(st.code, 0);
  // jailed = 1, the hostname, and only the jail's own processes (sh, ps, wc: a handful, not init).
  EXPECT_EQ(out.substr(0, out.find('\n')), "1");
  EXPECT_NE(out.find("\nbox\n"), std::string::npos) << out;
  int procs = std::stoi(out.substr(out.rfind('\n', out.size() - 2) + 1));
  EXPECT_LE(procs, 4) << out;
}

TEST_F(FreebsdBackendTest, NoMountInsideAndStatfsConfined) {
  auto [st, out] = run(spec(
      {"/bin/sh", "-c", "mount -t tmpfs tmpfs /tmp 2>/dev/null && echo mounted; mount | wc -l"}));
  EXPECT_EQ(out.find("mounted"), std::string::npos);
  // enforce_statfs=2: only the mounts at and under the root are visible (root, devfs).
  EXPECT_LE(std::stoi(out), 3) << out;
}

TEST_F(FreebsdBackendTest, WritableLayerIsPrivateAndDiscarded) {
  EXPECT_EQ(run(spec({"/bin/sh", "-c", "echo x > /etc/ljt && cat /etc/ljt"})).second, "x\n");
  EXPECT_EQ(run(spec({"/bin/sh", "-c", "test -e /etc/ljt"})).first.code, 1);
  EXPECT_FALSE(fs::exists(fs::path(world_) / "etc" / "ljt"));
}

TEST_F(FreebsdBackendTest, ReadOnlyRoot) {
  auto s = spec({"/bin/sh", "-c", "touch /ljt"});
  s.root.writable = WritableLayer::none();
  EXPECT_NE(run(s).first.code, 0);
}

TEST_F(FreebsdBackendTest, TimeoutKillsTheWholeJail) {
  auto s = spec({"/bin/sh", "-c", "sleep 100 & sleep 100 & wait"});
  s.limits.timeout = 300ms;
  auto t0 = std::chrono::steady_clock::now();
  auto [st, out] = run(s);
  EXPECT_TRUE(st.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 20s);
  auto alive = find_jail(s.name);
  ASSERT_TRUE(alive);
  EXPECT_FALSE(alive->has_value()) << "jail " << s.name << " survived its timeout";
}

TEST_F(FreebsdBackendTest, ProcessLimitHoldsAForkBomb) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (docs/freebsd.md)";
  auto s = spec({"/bin/sh", "-c", "while :; do sleep 30 & done"});
  s.limits.pids = 20;
  s.limits.timeout = 3s;
  auto j = backend_->spawn(s);
  ASSERT_TRUE(j) << j.error().what();
  std::this_thread::sleep_for(1s);
  auto procs = processes_in_jail((*j)->handle().jid);
  ASSERT_TRUE(procs);
  EXPECT_LE(procs->size(), 20u);
  auto st = (*j)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_TRUE(st->timed_out);
}

TEST_F(FreebsdBackendTest, MemoryHogIsKilledAndReportedAsOom) {
  if (!racct_enabled()) GTEST_SKIP() << "needs kern.racct.enable=1 (docs/freebsd.md)";
  auto s = spec({"/bin/sh", "-c", "x=$(head -c 400000000 /dev/zero | tr '\\0' a); echo survived"});
  s.limits.memory_bytes = 64ull << 20;
  s.limits.timeout = 60s;
  auto [st, out] = run(s);
  EXPECT_TRUE(st.oom);
  EXPECT_EQ(out.find("survived"), std::string::npos);
}

TEST_F(FreebsdBackendTest, ReleaseIsIdempotent) {
  auto s = spec({"/usr/bin/true"});
  EXPECT_EQ(run(s).first.code, 0);
  JailHandle h;
  h.name = s.name;
  EXPECT_TRUE(backend_->release(h));
  EXPECT_TRUE(backend_->release(h));
}

}  // namespace
}  // namespace lj::jail::freebsd
