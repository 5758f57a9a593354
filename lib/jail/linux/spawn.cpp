#include "jail/linux/spawn.hpp"

#include <fcntl.h>
#include <linux/capability.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "jail/linux/cgroup.hpp"
#include "jail/linux/child.hpp"
#include "jail/linux/clone_run.hpp"
#include "jail/linux/host_root.hpp"
#include "jail/linux/linux_jail.hpp"
#include "jail/linux/net.hpp"
#include "jail/linux/raw_syscall.h"
#include "jail/linux/root_program.hpp"
#include "jail/linux/status_file_open.hpp"
#include "jail/linux/undumpable.hpp"

namespace lj::jail {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// The jails' scratch mount point: each child mounts its private tmpfs here, in its own mount
// namespace, so the host only ever sees an empty directory.
constexpr const char* kScratch = "/run/lj-scratch";

// This process's ignored signals (the SigIgn mask of /proc/self/status: dispositions are the
// process's, not a thread's); every signal when it cannot be read.
std::uint64_t read_ignored_signals() {
  UniqueFd fd(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
  char buf[4096];
  const ssize_t n = fd ? ::read(fd.get(), buf, sizeof buf - 1) : -1;
  if (n <= 0) return ~std::uint64_t{0};
  buf[n] = '\0';
  const char* line = std::strstr(buf, "\nSigIgn:\t");
  if (!line) return ~std::uint64_t{0};
  char* end = nullptr;
  const std::uint64_t mask = std::strtoull(line + 9, &end, 16);
  return end == line + 9 ? ~std::uint64_t{0} : mask;
}

int read_cap_last() {
  std::ifstream in("/proc/sys/kernel/cap_last_cap");
  int v = 40;
  in >> v;
  return v;
}

Status ensure_dir(const std::string& path) {
  std::string cur;
  std::istringstream ss(path);
  for (std::string part; std::getline(ss, part, '/');) {
    if (part.empty()) continue;
    cur += "/" + part;
    if (::mkdir(cur.c_str(), 0700) != 0 && errno != EEXIST)
      return fail_errno("jail", "mkdir " + cur);
  }
  return {};
}

// Script: "#!interp [arg]" on the first line picks the interpreter, else /bin/sh.
std::vector<std::string> script_argv(const std::string& script) {
  std::vector<std::string> argv;
  if (script.rfind("#!", 0) == 0) {
    std::string line = script.substr(2, script.find('\n') - 2);
    auto b = line.find_first_not_of(" \t");
    if (b != std::string::npos) {
      line = line.substr(b);
      auto sp = line.find_first_of(" \t");
      argv.push_back(line.substr(0, sp));
      if (sp != std::string::npos) {
        std::string arg = line.substr(line.find_first_not_of(" \t", sp));
        while (!arg.empty() && (arg.back() == ' ' || arg.back() == '\t' || arg.back() == '\r'))
          arg.pop_back();
        if (!arg.empty()) argv.push_back(arg);
      }
    }
  }
  if (argv.empty()) argv.push_back("/bin/sh");
  argv.push_back("/proc/self/fd/" + std::to_string(kSlotScript));
  return argv;
}

int child_entry(void* plan) {
  child_main(*static_cast<const ChildPlan*>(plan));
}

// The cloned init until the spawn is over: any failure kills it (and so the whole jail: it is
// the pid namespace's init) and reaps it.
struct ChildOwner {
  UniqueFd pidfd;
  long pid = -1;
  bool owned = true;  // false once the Jail holds it

  ChildOwner() = default;
  ChildOwner(const ChildOwner&) = delete;
  ChildOwner& operator=(const ChildOwner&) = delete;
  ~ChildOwner() {
    if (!pidfd || !owned) return;
    pidfd_send(pidfd.get(), SIGKILL);
    siginfo_t si;
    ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(pidfd.get()), &si, WEXITED);
  }
};

// What one spawn makes, in the order the steps make it. Members go in reverse when the spawn
// fails (or ends): the child killed and reaped first, then the stacks handed back (both of their
// users are gone by then), the descriptor block, the cgroups removed, the descriptors closed.
struct Launch {
  ChildPlan plan;  // plain data for the child; every step fills its part

