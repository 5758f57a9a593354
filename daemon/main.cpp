// ljd: read the configuration, open the index, bind the socket, reconcile, serve; on SIGTERM stop
// accepting, stop or leave the jails as configured, finish writes and close the index.
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include <CLI/CLI.hpp>

#include "common/log.hpp"
#include "daemon/api.hpp"
#include "daemon/backend_glue.hpp"
#include "daemon/config.hpp"
#include "daemon/core.hpp"
#include "daemon/crash_point.hpp"
#include "daemon/jails.hpp"
#include "daemon/networks.hpp"
#include "daemon/execs.hpp"
#include "daemon/images.hpp"
#include "daemon/resources.hpp"
#include "daemon/root_lock.hpp"
#include "daemon/runtime.hpp"
#include "overlay/root.hpp"

namespace {

using namespace lj;
using namespace lj::daemon;

// Forks into the background; the parent exits once the child says it serves (or failed), so that
// `ljd -d && ljctl ...` works and a failed start is seen by rc scripts.
int daemonize(int* ready_fd) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return -1;
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    ::close(p[1]);
    char c = 1;
    ssize_t n = ::read(p[0], &c, 1);
    std::_Exit(n == 1 && c == 0 ? 0 : 1);
  }
  ::close(p[0]);
  ::setsid();
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    if (null > 2) ::close(null);
  }
  *ready_fd = p[1];
  return 0;
}

