// config.json -> JailSpec: what each field becomes, and that a field ljoci cannot honour is an
// error naming it (never dropped).
#include <gtest/gtest.h>

#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "oci/config.hpp"

namespace lj::oci {
namespace {

using nlohmann::json;

json base() {
  return json::parse(R"({
    "ociVersion": "1.0.2",
    "root": {"path": "rootfs", "readonly": true},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 1000, "gid": 100, "additionalGids": [5, 6]},
                "capabilities": {"bounding": ["CAP_KILL", "CAP_CHOWN"], "effective": ["CAP_KILL"],
                                 "permitted": ["CAP_KILL"]},
                "rlimits": [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200}],
                "noNewPrivileges": true, "oomScoreAdj": 100},
    "hostname": "h",
    "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"},
               {"destination": "/run", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]},
               {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "ro"]}],
    "annotations": {"a": "b"},
    "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "ipc"}, {"type": "uts"},
                             {"type": "network"}],
              "resources": {"memory": {"limit": 1048576}, "pids": {"limit": 10},
                            "cpu": {"quota": 50000, "period": 100000}},
              "sysctl": {"net.ipv4.ip_forward": "1"},
              "maskedPaths": ["/proc/kcore"], "readonlyPaths": ["/proc/sys"]}
  })");
}

Result<Bundle> parse(const json& c) { return parse_config(c.dump(), "/b", "c1"); }

// A config field ljoci cannot honour: its name as the error gives it, and the edit that sets it.
struct Refusal {
  const char* what;
  std::function<void(json&)> edit;
};

// Each edit of `base` is refused by `parse_as`, with an error that names the field.
void expect_refused(const json& base, Result<Bundle> (*parse_as)(const json&),
                    const std::vector<Refusal>& cases) {
  for (const auto& k : cases) {
    json c = base;
    k.edit(c);
    auto b = parse_as(c);
    ASSERT_FALSE(b) << k.what;
    EXPECT_NE(b.error().what().find(k.what), std::string::npos) << b.error().what();
  }
}

TEST(OciConfig, FieldsBecomeTheEngineSpec) {
  auto b = parse(base());
  ASSERT_TRUE(b) << b.error().what();
  const auto& s = b->spec;
  EXPECT_EQ(s.name, "c1");
  EXPECT_EQ(s.root.layers.at(0), "/b/rootfs");
  EXPECT_EQ(s.root.writable.kind, jail::WritableLayer::Kind::in_place);
  EXPECT_TRUE(s.root.writable.read_only_after_mounts);
  EXPECT_EQ(s.uid, 1000u);
  EXPECT_EQ(s.gid, 100u);
  EXPECT_EQ(s.process.groups, (std::vector<gid_t>{5, 6}));
  ASSERT_TRUE(s.process.capabilities);
  EXPECT_EQ(s.process.capabilities->bounding, (1u << 5) | (1u << 0));
  EXPECT_EQ(s.process.capabilities->effective, 1u << 5);
  EXPECT_EQ(s.process.capabilities->inheritable, 0u);
  ASSERT_EQ(s.process.rlimits.size(), 1u);
  EXPECT_EQ(s.process.rlimits[0].name, "RLIMIT_NOFILE");
  EXPECT_EQ(s.process.rlimits[0].hard, 200u);
  EXPECT_TRUE(s.process.no_new_privs);
  EXPECT_EQ(s.process.oom_score_adj, 100);
  EXPECT_EQ(s.hostname, "h");
  EXPECT_EQ(s.network.mode, jail::NetworkMode::none);
  EXPECT_EQ(s.limits.memory_bytes, 1048576u);
  EXPECT_EQ(s.limits.pids, 10u);
  EXPECT_EQ(s.limits.cpu_percent, 50u);
  // /proc is the engine's own, placed where the config lists it (the mounts' order is kept).
  ASSERT_EQ(s.root.mounts.size(), 2u);
  EXPECT_EQ(s.root.mounts[0].jail_path, "/proc");
  EXPECT_EQ(s.root.mounts[0].fstype, "proc");
  EXPECT_TRUE(s.root.mounts[0].options.empty());
  EXPECT_EQ(s.root.mounts[1].jail_path, "/run");
  EXPECT_EQ(s.root.mounts[1].fstype, "tmpfs");
  ASSERT_EQ(s.root.volumes.size(), 1u);
  EXPECT_EQ(s.root.volumes[0].host_path, "/srv");
  EXPECT_TRUE(s.root.volumes[0].read_only);
  EXPECT_EQ(s.root.options_of("/data"), nullptr);  // nothing beyond the engine's defaults
  EXPECT_EQ(s.process.sysctl.at(0).first, "net.ipv4.ip_forward");
  EXPECT_EQ(s.root.masked_paths, std::vector<std::string>{"/proc/kcore"});
  EXPECT_EQ(s.root.readonly_paths, std::vector<std::string>{"/proc/sys"});
  EXPECT_EQ(b->annotations.at("a"), "b");
}

TEST(OciConfig, NoNetworkNamespaceIsTheHostsAndAPathIsJoined) {
  auto c = base();
  c["linux"]["namespaces"] = json::parse(
      R"([{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"}])");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->spec.network.mode, jail::NetworkMode::inherit);
  c["linux"]["namespaces"].push_back({{"type", "network"}, {"path", "/run/netns/x"}});
  b = parse(c);
  ASSERT_TRUE(b);
  EXPECT_EQ(b->netns_path, "/run/netns/x");
}

// cpu.shares is a weight (containerd's CRI gives a pod sandbox 2): carried, the kernel's default
// 1024 left as it is.
TEST(OciConfig, CpuSharesAreAWeight) {
  auto c = base();
  c["linux"]["resources"]["cpu"]["shares"] = 2;
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->spec.limits.cpu_shares, 2u);
  c["linux"]["resources"]["cpu"]["shares"] = 1024;
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->spec.limits.cpu_shares, 0u);
  c["linux"]["resources"]["cpu"]["shares"] = 262145;
  EXPECT_FALSE(parse(c));
}

