// clone_run (lib/jail/linux/clone_run.hpp), the trampoline every jail's init starts on: the
// function runs on its own stack in the caller's memory, exits with its value, and can be cloned
// straight into a cgroup v2 directory.
#include "jail/linux/clone_run.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "common/fd.hpp"
#include "common/scope.hpp"

namespace lj::jail {
namespace {

struct Shared {
  int ran = 0;
  char cgroup[512] = {};
};

alignas(64) char child_stack[64 * 1024];

// Runs in the clone: system calls and its own stack only.
int child_fn(void* p) {
  auto* s = static_cast<Shared*>(p);
  s->ran = 42;
  int fd = ::open("/proc/self/cgroup", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    ssize_t n = ::read(fd, s->cgroup, sizeof s->cgroup - 1);
    (void)n;
    ::close(fd);
  }
  return 7;
}

clone_args args_with_stack(std::uint64_t flags) {
  clone_args a{};
  a.flags = flags;
  a.exit_signal = SIGCHLD;
  a.stack = reinterpret_cast<std::uintptr_t>(child_stack);
  a.stack_size = sizeof child_stack;
  return a;
}

int exit_code_of(long pid) {
  int ws = 0;
  if (::waitpid(static_cast<pid_t>(pid), &ws, 0) != pid || !WIFEXITED(ws)) return -1;
  return WEXITSTATUS(ws);
}

TEST(CloneRun, RunsTheFunctionOnItsStackInOurMemory) {
  if (!clone_run_supported())
    GTEST_SKIP() << "no clone_run here (an architecture without its trampoline, or an ASan build)";
  Shared sh;
  clone_args a = args_with_stack(CLONE_VM | CLONE_VFORK);
  long pid = clone_run(&a, child_fn, &sh);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  EXPECT_EQ(sh.ran, 42);  // CLONE_VFORK: written before clone_run returned
  EXPECT_EQ(exit_code_of(pid), 7);
}

TEST(CloneRun, ErrorsComeBackAsErrno) {
  if (!clone_run_supported())
    GTEST_SKIP() << "no clone_run here (an architecture without its trampoline, or an ASan build)";
  Shared sh;
  clone_args a = args_with_stack(CLONE_VM | CLONE_VFORK);
  a.stack = 0;
  errno = 0;
  EXPECT_EQ(clone_run(&a, child_fn, &sh), -1);
  EXPECT_EQ(errno, EINVAL);
  a = args_with_stack(CLONE_THREAD);  // the kernel refuses it without CLONE_SIGHAND
  errno = 0;
  EXPECT_EQ(clone_run(&a, child_fn, &sh), -1);
  EXPECT_EQ(errno, EINVAL);
  EXPECT_EQ(sh.ran, 0);
}

// The mount point of a cgroup v2 hierarchy, or "".
std::string cgroup2_mount() {
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    auto dash = line.find(" - ");
    if (dash == std::string::npos || line.compare(dash + 3, 8, "cgroup2 ") != 0) continue;
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    return point;
  }
  return "";
}

TEST(CloneRun, ClonesIntoACgroupV2Directory) {
  if (!clone_run_supported())
    GTEST_SKIP() << "no clone_run here (an architecture without its trampoline, or an ASan build)";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (makes a cgroup)";
  const std::string mnt = cgroup2_mount();
  if (mnt.empty()) GTEST_SKIP() << "no cgroup v2 hierarchy mounted";
  const std::string name = "lj-clone-run-" + std::to_string(::getpid());
  const std::string dir = mnt + "/" + name;
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  ScopeExit rm([&] {
    for (int i = 0; i < 100 && ::rmdir(dir.c_str()) != 0 && errno == EBUSY; ++i) ::usleep(1000);
  });
  UniqueFd cg(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  ASSERT_TRUE(cg);
  Shared sh;
  clone_args a = args_with_stack(CLONE_VM | CLONE_VFORK | CLONE_INTO_CGROUP);
  a.cgroup = static_cast<std::uint64_t>(cg.get());
  long pid = clone_run(&a, child_fn, &sh);
  ASSERT_GT(pid, 0) << std::strerror(errno);
  EXPECT_EQ(exit_code_of(pid), 7);
  EXPECT_NE(std::string(sh.cgroup).find("0::/" + name + "\n"), std::string::npos) << sh.cgroup;
}

}  // namespace
}  // namespace lj::jail
