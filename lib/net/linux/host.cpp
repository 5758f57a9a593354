// The Linux host: bridges and veth pairs over rtnetlink (links.hpp), rules in ljd's nftables
// tables (ruleset.hpp). Every call checks that it runs in the network namespace the Host was made
// in: the daemon never changes namespace, and a test that forgot to enter its "host" namespace
// fails instead of touching the machine's own.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include "common/fd.hpp"
#include "common/laps.hpp"
#include "common/log.hpp"
#include "common/scope.hpp"
#include "net/linux/link_pool.hpp"
#include "net/linux/links.hpp"
#include "net/linux/nft_batch.hpp"
#include "net/linux/nft.hpp"
#include "net/linux/ruleset.hpp"
#include "net/network.hpp"

namespace lj::net {
namespace {

using linux_links::RouteSocket;

Result<std::pair<dev_t, ino_t>> thread_netns() {
  struct stat st {};
  if (::stat("/proc/thread-self/ns/net", &st) != 0)
    return fail_errno("net", "stat /proc/thread-self/ns/net");
  return std::pair{st.st_dev, st.st_ino};
}

// Turns a sysctl on when it is off; says whether it changed it.
Result<bool> sysctl_on(const char* path) {
  UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
  if (!fd) return fail_errno("net", std::string("open ") + path);
  char c = 0;
  if (::read(fd.get(), &c, 1) != 1) return fail_errno("net", std::string("read ") + path);
  if (c == '1') return false;
  if (::pwrite(fd.get(), "1\n", 2, 0) != 2) return fail_errno("net", std::string("write ") + path);
  return true;
}

std::vector<std::pair<IpAddress, int>> gateway_addrs(const NetworkSpec& n) {
  std::vector<std::pair<IpAddress, int>> a{{n.gateway4, n.subnet4.length()}};
  if (n.subnet6) a.emplace_back(*n.gateway6, n.subnet6->length());
  return a;
}

class LinuxHost final : public Host {
 public:
  LinuxHost(std::pair<dev_t, ino_t> ns, RouteSocket sock, Nft nft, NftBatch batch)
      : ns_(ns), sock_(std::move(sock)), nft_(std::move(nft)), batch_(std::move(batch)) {}

  Status add_network(const NetworkSpec& net) override {
    LJ_TRY(check_network(net));
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    bridges_[net.bridge] = LJ_TRY_CTX("network " + net.name,
                                      sock_.ensure_bridge(net.bridge, gateway_addrs(net)));
    if (!net.internal) {
      // Routing between the bridge and the outside. A host-wide switch (as with docker and
      // podman): ljd turns it on and never off, other software may rely on it by then.
      if (LJ_TRY(sysctl_on("/proc/sys/net/ipv4/ip_forward")))
        lj::log("net")->info("turned on net.ipv4.ip_forward for network={}", net.name);
      if (net.subnet6 && LJ_TRY(sysctl_on("/proc/sys/net/ipv6/conf/all/forwarding")))
        lj::log("net")->info("turned on net.ipv6.conf.all.forwarding for network={}", net.name);
    }
    return nft_.run(nft::base() + nft::add_network(net)).map_error([&](Error e) {
      return std::move(e).context("rules of network " + net.name);
    });
  }

  Status remove_network(const NetworkSpec& net) override {
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    LJ_TRY(run_tolerant(nft::remove_network(net)));
    bridges_.erase(net.bridge);
    return sock_.remove(net.bridge);
  }

  UniqueFd take_jail_netns() override {
    if (!here()) return {};  // the pool's thread would make its links in the caller's namespace
    return pool_.take();
  }

