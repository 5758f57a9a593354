// ljoci: a runc-compatible OCI runtime on the engine (lib/jail) alone: no daemon, no SQLite; the
// state of each container lives in files under --root (lib/oci/state.hpp). runc's process model:
// `create` spawns the jail with the command held before its exec (jail::ProcessOptions::hold_fd
// on <root>/<id>.fifo) and exits, leaving the jail's init to its caller (conmon, the shim:
// the subreaper); `start` writes the fifo's byte. The jail's init is the command itself
// (jail::ProcessOptions::command_is_init), the container's pid, as runc's. docs/oci.md has the
// commands, what config.json maps to, and what is refused.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "common/scope.hpp"
#include "common/signals.hpp"
#include "jail/backend.hpp"
#include "oci/config.hpp"
#include "oci/state.hpp"

namespace {

// The engine's options: its per-jail state under the runtime's root. No cgroup scope and no pids
// cap of its own: the caller (the shim, conmon) places and limits the containers.
lj::jail::BackendOptions engine_options(const std::filesystem::path& root) {
  lj::jail::BackendOptions o;
  o.state_dir = root / ".engine";
  o.reuse_cgroups = false;  // one container per process: nothing to park its cgroups for
  return o;
}

using lj::Errc;
using lj::Result;
using lj::Status;
using lj::UniqueFd;
using lj::fail;
namespace oci = lj::oci;

constexpr const char* kVersion = "0.1.0";
constexpr const char* kSpecVersion = "1.1.0";

struct Globals {
  std::string root = "/run/ljoci";
  std::string log;
  bool log_json = false;
  bool debug = false;
  bool systemd_cgroup = false;  // cgroupsPath is "slice:prefix:name" (oci::cgroup_path_of)
};

Globals g;

// Errors go to stderr and, with --log, to the log file (JSON lines with --log-format json: what
// conmon and containerd's shim read back to explain a failure).
void log_line(const char* level, const std::string& msg) {
  if (g.log.empty()) return;
  std::ofstream out(g.log, std::ios::app);
  char ts[64];
  std::time_t now = std::time(nullptr);
  std::strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
  if (g.log_json)
    out << nlohmann::json{{"level", level}, {"msg", msg}, {"time", ts}}.dump() << "\n";
  else
    out << "time=\"" << ts << "\" level=" << level << " msg=\"" << msg << "\"\n";
}

int report(const lj::Error& e) {
  std::string msg = e.what();
  std::fprintf(stderr, "ljoci: %s\n", msg.c_str());
  log_line("error", msg);
  return 1;
}

void debug(const std::string& msg) {
  if (g.debug) log_line("debug", msg);
}

// UTC from the calendar arithmetic alone: glibc's gmtime() reads /etc/localtime first (its
// tzset), a file and a parse in every create.
std::string now_rfc3339() {
  using namespace std::chrono;
  const auto t = time_point_cast<nanoseconds>(system_clock::now());
  const auto day = floor<days>(t);
  const year_month_day ymd{day};
  const hh_mm_ss hms{t - day};
  char out[96];
  std::snprintf(out, sizeof out, "%04d-%02u-%02uT%02lld:%02lld:%02lld.%09lldZ", int(ymd.year()),
                unsigned(ymd.month()), unsigned(ymd.day()),
                static_cast<long long>(hms.hours().count()),
                static_cast<long long>(hms.minutes().count()),
                static_cast<long long>(hms.seconds().count()),
                static_cast<long long>(hms.subseconds().count()));
  return out;
}

// Command-line: runc's (urfave/cli) style, "-x", "--x", "--x=v" and "--x v" alike.
struct Args {
  std::map<std::string, std::string> opts;  // the last value of each flag
  std::map<std::string, std::vector<std::string>> all;  // every value (exec --env, repeated)
  std::vector<std::string> pos;

  bool has(const std::string& k) const { return opts.count(k) > 0; }
  std::string get(const std::string& k, std::string dflt = {}) const {
    auto it = opts.find(k);
    return it == opts.end() ? dflt : it->second;
  }
};

Result<Args> parse_args(int argc, char** argv, int from, const std::vector<std::string>& flags,
                        const std::vector<std::string>& valued) {
  Args a;
  auto known = [](const std::vector<std::string>& v, const std::string& k) {
    for (const auto& x : v)
      if (x == k) return true;
    return false;
  };
  for (int i = from; i < argc; ++i) {
    std::string s = argv[i];
    if (s == "--") {
      for (++i; i < argc; ++i) a.pos.push_back(argv[i]);
      break;
    }
    if (s.size() > 1 && s[0] == '-' && a.pos.empty()) {
      std::string k = s.substr(s[1] == '-' ? 2 : 1), v;
      auto eq = k.find('=');
      bool has_v = eq != std::string::npos;
      if (has_v) {
        v = k.substr(eq + 1);
        k = k.substr(0, eq);
      }
      if (known(flags, k)) {
        a.opts[k] = has_v ? v : "true";
      } else if (known(valued, k)) {
        if (!has_v) {
          if (i + 1 >= argc) return fail(Errc::invalid_argument, "oci", "flag --" + k + " needs a value");
          v = argv[++i];
        }
        a.opts[k] = v;
        a.all[k].push_back(v);
      } else {
        return fail(Errc::invalid_argument, "oci", "unknown flag " + s);
      }
      continue;
    }
    a.pos.push_back(s);
  }
  return a;
}

Result<std::string> one_id(const Args& a) {
  if (a.pos.empty()) return fail(Errc::invalid_argument, "oci", "container id missing");
  return a.pos[0];
}

oci::StateDir state_dir() { return oci::StateDir(g.root); }

// The prelude of every command on an existing container: the state directory and the state
// saved there at create.
struct Container {
  std::string id;
  oci::StateDir sd;
  oci::ContainerState state;
};

Result<Container> load_container(const std::string& id) {
  Container c{id, state_dir(), {}};
  c.state = LJ_TRY(c.sd.load(id));
  return c;
}

// The same for the container named by the command's first argument.
Result<Container> load_container(const Args& a) { return load_container(LJ_TRY(one_id(a))); }

// ---- hooks (runtime namespace: prestart, createRuntime, poststart, poststop) ----

Status run_hook(const oci::Hook& h, const std::string& state, const char* kind) {
  int in[2];
  if (::pipe2(in, O_CLOEXEC) != 0) return lj::fail_errno("oci", "pipe2");
  UniqueFd rd(in[0]), wr(in[1]);
  pid_t pid = ::fork();
  if (pid < 0) return lj::fail_errno("oci", "fork");
  if (pid == 0) {
    ::dup2(rd.get(), 0);
    std::vector<char*> argv, envp;
    std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
    for (auto& s : args) argv.push_back(s.data());
    argv.push_back(nullptr);
    std::vector<std::string> env = h.env;
    for (auto& s : env) envp.push_back(s.data());
    envp.push_back(nullptr);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    ::_exit(127);
  }
  rd.reset();
  ::signal(SIGPIPE, SIG_IGN);
  ssize_t n = ::write(wr.get(), state.data(), state.size());
  (void)n;
  wr.reset();
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(h.timeout_s);
  int ws = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &ws, h.timeout_s > 0 ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return lj::fail_errno("oci", "waitpid hook");
    if (h.timeout_s > 0 && std::chrono::steady_clock::now() >= until) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &ws, 0);
      return fail(Errc::timed_out, "oci", std::string(kind) + " hook " + h.path + " timed out");
    }
    if (r == 0) ::usleep(10000);
  }
  if (!WIFEXITED(ws) || WEXITSTATUS(ws) != 0)
    return fail(Errc::system, "oci",
                std::string(kind) + " hook " + h.path + " failed (status " + std::to_string(ws) +
                    ")");
  return {};
}

