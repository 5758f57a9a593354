// Soak: a real ljd (temporary root, busybox world) driven through its API by many jails in
// sequence and at once while builds run beside them. Every exit code is checked; ljd's descriptor
// count and resident memory are sampled throughout and bounded; at the end nothing may be left:
// host mounts, cgroups of the soak's jails, status files, staging directories, live jails, rows
// of the soak's jails not removed. Prints the figures, exits non-zero on any failure.
//
//   soak [--jails N] [--concurrent M] [--max-rss-mib R] [--fd-slack S] [--if-requested 1]
//
// Needs root (jails); as another user it prints why and exits 77 (ctest's SKIP_RETURN_CODE). The
// ctest entry passes --if-requested: it runs only when LJ_SOAK=1 (scripts/test, hence CI, sets it)
// so that a bare `ctest` before a land does not spend the soak's minutes.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"
#include "ljd_process.hpp"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int jails = 10000;
  int concurrent = 200;
  long max_rss_mib = 64;
  int fd_slack = 4;
};

// Everything that went wrong, printed at the end (the first few of each kind in full).
class Failures {
 public:
  void add(const std::string& what) {
    std::lock_guard lk(mu_);
    if (all_.size() < 20) all_.push_back(what);
    ++count_;
  }
  int count() const {
    std::lock_guard lk(mu_);
    return count_;
  }
  void print() const {
    std::lock_guard lk(mu_);
    for (const auto& f : all_) std::fprintf(stderr, "soak: FAIL %s\n", f.c_str());
    if (count_ > static_cast<int>(all_.size()))
      std::fprintf(stderr, "soak: ... and %d more\n", count_ - static_cast<int>(all_.size()));
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> all_;
  int count_ = 0;
};

Failures failures;

int count_fds(pid_t pid) {
  int n = 0;
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (!d) return -1;
  while (auto* e = ::readdir(d))
    if (e->d_name[0] != '.') ++n;
  ::closedir(d);
  return n;
}

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  return -1;
}

// ljd's descriptors and memory, every 50 ms until stopped.
class Sampler {
 public:
  explicit Sampler(pid_t pid) : pid_(pid), t_([this] { loop(); }) {}
  ~Sampler() { stop(); }
  void stop() {
    stop_ = true;
    if (t_.joinable()) t_.join();
  }
  int peak_fds() const { return peak_fds_; }
  long peak_rss_kib() const { return peak_rss_; }

 private:
  void loop() {
    while (!stop_) {
      int f = count_fds(pid_);
      long r = rss_kib(pid_);
      if (f > peak_fds_) peak_fds_ = f;
      if (r > peak_rss_) peak_rss_ = r;
      std::this_thread::sleep_for(50ms);
    }
  }
  pid_t pid_;
  std::atomic<bool> stop_{false};
  std::atomic<int> peak_fds_{0};
  std::atomic<long> peak_rss_{0};
  std::thread t_;
};

std::string label;  // every jail of this run carries labels {"soak": label}

json request(lj::client::HttpClient& c, const char* method, const std::string& target,
             const json& body, int want, const std::string& what) {
  auto r = c.request(method, target, body.is_null() ? std::string() : body.dump());
  if (!r) {
    failures.add(what + ": " + r.error().what());
    return json();
  }
  if (r->status != want) {
    failures.add(what + ": HTTP " + std::to_string(r->status) + " " + r->body);
    return json();
  }
  return json::parse(r->body, nullptr, false);
}

json jail_body(int i, const std::string& script) {
  return {{"world", "bb"},
          {"command", {"sh", "-c", script}},
          {"auto_remove", true},
          // Limits, as a PaaS would set: each jail gets its memory and pids cgroups.
          {"limits", {{"memory_bytes", 64 << 20}, {"pids", 32}}},
          {"labels", {{"soak", label}}},
          {"name", "sk" + label + "-" + std::to_string(i)}};
}

// Waits for jail `id` and checks its exit code.
bool check_exit(lj::client::HttpClient& c, const std::string& id, int want) {
  json w = request(c, "GET", "/v1/jails/" + id + "/wait?timeout_s=120", json(), 200, "wait " + id);
  if (!w.is_object()) return false;
  const json& code = w["exit"]["code"];
  if (!code.is_number() || code.get<int>() != want) {
    failures.add("jail " + id + ": wanted exit " + std::to_string(want) + ", got " + w.dump());
    return false;
  }
  return true;
}

std::atomic<int> jails_run{0}, codes_right{0};

