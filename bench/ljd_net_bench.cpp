// ljd_net_bench: issue 14's figures through ljd's API on a real daemon, beside podman, in one run.
// bench/net prepares everything: network namespaces of its own (the "host" h, where ljd, podman
// and this program run, and a "remote" r on a veth), a busybox world, ljd on a temporary root; it
// removes them all at the end. Nothing here touches the machine's own interfaces or firewall.
//
//   ljd_net_bench --socket S --world NAME --world-dir DIR --remote-ns PATH --host-ip IP
//                 [--n 100] [--podman-n 20] [--secs 2] [--reps 3]
//
// 1. spawn-to-exit of /bin/true (POST /v1/jails?start=true, then GET .../wait), interleaved
//    rounds of: network none; on a network (lease + namespace + veth + addresses + rules); on a
//    network with one published port. The same for podman run --rm: --network none against
//    --network bridge (CNI bridge + portmap + firewall in h).
// 2. TCP throughput (iperf3, one stream) to a jail of ljd's: straight to its address over the
//    bridge and veth, through a published port (DNAT) from h, and from r; alternated, `reps` times.
// 3. Connections per second (connect, the server closes at once, read EOF) to the same jail:
//    straight, through the published port from h, from r.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "client/http_client.hpp"
#include "common/fd.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
using lj::bench::median;
using lj::bench::quantile;

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "ljd_net_bench: %s\n", what.c_str());
  std::exit(1);
}

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string loadavg() {
  char buf[64] = {};
  FILE* f = std::fopen("/proc/loadavg", "r");
  if (f) {
    if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
    std::fclose(f);
  }
  std::string s(buf);
  auto sp = s.find(' ', s.find(' ', s.find(' ') + 1) + 1);
  return s.substr(0, sp);
}

using lj::bench::shell;
using lj::bench::shell_output;

struct Options {
  std::string socket, world = "busybox", world_dir, remote_ns, host_ip;
  int n = 100, podman_n = 20, reps = 3;
  double secs = 2;
};

Options parse(int argc, char** argv) {
  Options o;
  const std::map<std::string, std::function<void(const std::string&)>> set = {
      {"--socket", [&](const std::string& v) { o.socket = v; }},
      {"--world", [&](const std::string& v) { o.world = v; }},
      {"--world-dir", [&](const std::string& v) { o.world_dir = v; }},
      {"--remote-ns", [&](const std::string& v) { o.remote_ns = v; }},
      {"--host-ip", [&](const std::string& v) { o.host_ip = v; }},
      {"--n", [&](const std::string& v) { o.n = std::atoi(v.c_str()); }},
      {"--podman-n", [&](const std::string& v) { o.podman_n = std::atoi(v.c_str()); }},
      {"--reps", [&](const std::string& v) { o.reps = std::max(1, std::atoi(v.c_str())); }},
      {"--secs", [&](const std::string& v) { o.secs = std::atof(v.c_str()); }},
  };
  for (int i = 1; i + 1 < argc; i += 2) {
    auto it = set.find(argv[i]);
    if (it == set.end()) die(std::string("unknown option ") + argv[i]);
    it->second(argv[i + 1]);
  }
  if (o.socket.empty() || o.world_dir.empty() || o.remote_ns.empty() || o.host_ip.empty())
    die("usage: ljd_net_bench --socket S --world NAME --world-dir DIR --remote-ns PATH "
        "--host-ip IP [--n N] [--podman-n N] [--secs S] [--reps R]");
  return o;
}

class Api {
 public:
  explicit Api(const std::string& socket) : c_(socket) {}
  json call(const std::string& method, const std::string& target, const json& body, int want) {
    auto r = c_.request(method, target, body.is_null() ? std::string() : body.dump());
    if (!r) die(method + " " + target + ": " + r.error().what());
    if (r->status != want)
      die(method + " " + target + ": HTTP " + std::to_string(r->status) + " " + r->body);
    return r->body.empty() ? json() : json::parse(r->body);
  }

 private:
  lj::client::HttpClient c_;
};

struct Series {
  explicit Series(std::string n) : name(std::move(n)) {}
  std::string name;
  std::vector<double> ms;
  int failures = 0;
};

void print_series(const std::vector<Series*>& all, const Series& base) {
  std::vector<double> b = base.ms;
  const double bm = median(b);
  for (Series* s : all) {
    std::vector<double> v = s->ms;
    const double med = median(v), p90 = quantile(v, 0.9), p99 = quantile(v, 0.99);
    std::printf("  %-44s %9.2f %9.2f %9.2f %+9.2f  (n=%zu, failed %d)\n", s->name.c_str(), med, p90,
                p99, med - bm, s->ms.size(), s->failures);
  }
}

