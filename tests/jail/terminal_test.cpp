// Privileged tests of a jail's terminal (JailSpec::tty) and user (JailSpec::user) on the real
// kernel: the pty is one of the jail's own devpts instance, handed back over the console socket;
// the command leads a session with it as controlling terminal; the line discipline's signals
// reach the foreground job only; the user comes from the jail's /etc/passwd and /etc/group.
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <thread>

#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {
namespace fs = std::filesystem;
using namespace std::chrono_literals;

// The master sent on the console socket (one byte, SCM_RIGHTS).
UniqueFd receive_master(int sock) {
  char byte;
  struct iovec iov = {&byte, 1};
  alignas(struct cmsghdr) char ctl[CMSG_SPACE(sizeof(int))];
  struct msghdr msg {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = ctl;
  msg.msg_controllen = sizeof ctl;
  if (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != 1) return {};
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) return {};
  int fd;
  std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
  return UniqueFd(fd);
}

class TerminalTest : public JailTest {
 protected:
  struct Tty {
    std::unique_ptr<Jail> jail;
    UniqueFd master;
  };
  Tty start_tty(JailSpec s, unsigned short rows = 0, unsigned short cols = 0) {
    int sp[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp), 0);
    UniqueFd ours(sp[0]), theirs(sp[1]);
    s.tty = Terminal{theirs.get(), rows, cols};
    auto jail = backend_->spawn(s);
    if (!jail) {
      ADD_FAILURE() << jail.error().what();
      return {};
    }
    theirs.reset();
    return {std::move(*jail), receive_master(ours.get())};
  }

  // Everything the terminal shows until `want` appears (or the slave side is gone: EIO, or 10 s).
  static std::string read_until(int master, const std::string& want = {}) {
    std::string out;
    auto end = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < end) {
      if (!want.empty() && out.find(want) != std::string::npos) break;
      struct pollfd p = {master, POLLIN, 0};
      if (::poll(&p, 1, 100) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(master, buf, sizeof buf);
      if (n <= 0) break;  // EIO: every slave descriptor is closed
      out.append(buf, static_cast<std::size_t>(n));
    }
    return out;
  }
  static void type(int master, const std::string& text) {
    ASSERT_EQ(::write(master, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  }
};

TEST_F(TerminalTest, TheTerminalIsAPtyOfTheJailsOwnDevpts) {
  auto t = start_tty(spec({"sh", "-c", "tty; busybox stty size"}), 24, 80);
  ASSERT_TRUE(t.master);
  struct stat master, host;
  ASSERT_EQ(::fstat(t.master.get(), &master), 0);
  ASSERT_EQ(::stat("/dev/pts", &host), 0);
  EXPECT_NE(master.st_dev, host.st_dev) << "the master is one of the host's devpts";
  std::string out = read_until(t.master.get());
  // The jail's instance is new: its first pty is 0, whatever the host has open.
  EXPECT_EQ(out, "/dev/pts/0\r\n24 80\r\n");
  auto st = t.jail->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 0);
}

TEST_F(TerminalTest, TheCommandLeadsASessionWithTheTerminalAsControllingTty) {
  // /proc/PID/stat: pid (comm) state ppid pgrp session tty_nr
  auto t = start_tty(
      spec({"sh", "-c", "read pid comm state ppid pgrp sid tty rest </proc/$$/stat; "
                        "echo $pid $pgrp $sid $tty; test -t 0 && test -t 1 && test -t 2 && echo all"}));
  ASSERT_TRUE(t.master);
  std::string out = read_until(t.master.get());
  std::istringstream in(out);
  long pid = 0, pgrp = 0, sid = 0, tty = 0;
  in >> pid >> pgrp >> sid >> tty;
  EXPECT_EQ(pid, 2) << out;
  EXPECT_EQ(pgrp, pid) << out;
  EXPECT_EQ(sid, pid) << out;
  EXPECT_NE(tty, 0) << out;
  EXPECT_NE(out.find("all"), std::string::npos) << out;
  ASSERT_TRUE(t.jail->wait());
}

