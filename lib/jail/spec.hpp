// JailSpec: everything needed to start one jail, as plain data. Validated by the backend before it
// touches the kernel (validate_spec); produced by ljspawn's command line, by lib/build for a build
// step, and by the daemon from a POST /v1/jails body.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "jail/root.hpp"

namespace lj::jail {

enum class NetworkMode {
  none,     // a private network stack with only loopback (the default)
  inherit,  // the host's network stack
  ip,       // a private stack with `addresses` on a link derived from the host's `interface`
  netns,    // Linux: the prepared network namespace `netns_fd`, joined as it is (lib/net made
            // the jail's links in it before the spawn); not on FreeBSD yet
};

struct Network {
  NetworkMode mode = NetworkMode::none;
  std::string interface;               // host interface (mode ip): the seeds' `-f IFACE`
  std::vector<std::string> addresses;  // "192.0.2.10/24", "2001:db8::10/64" (mode ip): `-i IP`
  int netns_fd = -1;  // mode netns: owned by the caller, which may close it once spawn returns
  // FreeBSD, mode netns (there is no namespace to prepare before a jail exists): the jail is a
  // VNET jail of its own (vnet=new, lo0 up), and this is called with its jid once it exists and
  // before its command starts, on the spawning thread; the caller moves the jail's links in
  // (lib/net's Host::attach with JailTarget::jail: SIOCSIFVNET) and configures them. A failure
  // fails the spawn (the jail goes with it). Unset, mode netns is refused on FreeBSD; Linux
  // ignores it.
  std::function<Status(int jid)> on_vnet;
  // Linux, mode netns: the caller's links made in `netns_fd` while the jail's init assembles its
  // root, on a thread of the backend's (the spawning thread sleeps meanwhile: init runs on its
  // memory); init starts the command only once this returned, and a failure fails the spawn with
  // its error (the jail goes with it). FreeBSD's on_vnet done beside the spawn instead of in it.
  // It must not spawn. Unset: the namespace is joined as it is; FreeBSD refuses it.
  std::function<Status()> attach_links;
};

// A device cgroup rule (an OCI config's linux.resources.devices[]): allow or deny the access
// `access` ("r" read, "w" write, "m" mknod, in any combination) to devices of `type` ('a' every
// device, 'c' character, 'b' block) and numbers (-1: any).
struct DeviceRule {
  bool allow = false;
  char type = 'a';
  std::int64_t major = -1, minor = -1;
  std::string access = "rwm";
};

// Block I/O of one device (major:minor): a rate in bytes or operations per second.
struct DeviceRate {
  std::int64_t major = 0, minor = 0;
  std::uint64_t rate = 0;
};

// Zero means "no limit" everywhere.
struct Limits {
  std::uint64_t memory_bytes = 0;  // memory (and swap) of the whole jail; exceeding it OOM-kills
  // Memory and swap together (an OCI config's memory.swap: docker's and podman's --memory-swap,
  // twice --memory when only that is given), at least memory_bytes; 0: memory_bytes alone, no
  // swap; kUnlimitedSwap: swap without a limit. Linux: cgroup v1 memory.memsw.limit_in_bytes
  // (a host without swap accounting refuses a limited one), v2 memory.swap.max (the swap part
  // alone). FreeBSD refuses it.
  std::uint64_t memory_swap_bytes = 0;
  static constexpr std::uint64_t kUnlimitedSwap = ~std::uint64_t{0};
  std::uint64_t pids = 0;          // processes+threads in the jail at once
  std::uint32_t cpu_percent = 0;   // CPU share cap: 100 = one full core, 250 = two and a half
  // CPU weight against the sibling cgroups, on cgroup v1's cpu.shares scale (2..262144; the
  // kernel's default 1024); 0: the default. What an OCI config's cpu.shares asks (containerd's
  // CRI gives every pod sandbox 2). Linux only: FreeBSD's rctl has no weight, its backend refuses it.
  std::uint64_t cpu_shares = 0;
  // The exact CFS quota and period in microseconds (an OCI config's cpu.quota/period), written
  // in place of cpu_percent's quota over a period of 100000 when the quota is set (0: none);
  // period 0: 100000. Linux only; the caller sets cpu_percent to the same share for FreeBSD's
  // rctl pcpu, which has no period.
  std::uint64_t cpu_quota_us = 0, cpu_period_us = 0;
  // CPUs and memory nodes the jail may use, in the kernel's list form ("0-2,7"); empty: the
  // parent's. Linux: the jail's cpuset cgroup (v1: cpuset.cpus/cpuset.mems, every cgroup made on
  // the way given its parent's values, as v1 needs them before a task can join; v2: the same
  // files with +cpuset enabled on the way down). FreeBSD refuses them (cpuset(1), not done).
  std::string cpuset_cpus, cpuset_mems;
  // Realtime bandwidth of the jail's cpu cgroup (cgroup v1 cpu.rt_period_us, cpu.rt_runtime_us;
  // CONFIG_RT_GROUP_SCHED), written period first; 0: unset. The parent must leave room for the
  // runtime (the kernel's EINVAL otherwise, naming the file). cgroup v2 and FreeBSD refuse them.
  std::uint64_t cpu_rt_period_us = 0;
  std::int64_t cpu_rt_runtime_us = 0;
  // Make the cpu and cpuset cgroups (v1) even when no value above asks them, so that a later
  // update can set one (an OCI config with a linux.resources.cpu section: runc places the
  // container in every hierarchy), and a cpuacct one where cpuacct is mounted apart from cpu, so
  // that its CPU time is counted apart. Never pooled then. v2's one cgroup has them anyway.
  bool cpu_cgroups = false;
  // Block I/O (an OCI config's linux.resources.blockIO: podman's --device-read-bps and the like,
  // --blkio-weight): bytes or operations per second read or written per device, and the
  // proportional weight (10..1000; 0: the parent's). Linux cgroup v1: a blkio cgroup of the jail's
  // own, blkio.throttle.{read,write}_{bps,iops}_device and blkio.bfq.weight or blkio.weight (a
  // host whose I/O schedulers have no weight has neither: refused there). cgroup v2 (io.max,
  // io.weight) and FreeBSD refuse them.
  struct BlockIo {
    std::uint16_t weight = 0;
    std::vector<DeviceRate> read_bps, write_bps, read_iops, write_iops;
    bool empty() const {
      return !weight && read_bps.empty() && write_bps.empty() && read_iops.empty() &&
             write_iops.empty();
    }
  } block_io;
  // Device access rules, in order; empty: none (the engine's nodev root, MountPlan::nodev, is
  // then what keeps devices shut). Linux, cgroup v1: a devices cgroup of the jail's own, every
  // device denied first, then the rules in order, then the engine's own /dev nodes allowed (null,
  // zero, full, random, urandom, tty, ptmx and the jail's ptys) and mknod of any node (init
  // makes the jail's /dev inside the cgroup), as runc appends its defaults. cgroup v2: the same
  // list as a device program attached to the jail's cgroup (linux/device_filter.hpp, runc's
  // devicefilter). FreeBSD refuses it (its devfs ruleset is the rule).
  std::vector<DeviceRule> device_rules;
  // The memory controller's other knobs (an OCI config's linux.resources.memory), Linux only:
  // cgroup v1 memory.soft_limit_in_bytes, memory.swappiness (0..100; unset: the parent's),
  // memory.oom_control (1: a jail at its limit waits instead of being OOM-killed),
  // memory.kmem.limit_in_bytes (Linux 6.x takes the write and ignores it) and
  // memory.kmem.tcp.limit_in_bytes. A jail setting any has a memory cgroup never pooled. cgroup
  // v2: the reservation is memory.low; the others have no v2 file and are refused by name.
  std::uint64_t memory_reservation = 0;
  std::optional<std::uint32_t> memory_swappiness;
  bool memory_no_oom_killer = false;
  std::uint64_t memory_kernel_bytes = 0, memory_kernel_tcp_bytes = 0;
  std::uint64_t nofile = 0;        // RLIMIT_NOFILE of the jailed processes
  std::chrono::milliseconds timeout{0};  // wall clock from start; then the whole jail is killed
};

// A running jail's limits to change (Backend::update, an OCI runtime's update): each one set is
// written, the others stay. 0 (an empty list) means "no limit" ("the parent's" for the cpuset),
// as in Limits.
struct LimitsUpdate {
  std::optional<std::uint64_t> memory_bytes, pids;
  // Limits::memory_swap_bytes (0: as much as the memory limit, no swap). Without it a new memory
  // limit moves the swap limit along only where the jail had no swap.
  std::optional<std::uint64_t> memory_swap_bytes;
  std::optional<std::uint32_t> cpu_percent;
  // With cpu_percent: the exact quota and period (Limits::cpu_quota_us/cpu_period_us).
  std::optional<std::uint64_t> cpu_quota_us, cpu_period_us;
  std::optional<std::string> cpuset_cpus, cpuset_mems;
  std::optional<std::uint64_t> cpu_rt_period_us;
  std::optional<std::int64_t> cpu_rt_runtime_us;
  // The CPU weight on v1's scale (Limits::cpu_shares; 0 leaves it as it is, as runc does).
  std::optional<std::uint64_t> cpu_shares;
};

// Where the jail's stdin/stdout/stderr go. -1 means /dev/null. The fds stay owned by the caller;
// the backend dup2()s them into the jail and closes nothing of the caller's.
struct Stdio {
  int in = -1;
  int out = -1;
  int err = -1;
  // Optional: the read ends of pipes behind out and err. The jail's init holds them for the
  // jail's life (Linux), so the jail never writes into a pipe without a reader (EPIPE, SIGPIPE)
  // when its daemon dies, and a restarted daemon takes them back (Jail::take_output).
  int out_read = -1;
  int err_read = -1;
};

// A terminal for the command in place of Stdio: a pty of the jail's own devpts instance (Linux;
// on FreeBSD one of the jail's devfs), opened inside the jail. Its master is sent over `socket`
// (one byte, SCM_RIGHTS) before the command starts, as runc's --console-socket does; the command
// runs as a session leader with the pty as its controlling terminal and as its 0, 1 and 2, so job
// control works in a shell. On Linux the jail's init also holds the master for the jail's life,
// like the output pipes (Jail::take_output hands it to a restarted daemon as the first descriptor).
struct Terminal {
  int socket = -1;  // a connected AF_UNIX socket; owned by the caller, which reads the master off it
  unsigned short rows = 0, cols = 0;  // the window size the command starts with; 0: 0x0
};

// An optional user namespace: uid/gid 0..count-1 in the jail map to host_uid/host_gid onwards.
struct UserNamespace {
  uid_t host_uid = 0;
  gid_t host_gid = 0;
  std::uint32_t count = 65536;
  std::uint32_t gid_count = 0;  // gids mapped, when not `count` (an OCI config's gidMappings)
};

// The process's privileges as an OCI runtime sets them (runtime-spec config.md "process"), for a
// caller that names them instead of taking the engine's defaults. Capability sets are bit masks
// (bit n = capability n). Linux only: the FreeBSD backend refuses a spec that sets them.
struct CapabilitySets {
  std::uint64_t bounding = 0, effective = 0, permitted = 0, inheritable = 0, ambient = 0;
};

// One resource limit, named as in setrlimit(2) ("RLIMIT_NOFILE"), so that the spec holds no
// platform constant; the backend refuses a name its platform does not have.
struct ResourceLimit {
  std::string name;
  std::uint64_t soft = 0, hard = 0;
};

// A program the jail runs at a point of its start (ProcessOptions::create_hooks, start_hooks):
// the OCI runtime spec's hooks in the container's namespaces. path is absolute; args as execve's
// argv (empty: just path); env exactly as given; timeout_s 0: none (then SIGKILL and a failure).
struct Hook {
  std::string path;
  std::vector<std::string> args, env;
  int timeout_s = 0;
};

// Hooks run at one point, and their stdin: state_head, the pid of the process running the hook
// as it sees itself (init's or the command's, in the jail's pid namespace: runc's getpid()),
// state_tail (the OCI state JSON split at its pid).
struct HookPoint {
  std::vector<Hook> hooks;
  std::string state_head, state_tail;
  bool empty() const { return hooks.empty(); }
};

// What an OCI runtime asks of a process beyond the engine's defaults. Every field's default is
// the engine's own behaviour, so a spec that leaves them alone starts as before.
struct ProcessOptions {
  std::optional<CapabilitySets> capabilities;  // default: the engine's set in every set but ambient
  std::vector<gid_t> groups;                   // supplementary groups; default none
  bool no_new_privs = true;                    // PR_SET_NO_NEW_PRIVS before the exec
  std::vector<ResourceLimit> rlimits;          // applied after Limits::nofile
  std::optional<int> oom_score_adj;            // written for init, inherited by the command
  unsigned umask = 022;                        // the command's umask (0..0777)
  // Kernel parameters ("net.ipv4.ip_forward" -> "1"), written in the jail's /proc/sys before it
  // is made read-only. Only namespaced ones make sense; the kernel refuses the others.
  std::vector<std::pair<std::string, std::string>> sysctl;
  // A classic BPF seccomp program (struct sock_filter[] as bytes) loaded instead of the engine's
  // default filter; empty: the default. Linux only.
  std::vector<unsigned char> seccomp_bpf;
  // No filter at all, neither the engine's default nor seccomp_bpf (which stays empty): an OCI
  // config without linux.seccomp, which runc and crun run unfiltered (podman --privileged and
  // --security-opt seccomp=unconfined, a Kubernetes pod's Unconfined). Linux.
  bool no_seccomp = false;
  // "Create, then start" (runc's exec.fifo): the command, once everything but its execve is done
  // (ids, capabilities, working directory, the executable found), closes the spawn's error pipe,
  // so that spawn() returns with the jail created, then blocks reading one byte from this
  // descriptor (a FIFO the caller opened O_RDWR) and only then execs. Whoever writes that byte
  // later starts the container. -1: exec at once. An exec failing after the hold is reported on
  // the command's stderr and exits 127. Owned by the caller.
  int hold_fd = -1;
  // runc's --preserve-fds: the spawner's descriptors 3 .. 3+preserve_fds-1 become the command's
  // 3 .. 3+preserve_fds-1 (not close-on-exec), placed just before its exec (after the hold, if
  // any); init, lj-init and an exec's monitor keep none. 0..64. Linux, for a jail's command and
  // an exec's process (ExecSpec::process); not with a script (its memfd is 4). FreeBSD refuses it.
  int preserve_fds = 0;
  // Run one after the other, each waited for (with its timeout), its point's state on its stdin:
  // create_hooks by init in the jail's mount namespace once every mount is made, just before
  // pivot_root (cwd: the new root as seen from there; paths resolve in the host's tree);
  // start_hooks by the command inside the jail, with its ids, just before its exec (after the
  // hold, if any). A hook that fails or times out fails the spawn with its path and status (a
  // start hook after the hold: a line on the command's stderr and 127, as an exec failure).
  // Linux only (the OCI createContainer and startContainer hooks).
  HookPoint create_hooks, start_hooks;
  // runc's process model: the command is the jail's init itself (pid 1 of its pid namespace) and
  // not a child of lj-init. Nothing then reaps the jail's orphans or forwards signals (a pid 1
  // without a handler ignores TERM from inside, as under runc), and nothing writes a status
  // file (JailSpec::status_file is refused with it): the command's end goes to whoever reaps
  // init, the spawner (Jail::wait) or an OCI runtime's caller (conmon, the shim). Saves a process,
  // a clone and an exec per jail (ljoci). Linux; a FreeBSD jail's command is its first process
  // either way.
  bool command_is_init = false;
};

// A device node of the caller's type, numbers, mode and owner in the jail's /dev (an OCI
// config's linux.devices), whether or not the host has one. Linux only (the FreeBSD backend
// refuses it: a jail's devfs shows the host's devices, it cannot make others).
struct DeviceNode {
  std::string path;  // a plain path under /dev ("/dev/fuse"); parents are made as needed
  char type = 'c';   // 'c' character, 'b' block, 'p' FIFO (major and minor unused)
  std::uint32_t major = 0, minor = 0;
  unsigned mode = 0666;  // permission bits (0..07777), exactly: no umask applies
  uid_t uid = 0;         // owner, as the jail sees ids (inside its user namespace, if any)
  gid_t gid = 0;
};

// Privileges beyond the engine's defaults, which the caller (ljd's host policy) has decided to
// grant. Each backend maps them to its own means; an empty Grants starts a jail as before.
struct Grants {
  // Host device nodes ("/dev/fuse"), each made at the same path in the jail's /dev. Linux: a
  // node of the host's type and number (a bind of the host's in a user namespace). FreeBSD: the
  // jail's devfs, filtered by a ruleset of its own that unhides them (BackendOptions).
  std::vector<std::string> devices;
  bool raw_sockets = false;  // Linux: CAP_NET_RAW; FreeBSD: allow.raw_sockets
  bool mlock = false;        // Linux: CAP_IPC_LOCK; FreeBSD: allow.mlock
  // System V IPC. Linux: nothing to add (the jail's IPC namespace is its own already);
  // FreeBSD: sysvmsg, sysvsem and sysvshm = new (the jail's own, as Linux's namespace).
  bool sysvipc = false;
  // Device nodes made in the jail's /dev, in place of the engine's node of the same path if any.
  // Linux: mknod, then the mode and owner set. In a user namespace (no mknod of a device there)
  // the host's node at the same path is bound instead, as runc does: it must exist with the same
  // type and numbers and keeps the host's mode and owner. A node on a nodev root
  // (MountPlan::nodev) exists but does not open, unless /dev is left to the jail's device rules
  // (MountPlan::dev_guarded_by_rules, Limits::device_rules).
  std::vector<DeviceNode> nodes;
  bool any() const {
    return !devices.empty() || raw_sockets || mlock || sysvipc || !nodes.empty();
  }
};

// Namespaces of another process to join instead of making new ones (the OCI config's
// linux.namespaces[].path: a podman pod's or a Kubernetes sandbox's ipc, uts, pid and cgroup
// namespaces; the network one is Network::netns_fd). Descriptors of /proc/PID/ns/* files, owned by
// the caller, which may close them once spawn returns. Linux only; not with a user namespace of
// the jail's own (the joined ones belong to the host's). With a joined pid namespace the jail's
// init is not its pid 1: orphans go to that namespace's init, the jail's cgroup still holds (and
// kills) every process of the jail.
struct JoinedNamespaces {
  int ipc = -1, uts = -1, pid = -1, cgroup = -1;
  // A mount namespace (Linux): init enters it first and assembles the jail's root there
  // (making its mounts private, then pivot_root: the root of every process of that namespace
  // becomes the jail's, as with runc). The spawner's own (an OCI config without a mount
  // namespace, runc's chroot mode): the root is assembled there under a scratch tmpfs of the
  // jail's own (linux/host_root.hpp), made private at once, with no other propagation changed,
  // and init chroots into it; those mounts are the host's until the jail's teardown (or
  // Backend::release) detaches them. A chroot is no boundary against CAP_SYS_CHROOT. An exec
  // into such a jail joins its other namespaces and chroots into its init's root (exec.hpp).
  int mnt = -1;
  bool any() const { return ipc >= 0 || uts >= 0 || pid >= 0 || cgroup >= 0 || mnt >= 0; }
};

// How a FreeBSD jail shares one of its parent's (the host's, or JailParameters::parent's)
// resources: jail(8)'s "disable", "new" and "inherit" (the kernel's JAIL_SYS_*). unset: the
// engine's choice.
enum class Sharing { unset, disable, new_, inherit };

// jail(8) parameters beyond the engine's defaults, as an OCI config's freebsd section asks for
// them (runtime-spec config-freebsd.md; lib/oci maps it). Every default leaves the engine's jail
// as it was. FreeBSD only: the Linux backend refuses a spec that sets any (first_set names it).
// The network fields of that section map to JailSpec::network; what is here completes it.
struct JailParameters {
  // Create the jail inside this running jail (its full name, "a" or "a.b"): the kernel's name of
  // the new jail is "<parent>.<name>" (JailHandle::name carries it), the parent's children.max is
  // raised when it has no room left (and stays raised, as ocijail does).
  std::string parent;
  // host.*: inherit shares the parent's hostname, domainname, hostuuid and hostid (then
  // JailSpec::hostname must be empty); new or unset: the jail's own, hostname set.
  Sharing host = Sharing::unset;
  // With network mode none only: inherit keeps the parent's network stack, with no address
  // (ip4 and ip6 disabled), instead of a VNET of the jail's own with lo0.
  Sharing vnet = Sharing::unset;
  // With network mode none (a VNET of its own): host interfaces moved into the jail's VNET once
  // it exists, before its command runs (SIOCSIFVNET, as `ifconfig IF vnet JID`); the kernel gives
  // them back to the host when the VNET goes.
  std::vector<std::string> vnet_interfaces;
  // System V IPC; unset: the engine's (Grants::sysvipc: new, else the kernel's disable).
  Sharing sysvmsg = Sharing::unset, sysvsem = Sharing::unset, sysvshm = Sharing::unset;
  std::optional<int> enforce_statfs;  // 0..2; unset: 2
  // jail(8) boolean allow.* parameters to set, as the kernel names them ("allow.raw_sockets",
  // or negated: "allow.nosuser"). Only names from freebsd::kAllowParameters (plan.hpp).
  std::vector<std::string> allow;
  // File system types the jail may mount (allow.mount and allow.mount.<type>); needs
  // enforce_statfs below 2 (jail(8)). Empty: allow.nomount, the engine's default.
  std::vector<std::string> mount_types;
  // The ruleset the jail's devfs starts from instead of the backend's (BackendOptions
  // ::devfs_ruleset); 0 is refused (no rule: every host device).
  std::optional<int> devfs_ruleset;
  // Devices unhidden in the jail's devfs ("/dev/pf"), each optionally with a mode (devfs rule
  // "mode"): added to Grants::devices' rules.
  struct Device {
    std::string path;
    std::optional<unsigned> mode;  // 0..07777
  };
  std::vector<Device> devices;

