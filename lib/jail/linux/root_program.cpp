#include "jail/linux/root_program.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <set>
#include <system_error>

namespace lj::jail {
namespace {

// A root's errors keep the domain they had when lib/overlay assembled roots: their wire code
// (overlay.invalid_argument, overlay.not_found) is part of the API.
constexpr const char* kDomain = "overlay";
constexpr unsigned long kNoSuidDevExec = MS_NOSUID | MS_NODEV | MS_NOEXEC;

// Devices of the minimal /dev (major, minor as in Documentation/admin-guide/devices.txt).
struct Device {
  const char* name;
  unsigned major, minor;
};
constexpr Device kDevices[] = {{"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
                               {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};

// /proc entries that leak host state or let root poke the kernel. Read-only binds and masks follow
// runc's defaults (config/linux default masked/readonly paths); sysrq-trigger is made read-only
// rather than masked by /dev/null so that a write fails loudly (EROFS) instead of vanishing.
constexpr const char* kProcReadOnly[] = {"sys", "sysrq-trigger", "bus", "fs", "irq"};
constexpr const char* kProcMaskFiles[] = {"kcore",         "keys",        "timer_list",
                                          "latency_stats", "sched_debug", "timer_stats",
                                          "kpagecount",    "kpageflags",  "kpagecgroup"};
constexpr const char* kProcMaskDirs[] = {"acpi", "asound", "scsi"};

class Builder {
 public:
  explicit Builder(std::string root) { prog_.root = std::move(root); }

  std::string at(std::string_view rel) const { return prog_.root + "/" + std::string(rel); }

  void mount(const char* step, std::string source, std::string target, std::string fstype,
             unsigned long flags, std::string data = {}, bool optional = false) {
    MountOp op;
    op.kind = OpKind::mount;
    op.step = step;
    op.source = std::move(source);
    op.target = std::move(target);
    op.fstype = std::move(fstype);
    op.flags = flags;
    op.data = std::move(data);
    op.optional = optional;
    prog_.ops.push_back(std::move(op));
  }
  // A read-only bind needs a second, remounting call: MS_RDONLY is ignored on the first
  // (mount(2), "Creating a bind mount").
  void bind(const char* step, const std::string& source, const std::string& target, bool ro,
            unsigned long keep_flags = 0, bool optional = false, bool source_nofollow = false) {
    mount(step, source, target, "", MS_BIND | MS_REC, {}, optional);
    prog_.ops.back().source_nofollow = source_nofollow;
    if (ro)
      mount("remount read-only", "", target, "", MS_BIND | MS_REMOUNT | MS_RDONLY | keep_flags, {},
            optional);
  }
  void simple(OpKind kind, const char* step, std::string source, std::string target,
              mode_t mode = 0, dev_t dev = 0) {
    MountOp op;
    op.kind = kind;
    op.step = step;
    op.source = std::move(source);
    op.target = std::move(target);
    op.mode = mode;
    op.dev = dev;
    prog_.ops.push_back(std::move(op));
  }
  void setns(const char* step, int fd) {
    MountOp op;
    op.kind = OpKind::setns;
    op.step = step;
    op.fd = fd;
    prog_.ops.push_back(std::move(op));
  }
  void make_path(std::string base, const std::string& rel, bool file) {
    MountOp op;
    op.kind = OpKind::make_path;
    op.step = "create mount point";
    op.target = std::move(base);
    op.mode = file ? S_IFREG : S_IFDIR;
    for (const auto& part : std::filesystem::path(rel).relative_path())
      if (!part.empty()) op.parts.push_back(part.string());
    prog_.ops.push_back(std::move(op));
  }

  // A mount whose mount point is resolved beneath `root` without symlinks (MountOp::rel).
  void mount_beneath(const char* step, std::string source, const std::string& rel,
                     std::string fstype, unsigned long flags, std::string data = {}) {
    mount(step, std::move(source), prog_.root, std::move(fstype), flags, std::move(data));
    prog_.ops.back().rel = rel;
  }
  void beneath(OpKind kind, const char* step, std::string source, const std::string& rel) {
    simple(kind, step, std::move(source), prog_.root);
    prog_.ops.back().rel = rel;
  }
  void propagate(const std::string& rel, unsigned long flags) {
    beneath(OpKind::propagate, "set mount propagation", "", rel);
    prog_.ops.back().flags = flags;
  }
  void write_file(const char* step, std::string target, std::string data) {
    simple(OpKind::write_file, step, "", std::move(target));
    prog_.ops.back().data = std::move(data);
  }

  MountOp& last() { return prog_.ops.back(); }
  RootProgram take() { return std::move(prog_); }

 private:
  RootProgram prog_;
};

// mount(8) option names and the flags they set (or clear); anything else is file system data.
struct OptionFlag {
  const char* name;
  unsigned long flag;
  bool clear;
};
constexpr OptionFlag kOptionFlags[] = {
    {"ro", MS_RDONLY, false},         {"rw", MS_RDONLY, true},
    {"nosuid", MS_NOSUID, false},     {"suid", MS_NOSUID, true},
    {"nodev", MS_NODEV, false},       {"dev", MS_NODEV, true},
    {"noexec", MS_NOEXEC, false},     {"exec", MS_NOEXEC, true},
    {"noatime", MS_NOATIME, false},   {"atime", MS_NOATIME, true},
    {"relatime", MS_RELATIME, false}, {"strictatime", MS_STRICTATIME, false},
    {"nodiratime", MS_NODIRATIME, false}, {"sync", MS_SYNCHRONOUS, false},
    {"async", MS_SYNCHRONOUS, true},  {"dirsync", MS_DIRSYNC, false},
    {"defaults", 0, false},
};

// mount(8)'s propagation names (applied by a second mount(2) call once the mount is made).
constexpr OptionFlag kPropagation[] = {
    {"private", MS_PRIVATE, false},     {"rprivate", MS_PRIVATE | MS_REC, false},
    {"slave", MS_SLAVE, false},         {"rslave", MS_SLAVE | MS_REC, false},
    {"shared", MS_SHARED, false},       {"rshared", MS_SHARED | MS_REC, false},
    {"unbindable", MS_UNBINDABLE, false}, {"runbindable", MS_UNBINDABLE | MS_REC, false},
};
unsigned long propagation_flags(const std::string& name) {
  for (const auto& p : kPropagation)
    if (name == p.name) return p.flag;
  return 0;
}

// A "cgroup" FsMount (AssembleOptions::cgroup_v1). On v1, as runc: a tmpfs, and in it each of the
// jail's own cgroups bound at its hierarchy's name, with the mount's flags (read-only for every
// engine's config); the tmpfs made read-only with them once they are in. Each mount point is
// resolved beneath the root without symlinks, as every other. A hierarchy the jail has no cgroup
// in is not shown (the jail's processes are in the spawner's cgroup there).
using CgroupDirs = std::vector<std::pair<std::string, std::string>>;  // AssembleOptions::cgroup_v1
void mount_cgroups(Builder& b, const std::string& root, const std::string& rel,
                   unsigned long flags, const CgroupDirs& v1) {
  if (v1.empty()) {
    b.mount_beneath("mount file system", "cgroup2", rel, "cgroup2", flags);
    return;
  }
  const unsigned long fs_flags = (flags & ~MS_RDONLY) | kNoSuidDevExec;
  b.mount_beneath("mount cgroup tmpfs", "cgroup", rel, "tmpfs", fs_flags, "mode=755");
  for (const auto& [name, dir] : v1) {
    const std::string at = rel + "/" + name;
    b.make_path(root, at, false);
    b.mount_beneath("bind cgroup", dir, at, "", MS_BIND);
    b.mount_beneath("remount cgroup", "", at, "", MS_BIND | MS_REMOUNT | fs_flags |
                                                    (flags & MS_RDONLY));
  }
  if (flags & MS_RDONLY)
    b.mount_beneath("remount cgroup tmpfs read-only", "", rel, "",
                    MS_BIND | MS_REMOUNT | MS_RDONLY | fs_flags);
}

// compile_root's blocks: the engine's own file systems, in their default order.
enum Block { kDev, kPts, kShm, kProc, kSys, kBlocks };

// The engine's own file system an FsMount places (MountPlan::mounts), as its Block, or -1 for a
// mount of the plan's own.
int engine_fs(const FsMount& m) {
  if (m.jail_path == "/dev" && m.fstype == "tmpfs") return kDev;
  if (m.jail_path == "/dev/pts" && m.fstype == "devpts") return kPts;
  if (m.jail_path == "/dev/shm" && m.fstype == "tmpfs") return kShm;
  if (m.jail_path == "/proc" && m.fstype == "proc") return kProc;
  if (m.jail_path == "/sys" && m.fstype == "sysfs") return kSys;
  return -1;
}

// A relative path of plain components, or empty when it climbs ("..") or is not absolute.
std::string beneath_path(const std::string& jail_path) {
  if (jail_path.empty() || jail_path[0] != '/') return {};
  std::string out;
  std::string_view rest(jail_path);
  while (!rest.empty()) {  // the components between slashes (std::filesystem's, ten times dearer)
    const auto slash = rest.find('/');
    const std::string_view part = rest.substr(0, slash);
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    if (part == "..") return {};
    if (part.empty() || part == ".") continue;
    if (!out.empty()) out += '/';
    out += part;
  }
  return out.empty() ? "." : out;
}

// Whether a mount of the plan's own (not one of the engine's file systems) or a volume lands on
// `rel` or one of its parents: it hides whatever the engine made there before it.
bool mounted_over(const MountPlan& plan, const std::string& rel) {
  auto covers = [&](const std::string& jail_path) {
    const std::string at = beneath_path(jail_path);
    return at == "." || at == rel || rel.starts_with(at + "/");
  };
  for (const auto& m : plan.mounts)
    if (engine_fs(m) < 0 && covers(m.jail_path)) return true;
  for (const auto& v : plan.volumes)
    if (covers(v.jail_path)) return true;
  return false;
}

bool bad_overlay_path(const std::string& p) {
  return p.find_first_of(",:\\") != std::string::npos;
}

// Flags of the host mount holding `path` that a user namespace locks (MNT_LOCK_*): a remount must
// repeat them or fail with EPERM (mount_namespaces(7), "Restrictions on mount namespaces").
unsigned long locked_flags(const std::filesystem::path& path) {
  struct statvfs sv {};
  if (::statvfs(path.c_str(), &sv) != 0) return 0;
  unsigned long f = 0;
  if (sv.f_flag & ST_NOSUID) f |= MS_NOSUID;
  if (sv.f_flag & ST_NODEV) f |= MS_NODEV;
  if (sv.f_flag & ST_NOEXEC) f |= MS_NOEXEC;
  if (sv.f_flag & ST_NOATIME) f |= MS_NOATIME;
  if (sv.f_flag & ST_NODIRATIME) f |= MS_NODIRATIME;
  if (sv.f_flag & ST_RELATIME) f |= MS_RELATIME;
  return f;
}

// The host mount's flags `locked` with a volume's options: noexec added, its access-time choice
// in place of the host's. In a user namespace a changed choice fails with EPERM (the kernel locks
// the atime flags together): the jail's error, not a silent keep.
unsigned long volume_flags(const VolumeOptions* o, unsigned long locked) {
  constexpr unsigned long kAtime = MS_NOATIME | MS_RELATIME | MS_STRICTATIME | MS_NODIRATIME;
  if (!o) return locked;
  if (o->no_exec) locked |= MS_NOEXEC;
  if (o->atime.empty()) return locked;
  locked &= ~kAtime;
  if (o->atime == "noatime") return locked | MS_NOATIME;
  if (o->atime == "relatime") return locked | MS_RELATIME;
  return locked | MS_STRICTATIME;
}

Status check_dir(const std::filesystem::path& p, std::string_view what) {
  if (!p.is_absolute())
    return fail(Errc::invalid_argument, kDomain,
                std::string(what) + " is not absolute: " + p.string());
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    return fail_errno(kDomain, std::string(what) + " " + p.string());
  if (!S_ISDIR(st.st_mode))
    return fail(Errc::invalid_argument, kDomain,
                std::string(what) + " is not a directory: " + p.string());
  return {};
}

}  // namespace

Result<RootProgram> compile_root(const MountPlan& plan, const AssembleOptions& opts) {
  LJ_TRY(check_plan(plan));
  for (const auto& l : plan.layers) LJ_TRY(check_dir(l, "layer"));
  LJ_TRY(check_dir(opts.scratch, "scratch directory"));
  using Kind = WritableLayer::Kind;
  const Kind writable = plan.writable.kind;

  const std::string scratch = opts.scratch.string();
  const std::string root = scratch + "/root";
  Builder b(root);
  // What the engine masked and made read-only itself (relative to the root): a plan's masked or
  // read-only path among them is left out unless a mount of its own hid the engine's (runc's
  // defaults, which every OCI config carries, are all of the engine's: made twice, they were 8
  // more mounts for every container to set up and to tear down).
  std::set<std::string> engine_masked, engine_readonly;

  // Mount events must not propagate back to the host (the host's / is usually shared). In the
  // spawner's own namespace the host's mounts are left as they are: only the scratch tmpfs is
  // made private, before anything is mounted under it (the tmpfs itself may reach the peers of
  // its parent mount; its detach at teardown reaches them the same way).
  if (!opts.in_spawners_namespace) b.mount("make / private", "", "/", "", MS_REC | MS_PRIVATE);
  std::string tmpfs_opts = "mode=0755";
  if (writable == Kind::tmpfs && plan.writable.tmpfs_bytes)
    tmpfs_opts += ",size=" + std::to_string(plan.writable.tmpfs_bytes);
  b.mount("mount scratch tmpfs", "ljd", scratch, "tmpfs", MS_NOSUID | MS_NODEV, tmpfs_opts);
  if (opts.in_spawners_namespace) b.mount("make scratch private", "", scratch, "", MS_PRIVATE);
  b.simple(OpKind::mkdir, "mkdir", "", root, 0755);

  const bool one = plan.layers.size() == 1;
  const unsigned long nodev = plan.nodev ? MS_NODEV : 0;
  if (writable == Kind::in_place) {
    b.bind("bind root", plan.layers[0].string(), root, false);
    if (plan.nodev)
      b.mount("remount root nodev", "", root, "", MS_BIND | MS_REMOUNT | MS_NODEV |
              (opts.in_userns ? locked_flags(plan.layers[0]) : 0));
  } else if (writable == Kind::none && one) {
    b.bind("bind root", plan.layers[0].string(), root, true,
           nodev | (opts.in_userns ? locked_flags(plan.layers[0]) : 0));
  } else {
    std::string lowers;
    for (auto it = plan.layers.rbegin(); it != plan.layers.rend(); ++it) {  // overlayfs: top first
      if (bad_overlay_path(it->string()))
        return fail(
            Errc::invalid_argument, kDomain,
            "layer path contains ',', ':' or '\\' (overlayfs cannot take it): " + it->string());
      if (!lowers.empty()) lowers += ':';
      lowers += it->string();
    }
    std::string data = "lowerdir=" + lowers;
    if (writable != Kind::none) {
      std::string upper = scratch + "/upper", work = scratch + "/work";
      if (writable == Kind::host_dir) {
        const std::filesystem::path& dir = plan.writable.dir;
        std::error_code ec;
        std::filesystem::create_directories(dir / "upper", ec);
        std::filesystem::create_directories(dir / "work", ec);
        if (ec) return fail_errno(kDomain, "mkdir " + dir.string() + "/{upper,work}", ec.value());
        upper = (dir / "upper").string();
        work = (dir / "work").string();
        if (bad_overlay_path(upper))
          return fail(Errc::invalid_argument, kDomain,
                      "writable_dir contains ',', ':' or '\\': " + upper);
      } else {
        b.simple(OpKind::mkdir, "mkdir", "", upper, 0755);
        b.simple(OpKind::mkdir, "mkdir", "", work, 0755);
      }
      data += ",upperdir=" + upper + ",workdir=" + work;
      if (opts.in_userns) data += ",userxattr";
    }
    // mount(2) takes at most one page of options.
    if (data.size() >= 4000)
      return fail(Errc::invalid_argument, kDomain, "too many or too long layer paths");
    b.mount("mount overlay", "overlay", root, "overlay", nodev, data);
  }

  // The engine's own file systems, each a block of steps: /dev (a small tmpfs with the harmless
  // devices and the standard links), its devpts instance and shm, /proc of the jail's pid
  // namespace (sysctls written, the sensitive entries read-only or masked) and a read-only /sys.
  // Mounted first, in this order, unless the plan places them among its own mounts (engine_fs):
  // the OCI runtime spec mounts in the listed order, and runtime-tools checks the order.
  const std::string dev = b.at("dev");
  const std::string proc = b.at("proc");
  auto dev_block = [&]() -> Status {
    b.simple(OpKind::mkdir, "mkdir", "", dev, 0755);
    // Left to the device rules, /dev alone opens its nodes (runc's /dev): the cgroup decides.
    b.mount("mount /dev", "tmpfs", dev, "tmpfs",
            MS_NOSUID | MS_NOEXEC | (plan.dev_guarded_by_rules ? 0 : nodev), "mode=0755,size=65536k");
    for (const auto& d : kDevices) {
      std::string target = dev + "/" + d.name;
      if (std::any_of(opts.nodes.begin(), opts.nodes.end(),
                      [&](const DeviceNode& n) { return n.path.substr(5) == d.name; }))
        continue;  // the caller's node of that path instead
      if (opts.in_userns || plan.nodev) {  // a bind keeps the host mount's flags: it opens
        b.simple(OpKind::mknod, "create device", "", target, S_IFREG | 0666);
        b.bind("bind device", std::string("/dev/") + d.name, target, false);
      } else {
        b.simple(OpKind::mknod, "create device", "", target, S_IFCHR | 0666,
                 makedev(d.major, d.minor));
      }
    }
    // Granted host devices (JailSpec::grants, the host policy's decision): the host's type,
    // number and mode, owned by root, at the same path; parents made as needed (/dev/net/tun).
    for (const auto& d : opts.devices) {
      struct stat st {};
      if (::stat(d.c_str(), &st) != 0) return fail_errno(kDomain, "granted device " + d);
      if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
        return fail(Errc::invalid_argument, kDomain,
                    "granted device " + d + " is not a device node");
      const std::string rel = d.substr(5);  // validate_spec: "/dev/" then a plain path
      for (auto slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
        b.simple(OpKind::mkdir, "mkdir", "", dev + "/" + rel.substr(0, slash), 0755);
      const std::string target = dev + "/" + rel;
      if (opts.in_userns || plan.nodev) {
        b.simple(OpKind::mknod, "create device", "", target, S_IFREG | 0600);
        b.bind("bind device", d, target, false);
      } else {
        b.simple(OpKind::mknod, "create device", "", target, st.st_mode & (S_IFMT | 07777),
                 st.st_rdev);
      }
    }
    // The caller's nodes (Grants::nodes): mknod, then the exact mode and owner. In a user
    // namespace the kernel refuses mknod of a device: the host's node of the same path is bound,
    // as runc does, and must be the one asked for.
    for (const auto& n : opts.nodes) {
      const std::string rel = n.path.substr(5);  // validate_spec: "/dev/" then a plain path
      for (auto slash = rel.find('/'); slash != std::string::npos; slash = rel.find('/', slash + 1))
        b.simple(OpKind::mkdir, "mkdir", "", dev + "/" + rel.substr(0, slash), 0755);
      const std::string target = dev + "/" + rel;
      const mode_t type = n.type == 'c' ? S_IFCHR : n.type == 'b' ? S_IFBLK : S_IFIFO;
      const dev_t number = n.type == 'p' ? 0 : makedev(n.major, n.minor);
      if (opts.in_userns && n.type != 'p') {
        struct stat st {};
        if (::stat(n.path.c_str(), &st) != 0 || (st.st_mode & S_IFMT) != type ||
            st.st_rdev != number)
          return fail(Errc::invalid_argument, kDomain,
                      "device node " + n.path + " " + n.type + " " + std::to_string(n.major) +
                          ":" + std::to_string(n.minor) +
                          ": in a user namespace the host's node of that path is bound, and the "
                          "host has no such node there");
        b.simple(OpKind::mknod, "create device", "", target, S_IFREG | 0600);
        b.bind("bind device", n.path, target, false);
        continue;
      }
      b.simple(OpKind::mknod, "create device node", "", target, type | (n.mode & 07777), number);
      b.simple(OpKind::own, "set the device node's mode and owner", "", target, n.mode & 07777);
      b.last().uid = n.uid;
      b.last().gid = n.gid;
    }
    b.simple(OpKind::symlink, "symlink", "pts/ptmx", dev + "/ptmx");
    b.simple(OpKind::symlink, "symlink", "/proc/self/fd", dev + "/fd");
    b.simple(OpKind::symlink, "symlink", "/proc/self/fd/0", dev + "/stdin");
    b.simple(OpKind::symlink, "symlink", "/proc/self/fd/1", dev + "/stdout");
    b.simple(OpKind::symlink, "symlink", "/proc/self/fd/2", dev + "/stderr");
    return {};
  };
  auto pts_block = [&]() -> Status {
    b.simple(OpKind::mkdir, "mkdir", "", dev + "/pts", 0755);
    b.mount("mount /dev/pts", "devpts", dev + "/pts", "devpts", MS_NOSUID | MS_NOEXEC,
            "newinstance,ptmxmode=0666,mode=0620");
    return {};
  };
  auto shm_block = [&]() -> Status {
    b.simple(OpKind::mkdir, "mkdir", "", dev + "/shm", 01777);
    b.mount("mount /dev/shm", "shm", dev + "/shm", "tmpfs", kNoSuidDevExec,
            "mode=1777,size=65536k");
    return {};
  };
  auto proc_block = [&]() -> Status {
    b.simple(OpKind::mkdir, "mkdir", "", proc, 0555);
    b.mount("mount /proc", "proc", proc, "proc", kNoSuidDevExec);
    for (const auto& [key, value] : opts.sysctl) {
      std::string file = key;
      for (char& c : file)
        if (c == '.') c = '/';
      if (key.empty() || key.find("..") != std::string::npos || key.find('/') != std::string::npos)
        return fail(Errc::invalid_argument, kDomain, "not a sysctl name: '" + key + "'");
      b.write_file("write sysctl", proc + "/sys/" + file, value);
    }
    if (plan.only_plan_masks) return {};
    for (const char* p : kProcReadOnly) {
      b.bind("bind /proc read-only", proc + "/" + p, proc + "/" + p, true, kNoSuidDevExec, true);
      engine_readonly.insert(std::string("proc/") + p);
    }
    return {};
  };
  // /proc's masked files are /dev/null bound over them: once both are there.
  auto proc_masks = [&]() -> Status {
    if (plan.only_plan_masks) return {};
    for (const char* p : kProcMaskFiles) {
      b.mount("mask /proc file", dev + "/null", proc + "/" + p, "", MS_BIND, {}, true);
      engine_masked.insert(std::string("proc/") + p);
    }
    for (const char* p : kProcMaskDirs) {
      b.mount("mask /proc directory", "tmpfs", proc + "/" + p, "tmpfs",
              MS_RDONLY | kNoSuidDevExec, {}, true);
      engine_masked.insert(std::string("proc/") + p);
    }
    return {};
  };
  // /sys read-only: programs look up interfaces and CPUs there; nothing in it is writable. With
  // only_plan_masks, as the plan's sysfs mount says (read-write without `ro`, as runc mounts it).
  auto sys_block = [&]() -> Status {
    if (!opts.mount_sysfs) return {};
    const std::string sys = b.at("sys");
    b.simple(OpKind::mkdir, "mkdir", "", sys, 0555);
    const bool shared = opts.sysfs_netns_fd >= 0 && opts.own_netns_fd >= 0;
    if (shared) b.setns("enter the sysfs network namespace", opts.sysfs_netns_fd);
    bool ro = true;
    if (plan.only_plan_masks)
      for (const auto& m : plan.mounts)
        if (engine_fs(m) == kSys)
          ro = std::find(m.options.begin(), m.options.end(), "ro") != m.options.end();
    b.mount("mount /sys", "sysfs", sys, "sysfs", (ro ? MS_RDONLY : 0) | kNoSuidDevExec);
    if (shared) b.setns("return to the jail's network namespace", opts.own_netns_fd);
    if (plan.only_plan_masks) return {};
    b.mount("mask /sys/firmware", "tmpfs", sys + "/firmware", "tmpfs", MS_RDONLY | kNoSuidDevExec,
            {}, true);
    engine_masked.insert("sys/firmware");
    return {};
  };
  const std::function<Status()> blocks[kBlocks] = {dev_block, pts_block, shm_block, proc_block,
                                                   sys_block};
  bool placed[kBlocks] = {}, done[kBlocks] = {}, masked = false;
  for (const auto& m : plan.mounts)
    if (int k = engine_fs(m); k >= 0) placed[k] = true;
  auto emit = [&](int k) -> Status {
    if (done[k]) return {};
    if ((k == kPts || k == kShm) && !done[kDev]) {  // they are mounted inside /dev
      LJ_TRY(blocks[kDev]());
      done[kDev] = true;
    }
    LJ_TRY(blocks[k]());
    done[k] = true;
    if (!masked && done[kDev] && done[kProc]) {
      LJ_TRY(proc_masks());
      masked = true;
    }
    return {};
  };
  for (int k = 0; k < kBlocks; ++k)
    if (!placed[k]) LJ_TRY(emit(k));

  for (const auto& m : plan.mounts) {
    if (int k = engine_fs(m); k >= 0) {
      LJ_TRY(emit(k));
      continue;
    }
    const std::string rel = beneath_path(m.jail_path);
    if (rel.empty() || rel == ".")
      return fail(Errc::invalid_argument, kDomain,
                  "mount destination must be absolute, below / and without '..': '" +
                      m.jail_path + "'");
    if (m.fstype.empty() || m.fstype == "bind" || m.fstype == "none")
      return fail(Errc::invalid_argument, kDomain,
                  "mount on " + m.jail_path + " needs a file system type (binds are volumes)");
    unsigned long flags = 0, propagation = 0;
    std::string data;
    for (const auto& o : m.options) {
      if (unsigned long pf = propagation_flags(o)) {
        propagation = pf;
        continue;
      }
      const OptionFlag* known = nullptr;
      for (const auto& f : kOptionFlags)
        if (o == f.name) known = &f;
      if (known) {
        flags = known->clear ? flags & ~known->flag : flags | known->flag;
      } else {
        if (!data.empty()) data += ',';
        data += o;
      }
    }
    b.make_path(root, rel, false);
    if (plan.nodev && m.fstype != "devpts") flags |= MS_NODEV;
    if (m.fstype == "cgroup") {
      mount_cgroups(b, root, rel, flags, opts.cgroup_v1);
    } else {
      if (m.copy_up && (m.fstype != "tmpfs" || (flags & MS_RDONLY)))
        return fail(Errc::invalid_argument, kDomain,
                    "copy-up (tmpcopyup) on " + m.jail_path + " is a writable tmpfs's only");
      b.mount_beneath("mount file system", m.source.empty() ? m.fstype : m.source, rel,
                      m.fstype, flags, data);
      b.last().copy_up = m.copy_up;
    }
    if (propagation) b.propagate(rel, propagation);
  }

  for (const auto& v : plan.volumes) {
    if (!v.host_path.is_absolute() || v.jail_path.empty() || v.jail_path[0] != '/')
      return fail(Errc::invalid_argument, kDomain,
                  "volume paths must be absolute: " + v.host_path.string() + ":" + v.jail_path);
    struct stat st {};
    if (::stat(v.host_path.c_str(), &st) != 0)
      return fail_errno(kDomain, "volume " + v.host_path.string());
    std::error_code ec;
    std::filesystem::path named = v.host_path.lexically_normal();
    if (!named.has_filename() && named.has_parent_path()) named = named.parent_path();
    if (std::filesystem::path real = std::filesystem::canonical(named, ec); !ec && real != named)
      return fail(Errc::invalid_argument, kDomain,
                  "volume " + v.host_path.string() + " passes through a symlink (to " +
                      real.string() + "): name the real path");
    for (const auto& part : std::filesystem::path(v.jail_path))
      if (part == "..")
        return fail(Errc::invalid_argument, kDomain, "volume jail path has '..': " + v.jail_path);
    b.make_path(root, v.jail_path, !S_ISDIR(st.st_mode));
    const std::string target =
        root + std::filesystem::path(v.jail_path).lexically_normal().string();
    b.bind("bind volume", v.host_path.string(), target, false, 0, false, true);
    // A volume is the host's: a set-id file or a device node in it (made by the jail's root, or
    // put there on the host) grants nothing in the jail (issue 17).
    b.mount("remount volume nosuid,nodev", "", target, "",
            MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (v.read_only ? MS_RDONLY : 0) |
                volume_flags(plan.options_of(v.jail_path), locked_flags(v.host_path)),
            {}, false);
  }

  for (const auto& p : plan.propagation) {
    const unsigned long pf = propagation_flags(p.kind);
    const std::string rel = beneath_path(p.jail_path);
    if (!pf || rel.empty() || rel == ".")
      return fail(Errc::invalid_argument, kDomain,
                  "propagation '" + p.kind + "' on '" + p.jail_path + "'");
    b.propagate(rel, pf);
  }
  for (const auto& p : plan.masked_paths) {
    const std::string rel = beneath_path(p);
    if (rel.empty() || rel == ".")
      return fail(Errc::invalid_argument, kDomain, "masked path is not below /: '" + p + "'");
    if (engine_masked.count(rel) && !mounted_over(plan, rel)) continue;
    b.beneath(OpKind::mask, "mask path", dev + "/null", rel);
  }
  for (const auto& p : plan.readonly_paths) {
    const std::string rel = beneath_path(p);
    if (rel.empty() || rel == ".")
      return fail(Errc::invalid_argument, kDomain, "read-only path is not below /: '" + p + "'");
    if ((engine_readonly.count(rel) || engine_masked.count(rel)) && !mounted_over(plan, rel))
      continue;
    b.beneath(OpKind::make_readonly, "make path read-only", "", rel);
  }

  // A root read-only after its mounts (WritableLayer::read_only_after_mounts): their mount points
  // are made by now. A bind remount sets the flags anew: nodev and the locked ones kept.
  if (writable == Kind::in_place && plan.writable.read_only_after_mounts)
    b.mount("remount root read-only", "", root, "", MS_BIND | MS_REMOUNT | MS_RDONLY | nodev |
            (opts.in_userns ? locked_flags(plan.layers[0]) : 0));
  if (opts.in_spawners_namespace)
    b.simple(OpKind::chroot, "chroot", "", root);
  else
    b.simple(OpKind::pivot, "pivot_root", "", root);
  if (!plan.root_propagation.empty()) {
    const unsigned long pf = propagation_flags(plan.root_propagation);
    if (!pf)
      return fail(Errc::invalid_argument, kDomain,
                  "unknown root propagation '" + plan.root_propagation + "'");
    b.mount("set root propagation", "", "/", "", pf);
  }
  return b.take();
}

// ---- child side: syscalls only ----

namespace {

bool failed(MountFailure* f, const MountOp& op, const char* detail) {
  f->step = op.step;
  f->err = errno;
  f->detail = detail;
  return false;
}

// mount(2) of "/proc/self/fd/N" binds exactly the object N refers to (the kernel follows the magic
// link to the open file, not a path): the technique runc adopted for CVE-2021-30465. The host's
// /proc is still mounted here, before pivot_root, and shows this process.
int bind_nofollow(const MountOp& op) {
  struct open_how how {};
  how.flags = O_PATH | O_CLOEXEC;
  how.resolve = RESOLVE_NO_SYMLINKS;
  const long fd = ::syscall(SYS_openat2, AT_FDCWD, op.source.c_str(), &how, sizeof how);
  if (fd < 0) return -1;
  char path[32] = "/proc/self/fd/";
  char digits[12];
  int n = 0;
  for (long v = fd; n == 0 || v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char* p = path + 14;
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
  const int rc = ::mount(path, op.target.c_str(), nullptr, op.flags, nullptr);
  const int saved = errno;
  ::close(static_cast<int>(fd));
  errno = saved;
  return rc;
}

// The mount point of an op with `rel`: opened beneath its root with no symlink, as
// "/proc/self/fd/N" in `path` (at least 32 bytes). Returns the descriptor, or -1 with errno.
int open_beneath(const MountOp& op, char* path, int extra_flags = 0) {
  int root = ::open(op.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return -1;
  struct open_how how {};
  how.flags = static_cast<std::uint64_t>(O_PATH | O_CLOEXEC | extra_flags);
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const long fd = ::syscall(SYS_openat2, root, op.rel.c_str(), &how, sizeof how);
  const int saved = errno;
  ::close(root);
  errno = saved;
  if (fd < 0) return -1;
  char digits[12];
  int n = 0;
  for (long v = fd; n == 0 || v > 0; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  std::memcpy(path, "/proc/self/fd/", 14);
  char* p = path + 14;
  while (n > 0) *p++ = digits[--n];
  *p = '\0';
  return static_cast<int>(fd);
}

int close_keep_errno(int fd, int rc) {
  const int saved = errno;
  ::close(fd);
  errno = saved;
  return rc;
}

// FsMount::copy_up: what the directory `from` holds, copied into `to`, the entries with their
// type, mode, owner and times (not their extended attributes), depth-first to kCopyUpDepth levels.
// No symlink is followed (each entry is opened O_NOFOLLOW, and a link is copied as a link). On a
// stack of the child's own: a frame is ~2.5 KB.
constexpr int kCopyUpDepth = 24;

int copy_times_and_owner(int to, const char* name, const struct stat& st) {
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::fchownat(to, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0) return -1;
  if (!S_ISLNK(st.st_mode) && ::fchmodat(to, name, st.st_mode & 07777, 0) != 0) return -1;
  return ::utimensat(to, name, times, AT_SYMLINK_NOFOLLOW);
}

int copy_file(int from, int to, const char* name, const struct stat& st) {
  const int in = ::openat(from, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (in < 0) return -1;
  const int out = ::openat(to, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (out < 0) return close_keep_errno(in, -1);
  int rc = 0;
  for (off_t left = st.st_size; left > 0 && rc == 0;) {
    const ssize_t n = ::sendfile(out, in, nullptr, static_cast<std::size_t>(left));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) rc = n == 0 ? 0 : -1;  // 0: the file shrank meanwhile
    left = n > 0 ? left - n : 0;
  }
  close_keep_errno(in, rc);
  return close_keep_errno(out, rc);
}

// Out of copy_tree's frame: its PATH_MAX buffer is needed at the leaves only.
[[gnu::noinline]] int copy_symlink(int from, int to, const char* name) {
  char target[4096];
  const ssize_t len = ::readlinkat(from, name, target, sizeof target - 1);
  if (len < 0) return -1;
  target[len] = '\0';
  return ::symlinkat(target, to, name);
}

int copy_tree(int from, int to, int depth) {
  if (depth > kCopyUpDepth) {
    errno = ELOOP;
    return -1;
  }
  alignas(8) char buf[2048];
  for (;;) {
    const long n = ::syscall(SYS_getdents64, from, buf, sizeof buf);
    if (n < 0) return -1;
    if (n == 0) return 0;
    for (long at = 0; at < n;) {
      const auto* d = reinterpret_cast<const struct dirent64*>(buf + at);
      at += d->d_reclen;
      const char* name = d->d_name;
      if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'))) continue;
      struct stat st {};
      if (::fstatat(from, name, &st, AT_SYMLINK_NOFOLLOW) != 0) return -1;
      int rc = 0;
      if (S_ISDIR(st.st_mode)) {
        if (::mkdirat(to, name, 0700) != 0) return -1;
        const int sub_from = ::openat(from, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub_from < 0) return -1;
        const int sub_to = ::openat(to, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub_to < 0) return close_keep_errno(sub_from, -1);
        rc = copy_tree(sub_from, sub_to, depth + 1);
        close_keep_errno(sub_to, rc);
        close_keep_errno(sub_from, rc);
      } else if (S_ISREG(st.st_mode)) {
        rc = copy_file(from, to, name, st);
      } else if (S_ISLNK(st.st_mode)) {
        rc = copy_symlink(from, to, name);
      } else {
        rc = ::mknodat(to, name, st.st_mode, st.st_rdev);
      }
      if (rc != 0 || copy_times_and_owner(to, name, st) != 0) return -1;
    }
  }
}

// An OpKind::mount's file system, on `path` (its mount point's /proc/self/fd/N).
int mount_file_system(const MountOp& op, const char* path) {
  return ::mount(op.source.empty() ? nullptr : op.source.c_str(), path,
                 op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                 op.data.empty() ? nullptr : op.data.c_str());
}

// A copy-up mount: the directory under it opened first (what the copy reads), the tmpfs mounted,
// then the top of the mount point opened (the tmpfs), filled, and given the directory's mode,
// owner and times.
int mount_with_copy_up(const MountOp& op, const char* path) {
  int root = ::open(op.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) return -1;
  struct open_how how {};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  const int under = static_cast<int>(::syscall(SYS_openat2, root, op.rel.c_str(), &how, sizeof how));
  if (under < 0) return close_keep_errno(root, -1);
  int rc = mount_file_system(op, path);
  if (rc == 0) {
    const int top = static_cast<int>(::syscall(SYS_openat2, root, op.rel.c_str(), &how, sizeof how));
    rc = top < 0 ? -1 : copy_tree(under, top, 0);
    struct stat st {};
    if (rc == 0 && ::fstat(under, &st) == 0) {
      const struct timespec times[2] = {st.st_atim, st.st_mtim};
      if (::fchown(top, st.st_uid, st.st_gid) != 0 || ::fchmod(top, st.st_mode & 07777) != 0 ||
          ::futimens(top, times) != 0)
        rc = -1;
    }
    if (top >= 0) close_keep_errno(top, rc);
  }
  close_keep_errno(under, rc);
  return close_keep_errno(root, rc);
}

// The ops with `rel`: a mount on it, a mask over it, or a read-only bind of it.
int run_beneath(const MountOp& op) {
  char path[32];
  const int fd = open_beneath(op, path);
  if (fd < 0) return (op.kind != OpKind::mount && errno == ENOENT) ? 0 : -1;
  int rc = 0;
  if (op.kind == OpKind::mount) {
    rc = op.copy_up ? mount_with_copy_up(op, path) : mount_file_system(op, path);
  } else if (op.kind == OpKind::propagate) {
    rc = ::mount(nullptr, path, nullptr, op.flags, nullptr);
  } else if (op.kind == OpKind::mask) {
    struct stat st {};
    rc = ::fstat(fd, &st);
    if (rc == 0 && S_ISDIR(st.st_mode))
      rc = ::mount("tmpfs", path, "tmpfs", MS_RDONLY | kNoSuidDevExec, nullptr);
    else if (rc == 0)
      rc = ::mount(op.source.c_str(), path, nullptr, MS_BIND, nullptr);
  } else {
    rc = ::mount(path, path, nullptr, MS_BIND | MS_REC, nullptr);
    if (rc == 0) {
      // The bind is a new mount on the same descriptor's path: reopen to remount it.
      char again[32];
      const int top = open_beneath(op, again);
      if (top < 0) return close_keep_errno(fd, -1);
      struct statvfs sv {};
      unsigned long keep = 0;
      if (::fstatvfs(top, &sv) == 0) {
        if (sv.f_flag & ST_NOSUID) keep |= MS_NOSUID;
        if (sv.f_flag & ST_NODEV) keep |= MS_NODEV;
        if (sv.f_flag & ST_NOEXEC) keep |= MS_NOEXEC;
      }
      rc = ::mount(nullptr, again, nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY | keep, nullptr);
      close_keep_errno(top, rc);
    }
  }
  return close_keep_errno(fd, rc);
}

bool make_path(const MountOp& op, MountFailure* f) {
  int dfd = ::open(op.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return failed(f, op, op.target.c_str());
  for (std::size_t i = 0; i < op.parts.size(); ++i) {
    const char* part = op.parts[i].c_str();
    const bool last = i + 1 == op.parts.size();
    if (last && (op.mode & S_IFMT) == S_IFREG) {
      // Read-only: opening a file of a lower layer for writing copies it up (overlayfs), and a
      // bind target needs no more than to exist.
      int fd = ::openat(dfd, part, O_CREAT | O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
      if (fd < 0) {
        ::close(dfd);
        return failed(f, op, part);
      }
      ::close(fd);
      break;
    }
    if (::mkdirat(dfd, part, 0755) != 0 && errno != EEXIST) {
      ::close(dfd);
      return failed(f, op, part);
    }
    // A symlink planted by a layer must not send us (or a later mkdir) outside the root.
    struct open_how how {};
    how.flags = O_PATH | O_DIRECTORY | O_CLOEXEC;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
    int next = static_cast<int>(::syscall(SYS_openat2, dfd, part, &how, sizeof how));
    ::close(dfd);
    if (next < 0) return failed(f, op, part);
    dfd = next;
  }
  ::close(dfd);
  return true;
}

}  // namespace

bool run_root(const RootProgram& program, MountFailure* f, BeforePivot before_pivot,
              const void* arg) noexcept {
  for (const MountOp& op : program.ops) {
    int rc = 0;
    switch (op.kind) {
      case OpKind::mask:
      case OpKind::make_readonly:
      case OpKind::propagate:
        if (run_beneath(op) != 0) return failed(f, op, op.rel.c_str());
        break;
      case OpKind::write_file: {
        int fd = ::open(op.target.c_str(), O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) return failed(f, op, op.target.c_str());
        const auto n = ::write(fd, op.data.data(), op.data.size());
        rc = close_keep_errno(fd, n == static_cast<ssize_t>(op.data.size()) ? 0 : -1);
        break;
      }
      case OpKind::mount:
        if (!op.rel.empty()) {
          if (run_beneath(op) != 0) return failed(f, op, op.rel.c_str());
          break;
        }
        if (op.source_nofollow) {
          rc = bind_nofollow(op);
          break;
        }
        rc = ::mount(op.source.empty() ? nullptr : op.source.c_str(), op.target.c_str(),
                     op.fstype.empty() ? nullptr : op.fstype.c_str(), op.flags,
                     op.data.empty() ? nullptr : op.data.c_str());
        if (rc != 0 && op.optional && errno == ENOENT) rc = 0;
        break;
      case OpKind::mkdir:
        rc = ::mkdir(op.target.c_str(), op.mode);
        // EROFS: a read-only root that already has the directory (the mount says if not).
        if (rc != 0 && (errno == EEXIST || errno == EROFS)) rc = 0;
        break;
      case OpKind::mknod:
        rc = ::mknod(op.target.c_str(), op.mode, op.dev);
        break;
      case OpKind::symlink:
        rc = ::symlink(op.source.c_str(), op.target.c_str());
        break;
      case OpKind::own:
        rc = ::chmod(op.target.c_str(), op.mode);
        if (rc == 0) rc = ::lchown(op.target.c_str(), op.uid, op.gid);
        break;
      case OpKind::make_path:
        if (!make_path(op, f)) return false;
        break;
      case OpKind::pivot:
        // pivot_root(".", ".") stacks the old root on the new one, and the detach removes it
        // without needing a put_old directory (pivot_root(2), NOTES; works on a read-only root).
        if (::chdir(op.target.c_str()) != 0) return failed(f, op, op.target.c_str());
        if (before_pivot && !before_pivot(arg, f)) return false;
        if (::syscall(SYS_pivot_root, ".", ".") != 0) return failed(f, op, op.target.c_str());
        if (::umount2(".", MNT_DETACH) != 0) {
          f->step = "detach old root";
          f->err = errno;
          f->detail = "/";
          return false;
        }
        rc = ::chdir("/");
        break;
      case OpKind::chroot:
        if (::chdir(op.target.c_str()) != 0) return failed(f, op, op.target.c_str());
        if (before_pivot && !before_pivot(arg, f)) return false;
        if (::chroot(".") != 0) return failed(f, op, op.target.c_str());
        rc = ::chdir("/");
        break;
      case OpKind::setns:
        rc = ::setns(op.fd, CLONE_NEWNET);
        break;
    }
    if (rc != 0) return failed(f, op, (op.source_nofollow ? op.source : op.target).c_str());
  }
  return true;
}

}  // namespace lj::jail
