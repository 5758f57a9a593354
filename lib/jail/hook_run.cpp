#include "jail/hook_run.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace lj::jail {

// The pointers are taken once the list is complete: moving a hook moves its strings' buffers.
void prepare_hooks(const HookPoint& point, const char* kind, PreparedHooks& out) {
  out.kind = kind;
  out.state_head = point.state_head;
  out.state_tail = point.state_tail;
  for (const Hook& h : point.hooks) {
    PreparedHook c;
    c.path = h.path;
    c.argv_storage = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    c.env_storage = h.env;
    c.timeout_s = h.timeout_s;
    out.list.push_back(std::move(c));
  }
  for (auto& c : out.list) {
    for (auto& a : c.argv_storage) c.argv.push_back(a.data());
    c.argv.push_back(nullptr);
    for (auto& e : c.env_storage) c.envp.push_back(e.data());
    c.envp.push_back(nullptr);
  }
}

namespace {

void append(char* buf, std::size_t cap, const char* s) {
  std::size_t n = std::strlen(buf);
  for (; *s && n + 1 < cap; ++s) buf[n++] = *s;
  buf[n] = '\0';
}

char* utoa(char* end, unsigned v) {
  *--end = '\0';
  do {
    *--end = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v);
  return end;
}

void append_uint(char* buf, std::size_t cap, unsigned v) {
  char num[16];
  append(buf, cap, utoa(num + sizeof num, v));
}

bool hook_failed(const PreparedHooks& hs, const PreparedHook& h, const char* what, unsigned n,
                 int err, HookFailure* f, const char* suffix = "") {
  f->step[0] = f->detail[0] = '\0';
  append(f->step, sizeof f->step, hs.kind);
  append(f->step, sizeof f->step, " hook");
  append(f->detail, sizeof f->detail, h.path.c_str());
  append(f->detail, sizeof f->detail, what);
  if (n != ~0U) append_uint(f->detail, sizeof f->detail, n);
  append(f->detail, sizeof f->detail, suffix);
  f->err = err;
  return false;
}

}  // namespace

// One after the other: the state in an anonymous file as stdin, a fork without the caller's
// atfork handlers, the exec, then a wait polled against the timeout.
bool run_hooks(const PreparedHooks& hs, HookFailure* f) noexcept {
  for (const PreparedHook& h : hs.list) {
    const int in = hook_state_file();
    if (in < 0) return hook_failed(hs, h, ": state file", ~0U, errno, f);
    char pid[16];
    const char* p = utoa(pid + sizeof pid, static_cast<unsigned>(::getpid()));
    // Sized before the writes: FreeBSD's shm objects write within their size only (a write to a
    // new SHM_ANON object writes 0 bytes and succeeds: the hooks read an empty state), Linux's
    // memfd grows; each takes ftruncate(2). A short write is an error too.
    const std::size_t len = hs.state_head.size() + std::strlen(p) + hs.state_tail.size();
    if (::ftruncate(in, static_cast<off_t>(len)) != 0) {
      const int e = errno;
      ::close(in);
      return hook_failed(hs, h, ": size state file", ~0U, e, f);
    }
    for (const char* part : {hs.state_head.c_str(), p, hs.state_tail.c_str()}) {
      const ssize_t n = ::write(in, part, std::strlen(part));
      if (n != static_cast<ssize_t>(std::strlen(part))) {
        const int e = n < 0 ? errno : EIO;
        ::close(in);
        return hook_failed(hs, h, ": write state", ~0U, e, f);
      }
    }
    ::lseek(in, 0, SEEK_SET);
    const pid_t child = fork_for_hook();
    if (child < 0) {
      ::close(in);
      return hook_failed(hs, h, ": fork", ~0U, errno, f);
    }
    if (child == 0) {
      if (::dup2(in, 0) < 0) ::_exit(127);
      ::execve(h.path.c_str(), h.argv.data(), h.envp.data());
      ::_exit(127);
    }
    ::close(in);
    timespec start{}, now{};
    ::clock_gettime(CLOCK_MONOTONIC, &start);
    int ws = 0;
    for (;;) {
      pid_t r = ::wait4(child, &ws, h.timeout_s > 0 ? WNOHANG : 0, nullptr);
      if (r == child) break;
      if (r < 0 && errno != EINTR) return hook_failed(hs, h, ": wait4", ~0U, errno, f);
      ::clock_gettime(CLOCK_MONOTONIC, &now);
      const long long waited_ns = (now.tv_sec - start.tv_sec) * 1000000000LL +
                                  (now.tv_nsec - start.tv_nsec);
      if (h.timeout_s > 0 && waited_ns >= h.timeout_s * 1000000000LL) {
        ::kill(child, SIGKILL);
        ::wait4(child, &ws, 0, nullptr);
        return hook_failed(hs, h, ": timed out after ", static_cast<unsigned>(h.timeout_s),
                           ETIMEDOUT, f, "s");
      }
      if (r == 0) {
        timespec tick = {0, 10 * 1000 * 1000};
        ::nanosleep(&tick, nullptr);
      }
    }
    if (WIFSIGNALED(ws))
      return hook_failed(hs, h, ": killed by signal ", static_cast<unsigned>(WTERMSIG(ws)), 0, f);
    if (WEXITSTATUS(ws) != 0)
      return hook_failed(hs, h, ": exit status ", static_cast<unsigned>(WEXITSTATUS(ws)), 0, f);
  }
  return true;
}

void exit_held_hook_failure(const HookFailure& f) noexcept {
  for (const char* s : {"ljoci: ", static_cast<const char*>(f.step), " ",
                        static_cast<const char*>(f.detail), "\n"})
    (void)!::write(2, s, std::strlen(s));
  ::_exit(127);
}

}  // namespace lj::jail
