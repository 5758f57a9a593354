// Privileged tests of Backend::exec (jail/exec.hpp) on the real kernel: the process joins the
// running jail's namespaces, root, cgroup and privileges, its status comes from its monitor (and
// its status file), a terminal is the jail's, and it ends with its jail.
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <optional>
#include <thread>

#include "jail/linux/clone_run.hpp"
#include "host_kernel.hpp"
#include "jail/status_file.hpp"
#include "jail/terminal.hpp"
#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {
using namespace std::chrono_literals;

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  return out;
}

std::string proc_line(pid_t pid, const std::string& file, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + file);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(key, 0) == 0) return line;
  return {};
}

class ExecTest : public JailTest {
 protected:
  // A jail that sleeps, its command's stdout unread.
  std::unique_ptr<Jail> sleeper(JailSpec s = {}) {
    if (s.name.empty()) s = spec({"sleep", "100"});
    auto j = backend_->spawn(s);
    EXPECT_TRUE(j) << j.error().what();
    return j ? std::move(*j) : nullptr;
  }

  struct Ran {
    std::string out;
    ExitStatus status;
    ExecHandle handle;
  };
  // Runs argv in the jail, stdout and stderr into one pipe, to its end.
  Result<Ran> exec(const Jail& jail, ExecSpec e) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("test", "pipe2");
    UniqueFd rd(p[0]), wr(p[1]);
    e.stdio.out = e.stdio.err = wr.get();
    auto x = backend_->exec(jail.handle(), e);
    if (!x) return fail(x.error());
    wr.reset();
    Ran r;
    r.handle = (*x)->handle();
    r.out = read_all(rd.get());
    r.status = LJ_TRY((*x)->wait());
    return r;
  }
  static ExecSpec cmd(std::vector<std::string> argv) {
    ExecSpec e;
    e.argv = std::move(argv);
    return e;
  }
  struct OnTerminal {
    std::string out;  // what came on the master until `last`, or for 5 s
    bool hosts_devpts = true;  // the master is on the host's /dev/pts, not the jail's
    ExitStatus status;
  };
  // Runs argv in the jail on a terminal of 30 rows and 100 columns, to its end.
  Result<OnTerminal> exec_on_terminal(const Jail& jail, std::vector<std::string> argv,
                                      const std::string& last) {
    int sp[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) != 0)
      return fail_errno("test", "socketpair");
    UniqueFd ours(sp[0]), theirs(sp[1]);
    auto e = cmd(std::move(argv));
    e.tty = Terminal{theirs.get(), 30, 100};
    auto x = backend_->exec(jail.handle(), e);
    if (!x) return fail(x.error());
    theirs.reset();
    auto master = LJ_TRY(receive_terminal(ours.get()));
    OnTerminal t;
    struct stat m {}, host {};
    if (::fstat(master.get(), &m) != 0 || ::stat("/dev/pts", &host) != 0)
      return fail_errno("test", "stat the master and /dev/pts");
    t.hosts_devpts = m.st_dev == host.st_dev;
    for (;;) {
      struct pollfd p = {master.get(), POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      char buf[512];
      ssize_t n = ::read(master.get(), buf, sizeof buf);
      if (n <= 0) break;
      t.out.append(buf, static_cast<std::size_t>(n));
      if (t.out.find(last) != std::string::npos) break;
    }
    t.status = LJ_TRY((*x)->wait(5s));
    return t;
  }
};