TEST_F(TerminalTest, CtrlCInterruptsTheForegroundJobAndTheShellSurvives) {
  auto t = start_tty(spec({"sh", "-i"}), 24, 80);
  ASSERT_TRUE(t.master);
  type(t.master.get(), "sleep 100\n");
  std::this_thread::sleep_for(300ms);  // sleep running in the foreground
  type(t.master.get(), "\x03");  // ash drops the rest of an interrupted line: a new one
  type(t.master.get(), "echo after-$?\n");
  std::string out = read_until(t.master.get(), "after-130");
  EXPECT_NE(out.find("after-130"), std::string::npos) << out;
  type(t.master.get(), "echo alive; exit 7\n");
  out = read_until(t.master.get());
  EXPECT_NE(out.find("alive"), std::string::npos) << out;
  auto st = t.jail->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 7);
}

TEST_F(TerminalTest, JobControlCtrlZThenFgWorksInAShell) {
  auto t = start_tty(spec({"sh", "-i"}), 24, 80);
  ASSERT_TRUE(t.master);
  type(t.master.get(), "sleep 100\n");
  std::this_thread::sleep_for(300ms);
  type(t.master.get(), "\x1a");  // SIGTSTP to the foreground job: the shell takes the terminal back
  std::string out = read_until(t.master.get(), "Stopped");
  ASSERT_NE(out.find("Stopped"), std::string::npos) << out;
  type(t.master.get(), "fg\n");
  std::this_thread::sleep_for(300ms);
  type(t.master.get(), "\x03");
  type(t.master.get(), "echo back-$?; exit 3\n");
  out = read_until(t.master.get());
  EXPECT_NE(out.find("back-130"), std::string::npos) << out;
  auto st = t.jail->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 3);
}

TEST_F(TerminalTest, AResizeReachesTheCommand) {
  auto t = start_tty(spec({"sh", "-i"}), 24, 80);
  ASSERT_TRUE(t.master);
  struct winsize ws = {50, 132, 0, 0};
  ASSERT_EQ(::ioctl(t.master.get(), TIOCSWINSZ, &ws), 0);
  type(t.master.get(), "busybox stty size; exit\n");
  std::string out = read_until(t.master.get());
  EXPECT_NE(out.find("50 132\r\n"), std::string::npos) << out;
  ASSERT_TRUE(t.jail->wait());
}

TEST_F(TerminalTest, TheTerminalIsTheUsersAndSurvivesAsInitsCopy) {
  auto s = spec({"sh", "-c", "busybox stat -c '%u %g' $(tty); id -u"});
  s.user = "nobody";
  auto t = start_tty(std::move(s));
  ASSERT_TRUE(t.master);
  EXPECT_EQ(read_until(t.master.get()), "65534 65534\r\n65534\r\n");
  ASSERT_TRUE(t.jail->wait());
}

TEST_F(TerminalTest, ATerminalExcludesStdioDescriptors) {
  auto s = spec({"true"});
  s.tty = Terminal{};
  EXPECT_FALSE(backend_->spawn(s));
  UniqueFd null(::open("/dev/null", O_RDWR | O_CLOEXEC));
  s.tty = Terminal{null.get()};
  s.stdio.out = null.get();
  auto r = backend_->spawn(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
}

TEST_F(JailTest, UserIsResolvedInTheJailsOwnFiles) {
  std::ofstream(world().world() / "etc/passwd", std::ios::app)
      << "alice:x:1000:1000::/:/bin/sh\n";
  std::ofstream(world().world() / "etc/group")
      << "alice:x:1000:\nwheel:x:10:root,alice\naudio:x:29:alice\n";
  auto s = spec({"sh", "-c", "id -u; id -g; id -G"});
  s.user = "alice";
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "1000\n1000\n1000 10 29\n");
  s.user = "alice:29";
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "1000\n29\n29 10\n");
  s.user = "4242";  // no entry: gid 0, as Docker's
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "4242\n0\n0\n");
}

TEST_F(JailTest, AnUnknownUserFailsTheStartAsTheCallersError) {
  auto s = spec({"true"});
  s.user = "mallory";  // the host's users are never consulted either
  auto r = backend_->spawn(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
  EXPECT_NE(r.error().what().find("no user 'mallory' in the jail's /etc/passwd"), std::string::npos)
      << r.error().what();
  s.user = "root:x:y";
  r = backend_->spawn(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
}

}  // namespace
}  // namespace lj::jail::test
