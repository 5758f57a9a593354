// The FreeBSD host: if_bridge(4) per network, epair(4) per jail (the b end moved into the jail's
// VNET with SIOCSIFVNET and configured from inside it), pf anchors of ljd's own (pf_rules.hpp).
//
// Why pfctl for the anchors and not /dev/pf's DIOCXBEGIN/DIOCADDRULE: since FreeBSD 13 the rule
// ioctls take nvlists (DIOCADDRULENV) whose layout follows pfctl's private libpfctl, which is not
// an installed, stable library; the ruleset text is pf's stable interface, and `pfctl -a ANCHOR
// -f -` loads it in one pf transaction (DIOCXBEGIN .. DIOCXCOMMIT), replacing that anchor whole.
// One short process per network or jail attachment, never on the data path.
#include <sys/param.h>  // first: sys/jail.h and others use its constants
#include <sys/types.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <jail.h>
#include <net/ethernet.h>  // before if_bridgevar.h, which uses ETHER_ADDR_LEN
#include <net/if.h>
#include <net/if_bridgevar.h>
#include <net/if_dl.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/in_var.h>
#include <netinet6/in6_var.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/jail.h>
#include <sys/socket.h>
#include <sys/sockio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <set>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/scope.hpp"
#include "net/network.hpp"
#include "net/pf_rules.hpp"

extern char** environ;

namespace lj::net {
namespace {

// netinet6/nd6.h's value; that header does not compile as C++ (it names a struct that
// in6_var.h declares nested).
constexpr std::uint32_t kInfiniteLifetime = 0xffffffff;

void name_into(char (&dst)[IFNAMSIZ], const std::string& name) {
  std::memset(dst, 0, sizeof dst);
  std::memcpy(dst, name.data(), std::min(name.size(), sizeof dst - 1));
}

Result<UniqueFd> inet_socket(int family = AF_INET) {
  UniqueFd s(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return fail_errno("net", "socket");
  return s;
}

// Creates a cloned interface ("bridge", "epair") and returns the kernel's name for it
// (epair: the a end, "epairNa").
Result<std::string> clone_create(int s, const char* kind) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  name_into(ifr.ifr_name, kind);
  if (::ioctl(s, SIOCIFCREATE2, &ifr) != 0) return fail_errno("net", std::string("create ") + kind);
  return std::string(ifr.ifr_name);
}

Status rename_if(int s, const std::string& from, const std::string& to) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  name_into(ifr.ifr_name, from);
  char target[IFNAMSIZ];
  name_into(target, to);
  ifr.ifr_data = target;
  if (::ioctl(s, SIOCSIFNAME, &ifr) != 0) return fail_errno("net", "rename " + from + " to " + to);
  return {};
}

Status destroy_if(int s, const std::string& name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  name_into(ifr.ifr_name, name);
  if (::ioctl(s, SIOCIFDESTROY, &ifr) != 0 && errno != ENXIO)
    return fail_errno("net", "destroy " + name);
  return {};
}

Status set_up(int s, const char* name) {
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) != 0) return fail_errno("net", std::string("flags of ") + name);
  ifr.ifr_flags = static_cast<short>(ifr.ifr_flags | IFF_UP);
  if (::ioctl(s, SIOCSIFFLAGS, &ifr) != 0) return fail_errno("net", std::string("up ") + name);
  return {};
}

bool if_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

// The address requests, prepared before a fork (the child of a threaded daemon only makes system
// calls).
struct AddrReq {
  bool v6 = false;
  struct in_aliasreq v4req;
  struct in6_aliasreq v6req;
};

