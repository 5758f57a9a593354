// ljoci driven as runc's callers drive it, on a busybox bundle: runc's process model (create
// leaves the container held, start releases it, state follows), exit statuses, kill and delete,
// config.json honoured inside the container, the known runc escapes, and podman with
// --runtime ljoci. Root only; podman's test skips with its reason when podman is missing.
#include <elf.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "netns_world.hpp"
#include "shell.hpp"
#include "test_world.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

using Out = lj::test::ShellOut;
using lj::test::sh;

class LjociTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!lj::test::is_root()) GTEST_SKIP() << "needs root: namespaces, mounts and cgroups";
    world_.emplace();
    root_ = world_->mkdir("state");
    bundle_ = world_->mkdir("bundle");
    config_ = json::parse(R"({
      "ociVersion": "1.0.2",
      "process": {"args": ["sh"], "cwd": "/", "env": ["PATH=/bin"],
                  "capabilities": {"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"],
                                   "permitted": ["CAP_KILL"]},
                  "noNewPrivileges": true},
      "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
                 {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"}],
      "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"},
                               {"type": "uts"}, {"type": "network"}, {"type": "cgroup"}]}
    })");
    config_["root"] = {{"path", world_->world().string()}, {"readonly", false}};
  }
  void TearDown() override {
    if (world_) (void)sh(ljoci("list -q") + " | xargs -r -n1 " + ljoci("delete --force"));
  }

  // /sys and a cgroup mount on /sys/fs/cgroup, as runc's, podman's and containerd's configs have.
  void mount_sys_and_cgroups() {
    config_["mounts"].push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                                 {"options", {"nosuid", "noexec", "nodev", "ro"}}});
    config_["mounts"].push_back({{"destination", "/sys/fs/cgroup"}, {"type", "cgroup"},
                                 {"source", "cgroup"},
                                 {"options", {"nosuid", "noexec", "nodev", "relatime", "ro"}}});
  }
  void write_config(const std::vector<std::string>& args) {
    config_["process"]["args"] = args;
    std::ofstream(bundle_ / "config.json") << config_.dump();
  }
  std::string ljoci(const std::string& args) const {
    return std::string(LJOCI_PATH) + " --root " + root_.string() + " " + args;
  }
  // The held container keeps create's stdout and stderr open (they are its stdio, as for
  // conmon): they go to a file, not to popen's pipe, which would never reach EOF.
  Out create(const std::string& id) const {
    const fs::path log = world_->dir() / ("create-" + id + ".log");
    Out o = sh(ljoci("create --bundle " + bundle_.string() + " --pid-file " +
                     (bundle_ / "pid").string() + " " + id) +
               " </dev/null >" + log.string() + " 2>&1");
    std::ifstream in(log);
    std::stringstream ss;
    ss << in.rdbuf();
    o.text = ss.str();
    return o;
  }
  // A run with CAP_MKNOD, the device rules "deny all, then allow `rule`" and the nodes `devices`
  // (linux.devices; null: none): the script's status and output.
  Out run_with_device_rules(const char* rule, const char* devices, const char* script,
                            const std::string& id) {
    config_["process"]["capabilities"] = json::parse(
        R"({"bounding":["CAP_MKNOD"],"effective":["CAP_MKNOD"],"permitted":["CAP_MKNOD"]})");
    config_["linux"]["resources"]["devices"] =
        json::array({json::parse(R"({"allow":false,"access":"rwm"})"), json::parse(rule)});
    if (devices) config_["linux"]["devices"] = json::parse(devices);
    write_config({"sh", "-c", script});
    return sh(ljoci("run --bundle " + bundle_.string() + " " + id));
  }
  // Container ids name cgroups: unique on the machine, as the jails' names are.
  static std::string id(const char* prefix) { return lj::test::unique_name(prefix); }
  // A created and started container whose command sleeps 30 s (delete --force ends it).
  std::string started_sleeper(const char* prefix) {
    write_config({"sleep", "30"});
    const std::string c = id(prefix);
    EXPECT_EQ(create(c).status, 0);
    EXPECT_EQ(sh(ljoci("start " + c)).status, 0);
    return c;
  }
  json state(const std::string& id) const {
    auto o = sh(ljoci("state " + id));
    return o.status == 0 ? json::parse(o.text) : json();
  }

  std::optional<lj::test::TestWorld> world_;
  fs::path root_, bundle_;
  json config_;
};

TEST_F(LjociTest, RunReturnsTheCommandsStatus) {
  write_config({"sh", "-c", "echo out; exit 7"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("r1")));
  EXPECT_EQ(o.status, 7) << o.text;
  EXPECT_EQ(o.text, "out\n");
  // Killed by a signal: 128 + its number, as a shell reports it.
  write_config({"sleep", "30"});
  const std::string r2 = id("r2");
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + r2) + " & for i in $(seq 100); do " +
         ljoci("state " + r2) + " 2>/dev/null | grep -q running && break; sleep 0.05; done; " +
         ljoci("kill " + r2 + " KILL") + "; wait $!");
  EXPECT_EQ(o.status, 137) << o.text;
  EXPECT_EQ(sh(ljoci("list -q")).text, "");  // run deletes what it created
}

// runc's process model: the command is the container's init, pid 1 of its pid namespace, with
// nothing of the runtime's above it: a pid 1 without a handler does not die of its own TERM
// (pid_namespaces(7)), as under runc.
TEST_F(LjociTest, TheCommandIsTheContainersInit) {
  write_config({"sh", "-c", "echo $$; kill -TERM $$; echo alive; exit 3"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("i1")));
  EXPECT_EQ(o.status, 3) << o.text;
  EXPECT_EQ(o.text, "1\nalive\n");
}