// No namespace listed at all (runtime-tools linux_ns_itype): every one is the runtime's own,
// joined through /proc/self/ns (the mount namespace: the root assembled there and chrooted, the
// engine's JoinedNamespaces::mnt); the network is the host's, no user namespace. With a user
// namespace of its own, a cgroup namespace is still made (joining goes without one).
TEST(OciConfig, NoNamespaceListedIsTheRuntimesOwn) {
  auto c = base();
  c["linux"]["namespaces"] = json::array();
  c.erase("hostname");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->pidns_path, "/proc/self/ns/pid");
  EXPECT_EQ(b->mntns_path, "/proc/self/ns/mnt");
  EXPECT_EQ(b->cgroupns_path, "/proc/self/ns/cgroup");
  EXPECT_EQ(b->ipcns_path, "/proc/self/ns/ipc");
  EXPECT_EQ(b->utsns_path, "/proc/self/ns/uts");
  EXPECT_EQ(b->spec.network.mode, jail::NetworkMode::inherit);
  EXPECT_FALSE(b->spec.userns);
  c["linux"].erase("namespaces");  // Go's omitempty: the same
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->mntns_path, "/proc/self/ns/mnt");
  c["linux"]["namespaces"] = json::parse(
      R"([{"type":"pid"},{"type":"mount"},{"type":"ipc"},{"type":"uts"},{"type":"user"}])");
  c["linux"]["uidMappings"] = json::parse(R"([{"containerID":0,"hostID":100000,"size":65536}])");
  c["linux"]["gidMappings"] = c["linux"]["uidMappings"];
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->cgroupns_path, "");
}

// containerd's CRI leaves uts out of a host-network pod's sandbox (and ipc out of a host-IPC
// one): those are the host's, joined through ljoci's own; a hostname there would rename the host.
TEST(OciConfig, NoIpcOrUtsNamespaceIsTheHostsAndTakesNoHostname) {
  auto c = base();
  c["linux"]["namespaces"] = json::parse(R"([{"type":"pid"},{"type":"mount"}])");
  c.erase("hostname");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->ipcns_path, "/proc/self/ns/ipc");
  EXPECT_EQ(b->utsns_path, "/proc/self/ns/uts");
  EXPECT_EQ(b->spec.network.mode, jail::NetworkMode::inherit);
  c["hostname"] = "h";
  b = parse(c);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().what().find("hostname without a uts namespace"), std::string::npos)
      << b.error().what();
  c["linux"]["namespaces"].push_back({{"type", "uts"}});
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->utsns_path, "");
  EXPECT_EQ(b->ipcns_path, "/proc/self/ns/ipc");
}

// A pod's namespaces (podman's infra container, a Kubernetes sandbox) are joined by path, a
// mount namespace too (the root is assembled in it); a user namespace is the engine's own.
TEST(OciConfig, NamespacePathsAreJoined) {
  auto c = base();
  c["linux"]["namespaces"] = json::parse(
      R"([{"type":"pid","path":"/proc/9/ns/pid"},{"type":"mount"},{"type":"ipc","path":"/proc/9/ns/ipc"},
          {"type":"uts","path":"/proc/9/ns/uts"},{"type":"cgroup","path":"/proc/9/ns/cgroup"}])");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->pidns_path, "/proc/9/ns/pid");
  EXPECT_EQ(b->ipcns_path, "/proc/9/ns/ipc");
  EXPECT_EQ(b->utsns_path, "/proc/9/ns/uts");
  EXPECT_EQ(b->cgroupns_path, "/proc/9/ns/cgroup");
  c["linux"]["namespaces"][1]["path"] = "/proc/9/ns/mnt";
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->mntns_path, "/proc/9/ns/mnt");
  c["linux"]["namespaces"][1].erase("path");
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = json::parse(R"([{"containerID":0,"hostID":1000,"size":10}])");
  c["linux"]["gidMappings"] = c["linux"]["uidMappings"];
  b = parse(c);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().what().find("new user namespace"), std::string::npos) << b.error().what();
}

// cgroupsPath: a path as given; with --systemd-cgroup, "slice:prefix:name" where systemd would
// put the scope (runc's systemd driver's names).
TEST(OciConfig, CgroupsPathSystemdStyleNamesSystemdsCgroup) {
  EXPECT_EQ(*cgroup_path_of("/default/c1", false), "/default/c1");
  EXPECT_EQ(*cgroup_path_of("machine.slice:libpod:abc", true),
            "/machine.slice/libpod-abc.scope");
  EXPECT_EQ(*cgroup_path_of("kubepods-besteffort-pod12.slice:cri-containerd:abc", true),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod12.slice/"
            "cri-containerd-abc.scope");
  EXPECT_EQ(*cgroup_path_of(":runc:x", true), "/system.slice/runc-x.scope");
  EXPECT_EQ(*cgroup_path_of("-.slice::x", true), "/x.scope");
  EXPECT_FALSE(cgroup_path_of("/default/c1", true));
  EXPECT_FALSE(cgroup_path_of("a.slice:p", true));
  EXPECT_FALSE(cgroup_path_of("a--b.slice:p:n", true));
  EXPECT_FALSE(cgroup_path_of("notaslice:p:n", true));
}

// Each refusal names the field, so a user sees what ljoci did not do.
TEST(OciConfig, WhatCannotBeHonouredIsAnErrorNamingIt) {
  const std::vector<Refusal> cases = {
      {"linux.intelRdt", [](json& c) { c["linux"]["intelRdt"] = json::object(); }},
      {"linux.namespaces[time]",
       [](json& c) { c["linux"]["namespaces"].push_back({{"type", "time"}}); }},
      {"process.apparmorProfile", [](json& c) { c["process"]["apparmorProfile"] = "x"; }},
      {"linux.resources.blockIO.leafWeight",
       [](json& c) { c["linux"]["resources"]["blockIO"] = json::parse(R"({"leafWeight":10})"); }},
      {"linux.devices /dev/sda: a b device needs major and minor",
       [](json& c) { c["linux"]["devices"] = json::parse(R"([{"path":"/dev/sda","type":"b"}])"); }},
      {"mounts[].type nfs",
       [](json& c) { c["mounts"].push_back({{"destination", "/n"}, {"type", "nfs"}}); }},
      {"linux.rootfsPropagation 'sideways'",
       [](json& c) { c["linux"]["rootfsPropagation"] = "sideways"; }},
  };
  expect_refused(base(), parse, cases);
}