AddrReq addr_req(const std::string& ifname, const IpAddress& a, int prefix) {
  AddrReq r;
  std::memset(&r.v4req, 0, sizeof r.v4req);
  std::memset(&r.v6req, 0, sizeof r.v6req);
  if (a.is_v4()) {
    name_into(r.v4req.ifra_name, ifname);
    auto* sin = &r.v4req.ifra_addr;
    sin->sin_family = AF_INET;
    sin->sin_len = sizeof *sin;
    std::memcpy(&sin->sin_addr, a.bytes(), 4);
    auto* mask = &r.v4req.ifra_mask;
    mask->sin_family = AF_INET;
    mask->sin_len = sizeof *mask;
    mask->sin_addr.s_addr = prefix == 0 ? 0 : htonl(~((1u << (32 - prefix)) - 1));
  } else {
    r.v6 = true;
    name_into(r.v6req.ifra_name, ifname);
    auto* sin6 = &r.v6req.ifra_addr;
    sin6->sin6_family = AF_INET6;
    sin6->sin6_len = sizeof *sin6;
    std::memcpy(&sin6->sin6_addr, a.bytes(), 16);
    auto* mask = &r.v6req.ifra_prefixmask;
    mask->sin6_family = AF_INET6;
    mask->sin6_len = sizeof *mask;
    for (int bit = 0; bit < prefix; ++bit)
      mask->sin6_addr.s6_addr[bit / 8] |= static_cast<std::uint8_t>(0x80 >> (bit % 8));
    r.v6req.ifra_lifetime.ia6t_vltime = kInfiniteLifetime;
    r.v6req.ifra_lifetime.ia6t_pltime = kInfiniteLifetime;
    r.v6req.ifra_flags = IN6_IFF_NODAD;  // the leases are the duplicate detection
  }
  return r;
}

int add_addr(int s4, int s6, AddrReq& r) {
  return r.v6 ? ::ioctl(s6, SIOCAIFADDR_IN6, &r.v6req) : ::ioctl(s4, SIOCAIFADDR, &r.v4req);
}

// A default route via `gw`, as a routing socket message (route(4)).
struct RouteMsg {
  struct rt_msghdr hdr;
  char space[3 * sizeof(struct sockaddr_in6)];
};

RouteMsg default_route_msg(const IpAddress& gw, int seq) {
  RouteMsg m;
  std::memset(&m, 0, sizeof m);
  m.hdr.rtm_version = RTM_VERSION;
  m.hdr.rtm_type = RTM_ADD;
  m.hdr.rtm_flags = RTF_UP | RTF_GATEWAY | RTF_STATIC;
  m.hdr.rtm_addrs = RTA_DST | RTA_GATEWAY | RTA_NETMASK;
  m.hdr.rtm_seq = seq;
  char* p = m.space;
  auto put = [&](const IpAddress* a) {  // nullptr: the family's any address (dst and netmask)
    if (gw.is_v4()) {
      struct sockaddr_in sin;
      std::memset(&sin, 0, sizeof sin);
      sin.sin_family = AF_INET;
      sin.sin_len = sizeof sin;
      if (a) std::memcpy(&sin.sin_addr, a->bytes(), 4);
      std::memcpy(p, &sin, sizeof sin);
      p += sizeof sin;
    } else {
      struct sockaddr_in6 sin6;
      std::memset(&sin6, 0, sizeof sin6);
      sin6.sin6_family = AF_INET6;
      sin6.sin6_len = sizeof sin6;
      if (a) std::memcpy(&sin6.sin6_addr, a->bytes(), 16);
      std::memcpy(p, &sin6, sizeof sin6);
      p += sizeof sin6;
    }
  };
  put(nullptr);  // RTA_DST, in the order of the RTA_ bits
  put(&gw);      // RTA_GATEWAY
  put(nullptr);  // RTA_NETMASK
  m.hdr.rtm_msglen = static_cast<unsigned short>(p - reinterpret_cast<char*>(&m));
  return m;
}

