// Networks as a resource of the daemon (issue 14), on lib/net. Owned by the loop thread like the
// rest of Daemon: the index rows (networks, leases) are read and written only there. The Host
// (bridges, links, rules) is made on first use and is thread-safe (its own mutex): a start
// attaches on the blocking pool.
//
// A network's life: POST /v1/networks -> its bridge and rules made, row + event `network.created`
// -> jails lease addresses on it (with their rows, see Jails::create) -> DELETE refused while it
// has leases -> row + event `network.removed`, bridge and rules gone. The network "default" is
// made on first use. A clean stop of ljd (its jails stopped) removes every bridge and rule of
// ljd's; the next start re-makes them from the index (recover).
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "common/fd.hpp"
#include "daemon/jail_networks.hpp"
#include "index/rows.hpp"
#include "jail/spec.hpp"
#include "net/network.hpp"

namespace lj::daemon {

struct Daemon;

// The body of POST /v1/networks. Without a subnet, a free /24 of 10.78.0.0/16 is chosen; without
// a gateway, the subnet's first address.
struct NetworkCreate {
  std::string name;
  std::optional<net::Prefix> subnet;
  std::optional<net::IpAddress> gateway;
  std::optional<net::Prefix> subnet6;
  std::optional<net::IpAddress> gateway6;
  bool internal = false;
};
Result<NetworkCreate> decode_network(const nlohmann::json& body, std::string* field);

// The subnet of the network "default".
inline constexpr const char* kDefaultSubnet = "10.77.0.0/16";

// What a start attaches: each network's spec with the jail's endpoint on it, and the jail's
// resolv.conf and hosts as read-only single-file volumes.
struct NetPlan {
  struct Join {
    net::NetworkSpec net;
    net::Endpoint ep;
  };
  std::vector<Join> joins;
  std::vector<jail::Volume> files;
  std::vector<std::string> networks() const;
};

// What attach made: the jail's network namespace (Linux, for JailSpec::network, mode netns) and
// its links, owned (destroyed: detached).
struct NetAttached {
  UniqueFd netns;
  std::vector<net::Attachment> links;
  std::chrono::steady_clock::time_point made;  // when the last link was (the start's debug log)
};

class Networks {
 public:
  explicit Networks(Daemon& d);
  ~Networks();

  // ---- the resource (loop thread) ----
  Result<index::NetworkRow> create(NetworkCreate req, std::optional<std::uint32_t> uid);
  Result<index::NetworkRow> get(std::string_view name);
  Result<std::vector<index::NetworkRow>> list();
  // conflict (naming the jails) while jails hold leases on it.
  Status remove(std::string_view name, std::optional<std::uint32_t> uid);
  // A network's JSON, with its jails' addresses.
  nlohmann::json to_json(const index::NetworkRow& row);

  // ---- jails (loop thread unless said otherwise) ----
  // The leases of a new jail, not yet stored (Index::insert_jail stores them with its row): each
  // network resolved (the default one made on first use), an address on each (the one asked for,
  // or the lowest free one).
  Result<std::vector<index::LeaseRow>> lease(const JailNetworking& req);
  // The plan of a start, from the jail's stored leases; writes its resolv.conf and hosts.
  Result<NetPlan> plan(const std::string& jail_id, const std::string& hostname,
                       const JailNetworking& req);
  // Blocking pool (thread-safe): joins the jail of `spec` to the plan's networks (join_networks:
  // Linux makes its namespace now and its links during the spawn, FreeBSD when the VNET jail
  // exists). `out` owns what was made once the spawn returned; on failure it holds what to undo.
  Status attach(const NetPlan& plan, jail::JailSpec& spec, NetAttached& out);
  // After a jail joined or left `networks`: rewrites the hosts files of the jails on them but
  // `except` (names are hosts files kept current; docs/networking.md).
  void refresh_hosts(const std::vector<std::string>& networks, const std::string& except = {});
  // A jail is gone (its mounts with it): its hosts file, kept as a spare for the next jail's.
  // Thread-safe (touches no index): the teardown calls it on the blocking pool.
  void forget(const std::string& jail_id);
  // The addresses a jail holds, as the API shows them ([] when none).
  nlohmann::json jail_addresses(const std::string& jail_id);

  // ---- recovery and shutdown ----
  // After the jails' recovery: makes the host's bridges and rules exactly those of the index's
  // networks and of the `live` jails' leases (stale links, bridges and rules of dead jails go),
  // and hands back the live jails' links, owned, by jail id. Files of jails not live go.
  Result<std::map<std::string, std::vector<net::Attachment>>> recover(
      const std::vector<std::string>& live);
  // A clean stop with no jail left running: every bridge and rule of ljd's goes (the host's
  // tables as they were before ljd). Loop thread, at the end.
  void shutdown();

 private:
  Result<net::Host*> host();
  Result<index::NetworkRow> make(NetworkCreate req, std::optional<std::uint32_t> uid);
  // What a jail's own hosts file says of it: its hostname and its extra hosts.
  struct Own {
    std::string hostname;
    std::vector<net::HostEntry> extra;
  };
  static Own own(const index::JailRow& row);
  std::filesystem::path files_dir() const;
  std::filesystem::path hosts_path(const std::string& jail_id) const;
  Result<std::filesystem::path> resolv_file(const std::string& text);
  // The host's /etc/resolv.conf, read again only when it changed.
  std::string host_resolv();
  Status write_hosts(const std::string& jail_id, const Own& self);
  // A spare hosts file renamed to the jail's (none left: write_hosts creates one).
  void reuse_spare(const std::string& jail_id);

  Daemon& d_;
  std::unique_ptr<net::Host> host_;  // made on first use, on the loop thread
  // Loop thread: the resolv.conf files written since the start (name -> text), and whether the
  // files' directory exists.
  std::map<std::string, std::string> resolv_;
  bool files_made_ = false;
  struct HostResolv {
    ino_t ino = 0;
    off_t size = -1;
    timespec mtime{};
    std::string text;
  } host_resolv_;
  // Hosts files of jails that are gone, for the next jails: renaming a file is cheap on ext4,
  // creating one is not (an inode allocated, one freed at the unlink: ~0.1-0.3 ms).
  std::mutex spare_mu_;
  std::vector<std::filesystem::path> spare_;
  std::uint64_t spare_seq_ = 0;  // guarded by spare_mu_
};

// The NetworkSpec of a stored network.
Result<net::NetworkSpec> network_spec(const index::NetworkRow& row);

// Platform seam (daemon/<platform>/jail_netns.cpp): the jail of `spec` joins the plan's networks
// on `host`. Linux: a network namespace (one of the host's made ahead, else a new one), which the
// spawn joins (mode netns, `out.netns`), with the links made in it by attach_links while the
// jail's init assembles its root, before its command runs. FreeBSD: a VNET jail of its own (mode
// netns), whose links on_vnet attaches once the jail exists and before its command runs (an epair
// into each bridge, pf anchors). The links land in `out.links` (complete once the spawn returned;
// `plan` and `out` must outlive it).
Status join_networks(net::Host& host, const NetPlan& plan, jail::JailSpec& spec, NetAttached& out);
// The hook of either platform's: each of the plan's links made on `host` into `target`, in order,
// into `out.links`, and `out.made` set.
Status attach_links(net::Host& host, const NetPlan& plan, const net::JailTarget& target,
                    NetAttached& out);

}  // namespace lj::daemon