  // A jail's link, as a checklist: (1) its link (the pool's, put on the bridge under the pool's
  // name with ep.link as its alias; or a new veth pair named ep.link whose jail end is made in
  // the jail's namespace), (2) the jail end's addresses and routes, (3) its rules, on the link's
  // actual name, which the Attachment's endpoint carries. A failure undoes (1).
  Result<Attachment> attach(const NetworkSpec& net, const Endpoint& ep,
                            const JailTarget& target) override {
    // Claimed first: a waiting link given to an attach that fails goes with the namespace.
    std::optional<linux_links::LinkPool::Slot> slot;
    if (target.netns_fd >= 0 && ep.jail_ifname == linux_links::kPooledJailEnd)
      slot = pool_.claim(target.netns_fd);
    ScopeExit refill([&] { pool_.refill(); });
    LJ_TRY(check_endpoint(net, ep));
    if (target.netns_fd < 0)
      return fail(Errc::invalid_argument, "net", "attach needs the jail's network namespace");
    Laps laps;
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    const int bridge = LJ_TRY(bridge_index(net));
    laps.lap("bridge");
    // 1. The link.
    Endpoint actual = ep;
    if (slot) actual.link = slot->host_end;
    ScopeExit unlink([&] { (void)sock_.remove(actual.link); });
    if (slot) {
      if (auto j = sock_.join_bridge(slot->host_index, ep.link, bridge); !j) {
        bridges_.erase(net.bridge);  // perhaps not its bridge any more: looked up again next time
        return fail(std::move(j).error());
      }
    } else {
      LJ_TRY(sock_.add_veth(ep.link, bridge, ep.jail_ifname, target.netns_fd, mac_for(ep.address4)));
    }
    laps.lap(slot ? "join" : "veth");
    // 2. The jail end.
    std::vector<std::pair<IpAddress, int>> addrs{{ep.address4, net.subnet4.length()}};
    if (ep.address6) addrs.emplace_back(*ep.address6, net.subnet6->length());
    std::vector<IpAddress> gws;
    if (ep.default_route && !net.internal) {
      gws.push_back(net.gateway4);
      if (ep.address6) gws.push_back(*net.gateway6);
    }
    if (slot) {
      LJ_TRY(slot->jail->configure(slot->jail_index, ep.jail_ifname, addrs, gws,
                                   mac_for(ep.address4)));
    } else {
      RouteSocket jail = LJ_TRY(RouteSocket::open_in(target.netns_fd));
      LJ_TRY(jail.configure(ep.jail_ifname, addrs, gws));
    }
    laps.lap("configure");
    // 3. The rules: set and map elements only, as one netlink batch.
    if (auto s = batch_.add(nft::endpoint_elements(actual)); !s) {
      if (s.error().errc() == Errc::exists)
        return fail(Errc::conflict, "net",
                    "a host port of jail link " + ep.link + " is published already");
      return fail(std::move(s).error().context("rules of " + ep.link));
    }
    laps.lap("rules");
    lj::log("net")->debug("attach link={} as {} {}", ep.link, actual.link, laps.text());
    unlink.dismiss();
    return Attachment(this, net, std::move(actual));
  }

  Status detach(const NetworkSpec&, const Endpoint& ep, Unlink unlink) override {
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    auto elements = nft::endpoint_elements(ep);
    std::reverse(elements.begin(), elements.end());  // the reverse of attach: the port last
    if (!batch_.remove(elements)) {
      // Some were gone already (a crash between steps): the rest one by one.
      for (const auto& one : elements) (void)batch_.remove({one});
    }
    if (unlink == Unlink::with_namespace) return {};
    return sock_.remove(ep.link);
  }

