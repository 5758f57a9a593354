// NetnsAhead: a jail's network namespace made on another CPU while the spawn prepares the rest.
#include "jail/linux/netns_ahead.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <gtest/gtest.h>

namespace lj::jail::test {
namespace {

int allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  return ::sched_getaffinity(0, sizeof set, &set) == 0 ? CPU_COUNT(&set) : 0;
}

// A namespace of its own, not ours, with its loopback device up and no other interface.
TEST(NetnsAhead, MakesANamespaceOfItsOwnWithLoopbackUp) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a new network namespace)";
  if (allowed_cpus() < 2) GTEST_SKIP() << "one CPU allowed here: NetnsAhead declines (next test)";
  NetnsAhead ahead;
  ASSERT_TRUE(ahead.start());
  UniqueFd rx = ahead.receiver();
  EXPECT_FALSE(ahead.started());
  UniqueFd ns(receive_netns(rx.get()));
  ASSERT_TRUE(ns) << "the helper sent no namespace";
  struct stat made {}, own {};
  ASSERT_EQ(::fstat(ns.get(), &made), 0);
  ASSERT_EQ(::stat("/proc/self/ns/net", &own), 0);
  EXPECT_NE(made.st_ino, own.st_ino);

  // Looked at from a thread that joins it (and ends there).
  short lo_flags = 0;
  int interfaces = -1;
  std::thread([&] {
    if (::setns(ns.get(), CLONE_NEWNET) != 0) return;
    int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct ifreq ifr;
    std::memset(&ifr, 0, sizeof ifr);
    std::strcpy(ifr.ifr_name, "lo");
    if (s >= 0 && ::ioctl(s, SIOCGIFFLAGS, &ifr) == 0) lo_flags = ifr.ifr_flags;
    if (s >= 0) ::close(s);
    if (struct if_nameindex* names = ::if_nameindex()) {
      interfaces = 0;
      for (auto* n = names; n->if_index != 0; ++n) ++interfaces;
      ::if_freenameindex(names);
    }
  }).join();
  EXPECT_TRUE(lo_flags & IFF_UP);
  EXPECT_EQ(interfaces, 1);
}

// Started again at once (a second Backend::prepare after a spawn took the first): the first
// helper is waited for before its stack is replaced, and each start's namespace arrives, apart.
TEST(NetnsAhead, StartedAgainEachNamespaceArrives) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a new network namespace)";
  if (allowed_cpus() < 2) GTEST_SKIP() << "one CPU allowed here: NetnsAhead declines";
  NetnsAhead ahead;
  ASSERT_TRUE(ahead.start());
  UniqueFd first_rx = ahead.receiver();
  ASSERT_TRUE(ahead.start());
  UniqueFd second_rx = ahead.receiver();
  UniqueFd first(receive_netns(first_rx.get())), second(receive_netns(second_rx.get()));
  ASSERT_TRUE(first && second);
  struct stat a {}, b {};
  ASSERT_EQ(::fstat(first.get(), &a), 0);
  ASSERT_EQ(::fstat(second.get(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);
}

// A helper that cannot make the namespace (here: no CAP_SYS_ADMIN) sends nothing, and its end of
// the socket closes as it exits: the receiver reads EOF instead of waiting (init then makes one).
TEST(NetnsAhead, AHelperThatFailedLeavesEndOfFileToTheReceiver) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (to drop CAP_SYS_ADMIN from)";
  if (allowed_cpus() < 2) GTEST_SKIP() << "one CPU allowed here: NetnsAhead declines";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::alarm(10);  // a receiver left waiting is the failure this test is about
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct d[2] = {};
    if (::syscall(SYS_capget, &h, d) != 0) ::_exit(2);
    d[CAP_SYS_ADMIN / 32].effective &= ~(1U << (CAP_SYS_ADMIN % 32));
    if (::syscall(SYS_capset, &h, d) != 0) ::_exit(2);
    NetnsAhead ahead;
    if (!ahead.start()) ::_exit(3);
    UniqueFd rx = ahead.receiver();
    ::_exit(receive_netns(rx.get()) < 0 ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << " (14: still waiting)";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: a namespace arrived; 2: capabilities; 3: no start";
}

// With one CPU allowed there is no other to make it on: start() declines, there is nothing to receive,
// and the jail makes its own namespace in clone3.
TEST(NetnsAhead, DeclinesWithOneCpuAllowed) {
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(::sched_getcpu(), &one);
    if (::sched_setaffinity(0, sizeof one, &one) != 0) ::_exit(2);
    NetnsAhead ahead;
    if (ahead.start() || ahead.started() || ahead.receiver()) ::_exit(1);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: it started; 2: the affinity could not be set";
}

}  // namespace
}  // namespace lj::jail::test