Status run_hooks(const std::vector<oci::Hook>& hooks, const std::string& state, const char* kind) {
  for (const auto& h : hooks) LJ_TRY(run_hook(h, state, kind));
  return {};
}

// poststart and poststop: "if any ... hook fails, the runtime MUST log a warning, but the
// remaining hooks and lifecycle continue as if the hook had succeeded" (runtime-spec
// runtime.md, Lifecycle; runtime-tools poststart_fail, poststop_fail): each failure a warning.
void run_hooks_warning(const std::vector<oci::Hook>& hooks, const std::string& state,
                       const char* kind) {
  for (const auto& h : hooks)
    if (Status st = run_hook(h, state, kind); !st) {
      // On stderr too, as runc's warnings go there without --log.
      std::fprintf(stderr, "ljoci: warning: %s\n", st.error().what().c_str());
      log_line("warning", st.error().what());
    }
}

// The state the engine gives the createContainer and startContainer hooks: runc's, with status
// creating (resp. created) and the pid the hook's caller has in the container, split at the pid.
// A mark inside a JSON string would be preceded by an escaped quote: `"pid": <mark>` is unique.
void hook_state(oci::ContainerState s, oci::Status st, lj::jail::HookPoint& point) {
  constexpr pid_t kMark = 987654321;
  s.handle.pid = kMark;
  const std::string j = oci::state_json(s, st);
  const std::string key = "\"pid\": " + std::to_string(kMark);
  const auto at = j.find(key) + key.size() - std::to_string(kMark).size();
  point.state_head = j.substr(0, at);
  point.state_tail = j.substr(at + std::to_string(kMark).size());
}

// ---- the console socket: the engine sends the pty's master over it, as runc does ----

Result<UniqueFd> connect_console(const std::string& socket_path) {
  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!sock) return lj::fail_errno("oci", "socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path)
    return fail(Errc::invalid_argument, "oci", "console socket path too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  if (::connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return lj::fail_errno("oci", "connect " + socket_path);
  return sock;
}

// ---- create / start / run ----

// Written whole or not at all: the caller reads it as soon as it exists.
Status write_pid_file(const std::string& pid_file, pid_t pid) {
  const std::string tmp = pid_file + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << pid;
    if (!out) return lj::fail_errno("oci", "write " + tmp);
  }
  if (::rename(tmp.c_str(), pid_file.c_str()) != 0) return lj::fail_errno("oci", "rename " + tmp);
  return {};
}

struct Created {
  std::unique_ptr<lj::jail::Backend> backend;
  std::unique_ptr<lj::jail::Jail> jail;
  oci::ContainerState state;
  oci::Bundle bundle;
  bool held = true;  // the command waits for start's byte on the fifo
};

// Who starts the command: `start` (another process, later: create), or this one right after
// (run). Run holds it only for the runtime's hooks that must come between (prestart,
// createRuntime); otherwise the command is exec'd at once, and the engine, with nothing to hold,
// clones init on its own memory instead of a copy (spawn.cpp, clone_init).
enum class Starter { start_command, this_process };