// The refusals of docs/oci.md's list not covered above, each by the name the error gives.
TEST(OciConfig, EveryRefusalNamesItsField) {
  auto set = [](std::vector<std::string> path, json v) {
    return [path, v](json& c) {
      json* at = &c;
      for (const auto& k : path) at = &(*at)[k];
      *at = v;
    };
  };
  const std::vector<Refusal> cases = {
      {"ociVersion 2.0.0", set({"ociVersion"}, "2.0.0")},
      {"solaris is not supported", set({"solaris"}, json::object())},
      {"windows is not supported", set({"windows"}, json::object())},
      {"vm is not supported", set({"vm"}, json::object())},
      {"zos is not supported", set({"zos"}, json::object())},
      {"domainname", set({"domainname"}, "example.org")},
      {"process.selinuxLabel", set({"process", "selinuxLabel"}, "system_u:system_r:x")},
      {"process.commandLine", set({"process", "commandLine"}, "sh")},
      {"process.ioPriority", set({"process", "ioPriority"}, json::parse(R"({"class":"IOPRIO_CLASS_RT"})"))},
      {"process.scheduler", set({"process", "scheduler"}, json::parse(R"({"policy":"SCHED_FIFO"})"))},
      {"process.execCPUAffinity", set({"process", "execCPUAffinity"}, json::parse(R"({"initial":"0"})"))},
      {"process.user.username", set({"process", "user", "username"}, "Administrator")},
      {"process.capabilities.bounding: unknown capability CAP_TEST",
       set({"process", "capabilities", "bounding"}, json::parse(R"(["CAP_TEST"])"))},
      {"mounts[].uidMappings/gidMappings", [](json& c) {
         c["mounts"][2]["uidMappings"] = json::parse(R"([{"containerID":0,"hostID":1000,"size":1}])");
       }},
      {"mounts[] on /x has no type", [](json& c) { c["mounts"].push_back({{"destination", "/x"}}); }},
      {"mounts[].options \"idmap\" on a bind mount",
       [](json& c) { c["mounts"][2]["options"].push_back("idmap"); }},
      {"linux.namespaces[time]", [](json& c) { c["linux"]["namespaces"].push_back({{"type", "time"}}); }},
      {"linux.namespaces[user].path", [](json& c) {
         c["linux"]["namespaces"].push_back({{"type", "user"}, {"path", "/proc/1/ns/user"}});
       }},
      {"linux.uidMappings without a user namespace",
       set({"linux", "uidMappings"}, json::parse(R"([{"containerID":0,"hostID":1000,"size":10}])"))},
      {"linux.uidMappings other than one range", [](json& c) {
         c["linux"]["namespaces"].push_back({{"type", "user"}});
         c["linux"]["uidMappings"] = json::parse(
             R"([{"containerID":0,"hostID":1000,"size":10},{"containerID":10,"hostID":5000,"size":10}])");
         c["linux"]["gidMappings"] = json::parse(R"([{"containerID":0,"hostID":1000,"size":10}])");
       }},
      {"linux.devices /dev/x: type 's' is not c, b, u or p",
       set({"linux", "devices"}, json::parse(R"([{"path":"/dev/x","type":"s","major":1,"minor":5}])"))},
      {"linux.devices /etc/x is not supported by ljoci: device nodes are made under /dev only",
       set({"linux", "devices"}, json::parse(R"([{"path":"/etc/x","type":"p"}])"))},
      {"linux.resources.devices[].access 'rx' is not of r, w, m",
       set({"linux", "resources", "devices"}, json::parse(R"([{"allow":true,"access":"rx"}])"))},
      {"linux.resources.devices[].type 'p' is not a, c or b",
       set({"linux", "resources", "devices"}, json::parse(R"([{"allow":true,"type":"p"}])"))},
      {"linux.resources.memory.swap without linux.resources.memory.limit",
       set({"linux", "resources", "memory"}, {{"swap", 4 << 20}})},
      {"linux.resources.memory.swap 4194304 below the memory limit 8388608",
       [](json& c) {
         c["linux"]["resources"]["memory"] = {{"limit", 8 << 20}, {"swap", 4 << 20}};
       }},
      {"linux.resources.memory.swap -2: below -1",
       set({"linux", "resources", "memory", "swap"}, -2)},
      {"linux.resources.memory.swappiness 101: above 100",
       set({"linux", "resources", "memory", "swappiness"}, 101)},
      {"linux.resources.memory.useHierarchy false", set({"linux", "resources", "memory", "useHierarchy"}, false)},
      {"linux.resources.memory.checkBeforeUpdate", set({"linux", "resources", "memory", "checkBeforeUpdate"}, true)},
      {"linux.resources.cpu.shares 1", set({"linux", "resources", "cpu", "shares"}, 1)},
      {"linux.resources.cpu.realtimeRuntime below -1",
       set({"linux", "resources", "cpu", "realtimeRuntime"}, -2)},
      {"linux.resources.cpu.idle", set({"linux", "resources", "cpu", "idle"}, 1)},
      {"linux.resources.cpu.burst", set({"linux", "resources", "cpu", "burst"}, 1000)},
      {"linux.resources.unified", set({"linux", "resources", "unified"}, json::parse(R"({"io.weight":"10"})"))},
      {"linux.resources.hugepageLimits",
       set({"linux", "resources", "hugepageLimits"}, json::parse(R"([{"pageSize":"2MB","limit":1}])"))},
      {"linux.resources.network", set({"linux", "resources", "network"}, json::parse(R"({"classID":1})"))},
      {"linux.resources.rdma", set({"linux", "resources", "rdma"}, json::parse(R"({"mlx5_1":{"hcaHandles":3}})"))},
      {"linux.mountLabel", set({"linux", "mountLabel"}, "system_u:object_r:x")},
      {"linux.personality", set({"linux", "personality"}, json::parse(R"({"domain":"LINUX32"})"))},
      {"linux.timeOffsets", set({"linux", "timeOffsets"}, json::parse(R"({"monotonic":{"secs":1}})"))},
      {"linux.memoryPolicy", set({"linux", "memoryPolicy"}, json::parse(R"({"mode":"MPOL_BIND"})"))},
      {"linux.netDevices", set({"linux", "netDevices"}, json::parse(R"({"eth1":{}})"))},
      {"linux.seccomp.listenerPath", set({"linux", "seccomp"},
       json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW","listenerPath":"/run/x.sock"})"))},
      {"seccomp action SCMP_ACT_NOTIFY", set({"linux", "seccomp"},
       json::parse(R"({"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_NOTIFY"}]})"))},
      {"hooks.prestart[].path must be absolute",
       set({"hooks", "prestart"}, json::parse(R"([{"path":"true"}])"))},
      {"hooks.poststop[].timeout must be positive",
       set({"hooks", "poststop"}, json::parse(R"([{"path":"/bin/true","timeout":0}])"))},
  };
  expect_refused(base(), parse, cases);
  // The engine's nodes as the engine makes them are taken, numbers and all.
  auto c = base();
  c["linux"]["devices"] = json::parse(
      R"([{"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":8630,"uid":0,"gid":0}])");
  auto ok = parse(c);
  EXPECT_TRUE(ok) << ok.error().what();
  auto exec = parse_exec_process(R"({"args":["sh"],"cwd":"/","oomScoreAdj":5})", *ok);
  ASSERT_FALSE(exec);
  EXPECT_NE(exec.error().what().find("process.oomScoreAdj in exec"), std::string::npos);
}

