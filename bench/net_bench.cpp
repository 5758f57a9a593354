// Issue 14's figures, entirely inside network namespaces this program makes (never the machine's
// own): spawn-to-exit of /bin/true through lib/jail with network mode none against the same jail
// on a network (new namespace + lease + veth + addresses + rules with one published port, joined
// by lib/jail, then detached), interleaved; and TCP throughput (iperf3) to a jail straight over
// the bridge and veth against the same transfer through a published port (DNAT), and from a
// "remote" namespace through the published port.
//
// usage: net_bench WORLD [N]      (root; iperf3 in PATH for the throughput rows)
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.hpp"
#include "common/scope.hpp"
#include "jail/backend.hpp"
#include "net/linux/netns.hpp"
#include "net/network.hpp"

namespace {

using Clock = std::chrono::steady_clock;

using lj::bench::shell;
using lj::bench::shell_output;

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || ::geteuid() != 0) {
    std::fprintf(stderr, "usage (root): net_bench WORLD [N]\n");
    return 2;
  }
  const std::string world = argv[1];
  const int n = argc > 2 ? std::atoi(argv[2]) : 200;
  const std::string p = "ljb" + std::to_string(::getpid()) + "-";
  const std::string h = p + "h", r = p + "r", j = p + "j";
  lj::ScopeExit cleanup([&] {
    for (const auto& ns : {j, r, h}) shell("ip netns del " + ns);
  });
  for (const auto& ns : {h, r, j}) {
    if (shell("ip netns add " + ns) != 0) {
      std::fprintf(stderr, "ip netns add %s failed\n", ns.c_str());
      return 1;
    }
    shell("ip -n " + ns + " link set lo up");
  }
  shell("ip -n " + h + " link add up0 type veth peer name up1 netns " + r);
  shell("ip -n " + h + " addr add 192.168.77.1/24 dev up0");
  shell("ip -n " + h + " link set up0 up");
  shell("ip -n " + r + " addr add 192.168.77.2/24 dev up1");
  shell("ip -n " + r + " link set up1 up");
  lj::UniqueFd hns(::open(("/run/netns/" + h).c_str(), O_RDONLY | O_CLOEXEC));
  lj::UniqueFd own(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!hns || !own || ::setns(hns.get(), CLONE_NEWNET) != 0) return 1;
  lj::ScopeExit back([&] { (void)::setns(own.get(), CLONE_NEWNET); });

  auto host = lj::net::make_host();
  auto backend = lj::jail::make_backend({});
  if (!host || !backend) return 1;
  lj::net::NetworkSpec net;
  net.name = "bench";
  net.bridge = "ljbr-0000b0b0";
  net.subnet4 = *lj::net::Prefix::parse("10.210.0.0/16");
  net.gateway4 = lj::net::default_gateway(net.subnet4);
  if (auto s = (*host)->add_network(net); !s) {
    std::fprintf(stderr, "%s\n", s.error().what().c_str());
    return 1;
  }
  lj::ScopeExit down([&] { (void)(*host)->remove_all(); });

  int seq = 0;
  std::vector<lj::net::IpAddress> leased;
  // Where a networked spawn's time goes (ms): namespace, attach, spawn+wait, detach.
  std::vector<double> t_ns, t_attach, t_run, t_detach;
  auto since = [](Clock::time_point t) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
  };
  auto spawn = [&](bool with_net) -> bool {
    lj::jail::JailSpec spec;
    spec.name = "nb-" + std::to_string(::getpid()) + "-" + std::to_string(seq);
    spec.root.layers = {world};
    spec.argv = {"/bin/true"};
    lj::net::Attachment att;
    lj::UniqueFd ns;
    auto t0 = Clock::now();
    if (with_net) {
      auto made = lj::net::new_netns();
      t_ns.push_back(since(t0));
      t0 = Clock::now();
      if (!made) return false;
      ns = std::move(*made);
      auto a = lj::net::allocate(net.subnet4, net.gateway4, leased);
      if (!a) return false;
      lj::net::Endpoint ep;
      ep.link = lj::net::link_name(std::to_string(10000000 + seq), 0);
      ep.address4 = *a;
      ep.ports.push_back({std::nullopt, 8080, 80, lj::net::Proto::tcp});
      auto at = (*host)->attach(net, ep, lj::net::JailTarget{ns.get(), {}});
      if (!at) {
        std::fprintf(stderr, "%s\n", at.error().what().c_str());
        return false;
      }
      att = std::move(*at);
      t_attach.push_back(since(t0));
      t0 = Clock::now();
      spec.network.mode = lj::jail::NetworkMode::netns;
      spec.network.netns_fd = ns.get();
    }
    ++seq;
    auto jl = (*backend)->spawn(spec);
    if (!jl) {
      std::fprintf(stderr, "%s\n", jl.error().what().c_str());
      return false;
    }
    ns.reset();
    auto st = (*jl)->wait();
    if (!with_net) return st && st->code == 0;
    t_run.push_back(since(t0));
    t0 = Clock::now();
    bool detached = att.detach(lj::net::Unlink::with_namespace).has_value();
    t_detach.push_back(since(t0));
    return st && st->code == 0 && detached;
  };
  std::vector<double> none_ms, net_ms;
  int failed = 0;
  for (int i = 0; i < 5; ++i) {  // warm-up
    (void)spawn(false);
    (void)spawn(true);
  }
  for (int i = 0; i < n; ++i)
    for (bool with_net : {false, true}) {
      auto t0 = Clock::now();
      bool ok = spawn(with_net);
      double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
      failed += !ok;
      (with_net ? net_ms : none_ms).push_back(ms);
    }
  double none_med = lj::bench::median(none_ms), net_med = lj::bench::median(net_ms);
  double none_p99 = lj::bench::quantile(none_ms, 0.99), net_p99 = lj::bench::quantile(net_ms, 0.99);
  std::printf("spawn-to-exit of /bin/true, %d rounds interleaved (failed: %d)\n", n, failed);
  std::printf("%-28s %10s %10s\n", "", "median ms", "p99 ms");
  std::printf("%-28s %10.3f %10.3f\n", "network none", none_med, none_p99);
  std::printf("%-28s %10.3f %10.3f\n", "bridge+veth+lease+rules", net_med, net_p99);
  std::printf("%-28s %+10.3f\n", "difference", net_med - none_med);
  std::printf("networked, by step (median ms): namespace %.3f, attach %.3f, spawn+wait %.3f, "
              "detach %.3f\n",
              lj::bench::median(t_ns), lj::bench::median(t_attach), lj::bench::median(t_run),
              lj::bench::median(t_detach));

  if (shell("command -v iperf3") != 0) {
    std::printf("iperf3 missing: no throughput rows\n");
    return 0;
  }
  lj::UniqueFd jns(::open(("/run/netns/" + j).c_str(), O_RDONLY | O_CLOEXEC));
  lj::net::Endpoint ep;
  ep.link = "ljve-0000b0b1";
  ep.address4 = *lj::net::IpAddress::parse("10.210.255.2");
  ep.ports.push_back({std::nullopt, 15201, 5201, lj::net::Proto::tcp});
  auto at = (*host)->attach(net, ep, lj::net::JailTarget{jns.get(), {}});
  if (!at) return 1;
  // One server per transfer (-1), its pid in a file: ended by that pid if it is still there.
  const std::string pidfile = "/tmp/" + p + "iperf3.pid";
  auto through = [&](const std::string& from, const std::string& to, int port) {
    shell("ip netns exec " + j + " iperf3 -s -1 -D -p 5201 -I " + pidfile);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    double g = lj::bench::iperf3_gbps("ip netns exec " + from + " ", to, port, 3);
    std::string pid = shell_output("cat " + pidfile);
    if (std::atoi(pid.c_str()) > 0) ::kill(std::atoi(pid.c_str()), SIGTERM);
    ::unlink(pidfile.c_str());
    return g;
  };
  double direct = through(h, "10.210.255.2", 5201);
  double published = through(h, "192.168.77.1", 15201);
  double remote = through(r, "192.168.77.1", 15201);
  std::printf("\nTCP throughput (iperf3, 3 s, one stream)\n");
  std::printf("%-40s %8.2f Gbit/s\n", "host -> jail address (bridge + veth)", direct);
  std::printf("%-40s %8.2f Gbit/s  (%.2fx)\n", "host -> host:published (DNAT)", published,
              direct > 0 ? published / direct : 0);
  std::printf("%-40s %8.2f Gbit/s  (%.2fx)\n", "remote -> host:published (+1 veth hop)", remote,
              direct > 0 ? remote / direct : 0);
  return 0;
}