// Everything of `create`, keeping the Jail (run waits on it). A failure leaves nothing: the jail
// is killed by its owner's destructor, the state directory removed.
Result<Created> create(const std::string& id, const std::string& bundle_dir,
                       const std::string& pid_file, const std::string& console_socket,
                       int preserve_fds, Starter starter) {
  auto sd = state_dir();
  LJ_TRY(oci::check_id(id));
  Created c;
  c.bundle = LJ_TRY(oci::load_bundle(bundle_dir.empty() ? "." : bundle_dir, id));
  oci::Bundle& b = c.bundle;
  if (b.terminal && console_socket.empty())
    return fail(Errc::invalid_argument, "oci", "process.terminal needs --console-socket");
  if (!b.terminal && !console_socket.empty())
    return fail(Errc::invalid_argument, "oci", "--console-socket given but process.terminal is false");
  lj::jail::JailSpec& spec = b.spec;
  UniqueFd netns, tty, ipcns, utsns, pidns, cgroupns, mntns;
  // linux.namespaces[].path: joined (the engine enters them; jail/spec.hpp JoinedNamespaces).
  auto open_ns = [](const std::string& path, const char* kind, UniqueFd& fd) -> Result<int> {
    if (path.empty()) return -1;
    fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return lj::fail_errno("oci", std::string("open ") + kind + " namespace " + path);
    return fd.get();
  };
  if (!b.netns_path.empty()) {
    spec.network.netns_fd = LJ_TRY(open_ns(b.netns_path, "network", netns));
    spec.network.mode = lj::jail::NetworkMode::netns;
  }
  // The backend first, and what the engine can make ahead for this container (its network
  // namespace, on another CPU) started now, beside the steps below until the spawn.
  c.backend = LJ_TRY(lj::jail::make_backend(engine_options(sd.root())));
  c.backend->prepare(spec);
  LJ_TRY(sd.make(id));
  bool keep = false;
  struct Undo {
    const oci::StateDir& sd;
    const std::string& id;
    bool& keep;
    ~Undo() {
      if (!keep) sd.remove(id);
    }
  } undo{sd, id, keep};

  // The fifo is made either way: it claims the id, and marks the container created until start.
  c.held = starter == Starter::start_command || !b.hooks.prestart.empty() ||
           !b.hooks.create_runtime.empty();
  UniqueFd hold;
  if (c.held) {
    // O_RDWR: the held command is a reader, so start's O_WRONLY open succeeds exactly while it
    // waits.
    hold.reset(::open(sd.fifo(id).c_str(), O_RDWR | O_CLOEXEC));
    if (!hold) return lj::fail_errno("oci", "open " + sd.fifo(id).string());
    spec.process.hold_fd = hold.get();
  }
  spec.process.preserve_fds = preserve_fds;  // runc's --preserve-fds: our 3.. are the caller's
  spec.process.command_is_init = true;  // runc's process model (docs/oci.md)
  spec.status_file = oci::engine_status_file(sd, id);
  spec.join.ipc = LJ_TRY(open_ns(b.ipcns_path, "ipc", ipcns));
  spec.join.uts = LJ_TRY(open_ns(b.utsns_path, "uts", utsns));
  spec.join.pid = LJ_TRY(open_ns(b.pidns_path, "pid", pidns));
  spec.join.cgroup = LJ_TRY(open_ns(b.cgroupns_path, "cgroup", cgroupns));
  spec.join.mnt = LJ_TRY(open_ns(b.mntns_path, "mount", mntns));
  spec.cgroup_path = LJ_TRY(oci::cgroup_path_of(b.cgroups_path, g.systemd_cgroup));
  if (b.terminal) {
    tty = LJ_TRY(connect_console(console_socket));
    spec.tty = lj::jail::Terminal{tty.get(), b.rows, b.cols};
  } else {
    spec.stdio = {0, 1, 2};
  }
  c.state.id = id;
  c.state.oci_version = b.oci_version;
  c.state.bundle = b.dir;
  c.state.created = now_rfc3339();
  c.state.annotations = b.annotations;
  hook_state(c.state, oci::Status::creating, spec.process.create_hooks);
  hook_state(c.state, oci::Status::created, spec.process.start_hooks);
  c.jail = LJ_TRY_CTX("creating container " + id, c.backend->spawn(spec));
  c.state.handle = c.jail->handle();
  c.state.config = b.config_text;  // the config this container was made from, not a later edit
  LJ_TRY(sd.save(c.state));
  LJ_TRY(oci::watch_exit(c.state));
  if (!pid_file.empty()) LJ_TRY(write_pid_file(pid_file, c.state.handle.pid));
  const std::string st = oci::state_json(c.state, oci::Status::created);
  LJ_TRY(run_hooks(b.hooks.prestart, st, "prestart"));
  LJ_TRY(run_hooks(b.hooks.create_runtime, st, "createRuntime"));
  keep = true;
  debug("created " + id + " pid " + std::to_string(c.state.handle.pid));
  return c;
}

// Leaves the jail to our caller: its destructor would kill it. The process exits right after.
void leave(Created& c) {
  lj::keep_forever(std::move(c.jail));
  lj::keep_forever(std::move(c.backend));
}

// Releases a created container's held command (the byte its hold waits for on its fifo), marks
// it started (the fifo gone) and runs the poststart hooks.
Status release_command(const oci::StateDir& sd, const oci::ContainerState& s, bool held,
                       const std::vector<oci::Hook>& poststart) {
  const std::string& id = s.id;
  if (held) {
    UniqueFd fifo(::open(sd.fifo(id).c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC));
    if (!fifo) return lj::fail_errno("oci", "open " + sd.fifo(id).string());
    if (::write(fifo.get(), "0", 1) != 1) return lj::fail_errno("oci", "write exec.fifo");
  }
  ::unlink(sd.fifo(id).c_str());
  run_hooks_warning(poststart, oci::state_json(s, oci::Status::running), "poststart");
  return {};
}

Status start(const std::string& id) {
  auto [_, sd, s] = LJ_TRY(load_container(id));
  const auto st = sd.status(s);
  if (st != oci::Status::created)
    return fail(Errc::conflict, "oci",
                "cannot start a container that is " + std::string(oci::status_name(st)));
  auto hooks = oci::runtime_hooks_of(s.config);
  return release_command(sd, s, true, hooks ? hooks->poststart : std::vector<oci::Hook>{});
}

// ---- signals ----

Result<int> parse_signal(const std::string& s) {
  if (auto n = lj::parse_signal(s)) return *n;
  return fail(Errc::invalid_argument, "oci", "unknown signal " + s);
}

Status kill_container(const std::string& id, int sig, bool all) {
  auto [_, sd, s] = LJ_TRY(load_container(id));
  const auto st = sd.status(s);
  // runc's words: containerd's shim takes an error containing "container not running" for a
  // process already gone (checkKillError), anything else as a failed kill.
  if (st == oci::Status::stopped && !all)
    return fail(Errc::conflict, "oci", "container not running: " + id);
  auto backend = LJ_TRY(lj::jail::make_backend(engine_options(sd.root())));
  auto adopted = backend->adopt(s.handle);
  // --all on a stopped container (containerd's CRI sends it when a container's command exits):
  // runc signals what its cgroup still holds and succeeds; with the init gone there is nothing
  // the engine can reach, and delete kills whatever is left.
  if (!adopted && st == oci::Status::stopped) return {};
  auto jail = LJ_TRY(std::move(adopted));
  Status r = jail->signal(sig, all);
  // A held (created) command has not exec'd: the signals it would ignore as a pid 1 without
  // handlers are meant for the container, so a created container stops on TERM/INT as runc's.
  if (r && st == oci::Status::created && sig != SIGKILL && (sig == SIGTERM || sig == SIGINT))
    r = jail->signal(SIGKILL, true);
  lj::keep_forever(std::move(jail));  // adopted, not ours to kill
  lj::keep_forever(std::move(backend));
  return r;
}

// ---- delete ----

Status delete_container(const std::string& id, bool force) {
  auto c = load_container(id);
  if (!c) {
    if (force && c.error().errc() == Errc::not_found) return {};
    return fail(c.error());
  }
  auto& [_, sd, s] = *c;
  const auto st = sd.status(s);
  if ((st == oci::Status::running || st == oci::Status::paused) && !force)
    return fail(Errc::conflict, "oci",
                "cannot delete container " + id + " that is " + oci::status_name(st));
  auto backend = LJ_TRY(lj::jail::make_backend(engine_options(sd.root())));
  // A frozen process does not die: thawed first (and its v1 freezer cgroup removed).
  if (st == oci::Status::paused || std::filesystem::exists(sd.paused_mark(id)))
    LJ_TRY(backend->freeze(s.handle, false));
  // Kills anything of it still alive (a created container, a forced delete), removes its cgroups.
  LJ_TRY(backend->release(s.handle));
  if (auto hooks = oci::runtime_hooks_of(s.config))
    run_hooks_warning(hooks->poststop, oci::state_json(s, oci::Status::stopped), "poststop");
  sd.remove(id);
  return {};
}

