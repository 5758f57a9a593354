#include "jail/freebsd/jail_sys.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <signal.h>
#include <sys/jail.h>
#include <sys/rctl.h>
#include <sys/sysctl.h>
#include <sys/user.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "common/sys.hpp"

namespace lj::jail::freebsd {

namespace {
constexpr const char* kDomain = "jail";

// kern.proc.* sysctls: size, then fetch with slack; a table that grew meanwhile gives ENOMEM, so
// retry a few times.
Result<std::vector<struct kinfo_proc>> read_procs(int* mib, unsigned miblen, bool missing_ok) {
  for (int attempt = 0; attempt < 8; ++attempt) {
    std::size_t len = 0;
    if (LJ_SYS("sysctl", ::sysctl(mib, miblen, nullptr, &len, nullptr, 0)) != 0) {
      if (missing_ok && errno == ESRCH) return std::vector<struct kinfo_proc>{};
      return fail_errno(kDomain, "sysctl kern.proc");
    }
    std::vector<struct kinfo_proc> procs(len / sizeof(struct kinfo_proc) + 32);
    len = procs.size() * sizeof(struct kinfo_proc);
    if (LJ_SYS("sysctl", ::sysctl(mib, miblen, procs.data(), &len, nullptr, 0)) != 0) {
      if (errno == ENOMEM) continue;
      if (missing_ok && errno == ESRCH) return std::vector<struct kinfo_proc>{};
      return fail_errno(kDomain, "sysctl kern.proc");
    }
    procs.resize(len / sizeof(struct kinfo_proc));
    return procs;
  }
  return fail(Errc::busy, kDomain, "sysctl kern.proc: the process table kept growing");
}

ProcInfo to_info(const struct kinfo_proc& kp) {
  ProcInfo p;
  p.pid = kp.ki_pid;
  p.ppid = kp.ki_ppid;
  p.jid = kp.ki_jid;
  p.start_usec = static_cast<std::uint64_t>(kp.ki_start.tv_sec) * 1000000u +
                 static_cast<std::uint64_t>(kp.ki_start.tv_usec);
  p.zombie = kp.ki_stat == SZOMB;
  p.stopped = kp.ki_stat == SSTOP;
  return p;
}

Error with_errmsg(std::string what, const char* errmsg, int err) {
  if (errmsg[0] != '\0') what += " (kernel: " + std::string(errmsg) + ")";
  return Error::from_errno(kDomain, what, err);
}
}  // namespace

// ---- JailParams ----

JailParams::JailParams() {
  std::memset(errmsg_, 0, sizeof(errmsg_));
}

void JailParams::push_name(const char* name) {
  auto& n = strings_.emplace_back(name);
  iov_.push_back({const_cast<char*>(n.c_str()), n.size() + 1});
}

void JailParams::str(const char* name, const std::string& value) {
  push_name(name);
  auto& v = strings_.emplace_back(value);
  iov_.push_back({const_cast<char*>(v.c_str()), v.size() + 1});
}

void JailParams::integer(const char* name, int value) {
  raw(name, &value, sizeof(value));
}

void JailParams::boolean(const char* name) {
  push_name(name);
  iov_.push_back({nullptr, 0});
}

void JailParams::raw(const char* name, const void* data, std::size_t len) {
  push_name(name);
  auto& b = blobs_.emplace_back(len);
  if (len > 0) std::memcpy(b.data(), data, len);
  iov_.push_back({b.data(), len});
}

std::optional<int> JailParams::get_int(const char* name) const {
  for (std::size_t i = 0; i + 1 < iov_.size(); i += 2)
    if (std::strcmp(static_cast<const char*>(iov_[i].iov_base), name) == 0 &&
        iov_[i + 1].iov_len == sizeof(int)) {
      int v;
      std::memcpy(&v, iov_[i + 1].iov_base, sizeof v);
      return v;
    }
  return std::nullopt;
}

struct iovec* JailParams::iov() {
  static char kErrmsgName[] = "errmsg";
  errmsg_[0] = '\0';
  call_ = iov_;
  call_.push_back({kErrmsgName, sizeof(kErrmsgName)});
  call_.push_back({errmsg_, sizeof(errmsg_)});
  return call_.data();
}

Result<int> jail_set(JailParams& params, int flags, const std::string& what) {
  struct iovec* iov = params.iov();
  int jid = LJ_SYS("jail_set", ::jail_set(iov, params.count(), flags));
  if (jid < 0) return fail(with_errmsg("jail_set " + what, params.errmsg(), errno));
  return jid;
}

Result<std::optional<int>> find_jail(const std::string& name, bool dying) {
  JailParams p;
  p.str("name", name);
  int jid = LJ_SYS("jail_get", ::jail_get(p.iov(), p.count(), dying ? JAIL_DYING : 0));
  if (jid >= 0) return std::optional<int>(jid);
  if (errno == ENOENT) return std::optional<int>();
  return fail(with_errmsg("jail_get name=" + name, p.errmsg(), errno));
}

Status make_room_for_child(const std::string& parent) {
  JailParams p;
  p.str("name", parent);
  p.integer("children.cur", 0);
  p.integer("children.max", 0);
  int jid = LJ_SYS("jail_get", ::jail_get(p.iov(), p.count(), 0));
  if (jid < 0) {
    if (errno == ENOENT) return fail(Errc::not_found, kDomain, "parent jail " + parent + " is not running");
    return fail(with_errmsg("jail_get name=" + parent, p.errmsg(), errno));
  }
  const int cur = p.get_int("children.cur").value_or(0);
  const int max = p.get_int("children.max").value_or(0);
  if (cur < max) return {};
  JailParams u;
  u.integer("jid", jid);
  u.integer("children.max", cur + 1);
  LJ_TRY(jail_set(u, JAIL_UPDATE,
                  "jid=" + std::to_string(jid) + " (" + parent + ") children.max=" +
                      std::to_string(cur + 1)));
  return {};
}

// ---- process table ----

Result<std::optional<ProcInfo>> proc_info(pid_t pid) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PID, static_cast<int>(pid)};
  auto procs = LJ_TRY(read_procs(mib, 4, /*missing_ok=*/true));
  if (procs.empty()) return std::optional<ProcInfo>();
  return std::optional<ProcInfo>(to_info(procs.front()));
}