// linux.devices: a node of the config's type, numbers, mode and owner (runtime-tools'
// linux_devices: c 10:666, b 8:666 and a FIFO, mode 0660); the engine's own nodes as the engine
// makes them add nothing; one of the engine's paths with other numbers replaces its node.
TEST(OciConfig, DevicesBecomeNodesOfTheirTypeNumbersModeAndOwner) {
  auto c = base();
  c["linux"]["devices"] = json::parse(R"([
      {"path":"/dev/test1","type":"c","major":10,"minor":666,"fileMode":432,"uid":0,"gid":0},
      {"path":"/dev/test2","type":"b","major":8,"minor":666,"fileMode":432,"uid":5,"gid":6},
      {"path":"/dev/test3","type":"p","fileMode":432},
      {"path":"/dev/net/tun","type":"u","major":10,"minor":200},
      {"path":"/dev/null","type":"c","major":1,"minor":3,"fileMode":438,"uid":0,"gid":0},
      {"path":"/dev/zero","type":"c","major":1,"minor":5,"fileMode":384}])");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  const auto& n = b->spec.grants.nodes;
  ASSERT_EQ(n.size(), 5u);
  EXPECT_EQ(n[0].path, "/dev/test1");
  EXPECT_EQ(n[0].type, 'c');
  EXPECT_EQ(n[0].major, 10u);
  EXPECT_EQ(n[0].minor, 666u);
  EXPECT_EQ(n[0].mode, 0660u);
  EXPECT_EQ(n[1].type, 'b');
  EXPECT_EQ(n[1].major, 8u);
  EXPECT_EQ(n[1].uid, 5u);
  EXPECT_EQ(n[1].gid, 6u);
  EXPECT_EQ(n[2].type, 'p');
  EXPECT_EQ(n[2].mode, 0660u);
  EXPECT_EQ(n[3].path, "/dev/net/tun");
  EXPECT_EQ(n[3].type, 'c');
  EXPECT_EQ(n[3].mode, 0666u);  // runc's default for an absent fileMode
  EXPECT_EQ(n[4].path, "/dev/zero");  // the engine's path, another mode: a node of its own
  EXPECT_EQ(n[4].mode, 0600u);
}

// The memory section's other knobs go to the engine's Limits (runtime-tools' linux_cgroups_memory
// sets them all); swappiness -1 is unset, as runc reads it.
TEST(OciConfig, MemoryReservationSwappinessAndOomKillerAreCarried) {
  auto c = base();
  c["linux"]["resources"]["memory"] = json::parse(R"({"limit": 50593792, "reservation": 50593792,
      "swap": 50593792, "kernel": 50593792, "kernelTCP": 1048576, "swappiness": 10,
      "disableOOMKiller": true})");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  const auto& l = b->spec.limits;
  EXPECT_EQ(l.memory_bytes, 50593792u);
  EXPECT_EQ(l.memory_reservation, 50593792u);
  EXPECT_EQ(l.memory_kernel_bytes, 50593792u);
  EXPECT_EQ(l.memory_kernel_tcp_bytes, 1048576u);
  EXPECT_EQ(l.memory_swappiness, 10u);
  EXPECT_TRUE(l.memory_no_oom_killer);
  c["linux"]["resources"]["memory"] = json::parse(R"({"swappiness": -1, "disableOOMKiller": false})");
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_FALSE(b->spec.limits.memory_swappiness);
  EXPECT_FALSE(b->spec.limits.memory_no_oom_killer);
  EXPECT_EQ(b->spec.limits.memory_reservation, 0u);
}

// linux.resources.memory.swap counts memory and swap together (docker's --memory-swap; podman
// sends twice the limit for --memory alone): carried as the engine's memory_swap_bytes; equal
// to the limit is "no swap" (0, the engine's default), -1 unlimited swap.
// linux.resources.blockIO: the weight and the four per-device throttles go to the engine; the
// leaf weight and per-device weights (no engine file) are refused by name.
TEST(OciConfig, BlockIoThrottlesAndWeightAreCarried) {
  auto c = base();
  c["linux"]["resources"]["blockIO"] = json::parse(R"({"weight": 300,
      "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
      "throttleWriteBpsDevice": [{"major": 8, "minor": 16, "rate": 2097152}],
      "throttleReadIOPSDevice": [], "throttleWriteIOPSDevice": [{"major": 254, "minor": 0,
      "rate": 100}, {"major": 8, "minor": 0, "rate": 50}]})");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  const auto& io = b->spec.limits.block_io;
  EXPECT_EQ(io.weight, 300);
  ASSERT_EQ(io.read_bps.size(), 1u);
  EXPECT_EQ(io.read_bps[0].major, 254);
  EXPECT_EQ(io.read_bps[0].rate, 1048576u);
  ASSERT_EQ(io.write_bps.size(), 1u);
  EXPECT_EQ(io.write_bps[0].minor, 16);
  EXPECT_TRUE(io.read_iops.empty());
  ASSERT_EQ(io.write_iops.size(), 2u);
  EXPECT_EQ(io.write_iops[1].rate, 50u);
  for (const char* bad : {R"({"leafWeight": 10})", R"({"weightDevice": [{"major": 8,
      "minor": 0, "weight": 500}]})", R"({"weight": 5})"}) {
    c["linux"]["resources"]["blockIO"] = json::parse(bad);
    b = parse(c);
    ASSERT_FALSE(b) << bad;
    EXPECT_NE(std::string(b.error().what()).find("linux.resources.blockIO"), std::string::npos)
        << b.error().what();
  }
}

