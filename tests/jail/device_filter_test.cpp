// Device rules as the kernel enforces them (jail/linux/device_filter.hpp): the v1 controller's
// state computed from the rules (unit), and the cgroup v2 device program on a real cgroup2
// directory: a process in it opens what the rules allow and gets EPERM for the rest. Works on a
// hybrid host too (a device program attaches to any cgroup2 directory, controllers or not);
// skips without root, without a cgroup2 mount, or where bpf(2) is refused.
#include "jail/linux/device_filter.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/error.hpp"
#include "jail/linux/cgroup.hpp"
#include "test_world.hpp"

namespace lj::jail {
namespace {

namespace fs = std::filesystem;

std::string text(const DeviceRuleState& s) {
  std::string out = s.default_allow ? "allow" : "deny";
  for (const auto& e : s.exceptions) {
    auto num = [](std::int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
    out += std::string(", ") + e.type + " " + num(e.major) + ":" + num(e.minor) + " " + e.access;
  }
  return out;
}

// security/device_cgroup.c's list, as devices.list shows it after the same writes.
TEST(DeviceFilter, RulesReduceAsTheV1ControllerKeepsThem) {
  EXPECT_EQ(text(reduce_device_rules({})), "deny");
  EXPECT_EQ(text(reduce_device_rules({{false, 'a', -1, -1, "rwm"},
                                      {true, 'c', 10, 229, "rwm"},
                                      {true, 'b', 8, 20, "rw"},
                                      {true, 'c', 136, -1, "r"},
                                      {true, 'b', 8, 20, "m"},
                                      {false, 'c', 10, 229, "rw"},
                                      {false, 'c', 136, 1, "r"}})),
            "deny, c 10:229 m, b 8:20 rwm, c 136:* r");  // the last deny is no exact match
  // 'a' sets the default and clears the list, whatever its access ("a *:* m" allows all).
  EXPECT_EQ(text(reduce_device_rules({{true, 'c', 1, 3, "rwm"}, {true, 'a', -1, -1, "m"}})),
            "allow");
  EXPECT_EQ(text(reduce_device_rules({{true, 'a', -1, -1, "rwm"},
                                      {false, 'c', 1, 9, "r"},
                                      {false, 'c', 1, 9, "w"},
                                      {true, 'c', 1, 9, "r"}})),
            "allow, c 1:9 w");
  // The engine's nodes come after the jail's rules.
  const auto all = jail_device_rules({{false, 'a', -1, -1, "rwm"}});
  EXPECT_EQ(text(reduce_device_rules(all)),
            "deny, c *:* m, b *:* m, c 1:3 rwm, c 1:5 rwm, c 1:7 rwm, c 1:8 rwm, c 1:9 rwm, "
            "c 5:0 rwm, c 5:2 rwm, c 136:* rwm");
}

// The same writes into a real v1 devices cgroup: devices.list is the reduction (a denying
// default; an allowing one lists only "a *:* rwm"). Skips where there is no v1 devices controller.
TEST(DeviceFilter, TheReductionIsWhatTheV1ControllerLists) {
  if (!lj::test::is_root()) GTEST_SKIP() << "needs root: cgroups";
  const CgroupLayout& l = cgroup_layout();
  if (l.devices_mount.empty()) GTEST_SKIP() << "no cgroup v1 devices controller";
  const std::string dir = l.devices_mount + (l.devices_own == "/" ? "" : l.devices_own) + "/" +
                          lj::test::unique_name("ljd-devlist");
  ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0) << dir << ": " << std::strerror(errno);
  const std::vector<DeviceRule> rules = jail_device_rules({{true, 'c', 10, 229, "rwm"},
                                                           {true, 'b', 8, 20, "rw"},
                                                           {true, 'c', 136, -1, "r"},
                                                           {true, 'b', 8, 20, "m"},
                                                           {false, 'c', 10, 229, "rw"},
                                                           {false, 'c', 136, 1, "r"},
                                                           {false, 'c', 1, 3, "w"},
                                                           {true, 'c', 1, 3, "r"}});
  auto write = [&](const char* file, const std::string& v) {
    std::ofstream(dir + file) << v << std::flush;
  };
  write("/devices.deny", "a");
  auto num = [](std::int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
  for (const auto& r : rules)
    write(r.allow ? "/devices.allow" : "/devices.deny",
          std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + r.access);
  std::string listed;
  std::ifstream in(dir + "/devices.list");
  for (std::string line; std::getline(in, line);) listed += ", " + line;
  EXPECT_EQ(::rmdir(dir.c_str()), 0);
  EXPECT_EQ("deny" + listed, text(reduce_device_rules(rules)));
}

// A cgroup2 directory of the test's own under this process's cgroup2 cgroup, removed at the end.
class DeviceProgramTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lj::test::is_root()) GTEST_SKIP() << "needs root: cgroups and bpf(2)";
    std::string mount;
    std::ifstream mi("/proc/self/mountinfo");
    for (std::string line; std::getline(mi, line);) {
      std::istringstream in(line);
      std::string f[5], sep, type;
      for (auto& x : f) in >> x;
      while (in >> sep && sep != "-") {
      }
      in >> type;
      if (type == "cgroup2") mount = f[4];
      if (!mount.empty()) break;
    }
    if (mount.empty()) GTEST_SKIP() << "no cgroup2 mount";
    std::string own = "/";
    std::ifstream cg("/proc/self/cgroup");
    for (std::string line; std::getline(cg, line);)
      if (line.rfind("0::", 0) == 0) own = line.substr(3);
    dir_ = mount + (own == "/" ? "" : own) + "/" + lj::test::unique_name("ljd-devprog");
    ASSERT_EQ(::mkdir(dir_.c_str(), 0755), 0) << dir_ << ": " << std::strerror(errno);
  }
  void TearDown() override {
    if (!dir_.empty()) {
      EXPECT_EQ(::rmdir(dir_.c_str()), 0) << dir_ << ": " << std::strerror(errno);
    }
  }

