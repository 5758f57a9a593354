#include "oci/config.hpp"

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <nlohmann/json.hpp>

namespace lj::oci {
namespace {

using nlohmann::json;

auto bad(std::string msg) { return fail(Errc::invalid_argument, "oci", std::move(msg)); }
auto unsupported(const std::string& field, const std::string& why = {}) {
  return fail(Errc::unsupported, "oci",
              field + " is not supported by ljoci" + (why.empty() ? "" : ": " + why));
}

// The keys of `obj` that the runtime spec defines are `known` (each then honoured or refused by
// name by the caller). A key the spec does not define is ignored: "runtimes that are reading or
// processing this configuration file MUST NOT generate an error if they encounter an unknown
// property" (config.md; runtime-tools misc_props checks it).
Status only(const json& obj, const std::string& where, std::initializer_list<const char*> known) {
  if (!obj.is_object()) return bad(where + " is not an object");
  (void)known;  // the list documents what each object may hold; see above
  return {};
}

// mount(8)'s propagation names (jail::Volume::propagation, MountPlan::root_propagation).
bool propagation_name(const std::string& o) {
  for (const char* p : {"private", "rprivate", "slave", "rslave", "shared", "rshared",
                        "unbindable", "runbindable"})
    if (o == p) return true;
  return false;
}

// Devices of the engine's /dev (linux/root_program.cpp): the host's type and numbers
// (devices.txt), mode 0666, owned by root.
struct EngineDevice {
  const char* path;
  unsigned major, minor;
};
constexpr EngineDevice kEngineDevices[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},
                                           {"/dev/full", 1, 7},   {"/dev/random", 1, 8},
                                           {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};

// CAP_SYS_ADMIN's number (linux/capability.h; capability_names() in that order).
constexpr int kCapSysAdmin = 21;

// A linux.devices entry: one of the engine's nodes as the engine makes it (nothing to add), or a
// node of the config's type, numbers, mode and owner (jail::Grants::nodes), made in its place.
Status device_of(const json& d, Bundle& b) {
  LJ_TRY(only(d, "linux.devices[]", {"path", "type", "major", "minor", "fileMode", "uid", "gid"}));
  jail::DeviceNode n;
  n.path = d.at("path").get<std::string>();
  const auto type = d.value("type", std::string());
  if (type == "c" || type == "u") n.type = 'c';  // "u": unbuffered, a character device too
  else if (type == "b" || type == "p") n.type = type[0];
  else return bad("linux.devices " + n.path + ": type '" + type + "' is not c, b, u or p");
  if (n.type != 'p' && (!d.contains("major") || !d.contains("minor")))
    return bad("linux.devices " + n.path + ": a " + type + " device needs major and minor");
  n.major = d.value("major", std::uint32_t{0});
  n.minor = d.value("minor", std::uint32_t{0});
  // runc's default for an absent fileMode (specconv): 0666.
  n.mode = d.contains("fileMode") ? d["fileMode"].get<std::uint32_t>() & 07777 : 0666;
  n.uid = d.value("uid", std::uint32_t{0});
  n.gid = d.value("gid", std::uint32_t{0});
  for (const auto& k : kEngineDevices)
    if (n.path == k.path && n.type == 'c' && n.major == k.major && n.minor == k.minor &&
        n.mode == 0666 && n.uid == 0 && n.gid == 0)
      return {};  // the engine's node is this one
  // /dev/ptmx is the container's own devpts instance's (the engine's link to pts/ptmx), whatever
  // the list says: runc replaces a listed node with that link too (podman --privileged lists
  // the host's, c 5:2, which would open the host's instance).
  if (n.path == "/dev/ptmx" && n.type == 'c' && n.major == 5 && n.minor == 2) return {};
  if (n.path.rfind("/dev/", 0) != 0)
    return unsupported("linux.devices " + n.path, "device nodes are made under /dev only");
  b.spec.grants.nodes.push_back(std::move(n));
  return {};
}

Result<std::uint64_t> cap_mask(const json& list, const std::string& where) {
  std::uint64_t m = 0;
  const auto& names = capability_names();
  for (const auto& c : list) {
    const auto n = c.get<std::string>();
    auto it = std::find(names.begin(), names.end(), n);
    if (it == names.end()) return bad(where + ": unknown capability " + n);
    m |= std::uint64_t{1} << (it - names.begin());
  }
  return m;
}

Result<std::vector<Hook>> hooks_of(const json& list, const std::string& where) {
  std::vector<Hook> out;
  for (const auto& h : list) {
    LJ_TRY(only(h, where + "[]", {"path", "args", "env", "timeout"}));
    Hook k;
    k.path = h.at("path").get<std::string>();
    if (k.path.empty() || k.path[0] != '/') return bad(where + "[].path must be absolute");
    if (h.contains("args")) k.args = h.at("args").get<std::vector<std::string>>();
    if (h.contains("env")) k.env = h.at("env").get<std::vector<std::string>>();
    if (h.contains("timeout")) {
      k.timeout_s = h.at("timeout").get<int>();
      if (k.timeout_s <= 0) return bad(where + "[].timeout must be positive");
    }
    out.push_back(std::move(k));
  }
  return out;
}

// The hooks the runtime itself runs (prestart, createRuntime, poststart, poststop) of a config's
// "hooks" object: parse_config's and runtime_hooks_of's one reading of them.
Result<Hooks> runtime_hooks(const json& h) {
  Hooks out;
  for (auto [key, into] : {std::pair{"prestart", &out.prestart},
                           std::pair{"createRuntime", &out.create_runtime},
                           std::pair{"poststart", &out.poststart},
                           std::pair{"poststop", &out.poststop}})
    if (h.contains(key)) *into = LJ_TRY(hooks_of(h[key], std::string("hooks.") + key));
  return out;
}

// The engine's own /dev, /proc, /sys and their sub-mounts: a config's mount of the same kind
// there is honoured by the engine's (docs/oci.md); a bind there is bound over it.
bool engine_mount(const std::string& dst, const std::string& type) {
  return (dst == "/proc" && type == "proc") || (dst == "/dev" && type == "tmpfs") ||
         (dst == "/dev/pts" && type == "devpts") || (dst == "/sys" && type == "sysfs") ||
         (dst == "/dev/shm" && type == "tmpfs");
}

// A bind mount's source is the host's, named by the caller: resolved as mount(2) resolves it,
// its symlinks followed (runc's; podman --init binds /usr/libexec/podman/catatonit, a link), so
// that the engine, which refuses a volume named through a symlink, gets the real path. One that
// does not resolve is left for the engine to report.
std::filesystem::path host_source(const std::string& source) {
  std::error_code ec;
  auto real = std::filesystem::canonical(source, ec);
  return ec ? std::filesystem::path(source) : real;
}

Status mounts_of(const json& list, jail::MountPlan& plan) {
  for (const auto& m : list) {
    LJ_TRY(only(m, "mounts[]", {"destination", "type", "source", "options", "uidMappings",
                                "gidMappings"}));
    if (m.contains("uidMappings") || m.contains("gidMappings"))
      return unsupported("mounts[].uidMappings/gidMappings (id-mapped mounts)");
    const auto dst = m.at("destination").get<std::string>();
    if (dst.empty() || dst[0] != '/')
      return bad("mounts[].destination must be absolute: '" + dst + "'");
    const std::string type = m.value("type", "");
    std::string source = m.value("source", "");
    std::vector<std::string> options;
    if (m.contains("options")) options = m.at("options").get<std::vector<std::string>>();
    const bool is_bind = type == "bind" || std::find(options.begin(), options.end(), "bind") !=
                                                options.end() ||
                         std::find(options.begin(), options.end(), "rbind") != options.end();
    if (is_bind) {
      jail::Volume v;
      if (source.empty() || source[0] != '/')
        return bad("mounts[] bind source must be absolute: '" + source + "' on " + dst);
      v.host_path = host_source(source);
      v.jail_path = dst;
      jail::VolumeOptions vo;
      vo.jail_path = dst;
      for (const auto& o : options) {
        if (o == "ro") v.read_only = true;
        else if (o == "noexec") vo.no_exec = true;
        else if (o == "exec") vo.no_exec = false;
        else if (o == "noatime" || o == "relatime" || o == "strictatime") vo.atime = o;
        // "do not use relatime": every access updates the time, strictatime (mount(8)).
        else if (o == "norelatime") vo.atime = "strictatime";
        else if (propagation_name(o)) {
          if (o != "private" && o != "rprivate") plan.propagation.push_back({dst, o});
        }
        else if (o == "rw" || o == "bind" || o == "rbind" || o == "nosuid" || o == "nodev" ||
                 o == "z" || o == "Z")
          // Volumes are always nosuid,nodev (the engine's rule, issue 17); z/Z are SELinux
          // relabels, and this host has no SELinux.
          continue;
        else if (o.find('=') != std::string::npos)
          // A file system's data ("mode=755", "size=1k"): the kernel takes none on a bind
          // (mount(2) ignores data with MS_BIND), as with runc.
          continue;
        else
          return unsupported("mounts[].options \"" + o + "\" on a bind mount (" + dst + ")");
      }
      if (vo.no_exec || !vo.atime.empty()) plan.volume_options.push_back(std::move(vo));
      plan.volumes.push_back(std::move(v));
      continue;
    }
    if (engine_mount(dst, type)) {  // the engine's own, at this place in the order
      plan.mounts.push_back({type, type, dst, options});
      continue;
    }
    if (type.empty()) return bad("mounts[] on " + dst + " has no type");
    if (type == "cgroup" || type == "cgroup2") {
      // The engine's "cgroup": the container's own cgroups on a v1 host (each hierarchy it is
      // in), the unified hierarchy from its cgroup namespace on v2. Read-only, as every engine
      // asks for an unprivileged container.
      plan.mounts.push_back({"cgroup", "cgroup", dst, {"ro", "nosuid", "nodev", "noexec"}});
      continue;
    }
    if (type != "tmpfs" && type != "mqueue" && type != "devpts" && type != "proc" &&
        type != "sysfs")
      return unsupported("mounts[].type " + type + " (on " + dst + ")");
    // runc's "tmpcopyup" (podman's --tmpfs and --read-only ask for it): not a mount option but
    // the engine's FsMount::copy_up.
    const auto copy_up = std::find(options.begin(), options.end(), "tmpcopyup");
    const bool with_copy_up = copy_up != options.end();
    if (with_copy_up) options.erase(copy_up);
    if (with_copy_up && type != "tmpfs")
      return unsupported("mounts[].options tmpcopyup on a " + type + " (" + dst + ")",
                         "it is a tmpfs's");
    plan.mounts.push_back({type, source.empty() ? type : source, dst, options, with_copy_up});
  }
  return {};
}

Status process_of(const json& p, Bundle& b) {
  LJ_TRY(only(p, "process", {"terminal", "consoleSize", "user", "args", "env", "cwd",
                             "capabilities", "rlimits", "noNewPrivileges", "oomScoreAdj",
                             "apparmorProfile", "selinuxLabel", "commandLine", "ioPriority",
                             "scheduler", "execCPUAffinity"}));
  jail::JailSpec& s = b.spec;
  if (p.contains("apparmorProfile") && !p["apparmorProfile"].get<std::string>().empty())
    return unsupported("process.apparmorProfile");
  if (p.contains("selinuxLabel") && !p["selinuxLabel"].get<std::string>().empty())
    return unsupported("process.selinuxLabel");
  for (const char* k : {"commandLine", "ioPriority", "scheduler", "execCPUAffinity"})
    if (p.contains(k)) return unsupported(std::string("process.") + k);
  b.terminal = p.value("terminal", false);
  if (p.contains("consoleSize")) {
    LJ_TRY(only(p["consoleSize"], "process.consoleSize", {"height", "width"}));
    b.rows = p["consoleSize"].value("height", static_cast<unsigned short>(0));
    b.cols = p["consoleSize"].value("width", static_cast<unsigned short>(0));
  }
  if (!p.contains("args") || p["args"].empty()) return bad("process.args is empty");
  s.argv = p["args"].get<std::vector<std::string>>();
  if (p.contains("env")) s.env = p["env"].get<std::vector<std::string>>();
  s.workdir = p.value("cwd", "/");
  if (s.workdir.empty() || s.workdir[0] != '/') return bad("process.cwd must be absolute");
  if (p.contains("user")) {
    const json& u = p["user"];
    LJ_TRY(only(u, "process.user", {"uid", "gid", "umask", "additionalGids", "username"}));
    if (u.contains("username")) return unsupported("process.user.username (Windows)");
    if (u.contains("umask")) {
      s.process.umask = u["umask"].get<unsigned>();
      if (s.process.umask > 0777) return bad("process.user.umask is not a file mode");
    }
    s.uid = u.value("uid", 0u);
    s.gid = u.value("gid", 0u);
    if (u.contains("additionalGids"))
      s.process.groups = u["additionalGids"].get<std::vector<gid_t>>();
  }
  if (p.contains("capabilities")) {
    const json& c = p["capabilities"];
    LJ_TRY(only(c, "process.capabilities",
                {"bounding", "effective", "permitted", "inheritable", "ambient"}));
    jail::CapabilitySets cs;
    auto set = [&](const char* k, std::uint64_t& m) -> Status {
      if (c.contains(k)) m = LJ_TRY(cap_mask(c[k], std::string("process.capabilities.") + k));
      return {};
    };
    LJ_TRY(set("bounding", cs.bounding));
    LJ_TRY(set("effective", cs.effective));
    LJ_TRY(set("permitted", cs.permitted));
    LJ_TRY(set("inheritable", cs.inheritable));
    LJ_TRY(set("ambient", cs.ambient));
    s.process.capabilities = cs;
  } else {
    s.process.capabilities = jail::CapabilitySets{};  // the spec's default: none
  }
  if (p.contains("rlimits"))
    for (const auto& r : p["rlimits"]) {
      LJ_TRY(only(r, "process.rlimits[]", {"type", "soft", "hard"}));
      s.process.rlimits.push_back(
          {r.at("type").get<std::string>(), r.at("soft").get<std::uint64_t>(),
           r.at("hard").get<std::uint64_t>()});
    }
  s.process.no_new_privs = p.value("noNewPrivileges", false);
  if (p.contains("oomScoreAdj")) s.process.oom_score_adj = p["oomScoreAdj"].get<int>();
  return {};
}

Status namespaces_of(const json& list, Bundle& b) {
  std::set<std::string> seen;
  for (const auto& n : list) {
    LJ_TRY(only(n, "linux.namespaces[]", {"type", "path"}));
    const auto type = n.at("type").get<std::string>();
    const std::string path = n.value("path", "");
    seen.insert(type);
    if (type == "network") {
      if (!path.empty()) {
        // Joined: the runtime opens it and sets NetworkMode::netns with the descriptor.
        b.netns_path = path;
      }
    } else if (type == "pid" || type == "ipc" || type == "uts" || type == "cgroup") {
      // Joined: the runtime opens it and sets the spec's JoinedNamespaces.
      if (!path.empty())
        (type == "pid" ? b.pidns_path
         : type == "ipc" ? b.ipcns_path
         : type == "uts" ? b.utsns_path
                         : b.cgroupns_path) = path;
    } else if (type == "mount") {
      // Joined: the root is assembled in it (jail::JoinedNamespaces::mnt), as runc does.
      b.mntns_path = path;
    } else if (type == "user") {
      if (!path.empty())
        return unsupported("linux.namespaces[user].path",
                           "the engine maps the ids of a user namespace of its own");
    } else if (type == "time") {
      return unsupported("linux.namespaces[time]");
    } else {
      return bad("linux.namespaces: unknown type " + type);
    }
  }
  // pid, cgroup and mount absent: the runtime's own, joined as a path would be (runc's
  // inheritance, runtime-spec config-linux.md). The mount namespace is then the host's: the
  // engine assembles the root there and chroots into it (jail/spec.hpp JoinedNamespaces::mnt).
  if (!seen.count("pid")) b.pidns_path = "/proc/self/ns/pid";
  // With a user namespace of its own a cgroup namespace is made (joining goes without one).
  if (!seen.count("cgroup") && !seen.count("user")) b.cgroupns_path = "/proc/self/ns/cgroup";
  if (!seen.count("mount")) b.mntns_path = "/proc/self/ns/mnt";
  // ipc and uts absent: the host's, joined as a path would be (ljoci's own, which is its caller's).
  // containerd's CRI leaves uts out of a host-network pod's sandbox, ipc out of a host-IPC one.
  // A hostname there would rename the host: refused, as runc does.
  if (!seen.count("ipc")) b.ipcns_path = "/proc/self/ns/ipc";
  if (!seen.count("uts")) {
    if (!b.spec.hostname.empty())
      return bad("hostname without a uts namespace of its own (it would rename the host)");
    b.utsns_path = "/proc/self/ns/uts";
  }
  if (!seen.count("network")) b.spec.network.mode = jail::NetworkMode::inherit;
  if (!seen.count("user")) b.spec.userns.reset();
  else b.spec.userns = jail::UserNamespace{};
  if (b.spec.userns && (!b.pidns_path.empty() || !b.ipcns_path.empty() ||
                        !b.utsns_path.empty() || !b.cgroupns_path.empty() ||
                        !b.mntns_path.empty()))
    return unsupported("joining a namespace by path together with a new user namespace");
  return {};
}

Status id_mappings(const json& linux, Bundle& b) {
  const bool has = linux.contains("uidMappings") || linux.contains("gidMappings");
  if (!b.spec.userns) {
    if (has) return bad("linux.uidMappings without a user namespace");
    return {};
  }
  auto one = [&](const char* k, std::uint32_t& host, std::uint32_t& size) -> Status {
    if (!linux.contains(k) || linux[k].size() != 1)
      return unsupported(std::string("linux.") + k + " other than one range",
                         "exactly one mapping from containerID 0 is supported");
    const json& m = linux[k][0];
    LJ_TRY(only(m, std::string("linux.") + k + "[]", {"containerID", "hostID", "size"}));
    if (m.at("containerID").get<std::uint32_t>() != 0)
      return unsupported(std::string("linux.") + k + " not starting at containerID 0");
    host = m.at("hostID").get<std::uint32_t>();
    size = m.at("size").get<std::uint32_t>();
    return {};
  };
  std::uint32_t uh = 0, us = 0, gh = 0, gs = 0;
  LJ_TRY(one("uidMappings", uh, us));
  LJ_TRY(one("gidMappings", gh, gs));
  b.spec.userns->host_uid = uh;
  b.spec.userns->host_gid = gh;
  b.spec.userns->count = us;
  b.spec.userns->gid_count = gs;
  return {};
}

// linux.resources.blockIO: the weight and the four per-device throttles (podman's --blkio-weight,
// --device-read-bps, --device-write-bps, --device-read-iops, --device-write-iops). The leaf weight
// and per-device weights are refused: the engine has no file for them.
Status block_io_of(const json& io, jail::Limits::BlockIo& out) {
  LJ_TRY(only(io, "linux.resources.blockIO",
              {"weight", "leafWeight", "weightDevice", "throttleReadBpsDevice",
               "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"}));
  if (io.contains("weight") && !io["weight"].is_null()) {
    const auto w = io["weight"].get<std::int64_t>();
    if (w != 0 && (w < 10 || w > 1000))
      return bad("linux.resources.blockIO.weight " + std::to_string(w) + ": not in 10..1000");
    out.weight = static_cast<std::uint16_t>(w);
  }
  if (io.contains("leafWeight") && !io["leafWeight"].is_null() && io["leafWeight"] != 0)
    return unsupported("linux.resources.blockIO.leafWeight");
  if (io.contains("weightDevice") && !io["weightDevice"].empty())
    return unsupported("linux.resources.blockIO.weightDevice");
  const std::pair<const char*, std::vector<jail::DeviceRate>*> lists[] = {
      {"throttleReadBpsDevice", &out.read_bps},
      {"throttleWriteBpsDevice", &out.write_bps},
      {"throttleReadIOPSDevice", &out.read_iops},
      {"throttleWriteIOPSDevice", &out.write_iops}};
  for (const auto& [key, into] : lists) {
    if (!io.contains(key) || io[key].is_null()) continue;
    const std::string where = std::string("linux.resources.blockIO.") + key;
    for (const auto& d : io[key]) {
      LJ_TRY(only(d, where + "[]", {"major", "minor", "rate"}));
      jail::DeviceRate r;
      r.major = d.at("major").get<std::int64_t>();
      r.minor = d.at("minor").get<std::int64_t>();
      r.rate = d.at("rate").get<std::uint64_t>();
      if (r.major < 0 || r.minor < 0) return bad(where + ": a device number below 0");
      into->push_back(r);
    }
  }
  return {};
}

Status resources_of(const json& r, Bundle& b) {
  LJ_TRY(only(r, "linux.resources", {"devices", "memory", "cpu", "pids", "unified",
                                     "blockIO", "hugepageLimits", "network", "rdma"}));
  jail::Limits& l = b.spec.limits;
  if (r.contains("devices") && !r["devices"].empty()) {
    // The rules go to the engine's device cgroup (v1) or device program (v2):
    // jail::Limits::device_rules. The root stays nodev as well (linux_of).
    for (const auto& d : r["devices"]) {
      LJ_TRY(only(d, "linux.resources.devices[]", {"allow", "type", "major", "minor", "access"}));
      jail::DeviceRule rule;
      rule.allow = d.value("allow", false);
      const auto type = d.value("type", std::string("a"));
      if (type != "a" && type != "c" && type != "b")
        return bad("linux.resources.devices[].type '" + type + "' is not a, c or b");
      rule.type = type[0];
      rule.major = d.contains("major") && !d["major"].is_null() ? d["major"].get<std::int64_t>() : -1;
      rule.minor = d.contains("minor") && !d["minor"].is_null() ? d["minor"].get<std::int64_t>() : -1;
      rule.access = d.value("access", std::string("rwm"));
      if (rule.access.empty()) rule.access = "rwm";
      if (rule.access.find_first_not_of("rwm") != std::string::npos)
        return bad("linux.resources.devices[].access '" + rule.access + "' is not of r, w, m");
      l.device_rules.push_back(std::move(rule));
    }
  }
  if (r.contains("memory")) {
    const json& m = r["memory"];
    LJ_TRY(only(m, "linux.resources.memory",
                {"limit", "swap", "reservation", "disableOOMKiller", "swappiness",
                 "kernel", "kernelTCP", "useHierarchy", "checkBeforeUpdate"}));
    if (m.contains("limit") && m["limit"].get<std::int64_t>() > 0)
      l.memory_bytes = m["limit"].get<std::uint64_t>();
    if (m.contains("swap") && !m["swap"].is_null()) {
      l.memory_swap_bytes = LJ_TRY(swap_of(m["swap"].get<std::int64_t>(), l.memory_bytes));
      if (l.memory_swap_bytes && l.memory_swap_bytes != jail::Limits::kUnlimitedSwap &&
          !l.memory_bytes)
        return bad("linux.resources.memory.swap without linux.resources.memory.limit");
    }
    // The engine's other memory knobs (jail::Limits; cgroup v2 refuses all but the reservation).
    auto positive = [&](const char* k) -> std::uint64_t {
      return m.contains(k) && m[k].get<std::int64_t>() > 0 ? m[k].get<std::uint64_t>() : 0;
    };
    l.memory_reservation = positive("reservation");
    l.memory_kernel_bytes = positive("kernel");
    l.memory_kernel_tcp_bytes = positive("kernelTCP");
    l.memory_no_oom_killer = m.value("disableOOMKiller", false);
    if (m.contains("swappiness") && !m["swappiness"].is_null()) {
      // runtime-spec: an unsigned value; runc takes -1 (a signed one) as "unset" too.
      const auto sw = m["swappiness"].get<std::int64_t>();
      if (sw > 100) return bad("linux.resources.memory.swappiness " + std::to_string(sw) + ": above 100");
      if (sw >= 0) l.memory_swappiness = static_cast<std::uint32_t>(sw);
    }
    // Hierarchical accounting is all cgroup v2 has (and v1 since Linux 5.x): only false differs.
    if (m.contains("useHierarchy") && !m["useHierarchy"].get<bool>())
      return unsupported("linux.resources.memory.useHierarchy false");
    // A rule for later updates that ljoci's update does not check.
    if (m.value("checkBeforeUpdate", false))
      return unsupported("linux.resources.memory.checkBeforeUpdate");
  }
  if (r.contains("pids")) {
    LJ_TRY(only(r["pids"], "linux.resources.pids", {"limit"}));
    const auto lim = r["pids"].value("limit", std::int64_t{0});
    if (lim > 0) l.pids = static_cast<std::uint64_t>(lim);
  }
  if (r.contains("cpu")) {
    const json& c = r["cpu"];
    LJ_TRY(only(c, "linux.resources.cpu", {"shares", "quota", "period", "cpus", "mems",
                                           "realtimeRuntime", "realtimePeriod", "idle",
                                           "burst"}));
    // The cpu and cpuset cgroups are made for the section even without a value (runc places the
    // container in every hierarchy), so that update can set one later.
    l.cpu_cgroups = true;
    const auto quota = c.value("quota", std::int64_t{0});
    const auto period = c.value("period", std::uint64_t{0});
    l.cpu_period_us = period;
    if (quota > 0) {
      // Exact on Linux (cpu.cfs_quota_us/cfs_period_us); the share for FreeBSD's rctl pcpu.
      const std::uint64_t p = period ? period : 100000;
      l.cpu_quota_us = static_cast<std::uint64_t>(quota);
      l.cpu_percent = static_cast<std::uint32_t>((static_cast<std::uint64_t>(quota) * 100) / p);
      if (l.cpu_percent == 0) l.cpu_percent = 1;
    }
    // The kernel's list form ("0-3,7"), checked by the kernel at the write (EINVAL names the file).
    l.cpuset_cpus = c.value("cpus", std::string());
    l.cpuset_mems = c.value("mems", std::string());
    // shares: the kernel's range (v1 cpu.shares, 2..262144); 1024 is its default, left as it is.
    const auto shares = c.value("shares", std::uint64_t{0});
    if (shares && (shares < 2 || shares > 262144))
      return bad("linux.resources.cpu.shares " + std::to_string(shares) + ": outside 2..262144");
    if (shares != 1024) l.cpu_shares = shares;
    // Realtime bandwidth (v1 cpu.rt_period_us/rt_runtime_us; refused on v2 by the engine).
    const auto rt_runtime = c.value("realtimeRuntime", std::int64_t{0});
    if (rt_runtime < -1) return bad("linux.resources.cpu.realtimeRuntime below -1 (unlimited)");
    l.cpu_rt_runtime_us = rt_runtime;
    l.cpu_rt_period_us = c.value("realtimePeriod", std::uint64_t{0});
    for (const char* k : {"idle", "burst"})
      if (c.contains(k) && c[k].get<std::int64_t>() != 0)
        return unsupported(std::string("linux.resources.cpu.") + k);
  }
  if (r.contains("blockIO")) LJ_TRY(block_io_of(r["blockIO"], l.block_io));
  for (const char* k : {"unified", "hugepageLimits", "network", "rdma"})
    if (r.contains(k) && !r[k].empty()) return unsupported(std::string("linux.resources.") + k);
  return {};
}

Status linux_of(const json& lx, Bundle& b) {
  LJ_TRY(only(lx, "linux", {"namespaces", "uidMappings", "gidMappings", "devices",
                            "cgroupsPath", "resources", "sysctl", "seccomp", "maskedPaths",
                            "readonlyPaths", "rootfsPropagation", "mountLabel", "intelRdt",
                            "personality", "timeOffsets", "memoryPolicy", "netDevices"}));
  // Absent (Go's omitempty of an empty list, runtime-tools linux_ns_itype): none listed.
  LJ_TRY(namespaces_of(lx.contains("namespaces") ? lx["namespaces"] : json::array(), b));
  LJ_TRY(id_mappings(lx, b));
  if (lx.contains("devices"))
    for (const auto& d : lx["devices"]) LJ_TRY(device_of(d, b));
  b.cgroups_path = lx.value("cgroupsPath", "");
  if (lx.contains("resources")) LJ_TRY(resources_of(lx["resources"], b));
  // An engine that names the container's cgroup reads its figures there in every hierarchy
  // (podman stats' CPU time, containerd's shim metrics), as runc places a container in each:
  // the cpu, cpuacct and cpuset cgroups too, even without a cpu section (podman sends none
  // without --cpus or --cpu-shares, and its stats showed 0 s of CPU).
  if (!b.cgroups_path.empty()) b.spec.limits.cpu_cgroups = true;
  if (lx.contains("sysctl"))
    for (const auto& [k, v] : lx["sysctl"].items())
      b.spec.process.sysctl.emplace_back(k, v.get<std::string>());
  // Absent: no filter, as runc and crun (the engine's default deny-list is ljd's choice for its
  // own jails; an OCI config is its engine's: podman sends none for --privileged).
  if (lx.contains("seccomp"))
    b.spec.process.seccomp_bpf = LJ_TRY(compile_seccomp(lx["seccomp"].dump()));
  else
    b.spec.process.no_seccomp = true;
  // The config's masks alone, as runc's (a privileged container's lists none).
  b.spec.root.only_plan_masks = true;
  if (lx.contains("maskedPaths"))
    b.spec.root.masked_paths = lx["maskedPaths"].get<std::vector<std::string>>();
  if (lx.contains("readonlyPaths"))
    b.spec.root.readonly_paths = lx["readonlyPaths"].get<std::vector<std::string>>();
  if (lx.contains("rootfsPropagation")) {
    // Applied to the root inside the jail's mount namespace, which the engine first makes
    // private from the host's: "shared" peers only the jail's own copies, "slave" has no
    // master (docs/oci.md).
    const auto p = lx["rootfsPropagation"].get<std::string>();
    if (!propagation_name(p)) return bad("linux.rootfsPropagation '" + p + "' is not a propagation");
    if (p != "private" && p != "rprivate") b.spec.root.root_propagation = p;
  }
  // No device opens but the engine's own nodes, whatever the rules say (runc denies every device
  // but its defaults): the root, /dev and every mount are nodev, the engine's nodes bound from
  // the host's (measured cheaper than a device cgroup per container: docs/oci.md). A node made
  // with CAP_MKNOD, or a linux.devices node without rules, exists but does not open.
  b.spec.root.nodev = true;
  // With device rules (the cgroup guards every node, as under runc) and a linux.devices node to
  // open, /dev alone is left to them; the root and every other mount stay nodev.
  if (!b.spec.limits.device_rules.empty())
    for (const auto& n : b.spec.grants.nodes)
      if (n.type != 'p') b.spec.root.dev_guarded_by_rules = true;
  // nodev holds only while the container cannot mount: CAP_SYS_ADMIN (the engine's seccomp
  // filter is not loaded with the config's) could mount a tmpfs without it or remount the root.
  // Then the engine's default rules guard every node too (deny all; the engine appends its own).
  if (b.spec.limits.device_rules.empty() && b.spec.process.capabilities &&
      (b.spec.process.capabilities->bounding & (std::uint64_t{1} << kCapSysAdmin)))
    b.spec.limits.device_rules.push_back(jail::DeviceRule{});
  if (lx.contains("mountLabel") && !lx["mountLabel"].get<std::string>().empty())
    return unsupported("linux.mountLabel");
  for (const char* k : {"intelRdt", "personality", "timeOffsets", "memoryPolicy", "netDevices"})
    if (lx.contains(k)) return unsupported(std::string("linux.") + k);
  return {};
}

// ---- FreeBSD (runtime-spec config-freebsd.md) ----

// The process fields a FreeBSD jail has no means for (the FreeBSD backend refuses them too, by
// the engine's names: here they are named as the config names them).
Status freebsd_process_of(const json& p, Bundle& b) {
  jail::ProcessOptions& o = b.spec.process;
  if (p.contains("capabilities"))
    return unsupported("process.capabilities", "Linux capability sets; a FreeBSD jail has none");
  o.capabilities.reset();
  if (p.contains("rlimits") && !p["rlimits"].empty())
    return unsupported("process.rlimits", "not applied by the FreeBSD backend yet");
  if (p.contains("oomScoreAdj")) return unsupported("process.oomScoreAdj", "Linux's");
  if (p.value("noNewPrivileges", false))
    return unsupported("process.noNewPrivileges", "not applied by the FreeBSD backend yet");
  o.no_new_privs = true;  // the engine's default, which the FreeBSD backend takes as "nothing"
  if (!o.groups.empty())
    return unsupported("process.user.additionalGids", "not applied by the FreeBSD backend yet");
  if (o.umask != 022)
    return unsupported("process.user.umask other than 022", "not applied by the FreeBSD backend yet");
  return {};
}

// mounts[] on FreeBSD: a devfs on /dev is the engine's own (its "ruleset=N" the jail's devfs
// ruleset); a nullfs (or bind) mount a volume. The FreeBSD backend mounts nothing else yet.
Status freebsd_mounts_of(const json& list, jail::JailSpec& s) {
  for (const auto& m : list) {
    LJ_TRY(only(m, "mounts[]", {"destination", "type", "source", "options"}));
    const auto dst = m.at("destination").get<std::string>();
    if (dst.empty() || dst[0] != '/')
      return bad("mounts[].destination must be absolute: '" + dst + "'");
    const std::string type = m.value("type", "");
    const std::string source = m.value("source", "");
    std::vector<std::string> options;
    if (m.contains("options")) options = m.at("options").get<std::vector<std::string>>();
    if (type == "devfs" && dst == "/dev") {
      for (const auto& o : options) {
        if (o.rfind("ruleset=", 0) == 0) {
          int n = 0;
          try {
            n = std::stoi(o.substr(8));
          } catch (const std::exception&) {
            return bad("mounts[] devfs option '" + o + "' is not a ruleset number");
          }
          if (n <= 0 || n > 65535)
            return unsupported("mounts[] devfs option '" + o + "'",
                               "ruleset 0 has no rule: the jail would see every host device");
          s.freebsd.devfs_ruleset = n;
        } else {
          return unsupported("mounts[].options \"" + o + "\" on the devfs (/dev)");
        }
      }
      continue;
    }
    const bool is_bind = type == "nullfs" || type == "bind" ||
                         std::find(options.begin(), options.end(), "bind") != options.end() ||
                         std::find(options.begin(), options.end(), "rbind") != options.end();
    if (!is_bind)
      return unsupported("mounts[].type " + (type.empty() ? std::string("(none)") : type) +
                             " (on " + dst + ")",
                         "the FreeBSD backend mounts its devfs and nullfs volumes only");
    if (source.empty() || source[0] != '/')
      return bad("mounts[] nullfs source must be absolute: '" + source + "' on " + dst);
    jail::Volume v;
    v.host_path = host_source(source);
    v.jail_path = dst;
    for (const auto& o : options) {
      if (o == "ro") v.read_only = true;
      else if (o == "rw" || o == "bind" || o == "rbind" || o == "nosuid" || o == "nodev")
        continue;  // volumes are always nosuid (the engine's rule, issue 17)
      else
        return unsupported("mounts[].options \"" + o + "\" on a nullfs mount (" + dst + ")");
    }
    s.root.volumes.push_back(std::move(v));
  }
  return {};
}

Result<jail::Sharing> sharing_of(const json& j, const char* key, bool may_disable) {
  const auto v = j[key].get<std::string>();
  if (v == "new") return jail::Sharing::new_;
  if (v == "inherit") return jail::Sharing::inherit;
  if (v == "disable" && may_disable) return jail::Sharing::disable;
  return bad(std::string("freebsd.jail.") + key + " '" + v + "' is not " +
             (may_disable ? "disable, new or inherit" : "new or inherit"));
}

Result<std::vector<std::string>> addresses_of(const json& j, const char* key, int family) {
  std::vector<std::string> out;
  if (!j.contains(key)) return out;
  for (const auto& a : j[key]) {
    const auto text = a.get<std::string>();
    unsigned char buf[16];
    if (::inet_pton(family, text.c_str(), buf) != 1)
      return bad(std::string("freebsd.jail.") + key + ": '" + text + "' is not an " +
                 (family == AF_INET ? "IPv4" : "IPv6") + " address in numeric form");
    out.push_back(text);
  }
  return out;
}

// freebsd.jail's network fields -> JailSpec::network (and JailParameters::vnet, vnet_interfaces).
//   vnet new                      -> mode none: a VNET of its own with lo0 (+ vnetInterfaces)
//   ip4 and ip6 inherit           -> mode inherit: the host's stack and addresses
//   ip4Addr/ip6Addr + interface   -> mode ip: those addresses (aliases added on the interface)
//   vnet inherit, or ip4/ip6 disable/new without addresses -> the host's stack without IP
//   nothing set                   -> the engine's default, mode none (as vnet new)
// Other combinations cannot be expressed by the engine's modes and are refused by name.
Status freebsd_network_of(const json& j, Bundle& b) {
  using jail::Sharing;
  jail::JailSpec& s = b.spec;
  Sharing vnet = Sharing::unset, ip4 = Sharing::unset, ip6 = Sharing::unset;
  if (j.contains("vnet")) vnet = LJ_TRY(sharing_of(j, "vnet", false));
  if (j.contains("ip4")) ip4 = LJ_TRY(sharing_of(j, "ip4", true));
  if (j.contains("ip6")) ip6 = LJ_TRY(sharing_of(j, "ip6", true));
  const auto v4 = LJ_TRY(addresses_of(j, "ip4Addr", AF_INET));
  const auto v6 = LJ_TRY(addresses_of(j, "ip6Addr", AF_INET6));
  const std::string iface = j.value("interface", "");
  std::vector<std::string> vifs;
  if (j.contains("vnetInterfaces")) vifs = j["vnetInterfaces"].get<std::vector<std::string>>();
  const bool addrs = !v4.empty() || !v6.empty();
  if (vnet == Sharing::new_) {
    for (const char* k : {"ip4", "ip6", "ip4Addr", "ip6Addr", "interface"})
      if (j.contains(k))
        return unsupported(std::string("freebsd.jail.") + k + " with vnet \"new\"",
                           "a VNET's addresses are configured inside it (vnetInterfaces)");
    s.network.mode = jail::NetworkMode::none;
    s.freebsd.vnet_interfaces = vifs;
    return {};
  }
  if (!vifs.empty()) return bad("freebsd.jail.vnetInterfaces needs vnet \"new\"");
  if (addrs) {
    if (iface.empty())
      return unsupported("freebsd.jail.ip4Addr/ip6Addr without interface",
                         "the engine adds each address to an interface (freebsd.jail.interface)");
    auto family = [&](const char* k, Sharing sh, bool has) -> Status {
      if (sh == Sharing::inherit)
        return unsupported(std::string("freebsd.jail.") + k + " \"inherit\" with addresses",
                           "one family shared and the other restricted");
      if (sh == Sharing::disable && has)
        return bad(std::string("freebsd.jail.") + k + " \"disable\" with " + k + "Addr");
      return {};
    };
    LJ_TRY(family("ip4", ip4, !v4.empty()));
    LJ_TRY(family("ip6", ip6, !v6.empty()));
    s.network.mode = jail::NetworkMode::ip;
    s.network.interface = iface;
    s.network.addresses = v4;
    s.network.addresses.insert(s.network.addresses.end(), v6.begin(), v6.end());
    return {};
  }
  if (!iface.empty()) return bad("freebsd.jail.interface without ip4Addr or ip6Addr");
  if (ip4 == Sharing::inherit && ip6 == Sharing::inherit) {
    s.network.mode = jail::NetworkMode::inherit;
    return {};
  }
  if (ip4 == Sharing::inherit || ip6 == Sharing::inherit)
    return unsupported(std::string("freebsd.jail.") + (ip4 == Sharing::inherit ? "ip4" : "ip6") +
                           " \"inherit\" without the other family inherited",
                       "the engine shares both families of the host's stack or neither");
  s.network.mode = jail::NetworkMode::none;
  if (vnet == Sharing::inherit || ip4 != Sharing::unset || ip6 != Sharing::unset)
    s.freebsd.vnet = Sharing::inherit;  // the parent's stack, without any address
  return {};
}

Status freebsd_jail_of(const json& j, Bundle& b) {
  LJ_TRY(only(j, "freebsd.jail", {"parent", "host", "ip4", "ip4Addr", "ip6", "ip6Addr", "vnet",
                                  "interface", "vnetInterfaces", "sysvmsg", "sysvsem", "sysvshm",
                                  "enforceStatfs", "allow"}));
  jail::JailParameters& fp = b.spec.freebsd;
  fp.parent = j.value("parent", "");
  if (j.contains("host")) fp.host = LJ_TRY(sharing_of(j, "host", false));
  if (fp.host == jail::Sharing::inherit && !b.spec.hostname.empty())
    return bad("hostname with freebsd.jail.host \"inherit\" (the jail takes its parent's)");
  LJ_TRY(freebsd_network_of(j, b));
  for (auto [k, field] : {std::pair{"sysvmsg", &fp.sysvmsg}, std::pair{"sysvsem", &fp.sysvsem},
                          std::pair{"sysvshm", &fp.sysvshm}})
    if (j.contains(k)) *field = LJ_TRY(sharing_of(j, k, true));
  if (j.contains("enforceStatfs")) {
    const int e = j["enforceStatfs"].get<int>();
    if (e < 0 || e > 2) return bad("freebsd.jail.enforceStatfs " + std::to_string(e) + " is not 0, 1 or 2");
    fp.enforce_statfs = e;
  }
  if (j.contains("allow")) {
    const json& a = j["allow"];
    LJ_TRY(only(a, "freebsd.jail.allow", {"setHostname", "rawSockets", "chflags", "mount",
                                          "quotas", "socketAf", "mlock", "reservedPorts",
                                          "suser"}));
    // config-freebsd.md's table: each to its jail(8) parameter. An explicit false is the
    // negated parameter (the jail's default is not the same for all: set_hostname,
    // reserved_ports and suser are on by default).
    static constexpr std::pair<const char*, const char*> kAllow[] = {
        {"setHostname", "allow.set_hostname"}, {"rawSockets", "allow.raw_sockets"},
        {"chflags", "allow.chflags"},          {"quotas", "allow.quotas"},
        {"socketAf", "allow.socket_af"},       {"mlock", "allow.mlock"},
        {"reservedPorts", "allow.reserved_ports"}, {"suser", "allow.suser"}};
    for (const auto& [key, param] : kAllow) {
      if (!a.contains(key)) continue;
      const std::string p = param;
      fp.allow.push_back(a[key].get<bool>() ? p : "allow.no" + p.substr(6));
    }
    if (a.contains("mount")) {
      for (const auto& t : a["mount"]) {
        const auto type = t.get<std::string>();
        if (type.empty() ||
            type.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789") != std::string::npos)
          return bad("freebsd.jail.allow.mount: '" + type + "' is not a file system name");
        fp.mount_types.push_back(type);
      }
      if (!fp.mount_types.empty() && fp.enforce_statfs.value_or(2) >= 2)
        return bad("freebsd.jail.allow.mount needs freebsd.jail.enforceStatfs 0 or 1 (jail(8): "
                   "mounting is effective only below 2)");
    }
  }
  return {};
}

Status freebsd_of(const json& f, Bundle& b) {
  LJ_TRY(only(f, "freebsd", {"devices", "jail"}));
  if (f.contains("devices"))
    for (const auto& d : f["devices"]) {
      LJ_TRY(only(d, "freebsd.devices[]", {"path", "mode"}));
      const auto path = d.at("path").get<std::string>();
      if (path.empty() || path[0] == '/')
        return bad("freebsd.devices[].path is relative to /dev: '" + path + "'");
      jail::JailParameters::Device dev{"/dev/" + path, std::nullopt};
      if (d.contains("mode")) {
        const auto mode = d["mode"].get<std::uint32_t>();
        if (mode > 07777) return bad("freebsd.devices[].mode of " + path + " is not a file mode");
        dev.mode = mode;
      }
      b.spec.freebsd.devices.push_back(std::move(dev));
    }
  if (f.contains("jail")) LJ_TRY(freebsd_jail_of(f["jail"], b));
  return {};
}

// The config's process, mounts and hooks on FreeBSD, and its freebsd section.
Status freebsd_config_of(const json& c, Bundle& b) {
  if (c.contains("linux") && !c["linux"].empty())
    return unsupported("linux", "ljoci on FreeBSD reads the freebsd section");
  LJ_TRY(freebsd_process_of(c["process"], b));
  if (c.contains("mounts")) LJ_TRY(freebsd_mounts_of(c["mounts"], b.spec));
  // System V IPC: "Defaults to new" (config-freebsd.md), as Linux's IPC namespace.
  for (auto* f : {&b.spec.freebsd.sysvmsg, &b.spec.freebsd.sysvsem, &b.spec.freebsd.sysvshm})
    *f = jail::Sharing::new_;
  if (c.contains("freebsd")) LJ_TRY(freebsd_of(c["freebsd"], b));
  return {};
}

Result<Bundle> parse(const json& c, const std::filesystem::path& dir, const std::string& id,
                     Platform platform) {
  LJ_TRY(only(c, "", {"ociVersion", "root", "mounts", "process", "hostname", "domainname",
                      "hooks", "annotations", "linux", "solaris", "windows", "vm", "zos",
                      "freebsd"}));
  Bundle b;
  b.dir = dir;
  b.oci_version = c.at("ociVersion").get<std::string>();
  if (b.oci_version.rfind("1.", 0) != 0)
    return bad("ociVersion " + b.oci_version + ": ljoci reads runtime-spec 1.x");
  for (const char* k : {"solaris", "windows", "vm", "zos"})
    if (c.contains(k)) return unsupported(k);
  if (platform == Platform::linux_host && c.contains("freebsd") && !c["freebsd"].empty()) {
    const auto& f = c["freebsd"];
    return unsupported(f.is_object() ? "freebsd." + f.begin().key() : std::string("freebsd"),
                       "ljoci on Linux reads the linux section");
  }
  jail::JailSpec& s = b.spec;
  s.name = id;
  // An OCI container keeps no daemon's defaults: its limits are the config's.
  s.process.capabilities = jail::CapabilitySets{};
  if (!c.contains("root")) return bad("root is missing");
  LJ_TRY(only(c["root"], "root", {"path", "readonly"}));
  std::filesystem::path rootfs = c["root"].at("path").get<std::string>();
  if (rootfs.is_relative()) rootfs = dir / rootfs;
  s.root.layers = {rootfs.lexically_normal()};
  // root.readonly: read-only once the config's mounts are made, their mount points made in the
  // rootfs first (runc's order). FreeBSD takes no mounts from the config: read-only from the start.
  s.root.writable = !c["root"].value("readonly", false) ? jail::WritableLayer::in_place()
                    : platform == Platform::linux_host  ? jail::WritableLayer::in_place_read_only()
                                                        : jail::WritableLayer::none();
  if (platform == Platform::linux_host && c.contains("mounts"))
    LJ_TRY(mounts_of(c["mounts"], s.root));
  if (!c.contains("process")) return unsupported("a config without process (nothing to run)");
  LJ_TRY(process_of(c["process"], b));
  s.hostname = c.value("hostname", "");
  if (c.contains("domainname") && !c["domainname"].get<std::string>().empty())
    return unsupported("domainname");
  if (c.contains("hooks")) {
    const json& h = c["hooks"];
    LJ_TRY(only(h, "hooks", {"prestart", "createRuntime", "createContainer", "startContainer",
                             "poststart", "poststop"}));
    if (h.contains("createContainer"))
      s.process.create_hooks.hooks = LJ_TRY(hooks_of(h["createContainer"], "hooks.createContainer"));
    if (h.contains("startContainer"))
      s.process.start_hooks.hooks = LJ_TRY(hooks_of(h["startContainer"], "hooks.startContainer"));
    b.hooks = LJ_TRY(runtime_hooks(h));
  }
  if (c.contains("annotations"))
    b.annotations = c["annotations"].get<std::map<std::string, std::string>>();
  if (platform == Platform::freebsd_host) {
    LJ_TRY(freebsd_config_of(c, b));
  } else {
    if (!c.contains("linux")) return bad("linux is missing (ljoci runs Linux containers here)");
    LJ_TRY(linux_of(c["linux"], b));
  }
  LJ_TRY(jail::validate_spec(s));
  return b;
}

}  // namespace

Result<ExecProcess> parse_exec_process(const std::string& process_json,
                                       const Bundle& container, Platform platform) {
  Bundle b;
  try {
    const json p = json::parse(process_json);
    LJ_TRY(process_of(p, b));
    if (p.contains("oomScoreAdj"))
      return unsupported("process.oomScoreAdj in exec", "an exec keeps the runtime's");
    if (platform == Platform::freebsd_host) LJ_TRY(freebsd_process_of(p, b));
  } catch (const json::exception& e) {
    return bad(std::string("process.json: ") + e.what());
  }
  ExecProcess e;
  e.terminal = b.terminal;
  e.rows = b.rows;
  e.cols = b.cols;
  e.spec.argv = b.spec.argv;
  e.spec.env = b.spec.env;
  e.spec.workdir = b.spec.workdir;
  e.spec.user = std::to_string(b.spec.uid) + ":" + std::to_string(b.spec.gid);
  e.spec.nofile = container.spec.limits.nofile;
  e.spec.process = b.spec.process;
  e.spec.process.seccomp_bpf = container.spec.process.seccomp_bpf;
  e.spec.process.no_seccomp = container.spec.process.no_seccomp;
  LJ_TRY(jail::validate_exec_spec(e.spec));
  return e;
}

Result<std::uint64_t> swap_of(std::int64_t swap, std::uint64_t memory_limit) {
  if (swap == -1) return jail::Limits::kUnlimitedSwap;
  if (swap < -1) return bad("linux.resources.memory.swap " + std::to_string(swap) + ": below -1");
  const auto s = static_cast<std::uint64_t>(swap);
  if (s != 0 && memory_limit != 0 && s < memory_limit)
    return bad("linux.resources.memory.swap " + std::to_string(s) + " below the memory limit " +
               std::to_string(memory_limit) + " (it counts memory and swap together)");
  return s == memory_limit ? 0 : s;
}

Result<std::string> cgroup_path_of(const std::string& cgroups_path, bool systemd_style) {
  if (!systemd_style || cgroups_path.empty()) return cgroups_path;
  const auto a = cgroups_path.find(':');
  const auto b = a == std::string::npos ? a : cgroups_path.find(':', a + 1);
  if (b == std::string::npos || cgroups_path.find(':', b + 1) != std::string::npos)
    return bad("linux.cgroupsPath '" + cgroups_path +
               "': with --systemd-cgroup it must be slice:prefix:name");
  std::string slice = cgroups_path.substr(0, a);
  const std::string prefix = cgroups_path.substr(a + 1, b - a - 1);
  const std::string name = cgroups_path.substr(b + 1);
  if (name.empty()) return bad("linux.cgroupsPath '" + cgroups_path + "' has no name");
  if (slice.empty()) slice = "system.slice";
  constexpr std::string_view kSuffix = ".slice";
  if (slice.size() <= kSuffix.size() ||
      slice.compare(slice.size() - kSuffix.size(), kSuffix.size(), kSuffix) != 0 ||
      slice.find('/') != std::string::npos)
    return bad("linux.cgroupsPath: '" + slice + "' is not a slice name");
  // systemd.slice(5): "a-b-c.slice" lives in /a.slice/a-b.slice/a-b-c.slice; "-.slice" is the root.
  std::string path;
  if (slice != "-.slice") {
    const std::string stem = slice.substr(0, slice.size() - kSuffix.size());
    if (stem.front() == '-' || stem.back() == '-' || stem.find("--") != std::string::npos)
      return bad("linux.cgroupsPath: '" + slice + "' is not a valid slice name");
    for (std::size_t dash = stem.find('-'); dash != std::string::npos;
         dash = stem.find('-', dash + 1))
      path += "/" + stem.substr(0, dash) + std::string(kSuffix);
    path += "/" + slice;
  }
  if (name.size() > kSuffix.size() &&
      name.compare(name.size() - kSuffix.size(), kSuffix.size(), kSuffix) == 0)
    return path + "/" + name;  // runc: a name that is a slice is the cgroup itself
  return path + "/" + (prefix.empty() ? "" : prefix + "-") + name + ".scope";
}

const std::vector<std::string>& capability_names() {
  static const std::vector<std::string> k = {
      "CAP_CHOWN",           "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
      "CAP_FSETID",          "CAP_KILL",           "CAP_SETGID",          "CAP_SETUID",
      "CAP_SETPCAP",         "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
      "CAP_NET_ADMIN",       "CAP_NET_RAW",        "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
      "CAP_SYS_MODULE",      "CAP_SYS_RAWIO",      "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
      "CAP_SYS_PACCT",       "CAP_SYS_ADMIN",      "CAP_SYS_BOOT",        "CAP_SYS_NICE",
      "CAP_SYS_RESOURCE",    "CAP_SYS_TIME",       "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
      "CAP_LEASE",           "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
      "CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",      "CAP_SYSLOG",          "CAP_WAKE_ALARM",
      "CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",         "CAP_BPF",
      "CAP_CHECKPOINT_RESTORE"};
  return k;
}

Result<Bundle> parse_config(const std::string& text, const std::filesystem::path& dir,
                            const std::string& id, Platform platform) {
  try {
    return parse(json::parse(text), dir, id, platform);
  } catch (const json::exception& e) {
    return bad(std::string("config.json: ") + e.what());
  }
}

Result<Hooks> runtime_hooks_of(const std::string& text) {
  try {
    const json c = json::parse(text);
    if (!c.contains("hooks")) return Hooks{};
    return runtime_hooks(c["hooks"]);
  } catch (const json::exception& e) {
    return bad(std::string("config.json: ") + e.what());
  }
}

Result<Bundle> load_bundle(const std::filesystem::path& dir, const std::string& id,
                           Platform platform) {
  std::error_code ec;
  std::filesystem::path abs = std::filesystem::absolute(dir, ec);
  if (ec) return fail_errno("oci", "bundle " + dir.string(), ec.value());
  std::ifstream in(abs / "config.json");
  if (!in) return fail_errno("oci", "open " + (abs / "config.json").string());
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  Bundle b = LJ_TRY(parse_config(text, abs.lexically_normal(), id, platform));
  b.config_text = std::move(text);
  return b;
}

std::string default_config() {
  json c = {
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", true},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env", {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities",
         {{"bounding", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"effective", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"permitted", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}},
          {"ambient", {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"}}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", "rootfs"}, {"readonly", true}}},
      {"hostname", "ljoci"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"}, {"type", "tmpfs"}, {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"}, {"type", "devpts"}, {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
        {{"destination", "/dev/shm"}, {"type", "tmpfs"}, {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"}, {"type", "mqueue"}, {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"}, {"type", "sysfs"}, {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
      {"linux",
       {{"namespaces",
         {{{"type", "pid"}}, {{"type", "network"}}, {{"type", "ipc"}}, {{"type", "uts"}},
          {{"type", "mount"}}, {{"type", "cgroup"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
  return c.dump(1, '\t') + "\n";
}

}  // namespace lj::oci
