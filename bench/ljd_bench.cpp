// ljd_bench: the figures of issue 7, measured through ljd's API on a real daemon, beside the peers
// (plain fork/exec, bwrap, crun, podman) in the same run, printed as one table with the targets.
// bench/all prepares everything (world, ljd, crun bundle, private mount namespace) and cleans up.
//
//   ljd_bench --socket S --pid LJD_PID --world-dir DIR [--world NAME] [--n 100] [--live 1000]
//             [--tput 200] [--idle-s 3] [--crun-bundle B] [--podman-n 20]
//             [--lists 20] [--only latency,throughput,live,build] [--peers 0]   (a part, ljd alone:
//             to profile)
//
// What "ljd" does per jail is all the daemon really does: an index row, an event, an ephemeral
// overlay root (the world read-only under a private tmpfs upper), memory and pids cgroups with
// limits, clone into fresh namespaces, the reap and the row's exit record. Peers that run on the
// same world: bwrap --unshare-all with a read-only bind (no overlay, no cgroups), crun and podman
// (OCI, cgroups). Latency rounds are interleaved (one run of each tool per round) so that load
// from other users of the machine hits every tool alike and the ratios stay meaningful.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "client/http_client.hpp"
#include "jail/backend.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using lj::bench::median;
using lj::bench::quantile;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ljd_bench: %s\n", what.c_str());
  std::exit(1);
}

struct Options {
  std::string socket, world = "busybox", world_dir, crun_bundle;
  std::string only;  // comma-separated phases (latency,throughput,live,build); empty: all
  bool peers = true;
  pid_t pid = 0;
  int n = 100, live = 1000, tput = 200, podman_n = 20, lists = 20;
  double idle_s = 3;
};

Options parse(int argc, char** argv) {
  Options o;
  auto num = [](const std::string& v) { return std::atoi(v.c_str()); };
  const std::map<std::string, std::function<void(const std::string&)>> set = {
      {"--socket", [&](const std::string& v) { o.socket = v; }},
      {"--pid", [&](const std::string& v) { o.pid = num(v); }},
      {"--world", [&](const std::string& v) { o.world = v; }},
      {"--world-dir", [&](const std::string& v) { o.world_dir = v; }},
      {"--crun-bundle", [&](const std::string& v) { o.crun_bundle = v; }},
      {"--n", [&](const std::string& v) { o.n = num(v); }},
      {"--live", [&](const std::string& v) { o.live = num(v); }},
      {"--tput", [&](const std::string& v) { o.tput = num(v); }},
      {"--podman-n", [&](const std::string& v) { o.podman_n = num(v); }},
      {"--lists", [&](const std::string& v) { o.lists = std::max(1, num(v)); }},
      {"--idle-s", [&](const std::string& v) { o.idle_s = std::atof(v.c_str()); }},
      {"--only", [&](const std::string& v) { o.only = v; }},
      {"--peers", [&](const std::string& v) { o.peers = v != "0"; }},
  };
  for (int i = 1; i < argc; ++i) {
    auto it = set.find(argv[i]);
    if (it == set.end()) die(std::string("unknown option ") + argv[i]);
    if (i + 1 >= argc) die(std::string("missing value after ") + argv[i]);
    it->second(argv[++i]);
  }
  if (o.socket.empty() || o.pid <= 0 || o.world_dir.empty())
    die("usage: ljd_bench --socket S --pid LJD_PID --world-dir DIR [options] (see the source)");
  return o;
}

// One keep-alive connection to ljd; every call dies on a transport error or an unexpected status.
class Api {
 public:
  explicit Api(const std::string& socket) : c_(socket) {}

  json call(const std::string& method, const std::string& target, const std::string& body,
            int want) {
    auto r = c_.request(method, target, body);
    if (!r) die(method + " " + target + ": " + r.error().what());
    if (r->status != want)
      die(method + " " + target + ": HTTP " + std::to_string(r->status) + " " + r->body);
    return r->body.empty() ? json() : json::parse(r->body);
  }
  lj::client::HttpClient& raw() { return c_; }

 private:
  lj::client::HttpClient c_;
};