  // Attaches the rules' program; false (with the test skipped) where bpf is refused.
  bool attach(const std::vector<DeviceRule>& rules) {
    auto st = attach_device_program(dir_, rules);
    if (!st && st.error().sys_errno() == EPERM) {
      skipped_ = "bpf(2) refused: " + st.error().what();
      return false;
    }
    EXPECT_TRUE(st) << st.error().what();
    return static_cast<bool>(st);
  }

  // A child moved into the cgroup opens each node with its flags (kMknod: makes a c 1:1 node at
  // the path instead): "ok" or the errno's name each.
  static constexpr int kMknod = -1;
  std::string opens(const std::vector<std::pair<std::string, int>>& nodes) {
    int p[2];
    EXPECT_EQ(::pipe(p), 0);
    const pid_t pid = ::fork();
    if (pid == 0) {
      ::close(p[0]);
      std::string out;
      const int procs = ::open((dir_ + "/cgroup.procs").c_str(), O_WRONLY);
      if (procs < 0 || ::write(procs, "0", 1) != 1) {
        out = "join: " + errno_name(errno);
      } else {
        for (const auto& [path, flags] : nodes) {
          int rc = -1;
          if (flags == kMknod) {  // the numbers of /dev/mem, a node made and removed again
            rc = ::mknod(path.c_str(), S_IFCHR | 0600, makedev(1, 1));
            if (rc == 0) ::unlink(path.c_str());
          } else if ((rc = ::open(path.c_str(), flags | O_CLOEXEC)) >= 0) {
            ::close(rc);
          }
          out += (out.empty() ? "" : " ") + (rc >= 0 ? std::string("ok") : errno_name(errno));
        }
      }
      (void)!::write(p[1], out.data(), out.size());
      ::_exit(0);
    }
    ::close(p[1]);
    std::string out;
    char buf[256];
    for (ssize_t n; (n = ::read(p[0], buf, sizeof buf)) > 0;)
      out.append(buf, static_cast<size_t>(n));
    ::close(p[0]);
    int ws = 0;
    EXPECT_EQ(::waitpid(pid, &ws, 0), pid);
    return out;
  }

  // Where a child makes its node (removed at once).
  std::string node() const { return "/tmp/" + fs::path(dir_).filename().string() + "-node"; }

  std::string dir_, skipped_;
};

// Deny by default, the rules in order: an access is allowed only when one rule left standing
// covers all of it (O_RDWR asks read and write at once).
TEST_F(DeviceProgramTest, AProcessOpensWhatTheRulesAllowAndNothingElse) {
  if (!attach({{false, 'a', -1, -1, "rwm"},
               {true, 'c', 1, 7, "rw"},   // /dev/full
               {true, 'c', 1, 5, "r"},    // /dev/zero: read only
               {true, 'c', 1, 3, "rwm"},  // /dev/null, then its write taken back
               {false, 'c', 1, 3, "w"}}))
    GTEST_SKIP() << skipped_;
  EXPECT_EQ(opens({{"/dev/full", O_RDWR},
                   {"/dev/zero", O_RDONLY},
                   {"/dev/zero", O_WRONLY},
                   {"/dev/null", O_RDONLY},
                   {"/dev/null", O_WRONLY},
                   {"/dev/urandom", O_RDONLY},
                   {node(), kMknod}}),
            "ok ok EPERM ok EPERM EPERM EPERM");
}

// Everything allowed, then exceptions: denied as soon as the access shares one bit with one.
TEST_F(DeviceProgramTest, AnAllowingDefaultDeniesItsExceptions) {
  if (!attach({{true, 'a', -1, -1, "rwm"}, {false, 'c', 1, 9, "r"}, {false, 'c', 1, 5, "w"}}))
    GTEST_SKIP() << skipped_;
  EXPECT_EQ(opens({{"/dev/urandom", O_RDONLY},
                   {"/dev/urandom", O_WRONLY},
                   {"/dev/zero", O_RDWR},
                   {"/dev/zero", O_RDONLY},
                   {"/dev/null", O_RDWR}}),
            "EPERM ok EPERM ok ok");
}

// A cgroup taken again (a caller's cgroup path): the new rules replace the earlier program's,
// which would otherwise apply as well.
TEST_F(DeviceProgramTest, AttachingAgainReplacesTheEarlierProgram) {
  if (!attach({{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 7, "rw"}})) GTEST_SKIP() << skipped_;
  ASSERT_TRUE(attach({{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 3, "rw"}}));
  EXPECT_EQ(opens({{"/dev/full", O_RDWR}, {"/dev/null", O_RDWR}}), "EPERM ok");
}

// What the engine attaches to a jail's v2 cgroup (Cgroups::create): the jail's rules, then its
// own nodes. /dev/kmsg (c 1:11) is none of them.
TEST_F(DeviceProgramTest, TheEnginesNodesFollowTheJailsRules) {
  if (!attach(jail_device_rules({{false, 'a', -1, -1, "rwm"}, {true, 'c', 1, 11, "r"}})))
    GTEST_SKIP() << skipped_;
  std::vector<std::pair<std::string, int>> nodes = {{"/dev/null", O_RDWR},
                                                    {"/dev/urandom", O_RDONLY},
                                                    {"/dev/kmsg", O_RDONLY},
                                                    {"/dev/kmsg", O_WRONLY},
                                                    {node(), kMknod}};
  EXPECT_EQ(opens(nodes), "ok ok ok EPERM ok");  // mknod of any node: the jail's init needs it
}

}  // namespace
}  // namespace lj::jail