// runc's model: create leaves the command held (not yet exec'd: its output has not happened),
// start releases it, state reports created -> running -> stopped, delete removes everything.
TEST_F(LjociTest, CreateHoldsStartReleasesStateFollows) {
  const fs::path mark = world_->world() / "tmp" / "ran";
  write_config({"sh", "-c", "touch /tmp/ran; sleep 30"});
  const std::string c1 = id("c1");
  auto o = create(c1);
  ASSERT_EQ(o.status, 0) << o.text;
  auto s = state(c1);
  EXPECT_EQ(s["status"], "created");
  EXPECT_EQ(s["id"], c1);
  EXPECT_EQ(s["bundle"], bundle_.string());
  std::string pid;
  std::ifstream(bundle_ / "pid") >> pid;
  EXPECT_EQ(std::to_string(s["pid"].get<int>()), pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(fs::exists(mark)) << "the command ran before start";

  o = sh(ljoci("start " + c1));
  ASSERT_EQ(o.status, 0) << o.text;
  for (int i = 0; i < 100 && !fs::exists(mark); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_TRUE(fs::exists(mark));
  EXPECT_EQ(state(c1)["status"], "running");
  EXPECT_NE(sh(ljoci("start " + c1)).status, 0);  // only a created container starts
  EXPECT_NE(sh(ljoci("delete " + c1)).status, 0);  // running: needs --force

  o = sh(ljoci("kill " + c1 + " KILL"));
  ASSERT_EQ(o.status, 0) << o.text;
  // Our shell is not the subreaper: init's parent (pid 1 here) reaps it.
  for (int i = 0; i < 100 && state(c1)["status"] != "stopped"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(state(c1)["status"], "stopped");
  EXPECT_NE(sh(ljoci("kill " + c1 + " TERM")).status, 0);
  o = sh(ljoci("delete " + c1));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_FALSE(fs::exists(root_ / c1));
  EXPECT_NE(sh(ljoci("state " + c1)).status, 0);
  EXPECT_EQ(sh(ljoci("delete --force " + c1)).status, 0);  // forced: a missing one is fine
}

// ps: the processes of the container's cgroup, as JSON pids (what containerd's shim reads) or
// as ps(1)'s table filtered to them.
TEST_F(LjociTest, PsListsTheContainersProcesses) {
  write_config({"sh", "-c", "sleep 30 & exec sleep 31"});
  const std::string c = id("ps");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  json pids;
  for (int i = 0; i < 100; ++i) {
    pids = json::parse(sh(ljoci("ps --format json " + c)).text);
    if (pids.size() == 2) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(pids.size(), 2u) << pids.dump();  // the two sleeps, one of them init
  auto o = sh(ljoci("ps " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("sleep 31"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find("ljoci"), std::string::npos) << o.text;
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

// A pod: the second container joins the first one's pid, ipc, uts, network and cgroup
// namespaces by path (linux.namespaces[].path), as podman's pod members join the infra container
// and a Kubernetes container its sandbox. It sees the first one's processes and hostname.
TEST_F(LjociTest, ASecondContainerJoinsTheFirstsNamespacesByPath) {
  config_["hostname"] = "pod-host";
  write_config({"sleep", "30"});
  const std::string infra = id("infra");
  ASSERT_EQ(create(infra).status, 0);
  ASSERT_EQ(sh(ljoci("start " + infra)).status, 0);
  const int pid = state(infra)["pid"].get<int>();
  const std::string ns = "/proc/" + std::to_string(pid) + "/ns/";
  config_.erase("hostname");
  config_["linux"]["namespaces"] = json::array();
  for (const char* t : {"pid", "ipc", "uts", "network", "cgroup"})
    config_["linux"]["namespaces"].push_back(
        {{"type", t}, {"path", ns + (std::string(t) == "network" ? "net" : t)}});
  config_["linux"]["namespaces"].push_back({{"type", "mount"}});
  write_config({"sh", "-c",
                "hostname; for n in pid ipc uts net cgroup; do readlink /proc/self/ns/$n; done; "
                "cat /proc/*/cmdline | tr '\\0' ' ' | grep -c 'sleep 30'"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("member")));
  EXPECT_EQ(o.status, 0) << o.text;
  std::string want = "pod-host\n";
  for (const char* n : {"pid", "ipc", "uts", "net", "cgroup"})
    want += sh("readlink " + ns + n).text;
  want += "1\n";
  EXPECT_EQ(o.text, want);
  EXPECT_EQ(sh(ljoci("delete --force " + infra)).status, 0);
}

// linux.namespaces mount with a path (runtime-tools linux_ns_path): the container's root is
// assembled in that namespace (a holder made by unshare(1)), the host's mounts untouched. (The
// spawner's own: NoNamespaceIsTheCallersAndTheRootAChrootLeftNowhere.)
TEST_F(LjociTest, AMountNamespaceIsJoinedByPathAndTheRootAssembledThere) {
  if (sh("command -v unshare").status != 0) GTEST_SKIP() << "no unshare(1)";
  const std::string holder =
      sh("unshare --mount --propagation private sleep 30 >/dev/null 2>&1 & echo $!").text;
  const int hpid = std::stoi(holder);
  struct Kill {
    int pid;
    ~Kill() { ::kill(pid, SIGKILL); }
  } kill_holder{hpid};
  const std::string ns = "/proc/" + std::to_string(hpid) + "/ns/mnt";
  for (int i = 0; i < 100 && sh("readlink " + ns).text == sh("readlink /proc/self/ns/mnt").text; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // until unshare has run
  const std::string want = sh("readlink " + ns).text;
  ASSERT_NE(want, sh("readlink /proc/self/ns/mnt").text);
  // The host's mounts the run could have made: the engine's scratch, the container's host root
  // and the test's directory (the rest of the machine's, a podman's or containerd's or another
  // run's, come and go on their own).
  const std::string cid = id("mnt1");
  const std::string ours = "awk -v d='" + world_->dir().string() + "' -v h=/run/lj-host-roots/" +
                           cid + " '$5 ~ \"^/run/lj-scratch\" || index($5, d) == 1 || " +
                           "index($5, h) == 1 {print $5}' /proc/self/mountinfo";
  const std::string host_mounts = sh(ours).text;
  for (auto& n : config_["linux"]["namespaces"])
    if (n["type"] == "mount") n["path"] = ns;
  write_config({"sh", "-c", "readlink /proc/self/ns/mnt; ls /proc/1/ns >/dev/null && echo ok"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + cid));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, want + "ok\n");
  EXPECT_EQ(sh(ours).text, host_mounts);
  EXPECT_EQ(sh(ljoci("list -q")).text, "");
}

// No namespace in the config (runtime-tools linux_ns_itype): the container's init is in each of
// ljoci's caller's namespaces (cgroup, ipc, mnt, net, pid, user, uts), the command sees the
// bundle's rootfs as / (a chroot in the host's mount namespace, whose propagation stays as it
// was), an exec gets that root too, and after delete nothing of its root is left in the host's
// mount table (the scratch tree under /run/lj-host-roots detached).
TEST_F(LjociTest, NoNamespaceIsTheCallersAndTheRootAChrootLeftNowhere) {
  const std::string c = id("itype");
  // The propagation of the host's / and /run (where the scratch goes), which must not change.
  const std::string propagation =
      "awk '$5 == \"/\" || $5 == \"/run\" {print $5, $7}' /proc/self/mountinfo";
  const std::string propagation_before = sh(propagation).text;
  const std::string left = "grep -c ' /run/lj-host-roots/" + c + "' /proc/self/mountinfo";
  config_["linux"]["namespaces"] = json::array();
  config_.erase("hostname");
  std::ofstream(world_->world() / "itype-marker") << "m";
  write_config({"sh", "-c", "test -e /itype-marker && echo sees-rootfs; sleep 30"});
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  const int pid = state(c)["pid"].get<int>();
  const std::string ns = "/proc/" + std::to_string(pid) + "/ns/";
  for (const char* n : {"cgroup", "ipc", "mnt", "net", "pid", "user", "uts"})
    EXPECT_EQ(fs::read_symlink(ns + n), fs::read_symlink(std::string("/proc/self/ns/") + n)) << n;
  // Its root is the rootfs, seen from here through its init.
  EXPECT_TRUE(fs::exists("/proc/" + std::to_string(pid) + "/root/itype-marker"));
  // Its mounts are the host's, under its scratch; the host's own keep their propagation.
  EXPECT_NE(sh(left).text, "0\n");
  EXPECT_EQ(sh(propagation).text, propagation_before);
  // An exec goes into the same root (ExecIntoAChrootRootSeesTheBundleOnly has the details).
  o = sh(ljoci("exec " + c + " sh -c 'test -e /itype-marker && echo exec-sees-rootfs'"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "exec-sees-rootfs\n");
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  std::string out;
  for (int i = 0; i < 100 && out.empty(); ++i) {
    std::ifstream in(world_->dir() / ("create-" + c + ".log"));
    std::getline(in, out);
    if (out.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(out, "sees-rootfs");
  o = sh(ljoci("delete --force " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(sh(left).text, "0\n");
  EXPECT_FALSE(fs::exists("/run/lj-host-roots/" + c));
  EXPECT_EQ(sh(propagation).text, propagation_before);
  // run (create, start, wait, delete in one process): the same, through the Jail's teardown.
  write_config({"sh", "-c", "test -e /itype-marker && echo sees-rootfs"});
  const std::string r = id("itype-run");
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + r));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "sees-rootfs\n");
  EXPECT_EQ(sh("grep -c ' /run/lj-host-roots/" + r + "' /proc/self/mountinfo").text, "0\n");
  EXPECT_FALSE(fs::exists("/run/lj-host-roots/" + r));
}

// exec into a container whose config lists no mount namespace (its root a chroot in the host's
// mount namespace, as runc's): the process joins the container's other namespaces and is
// chrooted into the container's root, at the process's cwd, with the process's user and
// capabilities. It sees the bundle's files and none of the host's, "/.." included.
TEST_F(LjociTest, ExecIntoAChrootRootSeesTheBundleOnly) {
  auto& nss = config_["linux"]["namespaces"];
  nss.erase(std::remove_if(nss.begin(), nss.end(), [](const json& n) { return n["type"] == "mount"; }),
            nss.end());
  const fs::path host_only = world_->dir() / "host-only";
  std::ofstream(host_only) << "h";
  std::ofstream(world_->world() / "etc" / "only-in-bundle") << "bundle-file\n";
  write_config({"sleep", "30"});
  const std::string c = id("exroot");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  const std::string init_ns = "/proc/" + std::to_string(state(c)["pid"].get<int>()) + "/ns/";
  ASSERT_EQ(fs::read_symlink(init_ns + "mnt"), fs::read_symlink("/proc/self/ns/mnt"));

  auto o = sh(ljoci("exec " + c + " cat /etc/only-in-bundle"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "bundle-file\n");
  const std::string bundle_ls = sh("LC_ALL=C ls " + world_->world().string()).text;
  o = sh(ljoci("exec " + c + " ls /"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, bundle_ls);
  EXPECT_NE(o.text.find("proc\n"), std::string::npos) << o.text;
  o = sh(ljoci("exec " + c + " ls /.."));
  EXPECT_EQ(o.text, bundle_ls);
  // Nothing of the host's: not the test's file beside the rootfs (the exec's cwd, the root, is
  // no way out either).
  ASSERT_TRUE(fs::exists(host_only));
  o = sh(ljoci("exec " + c + " sh -c 'test -e " + host_only.string() + " && echo host; cd ../..; " +
               "test -e ." + host_only.string() + " && echo host2; ls /tmp; exit 5'"));
  EXPECT_EQ(o.status, 5) << o.text;
  EXPECT_EQ(o.text, sh("ls " + (world_->world() / "tmp").string()).text);
  // In the container's other namespaces; the mount namespace is the host's, as init's.
  o = sh(ljoci("exec " + c +
               " sh -c 'for n in pid ipc uts net cgroup mnt; do readlink /proc/self/ns/$n; done'"));
  std::string want;
  for (const char* n : {"pid", "ipc", "uts", "net", "cgroup", "mnt"})
    want += fs::read_symlink(init_ns + n).string() + "\n";
  EXPECT_EQ(o.text, want);
  // The process's cwd, user and capabilities (--process, as conmon and the shim pass it).
  const fs::path proc = world_->dir() / "process.json";
  std::ofstream(proc) << json{{"args", {"sh", "-c", "pwd; id -u; grep CapEff /proc/self/status; exit 3"}},
                              {"cwd", "/etc"},
                              {"env", {"PATH=/bin"}},
                              {"user", {{"uid", 1000}, {"gid", 1000}}}}
                             .dump();
  o = sh(ljoci("exec --process " + proc.string() + " " + c));
  EXPECT_EQ(o.status, 3) << o.text;
  EXPECT_EQ(o.text, "/etc\n1000\nCapEff:\t0000000000000000\n");
  o = sh(ljoci("exec --cwd /etc " + c + " sh -c 'pwd; grep CapEff /proc/self/status'"));
  EXPECT_EQ(o.text, "/etc\nCapEff:\t0000000000000020\n");  // CAP_KILL, the config's
  // --detach --pid-file: the monitor, which exits with the process's status.
  const fs::path pid_file = world_->dir() / "exec.pid";
  o = sh(ljoci("exec --detach --pid-file " + pid_file.string() + " " + c +
               " sh -c 'exit 0' </dev/null >/dev/null 2>&1"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_TRUE(fs::exists(pid_file));
  EXPECT_EQ(sh(ljoci("exec " + c + " /no/such/command")).status, 1);
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  EXPECT_EQ(sh("grep -c ' /run/lj-host-roots/" + c + "' /proc/self/mountinfo").text, "0\n");
}

// Removes the (empty) cgroup `rel` a test's cgroupsPath made, from the v2 root and from every v1
// hierarchy: ljoci makes a cgroupsPath's parents in each hierarchy it uses (cpu, cpuacct and
// cpuset too, mounted apart on some hosts), and delete removes only the container's own.
void remove_cgroup(const std::string& rel) {
  (void)::rmdir(("/sys/fs/cgroup" + rel).c_str());
  std::error_code ec;
  for (const auto& h : fs::directory_iterator("/sys/fs/cgroup", ec))
    (void)::rmdir((h.path().string() + rel).c_str());
}

// cgroupsPath is where the container's cgroup goes (the runtime-tools suite, containerd's
// /default/<id> and podman's /libpod_parent/libpod-<id> look for it there); delete removes it.
TEST_F(LjociTest, TheCgroupIsAtCgroupsPath) {
  const std::string c = id("cgp");
  const std::string parent = "/" + id("ljoci-test");
  config_["linux"]["cgroupsPath"] = parent + "/" + c;
  config_["linux"]["resources"] = {{"pids", {{"limit", 42}}}};
  write_config({"sleep", "30"});
  ASSERT_EQ(create(c).status, 0);
  const int pid = state(c)["pid"].get<int>();
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string dir;
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    const std::string ctl = line.substr(a + 1, b - a - 1);
    if (ctl == "pids" || (ctl.empty() && dir.empty()))
      dir = (ctl.empty() ? "/sys/fs/cgroup" : "/sys/fs/cgroup/pids") + line.substr(b + 1);
    if (ctl == "pids") {
      EXPECT_EQ(line.substr(b + 1), parent + "/" + c) << line;
    }
  }
  EXPECT_EQ(sh("cat " + dir + "/pids.max").text, "42\n") << dir;
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  EXPECT_FALSE(fs::exists(dir));
  remove_cgroup(parent);
}

// The cgroup directory of `pid` for controller `ctl` (v1), or its cgroup v2 directory.
std::string cgroup_dir(int pid, const std::string& ctl) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  std::string v2;
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    const std::string c = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (c == ctl) return "/sys/fs/cgroup/" + ctl + path;
    if (c.empty()) v2 = "/sys/fs/cgroup" + path;
  }
  return v2;
}

// A block device of this host: its node under /dev and its "major:minor" (empty: none found).
std::pair<std::string, std::string> host_block_device() {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/sys/dev/block", ec)) {
    std::ifstream in(e.path() / "uevent");
    for (std::string line; std::getline(in, line);)
      if (line.rfind("DEVNAME=", 0) == 0) {
        const std::string node = "/dev/" + line.substr(8);
        struct stat st {};
        if (::stat(node.c_str(), &st) == 0 && S_ISBLK(st.st_mode))
          return {node, e.path().filename().string()};
      }
  }
  return {};
}

std::string first_line(const std::string& file) {
  std::ifstream in(file);
  std::string s;
  std::getline(in, s);
  return s;
}

// linux.resources.cpu: cpus and mems are the container's cpuset (v1: every cgroup made on the way
// given its parent's values first), seen inside as Cpus_allowed_list; quota and period exactly;
// update changes cpus, mems and quota; an empty cpus is the parent's again. Realtime bandwidth
// (v1, CONFIG_RT_GROUP_SCHED) at a cgroup whose parent has room (the root's), and refused naming
// the field where the parent has none.
TEST_F(LjociTest, CpusetQuotaAndRealtimeAreTheCgroupsAndUpdateChangesThem) {
  const bool v1 = fs::exists("/sys/fs/cgroup/cpuset/cpuset.cpus");
  const std::string all = first_line(v1 ? "/sys/fs/cgroup/cpuset/cpuset.cpus"
                                        : "/sys/fs/cgroup/cpuset.cpus.effective");
  const std::string c = id("cpus");
  const std::string parent = "/" + id("ljoci-test");
  config_["linux"]["cgroupsPath"] = parent + "/" + c;
  config_["linux"]["resources"] = json::parse(
      R"({"cpu": {"cpus": "0", "mems": "0", "quota": 50000, "period": 500000}})");
  write_config({"sh", "-c", "grep Cpus_allowed_list /proc/self/status; exec sleep 30"});
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  const int pid = state(c)["pid"].get<int>();
  const std::string cpuset = cgroup_dir(pid, "cpuset"), cpu = cgroup_dir(pid, "cpu");
  EXPECT_EQ(cpuset, (v1 ? "/sys/fs/cgroup/cpuset" : "/sys/fs/cgroup") + parent + "/" + c);
  EXPECT_EQ(first_line(cpuset + "/cpuset.cpus"), "0");
  EXPECT_EQ(first_line(cpuset + "/cpuset.mems"), "0");
  if (v1) {
    EXPECT_EQ(first_line("/sys/fs/cgroup/cpuset" + parent + "/cpuset.cpus"), all);  // copied down
    EXPECT_EQ(first_line(cpu + "/cpu.cfs_period_us"), "500000");
    EXPECT_EQ(first_line(cpu + "/cpu.cfs_quota_us"), "50000");
  } else {
    EXPECT_EQ(first_line(cpu + "/cpu.max"), "50000 500000");
  }
  for (int i = 0; i < 100 && first_line(world_->dir() / ("create-" + c + ".log")).empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(first_line(world_->dir() / ("create-" + c + ".log")), "Cpus_allowed_list:\t0");

  o = sh(ljoci("update --cpuset-cpus " + all + " --cpu-quota 200000 --cpu-period 100000 " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(cpuset + "/cpuset.cpus"), all);
  EXPECT_EQ(sh("grep Cpus_allowed_list /proc/" + std::to_string(pid) + "/status").text,
            "Cpus_allowed_list:\t" + all + "\n");
  if (v1) {
    EXPECT_EQ(first_line(cpu + "/cpu.cfs_quota_us"), "200000");
  }
  const fs::path res = world_->dir() / "cpu.json";
  std::ofstream(res) << R"({"cpu": {"cpus": "0", "mems": "0"}})";
  o = sh(ljoci("update --resources " + res.string() + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(cpuset + "/cpuset.cpus"), "0");
  std::ofstream(res) << R"({"cpu": {"cpus": ""}})";
  o = sh(ljoci("update --resources " + res.string() + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(cpuset + "/cpuset.cpus"), v1 ? all : "");
  o = sh(ljoci("update --cpuset-cpus 9999 " + c));  // no such CPU: the kernel's EINVAL
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("cpuset.cpus"), std::string::npos) << o.text;
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  EXPECT_FALSE(fs::exists(cpuset));

  // Realtime: directly below the root, which has the host's bandwidth to give.
  const std::string rt = "/" + id("ljoci-rt");
  config_["linux"]["cgroupsPath"] = rt;
  config_["linux"]["resources"] =
      json::parse(R"({"cpu": {"realtimePeriod": 1000000, "realtimeRuntime": 10000}})");
  write_config({"sleep", "30"});
  const std::string c2 = id("rt");
  o = create(c2);
  if (!v1 || !fs::exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us")) {
    EXPECT_NE(o.status, 0);
    EXPECT_NE(o.text.find("cpu_rt_"), std::string::npos) << o.text;
  } else {
    ASSERT_EQ(o.status, 0) << o.text;
    const std::string dir = "/sys/fs/cgroup/cpu" + rt;
    EXPECT_EQ(first_line(dir + "/cpu.rt_period_us"), "1000000");
    EXPECT_EQ(first_line(dir + "/cpu.rt_runtime_us"), "10000");
    o = sh(ljoci("update --cpu-rt-runtime 20000 " + c2));
    EXPECT_EQ(o.status, 0) << o.text;
    EXPECT_EQ(first_line(dir + "/cpu.rt_runtime_us"), "20000");
    EXPECT_EQ(sh(ljoci("delete --force " + c2)).status, 0);
    EXPECT_FALSE(fs::exists(dir));
    // Below a parent without bandwidth (a new cgroup's rt_runtime_us is 0): the kernel refuses.
    config_["linux"]["cgroupsPath"] = parent + "/" + c2;
    write_config({"sleep", "30"});
    o = create(c2);
    EXPECT_NE(o.status, 0);
    EXPECT_NE(o.text.find("cpu_rt_runtime_us"), std::string::npos) << o.text;
    EXPECT_EQ(sh(ljoci("list -q")).text, "");
  }
  remove_cgroup(parent + "/" + c2);
  remove_cgroup(parent);
  remove_cgroup(rt);
}

// exec: one more process in the running container, in its namespaces and cgroup, under its
// seccomp filter; runc's command-line form and --process (what conmon and the shim pass); its
// exit status; --detach with --pid-file names the monitor, which exits with the process's status.
// Signals the runtime's caller ignores stay ignored across execve: the container's command and
// an exec's process must not inherit them (runc's processes start with default dispositions).
// ljoci resets exactly the ones it found ignored (SigIgn), and the exec monitor's own SIGPIPE.
TEST_F(LjociTest, SignalsTheCallerIgnoresAreNotTheContainers) {
  // grep itself, not through busybox's sh, which ignores SIGQUIT for its own commands.
  write_config({"grep", "SigIgn", "/proc/self/status"});
  const std::string ignoring = "trap '' INT PIPE USR1 TERM; exec ";
  auto o = sh("sh -c \"" + ignoring + ljoci("run --bundle " + bundle_.string() + " " + id("ign")) +
              "\"");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "SigIgn:\t0000000000000000\n");

  const std::string c = started_sleeper("ign");
  o = sh("sh -c \"" + ignoring + ljoci("exec " + c + " grep SigIgn /proc/self/status") + "\"");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "SigIgn:\t0000000000000000\n");
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

TEST_F(LjociTest, ExecRunsAProcessInTheContainer) {
  config_["hostname"] = "exec-host";
  write_config({"sleep", "30"});
  const std::string c = id("ex");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  auto o = sh(ljoci("exec --env X=1 --cwd /tmp " + c +
                    " sh -c 'hostname; echo $X; pwd; cat /proc/1/cmdline | tr \"\\0\" \" \"; "
                    "echo; grep -c . /proc/self/cgroup >/dev/null; exit 4'"));
  EXPECT_EQ(o.status, 4) << o.text;
  EXPECT_EQ(o.text, "exec-host\n1\n/tmp\nsleep 30 \n");
  // In the container's cgroup: at the root of its cgroup namespace (elsewhere it would read
  // "/.." or a host path).
  o = sh(ljoci("exec " + c + " cat /proc/self/cgroup"));
  EXPECT_NE(o.text.find(":pids:/\n"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find(":/.."), std::string::npos) << o.text;
  // --process, as conmon and containerd's shim call it.
  const fs::path proc = world_->dir() / "process.json";
  std::ofstream(proc) << json{{"args", {"sh", "-c", "id -u; exit 3"}}, {"cwd", "/"},
                              {"env", {"PATH=/bin"}}, {"user", {{"uid", 1000}, {"gid", 1000}}}}
                             .dump();
  o = sh(ljoci("exec --process " + proc.string() + " " + c));
  EXPECT_EQ(o.status, 3) << o.text;
  EXPECT_EQ(o.text, "1000\n");
  const fs::path pid_file = world_->dir() / "exec.pid";
  o = sh(ljoci("exec --detach --pid-file " + pid_file.string() + " --process " + proc.string() +
               " " + c + " </dev/null >/dev/null 2>&1"));
  EXPECT_EQ(o.status, 0) << o.text;
  std::ifstream pf(pid_file);
  int monitor = 0;
  pf >> monitor;
  EXPECT_GT(monitor, 0);
  EXPECT_EQ(sh(ljoci("exec " + c + " /no/such/command")).status, 1);
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  EXPECT_NE(sh(ljoci("exec " + c + " true")).status, 0);  // gone
}

// exec --detach leaves the monitor to the caller's subreaper (conmon, the shim), which learns the
// status by reaping it: ljoci must not reap a monitor that exited before ljoci did (podman exec
// then answered 255). The pid file's temporary name is a FIFO here, so ljoci waits in it until
// the command has surely ended; this test process is the subreaper.
TEST_F(LjociTest, ADetachedExecsStatusIsLeftToTheSubreaper) {
  write_config({"sleep", "30"});
  const std::string c = id("xd");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  const fs::path pid_file = world_->dir() / "exec.pid";
  ASSERT_EQ(::mkfifo((pid_file.string() + ".tmp").c_str(), 0600), 0);
  const std::string cmd = ljoci("exec --detach --pid-file " + pid_file.string() + " " + c +
                                " sh -c 'exit 6' </dev/null >/dev/null 2>&1");
  const pid_t runner = ::fork();
  ASSERT_GE(runner, 0);
  if (runner == 0) {
    ::execl("/bin/sh", "sh", "-c", cmd.c_str(), nullptr);
    ::_exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the command is done by now
  int monitor = 0;
  std::ifstream(pid_file.string() + ".tmp") >> monitor;
  int ws = 0;
  ASSERT_EQ(::waitpid(runner, &ws, 0), runner);
  EXPECT_TRUE(WIFEXITED(ws) && WEXITSTATUS(ws) == 0) << ws;
  ASSERT_GT(monitor, 0);
  ASSERT_EQ(::waitpid(monitor, &ws, 0), monitor) << "the monitor was reaped by ljoci: " << std::strerror(errno);
  EXPECT_TRUE(WIFEXITED(ws)) << ws;
  EXPECT_EQ(WEXITSTATUS(ws), 6);
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

// pause freezes every process of the container (its output stops), resume lets them go on;
// state says "paused" meanwhile; a paused container is deleted only by force (thawed first).
// update changes the limits in the container's cgroups.
TEST_F(LjociTest, PauseResumeAndUpdate) {
  const fs::path out = world_->mkdir("out");
  config_["mounts"].push_back({{"destination", "/out"}, {"type", "bind"},
                               {"source", out.string()}, {"options", {"rbind"}}});
  config_["linux"]["resources"] = {{"pids", {{"limit", 100}}}, {"memory", {{"limit", 64 << 20}}}};
  write_config({"sh", "-c", "while :; do echo . >> /out/ticks; sleep 0.02; done"});
  const std::string c = id("pz");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  auto ticks = [&] { return sh("wc -l < " + (out / "ticks").string()).text; };
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto o = sh(ljoci("pause " + c));
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(state(c)["status"], "paused");
  EXPECT_NE(sh(ljoci("pause " + c)).status, 0);
  const std::string frozen = ticks();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_EQ(ticks(), frozen);
  EXPECT_NE(sh(ljoci("delete " + c)).status, 0);
  o = sh(ljoci("resume " + c));
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(state(c)["status"], "running");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_NE(ticks(), frozen);

  // update: flags and a resources file, read back from the container's cgroups.
  const int pid = state(c)["pid"].get<int>();
  std::string pids_dir, mem_dir;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find(':'), b = line.find(':', a + 1);
    const std::string ctl = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (ctl == "pids") pids_dir = "/sys/fs/cgroup/pids" + path;
    if (ctl == "memory") mem_dir = "/sys/fs/cgroup/memory" + path;
    if (ctl.empty() && pids_dir.empty()) pids_dir = mem_dir = "/sys/fs/cgroup" + path;
  }
  o = sh(ljoci("update --pids-limit 50 " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(sh("cat " + pids_dir + "/pids.max").text, "50\n");
  const fs::path res = world_->dir() / "resources.json";
  std::ofstream(res) << R"({"memory": {"limit": 33554432}, "pids": {"limit": 0}})";
  o = sh(ljoci("update --resources " + res.string() + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(sh("cat " + pids_dir + "/pids.max").text, "max\n");
  const std::string mem_file = fs::exists(mem_dir + "/memory.max") ? "/memory.max" : "/memory.limit_in_bytes";
  EXPECT_EQ(sh("cat " + mem_dir + mem_file).text, "33554432\n");
  o = sh(ljoci("update --kernel-memory 1048576 " + c));
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.text.find("kernel-memory"), std::string::npos) << o.text;

  ASSERT_EQ(sh(ljoci("pause " + c)).status, 0);
  o = sh(ljoci("delete --force " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_FALSE(fs::exists("/sys/fs/cgroup/freezer/ljd-frozen/" + c));
}

// linux.resources.memory.swap is memory and swap together (podman sends twice the limit for
// --memory alone; -1 is unlimited): v1 memory.memsw.limit_in_bytes, v2 memory.swap.max (the swap
// part). update changes either; a new memory limit alone leaves a container's swap limit as it
// is. Swap below the limit is refused, naming it, and changes nothing.
TEST_F(LjociTest, MemorySwapIsTheMemoryAndSwapLimit) {
  const bool v1 = fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
  const std::string swap_file = v1 ? "/memory.memsw.limit_in_bytes" : "/memory.swap.max";
  if (v1 && !fs::exists("/sys/fs/cgroup/memory" + swap_file))
    GTEST_SKIP() << "this host does not account swap (no memory.memsw.*: swapaccount=0)";
  config_["linux"]["resources"] = {{"memory", {{"limit", 32 << 20}, {"swap", 64 << 20}}}};
  write_config({"sh", "-c", "exec sleep 30"});
  const std::string c = id("swap");
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  const std::string mem = cgroup_dir(state(c)["pid"].get<int>(), "memory");
  // v2's swap.max is the swap alone: 32 MiB beside 32 MiB of memory.
  auto swap = [&](std::uint64_t total, std::uint64_t memory) {
    return std::to_string(v1 ? total : total - memory);
  };
  EXPECT_EQ(first_line(mem + swap_file), swap(64 << 20, 32 << 20));
  o = sh(ljoci("update --memory-swap " + std::to_string(96 << 20) + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(mem + swap_file), swap(96 << 20, 32 << 20));
  // Above the old memory+swap limit: the swap limit is raised first (v1 needs memory <= memsw).
  o = sh(ljoci("update --memory " + std::to_string(128 << 20) + " --memory-swap " +
               std::to_string(256 << 20) + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(mem + (v1 ? "/memory.limit_in_bytes" : "/memory.max")),
            std::to_string(128 << 20));
  EXPECT_EQ(first_line(mem + swap_file), swap(256 << 20, 128 << 20));
  o = sh(ljoci("update --memory " + std::to_string(16 << 20) + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(mem + swap_file), swap(256 << 20, 16 << 20));
  o = sh(ljoci("update --memory-swap " + std::to_string(8 << 20) + " " + c));
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("below"), std::string::npos) << o.text;
  EXPECT_EQ(first_line(mem + swap_file), swap(256 << 20, 16 << 20));
  o = sh(ljoci("update --memory-swap -1 " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(mem + swap_file), v1 ? "9223372036854771712" : "max");

  config_["linux"]["resources"] = {{"memory", {{"limit", 32 << 20}, {"swap", 16 << 20}}}};
  write_config({"true"});
  o = create(id("swapbelow"));
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("linux.resources.memory.swap"), std::string::npos) << o.text;
}

// A kubelet's UpdateContainerResources, as containerd's CRI plugin hands it to the runtime: the
// container's whole linux.resources (its device rules as created, empty lists, swap equal to the
// limit) with new cpu shares, quota and memory. ljoci takes the unchanged device rules as they
// are and writes the rest; other device rules than the create's are an error naming them.
TEST_F(LjociTest, AnUpdateAsContainerdsCriPluginSendsItKeepsTheDevicesAndWritesTheShares) {
  const json devices = json::parse(R"([{"allow": false, "access": "rwm"},
      {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}])");
  config_["linux"]["resources"] = {{"devices", devices},
                                   {"cpu", {{"shares", 1024}}},
                                   {"memory", {{"limit", 64 << 20}}}};
  write_config({"sh", "-c", "exec sleep 30"});
  const std::string c = id("upd");
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  const int pid = state(c)["pid"].get<int>();
  const bool v1 = fs::exists("/sys/fs/cgroup/cpu/cpu.shares");
  const std::string cpu = cgroup_dir(pid, "cpu"), mem = cgroup_dir(pid, "memory");
  EXPECT_EQ(first_line(cpu + (v1 ? "/cpu.shares" : "/cpu.weight")), v1 ? "1024" : "39");

  json update = {{"devices", devices},
                 {"memory", {{"limit", 32 << 20}, {"swap", 32 << 20}}},
                 {"cpu", {{"shares", 512}, {"quota", 50000}, {"period", 100000}}},
                 {"pids", nullptr}, {"hugepageLimits", json::array()}, {"blockIO", json::object()}};
  const fs::path res = world_->dir() / "cri-update.json";
  std::ofstream(res) << update.dump();
  o = sh(ljoci("update --resources " + res.string() + " " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(cpu + (v1 ? "/cpu.shares" : "/cpu.weight")), v1 ? "512" : "20");
  EXPECT_EQ(first_line(cpu + (v1 ? "/cpu.cfs_quota_us" : "/cpu.max")), v1 ? "50000" : "50000 100000");
  EXPECT_EQ(first_line(mem + (v1 ? "/memory.limit_in_bytes" : "/memory.max")), std::to_string(32 << 20));
  o = sh(ljoci("update --cpu-share 256 " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(first_line(cpu + (v1 ? "/cpu.shares" : "/cpu.weight")), v1 ? "256" : "10");

  update["devices"] = json::parse(R"([{"allow": true, "access": "rwm"}])");
  std::ofstream(res) << update.dump();
  o = sh(ljoci("update --resources " + res.string() + " " + c));
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("linux.resources.devices"), std::string::npos) << o.text;
  EXPECT_EQ(first_line(cpu + (v1 ? "/cpu.shares" : "/cpu.weight")), v1 ? "256" : "10");
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

// events --stats: one runc-style stats event read from the container's cgroups (pids current and
// limit, memory usage and limit, cpu throttling and the container's own CPU time: on a host that
// mounts cpuacct apart from cpu, as this one, from a cpuacct cgroup of the container's, which
// containerd's shim reads as well); events --interval: one every interval until the container
// stops; a stopped or unknown container is an error.
TEST_F(LjociTest, EventsAreTheCgroupsStatistics) {
  config_["linux"]["resources"] =
      json::parse(R"({"pids": {"limit": 50}, "memory": {"limit": 67108864},
                      "cpu": {"quota": 50000, "period": 100000}})");
  write_config({"sh", "-c", "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); done; sleep 2; exit 0"});
  const std::string c = id("ev");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  auto o = sh(ljoci("events --stats " + c));
  ASSERT_EQ(o.status, 0) << o.text;
  const json e = json::parse(o.text);
  EXPECT_EQ(e["type"], "stats");
  EXPECT_EQ(e["id"], c);
  EXPECT_GE(e["data"]["pids"]["current"].get<int>(), 1) << o.text;  // sh, and sleep after its loop
  EXPECT_EQ(e["data"]["pids"]["limit"], 50) << o.text;
  EXPECT_EQ(e["data"]["memory"]["usage"]["limit"], 67108864) << o.text;
  EXPECT_GT(e["data"]["memory"]["usage"]["usage"].get<std::uint64_t>(), 0u) << o.text;
  EXPECT_TRUE(e["data"]["cpu"]["throttling"].contains("periods")) << o.text;
  // The busy loop's CPU time, and only the container's: at most what the clock allowed since.
  const auto started = std::chrono::steady_clock::now();
  std::uint64_t total = 0;
  while (total < 20'000'000 && std::chrono::steady_clock::now() - started < std::chrono::seconds(5)) {
    o = sh(ljoci("events --stats " + c));
    if (o.status != 0) break;  // the container ended
    const json cpu = json::parse(o.text)["data"]["cpu"]["usage"];
    total = cpu.value("total", std::uint64_t{0});
    if (total < 20'000'000) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_GE(total, 20'000'000u) << "20 ms of the busy loop's CPU time, counted apart: " << o.text;
  EXPECT_LT(total, 10'000'000'000u) << o.text;
  // Streamed until the container stops (its command ends after 2 s): several events, then exit 0.
  o = sh("timeout 10 " + ljoci("events --interval 200ms " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  std::istringstream lines(o.text);
  int n = 0;
  for (std::string l; std::getline(lines, l); ++n) EXPECT_EQ(json::parse(l)["type"], "stats") << l;
  EXPECT_GE(n, 2) << o.text;
  EXPECT_NE(sh(ljoci("events --stats " + c)).status, 0);  // stopped
  EXPECT_EQ(sh(ljoci("delete " + c)).status, 0);
  EXPECT_NE(sh(ljoci("events --stats " + c)).status, 0);  // gone
  EXPECT_NE(sh(ljoci("events --interval 5x " + c)).status, 0);
}

// --preserve-fds N (runc's; podman's --preserve-fds, systemd socket activation): the caller's
// descriptors 3 .. 3+N-1 are the command's 3 .. 3+N-1, through create and start too; nothing
// else of ljoci's reaches the command.
TEST_F(LjociTest, PreservedDescriptorsReachTheCommand) {
  const fs::path in = world_->dir() / "in", out = world_->dir() / "out";
  std::ofstream(in) << "from fd 3\n";
  write_config({"sh", "-c", "cat <&3; echo to fd 4 >&4; ls /proc/self/fd | tr '\\n' ' '"});
  auto o = sh("exec 3<" + in.string() + " 4>" + out.string() + "; " +
              ljoci("run --preserve-fds 2 --bundle " + bundle_.string() + " " + id("pf1")) +
              " </dev/null");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "from fd 3\n0 1 2 3 4 5 ") << o.text;  // 5: ls's own directory
  EXPECT_EQ(sh("cat " + out.string()).text, "to fd 4\n");
  // create, then start from another process: the held command keeps them meanwhile.
  write_config({"sh", "-c", "cat <&3 > /dev/null && echo held >&4"});
  const std::string c = id("pf2");
  o = sh("exec 3<" + in.string() + " 4>" + out.string() + "; " +
         ljoci("create --preserve-fds 2 --bundle " + bundle_.string() + " " + c) +
         " </dev/null >/dev/null 2>&1");
  ASSERT_EQ(o.status, 0) << o.text;
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  for (int i = 0; i < 100 && sh("cat " + out.string()).text.empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(sh("cat " + out.string()).text, "held\n");
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  // Without the flag none passes; a descriptor the caller lacks fails the create.
  write_config({"sh", "-c", "ls /proc/self/fd | tr '\\n' ' '"});
  o = sh("exec 3<" + in.string() + "; " + ljoci("run --bundle " + bundle_.string() + " " + id("pf3")) +
         " </dev/null");
  EXPECT_EQ(o.text, "0 1 2 3 ") << o.text;
  o = sh(ljoci("run --preserve-fds 40 --bundle " + bundle_.string() + " " + id("pf4")) + " </dev/null");
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(sh(ljoci("run --preserve-fds x --bundle " + bundle_.string() + " " + id("pf5"))).status, 0);
  EXPECT_EQ(sh(ljoci("list -q")).text, "");
}

// exec --preserve-fds N, as run's: the caller's 3 .. 3+N-1 (a pipe, a file) are the exec'd
// process's 3 .. 3+N-1, and nothing else is open in it (not the exec's error pipe, which sits at
// 3 until the execve); the monitor keeps none, so the pipe ends with the process.
TEST_F(LjociTest, ExecPassesPreservedDescriptors) {
  write_config({"sleep", "30"});
  const std::string c = id("xpf");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  const fs::path file = world_->dir() / "fd4", fds = world_->dir() / "fds";
  // 3: the pipe sh() reads; 4: the file; stdout: the process's descriptors.
  auto o = sh("{ " +
              ljoci("exec --preserve-fds 2 " + c +
                    " sh -c 'echo via pipe >&3; echo via file >&4; ls /proc/self/fd | tr \"\\n\" \" \"'") +
              " 3>&1 4>" + file.string() + " >" + fds.string() + " </dev/null; }");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "via pipe\n");
  EXPECT_EQ(sh("cat " + file.string()).text, "via file\n");
  EXPECT_EQ(sh("cat " + fds.string()).text, "0 1 2 3 4 5 ");  // 5: ls's own directory
  // --process (conmon's and the shim's form) takes it too.
  const fs::path proc = world_->dir() / "process.json";
  std::ofstream(proc) << json{{"args", {"sh", "-c", "echo via process >&3"}}, {"cwd", "/"},
                              {"env", {"PATH=/bin"}}}
                             .dump();
  o = sh("{ " + ljoci("exec --preserve-fds 1 --process " + proc.string() + " " + c) +
         " 3>&1 >/dev/null </dev/null; }");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "via process\n");
  // Without the flag the caller's 3 stays out; a descriptor the caller lacks, more than 64, or
  // no count fail the exec.
  o = sh("exec 3</dev/null; " + ljoci("exec " + c + " sh -c 'ls /proc/self/fd | tr \"\\n\" \" \"'"));
  EXPECT_EQ(o.text, "0 1 2 3 ") << o.text;
  EXPECT_NE(sh(ljoci("exec --preserve-fds 40 " + c + " true") + " </dev/null").status, 0);
  EXPECT_NE(sh(ljoci("exec --preserve-fds 65 " + c + " true")).status, 0);
  EXPECT_NE(sh(ljoci("exec --preserve-fds x " + c + " true")).status, 0);
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

TEST_F(LjociTest, ACreatedContainerCanBeKilledAndDeleted) {
  write_config({"sleep", "30"});
  const std::string c2 = id("c2");
  ASSERT_EQ(create(c2).status, 0);
  EXPECT_EQ(create(c2).status, 1);  // the id is taken
  auto o = sh(ljoci("delete --force " + c2));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(sh(ljoci("list -q")).text, "");
}

TEST_F(LjociTest, ConfigIsHonouredInside) {
  config_["hostname"] = "oci-host";
  // RLIMIT_CORE: the engine's own "no core dumps" (hard 0) must not stand in the way.
  config_["process"]["rlimits"] = json::parse(R"([{"type":"RLIMIT_NOFILE","soft":123,"hard":456},
      {"type":"RLIMIT_CORE","soft":1048576,"hard":2097152}])");
  config_["process"]["user"] = {
      {"uid", 1000}, {"gid", 1000}, {"additionalGids", {7}}, {"umask", 2}};
  config_["process"]["cwd"] = "/tmp";
  config_["root"]["readonly"] = true;
  config_["mounts"].push_back({{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                               {"options", {"size=1m"}}});
  config_["linux"]["maskedPaths"] = {"/etc"};
  write_config({"sh", "-c",
                "hostname; ulimit -n; ulimit -Hn; awk '/core/ {print $5, $6}' /proc/self/limits; "
                "umask; id -u; id -G; pwd; "
                "touch /x 2>/dev/null && echo root-writable; touch /tmp/y && echo tmp-writable; "
                "ls /etc | wc -l; grep CapEff /proc/self/status; grep NoNewPrivs /proc/self/status"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("h1")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text,
            "oci-host\n123\n456\n1048576 2097152\n0002\n1000\n1000 7\n/tmp\ntmp-writable\n0\n"
            "CapEff:\t0000000000000000\nNoNewPrivs:\t1\n");
}

// A config's cgroup mount on a v1 host shows the container's own cgroups, one per hierarchy it is
// in, read-only, as runc does: what a JVM or `cat /sys/fs/cgroup/memory/memory.limit_in_bytes`
// reads for the container's limits. With the host's cgroup namespace (podman's default on v1) as
// with its own. Before, the container saw the cgroup2 mount: on this hybrid host the host's whole
// unified tree (with the host's namespace) and no v1 controller.
TEST_F(LjociTest, TheCgroupMountIsTheContainersOwnCgroupsOnV1) {
  if (!fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes") ||
      !fs::exists("/sys/fs/cgroup/pids/cgroup.procs"))
    GTEST_SKIP() << "not a cgroup v1 host with memory and pids hierarchies";
  mount_sys_and_cgroups();
  config_["linux"]["resources"] = {{"memory", {{"limit", 48 << 20}}}, {"pids", {{"limit", 40}}}};
  write_config({"sh", "-c",
                "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/pids/pids.max; "
                "grep -c . /sys/fs/cgroup/pids/cgroup.procs; "
                "(echo 1 > /sys/fs/cgroup/pids/pids.max) 2>/dev/null && echo writable; "
                "touch /sys/fs/cgroup/x 2>/dev/null && echo tmpfs-writable; "
                "ls /sys/fs/cgroup/unified 2>/dev/null; echo end"});
  // cgroup.procs: sh (init) and grep; nothing of the host's (the pids hierarchy's own cgroup).
  const std::string want = std::to_string(48 << 20) + "\n40\n2\nend\n";
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cgown")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, want);
  auto& ns = config_["linux"]["namespaces"];
  ns.erase(std::remove(ns.begin(), ns.end(), json{{"type", "cgroup"}}), ns.end());
  write_config(config_["process"]["args"].get<std::vector<std::string>>());
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cghost")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, want);
}

// linux.resources.blockIO's throttles (podman's --device-read-bps and the like): the container's
// own blkio cgroup holds each rule, seen from the host and in the container's /sys/fs/cgroup.
// A weight on a host whose I/O schedulers have none is refused naming it (runc fails on the
// write; podman drops the weight itself there).
TEST_F(LjociTest, BlockIoThrottlesAreTheContainersBlkioCgroup) {
  if (!fs::exists("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device"))
    GTEST_SKIP() << "no cgroup v1 blkio hierarchy on this host";
  const auto [node, dev] = host_block_device();
  if (dev.empty()) GTEST_SKIP() << "no block device on this host";
  const auto colon = dev.find(':');
  const json rate = {{"major", std::stoll(dev.substr(0, colon))},
                     {"minor", std::stoll(dev.substr(colon + 1))}};
  json read = rate, write = rate;
  read["rate"] = 1 << 20;
  write["rate"] = 100;
  config_["linux"]["resources"] = {{"blockIO", {{"throttleReadBpsDevice", {read}},
                                                {"throttleWriteIOPSDevice", {write}}}}};
  mount_sys_and_cgroups();
  write_config({"sh", "-c", "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
                            "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device; sleep 30"});
  const std::string c = id("blkio");
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  const std::string dir = cgroup_dir(state(c)["pid"].get<int>(), "blkio");
  EXPECT_NE(dir.find(c), std::string::npos) << dir;
  EXPECT_EQ(first_line(dir + "/blkio.throttle.read_bps_device"), dev + " 1048576");
  EXPECT_EQ(first_line(dir + "/blkio.throttle.write_iops_device"), dev + " 100");
  o = sh(ljoci("delete --force " + c));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_FALSE(fs::exists(dir)) << dir;

  write_config({"sh", "-c", "cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device "
                            "/sys/fs/cgroup/blkio/blkio.throttle.write_iops_device"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("blkrun")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, dev + " 1048576\n" + dev + " 100\n");

  if (!fs::exists("/sys/fs/cgroup/blkio/blkio.weight") &&
      !fs::exists("/sys/fs/cgroup/blkio/blkio.bfq.weight")) {
    config_["linux"]["resources"] = {{"blockIO", {{"weight", 300}}}};
    write_config({"true"});
    o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("blkw")));
    EXPECT_NE(o.status, 0) << o.text;
    EXPECT_NE(o.text.find("weight"), std::string::npos) << o.text;
  }
}

// runc's default maskedPaths and readonlyPaths (every `runc spec`, podman and containerd config
// carries them) are all among the engine's own /proc and /sys masks: made once, each still holds.
// Where the config mounts over one (a tmpfs on /proc/acpi here), the config's mask is made again
// on top, as it must: otherwise that path would be the config's writable tmpfs.
TEST_F(LjociTest, RuncsDefaultMasksAreMadeOnceAndAMountOverOneIsMaskedAgain) {
  config_["mounts"].push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                               {"options", {"nosuid", "noexec", "nodev", "ro"}}});
  config_["linux"]["maskedPaths"] = {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                                     "/proc/latency_stats", "/proc/timer_list",
                                     "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
                                     "/proc/scsi"};
  config_["linux"]["readonlyPaths"] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                       "/proc/sysrq-trigger"};
  const std::string script =
      "awk '{print $5}' /proc/self/mountinfo | sort | uniq -d; wc -c < /proc/keys; "
      "(echo 1 > /proc/sys/kernel/ns_last_pid) 2>/dev/null && echo sys-writable; "
      "ls /sys/firmware | wc -l; touch /proc/acpi/x 2>/dev/null && echo acpi-writable; echo end";
  write_config({"sh", "-c", script});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("masks")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "0\n0\nend\n");  // no mount point twice, every mask and read-only path kept

  config_["mounts"].push_back(
      {{"destination", "/proc/acpi"}, {"type", "tmpfs"}, {"source", "tmpfs"}});
  write_config({"sh", "-c", script});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("masks")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "/proc/acpi\n0\n0\nend\n");  // the engine's, the config's tmpfs, masked again
}

// A config decides the masks, as under runc: one that lists none and mounts /sys without `ro`
// (podman --privileged, a privileged pod) gets /proc and /sys as they are, none of the engine's
// masks and read-only entries; the same config with runc's lists and `ro` gets them back.
TEST_F(LjociTest, AConfigWithoutMasksGetsNoneOfTheEnginesAsUnderRunc) {
  const std::string script =
      "awk '$5 ~ \"^/(proc|sys)\" {split($6, o, \",\"); print $5, o[1]}' /proc/self/mountinfo";
  config_["mounts"].push_back({{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
                               {"options", {"nosuid", "noexec", "nodev", "rw"}}});
  write_config({"sh", "-c", script});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("privileged")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "/proc rw\n/sys rw\n");

  config_["mounts"].back()["options"] = {"nosuid", "noexec", "nodev", "ro"};
  config_["linux"]["maskedPaths"] = {"/proc/keys", "/sys/firmware"};
  config_["linux"]["readonlyPaths"] = {"/proc/sys"};
  write_config({"sh", "-c", script});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("masked")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "/proc rw\n/sys ro\n/proc/keys rw\n/sys/firmware ro\n/proc/sys ro\n");
}

// root.readonly with mounts whose destinations the rootfs lacks (containerd's CRI binds
// /etc/resolv.conf into a pause image that has none): their mount points are made in the rootfs
// first, then the root is read-only (runc's order).
TEST_F(LjociTest, AReadOnlyRootTakesMountsAtPointsItLacks) {
  const fs::path file = world_->dir() / "resolv.conf";
  std::ofstream(file) << "nameserver 192.0.2.1\n";
  const std::string dest = "/" + id("point") + "/resolv.conf";
  config_["root"]["readonly"] = true;
  config_["mounts"].push_back({{"destination", dest}, {"type", "bind"},
                               {"source", file.string()}, {"options", {"rbind", "ro"}}});
  config_["mounts"].push_back({{"destination", "/scratch-" + id("t")}, {"type", "tmpfs"},
                               {"source", "tmpfs"}});
  write_config({"sh", "-c", "cat " + dest + "; touch /x 2>/dev/null && echo root-writable; "
                            "awk '$5 == \"/\" {print substr($6, 1, 3)}' /proc/self/mountinfo"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("ro")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "nameserver 192.0.2.1\nro,\n");
}

// No ipc or uts namespace in the config: the host's (containerd's CRI leaves uts out of a
// host-network pod's sandbox), the hostname the host's.
TEST_F(LjociTest, NoIpcOrUtsNamespaceIsTheHosts) {
  config_["linux"]["namespaces"] = json::parse(R"([{"type":"pid"},{"type":"mount"}])");
  write_config({"sh", "-c", "readlink /proc/self/ns/ipc; readlink /proc/self/ns/uts; hostname"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("hostns")));
  EXPECT_EQ(o.status, 0) << o.text;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  EXPECT_EQ(o.text, fs::read_symlink("/proc/self/ns/ipc").string() + "\n" +
                        fs::read_symlink("/proc/self/ns/uts").string() + "\n" + host + "\n");
  config_["hostname"] = "renamed";
  write_config({"true"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("hostns")));
  EXPECT_NE(o.status, 0);
  EXPECT_NE(o.text.find("hostname without a uts namespace"), std::string::npos) << o.text;
}

// A hook's evidence: its first n lines, then the rest (the state it read on stdin).
std::vector<std::string> hook_output(const fs::path& file, int n) {
  std::ifstream in(file);
  std::vector<std::string> out(n + 1);
  for (int i = 0; i < n; ++i) std::getline(in, out[i]);
  std::stringstream rest;
  rest << in.rdbuf();
  out[n] = rest.str();
  return out;
}

// The hooks run in the container's namespaces, by the engine. createContainer: in the container's
// mount namespace (the init's, compared by inode) before pivot_root (its cwd is the new root
// seen from the host's tree: the world's marker is there), the state on stdin (status creating);
// startContainer: inside the container (its hostname, its root) just before the command, which
// sees what it wrote, the state on stdin (status created).
TEST_F(LjociTest, CreateAndStartContainerHooksRunInTheContainer) {
  const fs::path out = world_->dir() / "create-hook.out";
  const fs::path create_hook = world_->dir() / "create-hook";
  std::ofstream(world_->world() / "marker") << "m";
  std::ofstream(create_hook) << "#!/bin/sh\n{ echo \"$1\"; test -e ./marker && echo sees-rootfs; "
                                "readlink /proc/self/ns/mnt; cat; echo; } > " +
                                    out.string() + "\n";
  fs::permissions(create_hook, fs::perms::owner_all);
  std::ofstream(world_->world() / "start-hook")
      << "#!/bin/sh\n{ echo \"$1\"; hostname; test -e /marker && echo sees-root; cat; } > "
         "/tmp/start-hook.out\n";
  fs::permissions(world_->world() / "start-hook", fs::perms::owner_all);
  config_["hostname"] = "hook-host";
  config_["hooks"] = {
      {"createContainer",
       {{{"path", create_hook.string()}, {"args", {"create-hook", "c-arg"}}, {"timeout", 5}}}},
      {"startContainer",
       {{{"path", "/start-hook"}, {"args", {"start-hook", "s-arg"}}, {"env", {"PATH=/bin"}}}}}};
  write_config({"sleep", "30"});
  const std::string c = id("hk");
  auto o = create(c);
  ASSERT_EQ(o.status, 0) << o.text;
  std::string pid;
  std::ifstream(bundle_ / "pid") >> pid;
  auto got = hook_output(out, 3);
  EXPECT_EQ(got[0], "c-arg");
  EXPECT_EQ(got[1], "sees-rootfs");
  EXPECT_EQ(got[2], fs::read_symlink("/proc/" + pid + "/ns/mnt").string());
  EXPECT_NE(got[2], fs::read_symlink("/proc/self/ns/mnt").string());
  json st = json::parse(got[3]);
  EXPECT_EQ(st["id"], c);
  EXPECT_EQ(st["status"], "creating");
  EXPECT_EQ(st["bundle"], bundle_.string());
  EXPECT_GT(st["pid"].get<int>(), 0);
  EXPECT_FALSE(fs::exists(world_->world() / "tmp" / "start-hook.out")) << "ran before start";

  o = sh(ljoci("start " + c));
  ASSERT_EQ(o.status, 0) << o.text;
  const fs::path start_out = world_->world() / "tmp" / "start-hook.out";
  for (int i = 0; i < 100 && !fs::exists(start_out); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  got = hook_output(start_out, 3);
  EXPECT_EQ(got[0], "s-arg");
  EXPECT_EQ(got[1], "hook-host");
  EXPECT_EQ(got[2], "sees-root");
  json sst = json::parse(got[3]);
  EXPECT_EQ(sst["id"], c);
  EXPECT_EQ(sst["status"], "created");
  EXPECT_GT(sst["pid"].get<int>(), 0);
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
}

// A createContainer hook that fails or outlives its timeout fails the create, named with its
// status, and leaves nothing; a failing startContainer hook keeps the command from running: `run`
// fails as a create does (1, the hook named), as runc's; after a hold (create, then start: here a
// prestart hook makes run hold the command) the command's status is 127, the hook named on its
// stderr, as an exec failure after start.
TEST_F(LjociTest, AFailingOrLateHookFailsTheContainer) {
  const fs::path hook = world_->dir() / "bad-hook";
  std::ofstream(hook) << "#!/bin/sh\nexit 3\n";
  fs::permissions(hook, fs::perms::owner_all);
  config_["hooks"] = {{"createContainer", {{{"path", hook.string()}}}}};
  write_config({"true"});
  const std::string c = id("hf");
  auto o = create(c);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.text.find("createContainer hook " + hook.string() + ": exit status 3"),
            std::string::npos)
      << o.text;
  EXPECT_FALSE(fs::exists(root_ / c));
  EXPECT_EQ(sh(ljoci("list -q")).text, "");

  std::ofstream(hook) << "#!/bin/sh\nsleep 20\n";
  config_["hooks"] = {{"createContainer", {{{"path", hook.string()}, {"timeout", 1}}}}};
  write_config({"true"});
  const auto t0 = std::chrono::steady_clock::now();
  o = create(c);
  const auto took = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(took, std::chrono::seconds(1));
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.text.find("createContainer hook " + hook.string() + ": timed out after 1s"),
            std::string::npos)
      << o.text;
  EXPECT_FALSE(fs::exists(root_ / c));

  std::ofstream(world_->world() / "bad-start-hook") << "#!/bin/sh\nexit 4\n";
  fs::permissions(world_->world() / "bad-start-hook", fs::perms::owner_all);
  config_["hooks"] = {{"startContainer", {{{"path", "/bad-start-hook"}}}}};
  write_config({"sh", "-c", "echo ran"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + c) + " 2>&1");
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.text.find("startContainer hook /bad-start-hook: exit status 4"), std::string::npos)
      << o.text;
  EXPECT_EQ(o.text.find("ran"), std::string::npos) << o.text;
  EXPECT_EQ(sh(ljoci("list -q")).text, "");
  config_["hooks"]["prestart"] = {{{"path", "/bin/true"}}};
  write_config({"sh", "-c", "echo ran"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + c) + " 2>&1");
  EXPECT_EQ(o.status, 127);
  EXPECT_NE(o.text.find("startContainer hook /bad-start-hook: exit status 4"), std::string::npos)
      << o.text;
  EXPECT_EQ(o.text.find("ran"), std::string::npos) << o.text;
  EXPECT_EQ(sh(ljoci("list -q")).text, "");
}

// runtime.md, Lifecycle: a failing poststart or poststop hook is a warning, and the hooks after
// it still run (runtime-tools poststart_fail and poststop_fail check the same).
TEST_F(LjociTest, AFailingPoststartOrPoststopHookIsAWarningAndTheNextOnesRun) {
  const fs::path out = world_->dir() / "hooks-out";
  auto echo = [&](const char* what) {
    return json{{"path", "/bin/sh"}, {"args", {"sh", "-c", std::string("echo ") + what + " >> " + out.string()}}};
  };
  const json fails = {{"path", "/bin/false"}, {"args", {"false"}}};
  config_["hooks"] = {{"poststart", {fails, echo("poststart")}}, {"poststop", {fails, echo("poststop")}}};
  write_config({"true"});
  const std::string c = id("hw");
  ASSERT_EQ(create(c).status, 0);
  auto start = sh(ljoci("start " + c) + " 2>&1");
  EXPECT_EQ(start.status, 0) << start.text;
  EXPECT_NE(start.text.find("poststart hook /bin/false failed"), std::string::npos) << start.text;
  for (int i = 0; i < 100 && state(c).value("status", "") != "stopped"; ++i) ::usleep(20000);
  auto del = sh(ljoci("delete " + c) + " 2>&1");
  EXPECT_EQ(del.status, 0) << del.text;
  EXPECT_NE(del.text.find("poststop hook /bin/false failed"), std::string::npos) << del.text;
  std::ifstream in(out);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "poststart\npoststop\n");
}

TEST_F(LjociTest, AnUnhonouredFieldRefusesTheCreateAndLeavesNothing) {
  config_["linux"]["intelRdt"] = json::object();
  write_config({"true"});
  const std::string bad = id("bad");
  auto o = create(bad);
  EXPECT_EQ(o.status, 1);
  EXPECT_NE(o.text.find("linux.intelRdt"), std::string::npos) << o.text;
  EXPECT_FALSE(fs::exists(root_ / bad));
  config_["linux"].erase("intelRdt");
  write_config({"/no/such/binary"});
  o = create(bad);
  EXPECT_EQ(o.status, 1);  // found missing at create, as runc does
  EXPECT_NE(o.text.find("/no/such/binary"), std::string::npos) << o.text;
  EXPECT_FALSE(fs::exists(root_ / bad));
}

// CVE-2024-21626 class: nothing of the runtime's reaches the container: only 0-2 are open (ls
// itself opens the 3rd), the working directory is inside, and /proc/1 is the command itself
// (runc's model): its descriptors, listed by its own glob (no fork, so no pipe of the shell's
// open meanwhile), are 0-2 and the glob's directory, and its executable is the container's.
TEST_F(LjociTest, NoRuntimeDescriptorOrDirectoryLeaks) {
  write_config({"sh", "-c",
                "ls /proc/self/fd | wc -l; readlink /proc/self/cwd; "
                "set -- /proc/1/fd/*; echo $#; "
                "[ /proc/1/exe -ef /bin/sh ] && echo own"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("fd1")) + " </dev/null");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "4\n/\n4\nown\n");
}

// CVE-2021-30465 class: a mount destination that is a symlink out of the rootfs is never
// followed: the create fails and the host directory it points at gets no mount.
TEST_F(LjociTest, ASymlinkedMountDestinationMountsNothingOutside) {
  const fs::path outside = world_->mkdir("outside");
  fs::create_directory_symlink(outside, world_->world() / "escape");
  config_["mounts"].push_back({{"destination", "/escape/sub"}, {"type", "tmpfs"},
                               {"source", "tmpfs"}});
  write_config({"true"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("sym1")));
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_FALSE(fs::exists(outside / "sub"));
  // The same through a masked path: skipped or refused, never followed.
  config_["mounts"].erase(config_["mounts"].size() - 1);
  config_["linux"]["maskedPaths"] = {"/escape"};
  std::ofstream(outside / "f") << "host";
  write_config({"true"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("sym2")));
  std::ifstream in(outside / "f");
  std::string s;
  in >> s;
  EXPECT_EQ(s, "host");
}

// A copy of a dynamic ELF of the host's (one with a PT_INTERP, x86_64 or any 64-bit one) whose
// program interpreter is `interp` instead; empty when there is none to copy.
std::string with_interpreter(const std::string& interp) {
  for (const char* path : {"/usr/bin/true", "/bin/true", "/usr/bin/env"}) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    std::string elf = ss.str();
    Elf64_Ehdr eh;
    if (elf.size() < sizeof eh || elf.compare(0, SELFMAG, ELFMAG) != 0 || elf[EI_CLASS] != ELFCLASS64)
      continue;
    std::memcpy(&eh, elf.data(), sizeof eh);
    for (unsigned i = 0; i < eh.e_phnum; ++i) {
      Elf64_Phdr ph;
      if (eh.e_phoff + (i + 1) * sizeof ph > elf.size()) break;
      std::memcpy(&ph, elf.data() + eh.e_phoff + i * sizeof ph, sizeof ph);
      if (ph.p_type != PT_INTERP || ph.p_filesz <= interp.size()) continue;
      elf.replace(ph.p_offset, ph.p_filesz, interp + std::string(ph.p_filesz - interp.size(), '\0'));
      return elf;
    }
  }
  return {};
}

// CVE-2019-5736 class: the command named as /proc/self/exe (the runtime's own image until the
// exec) is never run: exec through a magic link is refused, and the runtime binary is untouched.
// Nor through an ELF whose program interpreter (PT_INTERP) is /proc/self/exe: the kernel would map
// and start the runtime's binary as that program's interpreter.
TEST_F(LjociTest, TheRuntimeBinaryIsNotReachableAsTheCommand) {
  const auto before = fs::last_write_time(LJOCI_PATH);
  write_config({"/proc/self/exe", "--version"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("exe1")));
  EXPECT_EQ(o.status, 1) << o.text;  // the run fails as a create would, before it started
  EXPECT_NE(o.text.find("Too many levels of symbolic links"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find("ljoci version"), std::string::npos) << o.text;

  const std::string elf = with_interpreter("/proc/self/exe");
  ASSERT_FALSE(elf.empty()) << "no dynamic ELF on this host to make one of";
  std::ofstream(world_->world() / "interp-exe", std::ios::binary) << elf;
  fs::permissions(world_->world() / "interp-exe", fs::perms(0755));
  write_config({"/interp-exe", "--version"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("exe2")));
  EXPECT_EQ(o.status, 1) << o.text;
  EXPECT_NE(o.text.find("Too many levels of symbolic links"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find("ljoci version"), std::string::npos) << o.text;
  EXPECT_EQ(fs::last_write_time(LJOCI_PATH), before);
}

// CVE-2019-5736 class, the write-through: a container's process opening the runtime binary for
// writing. A #! script whose interpreter is /proc/self/exe (the runtime's image until the exec),
// as the command (`run` fails: 1) or through exec (1), and /proc/self/exe named directly, are refused (ELOOP); init's
// /proc/1/exe (the container's own command, running: ETXTBSY) does not open for writing; a loop in the
// container tries every /proc/N/exe for writing while ljoci execs into it again and again (each
// exec runs ljoci's image in the container's pid namespace until its own execve). The container
// has CAP_DAC_OVERRIDE, so file modes stop nothing. The binary's checksum is the same after.
TEST_F(LjociTest, TheRuntimeBinaryCannotBeOpenedForWritingFromTheContainer) {
  const std::string sum_before = sh("sha256sum " + std::string(LJOCI_PATH)).text;
  const fs::path out = world_->mkdir("out");
  config_["mounts"].push_back({{"destination", "/out"}, {"type", "bind"},
                               {"source", out.string()}, {"options", {"rbind"}}});
  const json caps = {"CAP_KILL", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_CHOWN"};
  config_["process"]["capabilities"] = {{"bounding", caps}, {"effective", caps}, {"permitted", caps}};
  {
    std::ofstream evil(world_->world() / "evil");
    evil << "#!/proc/self/exe\n";
  }
  fs::permissions(world_->world() / "evil", fs::perms(0755));
  write_config({"/evil", "--version"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("w1")));
  EXPECT_EQ(o.status, 1) << o.text;
  EXPECT_NE(o.text.find("Too many levels of symbolic links"), std::string::npos) << o.text;
  EXPECT_EQ(o.text.find("ljoci version"), std::string::npos) << o.text;

  write_config({"sh", "-c",
                "(: >> /proc/1/exe) 2>/dev/null && echo opened > /out/init || echo refused > /out/init; "
                "n=0; end=$(( $(date +%s) + 3 )); "
                "while [ $(date +%s) -lt $end ]; do for p in /proc/[0-9]*; do "
                "  n=$((n+1)); (: >> $p/exe) 2>/dev/null && echo \"$p $(tr '\\0' ' ' < $p/cmdline)\" >> /out/wrote; "
                "done; done; echo $n > /out/tries; exec sleep 30"});
  const std::string c = id("w2");
  ASSERT_EQ(create(c).status, 0);
  ASSERT_EQ(sh(ljoci("start " + c)).status, 0);
  for (const char* cmd : {" /evil --version", " /proc/self/exe --version"}) {
    o = sh(ljoci("exec " + c + cmd));
    EXPECT_EQ(o.status, 1) << o.text;  // exec's status for a command that did not start
    EXPECT_NE(o.text.find("Too many levels of symbolic links"), std::string::npos) << o.text;
    EXPECT_EQ(o.text.find("ljoci version"), std::string::npos) << o.text;
  }
  for (int i = 0; i < 200 && !fs::exists(out / "tries"); ++i) {
    (void)sh(ljoci("exec " + c + " true"));
    if (i >= 10) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(out / "tries"));
  EXPECT_GT(std::stoi(sh("cat " + (out / "tries").string()).text), 0);
  EXPECT_EQ(sh("cat " + (out / "init").string()).text, "refused\n");
  EXPECT_FALSE(fs::exists(out / "wrote")) << sh("cat " + (out / "wrote").string()).text;
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);
  EXPECT_EQ(sh("sha256sum " + std::string(LJOCI_PATH)).text, sum_before);
}

// runc's "tmpcopyup" (podman --tmpfs, --read-only): a tmpfs that starts with a copy of the
// directory it covers: a file, a nested directory, a symlink (not followed: its target is
// outside), their modes, owners and mtimes; the copy is the tmpfs's, the world's files unchanged.
// Without the option the tmpfs is empty; on another file system type it is refused by name.
TEST_F(LjociTest, ATmpcopyupTmpfsStartsWithACopyOfTheDirectory) {
  const fs::path d = world_->world() / "cfg";
  fs::create_directories(d / "sub");
  std::ofstream(d / "a") << "alpha";
  std::ofstream(d / "sub" / "b") << "beta";
  fs::create_symlink("/etc/hostname", d / "link");
  ASSERT_EQ(::chmod((d / "a").c_str(), 0640), 0);
  ASSERT_EQ(::chown((d / "sub" / "b").c_str(), 123, 456), 0);
  struct timespec old[2] = {{1000000000, 0}, {1000000000, 0}};
  ASSERT_EQ(::utimensat(AT_FDCWD, (d / "a").c_str(), old, 0), 0);
  config_["mounts"].push_back({{"destination", "/cfg"}, {"type", "tmpfs"}, {"source", "tmpfs"},
                               {"options", {"rw", "rprivate", "nosuid", "nodev", "tmpcopyup"}}});
  write_config({"sh", "-c",
                "grep ' /cfg ' /proc/mounts | cut -d' ' -f3; cat /cfg/a /cfg/sub/b; echo; "
                "stat -c '%a %u:%g %Y' /cfg/a /cfg/sub/b; readlink /cfg/link; "
                "echo new > /cfg/a && cat /cfg/a"});
  const std::string b_mtime = sh("stat -c %Y " + (d / "sub" / "b").string()).text;
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cu1")));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "tmpfs\nalphabeta\n640 0:0 1000000000\n644 123:456 " + b_mtime +
                        "/etc/hostname\nnew\n");
  std::ifstream in(d / "a");
  std::string kept;
  in >> kept;
  EXPECT_EQ(kept, "alpha");  // the world's file, under the tmpfs

  config_["mounts"].back()["options"] = {"rw", "nosuid"};
  write_config({"sh", "-c", "ls -A /cfg | wc -l"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cu2")));
  EXPECT_EQ(o.text, "0\n") << o.text;

  config_["mounts"].back() = {{"destination", "/cfg"}, {"type", "mqueue"}, {"source", "mqueue"},
                              {"options", {"tmpcopyup"}}};
  write_config({"true"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cu3")));
  EXPECT_NE(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("tmpcopyup"), std::string::npos) << o.text;
}

// CVE-2022-29162 class: no inheritable capability unless the config lists one.
TEST_F(LjociTest, NoInheritableCapabilitiesByDefault) {
  write_config({"sh", "-c", "grep -E 'Cap(Inh|Amb)' /proc/self/status"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("cap1")));
  EXPECT_EQ(o.text, "CapInh:\t0000000000000000\nCapAmb:\t0000000000000000\n");
}

// linux.resources.devices and no node to make: the root and /dev stay nodev. With CAP_MKNOD a
// node the rules allow can be made, but it does not open, in /dev or elsewhere; the engine's own
// /dev/null still works.
TEST_F(LjociTest, DeviceRulesLeaveAMadeNodeUnopenable) {
  auto o = run_with_device_rules(
      R"({"allow":true,"type":"c","major":1,"minor":3,"access":"rwm"})", nullptr,
      "mknod /tmp/null2 c 1 3 && echo made; echo x > /tmp/null2 || echo refused; "
      "mknod /dev/null3 c 1 3 && echo x > /dev/null3 || echo refused3; "
      "echo x > /dev/null && echo devnull",
      id("dev1"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_NE(o.text.find("made\n"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("refused\n"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("refused3\n"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("devnull\n"), std::string::npos) << o.text;
}

// linux.devices with the rules letting one node open (podman's --device): /dev alone is left to
// the device cgroup, as runc's /dev. The allowed node opens (made by ljoci or by the container),
// a node the rules do not allow gets EPERM, the same node made on the nodev root stays shut, and
// the engine's own nodes still open.
TEST_F(LjociTest, ADeviceTheRulesAllowOpensInDevAndNowhereElse) {
  auto o = run_with_device_rules(
      R"({"allow":true,"type":"c","major":10,"minor":229,"access":"r"})",
      R"([{"path":"/dev/fuse","type":"c","major":10,"minor":229},
          {"path":"/dev/mem","type":"c","major":1,"minor":1}])",
      "true </dev/fuse && echo fuse; true </dev/mem; true >/dev/fuse;"
      "mknod /dev/fuse3 c 10 229 && true </dev/fuse3 && echo fuse3;"
      "mknod /tmp/fuse4 c 10 229 && true </tmp/fuse4; echo x >/dev/null && echo null",
      id("dev2"));
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text,
            "fuse\n"
            "sh: can't open /dev/mem: Operation not permitted\n"
            "sh: can't create /dev/fuse: Operation not permitted\n"  // the rule allows reading only
            "fuse3\n"
            "sh: can't open /tmp/fuse4: Permission denied\n"  // the root is nodev
            "null\n");
}

// No device rules at all (`ljoci spec`'s config) and CAP_MKNOD: a node of a host device
// (/dev/mem's c 1:1, a disk's b 8:0) can be made, under /tmp and under /dev, but does not open;
// the engine's own nodes do, /dev/tty too with a terminal (a console socket's pty).
TEST_F(LjociTest, WithoutDeviceRulesOnlyTheEnginesNodesOpen) {
  config_["process"]["capabilities"] = json::parse(
      R"({"bounding":["CAP_MKNOD"],"effective":["CAP_MKNOD"],"permitted":["CAP_MKNOD"]})");
  config_["process"]["terminal"] = true;
  write_config({"sh", "-c",
                "mknod /tmp/mem c 1 1 && echo made; true </tmp/mem;"
                "mknod /dev/mem c 1 1 && echo made2; true </dev/mem;"
                "mknod /dev/sdz b 8 0 && echo made3; true </dev/sdz;"
                "echo x >/dev/null && head -c 3 /dev/zero | wc -c && "
                "head -c 5 /dev/urandom | wc -c && echo tty-ok >/dev/tty"});
  // The console socket's receiver: takes the pty's master and prints what comes out of it.
  const fs::path sock = world_->dir() / "console.sock";
  const fs::path out = world_->dir() / "console.out";
  const std::string receiver =
      "import os, socket, sys\n"
      "s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)\n"
      "c, _ = s.accept(); _, fds, _, _ = socket.recv_fds(c, 64, 1); data = b''\n"
      "while True:\n"
      "  try: d = os.read(fds[0], 4096)\n"
      "  except OSError: break\n"
      "  if not d: break\n"
      "  data += d\n"
      "sys.stdout.write(data.decode().replace('\\r', ''))\n";
  std::ofstream(world_->dir() / "receiver.py") << receiver;
  auto o = sh("python3 " + (world_->dir() / "receiver.py").string() + " " + sock.string() + " >" +
              out.string() + " 2>&1 & for i in $(seq 100); do [ -S " + sock.string() +
              " ] && break; sleep 0.05; done; " +
              ljoci("run --console-socket " + sock.string() + " --bundle " + bundle_.string() +
                    " " + id("nodev")) +
              "; st=$?; wait; exit $st");
  EXPECT_EQ(o.status, 0) << o.text;
  const std::string text = sh("cat " + out.string()).text;
  EXPECT_EQ(text,
            "made\nsh: can't open /tmp/mem: Permission denied\n"
            "made2\nsh: can't open /dev/mem: Permission denied\n"
            "made3\nsh: can't open /dev/sdz: Permission denied\n"
            "3\n5\ntty-ok\n");
}

// CAP_SYS_ADMIN and a seccomp profile of the config's (so mount is not filtered): a tmpfs the
// container mounts is not nodev, so without rules the engine's default device rules guard it.
TEST_F(LjociTest, WithoutDeviceRulesAContainerThatCanMountGetsTheEnginesDeviceRules) {
  config_["process"]["capabilities"] = json::parse(
      R"({"bounding":["CAP_MKNOD","CAP_SYS_ADMIN"],"effective":["CAP_MKNOD","CAP_SYS_ADMIN"],
          "permitted":["CAP_MKNOD","CAP_SYS_ADMIN"]})");
  config_["linux"]["seccomp"] = json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW"})");
  write_config({"sh", "-c",
                "mkdir /tmp/t && mount -t tmpfs t /tmp/t && mknod /tmp/t/mem c 1 1 && echo made;"
                "true </tmp/t/mem; echo x >/dev/null && echo null"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("nodev2")) + " 2>&1");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "made\nsh: can't open /tmp/t/mem: Operation not permitted\nnull\n");
}

// linux.seccomp absent: no filter, as runc and crun (podman sends none for --privileged or
// seccomp=unconfined); the same with CAP_SYS_ADMIN mounts and still cannot open a node it makes
// (the engine's device rules, as above). A profile of the config's is loaded (filter mode 2),
// and an exec gets what the container has.
TEST_F(LjociTest, AConfigWithoutSeccompRunsUnfiltered) {
  config_["linux"].erase("seccomp");
  config_["process"]["capabilities"] = json::parse(
      R"({"bounding":["CAP_MKNOD","CAP_SYS_ADMIN"],"effective":["CAP_MKNOD","CAP_SYS_ADMIN"],
          "permitted":["CAP_MKNOD","CAP_SYS_ADMIN"]})");
  write_config({"sh", "-c",
                "grep Seccomp: /proc/self/status; mkdir /tmp/t && mount -t tmpfs t /tmp/t && "
                "mknod /tmp/t/mem c 1 1 && echo made; true </tmp/t/mem"});
  auto o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("sc1")) + " 2>&1");
  EXPECT_EQ(o.status, 1) << o.text;
  EXPECT_EQ(o.text, "Seccomp:\t0\nmade\nsh: can't open /tmp/t/mem: Operation not permitted\n");

  const std::string c = started_sleeper("sc2");
  o = sh(ljoci("exec " + c + " grep Seccomp: /proc/self/status"));
  EXPECT_EQ(o.text, "Seccomp:\t0\n") << o.text;
  EXPECT_EQ(sh(ljoci("delete --force " + c)).status, 0);

  config_["linux"]["seccomp"] = json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW"})");
  write_config({"grep", "Seccomp:", "/proc/self/status"});
  o = sh(ljoci("run --bundle " + bundle_.string() + " " + id("sc3")));
  EXPECT_EQ(o.text, "Seccomp:\t2\n") << o.text;
}

TEST_F(LjociTest, FeaturesAndSpecAreJson) {
  auto o = sh(ljoci("features"));
  ASSERT_EQ(o.status, 0);
  auto f = json::parse(o.text);
  EXPECT_EQ(f["ociVersionMax"], "1.1.0");
  fs::path d = world_->mkdir("spec");
  o = sh("cd " + d.string() + " && " + ljoci("spec"));
  ASSERT_EQ(o.status, 0) << o.text;
  EXPECT_TRUE(json::parse(std::ifstream(d / "config.json"))["process"]["terminal"]);
  EXPECT_NE(sh("cd " + d.string() + " && " + ljoci("spec")).status, 0);  // never overwrites
}

TEST_F(LjociTest, ErrorsGoToTheJsonLog) {
  const fs::path log = world_->dir() / "log.json";
  auto o = sh(ljoci("--log " + log.string() + " --log-format json state nosuch"));
  EXPECT_EQ(o.status, 1);
  std::ifstream in(log);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  auto j = json::parse(line);
  EXPECT_EQ(j["level"], "error");
  EXPECT_NE(j["msg"].get<std::string>().find("nosuch"), std::string::npos);
}

// podman drives ljoci through conmon: exit code, logs, stop (TERM), rm. On this machine podman
// needs the two ulimits and no network (docs/oci.md).
// The busybox image the podman tests run, imported from the test world's tree when podman has
// none (no registry needed); empty with *why set when podman cannot make it.
std::string podman_image(const lj::test::TestWorld& world, std::string* why) {
  const std::string image = "localhost/ljoci-test-busybox:latest";
  if (sh("podman image exists " + image).status == 0) return image;
  const fs::path tar = world.dir() / "world.tar";
  auto o = sh("tar -C " + world.world().string() + " -cf " + tar.string() + " . && podman import " +
              tar.string() + " " + image);
  if (o.status != 0) return *why = "podman cannot import a busybox image: " + o.text, "";
  return image;
}

// podman driving ljoci, and its `run` with what podman needs on this machine (its default
// ulimits are refused here; no network of podman's own).
const std::string kPodmanLjoci = "podman --runtime " + std::string(LJOCI_PATH) + " ";
const std::string kPodmanLjociRun =
    kPodmanLjoci + "run --ulimit nofile=1024:1024 --ulimit nproc=1000:1000 --network none ";

TEST_F(LjociTest, PodmanRunsContainersOnLjoci) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  const std::string& podman = kPodmanLjociRun;
  auto o = sh(podman + "--rm " + image + " sh -c 'echo via podman; exit 7'");
  EXPECT_EQ(o.status, 7) << o.text;
  EXPECT_EQ(o.text, "via podman\n");

  // --memory alone: podman asks twice as much memory and swap together (docker's rule).
  o = sh(podman + "-d --memory 64m " + image +
         " sh -c 'echo up; trap \"echo term; exit 3\" TERM; while :; do sleep 0.1; done'");
  ASSERT_EQ(o.status, 0) << o.text;
  std::string id = o.text.substr(0, o.text.find('\n'));
  {
    auto pid = sh("podman inspect --format '{{.State.Pid}}' " + id);
    const std::string mem = cgroup_dir(std::stoi(pid.text), "memory");
    const bool v1 = fs::exists("/sys/fs/cgroup/memory/memory.limit_in_bytes");
    EXPECT_EQ(first_line(mem + (v1 ? "/memory.limit_in_bytes" : "/memory.max")),
              std::to_string(64 << 20));
    const std::string swap = mem + (v1 ? "/memory.memsw.limit_in_bytes" : "/memory.swap.max");
    if (fs::exists(swap)) {
      EXPECT_EQ(first_line(swap), std::to_string(v1 ? 128 << 20 : 64 << 20));
    }
    // CPU time is counted in a cgroup of the container's own (podman sends no cpu section
    // without --cpus): podman stats read the container's cpuacct cgroup, which did not exist.
    std::ifstream cg("/proc/" + pid.text.substr(0, pid.text.find('\n')) + "/cgroup");
    for (std::string line; std::getline(cg, line);)
      if (line.find("cpuacct") != std::string::npos) {
        EXPECT_NE(line.find(id), std::string::npos) << line;
      }
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  // --device-read-bps: the container's own blkio cgroup, seen in its /sys/fs/cgroup (runc's
  // view on a v1 host).
  if (const auto [node, dev] = host_block_device();
      !dev.empty() && fs::exists("/sys/fs/cgroup/blkio/blkio.throttle.read_bps_device")) {
    o = sh(podman + "--rm --device-read-bps " + node + ":1mb " + image +
           " cat /sys/fs/cgroup/blkio/blkio.throttle.read_bps_device");
    EXPECT_EQ(o.status, 0) << o.text;
    EXPECT_EQ(o.text, dev + " 1048576\n");
  }
  // podman exec: conmon calls `exec --pid-file --process --detach` and reaps the monitor.
  const std::string& rt = kPodmanLjoci;
  o = sh(rt + "exec " + id + " sh -c 'echo exec; exit 6'");
  EXPECT_EQ(o.status, 6) << o.text;
  EXPECT_EQ(o.text, "exec\n");
  // -it: a terminal through ljoci's console socket (script(1) gives podman one to pass on).
  // The command waits a little before it exits: podman 4.3 drops the output of a terminal
  // container that exits at once when the machine is busy, on runc as well (10 of 30 runs of
  // `tty; exit 2` beside two busy loops printed nothing on runc, 4 of 30 on ljoci; none of
  // either with the pause).
  if (sh("command -v script").status == 0) {
    o = sh("script -qec \"" + rt + "exec -it " + id +
           " sh -c 'tty; sleep 0.5; exit 5'\" /dev/null");
    EXPECT_EQ(o.status, 5) << o.text;
    EXPECT_NE(o.text.find("/dev/pts/0"), std::string::npos) << o.text;
    o = sh("script -qec \"" + podman + "-it --rm " + image +
           " sh -c 'tty; sleep 0.5; exit 2'\" /dev/null");
    EXPECT_EQ(o.status, 2) << o.text;
    EXPECT_NE(o.text.find("/dev/pts/0"), std::string::npos) << o.text;
  }
  o = sh(rt + "stats --no-stream --no-reset --format json " + id);
  EXPECT_EQ(o.status, 0) << o.text;
  if (o.status == 0) {
    EXPECT_NE(json::parse(o.text)[0]["cpu_time"], "0s") << o.text;
  }
  o = sh(rt + "stop -t 10 " + id);
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(sh("podman logs " + id).text, "up\nterm\n");
  EXPECT_EQ(sh("podman inspect --format '{{.State.ExitCode}}' " + id).text, "3\n");
  o = sh(rt + "rm " + id);
  EXPECT_EQ(o.status, 0) << o.text;
}

// The command is the container's pid 1 (runc's model): `podman run --init` puts podman's init
// (catatonit, bound in from the host through its /usr/libexec/podman symlink) before it, which
// then forwards podman stop's TERM to a command that has no handler: 143 at once, where a bare
// `sleep` as pid 1 ignores it until the KILL after the timeout, as under runc.
TEST_F(LjociTest, PodmanInitIsTheContainersInitOnLjoci) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  if (!fs::exists("/usr/libexec/podman/catatonit"))
    GTEST_SKIP() << "podman's init (catatonit) is not installed";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  const std::string& rt = kPodmanLjoci;
  const std::string& run = kPodmanLjociRun;
  auto o = sh(run + "--rm --init " + image + " sh -c 'cat /proc/1/comm; echo $$; exit 4'");
  EXPECT_EQ(o.status, 4) << o.text;
  EXPECT_EQ(o.text, "podman-init\n2\n");
  o = sh(run + "-d --init " + image + " sleep 30");
  ASSERT_EQ(o.status, 0) << o.text;
  const std::string id = o.text.substr(0, o.text.find('\n'));
  const auto t0 = std::chrono::steady_clock::now();
  o = sh(rt + "stop -t 10 " + id);
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(5));
  EXPECT_EQ(sh("podman inspect --format '{{.State.ExitCode}}' " + id).text, "143\n");
  EXPECT_EQ(sh(rt + "rm " + id).status, 0);
}

// podman --read-only (a read-only root with tmpfs on /tmp, /var/tmp and /run) and --tmpfs, both
// with runc's tmpcopyup: each failed to start on ljoci ("mount file system tmp: EINVAL").
TEST_F(LjociTest, PodmanReadOnlyAndTmpfsRunOnLjoci) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  const std::string run = kPodmanLjociRun + "--rm ";
  auto o = sh(run + "--read-only " + image +
              " sh -c 'touch /a 2>/dev/null || echo ro; touch /tmp/b /run/c /var/tmp/d && echo rw'");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "ro\nrw\n");
  o = sh(run + "--tmpfs /etc " + image +
         " sh -c 'grep -c \"^root:\" /etc/passwd; grep \" /etc \" /proc/mounts | cut -d\" \" -f3'");
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "1\ntmpfs\n");
}

// podman --privileged on ljoci: /sys read-write and /proc without masks, as on runc (the config
// lists none and mounts /sys without `ro`); without it, podman's masks and a read-only /sys.
TEST_F(LjociTest, PodmanPrivilegedHasSysWritableAndProcUnmasked) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  const std::string script =
      " sh -c 'grep -c \" /proc/keys \" /proc/self/mountinfo; grep -o \" /sys r[ow]\" "
      "/proc/self/mountinfo'";
  auto o = sh(kPodmanLjociRun + "--rm --privileged " + image + script);
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "0\n /sys rw\n");
  o = sh(kPodmanLjociRun + "--rm " + image + script);
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_EQ(o.text, "1\n /sys ro\n");
}

// A podman pod on ljoci: the infra container (the test image sleeping: podman's own pause image
// needs catatonit, which is not installed here) and a member run with --pod, which podman
// configures to join the infra's ipc, uts and network namespaces by path. The ulimits podman
// needs on this machine go through containers.conf: `pod create` takes no --ulimit.
TEST_F(LjociTest, PodmanRunsAPodOnLjoci) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  const fs::path conf = world_->dir() / "containers.conf";
  std::ofstream(conf) << "[containers]\ndefault_ulimits = [\"nofile=1024:1024\", "
                         "\"nproc=1000:1000\"]\n";
  const std::string podman = "CONTAINERS_CONF=" + conf.string() + " podman --runtime " +
                             std::string(LJOCI_PATH) + " ";
  const std::string pod = id("pod");
  auto o = sh(podman + "pod create --name " + pod + " --network none --infra-image " + image +
              " --infra-command 'sleep 1000'");
  ASSERT_EQ(o.status, 0) << o.text;
  struct RemovePod {
    std::string cmd;
    ~RemovePod() { sh(cmd); }
  } remove{podman + "pod rm -f " + pod};
  o = sh(podman + "run --rm --pod " + pod + " " + image +
         " sh -c 'echo in pod; for n in ipc uts net; do readlink /proc/self/ns/$n; done; exit 3'");
  EXPECT_EQ(o.status, 3) << o.text;
  // The infra's namespaces, from the host.
  auto infra = sh(podman + "pod inspect --format '{{.InfraContainerID}}' " + pod);
  ASSERT_EQ(infra.status, 0) << infra.text;
  auto pid = sh(podman + "inspect --format '{{.State.Pid}}' " +
                infra.text.substr(0, infra.text.find('\n')));
  ASSERT_EQ(pid.status, 0) << pid.text;
  const std::string p = pid.text.substr(0, pid.text.find('\n'));
  std::string want = "in pod\n";
  for (const char* n : {"ipc", "uts", "net"})
    want += fs::read_symlink("/proc/" + p + "/ns/" + n).string() + "\n";
  EXPECT_EQ(o.text, want);
  o = sh(podman + "pod rm -f " + pod);
  EXPECT_EQ(o.status, 0) << o.text;
  EXPECT_NE(sh(podman + "pod exists " + pod).status, 0);
}

// podman's --device: the host's node in the container's /dev (linux.devices) and a rule allowing
// it (linux.resources.devices). It opens; a node the rules leave out, made with CAP_MKNOD (not
// among podman's default capabilities), gets EPERM from the device cgroup.
TEST_F(LjociTest, PodmanPassesADeviceThrough) {
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is not installed";
  if (!fs::exists("/dev/fuse")) GTEST_SKIP() << "the host has no /dev/fuse to pass";
  std::string why;
  const std::string image = podman_image(*world_, &why);
  if (image.empty()) GTEST_SKIP() << why;
  auto o = sh(kPodmanLjociRun + "--rm --device /dev/fuse --cap-add MKNOD " + image +
              " sh -c 'true </dev/fuse && echo fuse; mknod /dev/k c 1 11 && true </dev/k'");
  EXPECT_EQ(o.status, 1) << o.text;  // the last open's
  EXPECT_NE(o.text.find("fuse\n"), std::string::npos) << o.text;
  EXPECT_NE(o.text.find("can't open /dev/k: Operation not permitted"), std::string::npos) << o.text;
}

}  // namespace

namespace {

// A private containerd: its own root, state and socket under dir, the given TOML added to its
// config (plugins' sections); stopped (TERM, then reaped) when it goes. up() says whether it
// answered within 5 s; its log is dir/log. With netns_fd it runs in that network namespace (and
// so do the CNI plugins it runs), its mount namespace still ours: the pods' rootfs and netns
// mounts it makes stay visible to the test (`ip netns exec` would give it a private one).
class PrivateContainerd {
 public:
  PrivateContainerd(const fs::path& dir, const std::string& extra_toml, int netns_fd = -1)
      : dir_(dir) {
    std::ofstream(dir / "config.toml") << "version = 2\nroot = \"" << (dir / "root").string()
                                       << "\"\nstate = \"" << (dir / "state").string()
                                       << "\"\n[grpc]\n  address = \"" << sock().string()
                                       << "\"\n" << extra_toml;
    pid_ = ::fork();
    if (pid_ == 0) {
      int log = ::open((dir / "log").c_str(), O_WRONLY | O_CREAT, 0600);
      ::dup2(log, 1);
      ::dup2(log, 2);
      if (netns_fd >= 0 && ::setns(netns_fd, CLONE_NEWNET) != 0) ::_exit(126);
      ::execlp("containerd", "containerd", "--config", (dir / "config.toml").c_str(), nullptr);
      ::_exit(127);
    }
    for (int i = 0; i < 100 && pid_ > 0 && !up_; ++i) {
      up_ = sh(ctr("default") + "version").status == 0;
      if (!up_) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~PrivateContainerd() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int ws;
    ::waitpid(pid_, &ws, 0);
    for (const auto& d : made_cgroups_) ::rmdir(d.c_str());  // empty by now, or left as it is
  }
  PrivateContainerd(const PrivateContainerd&) = delete;
  PrivateContainerd& operator=(const PrivateContainerd&) = delete;

  bool up() const { return up_; }
  fs::path sock() const { return dir_ / "sock"; }
  std::string ctr(const std::string& ns) const {
    remember_cgroups_of(ns);
    return "ctr --address " + sock().string() + " -n " + ns + " ";
  }

 private:
  // The runc shim puts a namespace's containers in the cgroup /<namespace>/<id>; the runtime
  // makes the parent and nobody removes it. The ones missing before this containerd go with it.
  void remember_cgroups_of(const std::string& ns) const {
    std::error_code ec;
    std::vector<fs::path> places{"/sys/fs/cgroup"};
    for (const auto& e : fs::directory_iterator("/sys/fs/cgroup", ec))
      if (e.is_directory(ec)) places.push_back(e.path());
    for (const auto& p : places)
      if (!fs::exists(p / ns, ec)) made_cgroups_.insert(p / ns);
  }

  fs::path dir_;
  pid_t pid_ = -1;
  bool up_ = false;
  mutable std::set<fs::path> made_cgroups_;
};

// containerd 1.6 with the runc v2 shim and --runc-binary ljoci: a private containerd, an image
// imported from the test world.
TEST_F(LjociTest, ContainerdRunsContainersOnLjoci) {
  if (sh("command -v containerd && command -v ctr && command -v containerd-shim-runc-v2").status)
    GTEST_SKIP() << "containerd, ctr or containerd-shim-runc-v2 is not installed";
  PrivateContainerd containerd(world_->mkdir("containerd"), "");
  ASSERT_TRUE(containerd.up()) << "containerd did not come up";
  const std::string ctr = containerd.ctr("ljoci-test");
  const fs::path tar = world_->dir() / "rootfs.tar";
  // A docker-archive of one layer: the test world, made with podman when there is one.
  if (sh("command -v podman").status != 0) GTEST_SKIP() << "podman is needed to make the image";
  const std::string image = "localhost/ljoci-test-busybox:latest";
  if (sh("podman image exists " + image).status != 0) {
    const fs::path wt = world_->dir() / "world.tar";
    ASSERT_EQ(sh("tar -C " + world_->world().string() + " -cf " + wt.string() + " . && podman import " +
                 wt.string() + " " + image).status, 0);
  }
  auto o = sh("podman save --format docker-archive -o " + tar.string() + " " + image + " && " +
              ctr + "images import " + tar.string());
  ASSERT_EQ(o.status, 0) << o.text;
  const std::string cid = id("ctr");
  o = sh(ctr + "run --rm --runc-binary " + std::string(LJOCI_PATH) + " " + image + " " + cid +
         " sh -c 'echo via ctr; exit 5'");
  EXPECT_EQ(o.status, 5) << o.text;
  EXPECT_EQ(o.text, "via ctr\n");
  // The shim's Stats (the CRI's ContainerStats; `ctr task metrics`) read the cgroups the
  // container's init is in (/proc/PID/cgroup). Where cpuacct is mounted apart from cpu, a
  // container of ljoci's left outside that hierarchy showed its parent's CPU time (here the
  // host's root: hours). A busy container's own is at most its wall time at one CPU (--cpus 1).
  const std::string busy = id("ctr");
  const auto t0 = std::chrono::steady_clock::now();
  o = sh(ctr + "run -d --cpus 1 --runc-binary " + std::string(LJOCI_PATH) + " " + image + " " +
         busy + " sh -c 'while :; do :; done'");
  ASSERT_EQ(o.status, 0) << o.text;
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  o = sh(ctr + "task metrics " + busy);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(o.status, 0) << o.text;
  std::istringstream metrics(o.text);
  for (std::string key; metrics >> key;) {
    if (key != "cpuacct.usage") continue;  // v1 (v2's cpu.stat is the container's cgroup anyway)
    double ns = 0;
    metrics >> ns;
    EXPECT_GT(ns, 0.01e9) << o.text;  // it ran (a loaded machine gives it little)
    EXPECT_LT(ns, wall * 1e9) << "more CPU time than the container had: " << o.text;
  }
  EXPECT_EQ(sh(ctr + "task kill -s KILL " + busy).status, 0);
  for (int i = 0; i < 50 && sh(ctr + "task rm " + busy).status != 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(sh(ctr + "containers rm " + busy).status, 0);
  EXPECT_EQ(sh(ctr + "containers ls -q").text, "");
  // The shim's --root for ljoci (/run/containerd/runc/<namespace>), left empty.
  std::error_code ec;
  fs::remove("/run/containerd/runc/ljoci-test", ec);
}

// A python3 that has grpc and protobuf (Debian's python3-grpcio, python3-protobuf: the first
// python3 on PATH may be another installation), with protoc; empty with *why set when none.
std::string cri_python(std::string* why) {
  const std::string client = CRI_CLIENT_PATH;
  for (const char* py : {"python3", "/usr/bin/python3"}) {
    auto o = sh(std::string(py) + " " + client + " check");
    if (o.status == 0) return py;
    *why = o.text;
  }
  return "";
}

// The CRI tests' tools: containerd with ctr and the runc v2 shim, and a python3 for the CRI client
// (cri_python); empty with *why set when one is missing.
std::string cri_tools(std::string* why) {
  if (sh("command -v containerd && command -v ctr && command -v containerd-shim-runc-v2").status) {
    *why = "containerd, ctr or containerd-shim-runc-v2 is not installed";
    return "";
  }
  const std::string py = cri_python(why);
  if (py.empty()) *why = "no CRI client: " + *why;
  return py;
}

// The CRI plugin of a private containerd 1.6 (what a kubelet talks to) for one test, with a runtime
// entry whose shim is runc v2 and whose BinaryName is ljoci (behind a wrapper logging each call to
// calls()), the default runtime and the pods' runtime handler, as a Kubernetes RuntimeClass names
// it. The client is our own (tests/oci/cri/cri_client.py: Debian has no crictl). Teardown, the
// reverse of the setup and run even when an assertion fails: the pod (its containers with it),
// then containerd, then the pods' cgroup parent in every hierarchy, which neither containerd nor
// ljoci removes. cni_toml: the CRI plugin's [cni] section's lines; netns_fd: containerd's network
// namespace (-1: the test's).
class CriOnLjoci {
 public:
  CriOnLjoci(const fs::path& d, const std::string& py, const std::string& cni_toml,
             int netns_fd = -1)
      : d_(d), py_(py), cgroup_parent_("/" + lj::test::unique_name("ljoci-cri")),
        containerd_sock_(d / "sock"), containerd_(std::in_place, d, toml(d, cni_toml), netns_fd) {}
  ~CriOnLjoci() {
    remove_pod();
    containerd_.reset();
    // What a failed removal left: containers in ljoci's root (deleted by force: their cgroups and
    // mounts go), then their shims, which outlive containerd (by pid: those whose -address is
    // this containerd's socket).
    const std::string ljoci =
        std::string(LJOCI_PATH) + " --root " + ljoci_root().string() + "/k8s.io";
    (void)sh(ljoci + " list -q | xargs -r -n1 " + ljoci + " delete --force");
    (void)sh("for p in /proc/[0-9]*; do tr '\\0' ' ' <$p/cmdline | grep -q -- '-address " +
             containerd_sock_.string() + " ' && kill -9 ${p#/proc/}; done");
    // And what containerd mounted for them (the sandbox's /dev/shm, the rootfs overlays).
    (void)sh("findmnt -rn -o TARGET | grep '^" + d_.string() +
             "/' | sort -r | xargs -r -n1 umount");
    (void)sh("for c in /sys/fs/cgroup/*" + cgroup_parent_ +
             "; do [ -d $c ] && find $c -depth -type d -exec rmdir {} \\;; done");
  }
  CriOnLjoci(const CriOnLjoci&) = delete;
  CriOnLjoci& operator=(const CriOnLjoci&) = delete;

  static constexpr const char* kImage = "localhost/ljoci-cri-test:latest";
  bool up() const { return containerd_->up(); }
  const PrivateContainerd& containerd() const { return *containerd_; }
  const fs::path& dir() const { return d_; }
  // The running pod's sandbox id (run_pod's), empty when there is none.
  std::string sandbox() const { return sandbox_.value_or(""); }
  const std::string& cgroup_parent() const { return cgroup_parent_; }
  fs::path logs() const { return d_ / "logs"; }
  fs::path calls() const { return d_ / "ljoci-calls"; }
  fs::path ljoci_root() const { return d_ / "ljoci-root"; }
  // ljoci's state directory for containerd's k8s.io namespace is empty (every container deleted).
  bool ljoci_kept_nothing() const {
    std::error_code ec;
    return fs::is_empty(ljoci_root() / "k8s.io", ec) && !ec;
  }
  // The pid of a container's init, as `ljoci state` (the runtime's own record) gives it; 0 when
  // ljoci does not know the container.
  int init_pid(const std::string& cid) const {
    auto o = sh(std::string(LJOCI_PATH) + " --root " + (ljoci_root() / "k8s.io").string() +
                " state " + cid);
    EXPECT_EQ(o.status, 0) << o.text;
    return o.status == 0 ? json::parse(o.text).value("pid", 0) : 0;
  }

  // One CRI call: its answer as JSON, or the gRPC error (a failed expectation) and null.
  json call(const std::string& method, const json& request) const {
    const fs::path err = d_ / "cri.err", req = d_ / "cri.req";
    std::ofstream(req) << request.dump();
    auto o = sh("(" + gen() + py_ + " " + CRI_CLIENT_PATH + " call " +
                containerd_->sock().string() + " " + method + " - <" + req.string() + " 2>" +
                err.string() + ")");
    std::ifstream e(err);
    std::stringstream es;
    es << e.rdbuf();
    EXPECT_EQ(o.status, 0) << method << ": " << es.str();
    return o.status == 0 ? json::parse(o.text) : json();
  }
  // The image (the test world; its command sleeps) made and imported into k8s.io.
  Out import_image(const fs::path& world) const {
    return sh(gen() + py_ + " " + CRI_CLIENT_PATH + " image " + world.string() + " " +
              (d_ / "image.tar").string() + " " + kImage + " sleep 1000000 && " +
              containerd_->ctr("k8s.io") + "images import " + (d_ / "image.tar").string());
  }
  // RunPodSandbox with the runtime handler ljoci: the sandbox's id, empty when it failed.
  std::string run_pod(const json& pod) {
    pod_ = pod;
    json r = call("RuntimeService/RunPodSandbox", {{"config", pod}, {"runtime_handler", "ljoci"}});
    if (r.contains("pod_sandbox_id")) sandbox_ = r["pod_sandbox_id"].get<std::string>();
    return sandbox_.value_or("");
  }
  void remove_pod() {
    if (!sandbox_) return;
    call("RuntimeService/StopPodSandbox", {{"pod_sandbox_id", *sandbox_}});
    call("RuntimeService/RemovePodSandbox", {{"pod_sandbox_id", *sandbox_}});
    sandbox_.reset();
  }
  // A container of the pod running `sh -c script`, created and started: its id, empty on failure.
  // `more`: further fields of its ContainerConfig ({"stdin": true}), objects merged into the
  // defaults' ({"linux": {"resources": ...}} keeps the security context).
  std::string container(const std::string& name, const std::string& script, const json& ns,
                        const json& more = json::object()) const {
    json config = {{"metadata", {{"name", name}}},
                   {"image", {{"image", kImage}}},
                   {"command", {"sh", "-c", script}},
                   {"log_path", name + ".log"},
                   {"linux", {{"security_context", {{"namespace_options", ns}}}}}};
    config.update(more, true);
    json c = call("RuntimeService/CreateContainer",
                  {{"pod_sandbox_id", *sandbox_}, {"config", config}, {"sandbox_config", pod_}});
    if (!c.contains("container_id")) return "";
    const std::string cid = c["container_id"];
    call("RuntimeService/StartContainer", {{"container_id", cid}});
    return cid;
  }
  json status(const std::string& cid) const {
    return call("RuntimeService/ContainerStatus", {{"container_id", cid}}).value("status", json());
  }
  // The container's status once it has exited (or after 20 s).
  json exited(const std::string& cid) const {
    json st;
    for (int i = 0; i < 200; ++i) {
      st = status(cid);
      if (st.value("state", "") == "CONTAINER_EXITED") break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return st;
  }
  // The CRI log's lines without their time stamps ("<time> stdout F text"), sorted: stdout and
  // stderr are copied by two pipes, so their order between them is not the container's.
  std::vector<std::string> log_lines(const std::string& name) const {
    std::ifstream in(logs() / (name + ".log"));
    std::vector<std::string> lines;
    for (std::string l; std::getline(in, l);) lines.push_back(l.substr(l.find(' ') + 1));
    std::sort(lines.begin(), lines.end());
    return lines;
  }
  // What kubectl exec and attach do with the URL that CRI Exec or Attach answered: a WebSocket on
  // containerd's streaming server (cri_client.py stream). `in` is sent as stdin once the streams
  // are up, or with `on_output` once output has come (no stdin when empty); `resizes` are the
  // terminal's sizes sent on the resize channel ("80x24,100x40": the first once the streams are
  // up, each next once the output has shown the one before as `stty size` prints it). The remote
  // exit code (0 for the error channel's Success, 125 when the stream failed) and the output as
  // it came, stdout and stderr apart.
  struct StreamIn {
    std::string in{};
    bool on_output = false;
    std::string resizes{};
  };
  struct Streamed {
    int status = -1;
    std::string out, err;
  };
  Streamed stream(const std::string& url, const StreamIn& s) const {
    const fs::path out = d_ / "stream.out", err = d_ / "stream.err";
    std::string cmd = "timeout 60 " + py_ + " " + CRI_CLIENT_PATH + " stream '" + url + "'";
    if (!s.in.empty())
      cmd += " --stdin '" + s.in + "' --stdin-when " + (s.on_output ? "output" : "streams");
    if (!s.resizes.empty()) cmd += " --resize " + s.resizes;
    Streamed r;
    r.status = sh("(" + cmd + " >" + out.string() + " 2>" + err.string() + ")").status;
    r.out = read_file(out);
    r.err = read_file(err);
    return r;
  }
  // Everything the wrapper logged: ljoci's calls, one a line.
  std::string all_calls() const { return read_file(calls()); }

 private:
  // restrict_oom_score_adj: the sandbox's -998 needs CAP_SYS_RESOURCE, which root here lacks
  // (runc fails it the same way); containerd then asks no lower than its own score. The default
  // runtime must name an entry (a runtimes table replaces containerd's own runc entry).
  static std::string toml(const fs::path& d, const std::string& cni_toml) {
    fs::create_directories(d / "logs");
    std::ofstream(d / "ljoci-wrap") << "#!/bin/sh\necho \"$*\" >> " << (d / "ljoci-calls").string()
                                    << "\nexec " << LJOCI_PATH << " \"$@\"\n";
    fs::permissions(d / "ljoci-wrap", fs::perms::owner_all);
    const std::string cri = "[plugins.\"io.containerd.grpc.v1.cri\"";
    std::ostringstream t;
    // The streaming server (Exec, Attach: what kubectl exec and attach reach through a kubelet)
    // on the loopback, a port the kernel picks (the URLs name it), without TLS.
    t << cri << "]\n  sandbox_image = \"" << kImage << "\"\n  restrict_oom_score_adj = true\n"
      << "  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n"
      << "  enable_tls_streaming = false\n"
      << cri << ".containerd]\n  default_runtime_name = \"ljoci\"\n"
      << cri << ".containerd.runtimes.ljoci]\n  runtime_type = \"io.containerd.runc.v2\"\n"
      << cri << ".containerd.runtimes.ljoci.options]\n  BinaryName = \""
      << (d / "ljoci-wrap").string() << "\"\n  Root = \"" << (d / "ljoci-root").string() << "\"\n"
      << cri << ".cni]\n" << cni_toml;
    return t.str();
  }
  std::string gen() const { return "CRI_CLIENT_GEN=" + (d_ / "gen").string() + " "; }
  static std::string read_file(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream all;
    all << in.rdbuf();
    return all.str();
  }

  fs::path d_;
  std::string py_, cgroup_parent_;
  fs::path containerd_sock_;  // PrivateContainerd's sock(), known after it has gone
  std::optional<PrivateContainerd> containerd_;
  std::optional<std::string> sandbox_;
  json pod_;
};

// The pod's config: its logs under the rig's, its cgroup parent the rig's, these namespaces.
json cri_pod(const CriOnLjoci& rig, const json& ns) {
  return {{"metadata", {{"name", "ljoci-pod"}, {"uid", lj::test::unique_name("uid")},
                        {"namespace", "t"}}},
          {"log_directory", rig.logs().string()},
          {"linux", {{"cgroup_parent", rig.cgroup_parent()},
                     {"security_context", {{"namespace_options", ns}}}}}};
}

// A host-network pod's namespaces (no CNI: the host's network untouched; containerd's streaming
// server listens on the loopback of its network namespace, the host's here).
const json kHostNetwork = {{"network", "NODE"}, {"pid", "CONTAINER"}, {"ipc", "POD"}};

// The start of the CRI tests on a host-network pod, in the test world's directory "cri": their
// tools (the test skipped with the reason when one is missing), the rig with its containerd up,
// the image imported, the pod running on ljoci. Null when the test was skipped or a step failed
// (reported); the rig, when returned, is torn down with it.
std::unique_ptr<CriOnLjoci> cri_host_pod(const lj::test::TestWorld& world) {
  std::string why;
  const std::string py = cri_tools(&why);
  if (py.empty()) {
    [&] { GTEST_SKIP() << why; }();  // GTEST_SKIP returns from the lambda, not from here
    return nullptr;
  }
  const fs::path d = world.mkdir("cri");
  auto rig = std::make_unique<CriOnLjoci>(d, py, "  conf_dir = \"" + (d / "cni").string() + "\"\n");
  if (!rig->up()) {
    ADD_FAILURE() << "containerd did not come up";
    return nullptr;
  }
  if (auto o = rig->import_image(world.world()); o.status != 0) {
    ADD_FAILURE() << "image import: " << o.text;
    return nullptr;
  }
  if (rig->run_pod(cri_pod(*rig, kHostNetwork)).empty()) return nullptr;  // call() reported it
  return rig;
}

// containerd's CRI plugin, ljoci its runtime handler's binary: a host-network pod (no CNI needed:
// the sandbox shares the host's network and uts namespaces, its containers join them and its ipc
// namespace by path), a container that writes and exits 7, one that a StopContainer ends through
// its TERM trap; the CRI log files, exit codes and the runtime's calls are checked, and everything
// is removed.
TEST_F(LjociTest, ContainerdsCriPluginRunsAPodOnLjoci) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so
  auto cri = [&](const std::string& method, const json& request) {
    return rig->call(method, request);
  };
  EXPECT_EQ(cri("RuntimeService/Version", {{"version", "v1"}}).value("runtime_api_version", ""),
            "v1");
  const json& ns = kHostNetwork;
  const std::string sandbox = rig->sandbox();
  // The sandbox's CPU weight: containerd gives every sandbox cpu.shares 2, ljoci writes it (cgroup
  // v1's cpu.shares, or v2's cpu.weight 1).
  {
    const std::string pod = rig->cgroup_parent() + "/" + sandbox;
    const fs::path v1 = "/sys/fs/cgroup/cpu" + pod + "/cpu.shares";
    const fs::path v2 = "/sys/fs/cgroup" + pod + "/cpu.weight";
    std::string weight;
    std::ifstream(fs::exists(v1) ? v1 : v2) >> weight;
    EXPECT_EQ(weight, fs::exists(v1) ? "2" : "1") << v1 << " or " << v2;
  }

  // A container that writes on both streams and exits 7; it shares the host's uts namespace.
  const std::string c1 =
      rig->container("c1", "echo via cri; echo to stderr >&2; hostname; exit 7", ns);
  ASSERT_FALSE(c1.empty());
  json st = rig->exited(c1);
  EXPECT_EQ(st.value("state", ""), "CONTAINER_EXITED") << st;
  EXPECT_EQ(st.value("exit_code", -1), 7) << st;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::vector<std::string> want = {"stderr F to stderr", "stdout F " + std::string(host),
                                   "stdout F via cri"};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(rig->log_lines("c1"), want);

  // A container that a StopContainer ends: TERM first (its trap answers, exit 3), well before
  // the 10 s after which the kubelet's timeout would send KILL.
  const std::string c2 = rig->container(
      "c2", "trap 'echo term; exit 3' TERM; echo up; while :; do sleep 0.1; done", ns);
  ASSERT_FALSE(c2.empty());
  for (int i = 0; i < 100 && rig->log_lines("c2").empty(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  // ExecSync (what a kubelet's exec probe calls): the shim's `exec --process`, output and status.
  // Bytes are base64 in proto3 JSON: "out\n" and "err\n".
  json r = cri("RuntimeService/ExecSync",
               {{"container_id", c2}, {"cmd", {"sh", "-c", "echo out; echo err >&2; exit 4"}},
                {"timeout", 10}});
  EXPECT_EQ(r.value("stdout", ""), "b3V0Cg==") << r;
  EXPECT_EQ(r.value("stderr", ""), "ZXJyCg==") << r;
  EXPECT_EQ(r.value("exit_code", -1), 4) << r;
  const auto t0 = std::chrono::steady_clock::now();
  cri("RuntimeService/StopContainer", {{"container_id", c2}, {"timeout", 10}});
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(8));
  st = rig->status(c2);
  EXPECT_EQ(st.value("state", ""), "CONTAINER_EXITED") << st;
  EXPECT_EQ(st.value("exit_code", -1), 3) << st;
  EXPECT_EQ(rig->log_lines("c2"), (std::vector<std::string>{"stdout F term", "stdout F up"}));

  for (const auto& cid : {c1, c2}) cri("RuntimeService/RemoveContainer", {{"container_id", cid}});
  r = cri("RuntimeService/ListContainers", {{"filter", {{"pod_sandbox_id", sandbox}}}});
  EXPECT_EQ(r.value("containers", json::array()).size(), 0u) << r;
  rig->remove_pod();

  // ljoci ran all three (the sandbox, c1, c2): created and deleted each, and kept no state.
  const std::string all = rig->all_calls();
  for (const auto& cid : {sandbox, c1, c2}) {
    EXPECT_NE(all.find(" --pid-file " + (rig->dir() / "state").string() +
                       "/io.containerd.runtime.v2.task/k8s.io/" + cid + "/init.pid " + cid),
              std::string::npos) << cid << " was not created by ljoci:\n" << all;
    EXPECT_NE(all.find(" delete " + cid), std::string::npos) << all;
  }
  EXPECT_NE(all.find(" kill " + c2 + " 15"), std::string::npos) << all;
  EXPECT_NE(all.find(" exec --process "), std::string::npos) << all;
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

// A kubelet's log rotation on a pod of ljoci's: the container's log file renamed, then
// ReopenContainerLog; the container, still running and writing on the same descriptors, goes on
// into a new file at the log's path, and the renamed file keeps what came before (every number
// there below every number in the new one, and none lost or twice).
TEST_F(LjociTest, ContainerdsCriPluginReopensALjociContainersLogAfterARotation) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so
  const std::string cid =
      rig->container("ticker", "i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.05; done",
                     kHostNetwork);
  ASSERT_FALSE(cid.empty());
  const fs::path log = rig->logs() / "ticker.log", rotated = rig->logs() / "ticker.log.1";
  // The numbers of a CRI log's lines ("<time> stdout F tick N"), in the file's order.
  auto ticks = [](const fs::path& f) {
    std::vector<int> n;
    std::ifstream in(f);
    for (std::string l; std::getline(in, l);)
      if (auto at = l.rfind("tick "); at != std::string::npos)
        n.push_back(std::stoi(l.substr(at + 5)));
    return n;
  };
  for (int i = 0; i < 100 && ticks(log).size() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_GE(ticks(log).size(), 5u) << "no output in " << log;
  fs::rename(log, rotated);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // still written to, renamed
  rig->call("RuntimeService/ReopenContainerLog", {{"container_id", cid}});
  for (int i = 0; i < 100 && ticks(log).size() < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  const std::vector<int> before = ticks(rotated), after = ticks(log);
  ASSERT_GE(after.size(), 5u) << "nothing written to " << log << " after the reopen";
  EXPECT_LT(before.back(), after.front());
  std::vector<int> all = before;
  all.insert(all.end(), after.begin(), after.end());
  for (std::size_t i = 0; i < all.size(); ++i)
    EXPECT_EQ(all[i], static_cast<int>(i)) << "a line lost or written twice at " << i;
  EXPECT_EQ(rig->status(cid).value("state", ""), "CONTAINER_RUNNING");
  rig->call("RuntimeService/StopContainer", {{"container_id", cid}, {"timeout", 2}});
  rig->call("RuntimeService/RemoveContainer", {{"container_id", cid}});
  rig->remove_pod();
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

// containerd's CRI plugin, ljoci its runtime handler's binary, a pod on a CNI network (Debian's
// containernetworking-plugins: bridge, host-local IPAM, loopback). containerd runs in a network
// namespace of the test's, and so do the plugins it runs: the bridge, its address and the host
// ends of the veths are made there, never in the machine's own namespace; ipMasq is off (no
// firewall rule anywhere) and the IPAM's state is under the test's directory. The pod gets an
// address of the private subnet, its container sees it on eth0 and serves HTTP (busybox httpd),
// which a client in containerd's namespace reaches at that address (the server sees the bridge's
// address: routed, no NAT). Removing the pod releases the address and removes the pod's network
// namespace (containerd's /var/run/netns/cni-* mount).
TEST_F(LjociTest, ContainerdsCriPluginRunsAPodOnACniNetwork) {
  std::string why;
  const std::string py = cri_tools(&why);
  if (py.empty()) GTEST_SKIP() << why;
  const fs::path cni_bin = "/usr/lib/cni";
  for (const char* p : {"bridge", "host-local", "loopback"})
    if (::access((cni_bin / p).c_str(), X_OK) != 0)
      GTEST_SKIP() << "no CNI plugin " << (cni_bin / p) << " (containernetworking-plugins)";
  if (!lj::net::test::have_root_and_tools(&why)) GTEST_SKIP() << why;

  // Declared in setup order: destroyed in the reverse one, on every path (the pod and containerd
  // with the rig, then a pod netns mount containerd left, then the namespace).
  lj::net::test::NetnsWorld nets;
  const std::string netns = nets.add("cri");
  ASSERT_TRUE(fs::exists("/run/netns/" + netns)) << "ip netns add " << netns << " failed";
  const lj::UniqueFd netns_fd = nets.fd("cri");
  ASSERT_TRUE(netns_fd);
  const fs::path d = world_->mkdir("cri"), ipam = d / "ipam";
  const std::string net = "ljoci-test", bridge = "ljt-cni0", subnet = "10.211.77.";
  fs::create_directories(d / "cni");
  const json conflist = {
      {"cniVersion", "0.4.0"},
      {"name", net},
      {"plugins",
       {{{"type", "bridge"},
         {"bridge", bridge},
         {"isGateway", true},
         {"ipMasq", false},
         {"ipam", {{"type", "host-local"},
                   {"ranges", {{{{"subnet", subnet + "0/24"}}}}},
                   {"routes", {{{"dst", "0.0.0.0/0"}}}},
                   {"dataDir", ipam.string()}}}}}}};
  std::ofstream(d / "cni" / "10-ljoci-test.conflist") << conflist.dump(2);
  std::string pod_netns;  // containerd's mount of the pod's network namespace
  struct Teardown {
    std::function<void()> f;
    ~Teardown() { f(); }
  } unmount_pod_netns{[&] {
    if (!pod_netns.empty() && fs::exists(pod_netns))
      (void)sh("umount " + pod_netns + "; rm -f " + pod_netns);
  }};
  CriOnLjoci rig(d, py,
                 "  bin_dir = \"" + cni_bin.string() + "\"\n  conf_dir = \"" +
                     (d / "cni").string() + "\"\n",
                 netns_fd.get());
  ASSERT_TRUE(rig.up()) << "containerd did not come up";
  auto o = rig.import_image(world_->world());
  ASSERT_EQ(o.status, 0) << o.text;

  const json ns = {{"network", "POD"}, {"pid", "CONTAINER"}, {"ipc", "POD"}};
  const std::string sandbox = rig.run_pod(cri_pod(rig, ns));
  ASSERT_FALSE(sandbox.empty());
  json r = rig.call("RuntimeService/PodSandboxStatus",
                    {{"pod_sandbox_id", sandbox}, {"verbose", true}});
  const std::string ip = r["status"]["network"].value("ip", "");
  ASSERT_EQ(ip.rfind(subnet, 0), 0u) << r;
  // The sandbox's spec (what ljoci got) names the pod's network namespace by path.
  const json spec = json::parse(r["info"].value("info", "{}"))["runtimeSpec"];
  for (const auto& n : spec["linux"]["namespaces"])
    if (n.value("type", "") == "network") pod_netns = n.value("path", "");
  ASSERT_EQ(pod_netns.rfind("/var/run/netns/cni-", 0), 0u) << spec["linux"]["namespaces"];
  EXPECT_TRUE(fs::exists(pod_netns));
  EXPECT_TRUE(fs::exists(ipam / net / ip)) << "host-local did not record " << ip;
  // The bridge is in containerd's namespace, not in the machine's.
  EXPECT_EQ(sh("ip -n " + netns + " link show " + bridge).status, 0);
  EXPECT_NE(sh("ip link show " + bridge).status, 0) << "the bridge reached the host";

  // A web server in the pod: busybox httpd answering the client's address (a CGI script).
  const std::string web = rig.container(
      "web",
      "mkdir -p /www/cgi-bin && (echo '#!/bin/sh'; echo 'echo Content-Type: text/plain'; "
      "echo echo; echo 'echo $REMOTE_ADDR') >/www/cgi-bin/ip && chmod 755 /www/cgi-bin/ip && "
      "exec httpd -f -p 8080 -h /www",
      ns);
  ASSERT_FALSE(web.empty());
  // The container sees the pod's address on its eth0.
  r = rig.call("RuntimeService/ExecSync",
               {{"container_id", web}, {"cmd", {"ip", "-4", "-o", "addr", "show", "eth0"}},
                {"timeout", 10}});
  const std::string addr = sh("echo " + r.value("stdout", "") + " | base64 -d").text;
  EXPECT_NE(addr.find("inet " + ip + "/24"), std::string::npos) << addr << r;
  // A client in containerd's namespace reaches it at the pod's address, from the bridge's.
  lj::net::test::Run got;
  for (int i = 0; i < 50 && got.status != 0; ++i) {
    got = nets.get_ip("cri", ip, 8080);
    if (got.status != 0) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(got.status, 0) << got.out;
  EXPECT_EQ(got.out, subnet + "1");

  // A second container of the pod is in the same network namespace: the same eth0 address, and
  // the server on its loopback (busybox wget; busybox httpd listens on IPv6 and sees the client
  // as [::ffff:127.0.0.1]).
  const std::string client = rig.container(
      "client", "ip -4 -o addr show eth0 | grep -q 'inet " + ip +
                    "/' && wget -qO- http://127.0.0.1:8080/cgi-bin/ip",
      ns);
  ASSERT_FALSE(client.empty());
  json st = rig.exited(client);
  EXPECT_EQ(st.value("exit_code", -1), 0) << st;
  EXPECT_EQ(rig.log_lines("client"), std::vector<std::string>{"stdout F [::ffff:127.0.0.1]"});

  rig.call("RuntimeService/StopContainer", {{"container_id", web}, {"timeout", 2}});
  for (const auto& cid : {web, client})
    rig.call("RuntimeService/RemoveContainer", {{"container_id", cid}});
  rig.remove_pod();
  // The pod's namespace is gone (unmounted and removed), its address released.
  EXPECT_FALSE(fs::exists(pod_netns)) << pod_netns;
  EXPECT_NE(sh("findmnt " + pod_netns).status, 0) << pod_netns << " still mounted";
  EXPECT_FALSE(fs::exists(ipam / net / ip)) << "host-local still holds " << ip;
  const std::string all = rig.all_calls();
  for (const auto& cid : {sandbox, web, client})
    EXPECT_NE(all.find(" delete " + cid), std::string::npos) << all;
  EXPECT_TRUE(rig.ljoci_kept_nothing());
}

// CRI Exec of `cmd` in container cid, or without a cmd CRI Attach to it, as kubectl exec -i and
// attach -i ask (-it with `tty`): stdin and stdout, and stderr without a terminal (CRI refuses a
// terminal with stderr). The URL answered, containerd's streaming server on the loopback; empty
// on failure.
std::string stream_url(const CriOnLjoci& rig, const std::string& cid, bool tty,
                       const json& cmd = nullptr) {
  json request = {{"container_id", cid}, {"stdin", true}, {"stdout", true}};
  request[tty ? "tty" : "stderr"] = true;
  if (!cmd.is_null()) request["cmd"] = cmd;
  const json answer =
      rig.call(cmd.is_null() ? "RuntimeService/Attach" : "RuntimeService/Exec", request);
  const std::string url = answer.is_object() ? answer.value("url", "") : "";
  EXPECT_EQ(url.rfind("http://127.0.0.1:", 0), 0u) << answer;
  return url;
}

// kubectl exec through containerd's CRI plugin, ljoci the runtime: CRI Exec answers a URL on
// containerd's streaming server, where the client's WebSocket carries stdin to the process, its
// stdout and stderr back, and its exit code on the error channel; the shim runs the process with
// `ljoci exec --process F --detach --pid-file P` (with a terminal, `--console-socket S` too: ljoci
// sends the pty's master over it and the shim copies it to the stream).
TEST_F(LjociTest, ContainerdsCriPluginStreamsAnExecOnLjoci) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so
  const std::string c = rig->container("c", "while :; do sleep 0.1; done", kHostNetwork);
  ASSERT_FALSE(c.empty());

  // kubectl exec -i: a line in on stdin, a line out on each stream, exit code 3.
  std::string url = stream_url(
      *rig, c, false, json::array({"sh", "-c", "read x; echo got $x; echo err >&2; exit 3"}));
  ASSERT_FALSE(url.empty());
  auto s = rig->stream(url, {.in = "hello\n"});
  EXPECT_EQ(s.status, 3) << s.err;
  EXPECT_EQ(s.out, "got hello\n");
  EXPECT_EQ(s.err, "err\n");

  // kubectl exec -it: the process's stdio is a pty of the container's devpts (its line discipline
  // echoes the input and ends lines with \r\n), exit code 0 (the error channel's Success). With a
  // terminal there is no stderr stream (CRI refuses tty with stderr).
  url = stream_url(*rig, c, true, json::array({"sh", "-c", "read x; tty; echo got $x"}));
  ASSERT_FALSE(url.empty());
  s = rig->stream(url, {.in = "hello\n"});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(std::regex_match(s.out, std::regex("hello\r\n/dev/pts/[0-9]+\r\ngot hello\r\n")))
      << s.out;

  // The container's own command went on meanwhile; both execs were ljoci's.
  EXPECT_EQ(rig->status(c).value("state", ""), "CONTAINER_RUNNING");
  const std::string all = rig->all_calls();
  EXPECT_NE(all.find(" exec --process "), std::string::npos) << all;
  EXPECT_NE(all.find(" --console-socket "), std::string::npos) << all;
  rig->remove_pod();
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

// kubectl attach through containerd's CRI plugin, ljoci the runtime: a container created with
// stdin open (CRI `stdin`: the shim gives ljoci's create a pipe as its stdin) waits on a read; CRI
// Attach's stream writes the line, the container's answer comes back on the stream (and goes to
// its log), the container exits 5 and the stream ends with the error channel's Success. Then the
// same with a terminal (CRI `tty`: `ljoci create --console-socket`, the container's stdio a pty).
TEST_F(LjociTest, ContainerdsCriPluginAttachesToLjociContainers) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so

  // The containers say `waiting` until a line comes, and the line goes once output has come on
  // the stream: containerd's attach starts copying the stream to the container's stdin before it
  // adds the stream to the container's output's writers, so an answer to a line sent as soon as
  // the streams are up could reach the log only. And they exit a second after their answer:
  // under load, an answer written just before the exit reached the log but not the stream (4 runs
  // in 10 with two busy loops beside; containerd's end of the attach, which takes no runtime call).
  // (At most 30 s: a stdin at its end, /dev/null, would loop at once.)
  const std::string wait = "for i in $(seq 150); do read -t 0.2 x && break; echo waiting; done; ";
  const std::string a = rig->container("a", wait + "echo attached $x; sleep 1; exit 5",
                                       kHostNetwork, {{"stdin", true}});
  ASSERT_FALSE(a.empty());
  std::string url = stream_url(*rig, a, false);
  ASSERT_FALSE(url.empty());
  auto s = rig->stream(url, {.in = "there\n", .on_output = true});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(std::regex_match(s.out, std::regex("(waiting\n)+attached there\n"))) << s.out;
  json st = rig->exited(a);
  EXPECT_EQ(st.value("exit_code", -1), 5) << st;
  const auto log = rig->log_lines("a");  // sorted
  EXPECT_TRUE(!log.empty() && log.front() == "stdout F attached there" &&
              std::all_of(log.begin() + 1, log.end(),
                          [](const std::string& l) { return l == "stdout F waiting"; }))
      << ::testing::PrintToString(log);

  const std::string t = rig->container("t", wait + "tty; echo attached $x; sleep 1", kHostNetwork,
                                       {{"stdin", true}, {"tty", true}});
  ASSERT_FALSE(t.empty());
  url = stream_url(*rig, t, true);
  ASSERT_FALSE(url.empty());
  s = rig->stream(url, {.in = "there\n", .on_output = true});
  EXPECT_EQ(s.status, 0) << s.err;
  // The pty's echo of the line comes when the line does, between two `waiting`s or after them.
  const std::regex through_pty("((waiting|there)\r\n)+/dev/pts/[0-9]+\r\nattached there\r\n");
  EXPECT_TRUE(std::regex_match(s.out, through_pty)) << s.out;
  EXPECT_NE(s.out.find("there\r\n"), std::string::npos) << s.out;
  st = rig->exited(t);
  EXPECT_EQ(st.value("exit_code", -1), 0) << st;

  // ljoci created both, t with a console socket, and deleted both with the pod.
  rig->remove_pod();
  const std::string all = rig->all_calls();
  const std::regex tty_create(" create [^\n]*--console-socket [^\n]* " + t + "\n");
  EXPECT_TRUE(std::regex_search(all, tty_create)) << all;
  for (const auto& cid : {a, t}) EXPECT_NE(all.find(" delete " + cid), std::string::npos) << all;
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

// A kubelet's UpdateContainerResources through containerd's CRI plugin, ljoci the runtime. A
// container created as a kubelet creates a Burstable pod's (cpu shares from its cpu request, CFS
// quota and period from its cpu limit, a memory limit, an OOM score) is resized in place twice,
// as the kubelet does when the pod's resources change; containerd merges each into the
// container's spec and hands its whole linux.resources to the shim's `update --resources -`,
// ljoci's. The container's cgroups, found from its init's /proc/PID/cgroup (the pid from `ljoci
// state`), carry each value: v1 cpu.shares, cpu.cfs_quota_us and cfs_period_us,
// memory.limit_in_bytes (memory.memsw.limit_in_bytes too where swap is accounted: containerd sets
// swap to the limit); v2 cpu.weight (runc's conversion), cpu.max, memory.max.
TEST_F(LjociTest, ContainerdsCriPluginUpdatesALjociContainersResources) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so
  struct Resources {
    std::int64_t shares, quota, memory;
  };
  auto linux_resources = [](const Resources& r) {
    return json{{"cpu_shares", r.shares},
                {"cpu_quota", r.quota},
                {"cpu_period", 100000},
                {"memory_limit_in_bytes", r.memory},
                {"oom_score_adj", 999}};
  };
  const Resources created{256, 50000, 64 << 20};
  const std::string c = rig->container("u", "while :; do sleep 0.1; done", kHostNetwork,
                                       {{"linux", {{"resources", linux_resources(created)}}}});
  ASSERT_FALSE(c.empty());
  const int pid = rig->init_pid(c);
  ASSERT_GT(pid, 0);
  EXPECT_EQ(first_line("/proc/" + std::to_string(pid) + "/oom_score_adj"), "999");
  const bool v1 = fs::exists("/sys/fs/cgroup/cpu/cpu.shares");
  const std::string cpu = cgroup_dir(pid, "cpu"), mem = cgroup_dir(pid, "memory");
  ASSERT_NE(cpu.find(rig->cgroup_parent() + "/"), std::string::npos) << cpu;
  auto expect_cgroups = [&](const Resources& r) {
    const std::string quota = std::to_string(r.quota), memory = std::to_string(r.memory);
    if (v1) {
      EXPECT_EQ(first_line(cpu + "/cpu.shares"), std::to_string(r.shares)) << cpu;
      EXPECT_EQ(first_line(cpu + "/cpu.cfs_quota_us"), quota) << cpu;
      EXPECT_EQ(first_line(cpu + "/cpu.cfs_period_us"), "100000") << cpu;
      EXPECT_EQ(first_line(mem + "/memory.limit_in_bytes"), memory) << mem;
      if (fs::exists(mem + "/memory.memsw.limit_in_bytes")) {
        EXPECT_EQ(first_line(mem + "/memory.memsw.limit_in_bytes"), memory) << mem;
      }
    } else {
      EXPECT_EQ(first_line(cpu + "/cpu.weight"), std::to_string(1 + (r.shares - 2) * 9999 / 262142))
          << cpu;
      EXPECT_EQ(first_line(cpu + "/cpu.max"), quota + " 100000") << cpu;
      EXPECT_EQ(first_line(mem + "/memory.max"), memory) << mem;
    }
  };
  expect_cgroups(created);
  // Up (the limit raised above memory+swap's old one), then down below the first values.
  for (const Resources& r : {Resources{512, 100000, 128 << 20}, Resources{128, 25000, 32 << 20}}) {
    SCOPED_TRACE(::testing::Message() << "shares " << r.shares << ", quota " << r.quota);
    json answer = rig->call("RuntimeService/UpdateContainerResources",
                            {{"container_id", c}, {"linux", linux_resources(r)}});
    EXPECT_TRUE(answer.is_object());
    expect_cgroups(r);
  }
  EXPECT_EQ(rig->status(c).value("state", ""), "CONTAINER_RUNNING");

  // Both updates were ljoci's, each with the resources on stdin (go-runc's `--resources -`).
  const std::string all = rig->all_calls();
  const std::regex update(" update --resources - " + c + "\n");
  EXPECT_EQ(
      std::distance(std::sregex_iterator(all.begin(), all.end(), update), std::sregex_iterator()),
      2)
      << all;
  rig->remove_pod();
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

// kubectl exec -it and attach -it resizing their terminal through containerd's CRI plugin, ljoci
// the runtime: the client's resizes (the v4.channel.k8s.io resize channel, 4: {"Width": columns,
// "Height": rows}) become the shim's ResizePty, TIOCSWINSZ on the master of the pty ljoci made and
// sent over the console socket, and the process sees each size (`stty size`: "rows columns"):
// the first sent once the streams are up, the second once the first has shown. The processes
// print their size when it changes and end at the last one (at most 15 s, then the test fails);
// busybox stty fails on a pty of no size (0x0, the shim's at the start), said as nothing.
TEST_F(LjociTest, ContainerdsCriPluginResizesLjociTerminals) {
  const auto rig = cri_host_pod(*world_);
  if (!rig) return;  // skipped or failed, said so
  const std::string sizes =
      "last=; for i in $(seq 150); do s=$(busybox stty size 2>/dev/null); "
      "[ \"$s\" != \"$last\" ] && echo \"$s\" && last=$s; [ \"$s\" = '40 100' ] && break; "
      "sleep 0.1; done";
  const std::string resizes = "80x24,100x40";
  // What the terminal shows: the sizes as set, after the pty's first one (before the resizes).
  const std::regex seen("([0-9]+ [0-9]+\r\n)?24 80\r\n40 100\r\n");

  // exec -it (stdin too: containerd 1.6 loses a terminal's output without it, docs/oci.md).
  const std::string c = rig->container("c", "while :; do sleep 0.1; done", kHostNetwork);
  ASSERT_FALSE(c.empty());
  std::string url = stream_url(*rig, c, true, json::array({"sh", "-c", sizes}));
  ASSERT_FALSE(url.empty());
  auto s = rig->stream(url, {.resizes = resizes});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(std::regex_match(s.out, seen)) << s.out;

  // attach -it to a container whose terminal is its init's (`ljoci create --console-socket`); it
  // lives a second after its last size (an output just before the exit can miss the stream).
  const std::string t =
      rig->container("t", sizes + "; sleep 1", kHostNetwork, {{"stdin", true}, {"tty", true}});
  ASSERT_FALSE(t.empty());
  url = stream_url(*rig, t, true);
  ASSERT_FALSE(url.empty());
  s = rig->stream(url, {.resizes = resizes});
  EXPECT_EQ(s.status, 0) << s.err;
  EXPECT_TRUE(std::regex_match(s.out, seen)) << s.out;
  EXPECT_EQ(rig->exited(t).value("exit_code", -1), 0);

  rig->remove_pod();
  const std::string all = rig->all_calls();
  EXPECT_NE(all.find(" exec --process "), std::string::npos) << all;
  EXPECT_TRUE(
      std::regex_search(all, std::regex(" create [^\n]*--console-socket [^\n]* " + t + "\n")))
      << all;
  EXPECT_TRUE(rig->ljoci_kept_nothing());
}

}  // namespace