TEST(OciConfig, MemorySwapIsMemoryAndSwapTogether) {
  auto c = base();
  auto swap_for = [&](std::int64_t limit, std::int64_t swap) {
    c["linux"]["resources"]["memory"] = {{"limit", limit}, {"swap", swap}};
    auto b = parse(c);
    EXPECT_TRUE(b) << b.error().what();
    return b ? b->spec.limits.memory_swap_bytes : 1;
  };
  EXPECT_EQ(swap_for(64 << 20, 128 << 20), 128u << 20);
  EXPECT_EQ(swap_for(64 << 20, 64 << 20), 0u);
  EXPECT_EQ(swap_for(64 << 20, -1), lj::jail::Limits::kUnlimitedSwap);
  EXPECT_EQ(swap_for(64 << 20, 0), 0u);
  EXPECT_EQ(swap_for(0, -1), lj::jail::Limits::kUnlimitedSwap);
}

// linux.resources.cpu: quota and period exactly (cpu_percent the same share, for FreeBSD), the
// cpuset's cpus and mems, realtime bandwidth; the section asks for the cpu cgroups even empty.
TEST(OciConfig, CpusetQuotaAndRealtimeAreCarried) {
  auto c = base();
  c["linux"]["resources"]["cpu"] = json::parse(R"({"shares": 2048, "quota": 50000,
      "period": 500000, "cpus": "0-1", "mems": "0", "realtimePeriod": 1000000,
      "realtimeRuntime": 950000})");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  const auto& l = b->spec.limits;
  EXPECT_EQ(l.cpu_quota_us, 50000u);
  EXPECT_EQ(l.cpu_period_us, 500000u);
  EXPECT_EQ(l.cpu_percent, 10u);
  EXPECT_EQ(l.cpu_shares, 2048u);
  EXPECT_EQ(l.cpuset_cpus, "0-1");
  EXPECT_EQ(l.cpuset_mems, "0");
  EXPECT_EQ(l.cpu_rt_period_us, 1000000u);
  EXPECT_EQ(l.cpu_rt_runtime_us, 950000);
  EXPECT_TRUE(l.cpu_cgroups);
  c["linux"]["resources"]["cpu"] = json::object();
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_TRUE(b->spec.limits.cpu_cgroups);
  EXPECT_EQ(b->spec.limits.cpu_quota_us, 0u);
  EXPECT_TRUE(b->spec.limits.cpuset_cpus.empty());
  c["linux"]["resources"].erase("cpu");
  // No device rules: nothing would guard a node, so /dev is no more open than the root.
  EXPECT_FALSE(b->spec.root.dev_guarded_by_rules);
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_FALSE(b->spec.limits.cpu_cgroups);
}

// linux.resources.devices: the rules in order, wildcards as -1, on a nodev root (runtime-tools'
// linux_cgroups_devices). With a node to make (podman's --device), /dev alone is left to the
// rules (the cgroup decides what opens, as under runc); without one, /dev stays nodev too.
TEST(OciConfig, DeviceRulesGoInOrderToTheEngine) {
  auto c = base();
  c["linux"]["resources"]["devices"] = json::parse(R"([
      {"allow":false,"access":"rwm"},
      {"allow":true,"type":"c","major":10,"minor":229,"access":"rwm"},
      {"allow":true,"type":"b","major":8,"minor":20,"access":"rw"},
      {"allow":true,"type":"c","major":136,"access":"r"},
      {"allow":false,"type":"c","major":10,"minor":229,"access":"rw"}])");
  c["linux"]["devices"] = json::parse(R"([{"path":"/dev/fuse","type":"c","major":10,"minor":229}])");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_TRUE(b->spec.root.nodev);
  const auto& r = b->spec.limits.device_rules;
  ASSERT_EQ(r.size(), 5u);
  EXPECT_FALSE(r[0].allow);
  EXPECT_EQ(r[0].type, 'a');
  EXPECT_EQ(r[0].major, -1);
  EXPECT_EQ(r[0].access, "rwm");
  EXPECT_TRUE(r[1].allow);
  EXPECT_EQ(r[1].type, 'c');
  EXPECT_EQ(r[1].major, 10);
  EXPECT_EQ(r[1].minor, 229);
  EXPECT_EQ(r[2].type, 'b');
  EXPECT_EQ(r[2].access, "rw");
  EXPECT_EQ(r[3].major, 136);
  EXPECT_EQ(r[3].minor, -1);
  EXPECT_FALSE(r[4].allow);
  ASSERT_EQ(b->spec.grants.nodes.size(), 1u);
  EXPECT_TRUE(b->spec.root.dev_guarded_by_rules);
  c["linux"]["devices"] = json::parse(R"([{"path":"/dev/fifo","type":"p"}])");
  b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_TRUE(b->spec.root.nodev);
  EXPECT_FALSE(b->spec.root.dev_guarded_by_rules);  // a FIFO opens on a nodev /dev
}

// Fields runtime-tools' programs set (process_user, linux_uid_mappings, mounts,
// linux_rootfs_propagation): a umask, uid and gid ranges of different sizes, propagation on
// binds and on the root, a file system's data on a bind (which the kernel ignores).
TEST(OciConfig, UmaskIdRangesAndPropagationAreCarried) {
  auto c = base();
  c["process"]["user"]["umask"] = 2;
  c["linux"]["namespaces"].push_back({{"type", "user"}});
  c["linux"]["uidMappings"] = json::parse(R"([{"containerID":0,"hostID":1000,"size":2000}])");
  c["linux"]["gidMappings"] = json::parse(R"([{"containerID":0,"hostID":1000,"size":3000}])");
  c["linux"]["rootfsPropagation"] = "unbindable";
  c["mounts"].push_back({{"destination", "/e"}, {"source", "/etc"},
                         {"options", {"nosuid", "mode=755", "size=1k", "rbind", "rshared"}}});
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->spec.process.umask, 2u);
  ASSERT_TRUE(b->spec.userns);
  EXPECT_EQ(b->spec.userns->count, 2000u);
  EXPECT_EQ(b->spec.userns->gid_count, 3000u);
  EXPECT_EQ(b->spec.root.root_propagation, "unbindable");
  ASSERT_EQ(b->spec.root.propagation.size(), 1u);
  EXPECT_EQ(b->spec.root.propagation[0].jail_path, "/e");
  EXPECT_EQ(b->spec.root.propagation[0].kind, "rshared");
}