void tell_parent(int& fd, char status) {
  if (fd < 0) return;
  (void)!::write(fd, &status, 1);
  ::close(fd);
  fd = -1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ljd: the ephemeral jail daemon"};
  std::string config_file, root, socket, pidfile, log_level;
  bool foreground = false, daemon_mode = false, print_routes = false, version = false;
  app.add_option("-c,--config", config_file, "configuration file (key = value lines)");
  app.add_option("--root", root, "lightjail root (overrides the config and $LIGHTJAIL_ROOT)");
  app.add_option("--socket", socket, "UNIX socket path (overrides the config)");
  app.add_option("--pidfile", pidfile, "write the daemon's pid here");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off");
  app.add_flag("--foreground", foreground, "stay in the foreground, log to stderr (the default)");
  app.add_flag("-d,--daemon", daemon_mode, "daemonize and log to syslog");
  app.add_flag("--routes", print_routes, "print the API's routes and exit");
  app.add_flag("--version", version, "print the version and exit");
  CLI11_PARSE(app, argc, argv);
  if (version) {
    std::cout << "ljd " << LJD_VERSION << "\n";
    return 0;
  }

  Config cfg;
  if (const char* env = std::getenv("LIGHTJAIL_ROOT"); env && *env) cfg.root = env;
  if (!config_file.empty()) {
    if (auto st = load_config(config_file, &cfg); !st) {
      std::cerr << "ljd: " << st.error().what() << "\n";
      return 2;
    }
  }
  if (!root.empty()) cfg.root = root;
  if (!socket.empty()) cfg.socket = socket;
  if (!pidfile.empty()) cfg.pidfile = pidfile;
  if (!log_level.empty()) cfg.log_level = log_level;
  if (daemon_mode && foreground) {
    std::cerr << "ljd: --daemon and --foreground exclude each other\n";
    return 2;
  }
  if (!configure_logging(cfg.log_level,
                         daemon_mode ? LogSink::syslog_sink : LogSink::stderr_sink)) {
    std::cerr << "ljd: unknown log level `" << cfg.log_level << "`\n";
    return 2;
  }
  auto log = lj::log("daemon");

  std::optional<gid_t> group;
  if (!cfg.socket_group.empty()) {
    struct group* g = ::getgrnam(cfg.socket_group.c_str());
    if (!g) {
      std::cerr << "ljd: socket_group `" << cfg.socket_group << "` does not exist\n";
      return 2;
    }
    group = g->gr_gid;
  }

  int ready_fd = -1;
  // Before any thread exists: fork(2) copies only the calling thread.
  if (daemon_mode && daemonize(&ready_fd) != 0) {
    std::perror("ljd: daemonize");
    return 1;
  }
  auto fatal = [&](const std::string& what) {
    log->error("{}", what);
    tell_parent(ready_fd, 1);
    return 1;
  };

  std::error_code ec;
  for (auto dir : print_routes ? std::vector<std::filesystem::path>{}
                               : std::vector<std::filesystem::path>{cfg.root / ".ljd" / "logs",
                                                                    cfg.root / ".ljd" / "builds",
                                                                    cfg.root / ".ljd" / "run",
                                                                    cfg.root / "worlds"}) {
    std::filesystem::create_directories(dir, ec);
    if (ec) return fatal("creating " + dir.string() + ": " + ec.message());
  }
  // One ljd per root, before the index is opened: a second one would "recover" the first one's
  // jails. Held until ljd exits.
  std::optional<RootLock> root_lock;
  if (!print_routes) {
    auto lock = RootLock::acquire(cfg.root);
    if (!lock) return fatal(lock.error().what());
    root_lock = std::move(*lock);
    // The store's top directories 0700, existing roots included: other host users must not run a
    // layer's setuid binary or read the index (overlay/root.hpp, docs/security.md).
    if (auto st = lj::overlay::Root(cfg.root).create_skeleton(); !st) {
      return fatal("preparing the root: " + st.error().what());
    }
  }
  // --routes needs no state: a private in-memory index will do.
  index::Options index_options;
  index_options.synchronous =
      cfg.index_synchronous_full ? index::Synchronous::full : index::Synchronous::normal;
  auto idx = index::Index::open(
      print_routes ? std::string(":memory:") : index::index_path(cfg.root.string()), index_options);
  if (!idx) return fatal("opening the index: " + idx.error().what());

  std::unique_ptr<jail::Backend> backend;
  if (auto b = open_backend(cfg); b) {
    backend = std::move(*b);
  } else {
    log->warn("no jail backend: {}; jail routes answer 501", b.error().what());
  }

  Runtime rt(cfg.workers);
  Daemon d(cfg, rt.loop(), std::move(backend), std::move(*idx));
  Api api(d);
  if (print_routes) {
    for (const auto& r : api.router().routes()) std::cout << r.method << " " << r.pattern << "\n";
    return 0;
  }

  ServerOptions so;
  so.socket = cfg.socket;
  so.mode = cfg.socket_mode;
  so.group = group;
  so.max_body_bytes = cfg.max_body_bytes;
  so.max_header_bytes = cfg.max_header_bytes;
  so.idle_timeout = cfg.idle_timeout;
  so.max_connections = cfg.max_connections;
  so.heartbeat = cfg.heartbeat;
  if (auto st =
          rt.listen(so, [&api](Request& req, Reply reply) { api.handle(req, std::move(reply)); });
      !st) {
    return fatal(st.error().what());
  }
  if (!cfg.pidfile.empty()) {
    FILE* f = std::fopen(cfg.pidfile.c_str(), "we");
    if (!f) return fatal("writing pidfile " + cfg.pidfile.string());
    std::fprintf(f, "%d\n", static_cast<int>(::getpid()));
    std::fclose(f);
  }

  // The index file deleted or replaced while ljd runs is noticed within a second and put back.
  d.watch_index_file();

  // Retention: exit records, finished builds and events older than `retention` go, hourly.
  std::unique_ptr<Watch> purge_timer;
  std::function<void()> purge = [&] {
    auto stats = d.idx.purge(index::Time(std::chrono::duration_cast<std::chrono::milliseconds>(
        (index::now() - d.cfg.retention).time_since_epoch())));
    if (!stats) {
      log->warn("retention: {}", stats.error().what());
    } else {
      for (const auto& p : stats->log_paths) ::unlink(p.c_str());
      if (stats->jails + stats->builds + stats->events > 0) {
        log->info("retention: purged jails={} builds={} events={}", stats->jails, stats->builds,
                  stats->events);
      }
    }
    purge_timer = rt.loop().after(std::chrono::hours(1), purge);
  };

  bool shutting_down = false;
  std::unique_ptr<Watch> hard_stop;
  rt.on_signal([&](int signo) {
    if (signo == SIGHUP) return;  // nothing to reload yet
    if (shutting_down) {
      log->warn("second signal: stopping now");
      rt.stop();
      return;
    }
    shutting_down = true;
    log->info("signal {}: shutting down (on_shutdown={})", signo,
              cfg.on_shutdown == OnShutdown::stop ? "stop" : "leave");
    d.stopping = true;
    rt.stop_accepting();
    d.resources->shutdown();
    const bool stop_jails = cfg.on_shutdown == OnShutdown::stop;
    d.jails->shutdown(stop_jails, [&, stop_jails] {
      // No jail left: the host's bridges and rules as they were before ljd (the index keeps the
      // networks; the next start makes them again).
      if (stop_jails) d.networks->shutdown();
      rt.stop();
    });
    hard_stop = rt.loop().after(cfg.stop_timeout + std::chrono::seconds(5), [&] {
      log->warn("jails did not end within stop_timeout; exiting anyway");
      rt.stop();
    });
  });

  // Reconciliation, while every route but /v1/_ping answers 503: the index's own check first,
  // then builds and imports, then jails; serve once all of it is done.
  std::unique_ptr<Watch> recovery_delay_timer;
  rt.loop().post([&] {
    const auto t0 = std::chrono::steady_clock::now();
    auto integrity = d.idx.integrity_check();
    d.recovery.integrity = integrity ? std::string("ok") : integrity.error().what();
    if (!integrity) log->error("recovery: index integrity_check: {}", d.recovery.integrity);
    log->info("recovery: index={} epoch={}{} integrity_check={}", d.idx.path(), d.idx.epoch(),
              d.idx.epoch_changed() ? " (new: the machine went down with the index open)" : "",
              d.recovery.integrity);
    if (Status st = d.images->recover(); !st) log->error("recovery: images: {}", st.error().what());
    d.resources->recover([&, t0] {
      d.jails->recover([&, t0] {
        d.execs->recover();  // after the jails: an exec of a jail that ended has ended too
        auto serve = [&, t0] {
          const RecoveryReport& r = d.recovery;
          d.recovery.took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::steady_clock::now() - t0)
                                   .count();
          log->info(
              "recovery: done in {}ms: jails adopted={} ended={} lost={} discarded={} reset={}; "
              "builds failed={} published={}; imports failed={} ready={}; staging removed={}; "
              "overlay rows removed={}",
              r.took_ms, r.adopted, r.ended, r.lost, r.discarded, r.reset, r.builds_failed,
              r.builds_published, r.imports_failed, r.imports_ready, r.staging_removed,
              r.overlay_rows_removed);
          d.ready = true;
          purge();
          log->info("ready: socket={} root={} backend={}", cfg.socket.string(), cfg.root.string(),
                    d.backend ? std::string(d.backend->name()) : "none");
          tell_parent(ready_fd, 0);
        };
        // Test seam (daemon/crash_point.hpp): stay in reconciliation a while, answering 503.
        if (auto delay = recovery_delay(); delay.count() > 0) {
          recovery_delay_timer = rt.loop().after(delay, serve);
        } else {
          serve();
        }
      });
    });
  });
  rt.run();
  rt.join_workers();
  // What was written since the last check must not go down with an unlinked file.
  (void)d.check_index_file();
  if (!cfg.pidfile.empty()) ::unlink(cfg.pidfile.c_str());
  log->info("stopped");
  return 0;
}