  Status reconcile(const std::vector<NetworkSpec>& nets, std::vector<Joined>& endpoints) override {
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    // A link that waited in the pool keeps the pool's name, its alias the endpoint's: the
    // endpoint takes the name found.
    std::set<std::string> names;
    std::map<std::string, std::string> by_alias;
    for (const auto& l : LJ_TRY(sock_.links_with_prefix(std::string(linux_links::kPoolPrefix))))
      if (!l.alias.empty()) by_alias[l.alias] = l.name;
    for (const auto& l : LJ_TRY(sock_.links_with_prefix(std::string(kLinkPrefix))))
      names.insert(l.name);
    for (auto& j : endpoints)
      if (auto it = by_alias.find(j.ep.link); !names.count(j.ep.link) && it != by_alias.end())
        j.ep.link = it->second;
    std::set<std::string> keep;
    std::string text = nft::remove_all() + nft::base();
    bridges_.clear();
    for (const auto& n : nets) {
      bridges_[n.bridge] = LJ_TRY(sock_.ensure_bridge(n.bridge, gateway_addrs(n)));
      keep.insert(n.bridge);
      text += nft::add_network(n);
    }
    for (const auto& j : endpoints) {
      keep.insert(j.ep.link);
      text += nft::add_endpoint(*j.net, j.ep);
    }
    if (nets.empty()) text = nft::remove_all();
    LJ_TRY_CTX("replacing ljd's rules", nft_.run(text));
    return remove_links_except(keep);
  }

  Status remove_all() override {
    std::lock_guard lock(mu_);
    LJ_TRY(here());
    LJ_TRY(nft_.run(nft::remove_all()));
    bridges_.clear();
    // The pool's waiting links too, now: freed with their namespaces they would go later,
    // asynchronously, after the host was said to be as it was.
    for (const auto& s : pool_.stop()) (void)sock_.remove(s.host_end);
    return remove_links_except({});
  }

 private:
  Status here() {
    auto ns = LJ_TRY(thread_netns());
    if (ns != ns_)
      return fail(Errc::internal, "net",
                  "called from another network namespace than the host's (refused)");
    return {};
  }

  // A network's bridge index: kept from add_network (a lookup by name is a link dump's parse,
  // ~0.15 ms of every attach), looked up when not known.
  Result<int> bridge_index(const NetworkSpec& net) {
    if (auto it = bridges_.find(net.bridge); it != bridges_.end()) return it->second;
    const int index = LJ_TRY(sock_.ifindex(net.bridge));
    if (index == 0)
      return fail(Errc::not_found, "net", "network " + net.name + " has no bridge " + net.bridge);
    bridges_[net.bridge] = index;
    return index;
  }

  // Runs a text; when it fails as a whole (something was gone), each line on its own.
  Status run_tolerant(const std::string& text) {
    if (nft_.run(text)) return {};
    std::size_t at = 0;
    while (at < text.size()) {
      auto nl = text.find('\n', at);
      (void)nft_.run(text.substr(at, nl - at + 1));
      at = nl == std::string::npos ? text.size() : nl + 1;
    }
    return {};
  }

  Status remove_links_except(const std::set<std::string>& keep) {
    // Jail links first: a bridge's ports go with it anyway, but a jail link may sit on no bridge.
    std::set<std::string> pooled;
    for (auto& n : pool_.names()) pooled.insert(std::move(n));
    for (auto prefix : {kLinkPrefix, linux_links::kPoolPrefix, kBridgePrefix})
      for (const auto& l : LJ_TRY(sock_.links_with_prefix(std::string(prefix))))
        if (!keep.count(l.name) && !pooled.count(l.name)) {
          lj::log("net")->info("removing stale interface {}", l.name);
          LJ_TRY(sock_.remove(l.name));
        }
    return {};
  }

  std::mutex mu_;  // guards everything below but the pool: the socket and libnftables are not
                   // thread-safe
  std::pair<dev_t, ino_t> ns_;
  RouteSocket sock_;
  Nft nft_;         // tables, chains, rules: networks made and removed, recovery
  NftBatch batch_;  // jails' elements
  std::map<std::string, int> bridges_;  // bridge name -> index (bridge_index)
  linux_links::LinkPool pool_;  // thread-safe; destroyed first (its thread stops)
};

}  // namespace

Result<std::unique_ptr<Host>> make_host() {
  auto ns = LJ_TRY(thread_netns());
  auto sock = LJ_TRY(RouteSocket::open());
  auto nft = LJ_TRY(Nft::make());
  auto batch = LJ_TRY(NftBatch::open());
  return std::unique_ptr<Host>(
      new LinuxHost(ns, std::move(sock), std::move(nft), std::move(batch)));
}

}  // namespace lj::net
