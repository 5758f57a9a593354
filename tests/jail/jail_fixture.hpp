// Shared by the lib/jail tests: a test world, a backend, run() that captures a jail's stdout, and
// a leak check after every test (mounts, cgroups, the world's temp dir).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "common/sys.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "host_kernel.hpp"
#include "test_world.hpp"

namespace lj::jail::test {

inline std::string mountinfo_targets() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, out;
  while (std::getline(in, line)) {
    std::istringstream ls(line);
    std::string f[5];
    for (auto& x : f) ls >> x;
    out += f[4] + "\n";
  }
  return out;
}

// The first line of a (cgroup) file, without its newline; empty when unreadable.
inline std::string read_trimmed(const std::string& path) {
  std::ifstream in(path);
  std::string s;
  std::getline(in, s);
  return s;
}

struct RunResult {
  std::string out;
  ExitStatus status;
};

class JailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lj::test::is_root()) GTEST_SKIP() << "needs root: namespaces, mounts and cgroups";
    if (auto why = lj::test::overlayfs_missing(); !why.empty()) GTEST_SKIP() << why;
    mounts_before_ = mountinfo_targets();
    world_.emplace();
    backend_ = make_backend({}).value();
  }

  void TearDown() override {
    lj::sys::clear_faults();
    if (!world_) return;
    std::filesystem::path dir = world_->dir();
    world_.reset();
    EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
    EXPECT_EQ(mountinfo_targets(), mounts_before_) << "the test left mounts behind";
    const CgroupLayout& l = cgroup_layout();
    std::lock_guard lock(names_mu_);
    for (const auto& name : names_)
      for (const auto& base : {l.v2_base, l.memory_base, l.pids_base, l.cpu_base})
        if (!base.empty()) {
          EXPECT_FALSE(std::filesystem::exists(base + "/" + name)) << base << "/" << name;
        }
  }

  // A spec running `argv` in the test world, with a fresh unique name.
  JailSpec spec(std::vector<std::string> argv) {
    JailSpec s;
    s.name = lj::test::unique_name("t");
    {
      std::lock_guard lock(names_mu_);
      names_.push_back(s.name);
    }
    s.root.layers = {world_->world()};
    s.argv = std::move(argv);
    return s;
  }
  JailSpec probe(std::vector<std::string> args) {
    std::vector<std::string> argv{"/bin/probe"};
    for (auto& a : args) argv.push_back(std::move(a));
    return spec(std::move(argv));
  }

  // A running jail and the read end of a pipe behind its stdout (and its stderr with
  // merge_stderr), for tests that talk to the jail while it runs.
  struct Started {
    std::unique_ptr<Jail> jail;
    UniqueFd out;
  };
  Result<Started> start(JailSpec s, bool merge_stderr = false) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("test", "pipe2");
    UniqueFd rd(p[0]), wr(p[1]);
    s.stdio.out = wr.get();
    if (merge_stderr) s.stdio.err = wr.get();
    auto jail = backend_->spawn(s);
    if (!jail) return fail(jail.error());
    return Started{std::move(*jail), std::move(rd)};
  }

  // Spawns, collects stdout (and stderr) until EOF, waits.
  Result<RunResult> run(JailSpec s) {
    auto started = start(std::move(s), true);
    if (!started) return fail(started.error());
    const auto& jail = started->jail;
    const UniqueFd& rd = started->out;
    // Read in a thread: wait() enforces the spec's timeout while the output is still open.
    RunResult r;
    std::thread reader([&] {
      char buf[4096];
      for (ssize_t n; (n = ::read(rd.get(), buf, sizeof buf)) > 0;)
        r.out.append(buf, static_cast<std::size_t>(n));
    });
    auto st = jail->wait();
    reader.join();
    if (!st) return fail(st.error());
    r.status = *st;
    return r;
  }

  const lj::test::TestWorld& world() const { return *world_; }

  std::optional<lj::test::TestWorld> world_;
  std::unique_ptr<Backend> backend_;
  // Tests call spec()/probe() from several threads at once (eight in the concurrency tests): the
  // names are appended under names_mu_ (unlocked, they raced: lost names, a corrupted vector).
  std::mutex names_mu_;
  std::vector<std::string> names_;  // guarded by names_mu_
  std::string mounts_before_;
};

}  // namespace lj::jail::test