// Create+start an ephemeral jail running argv with cgroup limits; returns its id.
std::string create_jail(Api& api, const Options& o, const std::vector<std::string>& argv,
                        bool auto_remove) {
  json body = {{"world", o.world},
               {"command", argv},
               {"limits", {{"memory_bytes", 64 << 20}, {"pids", 64}}},
               {"auto_remove", auto_remove}};
  return api.call("POST", "/v1/jails?start=true", body.dump(), 201).at("id").get<std::string>();
}

bool run_true(Api& api, const Options& o) {
  std::string id = create_jail(api, o, {"/bin/true"}, true);
  json w = api.call("GET", "/v1/jails/" + id + "/wait?timeout_s=60", "", 200);
  return w["exit"].is_object() && w["exit"]["code"] == 0;
}

// ---- results -----------------------------------------------------------------------------------

struct Row {
  explicit Row(std::string m) : metric(std::move(m)) {}
  std::string metric;
  std::optional<double> ljd;
  std::map<std::string, double> peers;  // tool -> figure
  std::string target;                   // what the issue asks, in words
  std::optional<bool> met;              // unset: no target
  bool ratio_to_bwrap = false;          // print ljd / bwrap
  std::string note;
};

// lib/jail is ljd's own backend called in-process (Backend::spawn + wait, the same spec): the
// difference between it and ljd is what the daemon adds (HTTP, index rows, events, the loop).
const std::vector<std::string> kPeers = {"lib/jail", "fork/exec", "bwrap", "crun", "podman"};

void print_table(const std::vector<Row>& rows) {
  std::printf("\n%-36s %10s", "figure", "ljd");
  for (const auto& p : kPeers) std::printf(" %10s", p.c_str());
  std::printf(" %10s  %-7s %s\n", "ljd/bwrap", "target", "");
  std::string rule(36 + 11 * (2 + kPeers.size()) + 30, '-');
  std::printf("%s\n", rule.c_str());
  auto num = [](double v) {
    char b[32];
    if (v >= 100)
      std::snprintf(b, sizeof b, "%.0f", v);
    else if (v >= 10)
      std::snprintf(b, sizeof b, "%.1f", v);
    else
      std::snprintf(b, sizeof b, "%.2f", v);
    return std::string(b);
  };
  for (const auto& r : rows) {
    std::printf("%-36s %10s", r.metric.c_str(), r.ljd ? num(*r.ljd).c_str() : "-");
    for (const auto& p : kPeers) {
      auto it = r.peers.find(p);
      std::printf(" %10s", it == r.peers.end() ? "-" : num(it->second).c_str());
    }
    std::string ratio = "-";
    if (r.ratio_to_bwrap && r.ljd && r.peers.count("bwrap") && r.peers.at("bwrap") > 0) {
      char b[32];
      std::snprintf(b, sizeof b, "%.2fx", *r.ljd / r.peers.at("bwrap"));
      ratio = b;
    }
    std::string verdict = !r.met ? "" : *r.met ? "MET" : "MISSED";
    std::printf(" %10s  %-7s %s%s%s\n", ratio.c_str(), verdict.c_str(), r.target.c_str(),
                r.note.empty() || r.target.empty() ? "" : "; ", r.note.c_str());
  }
  std::printf("%s\n", rule.c_str());
}

struct Idle {
  double rss_mib = 0, cpu_percent = 0;
};

Idle measure_idle(const Options& o, double seconds) {
  double c0 = lj::bench::cpu_seconds(o.pid);
  auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  double c1 = lj::bench::cpu_seconds(o.pid);
  double wall = ms_since(t0) / 1000;
  return {static_cast<double>(lj::bench::rss_kib(o.pid)) / 1024, 100 * (c1 - c0) / wall};
}

// ---- phases ------------------------------------------------------------------------------------

struct Import {
  double ms = 0;
  int samples = 0, progress_samples = 0;
  long entries = 0;
};

Import import_world(Api& api, const Options& o) {
  Import im;
  auto t0 = Clock::now();
  json body = {{"name", o.world}, {"source", o.world_dir}};
  json w = api.call("POST", "/v1/worlds", body.dump(), 202);
  // Poll as fast as one connection allows: each answer while importing carries the progress.
  while (w.value("state", "") == "importing") {
    ++im.samples;
    if (w.contains("progress") && w["progress"].value("entries", 0L) > 0) {
      ++im.progress_samples;
      im.entries = w["progress"].value("entries", 0L);
    }
    w = api.call("GET", "/v1/worlds/" + o.world, "", 200);
  }
  im.ms = ms_since(t0);
  if (w.value("state", "") != "ready") die("world import ended " + w.dump());
  return im;
}