  // prepare_netns: the network namespace of network mode none, the pool's (made ahead), or the
  // socket it arrives on when being made beside the spawn (clone_init), and the one /sys shows;
  // prepare_root: the caller's (mode netns).
  UniqueFd netns;
  int sysfs_netns = -1;  // the pool's, not ours to close
  NetnsAhead netns_ahead;
  NetnsAhead* ahead = nullptr;  // the one being made for us: netns_ahead or the prepared one
  // start_links: the caller's links being made (waited for when the spawn ends, after init is
  // gone on a failure) and init's end of their ready socket.
  LinkAttacher::Pending links;
  UniqueFd links_ready;
  // The root in the spawner's own mount namespace (host_root.hpp): its mounts, detached on failure.
  HostRootLease host_root;
  // prepare_command
  UniqueFd script;
  sock_fprog command_seccomp{};  // ProcessOptions::seccomp_bpf, pointing into the spec
  // prepare_descriptors
  UniqueFd err_rd, err_wr, status_rd, status_wr, sync_rd, sync_wr, status_file, devnull;
  // prepare_cgroups
  Cgroups cgroups;
  // clone_init
  bool share = false;
  UndumpableLease undumpable;
  FdBlockLease block;
  StackLease stacks;
  ChildOwner child;
  std::optional<ExecRecord> record;  // read by clone_sharing_memory when init shared our memory
  // parent_side: a failed sync byte, reported only when init left no record of its own.
  Status handshake;
  // note_start
  std::uint64_t start_time = 0;
};

// The calling thread's children made in another pid namespace while it is held (clone_init):
// entered with setns(2), left for the thread's own pid namespace by leave() or the destructor.
class PidNamespaceFor {
 public:
  PidNamespaceFor() = default;
  PidNamespaceFor(const PidNamespaceFor&) = delete;
  PidNamespaceFor& operator=(const PidNamespaceFor&) = delete;
  ~PidNamespaceFor() { (void)leave(); }
  Status enter(int target) {
    own_.reset(LJ_SYS("open", ::open("/proc/thread-self/ns/pid", O_RDONLY | O_CLOEXEC)));
    if (!own_) return fail_errno("jail", "open /proc/thread-self/ns/pid");
    if (LJ_SYS("setns", ::setns(target, CLONE_NEWPID)) != 0) {
      own_.reset();
      return fail_errno("jail", "setns the pid namespace to join");
    }
    return {};
  }
  Status leave() {
    if (!own_) return {};
    const int rc = ::setns(own_.get(), CLONE_NEWPID);
    own_.reset();
    if (rc != 0) return fail_errno("jail", "setns back to the spawner's pid namespace");
    return {};
  }

