#include "jail/freebsd/net.hpp"

#include <sys/param.h>  // first: the other system headers use its types (style(9))

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/ioctl.h>
#include <sys/sockio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"

namespace lj::jail::freebsd {

namespace {
constexpr const char* kDomain = "jail";

struct sockaddr_in make_sin(struct in_addr a) {
  struct sockaddr_in sin {};
  sin.sin_len = sizeof(sin);
  sin.sin_family = AF_INET;
  sin.sin_addr = a;
  return sin;
}

struct in_addr v4_mask(int prefix) {
  struct in_addr m {};
  m.s_addr = prefix == 0 ? 0 : htonl(~0u << (32 - prefix));
  return m;
}

void copy_name(char (&dst)[IFNAMSIZ], const std::string& name) {
  std::memset(dst, 0, IFNAMSIZ);
  std::memcpy(dst, name.data(), std::min<std::size_t>(name.size(), IFNAMSIZ - 1));
}

Result<bool> host_has(const Cidr& addr) {
  struct ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return fail_errno(kDomain, "getifaddrs");
  bool found = false;
  for (auto* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != addr.family) continue;
    if (addr.family == AF_INET) {
      struct sockaddr_in sin {};
      std::memcpy(&sin, i->ifa_addr, sizeof(sin));
      found = sin.sin_addr.s_addr == addr.v4.s_addr;
    } else {
      struct sockaddr_in6 sin6 {};
      std::memcpy(&sin6, i->ifa_addr, sizeof(sin6));
      found = std::memcmp(&sin6.sin6_addr, &addr.v6, sizeof(addr.v6)) == 0;
    }
  }
  ::freeifaddrs(list);
  return found;
}
}  // namespace

Result<Cidr> parse_cidr(const std::string& s) {
  Cidr c;
  c.text = s;
  std::string host = s;
  std::optional<int> prefix;
  if (auto slash = s.find('/'); slash != std::string::npos) {
    host = s.substr(0, slash);
    std::string p = s.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string::npos)
      return fail(Errc::invalid_argument, kDomain, "bad prefix length in address '" + s + "'");
    prefix = std::stoi(p);
  }
  if (::inet_pton(AF_INET, host.c_str(), &c.v4) == 1) {
    c.family = AF_INET;
    c.prefix = prefix.value_or(32);
    if (c.prefix > 32) return fail(Errc::invalid_argument, kDomain, "prefix > 32 in '" + s + "'");
  } else if (::inet_pton(AF_INET6, host.c_str(), &c.v6) == 1) {
    c.family = AF_INET6;
    c.prefix = prefix.value_or(128);
    if (c.prefix > 128) return fail(Errc::invalid_argument, kDomain, "prefix > 128 in '" + s + "'");
  } else {
    return fail(Errc::invalid_argument, kDomain, "not an IPv4 or IPv6 address: '" + s + "'");
  }
  return c;
}