// ---- pause / resume / update (the engine's Backend::freeze and ::update) ----

Status pause_container(const std::string& id, bool pause) {
  auto [_, sd, s] = LJ_TRY(load_container(id));
  const auto st = sd.status(s);
  if (pause && st != oci::Status::running)
    return fail(Errc::conflict, "oci", "container " + id + " is " + oci::status_name(st) + ", not running");
  if (!pause && st != oci::Status::paused)
    return fail(Errc::conflict, "oci", "container " + id + " is " + oci::status_name(st) + ", not paused");
  auto backend = LJ_TRY(lj::jail::make_backend(engine_options(sd.root())));
  if (pause) {
    std::ofstream(sd.paused_mark(id)).flush();
    if (Status f = backend->freeze(s.handle, true); !f) {
      (void)backend->freeze(s.handle, false);
      ::unlink(sd.paused_mark(id).c_str());
      return f;
    }
    return {};
  }
  LJ_TRY(backend->freeze(s.handle, false));
  ::unlink(sd.paused_mark(id).c_str());
  return {};
}

// runc update: --resources FILE (the runtime spec's linux.resources; "-" is stdin) or flags.
// What the engine limits can change: memory and swap, pids, cpu shares,
// quota and period, the cpuset's cpus and mems, realtime period and runtime. containerd's CRI
// plugin (a kubelet's UpdateContainerResources) sends the container's whole linux.resources:
// its device rules, unchanged from the create's `config`, are taken as they are; others are an
// error naming them, as every field ljoci cannot change.
Result<lj::jail::Backend::LimitsUpdate> update_of(const Args& a, const std::string& config) {
  lj::jail::Backend::LimitsUpdate u;
  nlohmann::json r = nlohmann::json::object();
  const std::string file = a.get("resources", a.get("r"));
  if (!file.empty()) {
    std::ifstream f;
    std::istream* in = &std::cin;
    if (file != "-") {
      f.open(file);
      if (!f) return lj::fail_errno("oci", "open " + file);
      in = &f;
    }
    try {
      *in >> r;
    } catch (const nlohmann::json::exception& e) {
      return fail(Errc::invalid_argument, "oci", "resources: " + std::string(e.what()));
    }
  }
  auto number = [&](const char* flag, nlohmann::json& into) -> Status {
    if (!a.has(flag)) return {};
    try {
      into = std::stoll(a.get(flag));
    } catch (const std::exception&) {
      return fail(Errc::invalid_argument, "oci", std::string("--") + flag + " needs a number");
    }
    return {};
  };
  LJ_TRY(number("memory", r["memory"]["limit"]));
  LJ_TRY(number("memory-swap", r["memory"]["swap"]));
  LJ_TRY(number("pids-limit", r["pids"]["limit"]));
  LJ_TRY(number("cpu-quota", r["cpu"]["quota"]));
  LJ_TRY(number("cpu-period", r["cpu"]["period"]));
  LJ_TRY(number("cpu-rt-period", r["cpu"]["realtimePeriod"]));
  LJ_TRY(number("cpu-rt-runtime", r["cpu"]["realtimeRuntime"]));
  LJ_TRY(number("cpu-share", r["cpu"]["shares"]));
  if (a.has("cpuset-cpus")) r["cpu"]["cpus"] = a.get("cpuset-cpus");
  if (a.has("cpuset-mems")) r["cpu"]["mems"] = a.get("cpuset-mems");
  for (const char* k : {"kernel-memory", "kernel-memory-tcp", "memory-reservation",
                        "blkio-weight", "l3-cache-schema", "mem-bw-schema"})
    if (a.has(k)) return fail(Errc::unsupported, "oci", std::string("update --") + k + " is not supported");
  if (r.contains("devices") && !r["devices"].is_null()) {
    nlohmann::json created;
    try {
      created = nlohmann::json::parse(config).at("linux").at("resources").at("devices");
    } catch (const nlohmann::json::exception&) {
      created = nlohmann::json::array();
    }
    if (r["devices"] != created && !(r["devices"].empty() && created.empty()))
      return fail(Errc::unsupported, "oci",
                  "update of linux.resources.devices is not supported (other rules than the create's)");
    r.erase("devices");
  }
  for (auto& [k, v] : r.items()) {
    if (v.is_null() || ((v.is_object() || v.is_array()) && v.empty())) continue;
    if (k != "memory" && k != "pids" && k != "cpu")
      return fail(Errc::unsupported, "oci", "update of linux.resources." + k + " is not supported");
  }
  try {
    if (r.contains("memory") && r["memory"].is_object()) {
      const auto& m = r["memory"];
      for (auto& [k, v] : m.items())
        if (k != "limit" && k != "swap" && !v.is_null())
          return fail(Errc::unsupported, "oci", "update of linux.resources.memory." + k + " is not supported");
      if (m.contains("limit") && !m["limit"].is_null()) {
        const auto lim = m["limit"].get<std::int64_t>();
        u.memory_bytes = lim > 0 ? static_cast<std::uint64_t>(lim) : 0;
      }
      if (m.contains("swap") && !m["swap"].is_null()) {
        const auto limit = u.memory_bytes.value_or(0);
        const auto swap = LJ_TRY(oci::swap_of(m["swap"].get<std::int64_t>(), limit));
        // Equal to a limit given with it is "no swap"; 0 alone asks nothing.
        if (swap || limit) u.memory_swap_bytes = swap;
      }
    }
    if (r.contains("pids") && r["pids"].is_object() && r["pids"].contains("limit") &&
        !r["pids"]["limit"].is_null()) {
      const auto lim = r["pids"]["limit"].get<std::int64_t>();
      u.pids = lim > 0 ? static_cast<std::uint64_t>(lim) : 0;
    }
    if (r.contains("cpu") && r["cpu"].is_object()) {
      const auto& c = r["cpu"];
      for (auto& [k, v] : c.items())
        if (k != "quota" && k != "period" && k != "cpus" && k != "mems" && k != "shares" &&
            k != "realtimePeriod" && k != "realtimeRuntime" && !v.is_null())
          return fail(Errc::unsupported, "oci", "update of linux.resources.cpu." + k + " is not supported");
      auto given = [&](const char* k) { return c.contains(k) && !c[k].is_null(); };
      if (given("quota")) {
        const auto quota = c["quota"].get<std::int64_t>();
        const auto period = given("period") ? c["period"].get<std::int64_t>() : 100000;
        if (period <= 0) return fail(Errc::invalid_argument, "oci", "cpu period must be positive");
        u.cpu_percent = quota > 0 ? std::max<std::uint32_t>(1, static_cast<std::uint32_t>(quota * 100 / period)) : 0;
        if (quota > 0) u.cpu_quota_us = static_cast<std::uint64_t>(quota);
        u.cpu_period_us = static_cast<std::uint64_t>(period);
      }
      if (given("cpus")) u.cpuset_cpus = c["cpus"].get<std::string>();
      if (given("mems")) u.cpuset_mems = c["mems"].get<std::string>();
      if (given("realtimePeriod")) u.cpu_rt_period_us = c["realtimePeriod"].get<std::uint64_t>();
      if (given("realtimeRuntime")) u.cpu_rt_runtime_us = c["realtimeRuntime"].get<std::int64_t>();
      if (given("shares")) u.cpu_shares = c["shares"].get<std::uint64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::invalid_argument, "oci", "resources: " + std::string(e.what()));
  }
  return u;
}