 private:
  UniqueFd own_;
};

// 1. Cgroups with the limits, made or taken from the idle pool (cgroup.hpp). Init is cloned into
// a v2 cgroup (clone_init) or joins the v1 ones through their tasks files at its slots. First:
// the root shows the jail's own v1 cgroups where a config mounts cgroup (prepare_root).
Status prepare_cgroups(const JailSpec& spec, const SpawnContext& ctx, Launch& l) {
  l.cgroups = LJ_TRY(Cgroups::create(spec.name, spec.limits,
                                     ctx.cgroups ? *ctx.cgroups : CgroupScope{},
                                     spec.cgroup_path));
  auto cg_fds = l.cgroups.join_fds();
  if (cg_fds.size() > static_cast<std::size_t>(kMaxCgroupFds))
    return fail(Errc::internal, "jail", "too many cgroup controllers");
  if (!l.cgroups.v2())
    for (std::size_t i = 0; i < cg_fds.size(); ++i) l.plan.fds[kCgroupSlots[i]] = cg_fds[i];
  return {};
}

// 0. A jail's own network namespace (wants_own_netns): one the pool made ahead; else the one the
// caller's Backend::prepare() started; else one made now on another CPU while the steps below
// prepare the rest (netns_ahead.hpp).
void prepare_netns(const JailSpec& spec, const SpawnContext& ctx, Launch& l) {
  if (!wants_own_netns(spec)) return;
  l.netns = ctx.netns->take(&l.sysfs_netns);
  if (l.netns) return;
  if (ctx.prepared_netns && ctx.prepared_netns->started())
    l.ahead = ctx.prepared_netns;
  else if (l.netns_ahead.start())
    l.ahead = &l.netns_ahead;
}

// 2. The root, compiled into the mount steps the child runs before pivot_root
// (root_program.hpp), and the network namespace the child is made in.
Status prepare_root(const JailSpec& spec, Launch& l) {
  const bool private_net = spec.network.mode != NetworkMode::inherit;
  static const Status scratch_ok = ensure_dir(kScratch);
  if (!scratch_ok) return fail(scratch_ok.error());

  AssembleOptions ao;
  ao.scratch = kScratch;
  ao.in_userns = spec.userns.has_value();
  ao.mount_sysfs = private_net || !spec.userns;
  ao.sysctl = spec.process.sysctl;
  ao.devices = spec.grants.devices;
  ao.nodes = spec.grants.nodes;
  if (spec.network.mode == NetworkMode::netns) {
    // The caller's namespace, with its links: joined like a pooled one; /sys is the jail's own
    // (it shows the jail's interfaces).
    l.netns.reset(LJ_SYS("fcntl", ::fcntl(spec.network.netns_fd, F_DUPFD_CLOEXEC, 0)));
    if (!l.netns) return fail_errno("jail", "dup the jail's network namespace descriptor");
  }
  if (l.sysfs_netns >= 0) {
    ao.sysfs_netns_fd = kSlotSysfsNetns;
    ao.own_netns_fd = kSlotNetns;
  }
  ao.cgroup_v1 = l.cgroups.v1_hierarchies();  // prepare_cgroups came first
  if (spec.join.mnt >= 0 && LJ_TRY(is_own_mount_namespace(spec.join.mnt))) {
    ao.scratch = LJ_TRY(make_host_root_scratch(spec.name));
    ao.in_spawners_namespace = true;
    l.host_root = HostRootLease(spec.name);
  }
  l.plan.root = LJ_TRY(compile_root(spec.root, ao));

  l.plan.loopback_up = private_net;
  l.plan.fds[kSlotSysfsNetns] = l.sysfs_netns;
  if (l.netns) {
    l.plan.fds[kSlotNetns] = l.netns.get();
    l.plan.loopback_up = false;
  }
  return {};
}

// 2b. The caller's links (Network::attach_links), started now on the backend's thread: they are
// made while the rest is prepared and init assembles the root, and init starts the command once
// they are (kSlotLinksReady). Their own error is the spawn's (wait_for_exec).
Status start_links(const JailSpec& spec, const SpawnContext& ctx, Launch& l) {
  if (!spec.network.attach_links) return {};
  if (!ctx.links) return spec.network.attach_links();
  int sp[2];
  if (LJ_SYS("socketpair", ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) != 0)
    return fail_errno("jail", "socketpair");
  l.links_ready.reset(sp[0]);
  l.plan.fds[kSlotLinksReady] = sp[0];
  l.links = ctx.links->start(spec.network.attach_links, UniqueFd(sp[1]));
  return {};
}

}  // namespace