TEST_F(ExecTest, TheProcessSeesTheJailsHostnamePidNamespaceAndFiles) {
  auto s = spec({"sh", "-c", "echo from-the-jail >/tmp/mark; exec sleep 100"});
  s.hostname = "inside";
  auto jail = sleeper(s);
  ASSERT_TRUE(jail);
  std::this_thread::sleep_for(200ms);  // the mark written
  auto r = exec(*jail, cmd({"sh", "-c", "hostname; cat /proc/1/comm; cat /tmp/mark; echo $$; "
                                        "ls /proc | grep -c '^[0-9]'"}));
  ASSERT_TRUE(r) << r.error().what();
  std::istringstream in(r->out);
  std::string host, init, mark;
  long self = 0, procs = 0;
  in >> host >> init >> mark >> self >> procs;
  EXPECT_EQ(host, "inside") << r->out;
  EXPECT_EQ(init, "lj-init") << r->out;
  EXPECT_EQ(mark, "from-the-jail") << r->out;
  EXPECT_GT(self, 2) << r->out;
  // init, the jail's sleep, the exec's sh and its ls and grep: nothing of the host.
  EXPECT_LE(procs, 5) << r->out;
  EXPECT_EQ(r->status.code, 0);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

TEST_F(ExecTest, ExitCodeSignalAndStatusFileAreReported) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  auto status = world().dir() / "exec.status";
  auto e = cmd({"sh", "-c", "exit 7"});
  e.status_file = status.string();
  auto r = exec(*jail, e);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.code, 7);
  auto f = read_status_file(status.string());
  ASSERT_TRUE(f);
  EXPECT_EQ(f->code, 7);
  r = exec(*jail, cmd({"sh", "-c", "kill -TERM $$"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.signal, SIGTERM);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

TEST_F(ExecTest, TheProcessIsInTheJailsCgroupWithTheCommandsPrivileges) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  int p[2];
  ASSERT_EQ(::pipe2(p, O_CLOEXEC), 0);
  UniqueFd rd(p[0]), wr(p[1]);
  auto e = cmd({"sh", "-c", "echo go; exec sleep 100"});
  e.stdio.out = wr.get();
  auto x = backend_->exec(jail->handle(), e);
  ASSERT_TRUE(x) << x.error().what();
  wr.reset();
  char c[3];
  ASSERT_EQ(::read(rd.get(), c, 3), 3);
  const pid_t pid = (*x)->handle().process;
  ASSERT_GT(pid, 0);
  // The jail's command: the child of init.
  std::ifstream children("/proc/" + std::to_string(jail->handle().pid) + "/task/" +
                         std::to_string(jail->handle().pid) + "/children");
  pid_t command = 0;
  children >> command;
  ASSERT_GT(command, 0);
  EXPECT_EQ(read_trimmed("/proc/" + std::to_string(pid) + "/cgroup"),
            read_trimmed("/proc/" + std::to_string(command) + "/cgroup"));
  for (const char* key : {"CapBnd:", "CapEff:", "NoNewPrivs:", "Seccomp:"})
    EXPECT_EQ(proc_line(pid, "status", key), proc_line(command, "status", key)) << key;
  for (const char* ns : {"mnt", "pid", "net", "uts", "ipc", "cgroup"}) {
    struct stat a {}, b {};
    ASSERT_EQ(::stat(("/proc/" + std::to_string(pid) + "/ns/" + ns).c_str(), &a), 0);
    ASSERT_EQ(::stat(("/proc/" + std::to_string(command) + "/ns/" + ns).c_str(), &b), 0);
    EXPECT_EQ(a.st_ino, b.st_ino) << ns;
  }
  // No descriptor of ours: 0, 1, 2 only.
  std::size_t fds = 0;
  for (const auto& d : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd"))
    (void)d, ++fds;
  EXPECT_EQ(fds, 3u);
  // It ends with its jail.
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
  auto st = (*x)->wait(5s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGKILL);
}

TEST_F(ExecTest, UserWorkdirAndEnvAreApplied) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  auto e = cmd({"sh", "-c", "id -u; pwd; echo $GREETING"});
  e.user = "nobody";
  e.workdir = "/tmp";
  e.env = {"GREETING=hello"};
  auto r = exec(*jail, e);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "65534\n/tmp\nhello\n");
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

TEST_F(ExecTest, BadInputIsTheCallersErrorAndAGoneJailIsNotFound) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  auto e = cmd({"true"});
  e.user = "mallory";
  auto x = backend_->exec(jail->handle(), e);
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().errc(), Errc::invalid_argument) << x.error().what();
  x = backend_->exec(jail->handle(), cmd({"no-such-command"}));
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().errc(), Errc::exec_failed) << x.error().what();
  x = backend_->exec(jail->handle(), cmd({}));
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().errc(), Errc::invalid_argument);
  const JailHandle h = jail->handle();
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
  x = backend_->exec(h, cmd({"true"}));
  ASSERT_FALSE(x);
  EXPECT_EQ(x.error().errc(), Errc::not_found) << x.error().what();
}