// The interface of the host's IPv4 default route (RTM_GET), for egress NAT.
Result<std::string> default_route_interface() {
  UniqueFd rs(::socket(PF_ROUTE, SOCK_RAW | SOCK_CLOEXEC, AF_INET));
  if (!rs) return fail_errno("net", "routing socket");
  struct {
    struct rt_msghdr hdr;
    char space[512];
  } m;
  std::memset(&m, 0, sizeof m);
  m.hdr.rtm_version = RTM_VERSION;
  m.hdr.rtm_type = RTM_GET;
  m.hdr.rtm_addrs = RTA_DST | RTA_IFP;
  m.hdr.rtm_seq = 1;
  m.hdr.rtm_pid = ::getpid();
  struct sockaddr_in dst;
  std::memset(&dst, 0, sizeof dst);
  dst.sin_family = AF_INET;
  dst.sin_len = sizeof dst;
  std::memcpy(m.space, &dst, sizeof dst);
  struct sockaddr_dl ifp;
  std::memset(&ifp, 0, sizeof ifp);
  ifp.sdl_family = AF_LINK;
  ifp.sdl_len = sizeof ifp;
  std::memcpy(m.space + sizeof dst, &ifp, sizeof ifp);
  m.hdr.rtm_msglen = static_cast<unsigned short>(sizeof m.hdr + sizeof dst + sizeof ifp);
  if (::write(rs.get(), &m, m.hdr.rtm_msglen) < 0) return fail_errno("net", "no default route");
  for (;;) {
    ssize_t n = ::read(rs.get(), &m, sizeof m);
    if (n < 0) return fail_errno("net", "read routing socket");
    if (m.hdr.rtm_seq != 1 || m.hdr.rtm_pid != ::getpid()) continue;
    // Walk the addresses in RTA_ bit order to RTA_IFP.
    char* p = m.space;
    for (int bit = 0; bit < RTAX_MAX; ++bit) {
      if (!(m.hdr.rtm_addrs & (1 << bit))) continue;
      auto* sa = reinterpret_cast<struct sockaddr*>(p);
      if ((1 << bit) == RTA_IFP && sa->sa_family == AF_LINK) {
        auto* dl = reinterpret_cast<struct sockaddr_dl*>(sa);
        return std::string(dl->sdl_data, dl->sdl_nlen);
      }
      p += sa->sa_len ? ((sa->sa_len + sizeof(long) - 1) & ~(sizeof(long) - 1)) : sizeof(long);
    }
    return fail(Errc::not_found, "net", "the default route has no interface");
  }
}

// pfctl with `args`, `input` on its stdin.
Status pfctl(const std::vector<std::string>& args, const std::string& input) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return fail_errno("net", "pipe2");
  UniqueFd rd(p[0]), wr(p[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, rd.get(), 0);
  std::vector<std::string> all{"/sbin/pfctl", "-q"};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int err = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (err != 0) return fail_errno("net", "spawn pfctl", err);
  rd.reset();
  (void)::write(wr.get(), input.data(), input.size());
  wr.reset();
  int st = 0;
  while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    return fail(Errc::system, "net", "pfctl " + args.front() + " " + args[1] + " failed");
  return {};
}

Status load_anchor(const std::string& anchor, const std::string& rules) {
  return pfctl({"-a", anchor, "-f", "-"}, rules);
}
Status flush_anchor(const std::string& anchor) { return pfctl({"-a", anchor, "-F", "all"}, ""); }

class FreebsdHost final : public Host {
 public:
  FreebsdHost(UniqueFd s4, UniqueFd s6) : s4_(std::move(s4)), s6_(std::move(s6)) {}

  Status add_network(const NetworkSpec& net) override {
    LJ_TRY(check_network(net));
    std::lock_guard lock(mu_);
    if (!if_exists(net.bridge)) {
      std::string made = LJ_TRY(clone_create(s4_.get(), "bridge"));
      if (auto r = rename_if(s4_.get(), made, net.bridge); !r) {
        (void)destroy_if(s4_.get(), made);
        return r;
      }
    }
    for (auto [a, len] : gateway_addrs(net)) {
      AddrReq r = addr_req(net.bridge, a, len);
      if (add_addr(s4_.get(), s6_.get(), r) != 0 && errno != EEXIST)
        return fail_errno("net", "add " + a.str() + " to " + net.bridge);
    }
    LJ_TRY(set_up(s4_.get(), net.bridge.c_str()));
    nets_[net.bridge] = net;
    return load_network_anchors();
  }

  Status remove_network(const NetworkSpec& net) override {
    std::lock_guard lock(mu_);
    nets_.erase(net.bridge);
    LJ_TRY(flush_anchor(pf::network_anchor(net)));
    LJ_TRY(load_network_anchors());
    return destroy_if(s4_.get(), net.bridge);
  }