struct BuildFigures {
  double first_ms = 0;
  int lines = 0, lines_before_end = 0;  // log lines, and those that came >= 20 ms before the end
  double cache_hit_median_ms = 0, cache_hit_max_ms = 0;
};

BuildFigures builds(Api& api, const Options& o, int cache_runs) {
  // Five lines 50 ms apart: a stream that reports progress shows them before the end record.
  const std::string jailfile = "name bench/progress\nversion 1.0.0\nworld " + o.world +
                               "\n#!/bin/sh\nfor i in 1 2 3 4 5; do echo \"step $i\"; sleep "
                               "0.05; done\necho done > /bench-built\n";
  json body = {{"jailfile", jailfile}};
  BuildFigures f;
  auto t0 = Clock::now();
  std::string id = api.call("POST", "/v1/builds", body.dump(), 202).at("id").get<std::string>();
  std::vector<double> at;
  double end_at = 0;
  std::string end_state;
  auto r = api.raw().stream("GET", "/v1/builds/" + id + "/logs?follow=true", "",
                            [&](std::string_view line) {
                              json j = json::parse(line, nullptr, false);
                              if (j.value("type", "") == "end") {
                                end_at = ms_since(t0);
                                end_state = j.value("state", "");
                                return false;
                              }
                              if (j.contains("data")) at.push_back(ms_since(t0));
                              return true;
                            });
  if (!r) die("build logs: " + r.error().what());
  if (end_state != "succeeded") die("the progress build ended " + end_state);
  f.first_ms = end_at;
  f.lines = static_cast<int>(at.size());
  for (double a : at) f.lines_before_end += a + 20 <= end_at;
  // The same inputs again: answered from the cache.
  api.raw().close();  // the stream above ended early: its connection is closed
  std::vector<double> hits;
  for (int i = 0; i < cache_runs; ++i) {
    auto t1 = Clock::now();
    std::string bid = api.call("POST", "/v1/builds", body.dump(), 202).at("id").get<std::string>();
    json w = api.call("GET", "/v1/builds/" + bid + "/wait?timeout_s=60", "", 200);
    hits.push_back(ms_since(t1));
    if (!w["build"].value("cache_hit", false))
      die("a repeated build was no cache hit: " + w.dump());
  }
  f.cache_hit_max_ms = quantile(hits, 1.0);
  f.cache_hit_median_ms = median(hits);
  return f;
}

struct Variant {
  std::string name;
  std::function<bool()> once;
  std::vector<double> ms;
  int failures = 0;
  double cpu_s = 0;  // CPU of this process and the children it reaped, over the timed runs
};

void interleave(std::vector<Variant>& vs, int rounds, int warmup) {
  for (auto& v : vs)
    for (int i = 0; i < warmup; ++i) v.once();
  for (int i = 0; i < rounds; ++i)
    for (auto& v : vs) {
      double c0 = lj::bench::self_and_children_cpu_seconds();
      auto t0 = Clock::now();
      if (!v.once()) ++v.failures;
      v.ms.push_back(ms_since(t0));
      v.cpu_s += lj::bench::self_and_children_cpu_seconds() - c0;
    }
}

// The spec ljd makes of create_jail's request: the world read-only under a private tmpfs upper,
// memory and pids limits.
bool libjail_true(lj::jail::Backend& backend, const Options& o) {
  static std::atomic<int> seq{0};
  lj::jail::JailSpec spec;
  spec.name = "lj-bench-" + std::to_string(getpid()) + "-" + std::to_string(seq++);
  spec.root.layers = {o.world_dir};
  spec.argv = {"/bin/true"};
  spec.limits.memory_bytes = 64 << 20;
  spec.limits.pids = 64;
  auto j = backend.spawn(spec);
  if (!j) {
    std::fprintf(stderr, "ljd_bench: lib/jail: %s\n", j.error().what().c_str());
    return false;
  }
  auto st = (*j)->wait();
  return st && st->code == 0;
}

// jails/s of `total` runs of `once` by two threads.
double two_threads(int total, const std::function<bool()>& once) {
  std::atomic<int> next{0}, failed{0};
  auto worker = [&] {
    while (next.fetch_add(1) < total)
      if (!once()) ++failed;
  };
  auto t0 = Clock::now();
  std::thread a(worker), b(worker);
  a.join();
  b.join();
  double s = ms_since(t0) / 1000;
  return failed > 0 ? 0 : total / s;
}

