#include "net/linux/links.hpp"

#include <fcntl.h>
#include <linux/if_addr.h>
#include <linux/ip.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/link/inet.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/route.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <set>

#include "common/fd.hpp"
#include "net/linux/netlink_acks.hpp"

namespace lj::net::linux_links {
namespace {

struct LinkDel {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDel {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDel {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
struct RouteDel {
  void operator()(rtnl_route* r) const { rtnl_route_put(r); }
};
struct CacheDel {
  void operator()(nl_cache* c) const { nl_cache_free(c); }
};
using Link = std::unique_ptr<rtnl_link, LinkDel>;
using NlAddr = std::unique_ptr<nl_addr, NlAddrDel>;

Error nl_error(const std::string& what, int nlerr) {
  // libnl's own codes; keep the kinds callers branch on.
  Errc kind = nlerr == -NLE_EXIST ? Errc::exists
              : nlerr == -NLE_OBJ_NOTFOUND || nlerr == -NLE_NODEV ? Errc::not_found
              : nlerr == -NLE_PERM ? Errc::permission_denied
                                   : Errc::system;
  return Error(kind, "net", what + ": " + nl_geterror(nlerr));
}

NlAddr to_nl(const IpAddress& a, int prefix) {
  nl_addr* raw = nl_addr_build(a.is_v4() ? AF_INET : AF_INET6, a.bytes(), a.size());
  nl_addr_set_prefixlen(raw, prefix);
  return NlAddr(raw);
}

// IPv6 duplicate address detection would hold an address "tentative" for a second; the leases
// are the duplicate detection.
int add_address(nl_sock* sk, int index, const IpAddress& a, int prefix) {
  std::unique_ptr<rtnl_addr, AddrDel> addr(rtnl_addr_alloc());
  NlAddr local = to_nl(a, prefix);
  rtnl_addr_set_ifindex(addr.get(), index);
  rtnl_addr_set_local(addr.get(), local.get());
  if (!a.is_v4()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
  return rtnl_addr_add(sk, addr.get(), 0);
}

// Requests built by libnl and sent as one batch: one sendmsg, then the answers together
// (netlink_acks.hpp) instead of a round trip each.
class Batch {
 public:
  void add(nl_msg* m, std::string what) {
    msgs_.emplace_back(m);
    what_.push_back(std::move(what));
  }
  Status send(nl_sock* sk) {
    std::string buf;
    std::set<std::uint32_t> pending;
    std::map<std::uint32_t, std::size_t> which;
    for (std::size_t i = 0; i < msgs_.size(); ++i) {
      nlmsghdr* h = nlmsg_hdr(msgs_[i].get());
      h->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
      h->nlmsg_seq = nl_socket_use_seq(sk);
      h->nlmsg_pid = nl_socket_get_local_port(sk);
      pending.insert(h->nlmsg_seq);
      which[h->nlmsg_seq] = i;
      buf.append(reinterpret_cast<const char*>(h), h->nlmsg_len);
      buf.resize(NLMSG_ALIGN(buf.size()), '\0');
    }
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    const int fd = nl_socket_get_fd(sk);
    if (::sendto(fd, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&kernel),
                 sizeof kernel) != static_cast<ssize_t>(buf.size()))
      return fail_errno("net", "sending " + what_.front());
    return read_acks(fd, std::move(pending), [&](std::uint32_t seq) {
      auto it = which.find(seq);
      return it == which.end() ? std::string("rtnetlink batch") : what_[it->second];
    });
  }

 private:
  struct MsgDel {
    void operator()(nl_msg* m) const { nlmsg_free(m); }
  };
  std::vector<std::unique_ptr<nl_msg, MsgDel>> msgs_;
  std::vector<std::string> what_;
};

}  // namespace

void RouteSocket::Free::operator()(nl_sock* s) const { nl_socket_free(s); }

RouteSocket::~RouteSocket() = default;

Result<RouteSocket> RouteSocket::open() {
  nl_sock* s = nl_socket_alloc();
  if (!s) return fail(Errc::system, "net", "nl_socket_alloc");
  RouteSocket r(s);
  if (int e = nl_connect(s, NETLINK_ROUTE); e < 0) return fail(nl_error("nl_connect", e));
  // The kernel answers within sendmsg: the timeout only guards against an answer that never
  // comes (a batch's answers are read by hand, Batch::send).
  timeval tv{5, 0};
  if (::setsockopt(nl_socket_get_fd(s), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
    return fail_errno("net", "SO_RCVTIMEO on a route netlink socket");
  return r;
}

Result<RouteSocket> RouteSocket::open_in(int netns_fd) {
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return fail_errno("net", "open /proc/thread-self/ns/net");
  if (::setns(netns_fd, CLONE_NEWNET) != 0) return fail_errno("net", "setns into a jail's namespace");
  auto r = open();
  if (::setns(self.get(), CLONE_NEWNET) != 0) std::abort();  // a thread left in a jail's namespace
  return r;
}

Result<int> RouteSocket::ifindex(const std::string& name) {
  rtnl_link* raw = nullptr;
  int e = rtnl_link_get_kernel(sk_.get(), 0, name.c_str(), &raw);
  if (e == -NLE_OBJ_NOTFOUND || e == -NLE_NODEV) return 0;
  if (e < 0) return fail(nl_error("find interface " + name, e));
  Link l(raw);
  return rtnl_link_get_ifindex(l.get());
}

Result<std::vector<RouteSocket::Named>> RouteSocket::links_with_prefix(const std::string& prefix) {
  nl_cache* raw = nullptr;
  if (int e = rtnl_link_alloc_cache(sk_.get(), AF_UNSPEC, &raw); e < 0)
    return fail(nl_error("list interfaces", e));
  std::unique_ptr<nl_cache, CacheDel> cache(raw);
  std::vector<Named> out;
  for (nl_object* o = nl_cache_get_first(cache.get()); o; o = nl_cache_get_next(o)) {
    auto* l = reinterpret_cast<rtnl_link*>(o);
    const char* n = rtnl_link_get_name(l);
    if (!n || std::string_view(n).rfind(prefix, 0) != 0) continue;
    const char* alias = rtnl_link_get_ifalias(l);
    out.push_back({n, alias ? alias : ""});
  }
  return out;
}

Result<int> RouteSocket::ensure_bridge(const std::string& name,
                                       const std::vector<std::pair<IpAddress, int>>& addrs) {
  int index = LJ_TRY(ifindex(name));
  if (index == 0) {
    Link br(rtnl_link_bridge_alloc());
    if (!br) return fail(Errc::system, "net", "rtnl_link_bridge_alloc");
    rtnl_link_set_name(br.get(), name.c_str());
    if (int e = rtnl_link_add(sk_.get(), br.get(), NLM_F_CREATE | NLM_F_EXCL); e < 0 && e != -NLE_EXIST)
      return fail(nl_error("create bridge " + name, e));
    index = LJ_TRY(ifindex(name));
    if (index == 0) return fail(Errc::internal, "net", "bridge " + name + " vanished");
  }
  {
    Link cur(rtnl_link_alloc()), change(rtnl_link_alloc());
    rtnl_link_set_ifindex(cur.get(), index);
    rtnl_link_set_flags(change.get(), IFF_UP);
    // The kernel refuses a source of 127/8 on any device but lo unless route_localnet is on for
    // it (ip_route_output): the DNAT of a connection to 127.0.0.1:PORT sends it out here.
    rtnl_link_inet_set_conf(change.get(), IPV4_DEVCONF_ROUTE_LOCALNET, 1);
    if (int e = rtnl_link_change(sk_.get(), cur.get(), change.get(), 0); e < 0)
      return fail(nl_error("bring up bridge " + name, e));
  }
  for (const auto& [a, len] : addrs)
    if (int e = add_address(sk_.get(), index, a, len); e < 0 && e != -NLE_EXIST)
      return fail(nl_error("add " + a.str() + " to bridge " + name, e));
  return index;
}

Status RouteSocket::remove(const std::string& name) {
  Link l(rtnl_link_alloc());
  rtnl_link_set_name(l.get(), name.c_str());
  int e = rtnl_link_delete(sk_.get(), l.get());
  if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_NODEV)
    return fail(nl_error("delete interface " + name, e));
  return {};
}

Status RouteSocket::add_veth(const std::string& here_end, int bridge_index,
                             const std::string& peer_end, int peer_netns_fd,
                             const std::optional<Mac>& peer_mac) {
  Link veth(rtnl_link_veth_alloc());
  if (!veth) return fail(Errc::system, "net", "rtnl_link_veth_alloc");
  rtnl_link_set_name(veth.get(), here_end.c_str());
  if (bridge_index > 0) rtnl_link_set_master(veth.get(), bridge_index);
  rtnl_link_set_flags(veth.get(), IFF_UP);
  Link peer(rtnl_link_veth_get_peer(veth.get()));
  rtnl_link_set_name(peer.get(), peer_end.c_str());
  rtnl_link_set_ns_fd(peer.get(), peer_netns_fd);
  if (peer_mac) {
    NlAddr ll(nl_addr_build(AF_LLC, peer_mac->data(), peer_mac->size()));
    rtnl_link_set_addr(peer.get(), ll.get());
  }
  if (int e = rtnl_link_add(sk_.get(), veth.get(), NLM_F_CREATE | NLM_F_EXCL); e < 0)
    return fail(nl_error("create veth " + here_end, e));
  return {};
}

Status RouteSocket::join_bridge(int index, const std::string& alias, int bridge_index) {
  // do_setlink sets the alias, enslaves and brings the link up: one request does all three.
  Link cur(rtnl_link_alloc()), change(rtnl_link_alloc());
  rtnl_link_set_ifindex(cur.get(), index);
  rtnl_link_set_ifalias(change.get(), alias.c_str());
  rtnl_link_set_master(change.get(), bridge_index);
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int e = rtnl_link_change(sk_.get(), cur.get(), change.get(), 0); e < 0)
    return fail(nl_error("put link " + alias + " on its bridge", e));
  return {};
}

Status RouteSocket::configure(const std::string& ifname,
                              const std::vector<std::pair<IpAddress, int>>& addrs,
                              const std::vector<IpAddress>& gateways,
                              const std::optional<Mac>& mac) {
  const int index = LJ_TRY(ifindex(ifname));
  if (index == 0) return fail(Errc::not_found, "net", "no " + ifname + " in the jail");
  return configure(index, ifname, addrs, gateways, mac);
}

Status RouteSocket::configure(int index, const std::string& ifname,
                              const std::vector<std::pair<IpAddress, int>>& addrs,
                              const std::vector<IpAddress>& gateways,
                              const std::optional<Mac>& mac) {
  // Built by libnl, sent together: the requests run in order, each acknowledged.
  Batch batch;
  for (const auto& [a, len] : addrs) {
    std::unique_ptr<rtnl_addr, AddrDel> addr(rtnl_addr_alloc());
    NlAddr local = to_nl(a, len);
    rtnl_addr_set_ifindex(addr.get(), index);
    rtnl_addr_set_local(addr.get(), local.get());
    if (!a.is_v4()) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    nl_msg* m = nullptr;
    if (int e = rtnl_addr_build_add_request(addr.get(), 0, &m); e < 0)
      return fail(nl_error("add address " + a.str() + " to " + ifname, e));
    batch.add(m, "add address " + a.str() + " to " + ifname);
  }
  {
    Link cur(rtnl_link_alloc()), change(rtnl_link_alloc());
    rtnl_link_set_ifindex(cur.get(), index);
    rtnl_link_set_flags(change.get(), IFF_UP);
    NlAddr ll;
    if (mac) {
      ll.reset(nl_addr_build(AF_LLC, mac->data(), mac->size()));
      rtnl_link_set_addr(change.get(), ll.get());
    }
    nl_msg* m = nullptr;
    if (int e = rtnl_link_build_change_request(cur.get(), change.get(), 0, &m); e < 0)
      return fail(nl_error("bring up " + ifname, e));
    batch.add(m, "bring up " + ifname);
  }
  for (const auto& gw : gateways) {
    std::unique_ptr<rtnl_route, RouteDel> route(rtnl_route_alloc());
    const int family = gw.is_v4() ? AF_INET : AF_INET6;
    rtnl_route_set_family(route.get(), static_cast<uint8_t>(family));
    IpAddress any = *IpAddress::parse(gw.is_v4() ? "0.0.0.0" : "::");
    NlAddr dst = to_nl(any, 0), via = to_nl(gw, gw.bits());
    rtnl_route_set_dst(route.get(), dst.get());
    rtnl_nexthop* nh = rtnl_route_nh_alloc();
    rtnl_route_nh_set_ifindex(nh, index);
    rtnl_route_nh_set_gateway(nh, via.get());
    rtnl_route_add_nexthop(route.get(), nh);  // owned by the route from here
    nl_msg* m = nullptr;
    if (int e = rtnl_route_build_add_request(route.get(), NLM_F_CREATE | NLM_F_EXCL, &m); e < 0)
      return fail(nl_error("default route via " + gw.str(), e));
    batch.add(m, "default route via " + gw.str());
  }
  return batch.send(sk_.get());
}

}  // namespace lj::net::linux_links
