// Networks as plain data, and the one interface that makes them real on a host: a bridge per
// network with the gateway addresses on it, one link per jail into it, egress NAT, published
// ports, anti-spoofing and isolation rules in a firewall table of ljd's own. Two implementations:
// linux/ (bridge + veth over rtnetlink, nftables `table inet ljd` and `table bridge ljd`) and
// freebsd/ (if_bridge + epair, a pf anchor). Knows no HTTP or SQLite: the daemon chooses the
// names, stores the leases (address.hpp allocates them) and passes everything in.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "net/address.hpp"

namespace lj::net {

// Interface names ljd makes start with these, so that a sweep after a crash finds its own and
// nothing else. At most 15 characters with the suffix (IFNAMSIZ).
inline constexpr std::string_view kBridgePrefix = "ljbr-";  // + 8 characters: a network's bridge
inline constexpr std::string_view kLinkPrefix = "ljve-";    // + 8 characters: a jail's host end

// "ljbr-" / "ljve-" + the first 8 of [a-z0-9] of `id` (e.g. the daemon's "n-3f1a2b4c" or
// "j-3f1a2b4c" gives "ljbr-3f1a2b4c").
std::string bridge_name(std::string_view id);
std::string link_name(std::string_view id, unsigned index);

struct NetworkSpec {
  std::string name;    // for messages only
  std::string bridge;  // the host's interface for this network (bridge_name)
  Prefix subnet4;
  IpAddress gateway4;
  std::optional<Prefix> subnet6;
  std::optional<IpAddress> gateway6;
  // No egress NAT and no default route in its jails; no traffic routed in or out by the host,
  // published ports refused. The host itself still reaches the jails (it holds the gateway).
  bool internal = false;
};

// Checks a spec before anything is made: names, subnets, gateways.
Status check_network(const NetworkSpec& spec);

enum class Proto : std::uint8_t { tcp, udp };
std::string_view proto_name(Proto p);

struct PublishedPort {
  std::optional<IpAddress> host_ip;  // only traffic to this host address; unset: any of the host's
  std::uint16_t host_port = 0;
  std::uint16_t jail_port = 0;
  Proto proto = Proto::tcp;
};

// One jail on one network.
struct Endpoint {
  // The host end of the jail's link, the bridge's port: link_name; in an Attachment on Linux,
  // the pool's name when the link waited in the pool (Host::attach).
  std::string link;
  std::string jail_ifname = "eth0";
  IpAddress address4;  // leased by the caller (allocate)
  std::optional<IpAddress> address6;
  bool default_route = true;  // via this network's gateway (never on an internal network)
  std::vector<PublishedPort> ports;
};

// Checks an endpoint against its network: addresses inside the subnets, ports nonzero, no
// published ports on an internal network.
Status check_endpoint(const NetworkSpec& net, const Endpoint& ep);

// Where a jail's end of its link goes.
struct JailTarget {
  int netns_fd = -1;     // Linux: the jail's network namespace (made with new_netns)
  std::string jail;      // FreeBSD: the name of the VNET jail (it must exist)
};

class Host;

// What detaching does with the jail's link.
enum class Unlink {
  now,             // delete it (a jail that still runs, a failed start): waits for the kernel
  with_namespace,  // leave it: the jail's namespace is gone or going (its processes exited, the
                   // caller holds no descriptor of it), and the kernel removes both ends with it.
                   // Deleting it here would wait for RCU grace periods: ~30 ms of every exit.
};

// A jail's attachment to one network, owned: the destructor detaches it (rules, then link),
// unless release()d (a daemon leaving its jails running at shutdown; the next one re-adopts the
// attachment from its record).
class Attachment {
 public:
  Attachment() = default;
  Attachment(Host* host, NetworkSpec net, Endpoint ep)
      : host_(host), net_(std::move(net)), ep_(std::move(ep)) {}
  Attachment(Attachment&& o) noexcept;
  Attachment& operator=(Attachment&& o) noexcept;
  ~Attachment();

  const NetworkSpec& network() const { return net_; }
  const Endpoint& endpoint() const { return ep_; }
  explicit operator bool() const { return host_ != nullptr; }
  // Detaches now, reporting failure (the destructor can only log it, and unlinks now).
  Status detach(Unlink unlink = Unlink::now);
  void release() { host_ = nullptr; }

 private:
  Host* host_ = nullptr;
  NetworkSpec net_;
  Endpoint ep_;
};

class Host {
 public:
  virtual ~Host() = default;

  // Makes the network's bridge (gateway addresses, up) and its rules. Idempotent: a network that
  // exists already is brought to the spec (a restart re-makes what a crash left half done).
  virtual Status add_network(const NetworkSpec& net) = 0;
  // Removes the network's rules and its bridge. Idempotent (a missing one is not an error).
  virtual Status remove_network(const NetworkSpec& net) = 0;

  // Links a jail into a network: its link (ep.jail_ifname in the jail, with its addresses, up,
  // and the default route when asked; on the host named ep.link, or, on Linux when it waited in
  // a namespace of the pool, the pool's name with ep.link as its alias: the Attachment's
  // endpoint has the name), the anti-spoofing rule of its port, its published ports. On failure
  // nothing of it is left.
  virtual Result<Attachment> attach(const NetworkSpec& net, const Endpoint& ep,
                                    const JailTarget& target) = 0;
  // Linux: a network namespace for a jail, made ahead, whose first link waits in it (its jail
  // end eth0, its host end on no bridge yet): attach() of an endpoint whose jail_ifname is eth0
  // into it then only names the host end, puts it on the bridge and gives the jail end its
  // addresses. Empty when none is ready (or on a platform without them): the caller makes its
  // own namespace and attach() makes the link. The caller attaches it at once (an attach with it
  // claims the waiting link, even one that fails).
  virtual UniqueFd take_jail_netns() { return {}; }
  // Removes a jail's rules, then its link as `unlink` says (already gone is fine). Idempotent.
  virtual Status detach(const NetworkSpec& net, const Endpoint& ep,
                        Unlink unlink = Unlink::now) = 0;

  // Recovery: makes ljd's rules exactly those of `nets` and `endpoints` (every other rule of
  // ljd's goes), and removes bridges and jail links of ljd's (by prefix) that are not listed.
  // An endpoint's link is found by its name or its alias (a link of the pool keeps the pool's
  // name, see attach): `endpoints` come back with the names found.
  struct Joined {
    const NetworkSpec* net;
    Endpoint ep;
  };
  virtual Status reconcile(const std::vector<NetworkSpec>& nets,
                           std::vector<Joined>& endpoints) = 0;

  // Removes every rule and link of ljd's: a host with no networks of ljd's is as it was.
  virtual Status remove_all() = 0;
};

// The host of the platform this binary was built for, acting in the caller's network namespace
// (Linux: the namespace of the thread that calls make_host).
Result<std::unique_ptr<Host>> make_host();

}  // namespace lj::net