Result<HostAddress> HostAddress::ensure(const std::string& interface, const Cidr& addr) {
  if (interface.empty() || interface.size() >= IFNAMSIZ)
    return fail(Errc::invalid_argument, kDomain, "bad interface name '" + interface + "'");
  HostAddress h;
  h.interface_ = interface;
  h.addr_ = addr;
  if (LJ_TRY(host_has(addr))) return h;  // the host's own: not ours to add or remove
  if (addr.family != AF_INET) {
    // IPv6 aliases need netinet6/in6_var.h, whose userland visibility has shifted between
    // releases (it leans on net/if_var.h, which FreeBSD is making kernel-only). Rather than
    // depend on it, the host must hold IPv6 jail addresses itself (docs/freebsd.md).
    return fail(Errc::invalid_argument, kDomain,
                "IPv6 address " + addr.text +
                    " is not configured on the host: add it first (ifconfig " + interface +
                    " inet6 " + addr.text + " alias)");
  }

  UniqueFd s(LJ_SYS("socket", ::socket(addr.family, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
  if (!s) return fail_errno(kDomain, "socket for interface aliases");
  const std::string what = "add alias " + addr.text + " on " + interface;
  // `ifconfig IFACE inet ADDR/PREFIX alias` (sbin/ifconfig/af_inet.c does the same ioctl).
  struct ifaliasreq req {};
  copy_name(req.ifra_name, interface);
  auto a = make_sin(addr.v4);
  auto m = make_sin(v4_mask(addr.prefix));
  std::memcpy(&req.ifra_addr, &a, sizeof(a));
  std::memcpy(&req.ifra_mask, &m, sizeof(m));
  if (LJ_SYS("ioctl", ::ioctl(s.get(), SIOCAIFADDR, &req)) != 0)
    return fail_errno(kDomain, "ioctl SIOCAIFADDR: " + what);
  h.owned_ = true;
  return h;
}

HostAddress::HostAddress(HostAddress&& o) noexcept
    : interface_(std::move(o.interface_)), addr_(o.addr_), owned_(std::exchange(o.owned_, false)) {}

HostAddress& HostAddress::operator=(HostAddress&& o) noexcept {
  if (this != &o) {
    (void)remove();
    interface_ = std::move(o.interface_);
    addr_ = o.addr_;
    owned_ = std::exchange(o.owned_, false);
  }
  return *this;
}

HostAddress::~HostAddress() {
  if (auto st = remove(); !st) lj::log("jail")->error("{}", st.error().what());
}

Status HostAddress::remove() {
  if (!owned_) return {};
  UniqueFd s(LJ_SYS("socket", ::socket(addr_.family, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
  if (!s) return fail_errno(kDomain, "socket for interface aliases");
  // Only IPv4 aliases are ever owned (ensure()). `ifconfig IFACE inet ADDR -alias`.
  struct ifreq req {};
  copy_name(req.ifr_name, interface_);
  auto a = make_sin(addr_.v4);
  std::memcpy(&req.ifr_addr, &a, sizeof(a));
  // EADDRNOTAVAIL: somebody removed it already.
  if (LJ_SYS("ioctl", ::ioctl(s.get(), SIOCDIFADDR, &req)) != 0 && errno != EADDRNOTAVAIL)
    return fail_errno(kDomain,
                      "ioctl SIOCDIFADDR: remove alias " + addr_.text + " from " + interface_);
  owned_ = false;
  return {};
}

VnetLoopback make_vnet_loopback() {
  VnetLoopback lo;
  copy_name(lo.flags.ifr_name, "lo0");
  copy_name(lo.v4.ifra_name, "lo0");
  struct in_addr local {};
  local.s_addr = htonl(INADDR_LOOPBACK);
  auto a = make_sin(local);
  auto m = make_sin(v4_mask(8));
  std::memcpy(&lo.v4.ifra_addr, &a, sizeof(a));
  std::memcpy(&lo.v4.ifra_mask, &m, sizeof(m));
  return lo;
}

int configure_vnet_loopback(VnetLoopback* lo) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  int err = 0;
  if (::ioctl(s, SIOCGIFFLAGS, &lo->flags) != 0) {
    err = errno;
  } else {
    lo->flags.ifr_flags = static_cast<short>(lo->flags.ifr_flags | IFF_UP);
    if (::ioctl(s, SIOCSIFFLAGS, &lo->flags) != 0 || ::ioctl(s, SIOCAIFADDR, &lo->v4) != 0)
      err = errno;
  }
  ::close(s);
  return err;
}

Status move_interface_to_vnet(const std::string& ifname, int jid) {
  const std::string what = "ifconfig " + ifname + " vnet " + std::to_string(jid);
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (ifname.empty() || ifname.size() >= sizeof ifr.ifr_name)
    return fail(Errc::invalid_argument, "jail", what + ": not an interface name");
  std::memcpy(ifr.ifr_name, ifname.c_str(), ifname.size() + 1);
  ifr.ifr_jid = jid;
  UniqueFd s(LJ_SYS("socket", ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)));
  if (!s) return fail_errno("jail", what + ": socket");
  if (LJ_SYS("ioctl", ::ioctl(s.get(), SIOCSIFVNET, &ifr)) != 0)
    return fail_errno("jail", what + " (SIOCSIFVNET)");
  return {};
}

}  // namespace lj::jail::freebsd
