// A small driver for profiling ljd's hot path through its real API (the full harness is bench/'s
// own): latency of create+start+wait of /bin/true on one keep-alive connection, beside bwrap in
// the same run (round-robin); throughput of P clients beside `bwrap` run by P workers; and K live
// jails (create cost of the first and last, ljd's RSS, list time). bench/profile_api.sh runs it.
// Usage: profile_api SOCKET WORLD_NAME WORLD_DIR latency N | throughput N P | live K LJD_PID
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"

extern char** environ;
using Clock = std::chrono::steady_clock;
using lj::client::HttpClient;

namespace {

std::string g_world, g_dir;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string body(const std::vector<std::string>& cmd) {
  nlohmann::json j = {{"world", g_world}, {"command", cmd}, {"auto_remove", true}};
  if (!std::getenv("LJ_NO_LIMITS")) j["limits"] = {{"memory_bytes", 256 << 20}, {"pids", 64}};
  return j.dump();
}

bool ljd_true(HttpClient& c) {
  auto r = c.request("POST", "/v1/jails?start=true", body({"/bin/true"}));
  if (!r || r->status != 201) {
    std::fprintf(stderr, "create: %s\n", r ? r->body.c_str() : r.error().what().c_str());
    return false;
  }
  auto id = nlohmann::json::parse(r->body)["id"].get<std::string>();
  auto w = c.request("GET", "/v1/jails/" + id + "/wait");
  return w && w->status == 200;
}

bool bwrap_true() {
  const char* a[] = {"/usr/bin/bwrap", "--unshare-all", "--die-with-parent",
                     "--ro-bind",      g_dir.c_str(),   "/",
                     "--dev",          "/dev",          "--proc",
                     "/proc",          "/bin/true",     nullptr};
  pid_t pid;
  if (posix_spawn(&pid, a[0], nullptr, nullptr, const_cast<char**>(a), environ) != 0) return false;
  int ws = 0;
  waitpid(pid, &ws, 0);
  return WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
}

void report(const char* name, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  std::printf("%-8s median %7.3f ms  p99 %7.3f ms  max %7.3f ms\n", name, v[v.size() / 2],
              v[std::min(v.size() - 1, v.size() * 99 / 100)], v.back());
}

long rss_kib(const std::string& pid) {
  std::ifstream in("/proc/" + pid + "/status");
  for (std::string k; in >> k;) {
    if (k == "VmRSS:") {
      long v = 0;
      in >> v;
      return v;
    }
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr,
                 "usage: profile_api SOCKET WORLD DIR latency N|throughput N P|live K PID\n");
    return 2;
  }
  std::string sock = argv[1], mode = argv[4];
  g_world = argv[2];
  g_dir = argv[3];
  int n = std::atoi(argv[5]);
  if (mode == "latency") {
    HttpClient c(sock);
    for (int i = 0; i < 5; ++i) ljd_true(c), bwrap_true();
    std::vector<double> a, b;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      if (!ljd_true(c)) return 1;
      a.push_back(ms_since(t0));
      t0 = Clock::now();
      bwrap_true();
      b.push_back(ms_since(t0));
    }
    report("ljd", a);
    report("bwrap", b);
  } else if (mode == "throughput") {
    int p = argc > 6 ? std::atoi(argv[6]) : 2;
    // Rounds of n/10 jails, alternating the tools, so that load swings hit both alike.
    double secs[2] = {0, 0};
    int done[2] = {0, 0};
    for (int round = 0; round < 10; ++round)
      for (int tool = 0; tool < 2; ++tool) {
        auto t0 = Clock::now();
        std::vector<std::thread> ts;
        for (int k = 0; k < p; ++k)
          ts.emplace_back([&, tool] {
            HttpClient c(sock);
            for (int i = 0; i < n / 10 / p; ++i) tool == 0 ? ljd_true(c) : bwrap_true();
          });
        for (auto& t : ts) t.join();
        secs[tool] += ms_since(t0) / 1000;
        done[tool] += n / 10 / p * p;
      }
    for (int tool = 0; tool < 2; ++tool)
      std::printf("%-8s %d clients: %.0f per second\n", tool == 0 ? "ljd" : "bwrap", p,
                  done[tool] / secs[tool]);
  } else if (mode == "live") {
    if (argc < 7) return std::fprintf(stderr, "live needs LJD_PID\n"), 2;
    std::string pid = argv[6];
    HttpClient c(sock);
    std::vector<std::string> ids;
    std::vector<double> t;
    for (int i = 0; i < n; ++i) {
      auto t0 = Clock::now();
      auto r = c.request("POST", "/v1/jails?start=true", body({"/bin/sleep", "600"}));
      t.push_back(ms_since(t0));
      if (!r || r->status != 201) return std::fprintf(stderr, "create %d failed\n", i), 1;
      ids.push_back(nlohmann::json::parse(r->body)["id"].get<std::string>());
    }
    auto avg = [&](int from) {
      double s = 0;
      for (int i = from; i < from + 10; ++i) s += t[i];
      return s / 10;
    };
    std::printf("live %d: create first10 avg %.3f ms, last10 avg %.3f ms; ljd RSS %ld KiB\n", n,
                avg(0), avg(n - 10), rss_kib(pid));
    std::vector<double> lt;
    std::size_t bytes = 0;
    for (int i = 0; i < 10; ++i) {
      auto t0 = Clock::now();
      auto l = c.request("GET", "/v1/jails");
      lt.push_back(ms_since(t0));
      bytes = l ? l->body.size() : 0;
    }
    std::sort(lt.begin(), lt.end());
    std::printf("list (10 times): min %.3f ms, median %.3f ms (%zu bytes)\n", lt[0], lt[5], bytes);
    if (!std::getenv("LJ_KEEP"))
      for (auto& id : ids) c.request("DELETE", "/v1/jails/" + id + "?force=true");
  }
  return 0;
}