  // The first field set, by name ("parent"); nullptr when none is.
  const char* first_set() const;
};

struct JailSpec {
  // Unique among live jails; names the jail's cgroup, and on FreeBSD the jail itself (jids are
  // reused, names are not). [A-Za-z0-9_.-], at most 64 characters.
  std::string name;

  // The root: read-only layer directories, a writable layer and volumes (jail/root.hpp), resolved
  // by the caller. A plain directory is a plan with one layer and the writable kind wanted.
  MountPlan root;

  // What to run: argv (argv[0] resolved through PATH inside the jail), or a script whose first
  // line may be "#!interpreter [arg]" (without one, /bin/sh runs it). Exactly one is set.
  std::vector<std::string> argv;
  std::string script;

  std::vector<std::string> env;  // "KEY=value"; PATH gets a default when absent
  std::string workdir = "/";
  // Create workdir (and its parents, 0755, owned by root) when the root lacks it, as docker and
  // runc do for an image's WorkingDir; made by the command inside the jail before it drops root.
  bool make_workdir = false;
  std::string hostname;  // default: the jail's name
  uid_t uid = 0;
  gid_t gid = 0;
  // Who runs the command, docker run --user's forms: "name" or "uid", optionally ":group" or
  // ":gid". Resolved in the jail's own /etc/passwd and /etc/group once its root is assembled
  // (never the host's); supplementary groups are the groups /etc/group lists the user in. An
  // unknown name fails the start with Errc::invalid_argument; a uid without an entry runs with
  // gid 0, as Docker's does. Empty: uid and gid above, without supplementary groups.
  std::string user;