Result<std::vector<ProcInfo>> processes_in_jail(int jid) {
  int mib[4] = {CTL_KERN, KERN_PROC, KERN_PROC_PROC, 0};
  auto procs = LJ_TRY(read_procs(mib, 3, /*missing_ok=*/false));
  std::vector<ProcInfo> out;
  for (const auto& kp : procs)
    if (kp.ki_jid == jid) out.push_back(to_info(kp));
  return out;
}

Status remove_jail_and_wait(const std::string& name, std::chrono::milliseconds limit) {
  auto alive = LJ_TRY(find_jail(name));
  if (alive) {
    if (LJ_SYS("jail_remove", ::jail_remove(*alive)) != 0 && errno != EINVAL)
      return fail_errno(kDomain, "jail_remove jid=" + std::to_string(*alive) + " name=" + name);
  }
  // A removed jail is "dying" until its last reference goes; its jid is not reused meanwhile, so
  // waiting on it by jid is safe. Zombies do not count here: only their parent (us, or init) can
  // reap them, and until it does they keep the jail, and its root, referenced (wait_jail_freed).
  auto dying = alive ? alive : LJ_TRY(find_jail(name, /*dying=*/true));
  if (!dying) return {};
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    auto procs = LJ_TRY(processes_in_jail(*dying));
    std::size_t live = 0;
    for (const auto& p : procs) live += p.zombie ? 0 : 1;
    if (live == 0) return {};
    if (std::chrono::steady_clock::now() >= until)
      return fail(Errc::busy, kDomain,
                  "jail " + name + " (jid " + std::to_string(*dying) + ") still has " +
                      std::to_string(live) + " process(es) after jail_remove");
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Status wait_jail_freed(const std::string& name, std::chrono::milliseconds limit,
                       const std::function<void()>& each_round) {
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (each_round) each_round();
    auto jid = LJ_TRY(find_jail(name, /*dying=*/true));
    if (!jid) return {};
    if (std::chrono::steady_clock::now() >= until) {
      // The evidence: processes still counted in it (zombies nobody reaped hold it).
      std::string procs;
      if (auto in = processes_in_jail(*jid))
        for (const auto& p : *in)
          procs += " " + std::to_string(p.pid) + (p.zombie ? "(zombie)" : "");
      return fail(Errc::busy, kDomain,
                  "jail " + name + " (jid " + std::to_string(*jid) + ") is still dying after " +
                      std::to_string(limit.count()) + " ms; its processes:" +
                      (procs.empty() ? std::string(" none (kernel references hold it: with "
                                                   "vfs.buf_pager_relbuf=0, buffers its processes "
                                                   "read keep their credential; docs/freebsd.md)")
                                     : procs));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Status signal_jail(const std::string& name, int sig) {
  auto jid = LJ_TRY(find_jail(name));
  if (!jid) return fail(Errc::not_found, kDomain, "no live jail named " + name);
  auto procs = LJ_TRY(processes_in_jail(*jid));
  for (const auto& p : procs) {
    if (p.zombie) continue;
    if (LJ_SYS("kill", ::kill(p.pid, sig)) != 0 && errno != ESRCH)
      return fail_errno(kDomain, "kill pid=" + std::to_string(p.pid) +
                                     " sig=" + std::to_string(sig) + " in jail " + name);
  }
  return {};
}

Status freeze_jail(const std::string& name, bool frozen, std::chrono::milliseconds limit) {
  auto jid = LJ_TRY(find_jail(name));
  // Nothing left to thaw is thawed: a paused container killed from outside is deleted (thawed
  // first) without an error.
  if (!jid && !frozen) return {};
  if (!jid) return fail(Errc::not_found, kDomain, "no live jail named " + name);
  if (!frozen) return signal_jail(name, SIGCONT);
  const auto until = std::chrono::steady_clock::now() + limit;
  for (;;) {
    // A running thread on another CPU stops at its next return to user mode: until then the
    // process reads as running, and the next pass finds it stopped (a second SIGSTOP is a no-op).
    std::size_t running = 0;
    const auto procs = LJ_TRY(processes_in_jail(*jid));
    for (const auto& p : procs) {
      if (p.zombie || p.stopped) continue;
      ++running;
      if (LJ_SYS("kill", ::kill(p.pid, SIGSTOP)) != 0 && errno != ESRCH)
        return fail_errno(kDomain, "kill pid=" + std::to_string(p.pid) + " SIGSTOP in jail " + name);
    }
    if (running == 0) return {};
    if (std::chrono::steady_clock::now() >= until)
      return fail(Errc::busy, kDomain,
                  "jail " + name + ": " + std::to_string(running) + " process(es) not stopped after " +
                      std::to_string(limit.count()) + " ms");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// ---- rctl ----

bool racct_enabled() {
  // kern.racct.enable is a SYSCTL_BOOL on current releases (1 byte) and was an int before: read
  // into a zeroed buffer and look at what the kernel wrote.
  unsigned char buf[sizeof(int)] = {};
  std::size_t len = sizeof(buf);
  if (::sysctlbyname("kern.racct.enable", buf, &len, nullptr, 0) != 0) return false;
  for (std::size_t i = 0; i < len; ++i)
    if (buf[i] != 0) return true;
  return false;
}

Error racct_disabled_error() {
  return Error(Errc::unsupported, kDomain,
               "resource limits need RACCT/RCTL: add kern.racct.enable=1 to /boot/loader.conf "
               "and reboot (see docs/freebsd.md)");
}

Status add_rctl_rule(const std::string& rule) {
  if (LJ_SYS("rctl_add_rule", ::rctl_add_rule(rule.c_str(), rule.size() + 1, nullptr, 0)) == 0)
    return {};
  if (errno == ENOSYS) return fail(racct_disabled_error());
  return fail_errno(kDomain, "rctl_add_rule " + rule);
}

Status remove_rctl_rules(const std::string& name, const std::string& resource) {
  std::string filter = "jail:" + name;
  if (!resource.empty()) filter += ":" + resource;
  if (LJ_SYS("rctl_remove_rule",
             ::rctl_remove_rule(filter.c_str(), filter.size() + 1, nullptr, 0)) == 0)
    return {};
  // ESRCH: no rule matched. ENOSYS: racct off, so no rule can exist.
  if (errno == ESRCH || errno == ENOSYS) return {};
  return fail_errno(kDomain, "rctl_remove_rule " + filter);
}

std::size_t count_in_msgbuf(const std::string& needle) {
  std::size_t len = 0;
  if (::sysctlbyname("kern.msgbuf", nullptr, &len, nullptr, 0) != 0 || len == 0) return 0;
  std::string buf(len + 4096, '\0');
  len = buf.size();
  if (::sysctlbyname("kern.msgbuf", buf.data(), &len, nullptr, 0) != 0) return 0;
  buf.resize(len);
  std::size_t n = 0;
  for (auto at = buf.find(needle); at != std::string::npos; at = buf.find(needle, at + 1)) ++n;
  return n;
}

}  // namespace lj::jail::freebsd