Status plan_process_options(const ProcessOptions& o, ChildPlan& plan,
                            sock_fprog& command_seccomp) {
  if (o.capabilities) {
    plan.explicit_caps = true;
    plan.cap_bounding = o.capabilities->bounding;
    plan.cap_effective = o.capabilities->effective;
    plan.cap_permitted = o.capabilities->permitted;
    plan.cap_inheritable = o.capabilities->inheritable;
    plan.cap_ambient = o.capabilities->ambient;
  }
  plan.groups = o.groups;
  plan.no_new_privs = o.no_new_privs;
  if (o.umask > 0777) return fail(Errc::invalid_argument, "jail", "umask outside 0..0777");
  plan.umask = static_cast<mode_t>(o.umask);
  static constexpr std::pair<const char*, int> kRlimits[] = {
      {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
      {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
      {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
      {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
      {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
  };
  for (const auto& r : o.rlimits) {
    int resource = -1;
    for (const auto& [name, value] : kRlimits)
      if (r.name == name) resource = value;
    if (resource < 0) return fail(Errc::invalid_argument, "jail", "unknown rlimit " + r.name);
    plan.rlimits.push_back({resource, static_cast<rlim_t>(r.soft), static_cast<rlim_t>(r.hard)});
  }
  if (o.oom_score_adj) {
    if (*o.oom_score_adj < -1000 || *o.oom_score_adj > 1000)
      return fail(Errc::invalid_argument, "jail", "oom_score_adj outside -1000..1000");
    plan.set_oom_score_adj = true;
    std::snprintf(plan.oom_score_adj, sizeof plan.oom_score_adj, "%d", *o.oom_score_adj);
  }
  if (o.no_seccomp) {
    if (!o.seccomp_bpf.empty())
      return fail(Errc::invalid_argument, "jail", "no_seccomp goes without a seccomp program");
    plan.seccomp = nullptr;
    plan.command_seccomp = nullptr;
  }
  if (!o.seccomp_bpf.empty()) {
    if (o.seccomp_bpf.size() % sizeof(sock_filter) != 0 ||
        o.seccomp_bpf.size() / sizeof(sock_filter) > BPF_MAXINSNS)
      return fail(Errc::invalid_argument, "jail", "seccomp program is not whole BPF instructions");
    command_seccomp.len = static_cast<unsigned short>(o.seccomp_bpf.size() / sizeof(sock_filter));
    command_seccomp.filter =
        reinterpret_cast<sock_filter*>(const_cast<unsigned char*>(o.seccomp_bpf.data()));
    // The caller's filter binds the command alone (loaded by it, before its exec), not init.
    plan.seccomp = nullptr;
    plan.command_seccomp = &command_seccomp;
  }
  plan.fds[kSlotHold] = o.hold_fd;
  // Placed at 3.. by the command just before its exec (child.cpp place_preserved_fds).
  if (o.preserve_fds < 0 || o.preserve_fds > kMaxPreservedFds)
    return fail(Errc::invalid_argument, "jail",
                "preserve_fds " + std::to_string(o.preserve_fds) + ": outside 0.." +
                    std::to_string(kMaxPreservedFds));
  for (int i = 0; i < o.preserve_fds; ++i)
    if (::fcntl(3 + i, F_GETFD) < 0)
      return fail_errno("jail", "preserve_fds: descriptor " + std::to_string(3 + i));
  plan.preserve_fds = o.preserve_fds;
  return {};
}

Status put_on_block(FdBlocks& blocks, FdBlockLease& lease, ChildPlan& plan) {
  lease.take(blocks);
  FdBlocks::Block* block = lease.get();
  if (!block) return {};
  auto onto = [&](int& fd, int slot) -> Status {
    if (fd < 0) return {};
    if (::dup3(fd, block->fd[slot], O_CLOEXEC) < 0)
      return fail_errno("jail", "dup3 onto a reserved descriptor");
    fd = block->fd[slot];
    return {};
  };
  for (int s = 0; s < kSlotEnd; ++s) LJ_TRY(onto(plan.fds[s], s));
  LJ_TRY(onto(plan.parent_pidfd, kSlotEnd));
  plan.private_fds_below = blocks.bound();
  return {};
}

ExecRecord read_exec_record(int err_rd) noexcept {
  ExecRecord r;
  for (;;) {
    char* at = r.got < sizeof r.error ? reinterpret_cast<char*>(&r.error) + r.got : nullptr;
    char rest[sizeof r.error];
    const long n = lj_syscall(SYS_read, err_rd, reinterpret_cast<long>(at ? at : rest),
                              static_cast<long>(at ? sizeof r.error - r.got : sizeof rest), 0, 0);
    if (n == -EINTR) continue;
    if (n <= 0) break;  // EOF (or our own pipe broken: nothing more will come)
    if (at) r.got += static_cast<std::size_t>(n);
  }
  return r;
}

long clone_sharing_memory(clone_args& args, FdBlockLease& block, const StackLease& stacks,
                          int (*fn)(void*), ChildPlan& plan, UniqueFd& err_wr, int err_rd,
                          ExecRecord* record) {
  // Every signal blocked across the clone: a handler of ours must not run in the child, on our
  // memory; the child sets its own mask. And until the command's execve: see below.
  sigset_t all, old;
  sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &old);
  args.flags |= CLONE_VM | CLONE_VFORK | (block.get() ? CLONE_FILES : 0);
  args.stack = reinterpret_cast<std::uintptr_t>(StackPool::init_bottom(stacks.base()));
  args.stack_size = StackPool::kInit;
  const long pid = LJ_SYS("clone", clone_run(&args, fn, &plan));
  if (pid < 0) {
    const int err = errno;
    ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
    errno = err;
    return pid;
  }
  // The command runs on this thread's block now: raw system calls only, no errno, no libc, until
  // the error pipe's EOF says it has exec'd (or died).
  lj_syscall(SYS_close, err_wr.release(), 0, 0, 0, 0);
  block.drop();
  *record = read_exec_record(err_rd);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  block.give();
  return pid;
}

Status child_failure(ChildError& ce) {
  ce.step[sizeof ce.step - 1] = '\0';
  ce.detail[sizeof ce.detail - 1] = '\0';
  std::string what = ce.step;
  if (ce.detail[0]) what += std::string(" ") + ce.detail;
  // The command's own execve (not init's execveat of lj-init): the caller's command cannot
  // run, a stable kind of its own (API jail.exec_failed, ljspawn's exit 126/127).
  if (std::string_view(ce.step) == "execve")
    return fail(Error::from_errno(Errc::exec_failed, "jail", what, ce.err));
  // A user or group the jail's root does not have: the caller's input (err 0), unless reading
  // /etc/passwd or /etc/group itself failed.
  if (std::string_view(ce.step) == kStepResolveUser && ce.err == 0)
    return fail(Errc::invalid_argument, "jail", ce.detail);
  // A hook (ProcessOptions::create_hooks, start_hooks) that ran and failed: its status is in the
  // detail; one that timed out: timed_out.
  if (std::string_view(ce.step).ends_with(" hook")) {
    if (ce.err == ETIMEDOUT) return fail(Errc::timed_out, "jail", what);
    if (ce.err == 0) return fail(Errc::system, "jail", what);
  }
  return fail_errno("jail", what, ce.err);
}

void plan_command(const std::vector<std::string>& env, const std::string& workdir,
                  const std::string& user, const std::optional<Terminal>& tty,
                  std::uint64_t nofile, ChildPlan& plan) {
  plan.env_storage = env;
  std::string path = kDefaultPath;
  bool has_path = false;
  for (const auto& e : env)
    if (e.rfind("PATH=", 0) == 0) {
      path = e.substr(5);
      has_path = true;
    }
  if (!has_path) plan.env_storage.push_back(std::string("PATH=") + kDefaultPath);
  {
    std::istringstream ps(path);
    for (std::string d; std::getline(ps, d, ':');) plan.path_dirs.push_back(d.empty() ? "." : d);
  }
  for (auto& a : plan.argv_storage) plan.argv.push_back(a.data());
  plan.argv.push_back(nullptr);
  for (auto& e : plan.env_storage) plan.envp.push_back(e.data());
  plan.envp.push_back(nullptr);
  plan.workdir = workdir;
  plan.user = user;
  if (tty) {
    plan.tty = true;
    plan.tty_rows = tty->rows;
    plan.tty_cols = tty->cols;
  }
  plan.nofile = static_cast<rlim_t>(nofile);
  plan.caps = default_capabilities();
  static const int cap_last = read_cap_last();
  plan.cap_last = cap_last;
  // Read per spawn, not once: a daemon may change a disposition after its start.
  plan.ignored_signals = read_ignored_signals();
}

namespace {

// 3. The command: argv (a script through a memfd), its environment and PATH, ids, limits and
// capabilities, and what init does on its way (hostname, user namespace, seccomp, the reaper).
Status prepare_command(const JailSpec& spec, const SpawnContext& ctx, Launch& l) {
  ChildPlan& plan = l.plan;
  if (!spec.script.empty()) {
    l.script.reset(LJ_SYS("memfd_create", ::memfd_create("ljd-script", MFD_CLOEXEC)));
    if (!l.script) return fail_errno("jail", "memfd_create");
    if (::write(l.script.get(), spec.script.data(), spec.script.size()) !=
        static_cast<ssize_t>(spec.script.size()))
      return fail_errno("jail", "write script to memfd");
    plan.argv_storage = script_argv(spec.script);
  } else {
    plan.argv_storage = spec.argv;
  }
  plan_command(spec.env, spec.workdir, spec.user, spec.tty, spec.limits.nofile, plan);
  plan.make_workdir = spec.make_workdir;
  plan.uid = spec.uid;
  plan.gid = spec.gid;
  // The host policy's grants (an explicit capability set, an OCI runtime's, replaces these).
  if (spec.grants.raw_sockets) plan.caps |= std::uint64_t{1} << CAP_NET_RAW;
  if (spec.grants.mlock) plan.caps |= std::uint64_t{1} << CAP_IPC_LOCK;
  plan.hostname = spec.hostname.empty() ? spec.name : spec.hostname;
  plan.become_ns_root = spec.userns.has_value();
  plan.die_with_parent = spec.die_with_parent;
  if (spec.die_with_parent) plan.parent_pidfd = ctx.self_pidfd;
  plan.seccomp = ctx.seccomp;
  plan.fds[kSlotReaper] = ctx.reaper;
  plan.fds[kSlotJoinIpc] = spec.join.ipc;
  plan.fds[kSlotJoinUts] = spec.join.uts;
  plan.fds[kSlotJoinCgroup] = spec.join.cgroup;
  // The spawner's own mount namespace is not entered: init is in it already (prepare_root).
  if (!l.host_root) plan.fds[kSlotJoinMnt] = spec.join.mnt;
  // A joined UTS namespace keeps its hostname unless the spec names one.
  if (spec.join.uts >= 0) plan.hostname = spec.hostname;
  // A command that is init leaves orphans to the joined namespace's init, as under runc.
  plan.command_is_init = spec.process.command_is_init;
  plan.subreaper = spec.join.pid >= 0 && !plan.command_is_init;
  prepare_hooks(spec.process.create_hooks, "createContainer", plan.create_hooks);
  prepare_hooks(spec.process.start_hooks, "startContainer", plan.start_hooks);
  if (!spec.script.empty() && spec.process.preserve_fds)
    return fail(Errc::invalid_argument, "jail", "preserve_fds with a script (its memfd is slot 4)");
  return plan_process_options(spec.process, plan, l.command_seccomp);
}

// 4. Descriptors, at the slots the child moves them to: the error pipe (a failure record, or EOF
// once the command has exec'd), init's status pipe, the sync socket when init must wait for us,
// the status file, the jail's stdio (/dev/null where none is given), the output pipes' read ends.
Status prepare_descriptors(const JailSpec& spec, Launch& l) {
  int err_pipe[2], status_pipe[2];
  if (LJ_SYS("pipe2", ::pipe2(err_pipe, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
  l.err_rd.reset(err_pipe[0]);
  l.err_wr.reset(err_pipe[1]);
  if (LJ_SYS("pipe2", ::pipe2(status_pipe, O_CLOEXEC)) != 0) return fail_errno("jail", "pipe2");
  l.status_rd.reset(status_pipe[0]);
  l.status_wr.reset(status_pipe[1]);
  l.plan.wait_sync = spec.userns.has_value() || spec.network.mode == NetworkMode::ip;
  if (l.plan.wait_sync) {
    // A socket, not a pipe: a child that failed before reading the sync byte must not kill
    // the spawner with SIGPIPE (send with MSG_NOSIGNAL; a pipe has no such flag).
    int sp[2];
    if (LJ_SYS("socketpair", ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp)) != 0)
      return fail_errno("jail", "socketpair");
    l.sync_rd.reset(sp[0]);
    l.sync_wr.reset(sp[1]);
  }
  if (!spec.status_file.empty()) l.status_file = LJ_TRY(open_status_file(spec.status_file));
  if (!spec.tty && (spec.stdio.in < 0 || spec.stdio.out < 0 || spec.stdio.err < 0)) {
    l.devnull.reset(::open("/dev/null", O_RDWR | O_CLOEXEC));
    if (!l.devnull) return fail_errno("jail", "open /dev/null");
  }
  auto or_null = [&](int fd) { return fd >= 0 ? fd : l.devnull.get(); };

  int* fds = l.plan.fds;
  fds[kSlotError] = l.err_wr.get();
  fds[kSlotScript] = l.script.get();
  fds[kSlotStatus] = l.status_wr.get();
  fds[kSlotStatusFile] = l.status_file.get();
  fds[kSlotSync] = l.sync_rd.get();
  if (spec.tty) {
    fds[kSlotConsole] = spec.tty->socket;  // stdio comes from the terminal init opens
  } else {
    fds[kSlotIn] = or_null(spec.stdio.in);
    fds[kSlotOut] = or_null(spec.stdio.out);
    fds[kSlotErr] = or_null(spec.stdio.err);
    fds[kSlotOutRead] = spec.stdio.out_read;
    fds[kSlotErrRead] = spec.stdio.err_read;
  }
  return {};
}

// 5. Clone init into its namespaces (and its v2 cgroup). Init in the daemon's address space
// (CLONE_VM|CLONE_VFORK) unless it must wait for us: a copy of the address space (clone3 without
// CLONE_VM) and the copy-on-write faults after it were a third of ljd's CPU per jail
// (docs/performance.md). The spawning thread sleeps until init has exec'd lj-init (or died), so
// init can use its thread block (errno) and nothing else of ours is touched; the command then
// runs on a stack of its own until its execve, still on that thread block, and the spawning
// thread waits for that execve without touching errno (clone_sharing_memory). Jails whose init
// needs the parent in between (uid_map, network) keep a copy, and so does every jail on an
// architecture without clone_run's trampoline.
Status clone_init(const JailSpec& spec, const SpawnContext& ctx, Launch& l) {
  ChildPlan& plan = l.plan;
  // The namespace being made beside us (prepare_netns): init receives it, not we; we do not wait.
  if (l.ahead && (l.netns = l.ahead->receiver())) {
    plan.fds[kSlotNetns] = l.netns.get();
    plan.netns_from_helper = true;
    plan.loopback_up = false;
  }
  // A held command (ProcessOptions::hold_fd) outlives the spawn by far: never on our memory.
  l.share = !plan.wait_sync && plan.fds[kSlotHold] < 0 && clone_run_supported();
  plan.shares_daemon_memory = l.share;
  if (l.share) LJ_TRY(put_on_block(*ctx.fd_blocks, l.block, plan));
  // In a joined pid namespace the command, running our memory until its execve, is in reach of
  // the processes already there, as an exec's process is of its jail's (undumpable.hpp).
  if (l.share && spec.join.pid >= 0) LJ_TRY(l.undumpable.take());
  LJ_TRY(l.stacks.take(*ctx.stacks));
  plan.command_stack_top = StackPool::command_top(l.stacks.base());

  const bool private_net = spec.network.mode != NetworkMode::inherit;
  // Joined namespaces (JoinedNamespaces) are not made: init enters them first (child_main).
  std::uint64_t flags = CLONE_PIDFD;
  if (spec.join.mnt < 0) flags |= CLONE_NEWNS;
  if (spec.join.pid < 0) flags |= CLONE_NEWPID;
  if (spec.join.uts < 0) flags |= CLONE_NEWUTS;
  if (spec.join.ipc < 0) flags |= CLONE_NEWIPC;
  if (private_net && !l.netns) flags |= CLONE_NEWNET;
  if (spec.userns) flags |= CLONE_NEWUSER;
  const std::uint64_t new_cgroupns = spec.join.cgroup < 0 ? CLONE_NEWCGROUP : 0;
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  if (l.cgroups.v2() && l.cgroups.v2_dir_fd() >= 0) {
    flags |= CLONE_INTO_CGROUP | new_cgroupns;
    args.cgroup = static_cast<std::uint64_t>(l.cgroups.v2_dir_fd());
  } else if (!l.cgroups.empty()) {
    // the namespace root must be the jail's cgroup
    plan.join_then_unshare_cgroupns = new_cgroupns != 0;
  } else {
    flags |= new_cgroupns;
  }
  // A joined pid namespace is entered by the clone itself: this thread's children are made in it
  // (setns(2) CLONE_NEWPID changes only pid_for_children), and this thread goes back to its own
  // right after, on every path.
  PidNamespaceFor pid_ns;
  if (spec.join.pid >= 0) LJ_TRY(pid_ns.enter(spec.join.pid));
  int pidfd_raw = -1;
  long pid = -1;
  args.pidfd = reinterpret_cast<std::uintptr_t>(&pidfd_raw);
  args.exit_signal = SIGCHLD;
  if (l.share) {
    args.flags = flags;
    l.record.emplace();
    pid = clone_sharing_memory(args, l.block, l.stacks, child_entry, plan, l.err_wr,
                               l.err_rd.get(), &*l.record);
    if (pid < 0) return fail_errno("jail", "clone3");
  } else {
    args.flags = flags;
    pid = LJ_SYS("clone", ::syscall(SYS_clone3, &args, sizeof args));
    if (pid < 0) return fail_errno("jail", "clone3");
    if (pid == 0) child_main(plan);  // never returns
  }
  LJ_TRY(pid_ns.leave());
  l.child.pidfd.reset(pidfd_raw);
  l.child.pid = pid;

  // The child's ends are the child's now.
  l.err_wr.reset();
  l.status_wr.reset();
  l.sync_rd.reset();
  l.status_file.reset();
  l.links_ready.reset();
  l.cgroups.close_attach_fds();
  return {};
}

// 6. The parent's side, while init waits on the sync socket: the uid/gid maps of a user
// namespace, the addresses of network mode ip, then the sync byte. A failed send may only mean
// that init already died of an error of its own (EPIPE): its record on the error pipe is the one
// to report (wait_for_exec).
Status parent_side(const JailSpec& spec, Launch& l) {
  const auto pid = static_cast<pid_t>(l.child.pid);
  if (spec.userns) {
    const auto& u = *spec.userns;
    std::string base = "/proc/" + std::to_string(pid);
    auto map = [&](const char* file, unsigned host, std::uint32_t count) -> Status {
      std::string line = "0 " + std::to_string(host) + " " + std::to_string(count) + "\n";
      UniqueFd fd(::open((base + file).c_str(), O_WRONLY | O_CLOEXEC));
      if (!fd || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()))
        return fail_errno("jail", "write " + base + file);
      return {};
    };
    LJ_TRY(map("/uid_map", u.host_uid, u.count));
    LJ_TRY(map("/gid_map", u.host_gid, u.gid_count ? u.gid_count : u.count));
  }
  if (spec.network.mode == NetworkMode::ip)
    LJ_TRY(setup_ip_network(pid, spec.name, spec.network));
  if (l.sync_wr) {
    if (l.handshake && ::send(l.sync_wr.get(), "x", 1, MSG_NOSIGNAL) != 1)
      l.handshake = fail_errno("jail", "write sync socket");
    l.sync_wr.reset();  // without the byte (a failed join), init ends at EOF
  }
  return {};
}

// 7. While init assembles the jail, on a CPU it is not using: init's start time for the handle
// (what adopt() and release() check the pid against). The parent only waits after this step.
void note_start(const JailSpec& spec, Launch& l) {
  l.start_time = start_time_of(static_cast<pid_t>(l.child.pid)).value_or(0);
  lj::log("jail")->debug("jail={} init pid={}", spec.name, l.child.pid);
}

// 8. Wait for the command's exec: the error pipe reaches EOF (every write end is close-on-exec)
// without a record, or carries the step that failed. Already read when init shared our memory.
// And for the caller's links, made by then when the command was started, and NetnsAhead's helper.
Status wait_for_exec(Launch& l) {
  if (!l.record) l.record = read_exec_record(l.err_rd.get());
  if (l.ahead) l.ahead->reap();  // done: init received its namespace before its exec
  LJ_TRY(l.links.wait());  // a failure of the links' own is why init found no byte
  if (l.record->failed()) return child_failure(l.record->error);
  if (!l.handshake) return fail(std::move(l.handshake).error());
  return {};
}

// 9. The Jail takes over what outlives the spawn: init's pidfd, the status pipe, the cgroups.
std::unique_ptr<Jail> hand_over(const JailSpec& spec, Launch& l) {
  JailHandle h;
  h.name = spec.name;
  h.pid = static_cast<pid_t>(l.child.pid);
  h.start_time = l.start_time;
  h.cgroup = l.cgroups.handle_string();
  h.status_file = spec.status_file;
  h.command_is_init = spec.process.command_is_init;
  auto deadline = spec.limits.timeout.count() > 0 ? Clock::now() + spec.limits.timeout
                                                  : Clock::time_point::max();
  l.child.owned = false;
  l.host_root.release();  // the Jail's teardown detaches it
  return make_linux_jail(std::move(h), std::move(l.child.pidfd), std::move(l.status_rd),
                         std::move(l.cgroups), true, deadline);
}

}  // namespace

Result<std::unique_ptr<Jail>> spawn_jail(const JailSpec& spec, const SpawnContext& ctx) {
  Launch l;
  prepare_netns(spec, ctx, l);
  LJ_TRY(prepare_cgroups(spec, ctx, l));
  LJ_TRY(prepare_root(spec, l));
  LJ_TRY(start_links(spec, ctx, l));
  LJ_TRY(prepare_command(spec, ctx, l));
  LJ_TRY(prepare_descriptors(spec, l));
  LJ_TRY(clone_init(spec, ctx, l));
  LJ_TRY(parent_side(spec, l));
  note_start(spec, l);
  LJ_TRY(wait_for_exec(l));
  return hand_over(spec, l);
}

}  // namespace lj::jail