  Result<Attachment> attach(const NetworkSpec& net, const Endpoint& ep,
                            const JailTarget& target) override {
    LJ_TRY(check_endpoint(net, ep));
    const int jid = ::jail_getid(target.jail.c_str());
    if (jid < 0) return fail(Errc::not_found, "net", "no jail " + target.jail + ": " + jail_errmsg);
    std::lock_guard lock(mu_);
    retry_unreleased();
    if (!if_exists(net.bridge))
      return fail(Errc::not_found, "net", "network " + net.name + " has no bridge " + net.bridge);
    // epair(4): "epairNa" here, "epairNb" its peer; a -> the link's name, b -> the link's name
    // plus "b" until it is inside the jail, where it becomes jail_ifname.
    std::string a = LJ_TRY(clone_create(s4_.get(), "epair"));
    std::string b = a.substr(0, a.size() - 1) + "b";
    ScopeExit undo([&] { (void)destroy_if(s4_.get(), if_exists(ep.link) ? ep.link : a); });
    LJ_TRY(rename_if(s4_.get(), a, ep.link));
    const std::string peer = ep.link + "b";
    LJ_TRY(rename_if(s4_.get(), b, peer));
    {
      struct ifbreq req;
      std::memset(&req, 0, sizeof req);
      name_into(req.ifbr_ifsname, ep.link);
      struct ifdrv ifd;
      std::memset(&ifd, 0, sizeof ifd);
      name_into(ifd.ifd_name, net.bridge);
      ifd.ifd_cmd = BRDGADD;
      ifd.ifd_len = sizeof req;
      ifd.ifd_data = &req;
      if (::ioctl(s4_.get(), SIOCSDRVSPEC, &ifd) != 0)
        return fail_errno("net", "add " + ep.link + " to bridge " + net.bridge);
    }
    LJ_TRY(set_up(s4_.get(), ep.link.c_str()));
    {
      struct ifreq ifr;
      std::memset(&ifr, 0, sizeof ifr);
      name_into(ifr.ifr_name, peer);
      ifr.ifr_jid = jid;
      if (::ioctl(s4_.get(), SIOCSIFVNET, &ifr) != 0)
        return fail_errno("net", "move " + peer + " into jail " + target.jail);
    }
    LJ_TRY(configure_inside(jid, peer, net, ep));
    if (auto s = load_anchor(pf::jail_anchor(ep), pf::jail_rules(net, ep)); !s)
      return fail(std::move(s).error().context("rules of " + ep.link));
    undo.dismiss();
    return Attachment(this, net, ep);
  }

  Status detach(const NetworkSpec&, const Endpoint& ep, Unlink) override {
    std::lock_guard lock(mu_);
    retry_unreleased();
    LJ_TRY(flush_anchor(pf::jail_anchor(ep)));
    // Destroying the a end destroys its peer, in whichever VNET it is. Always: an epair whose b
    // end was in a VNET jail that died returns to the host's VNET, it is not destroyed with it.
    return release_link(ep.link);
  }

  Status reconcile(const std::vector<NetworkSpec>& nets, std::vector<Joined>& endpoints) override {
    {
      std::lock_guard lock(mu_);
      unreleased_.clear();  // the sweep below removes every link not listed
    }
    std::set<std::string> keep;
    for (const auto& n : nets) {
      LJ_TRY(add_network(n));
      keep.insert(n.bridge);
    }
    std::lock_guard lock(mu_);
    for (const auto& j : endpoints) {
      keep.insert(j.ep.link);
      LJ_TRY(load_anchor(pf::jail_anchor(j.ep), pf::jail_rules(*j.net, j.ep)));
    }
    for (const auto& name : ljd_interfaces())
      if (!keep.count(name)) {
        lj::log("net")->info("removing stale interface {}", name);
        LJ_TRY(destroy_if(s4_.get(), name));
        // Its anchor, whichever kind it was.
        NetworkSpec n;
        n.bridge = name;
        Endpoint e;
        e.link = name;
        (void)flush_anchor(name.rfind(kBridgePrefix, 0) == 0 ? pf::network_anchor(n)
                                                             : pf::jail_anchor(e));
      }
    return {};
  }