// Jails one after another: create+start, wait, next.
void sequence(const std::string& sock, int from, int n) {
  lj::client::HttpClient c(sock);
  for (int i = from; i < from + n; ++i) {
    int code = i % 256;
    json j =
        request(c, "POST", "/v1/jails?start=true", jail_body(i, "exit " + std::to_string(code)),
                201, "create jail " + std::to_string(i));
    if (!j.is_object()) continue;
    ++jails_run;
    if (check_exit(c, j["id"], code)) ++codes_right;
  }
}

// `n` jails alive at once: all created by `threads` clients, then all waited for.
void at_once(const std::string& sock, int from, int n, int threads) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      lj::client::HttpClient c(sock);
      std::vector<std::pair<std::string, int>> ids;
      for (int i = from + t; i < from + n; i += threads) {
        int code = i % 256;
        json j = request(c, "POST", "/v1/jails?start=true",
                         jail_body(i, "sleep 1; exit " + std::to_string(code)), 201,
                         "create jail " + std::to_string(i));
        if (!j.is_object()) continue;
        ++jails_run;
        ids.emplace_back(j["id"], code);
      }
      for (auto& [id, code] : ids)
        if (check_exit(c, id, code)) ++codes_right;
    });
  }
  for (auto& t : ts) t.join();
}

// Builds beside the jails until `stop`: a new version each round (a cache miss: the script runs
// in a build jail), the same Jailfile again (a cache hit), then the overlay deleted.
struct BuildLoop {
  std::atomic<bool> stop{false};
  std::atomic<int> misses{0}, hits{0};
  std::set<std::string> ids;

  // Versions 1.0.<first>, 1.0.<first+1>, ...: at most `rounds` of them.
  void run(const std::string& sock, int first, int rounds) {
    lj::client::HttpClient c(sock);
    for (int k = first; !stop && k < first + rounds; ++k) {
      std::string version = "1.0." + std::to_string(k);
      std::string jf = "name soak/app\nversion " + version + "\nworld bb\n#!/bin/sh\necho " +
                       std::to_string(k) + " > /v\n";
      for (int again = 0; again < 2; ++again) {
        json b = request(c, "POST", "/v1/builds", {{"jailfile", jf}}, 202, "build " + version);
        if (!b.is_object()) break;
        std::string id = b["id"];
        ids.insert(id);
        json w = request(c, "GET", "/v1/builds/" + id + "/wait?timeout_s=120", json(), 200,
                         "wait build " + id);
        if (!w.is_object()) break;
        const json& build = w["build"];
        if (build["state"] != "succeeded") {
          failures.add("build " + version + ": " + w.dump());
          break;
        }
        bool hit = build.value("cache_hit", false);
        if (hit != (again == 1))
          failures.add("build " + version + (again ? " again" : "") +
                       ": cache_hit=" + (hit ? "true" : "false"));
        ++(hit ? hits : misses);
      }
      request(c, "DELETE", "/v1/overlays/soak/app/" + version, json(), 200,
              "delete overlay " + version);
      // A CI runner's pace, not a build storm: the jails are what is soaked.
      for (int i = 0; i < 5 && !stop; ++i) std::this_thread::sleep_for(100ms);
    }
  }
};

std::vector<std::string> host_mounts_under(const fs::path& root) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream ls(line);
    std::string id, parent, dev, rootp, mp;
    ls >> id >> parent >> dev >> rootp >> mp;
    if (mp.rfind(root.string(), 0) == 0) out.push_back(mp);
  }
  return out;
}

// The "ljd" cgroups that `pid` puts its jails under, one per hierarchy: below its own cgroup of
// each controller (lib/jail/linux/cgroup.hpp), read from /proc/PID/cgroup while it runs.
std::vector<fs::path> jail_cgroup_roots(pid_t pid) {
  std::vector<fs::path> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    auto a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string ctrls = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    std::vector<std::string> mounts;
    if (ctrls.empty()) {
      mounts = {"", "unified"};
    } else {
      mounts.push_back(ctrls);
      for (std::size_t i = 0, j; i <= ctrls.size(); i = j + 1) {
        j = std::min(ctrls.find(',', i), ctrls.size());
        mounts.push_back(ctrls.substr(i, j - i));
      }
    }
    for (const auto& m : mounts) {
      fs::path d = fs::path("/sys/fs/cgroup") / m / fs::path(path).relative_path() / "ljd";
      std::error_code ec;
      if (fs::is_directory(d, ec) &&
          std::find(out.begin(), out.end(), fs::canonical(d, ec)) == out.end()) {
        out.push_back(fs::canonical(d, ec));
        // ljd's jails go in its root's scope below (lib/jail/linux/cgroup.hpp).
        for (const auto& e : fs::directory_iterator(d, ec)) {
          if (e.path().filename().string().rfind("scope-", 0) == 0) out.push_back(e.path());
        }
      }
    }
  }
  return out;
}

