#include "jail/linux/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string_view>
#include <thread>
#include <utility>

#include "common/sys.hpp"
#include "jail/linux/device_filter.hpp"

namespace lj::jail {
namespace {

// With read(2) alone: a stream's construction (its locale) cost more than the read of a small
// kernel file, and every spawn reads a few (cgroup_layout, the limits).
bool read_file(const std::string& path, std::string* out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return false;
  out->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    if (n == 0) return true;
    out->append(buf, static_cast<std::size_t>(n));
  }
}

// Calls f on each piece of s between separators (empty pieces skipped).
template <class F>
void for_each_piece(std::string_view s, char sep, F f) {
  while (!s.empty()) {
    const auto end = s.find(sep);
    if (end != 0) f(s.substr(0, end));
    if (end == std::string_view::npos) return;
    s.remove_prefix(end + 1);
  }
}

Status write_file(const std::string& path, const std::string& value) {
  UniqueFd fd(LJ_SYS("open", ::open(path.c_str(), O_WRONLY | O_CLOEXEC)));
  if (!fd) return fail_errno("jail", "open " + path);
  if (LJ_SYS("write", ::write(fd.get(), value.data(), value.size())) < 0)
    return fail_errno("jail", "write '" + value + "' to " + path);
  return {};
}

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

CgroupLayout detect() {
  CgroupLayout l;
  // Mount points of each hierarchy, from mountinfo: "... mountpoint ... - cgroup cgroup rw,memory".
  std::string text, v2_mount;
  std::string v1_mount[3];  // memory, pids, cpu
  (void)read_file("/proc/self/mountinfo", &text);
  std::vector<std::string_view> w;
  for_each_piece(text, '\n', [&](std::string_view line) {
    // "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS"
    w.clear();
    for_each_piece(line, ' ', [&](std::string_view x) { w.push_back(x); });
    if (w.size() < 10) return;
    const auto dash = std::find(w.begin() + 6, w.end(), "-");
    if (w.end() - dash < 4) return;
    const std::string_view fstype = dash[1], opts = dash[3];
    const std::string mount(w[4]);
    if (fstype == "cgroup2") {
      if (v2_mount.empty()) v2_mount = mount;
    } else if (fstype == "cgroup") {
      for_each_piece(opts, ',', [&](std::string_view o) {
        if (o == "memory") v1_mount[0] = mount;
        if (o == "pids") v1_mount[1] = mount;
        if (o == "cpu") v1_mount[2] = mount;
        if (o == "freezer") l.freezer_mount = mount;
        if (o == "devices") l.devices_mount = mount;
        if (o == "cpuset") l.cpuset_mount = mount;
        if (o == "cpuacct") l.cpuacct_mount = mount;
        if (o == "blkio") l.blkio_mount = mount;
      });
    }
  });
  // Own cgroups: "0::/path" (v2) and "N:memory:/path" (v1).
  (void)read_file("/proc/self/cgroup", &text);
  std::string own_v2 = "/", own_v1[3] = {"/", "/", "/"}, own_freezer = "/";
  for_each_piece(text, '\n', [&](std::string_view line) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string_view::npos || b == std::string_view::npos) return;
    const std::string_view ctrls = line.substr(a + 1, b - a - 1);
    std::string path(line.substr(b + 1));
    if (path.empty()) path = "/";
    if (ctrls.empty()) own_v2 = path;
    for_each_piece(ctrls, ',', [&](std::string_view c) {
      if (c == "memory") own_v1[0] = path;
      if (c == "pids") own_v1[1] = path;
      if (c == "cpu") own_v1[2] = path;
      if (c == "freezer") own_freezer = path;
      if (c == "devices") l.devices_own = path;
      if (c == "cpuset") l.cpuset_own = path;
      if (c == "cpuacct") l.cpuacct_own = path;
      if (c == "blkio") l.blkio_own = path;
    });
  });
  auto join = [](const std::string& mnt, const std::string& own) {
    return mnt + (own == "/" ? "" : own) + "/ljd";
  };
  l.v2_mount = v2_mount;
  l.v2_own = own_v2;
  l.memory_mount = v1_mount[0];
  l.memory_own = own_v1[0];
  l.pids_mount = v1_mount[1];
  l.pids_own = own_v1[1];
  l.cpu_mount = v1_mount[2];
  l.cpu_own = own_v1[2];
  l.freezer_own = own_freezer;
  std::string controllers;
  if (!v2_mount.empty() && read_file(v2_mount + "/cgroup.controllers", &controllers)) {
    int have = 0;
    for_each_piece(controllers, ' ', [&](std::string_view c) {
      if (c.ends_with('\n')) c.remove_suffix(1);
      have += (c == "memory" || c == "pids" || c == "cpu");
    });
    if (have == 3) {
      l.v2 = true;
      l.v2_base = join(v2_mount, own_v2);
      return l;
    }
  }
  if (!v1_mount[0].empty()) {
    l.memory_base = join(v1_mount[0], own_v1[0]);
    l.memsw = exists(v1_mount[0] + "/memory.memsw.limit_in_bytes");
  }
  if (!v1_mount[1].empty()) l.pids_base = join(v1_mount[1], own_v1[1]);
  if (!v1_mount[2].empty()) l.cpu_base = join(v1_mount[2], own_v1[2]);
  if (!l.devices_mount.empty()) l.devices_base = join(l.devices_mount, l.devices_own);
  if (!l.cpuset_mount.empty()) l.cpuset_base = join(l.cpuset_mount, l.cpuset_own);
  if (!l.cpuacct_mount.empty() && l.cpuacct_mount != l.cpu_mount)
    l.cpuacct_base = join(l.cpuacct_mount, l.cpuacct_own);
  if (!l.blkio_mount.empty()) l.blkio_base = join(l.blkio_mount, l.blkio_own);
  return l;
}

Status make_dir(const std::string& dir) {
  if (LJ_SYS("mkdir", ::mkdir(dir.c_str(), 0755)) != 0 && errno != EEXIST)
    return fail_errno("jail", "mkdir " + dir);
  return {};
}

std::vector<pid_t> procs_of(const std::string& dir) {
  std::vector<pid_t> pids;
  std::string text;
  if (!read_file(dir + "/cgroup.procs", &text)) return pids;
  for_each_piece(text, '\n', [&](std::string_view line) {
    pid_t p = 0;
    if (std::from_chars(line.data(), line.data() + line.size(), p).ec == std::errc()) pids.push_back(p);
  });
  return pids;
}

// ---- The idle pool (see cgroup.hpp) ----

constexpr std::size_t kMaxIdlePerBase = 64;
constexpr unsigned long long kMaxIdleCharge = 16ull << 20;
constexpr const char* kIdlePrefix = ".pool-";
constexpr const char* kLjspawnPrefix = "ljspawn-";
constexpr const char* kScopePrefix = "scope-";

std::string scoped(const std::string& base, const CgroupScope& scope) {
  if (base.empty() || scope.name.empty()) return base;
  return base + "/" + scope.name;
}