TEST_F(ExecTest, ATerminalIsAPtyOfTheJailsDevptsAndTheProcessLeadsItsSession) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  auto t = exec_on_terminal(*jail, {"sh", "-c", "tty; busybox stty size; test -t 0 && echo tty-in"},
                            "tty-in\r\n");
  ASSERT_TRUE(t) << t.error().what();
  EXPECT_FALSE(t->hosts_devpts);
  EXPECT_EQ(t->out, "/dev/pts/0\r\n30 100\r\ntty-in\r\n");
  EXPECT_EQ(t->status.code, 0);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

// A jail whose root is a chroot in the spawner's own mount namespace (JoinedNamespaces::mnt
// naming it, runc's mode for a config without a mount namespace): an exec cannot get that root by
// joining the mount namespace (the host's), so it chroots into the jail's init's root. It sees
// the jail's files, "/.." is "/", its mount namespace is ours, its terminal is the jail's devpts.
TEST_F(ExecTest, AJailWhoseRootIsAChrootInOurMountNamespaceIsExecutedIntoThatRoot) {
  UniqueFd own(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(own);
  std::ofstream(world().dir() / "host-only") << "h";
  std::ofstream(world().world() / "jail-root-marker") << "j";
  auto s = spec({"sh", "-c", "echo from-the-jail >/tmp/mark; exec sleep 100"});
  s.join.mnt = own.get();
  auto jail = sleeper(s);
  ASSERT_TRUE(jail);
  std::this_thread::sleep_for(200ms);  // the mark written
  const std::string host_only = (world().dir() / "host-only").string();
  auto e = cmd({"sh", "-c", "cat /tmp/mark; pwd; cd /..; test -e jail-root-marker && echo at-root; test -e " + host_only +
                                " && echo host; readlink /proc/self/ns/mnt"});
  e.workdir = "/tmp";
  auto r = exec(*jail, e);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "from-the-jail\n/tmp\nat-root\n" +
                        std::filesystem::read_symlink("/proc/self/ns/mnt").string() + "\n");
  EXPECT_EQ(r->status.code, 0);

  auto t = exec_on_terminal(*jail, {"sh", "-c", "tty; cat /tmp/mark"}, "from-the-jail\r\n");
  ASSERT_TRUE(t) << t.error().what();
  EXPECT_FALSE(t->hosts_devpts);
  EXPECT_EQ(t->out, "/dev/pts/0\r\nfrom-the-jail\r\n");
  EXPECT_EQ(t->status.code, 0);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

TEST_F(ExecTest, AnAdoptedExecReportsItsExitFromTheStatusFile) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  auto status = world().dir() / "adopted.status";
  auto e = cmd({"sh", "-c", "sleep 0.3; exit 5"});
  e.status_file = status.string();
  auto x = backend_->exec(jail->handle(), e);
  ASSERT_TRUE(x) << x.error().what();
  auto adopted = backend_->adopt_exec((*x)->handle());
  ASSERT_TRUE(adopted) << adopted.error().what();
  auto st = (*adopted)->wait(5s);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 5);
  st = (*x)->wait(5s);  // reaps the monitor, our child
  ASSERT_TRUE(st);
  EXPECT_EQ(st->code, 5);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

