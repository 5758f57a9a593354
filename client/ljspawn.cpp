// ljspawn: one jail from the command line, on lib/jail directly (no daemon). As in lightjail's
// seeds: `ljspawn -d DIR [-p SCRIPT] [-i IP] [-f IFACE] [-- COMMAND ARGS...]`.
// Exit status: the command's own, 128+N when signal N killed it; ljspawn's own failures are
// 125 (bad usage, or the jail could not be set up), 126 (the command could not be executed),
// 127 (the command was not found), as env(1) and podman-run(1) do.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/forwarded_signals.hpp"
#include "common/fd.hpp"
#include "common/root_dir.hpp"
#include "jail/backend.hpp"

namespace {

constexpr int kExitSetup = 125, kExitCannotRun = 126, kExitNotFound = 127;

int die(const std::string& msg, int code = kExitSetup) {
  std::fprintf(stderr, "ljspawn: %s\n", msg.c_str());
  return code;
}

// "512M", "2G", "1048576" -> bytes.
bool parse_size(const std::string& s, std::uint64_t* out) {
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (end == s.c_str()) return false;
  std::string suffix(end);
  std::uint64_t mul = 1;
  if (suffix == "k" || suffix == "K")
    mul = 1ull << 10;
  else if (suffix == "m" || suffix == "M")
    mul = 1ull << 20;
  else if (suffix == "g" || suffix == "G")
    mul = 1ull << 30;
  else if (!suffix.empty())
    return false;
  *out = v * mul;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  using lj::jail::NetworkMode;
  CLI::App app{
      "ljspawn: run one command in an ephemeral jail, without the daemon.\n"
      "The root is DIR (-d), mounted read-write in place unless layers, --ephemeral or --ro say\n"
      "otherwise. The jail has its own mount, pid, uts, ipc, cgroup and (unless --net inherit)\n"
      "network namespaces, a minimal /dev, a masked /proc, reduced capabilities, no_new_privs.\n"
      "Exit status: the command's, 128+N when killed by signal N; 125 when ljspawn itself or the\n"
      "jail setup failed, 126 when the command could not be executed, 127 when it was not found.",
      "ljspawn"};
  std::string dir, script, name, hostname, workdir = "/", net, memory, status_file, writable_dir;
  std::vector<std::string> layers, env, addresses, volumes, command;
  std::string iface;
  bool ephemeral = false, read_only = false;
  unsigned uid = 0, gid = 0;
  std::uint64_t pids = 0, nofile = 0;
  std::uint32_t cpu = 0;
  double timeout = 0;
  app.add_option("-d,--dir", dir,
                 "The root directory (a world). Mounted read-write in place, "
                 "so the command installs INTO it (the seeds' world setup)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("-p,--script", script,
                 "Run this script instead of a command; a first line \"#!interp [arg]\" picks "
                 "the interpreter, else /bin/sh");
  app.add_option("-l,--layer", layers,
                 "A read-only layer over DIR (repeatable, bottom first); implies --ephemeral")
      ->check(CLI::ExistingDirectory);
  app.add_flag("--ephemeral", ephemeral,
               "DIR read-only under a private writable layer that is discarded at exit");
  app.add_option("--writable-dir", writable_dir,
                 "Keep the writable layer in this host directory (upper/, work/) instead");
  app.add_flag("--ro", read_only, "Read-only root: no writable layer at all");
  app.add_option("-n,--name", name,
                 "Jail name (default ljspawn-PID); names its cgroups. Those of a killed ljspawn "
                 "(SIGKILL) are removed by the next ljspawn or ljd only under the default name");
  app.add_option("-H,--hostname", hostname, "Host name in the jail (default: the name)");
  app.add_option("-e,--env", env, "KEY=VALUE in the command's environment (repeatable)");
  app.add_option("-w,--workdir", workdir, "Working directory in the jail (default /)");
  app.add_option("-u,--uid", uid, "User id of the command (default 0)");
  app.add_option("-g,--gid", gid, "Group id of the command (default 0)");
  app.add_option("--net", net,
                 "none (own loopback only; the default), inherit (the host's network), or ip "
                 "(implied by -i)")
      ->check(CLI::IsMember({"none", "inherit", "ip"}));
  app.add_option("-i,--ip", addresses,
                 "Address for the jail, ADDR[/PREFIX] (repeatable): a macvlan of -f IFACE named "
                 "eth0 inside the jail");
  app.add_option("-f,--iface", iface,
                 "Host interface for -i; without -i, the jail shares the host's network");
  app.add_option("-m,--memory", memory, "Memory limit of the whole jail, e.g. 512M, 2G (no swap)");
  app.add_option("--pids", pids, "Maximum processes+threads in the jail");
  app.add_option("--cpu", cpu, "CPU cap in percent of one core (250 = 2.5 cores)");
  app.add_option("--nofile", nofile, "RLIMIT_NOFILE of the command");
  app.add_option("-t,--timeout", timeout, "Wall-clock limit in seconds; then the jail is killed");
  app.add_option("-v,--volume", volumes,
                 "HOST:JAIL[:ro] bind a host path into the jail (repeatable)");
  app.add_option("--status-file", status_file,
                 "Write \"exited N\" / \"killed N\" here when the command ends");
  app.add_option("command", command, "COMMAND ARGS... (after --)");
  // The command is everything after the first "--", split off before CLI11 sees it: CLI11 lets a
  // repeatable option consume "--" and would then parse the command's own options as ours.
  int ours = argc;
  for (int k = 1; k < argc; ++k)
    if (std::string(argv[k]) == "--") {
      ours = k;
      break;
    }
  try {
    app.parse(ours, argv);
    for (int k = ours + 1; k < argc; ++k) command.push_back(argv[k]);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : kExitSetup;
  }

  lj::jail::JailSpec spec;
  // The default name is one the backend's start-up sweep recognises (sweep_cgroup_pool, in
  // jail/linux/cgroup.hpp): a SIGKILLed ljspawn cannot remove its jail's cgroups itself.
  spec.name = name.empty() ? "ljspawn-" + std::to_string(::getpid()) : name;
  spec.hostname = hostname;
  spec.argv = command;
  spec.script = script;
  if (spec.argv.empty() && spec.script.empty())
    return die("give a COMMAND (after --) or -p SCRIPT");
  spec.env = env;
  spec.workdir = workdir;
  spec.uid = uid;
  spec.gid = gid;
  spec.status_file = status_file;
  spec.die_with_parent = true;  // a killed ljspawn takes its jail with it

  spec.root.layers.push_back(dir);
  for (const auto& l : layers) spec.root.layers.push_back(l);
  spec.root.nodev = true;  // as ljd's jails: a device node in DIR or a layer opens nothing
  // DIR alone is written in place, unless --ephemeral, layers, --ro or --writable-dir.
  if (read_only && !writable_dir.empty()) return die("--ro excludes --writable-dir");
  if (read_only)
    spec.root.writable = lj::jail::WritableLayer::none();
  else if (!writable_dir.empty())
    spec.root.writable = lj::jail::WritableLayer::host_dir(std::filesystem::absolute(writable_dir));
  else if (!ephemeral && layers.empty())
    spec.root.writable = lj::jail::WritableLayer::in_place();
  for (const auto& v : volumes) {
    auto a = v.find(':');
    if (a == std::string::npos) return die("volume is not HOST:JAIL[:ro]: " + v);
    auto b = v.find(':', a + 1);
    lj::jail::Volume vol;
    vol.host_path = v.substr(0, a);
    vol.jail_path = v.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    if (b != std::string::npos) {
      std::string mode = v.substr(b + 1);
      if (mode != "ro" && mode != "rw") return die("volume mode is ro or rw: " + v);
      vol.read_only = mode == "ro";
    }
    spec.root.volumes.push_back(vol);
  }

  if (!addresses.empty() || net == "ip") {
    spec.network.mode = NetworkMode::ip;
    spec.network.interface = iface;
    spec.network.addresses = addresses;
  } else if (net == "inherit" || (!iface.empty() && net.empty())) {
    spec.network.mode = NetworkMode::inherit;
  }
  if (!memory.empty() && !parse_size(memory, &spec.limits.memory_bytes))
    return die("not a size: " + memory);
  spec.limits.pids = pids;
  spec.limits.cpu_percent = cpu;
  spec.limits.nofile = nofile;
  spec.limits.timeout = std::chrono::milliseconds(static_cast<long long>(timeout * 1000));

  lj::jail::BackendOptions options;
  options.state_dir = lj::root_from_env() / ".ljd";  // as ljd's: overlay/root.hpp's layout
  auto backend = lj::jail::make_backend(options);
  if (!backend) return die(backend.error().what());

  // Signals meant for the command are passed on to it rather than ending ljspawn.
  sigset_t fwd;
  sigemptyset(&fwd);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) sigaddset(&fwd, s);
  lj::client::ForwardedSignals signals(fwd);
  spec.stdio = {0, 1, 2};