  Network network;
  JoinedNamespaces join;
  Limits limits;
  // Linux: where the jail's cgroup goes, from each hierarchy's root ("/default/web"), or below the
  // spawner's own cgroup when relative (the OCI config's cgroupsPath), instead of the backend's
  // <scope>/<name>. Missing directories on the way are made; the leaf may exist but must hold no
  // process. Removed (emptied first) at teardown; its parents stay. Empty: the backend's place.
  std::string cgroup_path;
  Stdio stdio;
  std::optional<Terminal> tty;  // set: the command's stdio is a terminal; `stdio` stays unset
  std::optional<UserNamespace> userns;
  ProcessOptions process;
  Grants grants;
  JailParameters freebsd;  // FreeBSD only

  // Optional host path where the jail's init writes how the main command ended ("exited N\n" or
  // "killed N\n"), opened (created, truncated) by the parent before the jail starts. A restarted
  // daemon learns a re-adopted jail's exit from it: a non-child cannot be waitid()ed for its
  // status.
  std::string status_file;

  // Kill the jail when the thread that spawned it dies (PR_SET_PDEATHSIG on its init). For
  // single-threaded tools like ljspawn; a daemon, which re-adopts jails, leaves it off.
  bool die_with_parent = false;
};

Status validate_spec(const JailSpec& spec);

// JailSpec::user's (and ExecSpec::user's) form: empty, or name|uid[:group|gid], at most 255 bytes.
bool valid_user_form(const std::string& user);

}  // namespace lj::jail
