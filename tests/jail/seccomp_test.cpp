// The default seccomp filter: the compiled program itself (loaded in a forked child of the test),
// then the jails of the backend, whose init and command both run under it.
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <vector>

#include <gtest/gtest.h>

#include "jail/linux/seccomp.hpp"
#include "jail_fixture.hpp"
#include "host_kernel.hpp"
#include "seccomp_expect.hpp"

namespace lj::jail::test {
namespace {

bool compares_arch(const SeccompProgram& p, std::uint32_t arch) {
  for (const sock_filter& f : p.code)
    if (f.code == (BPF_JMP | BPF_JEQ | BPF_K) && f.k == arch) return true;
  return false;
}

TEST(SeccompProgramTest, CompilesForEveryAbiOfTheMachine) {
  auto p = compile_default_seccomp();
  ASSERT_TRUE(p) << p.error().what();
  EXPECT_GT(p->code.size(), 40u);
  std::printf("the default filter: %zu instructions\n", p->code.size());
  EXPECT_LE(p->code.size(), static_cast<std::size_t>(BPF_MAXINSNS));
#if defined(__x86_64__)
  EXPECT_TRUE(compares_arch(*p, AUDIT_ARCH_X86_64));  // x86_64 and x32
  EXPECT_TRUE(compares_arch(*p, AUDIT_ARCH_I386));
#endif
  auto names = seccomp_denied_names();
  for (const char* n : {"setns", "keyctl", "bpf", "perf_event_open", "fsopen", "open_tree",
                        "open_by_handle_at", "mount", "kexec_load"})
    EXPECT_NE(std::find(names.begin(), names.end(), n), names.end()) << n;
  EXPECT_EQ(std::find(names.begin(), names.end(), std::string("chroot")), names.end());
  EXPECT_EQ(std::find(names.begin(), names.end(), std::string("ptrace")), names.end());
}

// What a backend loads is the program the build compiled (lj-seccomp-gen): the same
// instructions as a compile now, with this machine's libseccomp.
TEST(SeccompProgramTest, TheBuiltProgramIsTheCompiledOne) {
  auto built = default_seccomp();
  auto now = compile_default_seccomp();
  ASSERT_TRUE(built) << built.error().what();
  ASSERT_TRUE(now) << now.error().what();
  ASSERT_EQ(built->code.size(), now->code.size());
  for (std::size_t i = 0; i < now->code.size(); ++i) {
    const sock_filter &a = built->code[i], &b = now->code[i];
    EXPECT_TRUE(a.code == b.code && a.jt == b.jt && a.jf == b.jf && a.k == b.k)
        << "instruction " << i;
  }
}

// Loads the program in a forked child (no_new_privs first, as an unprivileged loader must) and
// returns the errno of `call` there (0 on success).
template <class F>
int errno_under_filter(F call) {
  auto p = default_seccomp();
  if (!p) return -1;
  sock_fprog prog = p->fprog();
  int pipefd[2];
  if (::pipe(pipefd) != 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipefd[0]);
    int err = 0;
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
        ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0U, &prog) != 0)
      err = -2;
    else if (call() < 0)
      err = errno;
    (void)!::write(pipefd[1], &err, sizeof err);
    ::_exit(0);
  }
  ::close(pipefd[1]);
  int err = -3;
  if (::read(pipefd[0], &err, sizeof err) != static_cast<ssize_t>(sizeof err)) err = -4;
  ::close(pipefd[0]);
  ::waitpid(pid, nullptr, 0);
  return err;
}

TEST(SeccompProgramTest, DeniesWithEpermAndLetsTheRestThrough) {
  EXPECT_EQ(errno_under_filter([] { return ::unshare(CLONE_NEWUSER); }), EPERM);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_keyctl, 0, -3, 0); }), EPERM);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_clone3, nullptr, 0); }), ENOSYS);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_fsopen, "tmpfs", 0); }), EPERM);
  // Allowed: the call reaches the kernel, which answers for itself.
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_getpid); }), 0);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_setns, -1, 0); }), EPERM);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_personality, 0xffffffffUL); }), 0);
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_personality, 0x0400000UL); }), EPERM);
  // Only the low 32 bits are personality(2)'s argument: high garbage does not hide a flag.
  EXPECT_EQ(errno_under_filter([] { return ::syscall(SYS_personality, 0x100400000UL); }), EPERM);
}