  auto jail = (*backend)->spawn(spec);
  if (!jail) {
    const auto& e = jail.error();
    int code = kExitSetup;
    if (e.errc() == lj::Errc::exec_failed)
      code = e.sys_errno() == ENOENT ? kExitNotFound : kExitCannotRun;
    return die("starting jail " + spec.name + ": " + e.what(), code);
  }
  auto& j = **jail;
  for (;;) {
    int ms = -1;
    if (j.deadline() != std::chrono::steady_clock::time_point::max()) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(j.deadline() -
                                                               std::chrono::steady_clock::now());
      ms = static_cast<int>(std::max<long long>(0, left.count()));
    }
    struct pollfd pfd[2] = {{j.wait_fd(), POLLIN, 0}, {signals.fd(), POLLIN, 0}};
    int r = ::poll(pfd, signals.fd() >= 0 ? 2 : 1, ms);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (auto s = j.expire(); !s) return die(s.error().what());
      continue;
    }
    if (r > 0 && (pfd[1].revents & POLLIN)) {
      if (int sig = signals.next(); sig > 0) (void)j.signal(sig, false);
      continue;
    }
    break;
  }
  auto st = j.wait();
  if (!st) return die(st.error().what());
  if (st->timed_out) std::fprintf(stderr, "ljspawn: %s timed out\n", spec.name.c_str());
  if (st->oom) std::fprintf(stderr, "ljspawn: %s hit its memory limit (OOM)\n", spec.name.c_str());
  return st->shell_status();
}