Status update_container(const std::string& id, const Args& a) {
  auto [_, sd, s] = LJ_TRY(load_container(id));
  if (sd.status(s) == oci::Status::stopped)
    return fail(Errc::conflict, "oci", "container " + id + " is not running");
  const auto u = LJ_TRY(update_of(a, s.config));
  auto backend = LJ_TRY(lj::jail::make_backend(engine_options(sd.root())));
  return backend->update(s.handle, u);
}

// ---- exec: one more process in the container (the engine's Backend::exec) ----

// --preserve-fds N (create, run, exec): a count; the engine refuses more than it carries (64).
Result<int> preserve_fds_of(const Args& a) {
  const std::string v = a.get("preserve-fds", "0");
  char* end = nullptr;
  const long n = std::strtol(v.c_str(), &end, 10);
  if (v.empty() || *end || n < 0 || n > 1024)
    return fail(Errc::invalid_argument, "oci", "--preserve-fds " + v + ": not a count");
  return static_cast<int>(n);
}

// The process: --process FILE (what conmon and containerd's shim pass), else the container's own
// process with the command line's arguments, --cwd, --env, --user and --tty over it (runc's).
Result<std::string> exec_process_json(const Args& a, const oci::ContainerState& s) {
  const std::string file = a.get("process", a.get("p"));
  if (!file.empty()) {
    std::ifstream in(file);
    if (!in) return lj::fail_errno("oci", "open " + file);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  if (a.pos.size() < 2) return fail(Errc::invalid_argument, "oci", "exec needs --process or a command");
  nlohmann::json p;
  try {
    p = nlohmann::json::parse(s.config).at("process");
  } catch (const nlohmann::json::exception& e) {
    return fail(Errc::invalid_argument, "oci", std::string("the container's config: ") + e.what());
  }
  p.erase("oomScoreAdj");  // the container's, not the exec's
  p.erase("consoleSize");
  p["args"] = std::vector<std::string>(a.pos.begin() + 1, a.pos.end());
  p["terminal"] = a.has("tty") || a.has("t");
  if (a.has("cwd")) p["cwd"] = a.get("cwd");
  for (const char* k : {"env", "e"})
    if (a.all.count(k))
      for (const auto& e : a.all.at(k)) p["env"].push_back(e);
  const std::string user = a.get("user", a.get("u"));
  if (!user.empty()) {
    const auto colon = user.find(':');
    try {
      p["user"]["uid"] = std::stoul(user.substr(0, colon));
      p["user"]["gid"] = colon == std::string::npos ? 0ul : std::stoul(user.substr(colon + 1));
    } catch (const std::exception&) {
      return fail(Errc::invalid_argument, "oci", "--user must be UID[:GID]: " + user);
    }
  }
  return p.dump();
}

int cmd_exec(const Args& a) {
  if (auto id = one_id(a); !id) return report(id.error());
  for (const char* k : {"cap", "c", "additional-gids", "g", "process-label", "apparmor", "cgroup"})
    if (a.has(k)) return report(lj::Error(Errc::unsupported, "oci", std::string("exec --") + k + " is not supported"));
  const auto preserve_fds = preserve_fds_of(a);
  if (!preserve_fds) return report(preserve_fds.error());
  auto c = load_container(a);
  if (!c) return report(c.error());
  const auto& [id, sd, s] = *c;
  if (sd.status(s) == oci::Status::stopped)
    return report(lj::Error(Errc::conflict, "oci", "cannot exec in a stopped container"));
  auto text = exec_process_json(a, s);
  if (!text) return report(text.error());
  auto container = oci::parse_config(s.config, s.bundle, id);
  if (!container) return report(container.error());
  auto p = oci::parse_exec_process(*text, *container);
  if (!p) return report(p.error());
  if (a.has("no-new-privs")) p->spec.process.no_new_privs = true;
  p->spec.process.preserve_fds = *preserve_fds;  // our 3.. are the caller's, as for create
  const std::string console_socket = a.get("console-socket");
  if (p->terminal && console_socket.empty())
    return report(lj::Error(Errc::invalid_argument, "oci", "process.terminal needs --console-socket"));
  UniqueFd tty;
  if (p->terminal) {
    auto t = connect_console(console_socket);
    if (!t) return report(t.error());
    tty = std::move(*t);
    p->spec.tty = lj::jail::Terminal{tty.get(), p->rows, p->cols};
  } else {
    p->spec.stdio = {0, 1, 2};
  }
  auto backend = lj::jail::make_backend(engine_options(sd.root()));
  if (!backend) return report(backend.error());
  auto exec = (*backend)->exec(s.handle, p->spec);
  if (!exec) return report(std::move(exec).error().context("exec in container " + id));
  tty.reset();
  // The pid is the exec's monitor (lj-exec): it waits for the process, passes signals on and
  // exits with its status, as the container's init does, for a caller that reaps it.
  const std::string pid_file = a.get("pid-file");
  if (!pid_file.empty()) {
    if (Status w = write_pid_file(pid_file, (*exec)->handle().pid); !w) return report(w.error());
  }
  if (a.has("detach") || a.has("d")) {
    // The monitor is the caller's now (conmon, the shim: its subreaper). Our Exec would reap a
    // monitor that already exited, and the caller would never learn the status (podman exec
    // answered 255 for a quick command), so it is not destroyed; the process exits right after.
    lj::keep_forever(std::move(*exec));
    return 0;
  }
  auto r = (*exec)->wait();
  if (!r) return report(r.error());
  return r->shell_status();
}

// ---- ps: the processes of the container (runc's ps; oci::container_pids) ----

int cmd_ps(const Args& a) {
  auto container = load_container(a);
  if (!container) return report(container.error());
  auto pids = oci::container_pids(container->state);
  if (!pids) return report(pids.error());
  if (a.get("format", a.get("f", "table")) == "json") {
    std::printf("%s\n", nlohmann::json(*pids).dump().c_str());
    return 0;
  }
  // Table: ps(1)'s own output (ps -ef, or the arguments after the id), filtered to these pids.
  std::string cmd = "ps";
  if (a.pos.size() > 1)
    for (std::size_t i = 1; i < a.pos.size(); ++i) cmd += " '" + a.pos[i] + "'";
  else
    cmd += std::string(" ") + oci::default_ps_args();
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return report(lj::Error::from_errno("oci", "popen ps"));
  char line[4096];
  int pid_col = -1;
  bool header = true;
  while (std::fgets(line, sizeof line, p)) {
    std::istringstream ls(line);
    std::vector<std::string> cols;
    for (std::string c; ls >> c;) cols.push_back(c);
    if (header) {
      for (std::size_t i = 0; i < cols.size(); ++i)
        if (cols[i] == "PID") pid_col = static_cast<int>(i);
      std::fputs(line, stdout);
      header = false;
      continue;
    }
    if (pid_col < 0 || static_cast<std::size_t>(pid_col) >= cols.size()) continue;
    const pid_t pid = std::atoi(cols[static_cast<std::size_t>(pid_col)].c_str());
    if (std::find(pids->begin(), pids->end(), pid) != pids->end()) std::fputs(line, stdout);
  }
  ::pclose(p);
  if (pid_col < 0) return report(lj::Error(Errc::invalid_argument, "oci", "ps printed no PID column"));
  return 0;
}

// ---- events: the container's cgroup statistics, as runc's events prints them ----

// A cgroup file's first word as a number; nullopt when missing or "max" (no limit).
std::optional<std::uint64_t> cgroup_number(const std::string& file) {
  std::ifstream in(file);
  std::string w;
  if (!(in >> w) || w == "max") return std::nullopt;
  return std::strtoull(w.c_str(), nullptr, 10);
}

// "key value" lines (memory.stat, cpu.stat, memory.events).
std::map<std::string, std::uint64_t> cgroup_keyed(const std::string& file) {
  std::map<std::string, std::uint64_t> m;
  std::ifstream in(file);
  std::string k;
  for (std::uint64_t v; in >> k >> v;) m[k] = v;
  return m;
}

bool cgroup_file(const std::string& file) {
  struct stat st {};
  return ::stat(file.c_str(), &st) == 0;
}

// runc's events types (libcontainer's Stats as types/events.go has them): cpu usage and
// throttling, memory usage/swap/kernel entries and the raw memory.stat, pids. Read from the
// container's cgroups (its handle's directories: v2 one, v1 one per controller). v1 has no cpu
// usage: the engine makes no cpuacct cgroup.
nlohmann::json cgroup_stats(const oci::ContainerState& s) {
  using nlohmann::json;
  json data = {{"cpu", {{"usage", {{"kernel", 0}, {"user", 0}}}, {"throttling", json::object()}}},
               {"memory", json::object()}, {"pids", json::object()}};
  auto entry = [](const std::string& d, const std::string& prefix) {
    json e = {{"limit", cgroup_number(d + prefix + "limit_in_bytes").value_or(0)},
              {"failcnt", cgroup_number(d + prefix + "failcnt").value_or(0)}};
    if (auto u = cgroup_number(d + prefix + "usage_in_bytes")) e["usage"] = *u;
    if (auto m = cgroup_number(d + prefix + "max_usage_in_bytes")) e["max"] = *m;
    return e;
  };
  std::istringstream dirs(s.handle.cgroup);
  for (std::string d; std::getline(dirs, d, ';');) {
    if (d.empty()) continue;
    json& mem = data["memory"];
    if (cgroup_file(d + "/memory.usage_in_bytes")) {  // v1
      mem["usage"] = entry(d, "/memory.");
      if (cgroup_file(d + "/memory.memsw.usage_in_bytes")) mem["swap"] = entry(d, "/memory.memsw.");
      if (cgroup_file(d + "/memory.kmem.usage_in_bytes")) mem["kernel"] = entry(d, "/memory.kmem.");
      if (cgroup_file(d + "/memory.kmem.tcp.usage_in_bytes"))
        mem["kernelTCP"] = entry(d, "/memory.kmem.tcp.");
      mem["raw"] = cgroup_keyed(d + "/memory.stat");
      if (mem["raw"].contains("cache")) mem["cache"] = mem["raw"]["cache"];
    } else if (cgroup_file(d + "/memory.current")) {  // v2
      json u = {{"usage", cgroup_number(d + "/memory.current").value_or(0)},
                {"limit", cgroup_number(d + "/memory.max").value_or(0)},
                {"failcnt", cgroup_keyed(d + "/memory.events")["max"]}};
      if (auto peak = cgroup_number(d + "/memory.peak")) u["max"] = *peak;
      mem["usage"] = u;
      mem["raw"] = cgroup_keyed(d + "/memory.stat");
      if (mem["raw"].contains("file")) mem["cache"] = mem["raw"]["file"];
    }
    if (auto cur = cgroup_number(d + "/pids.current")) {
      data["pids"]["current"] = *cur;
      if (auto lim = cgroup_number(d + "/pids.max")) data["pids"]["limit"] = *lim;
    }
    // v1 CPU time: cpuacct, in the cpu cgroup where the two are mounted together, else in a
    // cpuacct cgroup of its own (made with a linux.resources.cpu section, as for runc).
    if (auto total = cgroup_number(d + "/cpuacct.usage")) {
      json& u = data["cpu"]["usage"];
      u["total"] = *total;
      std::ifstream per(d + "/cpuacct.usage_percpu");
      json percpu = json::array();
      for (std::uint64_t n; per >> n;) percpu.push_back(n);
      u["percpu"] = percpu;
      // cpuacct.stat counts USER_HZ ticks; runc reports nanoseconds.
      const auto st = cgroup_keyed(d + "/cpuacct.stat");
      const auto ns_per_tick = 1000000000ull / static_cast<std::uint64_t>(::sysconf(_SC_CLK_TCK));
      if (st.count("user")) u["user"] = st.at("user") * ns_per_tick;
      if (st.count("system")) u["kernel"] = st.at("system") * ns_per_tick;
    }
    if (cgroup_file(d + "/cpu.stat")) {
      auto st = cgroup_keyed(d + "/cpu.stat");
      json& t = data["cpu"]["throttling"];
      if (st.count("nr_periods")) t["periods"] = st["nr_periods"];
      if (st.count("nr_throttled")) t["throttled_periods"] = st["nr_throttled"];
      if (st.count("throttled_time")) t["throttled_time"] = st["throttled_time"];   // v1: ns
      if (st.count("throttled_usec")) t["throttled_time"] = st["throttled_usec"] * 1000;
      if (st.count("usage_usec")) {  // v2
        json& u = data["cpu"]["usage"];
        u["total"] = st["usage_usec"] * 1000;
        u["user"] = st["user_usec"] * 1000;
        u["kernel"] = st["system_usec"] * 1000;
      }
    }
  }
  return {{"type", "stats"}, {"id", s.id}, {"data", data}};
}

// runc events [--stats] [--interval D]: --stats prints one stats event; without it a stats event
// every interval (default 5s) and an "oom" event whenever the memory cgroup's OOM kill count
// grows, until the container stops.
int cmd_events(const Args& a) {
  auto c = load_container(a);
  if (!c) return report(c.error());
  const auto& [id, sd, s] = *c;
  if (s.handle.cgroup.empty())
    return report(lj::Error(Errc::unsupported, "oci", "container " + id + " has no cgroup"));
  if (sd.status(s) == oci::Status::stopped)
    return report(lj::Error(Errc::conflict, "oci", "container " + id + " is not running"));
  if (a.has("stats")) {
    std::printf("%s\n", cgroup_stats(s).dump().c_str());
    return 0;
  }
  // Go's duration form, as runc takes it: "5s", "500ms", "1m", "1.5s".
  const std::string iv = a.get("interval", "5s");
  char* end = nullptr;
  const double n = std::strtod(iv.c_str(), &end);
  const std::string unit = end ? end : "";
  const double ms = unit == "ms" ? n : unit == "s" ? n * 1000 : unit == "m" ? n * 60000 : -1;
  if (ms <= 0)
    return report(lj::Error(Errc::invalid_argument, "oci", "--interval " + iv + ": not a duration"));
  std::uint64_t ooms = 0;
  bool first = true;
  while (sd.status(s) != oci::Status::stopped) {
    std::istringstream dirs(s.handle.cgroup);
    std::uint64_t now = 0;
    for (std::string d; std::getline(dirs, d, ';');) {
      auto ev = cgroup_keyed(d + (cgroup_file(d + "/memory.events") ? "/memory.events" : "/memory.oom_control"));
      if (ev.count("oom_kill")) now = ev["oom_kill"];
    }
    if (!first && now > ooms)
      std::printf("%s\n", nlohmann::json{{"type", "oom"}, {"id", id}, {"data", nullptr}}.dump().c_str());
    ooms = now;
    first = false;
    std::printf("%s\n", cgroup_stats(s).dump().c_str());
    std::fflush(stdout);
    std::this_thread::sleep_for(std::chrono::duration<double, std::milli>(ms));
  }
  return 0;
}

// ---- commands ----

int cmd_state(const Args& a) {
  auto c = load_container(a);
  if (!c) return report(c.error());
  std::printf("%s\n", oci::state_json(c->state, c->sd.status(c->state)).c_str());
  return 0;
}

int cmd_list(const Args& a) {
  auto sd = state_dir();
  const bool json = a.get("format", a.get("f", "table")) == "json";
  const bool quiet = a.has("quiet") || a.has("q");
  nlohmann::json arr = nlohmann::json::array();
  if (!json && !quiet) std::printf("%-20s %-8s %-10s %-50s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
  for (const auto& id : sd.ids()) {
    auto s = sd.load(id);
    if (!s) continue;
    const auto st = sd.status(*s);
    if (quiet) {
      std::printf("%s\n", id.c_str());
    } else if (json) {
      arr.push_back(nlohmann::json::parse(oci::state_json(*s, st, true)));
    } else {
      std::printf("%-20s %-8d %-10s %-50s %-30s %s\n", id.c_str(),
                  st == oci::Status::stopped ? 0 : s->handle.pid, oci::status_name(st),
                  s->bundle.c_str(), s->created.c_str(), "root");
    }
  }
  if (json) std::printf("%s\n", arr.dump().c_str());
  return 0;
}

int cmd_features() {
  nlohmann::json f = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", kSpecVersion},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                 "poststop"}},
      {"mountOptions",
       {"ro", "rw", "nosuid", "suid", "nodev", "dev", "noexec", "exec", "noatime", "relatime",
        "strictatime", "bind", "rbind", "private", "rprivate"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "user", "uts"}},
        {"capabilities", oci::capability_names()},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs", {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}}}},
      {"annotations", {{"io.github.ljd.ljoci.version", kVersion}}}};
  std::printf("%s\n", f.dump(4).c_str());
  return 0;
}

int cmd_spec(const Args& a) {
  std::string dir = a.get("bundle", a.get("b", "."));
  std::string path = dir + "/config.json";
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0)
    return report(lj::Error(Errc::exists, "oci", "File " + path + " exists. Remove it first"));
  std::ofstream out(path);
  out << oci::default_config();
  if (!out) return report(lj::Error::from_errno("oci", "write " + path));
  return 0;
}