// ---- Held scopes (see cgroup.hpp) ----

// A shared flock(2) on each directory of a scope this process uses, for as long as it lives (the
// kernel drops it with the process). Another daemon's sweep takes an empty scope only with
// LOCK_EX|LOCK_NB: a live daemon's scope is never removed under it, even while it has no jail
// (CI saw a daemon's first jail fail with ENOENT: a daemon started beside it had swept its scope).
// flock works on cgroupfs directories, and conflicts between open file descriptions, so within
// one process too.
struct HeldScopes {
  std::mutex mu;
  std::map<std::string, UniqueFd> fds;  // by directory
};

HeldScopes& held_scopes() {
  static auto* h = new HeldScopes;  // never destroyed: the locks last as long as the process
  return *h;
}

// Makes `dir`, a scope's directory, and holds it. The lock is checked to be on the directory
// still linked at `dir`: a sweep may remove it between the mkdir and the lock.
Status hold_scope_dir(const std::string& dir) {
  for (int attempt = 0; attempt < 16; ++attempt) {
    LJ_TRY(make_dir(dir));
    UniqueFd fd(LJ_SYS("open", ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)));
    if (!fd && errno == ENOENT) continue;
    if (!fd) return fail_errno("jail", "open " + dir);
    int rc;
    while ((rc = ::flock(fd.get(), LOCK_SH)) != 0 && errno == EINTR) {
    }
    if (rc != 0) return fail_errno("jail", "flock " + dir);
    struct stat held {}, linked {};
    if (::fstat(fd.get(), &held) != 0) return fail_errno("jail", "fstat " + dir);
    if (::stat(dir.c_str(), &linked) != 0 || held.st_ino != linked.st_ino ||
        held.st_dev != linked.st_dev)
      continue;
    std::lock_guard lock(held_scopes().mu);
    held_scopes().fds[dir] = std::move(fd);
    return {};
  }
  return fail(Errc::busy, "jail", "the cgroup scope " + dir + " was removed each time it was made");
}

void release_scope_dir(const std::string& dir) {
  std::lock_guard lock(held_scopes().mu);
  held_scopes().fds.erase(dir);
}

// Another process's scope found by a sweep: removed only when empty (rmdir refuses one with
// jails or idle cgroups) and held by no live daemon.
bool remove_unheld_scope(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd || ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) return false;
  return LJ_SYS("rmdir", ::rmdir(dir.c_str())) == 0;
}

struct Pool {
  std::mutex mu;
  std::map<std::string, std::vector<std::string>> idle;  // by parent ("<base>"), paths
  std::uint64_t next = 0;
  ~Pool();
};

Pool& pool() {
  static Pool p;
  return p;
}

std::string parent_of(const std::string& dir) {
  return dir.substr(0, dir.rfind('/'));
}

bool has_child_cgroups(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) return false;
  bool found = false;
  while (dirent* e = ::readdir(d))
    if (e->d_type == DT_DIR && std::strcmp(e->d_name, ".") != 0 &&
        std::strcmp(e->d_name, "..") != 0)
      found = true;
  ::closedir(d);
  return found;
}

// Removes an empty cgroup directory. EBUSY with no process listed is a task still in do_exit: it
// leaves cgroup.procs before it unlinks from its css_set (cgroup_exit), so rmdir is retried for a
// little while; EBUSY with processes listed or child cgroups is a cgroup in use, kept.
bool remove_empty_cgroup(const std::string& dir) {
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  for (int delay_us = 200;; delay_us = std::min(delay_us * 2, 50000)) {
    if (LJ_SYS("rmdir", ::rmdir(dir.c_str())) == 0) return true;
    if (errno != EBUSY || !procs_of(dir).empty() || has_child_cgroups(dir) ||
        std::chrono::steady_clock::now() > until)
      return false;
    std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
  }
}

// At exit (ljspawn exits right after its jail's last task, which may still be exiting).
Pool::~Pool() {
  for (auto& [base, dirs] : idle)
    for (auto& d : dirs) (void)remove_empty_cgroup(d);
}

// Whether `pid` is a running ljspawn (not a zombie: a SIGKILLed ljspawn its parent has not
// waited for yet is gone for our purpose). /proc/PID/stat is "pid (comm) state ...", and comm
// may hold spaces and parentheses, hence the last ')'.
bool running_ljspawn(long pid) {
  std::string stat;
  if (!read_file("/proc/" + std::to_string(pid) + "/stat", &stat)) return false;
  auto open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size())
    return false;
  char state = stat[close + 2];
  return stat.compare(open + 1, close - open - 1, "ljspawn") == 0 && state != 'Z' && state != 'X';
}

// Whether the directory `name` under `base` is a leftover the sweep removes (see cgroup.hpp).
bool stale(const std::string& base, const std::string& name) {
  const pid_t self = ::getpid();
  if (name.rfind(kLjspawnPrefix, 0) == 0) {
    char* end = nullptr;
    long pid = std::strtol(name.c_str() + std::strlen(kLjspawnPrefix), &end, 10);
    if (pid <= 0 || *end != '\0') return false;  // a jail named by hand: not ours to judge
    return pid == self || !running_ljspawn(pid);
  }
  if (name.rfind(kIdlePrefix, 0) != 0) return false;
  long pid = std::strtol(name.c_str() + std::strlen(kIdlePrefix), nullptr, 10);
  // Another live ljd's idle cgroups are its own; a dead one's (or an earlier process of our
  // pid's) are leftovers.
  if (pid != self) return pid > 0 && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno != EPERM;
  std::lock_guard lock(pool().mu);
  const auto& v = pool().idle[base];
  return std::find(v.begin(), v.end(), base + "/" + name) == v.end();
}

// Renames an idle cgroup of `base` to `dir`; false when there is none.
bool take_idle(const std::string& base, const std::string& dir) {
  static std::once_flag swept;
  std::call_once(swept, [] { (void)sweep_cgroup_pool(); });
  for (;;) {
    std::string idle;
    {
      std::lock_guard lock(pool().mu);
      auto& v = pool().idle[base];
      if (v.empty()) return false;
      idle = std::move(v.back());
      v.pop_back();
    }
    if (::rename(idle.c_str(), dir.c_str()) == 0) return true;
    (void)::rmdir(idle.c_str());  // unusable: drop it, try the next
  }
}

// Whether `base` is the controller's base `top` or a scope of it.
bool within(const std::string& base, const std::string& top) {
  return !top.empty() && (base == top || (base.size() > top.size() && base.starts_with(top) &&
                                          base[top.size()] == '/'));
}