// The hooks of the runtime namespace stay ljoci's; those of the container's go to the engine.
TEST(OciConfig, HooksInTheContainersNamespacesGoToTheEngine) {
  auto c = base();
  c["hooks"] = json::parse(R"({"prestart": [{"path": "/p"}],
      "createContainer": [{"path": "/c", "args": ["c", "1"], "env": ["A=b"], "timeout": 3}],
      "startContainer": [{"path": "/s"}, {"path": "/t"}]})");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  ASSERT_EQ(b->hooks.prestart.size(), 1u);
  ASSERT_EQ(b->spec.process.create_hooks.hooks.size(), 1u);
  const auto& h = b->spec.process.create_hooks.hooks[0];
  EXPECT_EQ(h.path, "/c");
  EXPECT_EQ(h.args, (std::vector<std::string>{"c", "1"}));
  EXPECT_EQ(h.env, (std::vector<std::string>{"A=b"}));
  EXPECT_EQ(h.timeout_s, 3);
  ASSERT_EQ(b->spec.process.start_hooks.hooks.size(), 2u);
  EXPECT_EQ(b->spec.process.start_hooks.hooks[1].path, "/t");
  c["hooks"]["startContainer"][0]["path"] = "relative";
  EXPECT_FALSE(parse(c));
}

// start and delete read only the runtime's hooks of the saved config: the same hooks as the whole
// parse, and no seccomp compile (a profile libseccomp would refuse does not matter to them).
TEST(OciConfig, RuntimeHooksAreReadWithoutTheRestOfTheConfig) {
  auto c = base();
  c["hooks"] = json::parse(R"({"prestart": [{"path": "/p"}], "createRuntime": [{"path": "/r"}],
      "poststart": [{"path": "/a", "args": ["a", "1"], "timeout": 2}],
      "poststop": [{"path": "/o"}, {"path": "/q"}], "startContainer": [{"path": "/s"}]})");
  c["linux"]["seccomp"] = json::parse(R"({"defaultAction": "SCMP_ACT_NO_SUCH_ACTION"})");
  EXPECT_FALSE(parse(c));
  auto h = runtime_hooks_of(c.dump());
  ASSERT_TRUE(h) << h.error().what();
  ASSERT_EQ(h->prestart.size(), 1u);
  EXPECT_EQ(h->prestart[0].path, "/p");
  ASSERT_EQ(h->create_runtime.size(), 1u);
  ASSERT_EQ(h->poststart.size(), 1u);
  EXPECT_EQ(h->poststart[0].args, (std::vector<std::string>{"a", "1"}));
  EXPECT_EQ(h->poststart[0].timeout_s, 2);
  ASSERT_EQ(h->poststop.size(), 2u);
  EXPECT_EQ(h->poststop[1].path, "/q");
  c.erase("hooks");
  auto none = runtime_hooks_of(c.dump());
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->poststop.empty());
  EXPECT_FALSE(runtime_hooks_of("{"));
}

// The spec: an unknown property MUST NOT be an error (config.md), unlike a known one that
// ljoci cannot honour.
TEST(OciConfig, PropertiesTheSpecDoesNotDefineAreIgnored) {
  auto c = base();
  c["frobnicate"] = 1;
  c["process"]["rlimitz"] = 1;
  c["linux"]["resources"]["memory"]["future"] = true;
  auto b = parse(c);
  EXPECT_TRUE(b) << b.error().what();
}

TEST(OciConfig, SeccompProfileCompilesToBpf) {
  auto c = base();
  c["linux"]["seccomp"] = json::parse(R"({"defaultAction": "SCMP_ACT_ALLOW",
      "architectures": ["SCMP_ARCH_X86_64"],
      "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                   {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]}]})");
  auto b = parse(c);
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_GT(b->spec.process.seccomp_bpf.size(), 8u);
  EXPECT_EQ(b->spec.process.seccomp_bpf.size() % 8, 0u);
  c["linux"]["seccomp"]["defaultAction"] = "SCMP_ACT_NOTIFY";
  auto bad = parse(c);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("SCMP_ACT_NOTIFY"), std::string::npos);
}

TEST(OciConfig, TheDefaultSpecParses) {
  auto b = parse_config(default_config(), "/b", "c1");
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_TRUE(b->terminal);
}

// ---- the FreeBSD section (runtime-spec config-freebsd.md), parsed as ljoci on FreeBSD does ----

json freebsd_base() {
  return json::parse(R"({
    "ociVersion": "1.3.0",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/", "user": {"uid": 0, "gid": 0}},
    "hostname": "slartibartfast",
    "mounts": [{"destination": "/dev", "type": "devfs", "source": "devfs", "options": ["ruleset=4"]},
               {"destination": "/data", "type": "nullfs", "source": "/srv", "options": ["ro"]}],
    "freebsd": {"devices": [{"path": "pf", "mode": 448}, {"path": "fuse"}],
                "jail": {"host": "new", "vnet": "new", "enforceStatfs": 1,
                         "vnetInterfaces": ["epair0b"], "sysvshm": "disable",
                         "allow": {"rawSockets": true, "chflags": true, "suser": false,
                                   "mount": ["tmpfs"]}}}
  })");
}

Result<Bundle> parse_freebsd(const json& c) {
  return parse_config(c.dump(), "/b", "c1", Platform::freebsd_host);
}