int cmd_run(const Args& a, int preserve_fds) {
  auto id = one_id(a);
  if (!id) return report(id.error());
  auto c = create(*id, a.get("bundle", a.get("b")), a.get("pid-file"), a.get("console-socket"),
                  preserve_fds, Starter::this_process);
  if (!c) return report(c.error());
  // Started and deleted with what create has in memory: the state, the config's hooks, the
  // backend (start's and delete's own commands load them again from the state directory, and
  // make_backend sweeps the idle cgroups again).
  const oci::StateDir sd = state_dir();
  if (Status s = release_command(sd, c->state, c->held, c->bundle.hooks.poststart); !s) {
    (void)delete_container(*id, true);
    return report(s.error());
  }
  if (a.has("detach") || a.has("d")) {
    leave(*c);
    return 0;
  }
  // Signals to ljoci go to the container, as runc's forwarding does.
  auto r = c->jail->wait();
  c->jail.reset();
  if (!r) {
    (void)delete_container(*id, true);
    return report(r.error());
  }
  // wait() tore the jail down (its processes killed, its cgroups and mounts gone): what delete
  // adds is the poststop hooks and the state directory.
  run_hooks_warning(c->bundle.hooks.poststop, oci::state_json(c->state, oci::Status::stopped),
                    "poststop");
  sd.remove(*id);
  return r->shell_status();
}

