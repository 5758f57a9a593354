// The jail's own init, and the command it starts. The parent prepares everything in a ChildPlan
// before clone3 (strings, argv/envp arrays, mount steps, descriptors); the child, a copy of one
// thread of a possibly multi-threaded process, then only makes syscalls: no allocation, no locks,
// no logging (signal-safety(7)). A failure is reported to the parent as one ChildError record on
// a close-on-exec pipe; the pipe reaching EOF without a record means the command was exec'd.
#pragma once

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "jail/hook_run.hpp"
#include "jail/linux/init_abi.h"
#include "jail/linux/root_program.hpp"
#include "jail/user_lookup.hpp"

namespace lj::jail {

// Descriptor slots in the child, after it has closed everything else. The error pipe is 3 and
// the script is 4 so that the command keeps exactly 0-2 (+4 for a script) across execve.
enum Slot : int {
  kSlotError = 3,
  kSlotScript = 4,
  kSlotStatus = 5,
  kSlotStatusFile = 6,
  kSlotSync = 7,
  kSlotIn = 8,
  kSlotOut = 9,
  kSlotErr = 10,
  kSlotCgroup0 = 11,  // the first three cgroup slots (kCgroupSlots)
  kSlotReaper = 14,   // the lj-init executable (a sealed memfd) init execs once the command runs
  // Until the root is assembled: a network namespace made ahead, which init enters first (or,
  // with netns_from_helper, the socket it arrives on), and the one whose sysfs the jail's /sys
  // shows (AssembleOptions::sysfs_netns_fd).
  kSlotNetns = 15,
  kSlotSysfsNetns = 16,
  // Kept by init and lj-init for the jail's life (init_abi.h).
  kSlotOutRead = LJ_INIT_SLOT_OUT_READ,
  kSlotErrRead = LJ_INIT_SLOT_ERR_READ,
  // With a terminal: the socket its master is sent on (Terminal::socket), until init sent it.
  // The master itself then takes kSlotOutRead (a jail with a terminal has no output pipes).
  kSlotConsole = 19,
  // ProcessOptions::hold_fd: the command reads its start byte here (closed in init and lj-init).
  kSlotHold = 20,
  // JoinedNamespaces: entered by init first (setns), closed at once.
  kSlotJoinIpc = 21,
  kSlotJoinUts = 22,
  kSlotJoinCgroup = 23,
  // Four more v1 cgroups (devices, cpuset, cpuacct, blkio) past the first three, joined and
  // closed as those.
  kSlotCgroup3 = 24,
  kSlotCgroup4 = 25,
  kSlotJoinMnt = 26,  // a mount namespace to assemble the root in (JoinedNamespaces::mnt)
  // Network::attach_links: one byte here once the caller's links are made (EOF: they failed),
  // read by init before it starts the command.
  kSlotLinksReady = 27,
  kSlotCgroup5 = 28,
  kSlotCgroup6 = 29,
  kSlotEnd = 30,
  // Made by init itself once the two above are closed: the command waits for EOF on the read
  // end, which comes once init has become the reaper (its exec done, non-dumpable again), so it
  // never sees ljd as /proc/1/exe.
  kSlotGoRead = 15,
  kSlotGoWrite = LJ_INIT_SLOT_GO,
};
// An exec (exec.cpp): the pidfd of the jail's init whose namespaces it joins, at the slot a jail's
// sync socket has (an exec has none); its v2 cgroup directory, or v1 `tasks` files, at
// kCgroupSlots.
constexpr int kSlotJail = kSlotSync;
// An exec into a jail whose root is a chroot in the spawner's own mount namespace (host_root.hpp):
// that root, a directory the monitor chroots into in place of joining the mount namespace; at the
// slot of a mount namespace a jail is assembled in (an exec joins none).
constexpr int kSlotJailRoot = kSlotJoinMnt;
// ProcessOptions::preserve_fds at most (runc has none; podman passes a handful).
constexpr int kMaxPreservedFds = 64;
static_assert(kSlotStatus == LJ_INIT_SLOT_STATUS && kSlotStatusFile == LJ_INIT_SLOT_STATUS_FILE);
static_assert(kSlotGoWrite > kSlotGoRead && kSlotGoRead > kSlotReaper);
static_assert(kSlotOutRead > kSlotSysfsNetns && kSlotErrRead + 1 == kSlotConsole);
static_assert(kSlotConsole + 1 == kSlotHold && kSlotHold + 1 == kSlotJoinIpc);
static_assert(kSlotJoinCgroup + 1 == kSlotCgroup3 && kSlotCgroup6 + 1 == kSlotEnd);
// The slots of a jail's v1 cgroups' `tasks` files (or, first, its v2 directory), in order.
constexpr int kCgroupSlots[] = {kSlotCgroup0, kSlotCgroup0 + 1, kSlotCgroup0 + 2, kSlotCgroup3,
                                kSlotCgroup4, kSlotCgroup5, kSlotCgroup6};
static_assert(kSlotCgroup0 + 3 == kSlotReaper);
constexpr int kMaxCgroupFds = sizeof kCgroupSlots / sizeof kCgroupSlots[0];

// Whether init passes `sig` on to the command (and to everyone, see below). Others are dropped
// by a namespace init without a handler, so they must be sent to their target directly.
bool init_forwards(int sig);

// A queued signal carrying this value asks init to signal every process of the jail.
constexpr int kBroadcastSignal = LJ_INIT_BROADCAST;

// The step of a failure record when Network::attach_links failed (init found no byte).
inline constexpr const char* kStepLinks = "wait for the network's links";

struct ChildError {
  char step[64];
  int err;
  char detail[256];
};

struct ChildPlan {
  RootProgram root;

