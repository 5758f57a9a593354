#include "daemon/networks.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>

#include "common/laps.hpp"
#include "common/log.hpp"
#include "common/random_id.hpp"
#include "daemon/core.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/wire.hpp"

namespace lj::daemon {

using nlohmann::json;

namespace {

auto lg() {
  return lj::log("daemon");
}

Error network_not_found(std::string_view name) {
  return Error(Errc::not_found, "network", "no network named `" + std::string(name) + "`");
}

// The networks chosen for subnets left out: /24s of 10.78.0.0/16, the first one free.
constexpr const char* kAutoRange = "10.78.0.0/16";

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// At most this many spare hosts files are kept (Networks::forget).
constexpr std::size_t kSpareHosts = 16;

}  // namespace

std::vector<std::string> NetPlan::networks() const {
  std::vector<std::string> out;
  for (const auto& j : joins) out.push_back(j.net.name);
  return out;
}

Result<net::NetworkSpec> network_spec(const index::NetworkRow& row) {
  net::NetworkSpec s;
  s.name = row.name;
  s.bridge = net::bridge_name(row.id);
  s.subnet4 = LJ_TRY(net::Prefix::parse(row.subnet4));
  s.gateway4 = LJ_TRY(net::IpAddress::parse(row.gateway4));
  if (!row.subnet6.empty()) {
    s.subnet6 = LJ_TRY(net::Prefix::parse(row.subnet6));
    s.gateway6 = LJ_TRY(net::IpAddress::parse(row.gateway6));
  }
  s.internal = row.internal;
  return s;
}

Result<NetworkCreate> decode_network(const json& body, std::string* field) {
  NetworkCreate c;
  Fields f(body);
  c.name = f.string("name");
  auto prefix = [&](const char* key, bool v4) -> std::optional<net::Prefix> {
    auto t = f.opt_string(key);
    if (!t) return std::nullopt;
    auto p = net::Prefix::parse(*t);
    if (!p || p->address().is_v4() != v4) {
      f.reject(key, std::string("expected an IPv") + (v4 ? "4" : "6") + " subnet, got `" + *t + "`");
      return std::nullopt;
    }
    return *p;
  };
  auto address = [&](const char* key, bool v4) -> std::optional<net::IpAddress> {
    auto t = f.opt_string(key);
    if (!t) return std::nullopt;
    auto a = net::IpAddress::parse(*t);
    if (!a || a->is_v4() != v4) {
      f.reject(key, std::string("expected an IPv") + (v4 ? "4" : "6") + " address, got `" + *t + "`");
      return std::nullopt;
    }
    return *a;
  };
  c.subnet = prefix("subnet", true);
  c.gateway = address("gateway", true);
  c.subnet6 = prefix("subnet6", false);
  c.gateway6 = address("gateway6", false);
  c.internal = f.opt_bool("internal").value_or(false);
  if (!f.error()) {
    if (!valid_name(c.name)) {
      f.reject("name", "must be 1-64 characters of [A-Za-z0-9_.-]");
    } else if (c.gateway && !c.subnet) {
      f.reject("gateway", "a gateway goes with a subnet");
    } else if (c.gateway6 && !c.subnet6) {
      f.reject("gateway6", "a gateway goes with a subnet6");
    }
  }
  auto st = f.finish();
  if (!st) {
    if (field && f.error()) *field = f.error()->field;
    return tl::unexpected(std::move(st).error());
  }
  return c;
}

Networks::Networks(Daemon& d) : d_(d) {}
Networks::~Networks() = default;

Result<net::Host*> Networks::host() {
  if (!host_) {
    auto h = net::make_host();
    if (!h) return fail(std::move(h).error().context("networks"));
    host_ = std::move(*h);
  }
  return host_.get();
}

std::filesystem::path Networks::files_dir() const {
  return d_.cfg.root / ".ljd" / "net";
}

std::filesystem::path Networks::hosts_path(const std::string& jail_id) const {
  return files_dir() / (jail_id + ".hosts");
}

// One file per distinct text (most jails share the host's nameservers): a file made on ext4 is
// dear when many were removed lately (ext4 looks for an inode not recently freed: perf showed
// ljd's mkdirs and creates costing more than its netlink). Written beside and renamed, so a file
// of that name is always whole; bound read-only, it is never written again (a jail's bind holds
// the inode it was made with). Named by a hash of the text, and a number after it should two
// texts share a hash.
Result<std::filesystem::path> Networks::resolv_file(const std::string& text) {
  std::uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ull;
  for (int n = 0;; ++n) {
    std::string name = fmt::format("resolv-{:016x}{}.conf", h, n ? fmt::format("-{}", n) : "");
    auto it = resolv_.find(name);
    if (it != resolv_.end() && it->second != text) continue;
    const auto path = files_dir() / name;
    if (it != resolv_.end()) return path;
    const auto tmp = files_dir() / (name + ".new");
    LJ_TRY(net::write_in_place(tmp, text));
    if (::rename(tmp.c_str(), path.c_str()) != 0) return fail_errno("network", "rename " + tmp.string());
    resolv_.emplace(std::move(name), text);
    return path;
  }
}

std::string Networks::host_resolv() {
  struct stat st {};
  if (::stat("/etc/resolv.conf", &st) != 0) return {};
  HostResolv& c = host_resolv_;
  if (st.st_ino != c.ino || st.st_size != c.size || st.st_mtim.tv_sec != c.mtime.tv_sec ||
      st.st_mtim.tv_nsec != c.mtime.tv_nsec) {
    c = HostResolv{st.st_ino, st.st_size, st.st_mtim, read_file("/etc/resolv.conf")};
  }
  return c.text;
}

Result<index::NetworkRow> Networks::create(NetworkCreate req, std::optional<std::uint32_t> uid) {
  if (d_.stopping) return fail(Errc::busy, "network", "ljd is shutting down");
  return make(std::move(req), uid);
}

// A network, as a checklist: (1) its subnets (chosen when left out) checked against the others,
// (2) its bridge and rules on the host, (3) its row and event. A failed (3) undoes (2).
Result<index::NetworkRow> Networks::make(NetworkCreate req, std::optional<std::uint32_t> uid) {
  if (auto existing = d_.idx.get_network(req.name); existing) {
    return fail(Errc::exists, "network", "a network named `" + req.name + "` exists");
  }
  auto others = LJ_TRY(d_.idx.list_networks());
  std::vector<net::Prefix> taken;
  for (const auto& o : others) {
    auto s = LJ_TRY(network_spec(o));
    taken.push_back(s.subnet4);
    if (s.subnet6) taken.push_back(*s.subnet6);
  }
  auto overlapping = [&](const net::Prefix& p) {
    for (const auto& t : taken)
      if (t.overlaps(p)) return true;
    return false;
  };
  // 1. The subnets.
  if (!req.subnet) {
    auto range = LJ_TRY(net::Prefix::parse(kAutoRange));
    for (std::uint64_t n = 0; n < 256 && !req.subnet; ++n) {
      auto cand = LJ_TRY(net::Prefix::parse(range.nth(n * 256)->str() + "/24"));
      if (!overlapping(cand)) req.subnet = cand;
    }
    if (!req.subnet) {
      return fail(Errc::no_space, "network",
                  std::string("no free /24 left in ") + kAutoRange + ": give a subnet");
    }
  } else if (overlapping(*req.subnet)) {
    return fail(Errc::conflict, "network",
                "subnet " + req.subnet->str() + " overlaps another network's");
  }
  if (req.subnet6 && overlapping(*req.subnet6)) {
    return fail(Errc::conflict, "network",
                "subnet6 " + req.subnet6->str() + " overlaps another network's");
  }
  index::NetworkRow row;
  row.name = req.name;
  row.id = lj::random_id("n", 4);
  row.subnet4 = req.subnet->str();
  row.gateway4 = req.gateway.value_or(net::default_gateway(*req.subnet)).str();
  if (req.subnet6) {
    row.subnet6 = req.subnet6->str();
    row.gateway6 = req.gateway6.value_or(net::default_gateway(*req.subnet6)).str();
  }
  row.internal = req.internal;
  auto spec = LJ_TRY(network_spec(row));
  LJ_TRY(net::check_network(spec));
  // 2. The host's side.
  net::Host* h = LJ_TRY(host());
  LJ_TRY_CTX("making network " + row.name, h->add_network(spec));
  // 3. The row.
  auto ins = d_.idx.insert_network(row, uid);
  if (!ins) {
    (void)h->remove_network(spec);
    return fail(ins.error());
  }
  LJ_TRY(d_.emit(ins->second));
  lg()->info("network={} created subnet={} bridge={}", row.name, row.subnet4, spec.bridge);
  return ins->first;
}

Result<index::NetworkRow> Networks::get(std::string_view name) {
  auto r = d_.idx.get_network(name);
  if (!r && r.error().errc() == Errc::not_found) return fail(network_not_found(name));
  return r;
}

Result<std::vector<index::NetworkRow>> Networks::list() {
  return d_.idx.list_networks();
}

Status Networks::remove(std::string_view name, std::optional<std::uint32_t> uid) {
  auto row = LJ_TRY(get(name));
  auto spec = LJ_TRY(network_spec(row));
  auto ev = d_.idx.delete_network(name, uid);
  if (!ev) {
    if (ev.error().errc() == Errc::conflict) return fail(Errc::conflict, "network", ev.error().what());
    return fail(ev.error());
  }
  // The row is gone first: a ljd dying now leaves a bridge without a network, which the next
  // start's reconcile removes.
  net::Host* h = LJ_TRY(host());
  LJ_TRY(d_.emit(*ev));
  if (auto st = h->remove_network(spec); !st) {
    lg()->warn("network={} removing its bridge and rules: {} (the next start removes them)",
               row.name, st.error().what());
  }
  return {};
}

json Networks::to_json(const index::NetworkRow& r) {
  json j = {{"name", r.name},
            {"id", r.id},
            {"bridge", net::bridge_name(r.id)},
            {"subnet", r.subnet4},
            {"gateway", r.gateway4},
            {"subnet6", r.subnet6.empty() ? json() : json(r.subnet6)},
            {"gateway6", r.gateway6.empty() ? json() : json(r.gateway6)},
            {"internal", r.internal},
            {"created_at", iso_time(r.created_at)},
            {"jails", json::array()}};
  if (auto leases = d_.idx.list_leases(r.name)) {
    for (const auto& l : *leases) {
      json e = {{"id", l.jail_id}, {"ip", l.address4}};
      if (!l.address6.empty()) e["ip6"] = l.address6;
      if (auto jr = d_.idx.get_jail(l.jail_id)) e["name"] = jr->name;
      j["jails"].push_back(std::move(e));
    }
  }
  return j;
}

Result<std::vector<index::LeaseRow>> Networks::lease(const JailNetworking& req) {
  std::vector<index::LeaseRow> out;
  for (std::size_t i = 0; i < req.networks.size(); ++i) {
    const NetworkJoin& j = req.networks[i];
    auto row = d_.idx.get_network(j.name);
    if (!row && row.error().errc() == Errc::not_found && j.name == kDefaultNetwork) {
      NetworkCreate dflt;
      dflt.name = kDefaultNetwork;
      dflt.subnet = LJ_TRY(net::Prefix::parse(kDefaultSubnet));
      row = make(std::move(dflt), std::nullopt);
    }
    if (!row) {
      if (row.error().errc() == Errc::not_found) return fail(network_not_found(j.name));
      return fail(row.error());
    }
    auto spec = LJ_TRY(network_spec(*row));
    if (i == 0 && !req.ports.empty() && spec.internal) {
      return fail(Errc::invalid_argument, "network",
                  "network `" + j.name + "` is internal: it publishes no ports");
    }
    if (j.ip6 && !spec.subnet6) {
      return fail(Errc::invalid_argument, "network", "network `" + j.name + "` has no IPv6");
    }
    auto held = LJ_TRY(d_.idx.list_leases(j.name));
    std::vector<net::IpAddress> used4, used6;
    for (const auto& l : held) {
      if (auto a = net::IpAddress::parse(l.address4)) used4.push_back(*a);
      if (auto a = net::IpAddress::parse(l.address6); !l.address6.empty() && a) used6.push_back(*a);
    }
    index::LeaseRow lease;
    lease.network = j.name;
    lease.position = static_cast<int>(i);
    auto a4 = net::allocate(spec.subnet4, spec.gateway4, used4, j.ip);
    if (!a4) {
      return fail(std::move(a4).error().context("an address on network " + j.name));
    }
    lease.address4 = a4->str();
    if (spec.subnet6) {
      auto a6 = net::allocate(*spec.subnet6, *spec.gateway6, used6, j.ip6);
      if (!a6) return fail(std::move(a6).error().context("an IPv6 address on network " + j.name));
      lease.address6 = a6->str();
    }
    out.push_back(std::move(lease));
  }
  return out;
}

Result<NetPlan> Networks::plan(const std::string& jail_id, const std::string& hostname,
                               const JailNetworking& req) {
  NetPlan p;
  Laps laps;
  LJ_TRY(host());  // attach (on the pool) uses it
  auto leases = LJ_TRY(d_.idx.jail_leases(jail_id));
  if (leases.size() != req.networks.size()) {
    return fail(Errc::conflict, "network",
                "jail " + jail_id + " holds " + std::to_string(leases.size()) + " leases for " +
                    std::to_string(req.networks.size()) + " networks");
  }
  for (const auto& l : leases) {
    NetPlan::Join j;
    auto row = LJ_TRY(d_.idx.get_network(l.network));
    j.net = LJ_TRY(network_spec(row));
    j.ep.link = net::link_name(jail_id, static_cast<unsigned>(l.position));
    j.ep.jail_ifname = "eth" + std::to_string(l.position);
    j.ep.address4 = LJ_TRY(net::IpAddress::parse(l.address4));
    if (!l.address6.empty()) j.ep.address6 = LJ_TRY(net::IpAddress::parse(l.address6));
    j.ep.default_route = l.position == 0;
    if (l.position == 0) j.ep.ports = req.ports;
    LJ_TRY(net::check_endpoint(j.net, j.ep));
    p.joins.push_back(std::move(j));
  }
  laps.lap("leases");
  // Its resolv.conf (shared by the jails of the same text) and its own hosts, under the state
  // directory, bound read-only into the jail.
  if (!files_made_) {
    std::error_code ec;
    std::filesystem::create_directories(files_dir(), ec);
    if (ec) return fail(Errc::system, "network", "creating " + files_dir().string() + ": " + ec.message());
    files_made_ = true;
  }
  const auto resolv = LJ_TRY(resolv_file(net::resolv_conf(host_resolv(), req.dns)));
  laps.lap("resolv");
  reuse_spare(jail_id);
  LJ_TRY(write_hosts(jail_id, Own{hostname, req.extra_hosts}));
  laps.lap("hosts");
  lg()->debug("jail={} plan took {}us ({})", jail_id, laps.total_us(), laps.text());
  p.files.push_back(jail::Volume{hosts_path(jail_id), "/etc/hosts", true});
  p.files.push_back(jail::Volume{resolv, "/etc/resolv.conf", true});
  return p;
}

Status attach_links(net::Host& host, const NetPlan& plan, const net::JailTarget& target,
                    NetAttached& out) {
  for (const auto& j : plan.joins) {
    auto link = host.attach(j.net, j.ep, target);
    if (!link) return fail(std::move(link).error().context("joining network " + j.net.name));
    out.links.push_back(std::move(*link));
  }
  out.made = std::chrono::steady_clock::now();
  return {};
}

Status Networks::attach(const NetPlan& plan, jail::JailSpec& spec, NetAttached& out) {
  net::Host* h = host_.get();  // made by lease/plan's network lookups, on the loop thread
  if (!h) return fail(Errc::internal, "network", "no host");
  return join_networks(*h, plan, spec, out);
}

// A jail's hostname and extra hosts, from its stored create request (what make_spec gives it).
Networks::Own Networks::own(const index::JailRow& row) {
  Own o;
  o.hostname = row.name;  // the id when it has no name
  auto spec = json::parse(row.spec, nullptr, false);
  if (!spec.is_object()) return o;
  if (auto it = spec.find("hostname"); it != spec.end() && it->is_string() && !it->get<std::string>().empty())
    o.hostname = it->get<std::string>();
  if (auto it = spec.find("extra_hosts"); it != spec.end() && it->is_array()) {
    for (const auto& e : *it) {
      if (!e.is_string()) continue;
      if (auto h = net::parse_host_entry(e.get<std::string>())) o.extra.push_back(std::move(*h));
    }
  }
  return o;
}

// The hosts file of one jail: its own addresses under its hostname, every other jail on its
// networks under its name (and hostname), then its extra hosts.
Status Networks::write_hosts(const std::string& jail_id, const Own& self) {
  auto leases = LJ_TRY(d_.idx.jail_leases(jail_id));
  std::vector<net::IpAddress> mine;
  std::vector<net::HostEntry> peers;
  for (const auto& l : leases) {
    if (auto a = net::IpAddress::parse(l.address4)) mine.push_back(*a);
    if (auto a = net::IpAddress::parse(l.address6); !l.address6.empty() && a) mine.push_back(*a);
    auto others = d_.idx.list_leases(l.network);
    if (!others) continue;
    for (const auto& o : *others) {
      if (o.jail_id == jail_id) continue;
      auto row = d_.idx.get_jail(o.jail_id);
      // One that ended keeps its lease until its rules are gone: its name goes at once.
      if (!row || row->state == index::JailState::exited || row->state == index::JailState::removed)
        continue;
      std::vector<std::string> names{row->name};
      if (row->name != row->id) names.push_back(row->id);
      if (auto hn = own(*row).hostname; hn != row->name) names.push_back(hn);
      if (auto a = net::IpAddress::parse(o.address4)) peers.push_back({*a, names});
      if (auto a = net::IpAddress::parse(o.address6); !o.address6.empty() && a)
        peers.push_back({*a, names});
    }
  }
  return net::write_in_place(hosts_path(jail_id),
                             net::hosts_file(self.hostname, mine, peers, self.extra));
}

void Networks::refresh_hosts(const std::vector<std::string>& networks, const std::string& except) {
  std::set<std::string> jails;
  for (const auto& n : networks) {
    auto leases = d_.idx.list_leases(n);
    if (!leases) continue;
    for (const auto& l : *leases) jails.insert(l.jail_id);
  }
  jails.erase(except);
  for (const auto& id : jails) {
    // One that ended keeps its lease until its rules are gone, and its file goes meanwhile; one
    // not started has none yet (its start writes it).
    auto row = d_.idx.get_jail(id);
    if (!row || row->state == index::JailState::exited || row->state == index::JailState::removed)
      continue;
    std::error_code ec;
    if (!std::filesystem::exists(hosts_path(id), ec)) continue;
    if (auto st = write_hosts(id, own(*row)); !st)
      lg()->warn("jail={} hosts file: {}", id, st.error().what());
  }
}

void Networks::forget(const std::string& jail_id) {
  const auto path = hosts_path(jail_id);
  {
    std::lock_guard lock(spare_mu_);
    if (spare_.size() < kSpareHosts) {
      // Not named for a jail: a restart's recovery removes it with the files of jails gone.
      auto spare = files_dir() / fmt::format("spare-{}.hosts", spare_seq_++);
      if (::rename(path.c_str(), spare.c_str()) == 0) spare_.push_back(std::move(spare));
      return;  // or it had none
    }
  }
  ::unlink(path.c_str());
}

void Networks::reuse_spare(const std::string& jail_id) {
  std::filesystem::path spare;
  {
    std::lock_guard lock(spare_mu_);
    if (spare_.empty()) return;
    spare = std::move(spare_.back());
    spare_.pop_back();
  }
  // Its old text is overwritten before any jail sees it (write_hosts, before the start binds it).
  if (::rename(spare.c_str(), hosts_path(jail_id).c_str()) != 0) ::unlink(spare.c_str());
}

json Networks::jail_addresses(const std::string& jail_id) {
  json out = json::array();
  auto leases = d_.idx.jail_leases(jail_id);
  if (!leases) return out;
  for (const auto& l : *leases) {
    json e = {{"network", l.network}, {"ip", l.address4}};
    if (!l.address6.empty()) e["ip6"] = l.address6;
    if (auto n = d_.idx.get_network(l.network)) {
      e["gateway"] = n->gateway4;
      if (auto p = net::Prefix::parse(n->subnet4)) e["prefix_len"] = p->length();
    }
    out.push_back(std::move(e));
  }
  return out;
}

Result<std::map<std::string, std::vector<net::Attachment>>> Networks::recover(
    const std::vector<std::string>& live) {
  std::map<std::string, std::vector<net::Attachment>> links;
  const std::set<std::string> alive(live.begin(), live.end());
  // Files of jails that are gone ("<id>.hosts"; a directory "<id>" of an older ljd), and the
  // shared resolv.conf files (those bound into live jails stay there: a bind holds its inode).
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(files_dir(), ec)) {
    const std::string name = e.path().filename().string();
    if (!alive.count(name.substr(0, name.find('.')))) std::filesystem::remove_all(e.path(), ec);
  }
  auto rows = LJ_TRY(d_.idx.list_networks());
  if (rows.empty()) return links;  // nothing of ljd's was ever made (a removal removes its bridge)
  std::vector<net::NetworkSpec> nets;
  nets.reserve(rows.size());  // Joined points into it
  std::map<std::string, const net::NetworkSpec*> by_name;
  for (const auto& r : rows) {
    nets.push_back(LJ_TRY(network_spec(r)));
    by_name[r.name] = &nets.back();
  }
  std::vector<net::Host::Joined> joined;
  std::vector<std::string> joined_ids;  // the jail of each
  for (const auto& l : LJ_TRY(d_.idx.list_leases())) {
    if (!alive.count(l.jail_id)) continue;  // created, never started: no link yet
    auto row = d_.idx.get_jail(l.jail_id);
    if (!row) continue;
    auto doc = json::parse(row->spec, nullptr, false);
    auto req = decode_create(doc, d_.cfg, nullptr);
    net::Endpoint ep;
    ep.link = net::link_name(l.jail_id, static_cast<unsigned>(l.position));
    ep.jail_ifname = "eth" + std::to_string(l.position);
    ep.address4 = LJ_TRY(net::IpAddress::parse(l.address4));
    if (!l.address6.empty()) ep.address6 = LJ_TRY(net::IpAddress::parse(l.address6));
    ep.default_route = l.position == 0;
    if (l.position == 0 && req) ep.ports = req->net.ports;
    joined.push_back({by_name.at(l.network), ep});
    joined_ids.push_back(l.jail_id);
  }
  net::Host* h = LJ_TRY(host());
  // Each link as found: a link that waited in the pool kept the pool's name (Host::attach).
  LJ_TRY_CTX("reconciling the host's networks", h->reconcile(nets, joined));
  // The rules of jails that ended are gone now: their addresses are free (not before: a new
  // jail on one of them would collide with the dead one's rules). Left for the next start when
  // the reconcile failed.
  if (auto n = d_.idx.release_ended_leases(); !n) {
    lg()->warn("recovery: releasing the addresses of ended jails: {}", n.error().what());
  } else if (*n > 0) {
    lg()->info("recovery: released {} addresses of jails that ended", *n);
  }
  for (std::size_t i = 0; i < joined.size(); ++i)
    links[joined_ids[i]].emplace_back(h, *joined[i].net, joined[i].ep);
  for (const auto& id : live) {
    auto row = d_.idx.get_jail(id);
    if (!row) continue;
    std::error_code gone;
    if (!std::filesystem::exists(hosts_path(id), gone)) continue;  // on no network
    if (auto st = write_hosts(id, own(*row)); !st)
      lg()->warn("jail={} hosts file: {}", id, st.error().what());
  }
  return links;
}

void Networks::shutdown() {
  if (!host_) return;
  if (auto st = host_->remove_all(); !st) {
    lg()->warn("removing ljd's bridges and rules at stop: {}", st.error().what());
  } else {
    lg()->info("removed ljd's bridges and rules");
  }
}

}  // namespace lj::daemon
