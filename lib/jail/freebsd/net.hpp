// Network set-up for FreeBSD jails.
//
//   none    -> a VNET jail (vnet=new): its own stack, where the child brings lo0 up with 127.0.0.1
//              and ::1 before it execs. Needs a VIMAGE kernel (GENERIC since 12.0).
//   inherit -> ip4=inherit, ip6=inherit: the host's stack and all its addresses.
//   ip      -> ip4.addr / ip6.addr: the jail may use exactly these host addresses. An IPv4
//              address the host does not hold yet is added as an alias on `interface`
//              (SIOCAIFADDR, like `ifconfig IFACE inet ADDR alias`) before the jail starts and
//              removed after it ends. IPv6 addresses must already be on the host (see net.cpp).
#pragma once

#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <optional>
#include <string>
#include <vector>

#include "common/error.hpp"

namespace lj::jail::freebsd {

// "192.0.2.10/24", "2001:db8::10/64", or a bare address (/32, /128).
struct Cidr {
  int family = AF_INET;
  struct in_addr v4 {};
  struct in6_addr v6 {};
  int prefix = 0;
  std::string text;
};
Result<Cidr> parse_cidr(const std::string& s);

// An address alias this process added to a host interface; removed on destruction (or by
// remove()). Holds nothing when the host already had the address: that one is not ours to remove.
class HostAddress {
 public:
  // Adds IPv4 `addr` to `interface` unless the host already holds it (getifaddrs(3)). An IPv6
  // address the host lacks is an invalid_argument error naming the ifconfig command to run.
  static Result<HostAddress> ensure(const std::string& interface, const Cidr& addr);

  HostAddress(HostAddress&& o) noexcept;
  HostAddress& operator=(HostAddress&& o) noexcept;
  HostAddress(const HostAddress&) = delete;
  HostAddress& operator=(const HostAddress&) = delete;
  ~HostAddress();

  bool owned() const { return owned_; }
  Status remove();

 private:
  HostAddress() = default;
  std::string interface_;
  Cidr addr_;
  bool owned_ = false;
};

// The ioctl arguments that bring lo0 up inside a fresh VNET, prepared by the parent so that the
// forked child only makes system calls (it must stay async-signal-safe).
struct VnetLoopback {
  struct ifreq flags {};    // SIOCGIFFLAGS / SIOCSIFFLAGS on "lo0"
  struct ifaliasreq v4 {};  // 127.0.0.1/8 via SIOCAIFADDR
};
VnetLoopback make_vnet_loopback();
// In the child, after jail_set(JAIL_ATTACH): ifconfig lo0 inet 127.0.0.1/8 up. Returns 0 or the
// errno of the failing call; async-signal-safe (socket, ioctl, close). ::1 is left to the
// kernel's IPv6 attach of an interface coming up (in6_ifattach), which is unverified here.
int configure_vnet_loopback(VnetLoopback* lo);

// Moves host interface `ifname` into the VNET of jail `jid` (SIOCSIFVNET, as `ifconfig IF vnet
// JID`), in the parent. The kernel returns it to the host when that VNET is destroyed
// (if_vmove on vnet_destroy), so nothing is recorded to undo.
Status move_interface_to_vnet(const std::string& ifname, int jid);

}  // namespace lj::jail::freebsd