  // Descriptors in the parent's numbering, -1 when unused; moved to their slots in the child.
  int fds[kSlotEnd] = {-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                       -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1};

  bool join_then_unshare_cgroupns = false;  // join (kSlotCgroup*), then a cgroup namespace
  // ProcessOptions::preserve_fds: the parent's 3.. carried at kSlotEnd.. (close-on-exec, so
  // lj-init drops them), moved to 3.. by the held command just before its exec.
  int preserve_fds = 0;
  bool subreaper = false;  // in a joined pid namespace: the jail's orphans still come to init
  bool wait_sync = false;                   // wait for the parent (uid_map, network) first
  bool loopback_up = false;                 // a private network namespace
  bool netns_from_helper = false;  // kSlotNetns is NetnsAhead's socket: receive it, or make one
  bool command_is_init = false;             // ProcessOptions::command_is_init: no lj-init
  bool die_with_parent = false;             // PR_SET_PDEATHSIG(SIGKILL) on init
  int parent_pidfd =
      -1;  // with die_with_parent: a pidfd of the spawning process, in ljd's numbering
  bool become_ns_root = false;  // in a new user namespace: setresuid(0) once mapped
  // Init runs in the daemon's own address space (CLONE_VM|CLONE_VFORK, see the backend): it must
  // change nothing that belongs to the address space (PR_SET_DUMPABLE is a property of the mm).
  bool shares_daemon_memory = false;
  // Top of the stack the command starts on (spawn_command), provided and reused by the backend:
  // with a shared address space a stack mapped by init would be mapped in the daemon for good.
  char* command_stack_top = nullptr;
  // > 0: init starts in the daemon's descriptor table (CLONE_FILES) and makes a private copy of
  // only the numbers below this first (close_range CLOSE_RANGE_UNSHARE); every descriptor of
  // the plan (fds, netns_fd) is below it (the backend's FdBlocks).
  unsigned private_fds_below = 0;
  std::string hostname;