// Cgroups named after the soak's jails or its builds' jails, or idle ones of ljd `pid`'s pool.
std::vector<std::string> leftover_cgroups(const std::vector<fs::path>& roots,
                                          const std::set<std::string>& build_ids, pid_t pid,
                                          bool count_pool) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& root : roots) {
    for (const auto& e : fs::directory_iterator(root, ec)) {
      std::string n = e.path().filename();
      bool ours = n.rfind("sk" + label + "-", 0) == 0 ||
                  (n.rfind("lj-", 0) == 0 && build_ids.count(n.substr(3)) > 0) ||
                  (count_pool && n.rfind(".pool-" + std::to_string(pid) + "-", 0) == 0);
      if (ours && e.is_directory()) out.push_back(e.path());
    }
  }
  return out;
}

std::size_t count_entries(const fs::path& dir) {
  std::error_code ec;
  std::size_t n = 0;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) ++n;
  return n;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  bool if_requested = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string k = argv[i];
    long v = std::atol(argv[i + 1]);
    if (k == "--jails")
      opt.jails = static_cast<int>(v);
    else if (k == "--concurrent")
      opt.concurrent = static_cast<int>(v);
    else if (k == "--max-rss-mib")
      opt.max_rss_mib = v;
    else if (k == "--fd-slack")
      opt.fd_slack = static_cast<int>(v);
    else if (k == "--if-requested")
      if_requested = v != 0;
    else {
      std::fprintf(stderr,
                   "usage: soak [--jails N] [--concurrent M] [--max-rss-mib R] [--fd-slack S] "
                   "[--if-requested 1]\n");
      return 2;
    }
  }
  if (const char* e = std::getenv("LJ_SOAK"); if_requested && !(e && std::string(e) == "1")) {
    std::printf("soak: not requested (LJ_SOAK=1 runs it; scripts/test sets it): skipped\n");
    return 77;
  }
  if (::getuid() != 0) {
    std::printf("soak: needs root (jails need namespaces, mounts and cgroups): skipped\n");
    return 77;
  }
  setvbuf(stdout, nullptr, _IOLBF, 0);
  label = std::to_string(::getpid());
  const auto t0 = Clock::now();
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };

  const auto mounts_before = host_mounts_under("/tmp");
  lj::testing::LjdProcess ljd("workers = 4\nlog_level = info\n");
  if (auto st = ljd.start(); !st) {
    std::fprintf(stderr, "soak: ljd did not start: %s\n", st.error().what().c_str());
    return 1;
  }
  if (auto st = ljd.make_busybox_world("bb"); !st) {
    std::fprintf(stderr, "soak: world: %s\n", st.error().what().c_str());
    return 1;
  }
  const pid_t pid = ljd.pid();
  const std::string sock = ljd.socket();
  const auto cg_roots = jail_cgroup_roots(pid);

  // Warm up (first spawns, the index's pages, a build), then the baseline.
  sequence(sock, 0, 20);
  BuildLoop warm;
  warm.run(sock, 0, 1);
  std::this_thread::sleep_for(500ms);
  const int base_fds = count_fds(pid);
  const long base_rss = rss_kib(pid);
  std::printf("soak: ljd pid=%d baseline fds=%d rss=%ld KiB (after %d warm-up jails)\n", pid,
              base_fds, base_rss, jails_run.load());

  Sampler sampler(pid);
  BuildLoop builds;
  std::thread builder([&] { builds.run(sock, 1, 1 << 30); });

  const auto t_seq = Clock::now();
  const int seq_from = 1000;
  sequence(sock, seq_from, opt.jails);
  const double seq_s = secs(Clock::now() - t_seq);
  std::printf("soak: %d jails in sequence: %.1f s (%.1f ms each)\n", opt.jails, seq_s,
              1000.0 * seq_s / std::max(1, opt.jails));

  const auto t_par = Clock::now();
  at_once(sock, seq_from + opt.jails, opt.concurrent, 10);
  const double par_s = secs(Clock::now() - t_par);
  std::printf("soak: %d jails at once: %.1f s\n", opt.concurrent, par_s);

  builds.stop = true;
  builder.join();
  builds.ids.insert(warm.ids.begin(), warm.ids.end());

  // Settle: every teardown finished, descriptors back to the baseline.
  int end_fds = count_fds(pid);
  for (auto until = Clock::now() + 15s;
       Clock::now() < until && end_fds > base_fds + opt.fd_slack;) {
    std::this_thread::sleep_for(100ms);
    end_fds = count_fds(pid);
  }
  sampler.stop();
  const long end_rss = rss_kib(pid);

  // Leaks.
  int leaks = 0;
  auto leak = [&](const std::string& what) {
    ++leaks;
    failures.add("leak: " + what);
  };
  if (end_fds > base_fds + opt.fd_slack)
    leak("ljd holds " + std::to_string(end_fds) + " descriptors, baseline " +
         std::to_string(base_fds) + " + " + std::to_string(opt.fd_slack));
  for (const auto& m : host_mounts_under(ljd.root())) leak("host mount " + m);
  // While ljd runs it may keep emptied cgroups idle for reuse; none may carry a jail's name.
  for (const auto& cg : leftover_cgroups(cg_roots, builds.ids, pid, false)) leak("cgroup " + cg);
  const auto idle = leftover_cgroups(cg_roots, builds.ids, pid, true).size();
  const fs::path state = ljd.root() / ".ljd";
  if (auto n = count_entries(state / "run")) leak(std::to_string(n) + " files in .ljd/run");
  if (auto n = count_entries(ljd.root() / ".staging")) leak(std::to_string(n) + " staging entries");
  if (fs::exists(ljd.root() / "soak" / "app"))
    if (auto n = count_entries(ljd.root() / "soak" / "app"))
      leak(std::to_string(n) + " overlays of soak/app left");
  {
    lj::client::HttpClient c(sock);
    json info = request(c, "GET", "/v1/info", json(), 200, "info");
    if (info.is_object() && info["jails_live"] != 0)
      leak("jails_live=" + info["jails_live"].dump());
    for (const char* s : {"creating", "created", "running", "exited"}) {
      json l = request(c, "GET", "/v1/jails?state=" + std::string(s) + "&label=soak=" + label,
                       json(), 200, "list jails");
      if (l.is_array() && !l.empty()) leak(std::to_string(l.size()) + " jail rows still " + s);
    }
    json removed = request(c, "GET", "/v1/jails?state=removed&label=soak=" + label, json(), 200,
                           "list removed");
    if (removed.is_array() && static_cast<int>(removed.size()) != jails_run)
      leak(std::to_string(removed.size()) + " removed rows for " +
           std::to_string(jails_run.load()) + " jails");
  }
  if (auto n = count_entries(state / "logs"))
    std::printf("soak: %zu log files kept for the retention window (exit records)\n", n);

  const long peak_rss = std::max(sampler.peak_rss_kib(), end_rss);
  if (peak_rss > opt.max_rss_mib * 1024)
    failures.add("peak RSS " + std::to_string(peak_rss) + " KiB > " +
                 std::to_string(opt.max_rss_mib) + " MiB");
  int stop_status = ljd.stop();
  if (stop_status != 0)
    failures.add("ljd did not stop cleanly: status " + std::to_string(stop_status));
  for (const auto& m : host_mounts_under("/tmp"))
    if (std::find(mounts_before.begin(), mounts_before.end(), m) == mounts_before.end() &&
        m.rfind(ljd.root().string(), 0) == 0)
      leak("host mount after stop " + m);
  // Stopped, it removes its idle ones too.
  for (const auto& cg : leftover_cgroups(cg_roots, builds.ids, pid, true))
    leak("cgroup after stop " + cg);

  const int wrong = jails_run - codes_right;
  std::printf("soak: jails run=%d (sequence %d, at once %d, warm-up 20), exit codes wrong=%d\n",
              jails_run.load(), opt.jails, opt.concurrent, wrong);
  std::printf("soak: builds beside them: %d run (cache misses), %d cache hits\n",
              builds.misses.load(), builds.hits.load());
  std::printf("soak: ljd fds baseline=%d peak=%d end=%d (bound: end <= baseline + %d)\n", base_fds,
              sampler.peak_fds(), end_fds, opt.fd_slack);
  std::printf(
      "soak: ljd RSS baseline=%.1f MiB peak=%.1f MiB end=%.1f MiB (bound: peak < %ld MiB)\n",
      base_rss / 1024.0, peak_rss / 1024.0, end_rss / 1024.0, opt.max_rss_mib);
  std::printf("soak: cgroup roots checked: %zu; idle pooled cgroups before stop: %zu\n",
              cg_roots.size(), idle);
  std::printf("soak: leaks found=%d; wall time %.1f s\n", leaks, secs(Clock::now() - t0));
  if (failures.count()) {
    failures.print();
    std::printf("soak: FAILED (%d problems)\n", failures.count());
    return 1;
  }
  std::printf("soak: ok\n");
  return 0;
}