  Status remove_all() override {
    std::lock_guard lock(mu_);
    nets_.clear();
    unreleased_.clear();  // every link of ljd's goes below
    for (const auto& name : ljd_interfaces()) LJ_TRY(destroy_if(s4_.get(), name));
    // Every anchor under ljd: flushing the parent recursively is not one pfctl verb, so each
    // known kind; anchors without rules are dropped by pf itself.
    return pfctl({"-a", "ljd", "-F", "all"}, "");
  }

 private:
  static std::vector<std::pair<IpAddress, int>> gateway_addrs(const NetworkSpec& n) {
    std::vector<std::pair<IpAddress, int>> a{{n.gateway4, n.subnet4.length()}};
    if (n.subnet6) a.emplace_back(*n.gateway6, n.subnet6->length());
    return a;
  }

  // Every network's anchor again: each lists the others' subnets (isolation).
  Status load_network_anchors() {
    std::string egress;
    for (const auto& [b, n] : nets_) {
      if (!n.internal && egress.empty()) egress = LJ_TRY(default_route_interface());
      std::vector<Prefix> others;
      for (const auto& [ob, o] : nets_)
        if (ob != b) {
          others.push_back(o.subnet4);
          if (o.subnet6) others.push_back(*o.subnet6);
        }
      LJ_TRY(load_anchor(pf::network_anchor(n), pf::network_rules(n, others, egress)));
    }
    return {};
  }

  std::vector<std::string> ljd_interfaces() {
    std::set<std::string> names;
    struct ifaddrs* all = nullptr;
    if (::getifaddrs(&all) != 0) return {};
    for (auto* i = all; i; i = i->ifa_next) {
      std::string_view n(i->ifa_name);
      if (n.rfind(kBridgePrefix, 0) == 0 || n.rfind(kLinkPrefix, 0) == 0) names.emplace(n);
    }
    ::freeifaddrs(all);
    return {names.begin(), names.end()};
  }