// A failed clone of the monitor gives back what the exec took (the descriptor block, the stacks,
// the non-dumpable mm): the next exec runs, and the mm is as it was.
TEST_F(ExecTest, AFailedCloneOfTheMonitorLeavesNothingTaken) {
  auto jail = sleeper();
  ASSERT_TRUE(jail);
  const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  lj::sys::inject_fault("clone", EAGAIN);
  auto x = backend_->exec(jail->handle(), cmd({"true"}));
  ASSERT_FALSE(x);
  EXPECT_NE(x.error().what().find("clone3"), std::string::npos) << x.error().what();
  EXPECT_EQ(lj::sys::faults_fired(), 1);
  lj::sys::clear_faults();
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
  for (int i = 0; i < 10; ++i) {  // more than the pools keep
    auto r = exec(*jail, cmd({"sh", "-c", "exit 3"}));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->status.code, 3);
  }
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

// A jail with a user namespace: the monitor joins it from our memory (setns CLONE_NEWUSER from a
// CLONE_VM child, exec.cpp); the process is root of the jail's namespace, mapped as the jail's.
TEST_F(ExecTest, AnExecJoinsTheJailsUserNamespace) {
  if (auto why = lj::test::user_namespaces_missing(); !why.empty()) GTEST_SKIP() << why;
  auto s = spec({"sleep", "100"});
  s.userns = UserNamespace{100000, 100000, 65536};
  auto jail = sleeper(s);
  ASSERT_TRUE(jail);
  auto r = exec(*jail, cmd({"sh", "-c", "id -u; cat /proc/self/uid_map; readlink /proc/self/ns/user"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out.rfind("0\n", 0), 0u) << r->out;
  EXPECT_NE(r->out.find("100000"), std::string::npos) << r->out;
  char ns[64] = {};
  const std::string theirs = "/proc/" + std::to_string(jail->handle().pid) + "/ns/user";
  ASSERT_GT(::readlink(theirs.c_str(), ns, sizeof ns - 1), 0);
  EXPECT_NE(r->out.find(ns), std::string::npos) << r->out;
  EXPECT_EQ(r->status.code, 0);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

// A script for a process of the jail: finds the process named `comm` with its own capabilities
// (a command past its capset, still before its execve), then says "found=/proc/N" and whether
// it could read that process's environ and maps (ptrace access).
std::string reach_probe(const std::string& comm) {
  return R"sh(
    me=$(grep CapEff /proc/self/status); i=0; found=
    while [ -z "$found" ] && [ $i -lt 250 ]; do
      for p in /proc/[0-9]*; do
        [ "$(cat $p/comm 2>/dev/null)" = )sh" + comm + R"sh( ] && [ "$(grep CapEff $p/status)" = "$me" ] && found=$p
      done
      i=$((i+1)); [ -z "$found" ] && sleep 0.02
    done
    sleep 0.2
    echo "found=$found"
    cat $found/environ >/dev/null 2>&1 && echo environ-read
    cat $found/maps >/dev/null 2>&1 && echo maps-read
    true)sh";
}

// The process runs our memory from its clone until its execve (exec.cpp), its last steps there
// with the jail's uid and capabilities: the jail's other processes must not reach that memory
// through /proc (environ, maps: ptrace access, as /proc/PID/mem and ptrace itself). A command that
// is a FIFO holds the process there (the check for magic links opens it) until it is written.
TEST_F(ExecTest, TheJailCannotReachTheProcessBeforeItsExec) {
  auto jail = sleeper(spec({"sh", "-c", "busybox mkfifo /tmp/hold; exec sleep 100"}));
  ASSERT_TRUE(jail);
  const std::string fifo = "/proc/" + std::to_string(jail->handle().pid) + "/root/tmp/hold";
  for (int i = 0; i < 100 && ::access(fifo.c_str(), F_OK) != 0; ++i) std::this_thread::sleep_for(20ms);
  const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  std::optional<Result<Ran>> held;
  std::thread holder([&] { held = exec(*jail, cmd({"/tmp/hold"})); });
  // The held process: the jail's only "lj-exec" (the monitor's name, not yet its command's).
  auto probe = exec(*jail, cmd({"sh", "-c", reach_probe("lj-exec")}));
  if (clone_run_supported() && dumpable == 1) {
    EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  }
  {
    UniqueFd w(::open(fifo.c_str(), O_WRONLY | O_CLOEXEC));  // lets the held process on
    EXPECT_TRUE(w) << fifo;
    if (w) {
      EXPECT_EQ(::write(w.get(), "x\n", 2), 2);
    }
  }
  holder.join();
  ASSERT_TRUE(probe) << probe.error().what();
  EXPECT_NE(probe->out.find("found=/proc/"), std::string::npos) << probe->out;
  EXPECT_EQ(probe->out.find("environ-read"), std::string::npos) << probe->out;
  EXPECT_EQ(probe->out.find("maps-read"), std::string::npos) << probe->out;
  ASSERT_TRUE(held && !*held);  // a FIFO is not executable
  EXPECT_EQ((*held).error().errc(), Errc::exec_failed) << (*held).error().what();
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
  jail->signal(SIGKILL, true);
  ASSERT_TRUE(jail->wait());
}

// The same for a jail's command in a joined pid namespace (JoinedNamespaces::pid, an OCI
// runtime's shared namespace): it runs our memory from init's clone until its execve, in reach of
// the processes already in that namespace. Held on a FIFO in the world the same way.
TEST_F(ExecTest, AJoinedPidNamespaceCannotReachTheCommandBeforeItsExec) {
  const auto fifo = world().world() / "tmp" / "hold-join";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  // The first jail stays up after its probe: its end would kill the held command (its pid
  // namespace's end) before the FIFO lets it on.
  auto first = start(spec({"sh", "-c", reach_probe("lj-init") + "; echo probed; exec sleep 100"}));
  ASSERT_TRUE(first) << first.error().what();
  const std::string ns = "/proc/" + std::to_string(first->jail->handle().pid) + "/ns/pid";
  UniqueFd pidns(::open(ns.c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(pidns);
  const int dumpable = ::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
  auto second = spec({"/tmp/hold-join"});
  second.join.pid = pidns.get();
  std::optional<Result<std::unique_ptr<Jail>>> held;
  std::thread holder([&] { held = backend_->spawn(second); });
  std::string out;
  char buf[4096];
  for (ssize_t n; out.find("probed\n") == std::string::npos &&
                 (n = ::read(first->out.get(), buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<std::size_t>(n));
  if (clone_run_supported() && dumpable == 1) {
    EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), 0);
  }
  // The FIFO as the second jail sees it (a pipe belongs to the overlay's inode, not the world's):
  // through the root of its init, our child other than the first jail's.
  std::string theirs;
  for (const auto& t : std::filesystem::directory_iterator("/proc/self/task")) {
    std::ifstream in(t.path() / "children");
    for (pid_t c; in >> c;)
      if (c != first->jail->handle().pid) theirs = "/proc/" + std::to_string(c) + "/root/tmp/hold-join";
  }
  {
    UniqueFd w(::open(theirs.c_str(), O_WRONLY | O_CLOEXEC));  // lets the held command on
    EXPECT_TRUE(w) << theirs;
    if (w) {
      EXPECT_EQ(::write(w.get(), "x\n", 2), 2);
    }
  }
  holder.join();
  first->jail->signal(SIGKILL, true);
  ASSERT_TRUE(first->jail->wait());
  EXPECT_NE(out.find("found=/proc/"), std::string::npos) << out;
  EXPECT_EQ(out.find("environ-read"), std::string::npos) << out;
  EXPECT_EQ(out.find("maps-read"), std::string::npos) << out;
  ASSERT_TRUE(held && !*held);  // a FIFO is not executable
  EXPECT_EQ((*held).error().errc(), Errc::exec_failed) << (*held).error().what();
  EXPECT_EQ(::prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), dumpable);
  ::unlink(fifo.c_str());
}

}  // namespace
}  // namespace lj::jail::test