// jails/s of `total` jails run by two concurrent clients, one keep-alive connection each.
double ljd_throughput(const Options& o, int total) {
  double t = two_threads(total, [&] {
    thread_local Api api(o.socket);  // one per worker thread, closed when it ends
    return run_true(api, o);
  });
  if (t == 0) die("jails of the throughput run failed");
  return t;
}

// jails/s of `total` runs of a peer command line under `xargs -P2` (the issue's measure).
std::optional<double> xargs_throughput(const std::string& cmd, int total) {
  auto t0 = Clock::now();
  bool ok = lj::bench::run_quiet(
      {"/bin/sh", "-c", "seq " + std::to_string(total) + " | xargs -P2 -I{} " + cmd});
  double s = ms_since(t0) / 1000;
  if (!ok) return std::nullopt;
  return total / s;
}

struct LiveFigures {
  double first_ms = 0, last_ms = 0, head_median = 0, tail_median = 0, rss_mib = 0;
  double list_median_ms = 0, list_max_ms = 0, teardown_s = 0;
  double head_cpu_ms = 0, tail_cpu_ms = 0;  // ljd's own CPU per create in the first/last window
  // Spawn-to-exit medians (ljd and the peers, interleaved) before the live jails and among them:
  // what the kernel charges every tool for the thousand jails beside it (pivot_root walks every
  // task, each sysfs mount every sysfs superblock).
  std::map<std::string, double> idle_spawn, busy_spawn;
  std::size_t listed = 0;
  int window = 0;
};