int usage() {
  std::fprintf(stderr,
               "usage: ljoci [--root DIR] [--log FILE] [--log-format text|json] [--debug] COMMAND\n"
               "commands: create, start, state, kill, delete, run, exec, ps, list, features, spec, "
               "--version\n");
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  int i = 1;
  for (; i < argc; ++i) {
    std::string s = argv[i];
    if (s.empty() || s[0] != '-') break;
    std::string k = s.substr(s.size() > 1 && s[1] == '-' ? 2 : 1), v;
    auto eq = k.find('=');
    const bool has_v = eq != std::string::npos;
    if (has_v) {
      v = k.substr(eq + 1);
      k = k.substr(0, eq);
    }
    auto value = [&]() -> std::string {
      if (has_v) return v;
      return i + 1 < argc ? argv[++i] : std::string();
    };
    if (k == "root") g.root = value();
    else if (k == "log") g.log = value();
    else if (k == "log-format") g.log_json = value() == "json";
    else if (k == "debug") g.debug = true;
    // Accepted for the callers that always pass them: ljoci places a container's cgroup below
    // its own (docs/oci.md), with or without systemd; it is never rootless.
    else if (k == "systemd-cgroup") g.systemd_cgroup = true;
    else if (k == "rootless" || k == "criu") (void)value();
    else if (k == "version" || k == "v") {
      std::printf("ljoci version %s\nspec: %s\n", kVersion, kSpecVersion);
      return 0;
    } else if (k == "help" || k == "h") {
      return usage();
    } else {
      std::fprintf(stderr, "ljoci: unknown global flag %s\n", s.c_str());
      return 1;
    }
  }
  if (i >= argc) return usage();
  const std::string cmd = argv[i++];
  auto parse = [&](std::vector<std::string> flags, std::vector<std::string> valued) {
    return parse_args(argc, argv, i, flags, valued);
  };
  if (cmd == "create" || cmd == "run") {
    auto a = parse({"no-pivot", "no-new-keyring", "detach", "d", "keep", "no-subreaper"},
                   {"bundle", "b", "pid-file", "console-socket", "preserve-fds"});
    if (!a) return report(a.error());
    const auto preserve_fds = preserve_fds_of(*a);
    if (!preserve_fds) return report(preserve_fds.error());
    if (cmd == "run") return cmd_run(*a, *preserve_fds);
    auto id = one_id(*a);
    if (!id) return report(id.error());
    auto c = create(*id, a->get("bundle", a->get("b")), a->get("pid-file"),
                    a->get("console-socket"), *preserve_fds, Starter::start_command);
    if (!c) return report(c.error());
    leave(*c);
    return 0;
  }
  if (cmd == "start") {
    auto a = parse({}, {});
    if (!a) return report(a.error());
    auto id = one_id(*a);
    if (!id) return report(id.error());
    if (Status s = start(*id); !s) return report(s.error());
    return 0;
  }
  if (cmd == "state") {
    auto a = parse({}, {});
    if (!a) return report(a.error());
    return cmd_state(*a);
  }
  if (cmd == "kill") {
    auto a = parse({"all", "a"}, {});
    if (!a) return report(a.error());
    auto id = one_id(*a);
    if (!id) return report(id.error());
    auto sig = parse_signal(a->pos.size() > 1 ? a->pos[1] : "TERM");
    if (!sig) return report(sig.error());
    if (Status s = kill_container(*id, *sig, a->has("all") || a->has("a")); !s)
      return report(s.error());
    return 0;
  }
  if (cmd == "delete") {
    auto a = parse({"force", "f"}, {});
    if (!a) return report(a.error());
    auto id = one_id(*a);
    if (!id) return report(id.error());
    if (Status s = delete_container(*id, a->has("force") || a->has("f")); !s)
      return report(s.error());
    return 0;
  }
  if (cmd == "list") {
    auto a = parse({"quiet", "q"}, {"format", "f"});
    if (!a) return report(a.error());
    return cmd_list(*a);
  }
  if (cmd == "features") return cmd_features();
  if (cmd == "ps") {
    auto a = parse({}, {"format", "f"});
    if (!a) return report(a.error());
    return cmd_ps(*a);
  }
  if (cmd == "spec") {
    auto a = parse({"rootless"}, {"bundle", "b"});
    if (!a) return report(a.error());
    return cmd_spec(*a);
  }
  if (cmd == "exec") {
    auto a = parse({"tty", "t", "detach", "d", "no-new-privs", "ignore-paused"},
                   {"process", "p", "console-socket", "pid-file", "cwd", "env", "e", "user", "u",
                    "cap", "c", "preserve-fds", "process-label", "apparmor", "additional-gids",
                    "g", "cgroup"});
    if (!a) return report(a.error());
    return cmd_exec(*a);
  }
  if (cmd == "pause" || cmd == "resume") {
    auto a = parse({}, {});
    if (!a) return report(a.error());
    auto id = one_id(*a);
    if (!id) return report(id.error());
    if (Status s = pause_container(*id, cmd == "pause"); !s) return report(s.error());
    return 0;
  }
  if (cmd == "update") {
    auto a = parse({}, {"resources", "r", "memory", "memory-swap", "pids-limit", "cpu-quota",
                        "cpu-period", "cpu-share", "cpu-rt-period", "cpu-rt-runtime",
                        "cpuset-cpus", "cpuset-mems", "kernel-memory", "kernel-memory-tcp",
                        "memory-reservation", "blkio-weight", "l3-cache-schema", "mem-bw-schema"});
    if (!a) return report(a.error());
    auto id = one_id(*a);
    if (!id) return report(id.error());
    if (Status s = update_container(*id, *a); !s) return report(s.error());
    return 0;
  }
  if (cmd == "events") {
    auto a = parse({"stats"}, {"interval"});
    if (!a) return report(a.error());
    return cmd_events(*a);
  }
  if (cmd == "checkpoint" || cmd == "restore")
    return report(lj::Error(Errc::unsupported, "oci", "ljoci " + cmd + " is not implemented yet"));
  std::fprintf(stderr, "ljoci: unknown command %s\n", cmd.c_str());
  return usage();
}
