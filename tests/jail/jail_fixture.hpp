// Shared by the lib/jail tests: a test world, a backend, run() that captures a jail's stdout, and
// a leak check after every test (mounts, cgroups, the world's temp dir).
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "common/sys.hpp"
#include "jail/backend.hpp"
#include "jail/linux/cgroup.hpp"
#include "host_kernel.hpp"
#include "test_world.hpp"

namespace lj::jail::test {

// Every mount point of this process's mount namespace (the host's), in mountinfo's order.
inline std::vector<std::string> mountinfo_targets() {
  std::ifstream in("/proc/self/mountinfo");
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string f[5];
    for (auto& x : f) ls >> x;
    out.push_back(f[4]);
  }
  return out;
}

// Whether `path` is `dir` or below it.
inline bool is_at_or_below(const std::string& path, const std::string& dir) {
  return path.compare(0, dir.size(), dir) == 0 &&
         (path.size() == dir.size() || dir.back() == '/' || path[dir.size()] == '/');
}

// Whether a component of `path` is one of `names` (a jail's name), or one of them with a suffix
// that is not a digit ("t-12-3.scope", not "t-12-30").
inline bool names_one_of(const std::string& path, const std::vector<std::string>& names) {
  std::istringstream parts(path);
  for (std::string part; std::getline(parts, part, '/');)
    for (const auto& n : names)
      if (part.compare(0, n.size(), n) == 0 &&
          (part.size() == n.size() || !std::isdigit(static_cast<unsigned char>(part[n.size()]))))
        return true;
  return false;
}

// The mount points among `targets` that a jail test could have made on the host: below the
// test's own directory (its world, volumes, writable dirs), the backend's /run/lj-* (a jail's
// host-root scratch counts only if it is one of this test's jails: other runs on the machine make
// theirs), cgroup mounts, and any naming one of the test's jails. Not the rest of the machine's:
// a podman or containerd run beside the suite mounts and unmounts under /var/lib/containers,
// /run/netns, ... and a test must not assert what the environment imposes.
inline std::vector<std::string> mounts_a_test_could_make(const std::vector<std::string>& targets,
                                                         const std::string& test_dir,
                                                         const std::vector<std::string>& names) {
  std::vector<std::string> out;
  for (const auto& t : targets) {
    const bool host_root = is_at_or_below(t, "/run/lj-host-roots/");
    if ((!test_dir.empty() && is_at_or_below(t, test_dir)) ||
        (t.rfind("/run/lj-", 0) == 0 && !host_root) || is_at_or_below(t, "/sys/fs/cgroup") ||
        names_one_of(t, names))
      out.push_back(t);
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
    const CgroupLayout& l = cgroup_layout();
    std::lock_guard lock(names_mu_);
    EXPECT_EQ(mounts_a_test_could_make(mountinfo_targets(), dir.string(), names_),
              mounts_a_test_could_make(mounts_before_, dir.string(), names_))
        << "the test left mounts behind";
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
  std::vector<std::string> mounts_before_;  // the host's mount points at SetUp
  std::unique_ptr<Backend> backend_;
  // Tests call spec()/probe() from several threads at once (eight in the concurrency tests): the
  // names are appended under names_mu_ (unlocked, they raced: lost names, a corrupted vector).
  std::mutex names_mu_;
  std::vector<std::string> names_;  // guarded by names_mu_
};

}  // namespace lj::jail::test