// Resets the limits of an emptied jail cgroup and parks it under an idle name; false when the
// pool is full or a reset fails (the caller removes it then).
bool give_back(const std::string& dir, bool v2) {
  const CgroupLayout& l = cgroup_layout();
  const std::string base = parent_of(dir);
  std::string idle;
  {
    std::lock_guard lock(pool().mu);
    if (pool().idle[base].size() >= kMaxIdlePerBase) return false;
    idle =
        base + "/" + kIdlePrefix + std::to_string(::getpid()) + "-" + std::to_string(pool().next++);
  }
  // Charges outlive the jail (page cache it read stays charged to its memory cgroup until
  // reclaimed): a cgroup holding much of them is removed instead, so that a next jail's smaller
  // limit never has to reclaim more than a little to be written.
  if (within(base, l.memory_base) || (v2 && !l.v2_base.empty())) {
    std::string usage;
    if (!read_file(dir + (v2 ? "/memory.current" : "/memory.usage_in_bytes"), &usage) ||
        std::strtoull(usage.c_str(), nullptr, 10) > kMaxIdleCharge)
      return false;
  }
  // Unlimited again, so that the next jail's limits can be written in any order: v1 refuses a
  // memory limit above memsw (memory.txt, 2.5), so memsw is raised first.
  if (v2) {
    if (!write_file(dir + "/memory.max", "max") || !write_file(dir + "/pids.max", "max") ||
        !write_file(dir + "/cpu.max", "max 100000") || !write_file(dir + "/cpu.weight", "100"))
      return false;
  } else if (within(base, l.memory_base)) {
    if (l.memsw && !write_file(dir + "/memory.memsw.limit_in_bytes", "-1")) return false;
    if (!write_file(dir + "/memory.limit_in_bytes", "-1")) return false;
  } else if (within(base, l.pids_base)) {
    if (!write_file(dir + "/pids.max", "max")) return false;
  } else if (within(base, l.cpu_base)) {
    if (!write_file(dir + "/cpu.cfs_quota_us", "-1") || !write_file(dir + "/cpu.shares", "1024"))
      return false;
  } else {
    return false;
  }
  if (::rename(dir.c_str(), idle.c_str()) != 0) return false;
  std::lock_guard lock(pool().mu);
  pool().idle[base].push_back(std::move(idle));
  return true;
}

std::uint64_t oom_kill_count(const std::string& memory_dir, bool v2) {
  std::string text;
  if (!read_file(memory_dir + (v2 ? "/memory.events" : "/memory.oom_control"), &text)) return 0;
  std::uint64_t value = 0;
  for_each_piece(text, '\n', [&](std::string_view line) {
    constexpr std::string_view kKey = "oom_kill ";
    if (line.starts_with(kKey))
      std::from_chars(line.data() + kKey.size(), line.data() + line.size(), value);
  });
  return value;
}

// devices.allow/deny's form (cgroup-v1/devices.rst): "a", or "c 1:3 rwm" with '*' for any.
std::string device_rule_text(const DeviceRule& r) {
  if (r.type == 'a') return "a *:* " + r.access;
  auto num = [](std::int64_t v) { return v < 0 ? std::string("*") : std::to_string(v); };
  return std::string(1, r.type) + " " + num(r.major) + ":" + num(r.minor) + " " + r.access;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// v1 cpuset: a cgroup starts with empty cpuset.cpus and cpuset.mems and takes no task until both
// are set (the kernel's ENOSPC); each cgroup from the mount down to `dir` whose files are empty
// gets its parent's, as runc's fs/cpuset.go (ensureParent, copyIfNeeded) does.
Status inherit_cpuset(const std::string& mount, const std::string& dir) {
  std::string parent = mount, cur = mount;
  std::istringstream parts(dir.substr(std::min(dir.size(), mount.size())));
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty()) continue;
    cur += "/" + part;
    for (const char* f : {"/cpuset.cpus", "/cpuset.mems"}) {
      std::string v;
      if (read_file(cur + f, &v) && !trimmed(v).empty()) continue;
      if (!read_file(parent + f, &v)) return fail_errno("jail", "read " + parent + f);
      LJ_TRY(write_file(cur + f, trimmed(v)));
    }
    parent = cur;
  }
  return {};
}

// v2: the cpuset controller enabled from the mount down to `dir`'s parent (cgroup-v2.rst,
// "Enabling and Disabling"), so that `dir` has cpuset.cpus and cpuset.mems.
Status enable_v2_cpuset(const std::string& mount, const std::string& dir) {
  std::string cur = mount;
  std::istringstream parts(dir.substr(std::min(dir.size(), mount.size())));
  for (std::string part; std::getline(parts, part, '/');) {
    if (part.empty()) continue;
    LJ_TRY(write_file(cur + "/cgroup.subtree_control", "+cpuset"));
    cur += "/" + part;
  }
  return {};
}

// The CFS quota and period to write (cpu.cfs_quota_us and cpu.cfs_period_us on v1, cpu.max on
// v2): the exact ones when given, else cpu_percent's share of 100000 µs. Empty quota: none.
std::pair<std::string, std::string> cfs_of(std::uint64_t quota_us, std::uint64_t period_us,
                                           std::uint32_t percent) {
  const std::string period = std::to_string(period_us ? period_us : 100000);
  if (quota_us) return {std::to_string(quota_us), period};
  if (percent) return {std::to_string(percent * 1000ull), "100000"};
  return {"", period};
}

// v1 realtime bandwidth, period first (the runtime is checked against it and the parent's room).
Status write_rt(const std::string& dir, std::uint64_t period_us, std::int64_t runtime_us) {
  if (period_us)
    LJ_TRY_CTX("limits.cpu_rt_period_us",
               write_file(dir + "/cpu.rt_period_us", std::to_string(period_us)));
  if (runtime_us)
    LJ_TRY_CTX("limits.cpu_rt_runtime_us (the parent cgroup must leave room for it)",
               write_file(dir + "/cpu.rt_runtime_us", std::to_string(runtime_us)));
  return {};
}

// CgroupScope::pids_max, on the base: the parent every daemon's scope (and ljspawn's and
// ljbuild's jails) sits under, so that the kernel bounds them all together. On a scope it bounded
// one root's jails only, and two ljds on two roots each had the whole (issue 17).
Status cap_jails(const std::string& base, std::uint64_t pids_max) {
  if (!pids_max) return {};
  return write_file(base + "/pids.max", std::to_string(pids_max));
}

// v1's shares on v2's weight scale (1..10000, default 100), runc's conversion
// (libcontainer/cgroups/utils.go ConvertCPUSharesToCgroupV2Value): 2 -> 1, 262144 -> 10000.
std::string cpu_weight_of(std::uint64_t shares) {
  return std::to_string(1 + ((std::max<std::uint64_t>(shares, 2) - 2) * 9999) / 262142);
}

// Every hierarchy's base a jail's cgroup may be under (empty ones: not on this host).
std::array<const std::string*, 8> every_base(const CgroupLayout& l) {
  return {&l.v2_base,      &l.memory_base, &l.pids_base,    &l.cpu_base,
          &l.devices_base, &l.cpuset_base, &l.cpuacct_base, &l.blkio_base};
}

}  // namespace