  std::vector<std::string> argv_storage, env_storage, path_dirs;
  std::vector<char*> argv, envp;  // null-terminated, pointing into the storage above
  std::string workdir;
  bool make_workdir = false;  // JailSpec::make_workdir
  uid_t uid = 0;
  gid_t gid = 0;
  std::string user;  // JailSpec::user, resolved by the command (user_lookup.hpp); empty: uid, gid
  // A terminal (JailSpec::tty): init opens it in the jail's devpts, sends the master on
  // kSlotConsole and keeps it at kSlotOutRead; the command takes the peer as its stdio.
  bool tty = false;
  unsigned short tty_rows = 0, tty_cols = 0;
  rlim_t nofile = 0;       // 0: inherit
  std::uint64_t caps = 0;  // capabilities kept by a root command (bit per CAP_*)
  // ProcessOptions, resolved: explicit capability sets replace `caps` (every uid keeps them),
  // supplementary groups, no_new_privs, rlimits by number, oom_score_adj (init writes it, the
  // command inherits it), and a filter the command loads itself (instead of init's `seccomp`).
  bool explicit_caps = false;
  std::uint64_t cap_bounding = 0, cap_effective = 0, cap_permitted = 0, cap_inheritable = 0,
                cap_ambient = 0;
  std::vector<gid_t> groups;
  bool no_new_privs = true;
  mode_t umask = 022;
  struct Rlimit {
    int resource;
    rlim_t soft, hard;
  };
  std::vector<Rlimit> rlimits;
  bool set_oom_score_adj = false;
  char oom_score_adj[16] = {};
  const sock_fprog* command_seccomp = nullptr;
  int cap_last = 40;       // /proc/sys/kernel/cap_last_cap
  // The signals the command sets back to SIG_DFL before its execve (bit s-1: signal s): an
  // ignored one stays ignored across execve, a caught one does not. The spawner's SigIgn when
  // the plan was made (plan_command), with what the child ignores on its own; all when unknown.
  std::uint64_t ignored_signals = ~std::uint64_t{0};
  // The seccomp filter (jail/linux/seccomp.hpp) init loads once its own work is done, just before
  // it starts the command, which inherits it; nullptr: none. Owned by the backend.
  const sock_fprog* seccomp = nullptr;
  // An exec into a running jail (exec_monitor_main): the namespaces to join through kSlotJail
  // (CLONE_NEW* flags; the cgroup namespace is joined by the process itself, once it is in the
  // jail's cgroup; without CLONE_NEWNS the root at kSlotJailRoot instead), and whether
  // kSlotCgroup0 is a v2 cgroup directory to clone the process into.
  int join_namespaces = 0;
  bool cgroup_v2_dir = false;
  // ProcessOptions::create_hooks (init, before pivot_root) and start_hooks (the command, before
  // its exec), their argv and envp ready: nothing is allocated after the clone.
  PreparedHooks create_hooks, start_hooks;
};

// The capabilities a root command keeps by default: Docker's default set less MKNOD and NET_RAW
// (no device nodes, no raw sockets). Documented in docs/jail-linux.md.
std::uint64_t default_capabilities();

// Sets the loopback interface of the caller's network namespace up; the failed step and errno
// otherwise ("socket", "ioctl SIOCGIFFLAGS", "bring up"). Async-signal-safe, and errno is left
// alone (raw system calls): NetnsAhead's helper runs it on the spawning thread's block.
const char* loopback_up(int* err) noexcept;

// Runs in the cloned child: becomes the jail's init, starts the command, then execs lj-init (the
// reaper at kSlotReaper, init_abi.h) or, if that fails, reaps in place; or, with
// ProcessOptions::command_is_init, becomes the command itself. Never returns.
[[noreturn]] void child_main(const ChildPlan& plan) noexcept;

// Runs in the child an exec clones (exec.cpp): the exec's monitor. Joins the jail's namespaces
// (but the cgroup one; a chroot root at kSlotJailRoot is chrooted into instead of the mount
// namespace), opens the terminal in the jail's devpts, clones the process into the
// jail's cgroup (which joins the cgroup namespace and becomes the command as exec_command does
// for a jail), then execs lj-init as "lj-exec", which waits for it and reports its status on
// kSlotStatus and kSlotStatusFile. Failures go to kSlotError as for child_main. Never returns.
[[noreturn]] void exec_monitor_main(const ChildPlan& plan) noexcept;

}  // namespace lj::jail