LiveFigures live_jails(const Options& o,
                       const std::function<std::map<std::string, double>()>& spawns) {
  LiveFigures f;
  f.idle_spawn = spawns();
  Api api(o.socket);
  std::vector<std::string> ids;
  std::vector<double> ms;
  // Windows of a tenth (at most 100): single creates are too noisy on a shared machine. ljd's own
  // CPU over each window (its threads, not the live jails') is the load-independent view.
  f.window = std::max(1, std::min(100, o.live / 10));
  std::vector<double> cpu_at(o.live + 1, 0);
  for (int i = 0; i < o.live; ++i) {
    if (i == 0 || i == f.window || i == o.live - f.window)
      cpu_at[i] = lj::bench::cpu_seconds(o.pid);
    auto t0 = Clock::now();
    ids.push_back(create_jail(api, o, {"sleep", "86400"}, false));
    ms.push_back(ms_since(t0));
  }
  cpu_at[o.live] = lj::bench::cpu_seconds(o.pid);
  f.busy_spawn = spawns();
  f.head_cpu_ms = 1000 * (cpu_at[f.window] - cpu_at[0]) / f.window;
  f.tail_cpu_ms = 1000 * (cpu_at[o.live] - cpu_at[o.live - f.window]) / f.window;
  f.first_ms = ms.front();
  f.last_ms = ms.back();
  std::vector<double> head(ms.begin(), ms.begin() + f.window), tail(ms.end() - f.window, ms.end());
  f.head_median = median(head);
  f.tail_median = median(tail);
  f.rss_mib = static_cast<double>(lj::bench::rss_kib(o.pid)) / 1024;
  std::vector<double> lists;
  for (int i = 0; i < o.lists; ++i) {
    auto t0 = Clock::now();
    json l = api.call("GET", "/v1/jails?state=running", "", 200);
    lists.push_back(ms_since(t0));
    f.listed = l.is_array() ? l.size() : l.value("jails", json::array()).size();
  }
  f.list_max_ms = quantile(lists, 1.0);
  f.list_median_ms = median(lists);
  // Tear down with two clients, as a controller would.
  auto t0 = Clock::now();
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    Api a(o.socket);
    for (std::size_t i; (i = next.fetch_add(1)) < ids.size();)
      a.call("DELETE", "/v1/jails/" + ids[i] + "?force=true", "", 200);
  };
  std::thread t1(worker), t2(worker);
  t1.join();
  t2.join();
  f.teardown_s = ms_since(t0) / 1000;
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  Options o = parse(argc, argv);
  const bool have_bwrap = o.peers && access("/usr/bin/bwrap", X_OK) == 0;
  const bool have_crun = o.peers && !o.crun_bundle.empty() && access("/usr/bin/crun", X_OK) == 0;
  const bool have_podman = o.peers && o.podman_n > 0 && access("/usr/bin/podman", X_OK) == 0;
  auto want = [&](const std::string& phase) {
    return o.only.empty() || ("," + o.only + ",").find("," + phase + ",") != std::string::npos;
  };
  char buf[128];
  std::optional<std::unique_ptr<lj::jail::Backend>> backend;
  if (o.peers) {
    if (auto b = lj::jail::make_backend({}))
      backend = std::move(*b);
    else
      std::fprintf(stderr, "ljd_bench: no lib/jail backend: %s\n", b.error().what().c_str());
  }
  std::vector<Row> rows;
  std::string notes;

  std::printf("ljd_bench: N=%d, %d live jails, %d jails per throughput run, %ld cores\n", o.n,
              o.live, o.tput, ::sysconf(_SC_NPROCESSORS_ONLN));
  Api api(o.socket);
  api.call("GET", "/v1/_ping", "", 200);
  Idle idle0 = measure_idle(o, o.idle_s);
  std::printf("  idle: RSS %.1f MiB, CPU %.2f%% over %.1f s\n", idle0.rss_mib, idle0.cpu_percent,
              o.idle_s);

  Import im = import_world(api, o);
  std::printf(
      "  world import: %.1f ms, %d polls while importing, %d with progress (last: %ld "
      "entries)\n",
      im.ms, im.samples, im.progress_samples, im.entries);
  BuildFigures bf;
  if (want("build")) {
    bf = builds(api, o, std::max(5, o.n / 10));
    std::printf(
        "  build: %.0f ms, %d of %d log lines streamed >= 20 ms before its end; cache hit "
        "median %.2f ms, max %.2f ms\n",
        bf.first_ms, bf.lines_before_end, bf.lines, bf.cache_hit_median_ms, bf.cache_hit_max_ms);
  }

  // ---- spawn-to-exit latency, interleaved rounds ----
  // bwrap as every phase runs it (no overlay, no cgroups), and as one line for xargs.
  const std::vector<std::string> bwrap_argv = {
      "/usr/bin/bwrap", "--unshare-all", "--die-with-parent",
      "--ro-bind",      o.world_dir,     "/",
      "--dev",          "/dev",          "--proc",
      "/proc",          "/bin/true"};
  std::string bwrap_cmd;
  for (const auto& a : bwrap_argv) bwrap_cmd += (bwrap_cmd.empty() ? "" : " ") + a;
  auto bwrap_true = [&] { return lj::bench::run_quiet(bwrap_argv); };
  const std::string crun_prefix = "lj-bench-" + std::to_string(getpid());
  if (want("latency")) {
    std::vector<Variant> vs;
    vs.push_back({"ljd", [&] { return run_true(api, o); }, {}, 0});
    if (backend) vs.push_back({"lib/jail", [&] { return libjail_true(**backend, o); }, {}, 0});
    if (o.peers)
      vs.push_back({"fork/exec", [] { return lj::bench::run_quiet({"/bin/true"}); }, {}, 0});
    if (have_bwrap) vs.push_back({"bwrap", bwrap_true, {}, 0});
    int seq = 0;
    if (have_crun) {
      vs.push_back({"crun",
                    [&] {
                      return lj::bench::run_quiet({"/usr/bin/crun", "run", "--bundle",
                                                   o.crun_bundle,
                                                   crun_prefix + "-" + std::to_string(seq++)});
                    },
                    {},
                    0});
    }
    // ljd's CPU and its reaped jails' (init, /bin/true), all runs of ljd in the phase.
    const double ljd_cpu0 = lj::bench::cpu_seconds(o.pid, true);
    interleave(vs, o.n, 5);
    const double ljd_cpu_ms = 1000 * (lj::bench::cpu_seconds(o.pid, true) - ljd_cpu0) / (o.n + 5);
    if (have_podman) {
      std::vector<Variant> pv;
      pv.push_back({"podman",
                    [&] {
                      return lj::bench::run_quiet({"/usr/bin/podman", "run", "--rm", "--network",
                                                   "none", "--ulimit", "nofile=1024:1024",
                                                   "--ulimit", "nproc=1000:1000", "--rootfs",
                                                   o.world_dir, "/bin/true"});
                    },
                    {},
                    0});
      interleave(pv, o.podman_n, 1);
      vs.push_back(std::move(pv.front()));
    }
    Row med{"spawn-to-exit /bin/true, median (ms)"}, p99{"spawn-to-exit /bin/true, p99 (ms)"};
    Row cpu{"CPU per jail, all processes (ms)"};
    cpu.ratio_to_bwrap = true;
    cpu.ljd = ljd_cpu_ms;
    cpu.note = "podman's conmon is not its child: left out";
    for (auto& v : vs) {
      if (v.failures > 0) {
        if (v.name == "ljd") die(std::to_string(v.failures) + " ljd jails failed");
        notes += "  " + v.name + ": " + std::to_string(v.failures) + " of " +
                 std::to_string(v.ms.size()) + " runs failed (figures left out)\n";
        continue;
      }
      double m = median(v.ms), p = quantile(v.ms, 0.99);
      if (v.name == "ljd") {
        med.ljd = m;
        p99.ljd = p;
      } else {
        med.peers[v.name] = m;
        p99.peers[v.name] = p;
        if (v.name != "podman") cpu.peers[v.name] = 1000 * v.cpu_s / static_cast<double>(o.n);
      }
    }
    med.ratio_to_bwrap = p99.ratio_to_bwrap = true;
    if (med.peers.count("bwrap")) {
      med.met = *med.ljd <= med.peers["bwrap"];
      med.target = "<= bwrap's median";
    }
    p99.met = *p99.ljd < 3 * *med.ljd;
    p99.target = "< 3x ljd's median";
    if (have_podman && !med.peers.count("podman")) notes += "  podman: see the failures above\n";
    rows.insert(rows.end(), {med, p99, cpu});
  }

  // ---- throughput, 2 concurrent clients ----
  if (want("throughput")) {
    Row tp{"throughput, 2 clients (jails/s)"};
    tp.ljd = ljd_throughput(o, o.tput);
    if (o.peers) {
      if (auto t = xargs_throughput("/bin/true", o.tput)) tp.peers["fork/exec"] = *t;
      if (backend) {
        if (double t = two_threads(o.tput, [&] { return libjail_true(**backend, o); }); t > 0)
          tp.peers["lib/jail"] = t;
      }
    }
    if (have_bwrap) {
      if (auto t = xargs_throughput(bwrap_cmd, o.tput)) tp.peers["bwrap"] = *t;
    }
    if (have_crun) {
      if (auto t = xargs_throughput(
              "/usr/bin/crun run --bundle " + o.crun_bundle + " " + crun_prefix + "-x{}", o.tput))
        tp.peers["crun"] = *t;
    }
    tp.ratio_to_bwrap = true;
    if (tp.peers.count("bwrap")) {
      tp.met = *tp.ljd >= tp.peers["bwrap"];
      tp.target = ">= bwrap (xargs -P2)";
    }
    rows.push_back(tp);
  }

  // ---- many live jails ----
  if (want("live") && o.live > 0) {
    auto spawns = [&] {
      std::vector<Variant> vs;
      vs.push_back({"ljd", [&] { return run_true(api, o); }, {}, 0});
      if (backend) vs.push_back({"lib/jail", [&] { return libjail_true(**backend, o); }, {}, 0});
      if (have_bwrap) vs.push_back({"bwrap", bwrap_true, {}, 0});
      interleave(vs, 30, 3);
      std::map<std::string, double> m;
      for (auto& v : vs)
        if (v.failures == 0) m[v.name] = median(v.ms);
      return m;
    };
    LiveFigures lf = live_jails(o, spawns);
    const std::string L = std::to_string(o.live), W = std::to_string(lf.window);
    Row idle_sp{"spawn-to-exit, 0 live jails (ms)"},
        busy_sp{"spawn-to-exit, " + L + " live jails (ms)"};
    for (auto [row, m] :
         {std::pair{&idle_sp, &lf.idle_spawn}, std::pair{&busy_sp, &lf.busy_spawn}}) {
      row->ratio_to_bwrap = true;
      for (const auto& [name, ms] : *m) {
        if (name == "ljd")
          row->ljd = ms;
        else
          row->peers[name] = ms;
      }
    }
    if (busy_sp.ljd && idle_sp.ljd && busy_sp.peers.count("bwrap") &&
        idle_sp.peers.count("bwrap")) {
      std::snprintf(buf, sizeof buf, "x%.2f for ljd, x%.2f for bwrap with %s live",
                    *busy_sp.ljd / *idle_sp.ljd, busy_sp.peers["bwrap"] / idle_sp.peers["bwrap"],
                    L.c_str());
      busy_sp.note = buf;
    }
    Row first{"create live jail #1 (ms)"}, last{"create live jail #" + L + " (ms)"};
    first.ljd = lf.first_ms;
    last.ljd = lf.last_ms;
    Row head{"create, median of first " + W + " (ms)"},
        tail{"create, median of last " + W + " (ms)"};
    head.ljd = lf.head_median;
    tail.ljd = lf.tail_median;
    tail.met = lf.tail_median <= 1.5 * lf.head_median;
    tail.target = "<= 1.5x the first";
    Row hcpu{"ljd CPU per create, first " + W + " (ms)"},
        tcpu{"ljd CPU per create, last " + W + " (ms)"};
    hcpu.ljd = lf.head_cpu_ms;
    tcpu.ljd = lf.tail_cpu_ms;
    rows.insert(rows.end(), {first, last, head, tail, hcpu, tcpu, idle_sp, busy_sp});
    Row rss{"ljd RSS at " + L + " live jails (MiB)"};
    rss.ljd = lf.rss_mib;
    rss.met = lf.rss_mib < 64;
    rss.target = "< 64 MiB";
    Row list{"list " + L + " live jails, median (ms)"};
    list.ljd = lf.list_median_ms;
    list.met = lf.list_median_ms < 50 && lf.listed == static_cast<std::size_t>(o.live);
    list.target = "< 50 ms";
    std::snprintf(buf, sizeof buf, "max %.1f ms, %zu listed", lf.list_max_ms, lf.listed);
    list.note = buf;
    Row down{"remove " + L + " live jails, 2 clients (s)"};
    down.ljd = lf.teardown_s;
    rows.insert(rows.end(), {rss, list, down});
  }

  // ---- builds, world import, idle ----
  if (want("build")) {
    Row hit{"build cache hit, median (ms)"};
    hit.ljd = bf.cache_hit_median_ms;
    hit.met = bf.cache_hit_median_ms < 50;
    hit.target = "< 50 ms";
    std::snprintf(buf, sizeof buf, "max %.1f ms", bf.cache_hit_max_ms);
    hit.note = buf;
    rows.push_back(hit);
  }
  Row imp{"world import, busybox (ms)"};
  imp.ljd = im.ms;
  imp.met = im.progress_samples > 0;
  imp.target = "reports progress";
  std::snprintf(buf, sizeof buf, "%d of %d polls showed progress", im.progress_samples, im.samples);
  imp.note = buf;
  rows.push_back(imp);
  if (want("build")) {
    Row bp{"build with 5 timed lines (ms)"};
    bp.ljd = bf.first_ms;
    bp.met = bf.lines_before_end >= 4;
    bp.target = "reports progress";
    std::snprintf(buf, sizeof buf, "%d of %d lines streamed before the end", bf.lines_before_end,
                  bf.lines);
    bp.note = buf;
    rows.push_back(bp);
  }
  Idle idle1 = measure_idle(o, o.idle_s);
  Row r0{"ljd idle RSS, fresh (MiB)"}, c0{"ljd idle CPU, fresh (%)"};
  Row r1{"ljd idle RSS, after the run (MiB)"}, c1{"ljd idle CPU, after the run (%)"};
  r0.ljd = idle0.rss_mib;
  c0.ljd = idle0.cpu_percent;
  r1.ljd = idle1.rss_mib;
  c1.ljd = idle1.cpu_percent;
  rows.insert(rows.end(), {r0, c0, r1, c1});

  print_table(rows);
  if (!o.peers) {
    notes += "  peers left out (--peers 0)\n";
  } else {
    if (!have_bwrap) notes += "  bwrap: not installed\n";
    if (!have_crun) notes += "  crun: not installed or no bundle given\n";
    if (!have_podman) notes += "  podman: not installed or --podman-n 0\n";
  }
  if (!notes.empty()) std::printf("notes:\n%s", notes.c_str());
  int missed = 0;
  for (const auto& r : rows) missed += r.met && !*r.met;
  std::printf("targets: %d missed\n", missed);
  return 0;
}
