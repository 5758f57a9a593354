// Privileged tests of the Linux backend on the real kernel: isolation, exit status, the root's
// layers, volumes, and that a failed start releases everything.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <map>
#include <thread>

#include "jail/linux/child.hpp"
#include "jail/linux/clone_run.hpp"
#include "jail_fixture.hpp"

namespace lj::jail::test {
namespace {
namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_F(JailTest, CommandIsInitsChildAndSeesNoHostProcess) {
  auto r = run(probe({"pid"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "2 1\n");
  EXPECT_EQ(r->status.code, 0);
  r = run(probe({"ps"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "1 2\n");
}

TEST_F(JailTest, HostnameDefaultsToNameOrIsSet) {
  auto s = probe({"hostname"});
  std::string name = s.name;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, name + "\n");
  s = probe({"hostname"});
  s.hostname = "box.example";
  r = run(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "box.example\n");
}

TEST_F(JailTest, NoneNetworkHasOnlyLoopbackAndItIsUp) {
  auto r = run(probe({"ifaces"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "lo\n");
  r = run(probe({"cat", "/sys/class/net/lo/operstate"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "unknown\n");  // loopback's "up" (it has no carrier to report)
}

TEST_F(JailTest, HostFilesOutsideTheRootAreUnreachable) {
  fs::path secret = world().dir() / "secret";
  std::ofstream(secret) << "host\n";
  const std::string abs = secret.string();
  for (const std::string& path : std::vector<std::string>{
           abs, "/../secret", "/../../" + abs, "/proc/1/root" + abs, "/proc/self/root" + abs}) {
    auto r = run(probe({"exists", path}));
    ASSERT_TRUE(r) << r.error().what();
    EXPECT_EQ(r->out, "no\n") << path;
  }
  auto r = run(probe({"chroot-escape", abs}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "unreachable\n");
}

// JoinedNamespaces::mnt naming the spawner's own mount namespace: the root is assembled in it
// under /run/lj-host-roots/<name> and chrooted into (the command sees the world as /), and the
// jail's teardown leaves no mount of it and no directory.
TEST_F(JailTest, TheSpawnersOwnMountNamespaceGetsAChrootRootDetachedAtTeardown) {
  UniqueFd own(::open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(own);
  JailSpec s = probe({"exists", "/bin/probe"});
  s.join.mnt = own.get();
  const std::string scratch = "/run/lj-host-roots/" + s.name;
  auto started = start(s, true);
  ASSERT_TRUE(started) << started.error().what();
  std::ifstream info("/proc/self/mountinfo");
  std::stringstream text;
  text << info.rdbuf();
  EXPECT_NE(text.str().find(" " + scratch + " "), std::string::npos);  // the host's, meanwhile
  auto st = started->jail->wait();
  ASSERT_TRUE(st) << st.error().what();
  char buf[64] = {};
  EXPECT_EQ(std::string(buf, static_cast<std::size_t>(::read(started->out.get(), buf, sizeof buf))),
            "yes\n");
  std::ifstream after("/proc/self/mountinfo");
  std::stringstream left;
  left << after.rdbuf();
  EXPECT_EQ(left.str().find(scratch), std::string::npos);
  EXPECT_FALSE(fs::exists(scratch));
}

TEST_F(JailTest, MountMknodAndSysrqAreRefused) {
  auto r = run(probe({"mount"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "mount: EPERM\n");
  EXPECT_EQ(r->status.code, 1);
  r = run(probe({"mknod"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "mknod: EPERM\n");
  // Read-only where this kernel has it (CONFIG_MAGIC_SYSRQ); absent here otherwise.
  r = run(probe({"write", "/proc/sysrq-trigger", "h"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, fs::exists("/proc/sysrq-trigger") ? "open: EROFS\n" : "open: ENOENT\n");
  r = run(probe({"write", "/proc/sys/kernel/hostname", "x"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "open: EROFS\n");
  ASSERT_TRUE(fs::exists("/proc/timer_list"));
  r = run(probe({"cat", "/proc/timer_list"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "");  // masked by /dev/null
}

TEST_F(JailTest, CapabilitiesAreTheDefaultSetWithNoNewPrivs) {
  auto r = run(probe({"caps"}));
  ASSERT_TRUE(r) << r.error().what();
  char want[64];
  std::snprintf(want, sizeof want, "%016llx",
                static_cast<unsigned long long>(default_capabilities()));
  EXPECT_EQ(r->out, std::string("CapEff:\t") + want + "\nCapBnd:\t" + want + "\nNoNewPrivs:\t1\n");
}

// A jail's command runs our memory on the spawning thread's block (its errno) until its execve
// (clone_sharing_memory), so the spawning thread must not run meanwhile, not even a signal
// handler: one that saves errno and restores it, as handlers must, writes a stale value over the
// command's (CI's soak lost jails so: "execve sh: Bad file descriptor"). This handler watches
// instead of writing: errno changing while it runs can only be another process's write.
std::atomic<int> g_errno_changed_under_handler{0};
std::atomic<int> g_handler_runs{0};
void watch_errno(int) {
  const int before = errno;
  for (int i = 0; i < 20000; ++i) __asm__ volatile("" ::: "memory");  // ~20 us, not optimized out
  if (errno != before) g_errno_changed_under_handler.fetch_add(1);
  g_handler_runs.fetch_add(1);
}

TEST_F(JailTest, NoHandlerOfTheSpawningThreadRunsWhileTheCommandSharesItsErrno) {
  if (!clone_run_supported())
    GTEST_SKIP() << "this build spawns by copy (sanitized, or no clone_run here): nothing shared";
  // A PATH that keeps the command's search writing errno, with changing values: ENOENT for a
  // missing directory, ENOTDIR through a file.
  std::string path = "PATH=";
  for (int i = 0; i < 100; ++i) path += "/nx" + std::to_string(i) + ":/bin/probe:";
  path += "/bin";
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = watch_errno;
  sa.sa_flags = SA_RESTART;
  ASSERT_EQ(::sigaction(SIGUSR1, &sa, &old), 0);
  const pid_t self = ::getpid(), tid = static_cast<pid_t>(::syscall(SYS_gettid));
  std::atomic<bool> pinging{false}, done{false};
  std::thread pinger([&] {
    while (!done) {
      if (pinging) ::syscall(SYS_tgkill, self, tid, SIGUSR1);
      ::usleep(20);
    }
  });
  for (int i = 0; i < 20; ++i) {
    auto s = probe({"pid"});
    s.argv[0] = "probe";
    s.env = {path};
    pinging = true;
    auto started = start(s, true);
    pinging = false;
    ASSERT_TRUE(started) << started.error().what();
    // A signal sent late would interrupt the wait, which is not what this test is about.
    sigset_t usr1, prev;
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ::pthread_sigmask(SIG_BLOCK, &usr1, &prev);
    auto st = started->jail->wait();
    ::pthread_sigmask(SIG_SETMASK, &prev, nullptr);
    ASSERT_TRUE(st) << st.error().what();
    EXPECT_EQ(st->code, 0);
  }
  done = true;
  pinger.join();
  ::sigaction(SIGUSR1, &old, nullptr);
  EXPECT_GT(g_handler_runs.load(), 0) << "no signal reached the spawning thread: nothing shown";
  EXPECT_EQ(g_errno_changed_under_handler.load(), 0)
      << "the spawning thread ran a handler while a command wrote its errno";
}

TEST_F(JailTest, ExitCodeAndSignalPropagateExactly) {
  auto r = run(probe({"exit", "42"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.code, 42);
  EXPECT_EQ(r->status.signal, 0);
  EXPECT_EQ(r->status.shell_status(), 42);
  r = run(probe({"kill-self", "9"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status.code, -1);
  EXPECT_EQ(r->status.signal, 9);
  EXPECT_EQ(r->status.shell_status(), 137);
  r = run(probe({"kill-self", "15"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status.signal, 15);
  EXPECT_FALSE(r->status.oom);
  EXPECT_FALSE(r->status.timed_out);
}

TEST_F(JailTest, NoDescriptorIsInheritedBesidesStdio) {
  UniqueFd leak(::open("/dev/null", O_RDONLY));  // deliberately not close-on-exec
  ASSERT_TRUE(leak);
  auto r = run(probe({"fds"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "0 1 2\n");
}

TEST_F(JailTest, UserGroupWorkdirAndEnvironment) {
  auto s = probe({"id"});
  s.uid = 65534;
  s.gid = 65534;
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "65534 65534\n");
  s = probe({"cwd"});
  s.workdir = "/tmp";
  r = run(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "/tmp\n");
  s = spec({"sh", "-c", "echo $GREETING $PATH"});  // found through PATH
  s.env = {"GREETING=hi"};
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "hi /usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
}

TEST_F(JailTest, ScriptRunsWithItsInterpreterOnAReadOnlyRoot) {
  auto s = spec({});
  s.argv.clear();
  s.script = "#!/bin/sh -e\necho $((40 + 2))\nexit 3\n";
  s.root.writable = WritableLayer::none();
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "42\n");
  EXPECT_EQ(r->status.code, 3);
  s = spec({});
  s.argv.clear();
  s.script = "echo default shell\n";
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "default shell\n");
}

TEST_F(JailTest, OverlayWritesAreDiscardedButAWritableDirKeepsThem) {
  auto r = run(probe({"write", "/data.txt", "hello"}));
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "ok\n");
  EXPECT_FALSE(fs::exists(world().world() / "data.txt"));
  r = run(probe({"cat", "/data.txt"}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "open: ENOENT\n");

  fs::path stage = world().mkdir("stage");
  auto s = probe({"write", "/data.txt", "kept"});
  s.root.writable = WritableLayer::host_dir(stage);
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(slurp(stage / "upper/data.txt"), "kept");
  EXPECT_FALSE(fs::exists(world().world() / "data.txt"));

  // The staged layer stacks as a lower layer of the next jail.
  s = probe({"cat", "/data.txt"});
  s.root.layers.push_back(stage / "upper");
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "kept");
}

TEST_F(JailTest, ReadOnlyRootAndWritableLower) {
  auto s = probe({"write", "/x", "1"});
  s.root.writable = WritableLayer::none();
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "open: EROFS\n");
  s = probe({"write", "/x", "1"});
  s.root.writable = WritableLayer::in_place();
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "ok\n");
  EXPECT_EQ(slurp(world().world() / "x"), "1");
}

TEST_F(JailTest, VolumesReadWriteAndReadOnly) {
  fs::path rw = world().mkdir("rw"), ro = world().mkdir("ro");
  std::ofstream(ro / "f") << "ro-data";
  auto s = probe({"write", "/mnt/rw/out", "v"});
  s.root.volumes = {{rw, "/mnt/rw", false}, {ro, "/srv/ro", true}};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "ok\n");
  EXPECT_EQ(slurp(rw / "out"), "v");
  s = probe({"write", "/srv/ro/f", "x"});
  s.root.volumes = {{ro, "/srv/ro", true}};
  r = run(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "open: EROFS\n");
  s = probe({"cat", "/srv/ro/f"});
  s.root.volumes = {{ro, "/srv/ro", true}};
  r = run(s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->out, "ro-data");
}

// Each mount point of a /proc/self/mountinfo text with its per-mount options as ",a,b,".
std::map<std::string, std::string> mount_options(const std::string& mountinfo) {
  std::map<std::string, std::string> out;
  std::istringstream lines(mountinfo);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string id, parent, dev, root, target, options;
    fields >> id >> parent >> dev >> root >> target >> options;
    out[target] = "," + options + ",";
  }
  return out;
}

// A volume is a host path the jail's root can write: a set-id file or a device node made there
// (by the jail, or by anyone on the host) must give nothing inside (issue 17). Both mounts, rw
// and ro, are nosuid,nodev; a node of /dev/null's numbers in it opens nothing. (The sources are
// under /tmp: on a host whose /tmp is itself nosuid,nodev the binds would inherit both, and this
// test would pass without ljd's remount; on this project's hosts /tmp is the root's ext4.)
TEST_F(JailTest, VolumesAreNosuidAndNodev) {
  fs::path rw = world().mkdir("rw-dev"), ro = world().mkdir("ro-dev");
  ASSERT_EQ(::mknod((rw / "null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)), 0)
      << std::strerror(errno);
  auto s = probe({"cat", "/proc/self/mountinfo"});
  s.root.volumes = {{rw, "/mnt/rw", false}, {ro, "/srv/ro", true}};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  auto opts = mount_options(r->out);
  for (const char* target : {"/mnt/rw", "/srv/ro"}) {
    ASSERT_TRUE(opts.count(target)) << target << " not mounted:\n" << r->out;
    EXPECT_NE(opts[target].find(",nosuid,"), std::string::npos) << target << opts[target];
    EXPECT_NE(opts[target].find(",nodev,"), std::string::npos) << target << opts[target];
  }
  s = probe({"cat", "/mnt/rw/null"});
  s.root.volumes = {{rw, "/mnt/rw", false}};
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out, "open: EACCES\n");
}

// A volume's noexec and access-time choice are the mount's (an OCI bind's options): nothing on
// a noexec volume executes, and the atime flags are the requested ones, not the host's.
TEST_F(JailTest, VolumesTakeNoexecAndAnAtimeChoice) {
  fs::path a = world().mkdir("vol-noexec"), b = world().mkdir("vol-strict");
  auto s = probe({"cat", "/proc/self/mountinfo"});
  s.root.volumes = {{a, "/mnt/a", false}, {b, "/mnt/b", true}};
  s.root.volume_options = {{"/mnt/a", true, "noatime"}, {"/mnt/b", false, "strictatime"}};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  auto opts = mount_options(r->out);
  ASSERT_TRUE(opts.count("/mnt/a") && opts.count("/mnt/b")) << r->out;
  EXPECT_NE(opts["/mnt/a"].find(",noexec,"), std::string::npos) << opts["/mnt/a"];
  EXPECT_NE(opts["/mnt/a"].find(",noatime,"), std::string::npos) << opts["/mnt/a"];
  EXPECT_EQ(opts["/mnt/b"].find(",noexec,"), std::string::npos) << opts["/mnt/b"];
  EXPECT_EQ(opts["/mnt/b"].find("atime,"), std::string::npos) << opts["/mnt/b"];  // no relatime/noatime
}

// Grants::nodes: nodes of the caller's type, numbers, mode and owner in the jail's /dev, whether
// or not the host has such a device (runtime-tools' linux_devices: c 10:666, b 8:666, a FIFO, mode
// 0660), the parents of a nested one made, and one of the engine's paths replaced by the caller's.
TEST_F(JailTest, DeviceNodesHaveTheirTypeNumbersModeAndOwner) {
  auto s = spec({"sh", "-c",
                 "for f in /dev/test1 /dev/test2 /dev/test3 /dev/sub/dir/n /dev/zero; do "
                 "stat -c '%n %F %t:%T %a %u:%g' $f; done"});
  s.grants.nodes = {{"/dev/test1", 'c', 10, 666, 0660, 0, 0},
                    {"/dev/test2", 'b', 8, 666, 0660, 5, 6},
                    {"/dev/test3", 'p', 0, 0, 0640, 7, 8},
                    {"/dev/sub/dir/n", 'c', 1, 3, 0606, 0, 0},
                    {"/dev/zero", 'c', 1, 5, 0600, 9, 9}};
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->out,
            "/dev/test1 character special file a:29a 660 0:0\n"
            "/dev/test2 block special file 8:29a 660 5:6\n"
            "/dev/test3 fifo 0:0 640 7:8\n"
            "/dev/sub/dir/n character special file 1:3 606 0:0\n"
            "/dev/zero character special file 1:5 600 9:9\n");
  EXPECT_EQ(r->status.code, 0);
  // A node of /dev/null's numbers made this way opens as that device.
  s = probe({"write", "/dev/mine", "x"});
  s.grants.nodes = {{"/dev/mine", 'c', 1, 3, 0666, 0, 0}};
  r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->status.code, 0) << r->out;
  // Nothing but a plain path under /dev, of a known type.
  s = probe({"true"});
  s.grants.nodes = {{"/dev/../etc/x", 'c', 1, 3, 0666, 0, 0}};
  EXPECT_FALSE(run(s));
  s.grants.nodes = {{"/dev/x", 's', 1, 3, 0666, 0, 0}};
  EXPECT_FALSE(run(s));
}

TEST_F(JailTest, VolumeTargetThroughASymlinkIsRefused) {
  fs::create_symlink("/etc", world().world() / "evil");
  fs::path rw = world().mkdir("rw");
  auto s = probe({"true"});
  s.root.volumes = {{rw, "/evil/x", false}};
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("create mount point evil: "), std::string::npos)
      << r.error().what();
  EXPECT_FALSE(fs::exists("/etc/x"));
}

TEST_F(JailTest, VolumeSourceThroughASymlinkIsRefused) {
  // A host path that is (or passes through) a symlink is refused when the plan is made...
  fs::path secret = world().mkdir("secret");
  std::ofstream(secret / "f") << "host-secret";
  fs::path link = secret.parent_path() / "link-to-secret";
  fs::create_symlink(secret, link);
  auto s = probe({"cat", "/mnt/v/f"});
  s.root.volumes = {{link, "/mnt/v", true}};
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("passes through a symlink"), std::string::npos)
      << r.error().what();
  s.root.volumes = {{link / "f", "/mnt/v/f", true}};
  r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("passes through a symlink"), std::string::npos)
      << r.error().what();
}

TEST_F(JailTest, VolumeSwappedForASymlinkAfterTheCheckBindsNothing) {
  // ...and one swapped in between the plan and the mount (a race the caller lost) binds nothing:
  // the child opens the source with RESOLVE_NO_SYMLINKS and binds that descriptor.
  fs::path secret = world().mkdir("secret2");
  std::ofstream(secret / "f") << "host-secret";
  fs::path vol = world().mkdir("vol");
  std::ofstream(vol / "f") << "benign";
  fs::path spare = vol.parent_path() / "vol-real";
  std::atomic<bool> go{true};
  std::thread swapper([&] {
    fs::path link = vol.parent_path() / "vol-link";
    fs::create_symlink(secret, link);
    while (go) {
      ::rename(vol.c_str(), spare.c_str());
      ::rename(link.c_str(), vol.c_str());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
      ::rename(vol.c_str(), link.c_str());
      ::rename(spare.c_str(), vol.c_str());
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  });
  int ran = 0, refused = 0;
  for (int i = 0; i < 60; ++i) {
    auto s = probe({"cat", "/mnt/v/f"});
    s.root.volumes = {{vol, "/mnt/v", true}};
    auto r = run(s);
    if (!r) {
      ++refused;  // the swap was seen: refused at the plan or ELOOP at the bind
      if (refused == 1) std::printf("first refusal: %s\n", r.error().what().c_str());
      continue;
    }
    ++ran;
    EXPECT_EQ(r->out.find("host-secret"), std::string::npos) << "run " << i << ": " << r->out;
  }
  go = false;
  swapper.join();
  std::printf("volume swap race: %d ran, %d refused, none read the host file\n", ran, refused);
}

// ProcessOptions::hold_fd (ljoci's create, then start): the spawn returns with the command held
// before its exec; one byte starts it (and it gets no descriptor beyond stdio); every writer gone
// without a byte ends it with 127 and a line on its stderr. The FreeBSD backend's counterparts:
// tests/freebsd/backend_test.cpp, Held*.
TEST_F(JailTest, HeldCommandRunsOnlyOnceStartedAndEndsWithoutAByte) {
  for (bool give_byte : {true, false}) {
    int hp[2];
    ASSERT_EQ(::pipe2(hp, O_CLOEXEC), 0);
    UniqueFd hold_r(hp[0]), hold_w(hp[1]);
    auto s = probe({"fds"});
    s.process.hold_fd = hold_r.get();
    auto started = start(s, /*merge_stderr=*/true);
    ASSERT_TRUE(started) << started.error().what();
    struct pollfd p = {started->out.get(), POLLIN, 0};
    EXPECT_EQ(::poll(&p, 1, 300), 0) << "the held command ran before its start";
    if (give_byte) {
      ASSERT_EQ(::write(hold_w.get(), "0", 1), 1);
    }
    hold_w.reset();
    std::string out;  // to EOF: the command's end (ctest's timeout, should it never come)
    char buf[4096];
    for (ssize_t n; (n = ::read(started->out.get(), buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<std::size_t>(n));
    auto st = started->jail->wait(std::chrono::seconds(10));
    ASSERT_TRUE(st) << st.error().what();
    if (give_byte) {
      EXPECT_EQ(st->code, 0) << out;
      EXPECT_EQ(out, "0 1 2\n");
    } else {
      EXPECT_EQ(st->code, 127) << out;
      EXPECT_NE(out.find("ljoci: not started"), std::string::npos) << out;
    }
  }
}

// A missing executable fails a held spawn itself, before the hold (runc's create does).
TEST_F(JailTest, HeldMissingExecutableFailsTheSpawn) {
  int hp[2];
  ASSERT_EQ(::pipe2(hp, O_CLOEXEC), 0);
  UniqueFd hold_r(hp[0]), hold_w(hp[1]);  // the writer stays: a hold would never end
  auto s = spec({"/no/such/command"});
  s.process.hold_fd = hold_r.get();
  auto r = backend_->spawn(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("/no/such/command"), std::string::npos) << r.error().what();
}

TEST_F(JailTest, ChildSideFailureNamesTheStep) {
  auto r = run(spec({"/no/such/command"}));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno(), ENOENT);
  EXPECT_NE(r.error().what().find("execve /no/such/command"), std::string::npos)
      << r.error().what();
  auto s = probe({"true"});
  s.workdir = "/nonexistent";
  r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("chdir /nonexistent"), std::string::npos) << r.error().what();
}

TEST_F(JailTest, FailedCloneReleasesTheCgroups) {
  auto s = probe({"true"});
  s.limits.pids = 64;
  s.limits.memory_bytes = 64 << 20;
  lj::sys::inject_fault("clone", EAGAIN);
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("clone3"), std::string::npos) << r.error().what();
  EXPECT_EQ(lj::sys::faults_fired(), 1);
  // TearDown asserts that no cgroup named after the jail is left.
}

TEST_F(JailTest, FailedCgroupLimitReleasesWhatWasMade) {
  auto s = probe({"true"});
  s.limits.pids = 64;
  s.limits.memory_bytes = 64 << 20;
  lj::sys::inject_fault("write", EINVAL, 1);  // the second limit written
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().sys_errno(), EINVAL);
}

TEST_F(JailTest, SignalReachesTheCommandAndKillEndsTheJail) {
  auto s = probe({"sleep", "30"});
  auto jail = backend_->spawn(s);
  ASSERT_TRUE(jail) << jail.error().what();
  ASSERT_TRUE((*jail)->signal(SIGTERM, false));
  auto st = (*jail)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->signal, SIGTERM);

  // SIGPIPE is not one init forwards: it goes to the command directly.
  jail = backend_->spawn(probe({"sleep", "30"}));
  ASSERT_TRUE(jail);
  ASSERT_TRUE((*jail)->signal(SIGPIPE, false));
  st = (*jail)->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal, SIGPIPE);

  jail = backend_->spawn(probe({"sleep", "30"}));
  ASSERT_TRUE(jail);
  auto none = (*jail)->poll();
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->has_value());
  auto early = (*jail)->wait(std::chrono::milliseconds(20));
  ASSERT_FALSE(early);
  EXPECT_EQ(early.error().errc(), Errc::timed_out);
  ASSERT_TRUE((*jail)->signal(SIGKILL, true));
  st = (*jail)->wait();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->signal, SIGKILL);
}

TEST_F(JailTest, StatusFileRecordsTheExit) {
  fs::path f = world().dir() / "status";
  auto s = probe({"exit", "7"});
  s.status_file = f.string();
  auto r = run(s);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(slurp(f), "exited 7\n");
}

TEST_F(JailTest, InvalidSpecsAreRejectedBeforeTheKernel) {
  auto s = probe({"true"});
  s.name = "bad/name";
  auto r = run(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
  s = probe({"true"});
  s.script = "echo both";
  EXPECT_FALSE(run(s));
}

}  // namespace
}  // namespace lj::jail::test

namespace lj::jail::test {
namespace {

TEST_F(JailTest, AdoptedJailReportsItsExitFromTheStatusFile) {
  fs::path f = world().dir() / "status";
  auto s = spec({"sh", "-c", "sleep 0.3; exit 5"});
  s.status_file = f.string();
  auto first = backend_->spawn(s);
  ASSERT_TRUE(first) << first.error().what();
  JailHandle h = (*first)->handle();
  EXPECT_GT(h.start_time, 0u);
  auto adopted = backend_->adopt(h);  // as a restarted daemon would
  ASSERT_TRUE(adopted) << adopted.error().what();
  auto st = (*adopted)->wait();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->code, 5);
  EXPECT_FALSE(st->lost);
  EXPECT_TRUE((*first)->wait());

  JailHandle stale = h;
  stale.start_time += 1;  // the pid reused by another process
  auto gone = backend_->adopt(stale);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().errc(), Errc::not_found);
  EXPECT_TRUE(backend_->release(stale));
}

}  // namespace
}  // namespace lj::jail::test

namespace lj::jail::test {
namespace {

// The daemon spawns from several threads at once: the child must not need any lock another
// thread could hold at clone time, and no jail may see another's descriptors.
TEST_F(JailTest, ConcurrentSpawnsFromSeveralThreads) {
  std::vector<JailSpec> specs;
  for (int i = 0; i < 16; ++i) {
    auto s = probe({"fds"});
    s.uid = 1000;  // exercises setgroups/setresuid in the child
    s.gid = 1000;
    if (i % 2) s.limits.pids = 64;
    specs.push_back(s);
  }
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < 16; i += 4) {
        auto r = run(specs[static_cast<std::size_t>(i)]);
        if (r && r->out == "0 1 2\n" && r->status.code == 0) ++good;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 16);
}

// Init copies only the descriptors below the backend's reserved blocks (FdBlocks in backend.cpp),
// and a spawn that finds no free block copies the whole table: both must hand the jail exactly
// its stdio, however many descriptors the spawner holds above and below.
TEST_F(JailTest, ManyDescriptorsAndMoreSpawnsAtOnceThanReservedBlocks) {
  std::vector<UniqueFd> held;
  for (int i = 0; i < 500; ++i) held.emplace_back(::open("/dev/null", O_RDONLY));  // inheritable
  ASSERT_TRUE(held.back());
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) {
        auto r = run(probe({"fds"}));
        if (r && r->out == "0 1 2\n" && r->status.code == 0) ++good;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(good.load(), 24);
}

// The fixture itself: tests build specs from eight threads at once (above), and probe()/spec()
// appended their names unlocked, a data race (issue 17) that lost names or corrupted the vector.
TEST_F(JailTest, TheFixtureNamesSpecsFromManyThreadsAtOnce) {
  const std::size_t before = names_.size();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) (void)probe({"fds"});
    });
  for (auto& th : threads) th.join();
  std::lock_guard lock(names_mu_);
  EXPECT_EQ(names_.size() - before, 8u * 20000u);
  names_.resize(before);  // none of them ran: nothing for TearDown to look for
}

}  // namespace
}  // namespace lj::jail::test