// The spec's own example (schema/test/config/good/freebsd-example.json, with a vnet interface, a
// sysvshm and a suser added): each field lands in the engine's jail parameters.
TEST(OciFreebsdConfig, TheJailSectionBecomesJailParameters) {
  auto b = parse_freebsd(freebsd_base());
  ASSERT_TRUE(b) << b.error().what();
  const jail::JailSpec& s = b->spec;
  EXPECT_EQ(s.hostname, "slartibartfast");
  EXPECT_EQ(s.freebsd.host, jail::Sharing::new_);
  EXPECT_EQ(s.network.mode, jail::NetworkMode::none);  // a VNET of its own
  EXPECT_EQ(s.freebsd.vnet, jail::Sharing::unset);
  EXPECT_EQ(s.freebsd.vnet_interfaces, std::vector<std::string>{"epair0b"});
  EXPECT_EQ(s.freebsd.enforce_statfs, 1);
  EXPECT_EQ(s.freebsd.allow,
            (std::vector<std::string>{"allow.raw_sockets", "allow.chflags", "allow.nosuser"}));
  EXPECT_EQ(s.freebsd.mount_types, std::vector<std::string>{"tmpfs"});
  // System V IPC "defaults to new"; what the config names is taken.
  EXPECT_EQ(s.freebsd.sysvmsg, jail::Sharing::new_);
  EXPECT_EQ(s.freebsd.sysvsem, jail::Sharing::new_);
  EXPECT_EQ(s.freebsd.sysvshm, jail::Sharing::disable);
  ASSERT_EQ(s.freebsd.devices.size(), 2u);
  EXPECT_EQ(s.freebsd.devices[0].path, "/dev/pf");
  EXPECT_EQ(s.freebsd.devices[0].mode, 0700u);
  EXPECT_EQ(s.freebsd.devices[1].path, "/dev/fuse");
  EXPECT_FALSE(s.freebsd.devices[1].mode);
  EXPECT_EQ(s.freebsd.devfs_ruleset, 4);  // the devfs mount's ruleset=4
  ASSERT_EQ(s.root.volumes.size(), 1u);    // the nullfs mount
  EXPECT_EQ(s.root.volumes[0].host_path, "/srv");
  EXPECT_EQ(s.root.volumes[0].jail_path, "/data");
  EXPECT_TRUE(s.root.volumes[0].read_only);
  EXPECT_TRUE(s.root.mounts.empty());
  // Linux's process defaults are not carried to a jail that has none of them.
  EXPECT_FALSE(s.process.capabilities);
  EXPECT_TRUE(s.process.no_new_privs);
  EXPECT_EQ(s.freebsd.first_set(), std::string("host"));
}

TEST(OciFreebsdConfig, TheSpecsMinimalConfigTakesTheEnginesDefaults) {
  auto b = parse_freebsd(json::parse(R"({"ociVersion": "1.3.0", "root": {"path": "rootfs"},
                                         "process": {"args": ["sh"]}, "freebsd": {}})"));
  ASSERT_TRUE(b) << b.error().what();
  EXPECT_EQ(b->spec.network.mode, jail::NetworkMode::none);
  EXPECT_EQ(b->spec.freebsd.vnet, jail::Sharing::unset);
  EXPECT_TRUE(b->spec.freebsd.parent.empty());
  EXPECT_FALSE(b->spec.freebsd.enforce_statfs);
}

TEST(OciFreebsdConfig, NetworkFieldsMapToTheEnginesModes) {
  auto with = [](const char* jail_json) {
    auto c = freebsd_base();
    c["freebsd"]["jail"] = json::parse(jail_json);
    return parse_freebsd(c);
  };
  auto inherit = with(R"({"ip4": "inherit", "ip6": "inherit"})");
  ASSERT_TRUE(inherit) << inherit.error().what();
  EXPECT_EQ(inherit->spec.network.mode, jail::NetworkMode::inherit);

  auto addrs = with(R"({"ip4Addr": ["10.11.12.13"], "ip6Addr": ["fd10::11:12:13"],
                        "interface": "lo1", "ip6": "new"})");
  ASSERT_TRUE(addrs) << addrs.error().what();
  EXPECT_EQ(addrs->spec.network.mode, jail::NetworkMode::ip);
  EXPECT_EQ(addrs->spec.network.interface, "lo1");
  EXPECT_EQ(addrs->spec.network.addresses,
            (std::vector<std::string>{"10.11.12.13", "fd10::11:12:13"}));

  // The host's stack without any address: vnet inherit, or the families disabled.
  for (const char* j : {R"({"vnet": "inherit"})", R"({"ip4": "disable", "ip6": "disable"})"}) {
    auto none = with(j);
    ASSERT_TRUE(none) << j << ": " << none.error().what();
    EXPECT_EQ(none->spec.network.mode, jail::NetworkMode::none) << j;
    EXPECT_EQ(none->spec.freebsd.vnet, jail::Sharing::inherit) << j;
  }

  auto parent = with(R"({"parent": "pod1", "host": "inherit"})");
  ASSERT_FALSE(parent);  // host inherit and the config's hostname contradict
  EXPECT_NE(parent.error().what().find("hostname with freebsd.jail.host"), std::string::npos);
  auto c = freebsd_base();
  c.erase("hostname");
  c["freebsd"]["jail"] = json::parse(R"({"parent": "pod1.web", "host": "inherit", "vnet": "inherit"})");
  auto nested = parse_freebsd(c);
  ASSERT_TRUE(nested) << nested.error().what();
  EXPECT_EQ(nested->spec.freebsd.parent, "pod1.web");
  EXPECT_EQ(nested->spec.freebsd.host, jail::Sharing::inherit);
}