const CgroupLayout& cgroup_layout() {
  static const CgroupLayout layout = detect();
  return layout;
}

std::vector<std::pair<std::string, std::string>> Cgroups::v1_hierarchies() const {
  std::vector<std::pair<std::string, std::string>> out;
  if (v2_) return out;
  const CgroupLayout& l = cgroup_layout();
  for (const std::string* mount : {&l.memory_mount, &l.pids_mount, &l.cpu_mount, &l.cpuacct_mount,
                                   &l.cpuset_mount, &l.devices_mount, &l.blkio_mount}) {
    if (mount->empty()) continue;
    const std::string name = std::filesystem::path(*mount).filename().string();
    for (const auto& d : dirs_)
      if (d.starts_with(*mount + "/") &&
          std::find_if(out.begin(), out.end(), [&](const auto& e) { return e.first == name; }) ==
              out.end())
        out.emplace_back(name, d);
  }
  return out;
}

std::size_t sweep_cgroup_pool(const CgroupScope& scope) {
  const CgroupLayout& l = cgroup_layout();
  std::size_t removed = 0;
  for (const std::string* base_of : every_base(l)) {
    const std::string& top = *base_of;
    if (top.empty()) continue;
    std::vector<std::string> bases = {top};
    if (!scope.name.empty()) bases.push_back(scoped(top, scope));
    for (const std::string& base : bases) {
      DIR* d = ::opendir(base.c_str());
      if (!d) continue;
      while (dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) continue;
        if (stale(base, name) && remove_empty_cgroup(base + "/" + name)) ++removed;
        // An empty scope that no live process holds: its daemon is gone (rmdir refuses a scope
        // with jails or idle cgroups in it); whoever uses it next makes it again.
        if (base == top && name.rfind(kScopePrefix, 0) == 0 && name != scope.name &&
            remove_unheld_scope(base + "/" + name))
          ++removed;
      }
      ::closedir(d);
    }
  }
  return removed;
}

Status prepare_scope(const CgroupScope& scope) {
  if (scope.name.empty()) return {};
  const CgroupLayout& l = cgroup_layout();
  if (l.v2) {
    std::string parent = l.v2_base.substr(0, l.v2_base.rfind('/'));
    (void)write_file(parent + "/cgroup.subtree_control", "+memory +pids +cpu");
    LJ_TRY(make_dir(l.v2_base));
    LJ_TRY(write_file(l.v2_base + "/cgroup.subtree_control", "+memory +pids +cpu"));
    LJ_TRY(cap_jails(l.v2_base, scope.pids_max));
    const std::string dir = scoped(l.v2_base, scope);
    LJ_TRY(hold_scope_dir(dir));
    LJ_TRY(write_file(dir + "/cgroup.subtree_control", "+memory +pids +cpu"));
    return {};
  }
  for (const std::string* base :
       {&l.memory_base, &l.pids_base, &l.cpu_base, &l.devices_base, &l.cpuacct_base,
        &l.blkio_base}) {
    if (base->empty()) continue;
    LJ_TRY(make_dir(*base));
    LJ_TRY(hold_scope_dir(scoped(*base, scope)));
  }
  if (!l.pids_base.empty()) LJ_TRY(cap_jails(l.pids_base, scope.pids_max));
  return {};
}

void remove_scope(const CgroupScope& scope) {
  if (scope.name.empty()) return;
  const CgroupLayout& l = cgroup_layout();
  for (const std::string* base_of : every_base(l)) {
    const std::string& top = *base_of;
    if (top.empty()) continue;
    const std::string base = scoped(top, scope);
    std::vector<std::string> idle;
    {
      std::lock_guard lock(pool().mu);
      auto it = pool().idle.find(base);
      if (it != pool().idle.end()) idle = std::exchange(it->second, {});
    }
    for (const auto& d : idle) (void)remove_empty_cgroup(d);
    (void)::rmdir(base.c_str());  // kept while jails (left running) are in it
    release_scope_dir(base);
  }
}