  // Inside the jail's VNET (a child attached to the jail): the peer renamed to jail_ifname, its
  // MAC, addresses, up, the default routes.
  Status configure_inside(int jid, const std::string& peer, const NetworkSpec& net,
                          const Endpoint& ep) {
    std::vector<AddrReq> addrs{addr_req(ep.jail_ifname, ep.address4, net.subnet4.length())};
    if (ep.address6) addrs.push_back(addr_req(ep.jail_ifname, *ep.address6, net.subnet6->length()));
    std::vector<RouteMsg> routes;
    if (ep.default_route && !net.internal) {
      routes.push_back(default_route_msg(net.gateway4, 1));
      if (ep.address6) routes.push_back(default_route_msg(*net.gateway6, 2));
    }
    struct ifreq rename;
    std::memset(&rename, 0, sizeof rename);
    name_into(rename.ifr_name, peer);
    char newname[IFNAMSIZ];
    name_into(newname, ep.jail_ifname);
    rename.ifr_data = newname;
    struct ifreq mac;
    std::memset(&mac, 0, sizeof mac);
    name_into(mac.ifr_name, ep.jail_ifname);
    const auto m = mac_for(ep.address4);
    mac.ifr_addr.sa_family = AF_LINK;
    mac.ifr_addr.sa_len = static_cast<unsigned char>(m.size());
    std::memcpy(mac.ifr_addr.sa_data, m.data(), m.size());
    const char* ifname = ep.jail_ifname.c_str();

    pid_t pid = ::fork();
    if (pid < 0) return fail_errno("net", "fork");
    if (pid == 0) {
      // System calls only from here: this is the child of a threaded process.
      if (::jail_attach(jid) != 0) ::_exit(10);
      int s4 = ::socket(AF_INET, SOCK_DGRAM, 0), s6 = ::socket(AF_INET6, SOCK_DGRAM, 0);
      if (::ioctl(s4, SIOCSIFNAME, &rename) != 0) ::_exit(11);
      if (::ioctl(s4, SIOCSIFLLADDR, &mac) != 0) ::_exit(12);
      for (auto& a : addrs)
        if (add_addr(s4, s6, a) != 0) ::_exit(13);
      struct ifreq up;
      std::memset(&up, 0, sizeof up);
      std::strncpy(up.ifr_name, ifname, IFNAMSIZ - 1);
      if (::ioctl(s4, SIOCGIFFLAGS, &up) != 0) ::_exit(14);
      up.ifr_flags = static_cast<short>(up.ifr_flags | IFF_UP);
      if (::ioctl(s4, SIOCSIFFLAGS, &up) != 0) ::_exit(14);
      int rs = ::socket(PF_ROUTE, SOCK_RAW, 0);
      for (auto& r : routes)
        if (::write(rs, &r, r.hdr.rtm_msglen) < 0) ::_exit(15);
      ::_exit(0);
    }
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(st) && WEXITSTATUS(st) == 0) return {};
    static const char* const kStep[] = {"jail_attach", "rename",      "set MAC",
                                        "add address", "bring up",    "default route"};
    int code = WIFEXITED(st) ? WEXITSTATUS(st) - 10 : -1;
    return fail(Errc::system, "net",
                std::string("configuring ") + ep.jail_ifname + " in jail " + std::to_string(jid) +
                    ": " + (code >= 0 && code < 6 ? kStep[code] : "killed") + " failed");
  }

  // A jail's epair, destroyed by its host end and retried while the kernel holds it. A VNET jail
  // whose last process exited may linger, dying (sockets in TIME_WAIT hold its prison), and its
  // VNET is torn down later, asynchronously: meanwhile the kernel answers EBUSY to interface
  // moves (if.c, if_vmove_loan/if_vmove_reclaim: "Make sure the VNET is stable"), and an
  // interface between two VNETs is briefly on no cloner's list, when SIOCIFDESTROY answers ENXIO
  // as for a name that is gone (if_clone.c, if_clone_destroyif). So success is the name being
  // gone when looked up again, not the answer. What is still held after the tries is kept in
  // unreleased_ and tried again at every later attach and detach (and a restart's reconcile
  // sweeps it): retried, never leaked.
  Status release_link(const std::string& link) {
    static constexpr int kTries = 5;
    Status last;
    for (int i = 0; i < kTries; ++i) {
      if (i > 0) ::usleep(static_cast<useconds_t>(20000 << (i - 1)));  // 20, 40, 80, 160 ms
      last = destroy_if(s4_.get(), link);
      if (!if_exists(link)) {
        unreleased_.erase(link);
        return {};
      }
      if (!last && last.error().sys_errno() != EBUSY) break;
    }
    unreleased_.insert(link);
    return fail(Errc::busy, "net",
                "jail link " + link + " is still held by the kernel (its jail's VNET is dying" +
                    (last ? std::string() : ": " + last.error().what()) +
                    "); it is destroyed at a later attach or detach");
  }

  // One more try for each link that release_link could not destroy (no wait: the next call tries
  // again). Called with mu_ held.
  void retry_unreleased() {
    for (auto it = unreleased_.begin(); it != unreleased_.end();) {
      (void)destroy_if(s4_.get(), *it);
      if (!if_exists(*it)) {
        lj::log("net")->info("released jail link {} at last", *it);
        it = unreleased_.erase(it);
      } else {
        ++it;
      }
    }
  }

  std::mutex mu_;  // guards the sockets, nets_ and unreleased_
  UniqueFd s4_, s6_;
  std::map<std::string, NetworkSpec> nets_;  // by bridge: the networks this host has made
  std::set<std::string> unreleased_;  // jail links whose destroy the kernel refused so far
};

}  // namespace

Result<std::unique_ptr<Host>> make_host() {
  auto s4 = LJ_TRY(inet_socket(AF_INET));
  auto s6 = LJ_TRY(inet_socket(AF_INET6));
  return std::unique_ptr<Host>(new FreebsdHost(std::move(s4), std::move(s6)));
}

}  // namespace lj::net