TEST(OciFreebsdConfig, WhatCannotBeHonouredIsAnErrorNamingIt) {
  auto jail = [](const char* j) {
    return [j](json& c) { c["freebsd"]["jail"] = json::parse(j); };
  };
  const std::vector<Refusal> cases = {
      {"freebsd.jail.ip4Addr with vnet \"new\"",
       jail(R"({"vnet": "new", "ip4Addr": ["10.0.0.1"]})")},
      {"freebsd.jail.ip4Addr/ip6Addr without interface", jail(R"({"ip4Addr": ["10.0.0.1"]})")},
      {"freebsd.jail.ip4 \"inherit\" with addresses",
       jail(R"({"ip4": "inherit", "ip6Addr": ["fd00::1"], "interface": "lo1"})")},
      {"freebsd.jail.ip4 \"inherit\" without the other family", jail(R"({"ip4": "inherit"})")},
      {"freebsd.jail.vnetInterfaces needs vnet", jail(R"({"vnetInterfaces": ["em1"]})")},
      {"freebsd.jail.interface without", jail(R"({"interface": "lo1"})")},
      {"freebsd.jail.vnet 'disable'", jail(R"({"vnet": "disable"})")},  // the spec's bad example
      {"freebsd.jail.sysvmsg 'shared'", jail(R"({"sysvmsg": "shared"})")},
      {"freebsd.jail.enforceStatfs 3", jail(R"({"enforceStatfs": 3})")},
      {"freebsd.jail.allow.mount needs freebsd.jail.enforceStatfs",
       jail(R"({"allow": {"mount": ["nullfs"]}})")},
      {"freebsd.jail.allow.mount: 'ufs;x'",
       jail(R"({"enforceStatfs": 1, "allow": {"mount": ["ufs;x"]}})")},
      {"freebsd.jail.ip4Addr: '10.0.0.1/24' is not an IPv4 address",
       jail(R"({"ip4Addr": ["10.0.0.1/24"], "interface": "lo1"})")},
      {"freebsd.devices[].path is relative to /dev",
       [](json& c) { c["freebsd"]["devices"] = json::parse(R"([{"path": "/dev/pf"}])"); }},
      {"freebsd.devices[].mode of pf",
       [](json& c) { c["freebsd"]["devices"] = json::parse(R"([{"path": "pf", "mode": 65535}])"); }},
      {"mounts[] devfs option 'ruleset=0'",
       [](json& c) { c["mounts"][0]["options"] = json::parse(R"(["ruleset=0"])"); }},
      {"mounts[].type fdescfs (on /dev/fd)",
       [](json& c) { c["mounts"].push_back({{"destination", "/dev/fd"}, {"type", "fdescfs"}}); }},
      {"mounts[].options \"noexec\" on a nullfs mount",
       [](json& c) { c["mounts"][1]["options"] = json::parse(R"(["noexec"])"); }},
      {"linux is not supported",
       [](json& c) { c["linux"] = json::parse(R"({"namespaces": [{"type": "pid"}]})"); }},
      {"process.capabilities",
       [](json& c) { c["process"]["capabilities"] = json::parse(R"({"bounding": []})"); }},
      {"process.rlimits", [](json& c) {
         c["process"]["rlimits"] = json::parse(R"([{"type": "RLIMIT_NOFILE", "soft": 1, "hard": 1}])");
       }},
      {"process.noNewPrivileges", [](json& c) { c["process"]["noNewPrivileges"] = true; }},
      {"process.oomScoreAdj", [](json& c) { c["process"]["oomScoreAdj"] = 10; }},
      {"process.user.additionalGids",
       [](json& c) { c["process"]["user"]["additionalGids"] = json::parse("[5]"); }},
  };
  expect_refused(freebsd_base(), parse_freebsd, cases);
}

// The container's hooks go to the engine on FreeBSD too (its backend runs them in the jail).
TEST(OciFreebsdConfig, HooksInTheContainerGoToTheEngine) {
  auto c = freebsd_base();
  c["hooks"] = json::parse(R"({"createContainer": [{"path": "/c", "timeout": 2}],
                               "startContainer": [{"path": "/s"}]})");
  auto b = parse_freebsd(c);
  ASSERT_TRUE(b) << b.error().what();
  ASSERT_EQ(b->spec.process.create_hooks.hooks.size(), 1u);
  EXPECT_EQ(b->spec.process.create_hooks.hooks[0].timeout_s, 2);
  ASSERT_EQ(b->spec.process.start_hooks.hooks.size(), 1u);
  EXPECT_EQ(b->spec.process.start_hooks.hooks[0].path, "/s");
}

// On Linux the freebsd section is refused by its first field, never dropped; an empty one (the
// spec's minimal example) carries nothing.
TEST(OciFreebsdConfig, LinuxRefusesTheFreebsdSection) {
  auto c = base();
  c["freebsd"] = json::parse(R"({"jail": {"vnet": "new"}})");
  auto b = parse(c);
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().what().find("freebsd.jail is not supported"), std::string::npos)
      << b.error().what();
  c["freebsd"] = json::object();
  auto empty = parse(c);
  EXPECT_TRUE(empty) << empty.error().what();
}

// A bind's noexec and access-time options are carried to the volume, not dropped (podman asks
// noexec on its /dev/shm bind; runtime-tools' mounts program strictatime on each of its binds).
// A bind source is the caller's host path, its symlinks followed as mount(2) and runc follow them
// (podman --init binds /usr/libexec/podman/catatonit, a link): the engine gets the real path. One
// that does not exist stays as named, for the engine to report.
TEST(OciConfig, ABindSourceThroughASymlinkIsItsRealPath) {
  char tmpl[] = "/tmp/oci-bind-XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::filesystem::path dir = tmpl;
  std::filesystem::create_directory(dir / "real");
  std::filesystem::create_directory_symlink(dir / "real", dir / "link");
  json c = base();
  c["mounts"] = json::array({{{"destination", "/data"}, {"type", "bind"},
                              {"source", (dir / "link").string()}, {"options", {"rbind"}}},
                             {{"destination", "/gone"}, {"type", "bind"},
                              {"source", (dir / "none").string()}, {"options", {"rbind"}}}});
  auto b = parse(c);
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(b) << b.error().what();
  ASSERT_EQ(b->spec.root.volumes.size(), 2u);
  EXPECT_EQ(b->spec.root.volumes[0].host_path, dir / "real");
  EXPECT_EQ(b->spec.root.volumes[1].host_path, dir / "none");
}

TEST(OciConfig, ABindsNoexecAndAtimeReachTheVolume) {
  for (const auto& [opts, no_exec, atime] :
       std::vector<std::tuple<const char*, bool, const char*>>{
           {R"(["bind","nosuid","noexec","nodev"])", true, ""},
           {R"(["rbind","noexec","exec","noatime"])", false, "noatime"},
           {R"(["bind","relatime"])", false, "relatime"},
           {R"(["bind","strictatime"])", false, "strictatime"},
           {R"(["bind","norelatime"])", false, "strictatime"}}) {
    SCOPED_TRACE(opts);
    json c = base();
    c["mounts"] = json::array({{{"destination", "/data"},
                                {"type", "bind"},
                                {"source", "/srv"},
                                {"options", json::parse(opts)}}});
    auto b = parse(c);
    ASSERT_TRUE(b) << b.error().what();
    const auto* s = &b->spec;
    ASSERT_EQ(s->root.volumes.size(), 1u);
    const jail::VolumeOptions* o = s->root.options_of("/data");
    ASSERT_NE(o, nullptr);
    EXPECT_EQ(o->no_exec, no_exec);
    EXPECT_EQ(o->atime, atime);
  }
}

}  // namespace
}  // namespace lj::oci