// Runs `fn` in a thread that has entered the network namespace `ns_path` (empty: this one's).
template <typename F>
void in_netns(const std::string& ns_path, F fn) {
  std::thread t([&] {
    if (!ns_path.empty()) {
      lj::UniqueFd fd(::open(ns_path.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd || ::setns(fd.get(), CLONE_NEWNET) != 0) die("setns " + ns_path);
    }
    fn();
  });
  t.join();
}

sockaddr_in addr_of(const std::string& ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) die("bad address " + ip);
  return a;
}

// Connections per second for `secs`: connect, read until the server's close, close.
double conns_per_s(const std::string& ns_path, const std::string& ip, int port, double secs) {
  double rate = 0;
  in_netns(ns_path, [&] {
    const sockaddr_in a = addr_of(ip, port);
    long done = 0, failed = 0;
    const auto t0 = Clock::now();
    const auto until = t0 + std::chrono::duration<double>(secs);
    while (Clock::now() < until) {
      lj::UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
      if (!s || ::connect(s.get(), reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0) {
        if (++failed > 100) break;
        continue;
      }
      char c;
      while (::read(s.get(), &c, 1) > 0) {
      }
      ++done;
    }
    rate = failed > 100 ? 0 : done / std::chrono::duration<double>(Clock::now() - t0).count();
  });
  return rate;
}

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  const Options o = parse(argc, argv);
  Api api(o.socket);
  std::printf("ljd_net_bench: load %s at the start\n", loadavg().c_str());
  api.call("POST", "/v1/networks", json{{"name", "bench"}, {"subnet", "10.210.0.0/16"}}, 201);

  // ---- 1. spawn-to-exit ----
  int port_seq = 0;
  auto ljd_true = [&](int mode) {  // 0 none, 1 network, 2 network + a published port
    json body = {{"world", o.world}, {"command", {"/bin/true"}}, {"auto_remove", true}};
    if (mode >= 1) body["networks"] = json::array({{{"name", "bench"}}});
    if (mode == 2)  // a new host port each time: the last jail's may still be torn down
      body["ports"] = json::array({{{"host_port", 20000 + (port_seq++ % 20000)},
                                    {"container_port", 80}}});
    auto id = api.call("POST", "/v1/jails?start=true", body, 201).at("id").get<std::string>();
    json w = api.call("GET", "/v1/jails/" + id + "/wait?timeout_s=60", json(), 200);
    return w["exit"].is_object() && w["exit"]["code"] == 0;
  };
  Series none{"ljd, network none"}, net{"ljd, network (bridge+veth+lease+rules)"},
      port{"ljd, network + 1 published port"};
  std::vector<Series*> ljd_series{&none, &net, &port};
  for (int i = 0; i < 5; ++i)
    for (int m = 0; m < 3; ++m) (void)ljd_true(m);
  const std::string load0 = loadavg();
  for (int i = 0; i < o.n; ++i)
    for (int m = 0; m < 3; ++m) {
      auto t0 = Clock::now();
      bool ok = ljd_true(m);
      ljd_series[m]->ms.push_back(ms_since(t0));
      ljd_series[m]->failures += !ok;
    }
  std::printf("\nspawn-to-exit of /bin/true, %d interleaved rounds (load %s -> %s)\n", o.n,
              load0.c_str(), loadavg().c_str());
  std::printf("  %-44s %9s %9s %9s %9s\n", "", "median", "p90", "p99", "vs none");
  print_series(ljd_series, none);

  if (o.podman_n > 0 && access("/usr/bin/podman", X_OK) == 0) {
    auto podman = [&](const char* network) {
      return lj::bench::run_quiet({"/usr/bin/podman", "run", "--rm", "--network", network,
                                   "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000",
                                   "--rootfs", o.world_dir, "/bin/true"});
    };
    Series pnone{"podman run --network none"}, pbridge{"podman run --network bridge"};
    std::string why;
    if (!podman("bridge")) {
      why = shell_output("/usr/bin/podman run --rm --network bridge --ulimit nofile=1024:1024 --ulimit "
                   "nproc=1000:1000 --rootfs " + o.world_dir + " /bin/true 2>&1 | tail -3");
    }
    if (why.empty()) {
      (void)podman("none");
      const std::string p0 = loadavg();
      for (int i = 0; i < o.podman_n; ++i) {
        auto t0 = Clock::now();
        pnone.failures += !podman("none");
        pnone.ms.push_back(ms_since(t0));
        t0 = Clock::now();
        pbridge.failures += !podman("bridge");
        pbridge.ms.push_back(ms_since(t0));
      }
      std::printf("\npodman, %d interleaved rounds (load %s -> %s)\n", o.podman_n, p0.c_str(),
                  loadavg().c_str());
      print_series({&pnone, &pbridge}, pnone);
    } else {
      std::printf("\npodman --network bridge failed here:\n%s\n", why.c_str());
    }
  }

  // ---- 2 and 3: one jail of ljd's, two published ports ----
  json body = {{"world", o.world},
               {"command", {"sleep", "100000"}},
               {"networks", json::array({{{"name", "bench"}}})},
               {"ports", json::array({{{"host_port", 15201}, {"container_port", 5201}},
                                      {{"host_port", 17000}, {"container_port", 7000}}})}};
  const std::string id = api.call("POST", "/v1/jails?start=true", body, 201)["id"];
  json j = api.call("GET", "/v1/jails/" + id, json(), 200);
  const std::string jail_ip = j["networks"][0]["ip"];
  const std::string jail_ns = "/proc/" + std::to_string(j["pid"].get<int>()) + "/ns/net";
  // A server in the jail's network namespace that accepts and closes at once.
  std::atomic<bool> stop{false};
  int listen_fd = -1;
  in_netns(jail_ns, [&] {
    listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = addr_of("0.0.0.0", 7000);
    if (::bind(listen_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listen_fd, 4096) != 0)
      die("listen in the jail's namespace");
  });
  std::thread acceptor([&] {
    while (!stop) {
      int c = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) ::close(c);
    }
  });

  const bool have_iperf = shell("command -v iperf3") == 0;
  std::vector<double> direct, published, remote, c_direct, c_published, c_remote;
  const std::string pidfile = "/tmp/ljd_net_bench." + std::to_string(::getpid()) + ".iperf3";
  auto through = [&](const std::string& from_ns, const std::string& host, int p) {
    shell("nsenter --net=" + jail_ns + " iperf3 -s -1 -D -p 5201 -I " + pidfile);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    double g = lj::bench::iperf3_gbps(from_ns.empty() ? "" : "nsenter --net=" + from_ns + " ",
                                      host, p, std::max(1, static_cast<int>(o.secs + 0.5)));
    int pid = std::atoi(shell_output("cat " + pidfile).c_str());
    if (pid > 0) ::kill(pid, SIGTERM);
    ::unlink(pidfile.c_str());
    return g;
  };
  const std::string load1 = loadavg();
  for (int r = 0; r < o.reps; ++r) {
    if (have_iperf) {
      direct.push_back(through("", jail_ip, 5201));
      published.push_back(through("", o.host_ip, 15201));
      remote.push_back(through(o.remote_ns, o.host_ip, 15201));
    }
    c_direct.push_back(conns_per_s("", jail_ip, 7000, o.secs));
    c_published.push_back(conns_per_s("", o.host_ip, 17000, o.secs));
    c_remote.push_back(conns_per_s(o.remote_ns, o.host_ip, 17000, o.secs));
  }
  const std::string load2 = loadavg();
  stop = true;
  ::shutdown(listen_fd, SHUT_RDWR);
  acceptor.join();
  ::close(listen_fd);
  api.call("DELETE", "/v1/jails/" + id + "?force=true", json(), 200);

  auto line = [&](const char* what, std::vector<double> v, std::vector<double> base,
                  const char* unit) {
    const double m = median(v), b = median(base);
    std::printf("  %-44s %9.2f %s  %.2fx   (", what, m, unit, b > 0 ? m / b : 0);
    for (double x : v) std::printf(" %.2f", x);
    std::printf(" )\n");
  };
  std::printf("\none jail of ljd's, %d alternated repetitions of %.0f s (load %s -> %s)\n", o.reps,
              o.secs, load1.c_str(), load2.c_str());
  if (have_iperf) {
    std::printf("TCP throughput, iperf3, one stream: median (each run)\n");
    line("h -> jail address (bridge + veth)", direct, direct, "Gbit/s");
    line("h -> h's address:published port (DNAT)", published, direct, "Gbit/s");
    line("r -> h's address:published port (+veth)", remote, direct, "Gbit/s");
  } else {
    std::printf("iperf3 missing: no throughput rows\n");
  }
  std::printf("connections per second (connect, server closes, EOF), one client\n");
  line("h -> jail address", c_direct, c_direct, "conn/s");
  line("h -> h's address:published port (DNAT)", c_published, c_direct, "conn/s");
  line("r -> h's address:published port (+veth)", c_remote, c_direct, "conn/s");
  api.call("DELETE", "/v1/networks/bench", json(), 200);
  return 0;
}