std::vector<std::string> scope_jails(const CgroupScope& scope) {
  std::vector<std::string> names;
  if (scope.name.empty()) return names;
  const CgroupLayout& l = cgroup_layout();
  for (const std::string* base_of : every_base(l)) {
    const std::string& top = *base_of;
    if (top.empty()) continue;
    DIR* d = ::opendir(scoped(top, scope).c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if ((e->d_type != DT_DIR && e->d_type != DT_UNKNOWN) || name == "." || name == ".." ||
          name.rfind(kIdlePrefix, 0) == 0)
        continue;
      if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

std::size_t idle_cgroups() {
  std::lock_guard lock(pool().mu);
  std::size_t n = 0;
  for (auto& [base, v] : pool().idle) n += v.size();
  return n;
}

Cgroups& Cgroups::operator=(Cgroups&& o) noexcept {
  if (this != &o) {
    (void)destroy();
    dirs_ = std::move(o.dirs_);
    pooled_ = o.pooled_;
    oom_base_ = o.oom_base_;
    memory_dir_ = std::move(o.memory_dir_);
    v2_ = o.v2_;
    join_ = std::move(o.join_);
    v2_dir_fd_ = std::move(o.v2_dir_fd_);
    o.dirs_.clear();
  }
  return *this;
}

Cgroups::~Cgroups() {
  (void)destroy();
}

namespace {

// Limits::block_io into a v1 blkio cgroup: the weight where an I/O scheduler has one (BFQ's file
// first, as runc), then one line per device and rate (the kernel takes one rule per write).
Status write_block_io(const std::string& dir, const Limits::BlockIo& io) {
  if (io.weight) {
    std::string file;
    for (const char* f : {"/blkio.bfq.weight", "/blkio.weight"})
      if (file.empty() && exists(dir + f)) file = dir + f;
    if (file.empty())
      return fail(Errc::unsupported, "jail",
                  "limits.block_io.weight: this host's blkio cgroups have no weight (no I/O "
                  "scheduler with weights, such as BFQ)");
    LJ_TRY(write_file(file, std::to_string(io.weight)));
  }
  const std::pair<const char*, const std::vector<DeviceRate>*> files[] = {
      {"/blkio.throttle.read_bps_device", &io.read_bps},
      {"/blkio.throttle.write_bps_device", &io.write_bps},
      {"/blkio.throttle.read_iops_device", &io.read_iops},
      {"/blkio.throttle.write_iops_device", &io.write_iops}};
  for (const auto& [file, rates] : files)
    for (const auto& r : *rates)
      LJ_TRY(write_file(dir + file, std::to_string(r.major) + ":" + std::to_string(r.minor) + " " +
                                        std::to_string(r.rate)));
  return {};
}

// Limits::memory_swap_bytes against the memory limit it goes with (0: "no swap").
Status check_swap(std::uint64_t memory, std::uint64_t swap) {
  if (swap == 0 || swap == Limits::kUnlimitedSwap) return {};
  if (memory == 0)
    return fail(Errc::invalid_argument, "jail", "limits.memory_swap_bytes without memory_bytes");
  if (swap < memory)
    return fail(Errc::invalid_argument, "jail",
                "limits.memory_swap_bytes " + std::to_string(swap) + " below memory_bytes " +
                    std::to_string(memory) + " (it counts memory and swap together)");
  return {};
}

// v1 memory.memsw.limit_in_bytes for a memory limit and Limits::memory_swap_bytes.
std::string memsw_of(std::uint64_t memory, std::uint64_t swap) {
  if (swap == Limits::kUnlimitedSwap || memory == 0) return "-1";
  return std::to_string(swap ? swap : memory);
}

// v2 memory.swap.max: the swap part alone.
std::string swap_max_of(std::uint64_t memory, std::uint64_t swap) {
  if (swap == Limits::kUnlimitedSwap || memory == 0) return "max";
  return std::to_string(swap ? swap - memory : 0);
}

// A swap limit this host cannot keep: v1 without swap accounting (memory.memsw.*), v2 without
// memory.swap.max. Unlimited swap is what such a host gives anyway.
Status swap_accounted(bool present, std::uint64_t swap) {
  if (present || swap == 0 || swap == Limits::kUnlimitedSwap) return {};
  return fail(Errc::unsupported, "jail",
              "limits.memory_swap_bytes: this host does not account swap in its memory cgroups "
              "(no memory.memsw.limit_in_bytes / memory.swap.max)");
}

}  // namespace

Result<Cgroups> Cgroups::create(const std::string& name, const Limits& limits,
                                const CgroupScope& scope, const std::string& path) {
  Cgroups cg;
  const CgroupLayout& l = cgroup_layout();
  LJ_TRY(check_swap(limits.memory_bytes, limits.memory_swap_bytes));
  // A path of the caller's (JailSpec::cgroup_path): <mount><path>, or <mount><own>/<path> when
  // relative. The top passed to add() names the hierarchy by its base.
  auto add_at_path = [&](const std::string& top) -> Result<std::string> {
    const std::string* mount = &l.v2_mount;
    const std::string* own = &l.v2_own;
    if (&top == &l.memory_base) mount = &l.memory_mount, own = &l.memory_own;
    if (&top == &l.pids_base) mount = &l.pids_mount, own = &l.pids_own;
    if (&top == &l.cpu_base) mount = &l.cpu_mount, own = &l.cpu_own;
    if (&top == &l.devices_base) mount = &l.devices_mount, own = &l.devices_own;
    if (&top == &l.cpuset_base) mount = &l.cpuset_mount, own = &l.cpuset_own;
    if (&top == &l.cpuacct_base) mount = &l.cpuacct_mount, own = &l.cpuacct_own;
    if (&top == &l.blkio_base) mount = &l.blkio_mount, own = &l.blkio_own;
    const std::string rel = path[0] == '/' ? path : (*own == "/" ? "" : *own) + "/" + path;
    // Parents first; v2 enables the controllers in each on the way down (cgroup-v2.rst).
    std::string dir = *mount;
    std::istringstream parts(rel);
    for (std::string part; std::getline(parts, part, '/');) {
      if (part.empty() || part == ".") continue;
      if (l.v2) (void)write_file(dir + "/cgroup.subtree_control", "+memory +pids +cpu");
      dir += "/" + part;
      LJ_TRY(make_dir(dir));
    }
    if (!procs_of(dir).empty())
      return fail(Errc::conflict, "jail", "cgroup " + dir + " already holds processes");
    cg.dirs_.push_back(dir);
    return dir;
  };
  auto add = [&](const std::string& top) -> Result<std::string> {
    if (top.empty())
      return fail(Errc::unsupported, "jail", "no cgroup controller for the requested limits");
    if (!path.empty()) return add_at_path(top);
    const std::string base = scoped(top, scope);
    std::string dir = base + "/" + name;
    if (!scope.reuse || !take_idle(base, dir)) {
      if (scope.name.empty()) LJ_TRY(make_dir(base));
      int rc = LJ_SYS("mkdir", ::mkdir(dir.c_str(), 0755));
      if (rc != 0 && errno == ENOENT && !scope.name.empty()) {
        // The scope went (removed by hand: a sweep takes no held scope), or was never made: made
        // again with its pids.max, so that the jails' reserve still holds.
        LJ_TRY(prepare_scope(scope));
        rc = LJ_SYS("mkdir", ::mkdir(dir.c_str(), 0755));
      }
      if (rc != 0) return fail_errno("jail", "mkdir " + dir);
    }
    cg.dirs_.push_back(dir);
    return dir;
  };
  const bool memory_knobs = limits.memory_reservation || limits.memory_swappiness ||
                            limits.memory_no_oom_killer || limits.memory_kernel_bytes ||
                            limits.memory_kernel_tcp_bytes;
  const bool rt = limits.cpu_rt_period_us || limits.cpu_rt_runtime_us;
  const bool cpuset = !limits.cpuset_cpus.empty() || !limits.cpuset_mems.empty();
  // The idle pool resets only the limits: a cgroup with other knobs set is removed at the end
  // (v2: a device program stays attached to its cgroup).
  cg.pooled_ = scope.reuse && path.empty() && !memory_knobs && !rt && !cpuset &&
               !limits.cpu_cgroups && limits.block_io.empty() &&
               (!l.v2 || limits.device_rules.empty());
  const auto [cfs_quota, cfs_period] =
      cfs_of(limits.cpu_quota_us, limits.cpu_period_us, limits.cpu_percent);
  if (l.v2) {
    cg.v2_ = true;
    if (!limits.block_io.empty())
      return fail(Errc::unsupported, "jail", "limits.block_io on cgroup v2 (io.max, io.weight)");
    // Controllers must be enabled on the way down (cgroup-v2.rst, "Enabling and Disabling"); a
    // scope's were when it was made (prepare_scope).
    if (scope.name.empty() && path.empty()) {
      std::string parent = l.v2_base.substr(0, l.v2_base.rfind('/'));
      (void)write_file(parent + "/cgroup.subtree_control", "+memory +pids +cpu");
      LJ_TRY(make_dir(l.v2_base));
      LJ_TRY(write_file(l.v2_base + "/cgroup.subtree_control", "+memory +pids +cpu"));
    }
    std::string dir = LJ_TRY(add(l.v2_base));
    if (limits.memory_bytes) {
      LJ_TRY(write_file(dir + "/memory.max", std::to_string(limits.memory_bytes)));
      const bool swap = exists(dir + "/memory.swap.max");
      LJ_TRY(swap_accounted(swap, limits.memory_swap_bytes));
      if (swap)
        LJ_TRY(write_file(dir + "/memory.swap.max",
                          swap_max_of(limits.memory_bytes, limits.memory_swap_bytes)));
      cg.memory_dir_ = dir;
      cg.oom_base_ = oom_kill_count(dir, true);
    }
    if (limits.pids) LJ_TRY(write_file(dir + "/pids.max", std::to_string(limits.pids)));
    if (limits.memory_swappiness || limits.memory_no_oom_killer || limits.memory_kernel_bytes ||
        limits.memory_kernel_tcp_bytes)
      return fail(Errc::unsupported, "jail",
                  "limits.memory_swappiness, memory_no_oom_killer and memory_kernel(_tcp)_bytes "
                  "have no cgroup v2 file");
    if (limits.memory_reservation)
      LJ_TRY(write_file(dir + "/memory.low", std::to_string(limits.memory_reservation)));
    if (rt)
      return fail(Errc::unsupported, "jail",
                  "limits.cpu_rt_period_us and cpu_rt_runtime_us have no cgroup v2 file");
    if (!cfs_quota.empty()) LJ_TRY(write_file(dir + "/cpu.max", cfs_quota + " " + cfs_period));
    if (cpuset) {
      LJ_TRY(enable_v2_cpuset(l.v2_mount, dir));
      if (!limits.cpuset_cpus.empty())
        LJ_TRY(write_file(dir + "/cpuset.cpus", limits.cpuset_cpus));
      if (!limits.cpuset_mems.empty())
        LJ_TRY(write_file(dir + "/cpuset.mems", limits.cpuset_mems));
    }
    if (limits.cpu_shares) LJ_TRY(write_file(dir + "/cpu.weight", cpu_weight_of(limits.cpu_shares)));
    // No devices controller on v2: the rules are a device program on the jail's cgroup, in force
    // from init's birth (it is cloned into the cgroup), as runc's devicefilter.
    if (!limits.device_rules.empty())
      LJ_TRY_CTX("limits.device_rules",
                 attach_device_program(dir, jail_device_rules(limits.device_rules)));
    cg.v2_dir_fd_.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!cg.v2_dir_fd_) return fail_errno("jail", "open " + dir);
    return cg;
  }
  auto join_fd = [&](const std::string& dir) -> Status {
    UniqueFd fd(LJ_SYS("open", ::open((dir + "/tasks").c_str(), O_WRONLY | O_CLOEXEC)));
    if (!fd) return fail_errno("jail", "open " + dir + "/tasks");
    cg.join_.push_back(std::move(fd));
    return {};
  };
  // Every jail has memory and pids cgroups of its own where the controllers exist, limits or not:
  // its processes are counted and charged apart from ljd's, and killed as a group (destroy). A
  // controller a limit needs must exist; cpu is made only for a cpu limit (v1 has no accounting
  // in it: that is cpuacct) or a CPU weight.
  if (limits.memory_bytes || memory_knobs || !l.memory_base.empty()) {
    std::string dir = LJ_TRY(add(l.memory_base));
    if (limits.memory_reservation)
      LJ_TRY(write_file(dir + "/memory.soft_limit_in_bytes",
                        std::to_string(limits.memory_reservation)));
    if (limits.memory_swappiness)
      LJ_TRY(write_file(dir + "/memory.swappiness", std::to_string(*limits.memory_swappiness)));
    if (limits.memory_no_oom_killer) LJ_TRY(write_file(dir + "/memory.oom_control", "1"));
    if (limits.memory_kernel_bytes)
      LJ_TRY(write_file(dir + "/memory.kmem.limit_in_bytes",
                        std::to_string(limits.memory_kernel_bytes)));
    if (limits.memory_kernel_tcp_bytes)
      LJ_TRY(write_file(dir + "/memory.kmem.tcp.limit_in_bytes",
                        std::to_string(limits.memory_kernel_tcp_bytes)));
    if (limits.memory_bytes) {
      LJ_TRY(swap_accounted(l.memsw, limits.memory_swap_bytes));
      LJ_TRY(write_file(dir + "/memory.limit_in_bytes", std::to_string(limits.memory_bytes)));
      // memsw is memory+swap: equal to the memory limit means no swap (memory.txt, 2.4). Written
      // after the memory limit: a new cgroup's memsw is unlimited, and never below memory.
      if (l.memsw)
        LJ_TRY(write_file(dir + "/memory.memsw.limit_in_bytes",
                          memsw_of(limits.memory_bytes, limits.memory_swap_bytes)));
      cg.memory_dir_ = dir;
      cg.oom_base_ = oom_kill_count(dir, false);
    }
    LJ_TRY(join_fd(dir));
  }
  if (limits.pids || !l.pids_base.empty()) {
    std::string dir = LJ_TRY(add(l.pids_base));
    if (limits.pids) LJ_TRY(write_file(dir + "/pids.max", std::to_string(limits.pids)));
    LJ_TRY(join_fd(dir));
  }
  if (limits.cpu_percent || limits.cpu_quota_us || limits.cpu_period_us || limits.cpu_shares ||
      rt || (limits.cpu_cgroups && !l.cpu_base.empty())) {
    std::string dir = LJ_TRY(add(l.cpu_base));
    // Realtime first: a SCHED_RR task cannot join a cgroup without RT bandwidth (runc's cpu.go).
    LJ_TRY(write_rt(dir, limits.cpu_rt_period_us, limits.cpu_rt_runtime_us));
    if (limits.cpu_period_us || !cfs_quota.empty())
      LJ_TRY(write_file(dir + "/cpu.cfs_period_us", cfs_period));
    if (!cfs_quota.empty()) LJ_TRY(write_file(dir + "/cpu.cfs_quota_us", cfs_quota));
    if (limits.cpu_shares) LJ_TRY(write_file(dir + "/cpu.shares", std::to_string(limits.cpu_shares)));
    LJ_TRY(join_fd(dir));
  }
  if (cpuset || (limits.cpu_cgroups && !l.cpuset_base.empty())) {
    if (l.cpuset_base.empty())
      return fail(Errc::unsupported, "jail", "limits.cpuset_cpus/mems: no cpuset cgroup on this host");
    if (path.empty()) {  // the base and the scope: add() makes only the jail's own directory
      LJ_TRY(make_dir(l.cpuset_base));
      if (!scope.name.empty()) LJ_TRY(hold_scope_dir(scoped(l.cpuset_base, scope)));
    }
    std::string dir = LJ_TRY(add(l.cpuset_base));
    LJ_TRY(inherit_cpuset(l.cpuset_mount, dir));
    if (!limits.cpuset_cpus.empty()) LJ_TRY(write_file(dir + "/cpuset.cpus", limits.cpuset_cpus));
    if (!limits.cpuset_mems.empty()) LJ_TRY(write_file(dir + "/cpuset.mems", limits.cpuset_mems));
    LJ_TRY(join_fd(dir));
  }
  // The container in the cpuacct hierarchy too when it is mounted apart from cpu (with
  // cpu_cgroups: runc's "every hierarchy"), or its CPU time is counted only in its parent's.
  // Its base and scope are made as the other controllers' are (add, prepare_scope).
  if (limits.cpu_cgroups && !l.cpuacct_base.empty()) {
    const std::string dir = LJ_TRY(add(l.cpuacct_base));
    LJ_TRY(join_fd(dir));
  }
  if (!limits.block_io.empty()) {
    if (l.blkio_base.empty())
      return fail(Errc::unsupported, "jail", "limits.block_io: no blkio cgroup on this host");
    const std::string dir = LJ_TRY(add(l.blkio_base));
    LJ_TRY(write_block_io(dir, limits.block_io));
    LJ_TRY(join_fd(dir));
  }
  if (!limits.device_rules.empty()) {
    if (l.devices_base.empty())
      return fail(Errc::unsupported, "jail", "limits.device_rules: no devices cgroup on this host");
    std::string dir = LJ_TRY(add(l.devices_base));
    // Everything denied first, then the rules in order, then the engine's nodes (runc does the
    // same: its specconv appends its default allowed devices). The kernel keeps the exceptions
    // in the order written, as devices.list shows them (runtime-tools reads it back).
    LJ_TRY(write_file(dir + "/devices.deny", "a"));
    for (const auto& r : jail_device_rules(limits.device_rules))
      LJ_TRY(write_file(dir + (r.allow ? "/devices.allow" : "/devices.deny"), device_rule_text(r)));
    LJ_TRY(join_fd(dir));
  }
  return cg;
}

Cgroups Cgroups::from_handle(const std::string& handle_cgroup) {
  Cgroups cg;
  std::istringstream in(handle_cgroup);
  for (std::string d; std::getline(in, d, ';');) {
    if (d.empty()) continue;
    cg.dirs_.push_back(d);
    if (exists(d + "/memory.oom_control") || exists(d + "/memory.events")) cg.memory_dir_ = d;
    if (exists(d + "/cgroup.kill")) cg.v2_ = true;
  }
  return cg;
}

Cgroups Cgroups::named(const std::string& name, const CgroupScope& scope) {
  const CgroupLayout& l = cgroup_layout();
  std::string handle;
  for (const std::string* base : every_base(l)) {
    if (base->empty() || name.empty()) continue;
    std::string dir = scoped(*base, scope) + "/" + name;
    if (exists(dir)) handle += (handle.empty() ? "" : ";") + dir;
  }
  return from_handle(handle);
}

std::string Cgroups::handle_string() const {
  std::string s;
  for (const auto& d : dirs_) s += (s.empty() ? "" : ";") + d;
  return s;
}

std::vector<int> Cgroups::join_fds() const {
  std::vector<int> fds;
  for (const auto& fd : join_) fds.push_back(fd.get());
  return fds;
}

void Cgroups::close_attach_fds() {
  join_.clear();
  v2_dir_fd_.reset();
}

std::uint64_t Cgroups::oom_kills() const {
  if (memory_dir_.empty()) return 0;
  std::uint64_t n = oom_kill_count(memory_dir_, v2_);
  return n > oom_base_ ? n - oom_base_ : 0;
}

Status Cgroups::signal_all(int sig) const {
  for (const auto& d : dirs_)
    for (pid_t p : procs_of(d))
      if (::kill(p, sig) != 0 && errno != ESRCH)
        return fail_errno("jail", "kill " + std::to_string(p));
  return {};
}

Status Cgroups::freeze(bool frozen, const std::string& name) const {
  if (dirs_.empty()) return fail(Errc::unsupported, "jail", "jail " + name + " has no cgroup");
  auto wait_for = [](const std::string& file, const std::string& want) -> Status {
    for (int i = 0; i < 1000; ++i) {
      std::string text;
      if (read_file(file, &text) && text.find(want) != std::string::npos) return {};
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return fail(Errc::timed_out, "jail", file + " does not read " + want);
  };
  if (v2_) {
    const std::string& d = dirs_.front();
    LJ_TRY(write_file(d + "/cgroup.freeze", frozen ? "1" : "0"));
    return wait_for(d + "/cgroup.events", frozen ? "frozen 1" : "frozen 0");
  }
  const CgroupLayout& l = cgroup_layout();
  if (l.freezer_mount.empty())
    return fail(Errc::unsupported, "jail", "no cgroup v1 freezer on this host");
  const std::string parent = l.freezer_mount + "/ljd-frozen";
  const std::string dir = parent + "/" + name;
  const std::string& members = dirs_.front();  // every process of the jail is in each of them
  if (frozen) {
    LJ_TRY(make_dir(parent));
    LJ_TRY(make_dir(dir));
    // Moved until none is left outside: a process forks only while it is not frozen, and a
    // process moved into a frozen cgroup is frozen (freezer-subsystem.txt).
    for (int round = 0; round < 100; ++round) {
      const auto inside = procs_of(dir);
      int moved = 0;
      for (pid_t p : procs_of(members))
        if (std::find(inside.begin(), inside.end(), p) == inside.end()) {
          // A process that exited meanwhile cannot be moved: not an error.
          if (Status w = write_file(dir + "/cgroup.procs", std::to_string(p)); !w && ::kill(p, 0) == 0)
            return w;
          ++moved;
        }
      if (round > 0 && moved == 0) return {};
      LJ_TRY(write_file(dir + "/freezer.state", "FROZEN"));
      LJ_TRY(wait_for(dir + "/freezer.state", "FROZEN"));
    }
    return fail(Errc::busy, "jail", "jail " + name + " keeps forking: not frozen");
  }
  if (!exists(dir)) return {};
  LJ_TRY(write_file(dir + "/freezer.state", "THAWED"));
  LJ_TRY(wait_for(dir + "/freezer.state", "THAWED"));
  const std::string home = l.freezer_mount + (l.freezer_own == "/" ? "" : l.freezer_own);
  // Moved back until none is left: thawed, a process may fork while it is moved, and its child
  // is born here.
  for (int round = 0; round < 100; ++round) {
    const auto left = procs_of(dir);
    if (left.empty()) break;
    for (pid_t p : left)
      if (Status w = write_file(home + "/cgroup.procs", std::to_string(p)); !w && ::kill(p, 0) == 0)
        return w;
  }
  if (!remove_empty_cgroup(dir) && exists(dir))
    return fail(Errc::busy, "jail", "rmdir " + dir + ": processes of jail " + name + " still in it");
  return {};
}

// The memory limit and the swap limit with it. A new memory limit alone moves the swap limit
// along where the jail had no swap (memsw equal to the memory limit, swap.max 0), and leaves it
// otherwise, as runc's update does. `d` is the jail's memory cgroup, `file` its limit's file.
Status Cgroups::update_memory(const LimitsUpdate& u, const std::string& d,
                              const char* file) const {
  auto number = [&](const std::string& f) -> std::uint64_t {
    std::string text;
    if (!read_file(d + "/" + f, &text) || text.rfind("max", 0) == 0) return 0;
    return std::strtoull(text.c_str(), nullptr, 10);
  };
  const std::uint64_t cur_memory = number(file);
  const std::uint64_t memory = u.memory_bytes.value_or(cur_memory);
  if (v2_) {
    const bool swap = exists(d + "/memory.swap.max");
    if (u.memory_swap_bytes) {
      LJ_TRY(check_swap(memory, *u.memory_swap_bytes));
      LJ_TRY(swap_accounted(swap, *u.memory_swap_bytes));
    }
    if (u.memory_bytes)
      LJ_TRY(write_file(d + "/memory.max", memory ? std::to_string(memory) : "max"));
    if (swap && u.memory_swap_bytes)
      LJ_TRY(write_file(d + "/memory.swap.max", swap_max_of(memory, *u.memory_swap_bytes)));
    return {};
  }
  const bool memsw = exists(d + "/memory.memsw.limit_in_bytes");
  std::optional<std::string> new_memsw;
  if (u.memory_swap_bytes) {
    LJ_TRY(check_swap(memory, *u.memory_swap_bytes));
    LJ_TRY(swap_accounted(memsw, *u.memory_swap_bytes));
    if (memsw) new_memsw = memsw_of(memory, *u.memory_swap_bytes);
  } else if (memsw && number("memory.memsw.limit_in_bytes") == cur_memory) {
    new_memsw = memsw_of(memory, 0);  // no swap before, none after
  }
  // memory <= memsw at every moment (memory.txt, 2.5): memsw first when it ends at or above the
  // current memory limit, else the memory limit first.
  const std::string mem = memory ? std::to_string(memory) : "-1";
  const bool memsw_first =
      new_memsw && (*new_memsw == "-1" || cur_memory == 0 ||
                    std::strtoull(new_memsw->c_str(), nullptr, 10) >= cur_memory);
  if (memsw_first) LJ_TRY(write_file(d + "/memory.memsw.limit_in_bytes", *new_memsw));
  if (u.memory_bytes) LJ_TRY(write_file(d + "/memory.limit_in_bytes", mem));
  if (new_memsw && !memsw_first) LJ_TRY(write_file(d + "/memory.memsw.limit_in_bytes", *new_memsw));
  return {};
}

Status Cgroups::update(const LimitsUpdate& u) const {
  const auto& memory_bytes = u.memory_bytes;
  const auto& pids = u.pids;
  auto find = [&](const char* file) -> std::string {
    for (const auto& d : dirs_)
      if (exists(d + "/" + file)) return d;
    return {};
  };
  auto need = [&](const char* file, const char* what) -> Result<std::string> {
    std::string d = find(file);
    if (d.empty())
      return fail(Errc::unsupported, "jail",
                  std::string("the jail has no ") + what + " cgroup (made only for a limit at its start)");
    return d;
  };
  if (memory_bytes || u.memory_swap_bytes) {
    const char* file = v2_ ? "memory.max" : "memory.limit_in_bytes";
    const std::string d = LJ_TRY(need(file, "memory"));
    LJ_TRY(update_memory(u, d, file));
  }
  if (pids) {
    const std::string d = LJ_TRY(need("pids.max", "pids"));
    LJ_TRY(write_file(d + "/pids.max", *pids ? std::to_string(*pids) : "max"));
  }
  if (u.cpu_percent || u.cpu_quota_us) {
    auto [quota, period] = cfs_of(u.cpu_quota_us.value_or(0), u.cpu_period_us.value_or(0),
                                  u.cpu_percent.value_or(0));
    if (v2_) {
      const std::string d = LJ_TRY(need("cpu.max", "cpu"));
      LJ_TRY(write_file(d + "/cpu.max", (quota.empty() ? "max" : quota) + " " + period));
    } else {
      const std::string d = LJ_TRY(need("cpu.cfs_quota_us", "cpu"));
      LJ_TRY(write_file(d + "/cpu.cfs_period_us", period));
      LJ_TRY(write_file(d + "/cpu.cfs_quota_us", quota.empty() ? "-1" : quota));
    }
  }
  if (u.cpu_shares && *u.cpu_shares) {
    if (v2_) {
      const std::string d = LJ_TRY(need("cpu.weight", "cpu"));
      LJ_TRY(write_file(d + "/cpu.weight", cpu_weight_of(*u.cpu_shares)));
    } else {
      const std::string d = LJ_TRY(need("cpu.shares", "cpu"));
      LJ_TRY(write_file(d + "/cpu.shares", std::to_string(*u.cpu_shares)));
    }
  }
  if (u.cpu_rt_period_us || u.cpu_rt_runtime_us) {
    if (v2_)
      return fail(Errc::unsupported, "jail",
                  "limits.cpu_rt_period_us and cpu_rt_runtime_us have no cgroup v2 file");
    const std::string d = LJ_TRY(need("cpu.rt_runtime_us", "cpu (with realtime bandwidth)"));
    LJ_TRY(write_rt(d, u.cpu_rt_period_us.value_or(0), u.cpu_rt_runtime_us.value_or(0)));
  }
  if (u.cpuset_cpus || u.cpuset_mems) {
    const std::string d = LJ_TRY(need("cpuset.cpus", "cpuset"));
    // Empty: the parent's again (v2 takes an empty list as that; v1 needs the values).
    auto value = [&](const std::optional<std::string>& want, const char* file) -> Result<std::string> {
      if (!want->empty() || v2_) return *want;
      std::string v;
      if (!read_file(parent_of(d) + file, &v)) return fail_errno("jail", std::string("read ") + parent_of(d) + file);
      return trimmed(v);
    };
    for (const auto& [want, file] : {std::pair{&u.cpuset_cpus, "/cpuset.cpus"},
                                     std::pair{&u.cpuset_mems, "/cpuset.mems"}}) {
      if (!*want) continue;
      const std::string v = LJ_TRY(value(*want, file));
      LJ_TRY(write_file(d + file, v));
    }
  }
  return {};
}

Status Cgroups::destroy() {
  close_attach_fds();
  Status first;
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    const std::string& d = *it;
    if (!exists(d)) continue;
    if (v2_) (void)write_file(d + "/cgroup.kill", "1");
    // v1 has no cgroup.kill: SIGKILL what is listed until the list stays empty (a fork racing
    // the first pass lands in the same cgroup and is caught by the next one).
    auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    int delay_us = 50;
    while (true) {
      auto pids = procs_of(d);
      for (pid_t p : pids) ::kill(p, SIGKILL);
      if (pids.empty() && pooled_ && give_back(d, v2_)) break;
      if (pids.empty() && LJ_SYS("rmdir", ::rmdir(d.c_str())) == 0) break;
      if (pids.empty() && errno != EBUSY) {
        if (errno != ENOENT && first) first = fail_errno("jail", "rmdir " + d);
        break;
      }
      if (std::chrono::steady_clock::now() > until) {
        if (first) first = fail(Errc::busy, "jail", "cgroup " + d + " does not empty");
        break;
      }
      std::this_thread::sleep_for(std::chrono::microseconds(delay_us));
      delay_us = std::min(delay_us * 2, 10000);
    }
  }
  dirs_.clear();
  memory_dir_.clear();
  oom_base_ = 0;
  return first;
}

}  // namespace lj::jail