TEST(SeccompProgramTest, PersonalityKeepsExactlyTheDefaultValues) {
  for (unsigned long v : {0x0UL, 0x8UL, 0x20000UL, 0x20008UL, 0xffffffffUL})
    EXPECT_EQ(errno_under_filter([v] { return ::syscall(SYS_personality, v); }), 0)
        << std::hex << v;
  // Each flag alone, with the allowed bits, and the values next to the query.
  std::vector<unsigned long> denied = {0x1,        0x7,        0x9,        0x20001,    0x28,
                                       0xfffdfff7, 0xfffffff7, 0xfffdffff, 0xfffffffe, 0x7fffffff};
  for (int b = 0; b < 32; ++b)
    if (b != 3 && b != 17) {
      denied.push_back(1UL << b);
      denied.push_back((1UL << b) | 0x20008);
    }
  for (unsigned long v : denied)
    EXPECT_EQ(errno_under_filter([v] { return ::syscall(SYS_personality, v); }), EPERM)
        << std::hex << v;
  // And 20,000 pseudo-random values (with a bias to few or many bits set), in one child: the
  // first one the filter gets wrong is reported as the call's "errno".
  int wrong = errno_under_filter([] {
    std::uint64_t s = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 20000; ++i) {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      auto v = static_cast<std::uint32_t>(s);
      if (i % 3 == 1) v &= static_cast<std::uint32_t>(s >> 32);  // few bits
      if (i % 3 == 2) v |= static_cast<std::uint32_t>(s >> 32);  // many bits
      bool allowed = v == 0 || v == 8 || v == 0x20000 || v == 0x20008 || v == 0xffffffff;
      long r = ::syscall(SYS_personality, static_cast<unsigned long>(v));
      if ((r >= 0) != allowed || (!allowed && errno != EPERM)) {
        errno = static_cast<int>(v & 0x7fffffff) | 1;  // non-zero, names the value
        return -1L;
      }
    }
    return 0L;
  });
  EXPECT_EQ(wrong, 0) << "first value the filter got wrong (low 31 bits): " << std::hex << wrong;
}

// Inside a jail of the backend: every attempt of the probe answers as the filter says, and both
// the command and the jail's init carry the filter.
// On a host without i386 system calls the i386 attempts are left out and the test ends skipped,
// saying so: the rest of it has run.
TEST_F(JailTest, SeccompFilterBindsTheCommandAndInit) {
  const std::string no_i386 = lj::test::i386_syscalls_missing();
  auto r = run(probe(lj::test::seccomp_probe_args(no_i386.empty())));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.code, 0) << r->out;
  EXPECT_EQ(lj::test::seccomp_mismatches(r->out, no_i386.empty()), "") << r->out;
  for (const char* who : {"self", "1"}) {
    r = run(spec({"/bin/sh", "-c", std::string("grep ^Seccomp: /proc/") + who + "/status"}));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->out, "Seccomp:\t2\n") << who;  // SECCOMP_MODE_FILTER
  }
  if (!no_i386.empty()) GTEST_SKIP() << "the i386 attempts: " << no_i386;
}

// Everyday work under the filter: a shell script with pipes, subshells, background jobs, a
// chroot, threads (busybox has none: the probe's forks stand in) and its exit code.
TEST_F(JailTest, EverydayCommandsWorkUnderTheFilter) {
  auto s = spec({});
  s.argv.clear();
  s.script =
      "#!/bin/sh\n"
      "set -e\n"
      "echo one two three | tr ' ' '\\n' | sort -r | head -n 1\n"
      "x=$( (cd /tmp && echo sub) )\n"
      "echo $x\n"
      "sleep 0.05 & wait $!\n"
      "mkdir -p /tmp/d && echo hi > /tmp/d/f && cat /tmp/d/f\n"
      "chroot / /bin/true && echo chroot\n"
      "probe echo probe\n"
      "exit 7\n";
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "two\nsub\nhi\nchroot\nprobe\n");
  EXPECT_EQ(r->status.code, 7);
}

}  // namespace
}  // namespace lj::jail::test
