// config.json -> JailSpec: what each field becomes, and that a field ljoci cannot honour is an
// error naming it (never dropped).
#include <gtest/gtest.h>

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

TEST(OciConfig, FieldsBecomeTheEngineSpec) {
  auto b = parse(base());
  ASSERT_TRUE(b) << b.error().what();
  const auto& s = b->spec;
  EXPECT_EQ(s.name, "c1");
  EXPECT_EQ(s.root.layers.at(0), "/b/rootfs");
  EXPECT_EQ(s.root.writable.kind, jail::WritableLayer::Kind::none);
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

// A pod's namespaces (podman's infra container, a Kubernetes sandbox) are joined by path; the
// mount and user namespaces are the engine's own and cannot be.
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
  ASSERT_FALSE(b);
  EXPECT_NE(b.error().what().find("linux.namespaces[mount].path"), std::string::npos);
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
  struct Case {
    const char* what;
    std::function<void(json&)> edit;
  };
  const Case cases[] = {
      {"linux.intelRdt", [](json& c) { c["linux"]["intelRdt"] = json::object(); }},
      {"sharing the host's pid namespace",
       [](json& c) { c["linux"]["namespaces"].erase(0); }},
      {"linux.namespaces[mount].path",
       [](json& c) { c["linux"]["namespaces"][1]["path"] = "/proc/1/ns/mnt"; }},
      {"process.apparmorProfile", [](json& c) { c["process"]["apparmorProfile"] = "x"; }},
      {"linux.resources.blockIO",
       [](json& c) { c["linux"]["resources"]["blockIO"] = json::parse(R"({"weight":10})"); }},
      {"linux.devices /dev/sda",
       [](json& c) { c["linux"]["devices"] = json::parse(R"([{"path":"/dev/sda","type":"b"}])"); }},
      {"mounts[].type nfs",
       [](json& c) { c["mounts"].push_back({{"destination", "/n"}, {"type", "nfs"}}); }},
      {"linux.rootfsPropagation 'sideways'",
       [](json& c) { c["linux"]["rootfsPropagation"] = "sideways"; }},
  };
  for (const auto& k : cases) {
    auto c = base();
    k.edit(c);
    auto b = parse(c);
    ASSERT_FALSE(b) << k.what;
    EXPECT_NE(b.error().what().find(k.what), std::string::npos) << b.error().what();
  }
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

}  // namespace
}  // namespace lj::oci
