#include "daemon/jail_networks.hpp"

#include "daemon/jail_request.hpp"

namespace lj::daemon {

using nlohmann::json;

namespace {

std::optional<net::IpAddress> read_ip(Fields& f, const std::string& key, bool v4) {
  auto text = f.opt_string(key);
  if (!text) return std::nullopt;
  auto ip = net::IpAddress::parse(*text);
  if (!ip || ip->is_v4() != v4) {
    f.reject(key, std::string("expected an IPv") + (v4 ? "4" : "6") + " address, got `" + *text +
                      "`");
    return std::nullopt;
  }
  return *ip;
}

}  // namespace

JailNetworking decode_networking(Fields& f) {
  JailNetworking n;
  for (Fields& o : f.objects("networks")) {
    NetworkJoin j;
    j.name = o.string("name");
    if (!o.error() && !valid_name(j.name)) o.reject("name", "not a network name");
    j.ip = read_ip(o, "ip", true);
    j.ip6 = read_ip(o, "ip6", false);
    for (const auto& other : n.networks) {
      if (other.name == j.name) o.reject("name", "network `" + j.name + "` is listed twice");
    }
    n.networks.push_back(std::move(j));
  }
  for (Fields& o : f.objects("ports")) {
    net::PublishedPort p;
    auto host = o.opt_uint("host_port");
    auto jail = o.opt_uint("container_port");
    if (!host || *host == 0 || *host > 65535) o.reject("host_port", "a port 1-65535 is required");
    if (!jail || *jail == 0 || *jail > 65535)
      o.reject("container_port", "a port 1-65535 is required");
    p.host_port = static_cast<std::uint16_t>(host.value_or(0));
    p.jail_port = static_cast<std::uint16_t>(jail.value_or(0));
    std::string proto = o.opt_string("protocol").value_or("tcp");
    if (proto == "udp")
      p.proto = net::Proto::udp;
    else if (proto != "tcp")
      o.reject("protocol", "must be tcp or udp");
    if (auto h = o.opt_string("host_ip")) {
      auto ip = net::IpAddress::parse(*h);
      if (!ip)
        o.reject("host_ip", "expected an IP address, got `" + *h + "`");
      else
        p.host_ip = *ip;
    }
    for (const auto& q : n.ports) {
      if (q.host_port == p.host_port && q.proto == p.proto && q.host_ip == p.host_ip)
        o.reject("host_port", "published twice");
    }
    n.ports.push_back(p);
  }
  for (const auto& text : f.opt_strings("dns").value_or(std::vector<std::string>{})) {
    auto ip = net::IpAddress::parse(text);
    if (!ip) {
      f.reject("dns", "expected IP addresses, got `" + text + "`");
      break;
    }
    n.dns.push_back(*ip);
  }
  for (const auto& text : f.opt_strings("extra_hosts").value_or(std::vector<std::string>{})) {
    auto e = net::parse_host_entry(text);
    if (!e) {
      f.reject("extra_hosts", e.error().what());
      break;
    }
    n.extra_hosts.push_back(std::move(*e));
  }
  if (n.networks.empty() && !n.ports.empty()) n.networks.push_back({kDefaultNetwork, {}, {}});
  return n;
}

void encode_networking(const JailNetworking& n, json& j) {
  if (!n.any()) return;
  j["networks"] = json::array();
  for (const auto& w : n.networks) {
    json o = {{"name", w.name}};
    if (w.ip) o["ip"] = w.ip->str();
    if (w.ip6) o["ip6"] = w.ip6->str();
    j["networks"].push_back(std::move(o));
  }
  if (!n.ports.empty()) {
    j["ports"] = json::array();
    for (const auto& p : n.ports) {
      json o = {{"host_port", p.host_port},
                {"container_port", p.jail_port},
                {"protocol", net::proto_name(p.proto)}};
      if (p.host_ip) o["host_ip"] = p.host_ip->str();
      j["ports"].push_back(std::move(o));
    }
  }
  if (!n.dns.empty()) {
    j["dns"] = json::array();
    for (const auto& d : n.dns) j["dns"].push_back(d.str());
  }
  if (!n.extra_hosts.empty()) {
    j["extra_hosts"] = json::array();
    for (const auto& e : n.extra_hosts) {
      std::string a = e.address.str();
      if (!e.address.is_v4()) a = "[" + a + "]";
      j["extra_hosts"].push_back(e.names.at(0) + ":" + a);
    }
  }
}

}  // namespace lj::daemon
