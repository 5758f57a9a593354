#include "jail/freebsd/plan.hpp"
#include "jail/status_file.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace lj::jail::freebsd {
namespace {

using Strings = std::vector<std::string>;

TEST(FreebsdJailName, DotsAndDigitsRefused) {
  EXPECT_TRUE(check_jail_name("web-1"));
  EXPECT_TRUE(check_jail_name("j_2x"));
  auto dotted = check_jail_name("web.1");
  ASSERT_FALSE(dotted);
  EXPECT_EQ(dotted.error().code(), "jail.invalid_argument");
  EXPECT_NE(dotted.error().what().find("inside jail 'web'"), std::string::npos);
  EXPECT_FALSE(check_jail_name("123"));
  EXPECT_TRUE(check_jail_name("123a"));
}

TEST(FreebsdRctlRules, NoLimitsNoRules) {
  EXPECT_TRUE(rctl_rules("web-1", Limits{}).empty());
}

TEST(FreebsdRctlRules, PlainNumbersKeyedByName) {
  Limits l;
  l.memory_bytes = 1073741824;
  l.pids = 64;
  l.cpu_percent = 250;
  l.nofile = 1024;                      // an rlimit, not an rctl rule
  l.timeout = std::chrono::seconds(5);  // enforced by the backend, not rctl
  EXPECT_EQ(rctl_rules("web-1", l),
            (Strings{"jail:web-1:memoryuse:sigkill=1073741824",
                     "jail:web-1:memoryuse:log=1073741824", "jail:web-1:maxproc:deny=64",
                     "jail:web-1:nthr:deny=64", "jail:web-1:pcpu:deny=250"}));
}

TEST(FreebsdRctlRules, LargeAmountsHaveNoUnitSuffix) {
  Limits l;
  l.memory_bytes = 17179869184ull;  // 16 GiB: must not become "16g"
  auto rules = rctl_rules("a", l);
  ASSERT_EQ(rules.size(), 2u);
  EXPECT_EQ(rules[0], "jail:a:memoryuse:sigkill=17179869184");
}

TEST(FreebsdRctlRules, OomNeedleMatchesTheLogRule) {
  Limits l;
  l.memory_bytes = 4096;
  auto rules = rctl_rules("j.2", l);
  // What kern_rctl.c prints: rctl: rule "<rule>" matched by pid ...
  std::string line = "rctl: rule \"" + rules[1] + "\" matched by pid 42 (hog), uid 0, jail j.2";
  EXPECT_EQ(line.rfind(oom_log_needle("j.2"), 0), 0u);
  EXPECT_EQ(line.find(oom_log_needle("j")), std::string::npos);  // a prefix name does not match
}

TEST(FreebsdShebang, Parsing) {
  EXPECT_TRUE(parse_shebang("echo hi\n").empty());
  EXPECT_TRUE(parse_shebang("#!\n").empty());
  EXPECT_EQ(parse_shebang("#!/bin/sh\necho"), (Strings{"/bin/sh"}));
  EXPECT_EQ(parse_shebang("#! /bin/sh -e \r\necho"), (Strings{"/bin/sh", "-e"}));
  EXPECT_EQ(parse_shebang("#!/usr/bin/env ruby -w"), (Strings{"/usr/bin/env", "ruby -w"}));
}

TEST(FreebsdCommand, ArgvAsGiven) {
  JailSpec s;
  s.argv = {"ls", "-l"};
  auto c = command_for(s);
  EXPECT_EQ(c.argv, (Strings{"ls", "-l"}));
  EXPECT_TRUE(c.script_path.empty());
}

TEST(FreebsdCommand, ScriptsRunBySh) {
  JailSpec s;
  s.script = "pkg install -y ruby\n";
  EXPECT_EQ(command_for(s).argv, (Strings{"/bin/sh", "-c", s.script}));
  s.script = "#!/bin/sh -e\nfalse\n";
  EXPECT_EQ(command_for(s).argv, (Strings{"/bin/sh", "-e", "-c", s.script}));
  EXPECT_TRUE(command_for(s).script_path.empty());
}

TEST(FreebsdCommand, OtherInterpretersGetAFile) {
  JailSpec s;
  s.script = "#!/usr/local/bin/python3\nprint(1)\n";
  auto c = command_for(s, "/.x");
  EXPECT_EQ(c.argv, (Strings{"/usr/local/bin/python3", "/.x"}));
  EXPECT_EQ(c.script_path, "/.x");
}

TEST(FreebsdPath, DefaultAddedOnlyWhenAbsent) {
  EXPECT_EQ(env_with_path({"A=1"}), (Strings{"A=1", std::string("PATH=") + kDefaultPath}));
  EXPECT_EQ(env_with_path({"PATH=/x"}), (Strings{"PATH=/x"}));
}

TEST(FreebsdPath, Candidates) {
  EXPECT_EQ(exec_candidates("/bin/ls", {}), (Strings{"/bin/ls"}));
  EXPECT_EQ(exec_candidates("./run", {"PATH=/x"}), (Strings{"./run"}));
  EXPECT_EQ(exec_candidates("ls", {"PATH=/a:/b"}), (Strings{"/a/ls", "/b/ls"}));
  EXPECT_EQ(exec_candidates("ls", {"PATH=/a::/b:"}), (Strings{"/a/ls", "./ls", "/b/ls", "./ls"}));
  EXPECT_EQ(exec_candidates("ls", {}).front(), "/sbin/ls");
}

TEST(FreebsdStatusFile, RoundTrip) {
  auto path =
      std::filesystem::temp_directory_path() / ("lj-freebsd-status-" + std::to_string(::getpid()));
  EXPECT_FALSE(read_status_file(path.string()));  // missing
  ExitStatus exited;
  exited.code = 3;
  ExitStatus killed;
  killed.signal = 9;
  EXPECT_EQ(status_line(exited), "exited 3\n");
  EXPECT_EQ(status_line(killed), "killed 9\n");
  for (const auto& st : {exited, killed}) {
    { std::ofstream(path) << status_line(st); }
    auto back = read_status_file(path.string());
    ASSERT_TRUE(back);
    EXPECT_EQ(back->code, st.signal != 0 ? -1 : st.code);
    EXPECT_EQ(back->signal, st.signal);
  }
  { std::ofstream(path) << ""; }
  EXPECT_FALSE(read_status_file(path.string()));  // created by spawn, never filled
  std::filesystem::remove(path);
}

TEST(FreebsdPasswd, LoginOfUid) {
  auto path = std::filesystem::temp_directory_path() /
              ("lj-freebsd-plan-" + std::to_string(::getpid()) + ".passwd");
  {
    std::ofstream out(path);
    out << "# comment\n"
           "root:*:0:0:Charlie &:/root:/bin/csh\n"
           "broken-line\n"
           "www:*:80:80:World Wide Web Owner:/nonexistent:/usr/sbin/nologin\n";
  }
  EXPECT_EQ(login_in_passwd(path, 80), "www");
  EXPECT_EQ(login_in_passwd(path, 0), "root");
  EXPECT_EQ(login_in_passwd(path, 1001), "");
  EXPECT_EQ(login_in_passwd(path.string() + ".missing", 0), "");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace lj::jail::freebsd

namespace lj::jail::freebsd {
namespace {

// A jail and an exec refuse the OCI process options the backend does not apply, by name.
TEST(FreebsdPlan, UnsupportedProcessOptionsAreNamed) {
  ProcessOptions p;
  EXPECT_EQ(unsupported_process_option(p), nullptr);
  p.rlimits.push_back({"RLIMIT_CORE", 0, 0});
  EXPECT_STREQ(unsupported_process_option(p), "process.rlimits");
  p = ProcessOptions{};
  p.no_new_privs = false;
  EXPECT_STREQ(unsupported_process_option(p), "process.no_new_privs=false");
  // The create/start split is the backend's now (child.hpp, step 7b): not refused. (An exec
  // still refuses it before this check, as on Linux: validate_exec_spec.)
  p = ProcessOptions{};
  p.hold_fd = 5;
  EXPECT_EQ(unsupported_process_option(p), nullptr);
}

// Issue 16: host-open rules, the grants (with their directories), host-close rules, in that order.
TEST(FreebsdDevfsRules, OpenGrantsCloseInOrder) {
  auto r = devfs_grant_rules({"/dev/fuse", "/dev/dri/card0", "/dev/dri/card1"}, 4, 7);
  ASSERT_TRUE(r) << r.error().what();
  std::vector<DevfsRule> want = {
      {DevfsRule::include, 4, {}},          {DevfsRule::unhide, 0, "fuse"},
      {DevfsRule::unhide, 0, "dri"},        {DevfsRule::unhide, 0, "dri/card0"},
      {DevfsRule::unhide, 0, "dri/card1"},  {DevfsRule::include, 7, {}},
  };
  EXPECT_EQ(*r, want);
  auto no_close = devfs_grant_rules({"/dev/fuse"}, 4, 0);
  ASSERT_TRUE(no_close);
  EXPECT_EQ(no_close->size(), 2u);
}

TEST(FreebsdDevfsRules, PatternsAndEscapesRefused) {
  for (const char* d : {"/dev/*", "/dev/tty[0-9]", "/dev/../etc", "/dev/", "/etc/passwd",
                        "/dev/a//b", "/dev/./null", "dev/null"}) {
    auto r = devfs_grant_rules({d}, 4, 0);
    ASSERT_FALSE(r) << d;
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument) << d;
  }
}

// An OCI config's freebsd.devices: a mode on the device's own unhide rule, not its directories.
TEST(FreebsdDevfsRules, ADeviceModeGoesOnItsOwnRule) {
  auto r = devfs_device_rules({{"/dev/pf", 0700u}, {"/dev/dri/card0", 0660u}, {"/dev/fuse", {}}},
                              4, 0);
  ASSERT_TRUE(r) << r.error().what();
  std::vector<DevfsRule> want = {
      {DevfsRule::include, 4, {}, -1},        {DevfsRule::unhide, 0, "pf", 0700},
      {DevfsRule::unhide, 0, "dri", -1},      {DevfsRule::unhide, 0, "dri/card0", 0660},
      {DevfsRule::unhide, 0, "fuse", -1},
  };
  EXPECT_EQ(*r, want);
  EXPECT_FALSE(devfs_device_rules({{"/dev/pf", 010000u}}, 4, 0));
}

JailSpec jail_spec() {
  JailSpec s;
  s.name = "c1";
  s.root.layers = {"/r"};
  return s;
}

TEST(FreebsdJailParameters, NamesAndValuesAsTheKernelTakesThem) {
  auto s = jail_spec();
  EXPECT_EQ(kernel_jail_name(s), "c1");
  s.freebsd.parent = "pod.web";
  EXPECT_EQ(kernel_jail_name(s), "pod.web.c1");
  EXPECT_EQ(negated_parameter("allow.raw_sockets"), "allow.noraw_sockets");
  EXPECT_EQ(negated_parameter("persist"), "nopersist");
  // sys/jail.h: JAIL_SYS_DISABLE 0, JAIL_SYS_NEW 1, JAIL_SYS_INHERIT 2.
  EXPECT_EQ(sharing_value(Sharing::disable), 0);
  EXPECT_EQ(sharing_value(Sharing::new_), 1);
  EXPECT_EQ(sharing_value(Sharing::inherit), 2);
  EXPECT_TRUE(check_jail_parameters(s));
}

TEST(FreebsdJailParameters, ContradictionsAreRefusedByName) {
  struct Case {
    const char* what;
    std::function<void(JailSpec&)> edit;
  };
  const Case cases[] = {
      {"parent jail 'a..b'", [](JailSpec& s) { s.freebsd.parent = "a..b"; }},
      {"parent jail 'a/b'", [](JailSpec& s) { s.freebsd.parent = "a/b"; }},
      {"host inherit", [](JailSpec& s) {
         s.freebsd.host = Sharing::inherit;
         s.hostname = "h";
       }},
      {"vnet: inherit, or unset", [](JailSpec& s) { s.freebsd.vnet = Sharing::new_; }},
      {"vnet inherit goes with network mode none", [](JailSpec& s) {
         s.freebsd.vnet = Sharing::inherit;
         s.network.mode = NetworkMode::inherit;
       }},
      {"vnet interfaces need a VNET", [](JailSpec& s) {
         s.freebsd.vnet_interfaces = {"em1"};
         s.freebsd.vnet = Sharing::inherit;
       }},
      {"enforce_statfs 3", [](JailSpec& s) { s.freebsd.enforce_statfs = 3; }},
      {"'allow.jails' is not", [](JailSpec& s) { s.freebsd.allow = {"allow.jails"}; }},
      {"needs enforce_statfs below 2", [](JailSpec& s) { s.freebsd.mount_types = {"tmpfs"}; }},
      {"mount type 'a b'", [](JailSpec& s) {
         s.freebsd.enforce_statfs = 1;
         s.freebsd.mount_types = {"a b"};
       }},
      {"devfs ruleset 0", [](JailSpec& s) { s.freebsd.devfs_ruleset = 0; }},
  };
  for (const auto& k : cases) {
    auto s = jail_spec();
    k.edit(s);
    auto st = check_jail_parameters(s);
    ASSERT_FALSE(st) << k.what;
    EXPECT_EQ(st.error().errc(), Errc::invalid_argument) << k.what;
    EXPECT_NE(st.error().what().find(k.what), std::string::npos) << st.error().what();
  }
  auto ok = jail_spec();
  ok.freebsd.allow = {"allow.nosuser", "allow.chflags"};
  ok.freebsd.enforce_statfs = 1;
  ok.freebsd.mount_types = {"tmpfs", "nullfs"};
  ok.freebsd.vnet_interfaces = {"epair0b"};
  EXPECT_TRUE(check_jail_parameters(ok));
}

}  // namespace
}  // namespace lj::jail::freebsd
