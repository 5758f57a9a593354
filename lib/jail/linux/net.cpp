#include "jail/linux/net.hpp"

#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/macvlan.h>
#include <sched.h>
#include <unistd.h>

#include <memory>

#include "common/fd.hpp"

namespace lj::jail {
namespace {

struct SockDel {
  void operator()(nl_sock* s) const { nl_socket_free(s); }
};
struct LinkDel {
  void operator()(rtnl_link* l) const { rtnl_link_put(l); }
};
struct AddrDel {
  void operator()(rtnl_addr* a) const { rtnl_addr_put(a); }
};
struct NlAddrDel {
  void operator()(nl_addr* a) const { nl_addr_put(a); }
};
using Sock = std::unique_ptr<nl_sock, SockDel>;

Status nl_fail(std::string what, int nlerr) {
  return fail(Errc::system, "jail", what + ": " + nl_geterror(nlerr));
}

Result<Sock> route_socket() {
  Sock sk(nl_socket_alloc());
  if (!sk) return fail(Errc::system, "jail", "nl_socket_alloc");
  if (int e = nl_connect(sk.get(), NETLINK_ROUTE); e < 0)
    return fail(nl_fail("nl_connect", e).error());
  return sk;
}

// A route socket inside another network namespace, opened from this thread only.
Result<Sock> route_socket_in(pid_t pid) {
  std::string path = "/proc/" + std::to_string(pid) + "/ns/net";
  UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!target) return fail_errno("jail", "open " + path);
  UniqueFd self(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
  if (!self) return fail_errno("jail", "open /proc/thread-self/ns/net");
  if (::setns(target.get(), CLONE_NEWNET) != 0) return fail_errno("jail", "setns " + path);
  auto sk = route_socket();
  if (::setns(self.get(), CLONE_NEWNET) != 0) {
    // This thread would stay in the jail's namespace: nothing sane can follow.
    std::abort();
  }
  return sk;
}

}  // namespace

Status setup_ip_network(pid_t pid, const std::string& jail_name, const Network& net) {
  const char* kIfname = "eth0";
  unsigned parent = ::if_nametoindex(net.interface.c_str());
  if (parent == 0) return fail_errno("jail", "interface " + net.interface);
  Sock host = LJ_TRY(route_socket());
  std::unique_ptr<rtnl_link, LinkDel> link(rtnl_link_macvlan_alloc());
  if (!link) return fail(Errc::system, "jail", "rtnl_link_macvlan_alloc");
  rtnl_link_set_link(link.get(), static_cast<int>(parent));
  rtnl_link_set_name(link.get(), kIfname);
  rtnl_link_set_ns_pid(link.get(), pid);
  rtnl_link_macvlan_set_mode(link.get(), MACVLAN_MODE_BRIDGE);
  if (int e = rtnl_link_add(host.get(), link.get(), NLM_F_CREATE | NLM_F_EXCL); e < 0)
    return nl_fail("create macvlan on " + net.interface + " for jail " + jail_name, e);

  Sock jail = LJ_TRY(route_socket_in(pid));
  rtnl_link* raw = nullptr;
  if (int e = rtnl_link_get_kernel(jail.get(), 0, kIfname, &raw); e < 0)
    return nl_fail("find eth0 in jail " + jail_name, e);
  std::unique_ptr<rtnl_link, LinkDel> eth(raw);
  int ifindex = rtnl_link_get_ifindex(eth.get());
  for (const auto& a : net.addresses) {
    nl_addr* parsed = nullptr;
    if (int e = nl_addr_parse(a.c_str(), AF_UNSPEC, &parsed); e < 0)
      return nl_fail("address " + a, e);
    std::unique_ptr<nl_addr, NlAddrDel> local(parsed);
    if (a.find('/') == std::string::npos)
      nl_addr_set_prefixlen(local.get(), nl_addr_get_family(local.get()) == AF_INET6 ? 128 : 32);
    std::unique_ptr<rtnl_addr, AddrDel> addr(rtnl_addr_alloc());
    rtnl_addr_set_ifindex(addr.get(), ifindex);
    rtnl_addr_set_local(addr.get(), local.get());
    // IPv6 duplicate address detection would hold the address "tentative" for ~1 s.
    if (nl_addr_get_family(local.get()) == AF_INET6) rtnl_addr_set_flags(addr.get(), IFA_F_NODAD);
    if (int e = rtnl_addr_add(jail.get(), addr.get(), 0); e < 0)
      return nl_fail("add address " + a, e);
  }
  std::unique_ptr<rtnl_link, LinkDel> change(rtnl_link_alloc());
  rtnl_link_set_flags(change.get(), IFF_UP);
  if (int e = rtnl_link_change(jail.get(), eth.get(), change.get(), 0); e < 0)
    return nl_fail("bring up eth0 in jail " + jail_name, e);
  return {};
}

}  // namespace lj::jail
