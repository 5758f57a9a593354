#include "client/ljctl_network.hpp"

#include <charconv>
#include <cstdio>

#include <CLI/CLI.hpp>

#include "client/http_client.hpp"
#include "client/ljctl_args.hpp"
#include "client/ljctl_format.hpp"

namespace lj::ljctl {

using nlohmann::json;

namespace {

Error bad(const std::string& m) {
  return Error(Errc::invalid_argument, "ljctl", m);
}

std::optional<unsigned> port_number(std::string_view s) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return std::nullopt;
  return v;
}

int report(const std::string& line) {
  std::fflush(stdout);
  std::fprintf(stderr, "ljctl: %s\n", line.c_str());
  return kExitError;
}

void outln(const std::string& s) {
  std::fwrite(s.data(), 1, s.size(), stdout);
  std::fputc('\n', stdout);
}

std::string seg(std::string_view s) {
  return client::url_encode(s);
}

// "NAME" or "NAME:IP" of a --add-host: ljd checks the address; here only the shape.
Status check_add_host(const std::string& h) {
  auto colon = h.find(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == h.size())
    return fail(bad("--add-host " + h + ": expected NAME:IP"));
  return {};
}

}  // namespace

Result<json> parse_publish(std::string_view s) {
  const std::string text(s);
  auto usage = [&] {
    return fail(bad("-p " + text + ": expected [IP:]HOST_PORT:JAIL_PORT[/tcp|udp]"));
  };
  std::string proto = "tcp";
  if (auto slash = s.rfind('/'); slash != std::string_view::npos) {
    proto = std::string(s.substr(slash + 1));
    if (proto != "tcp" && proto != "udp") return usage();
    s = s.substr(0, slash);
  }
  std::string host_ip;
  if (!s.empty() && s.front() == '[') {
    auto close = s.find("]:");
    if (close == std::string_view::npos) return usage();
    host_ip = std::string(s.substr(1, close - 1));
    s = s.substr(close + 2);
  } else if (auto first = s.find(':'); first != std::string_view::npos &&
                                        s.find(':', first + 1) != std::string_view::npos) {
    host_ip = std::string(s.substr(0, first));
    s = s.substr(first + 1);
  }
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return usage();
  auto host = port_number(s.substr(0, colon));
  auto jail = port_number(s.substr(colon + 1));
  if (!host || !jail) return usage();
  json p = {{"host_port", *host}, {"container_port", *jail}, {"protocol", proto}};
  if (!host_ip.empty()) p["host_ip"] = host_ip;
  return p;
}

void add_run_net_options(CLI::App* run, RunNetOptions& o) {
  run->add_option("--network", o.networks,
                  "join a network of ljd's (repeatable; `default` is made on first use)")
      ->allow_extra_args(false);
  run->add_option("--ip", o.ip, "the IPv4 address to ask for on the first --network");
  run->add_option("-p,--publish", o.publish,
                  "publish a port: [IP:]HOST:JAIL[/tcp|udp] (repeatable; joins `default` "
                  "without --network)")
      ->allow_extra_args(false);
  run->add_flag("-P,--publish-all", o.publish_all,
                "publish every port the image exposes on a free host port (`ljctl port` lists "
                "them; joins `default` without --network)");
  run->add_option("--dns", o.dns, "a nameserver for the jail's resolv.conf (repeatable)")
      ->allow_extra_args(false);
  run->add_option("--add-host", o.add_host, "NAME:IP line for the jail's /etc/hosts (repeatable)")
      ->allow_extra_args(false);
}

Status add_run_networking(const RunNetOptions& o, json& body) {
  std::vector<std::string> nets = o.networks;
  if (nets.empty() && (!o.publish.empty() || !o.ip.empty())) nets.push_back("default");
  if (o.publish_all) {
    if (body.contains("network"))
      return fail(bad("-P goes without --net (a jail publishing ports is on networks)"));
    body["publish_all"] = true;
  }
  if (!nets.empty()) {
    if (body.contains("network"))
      return fail(bad("--network and -p go without --net (a jail on networks has its own)"));
    json list = json::array();
    for (std::size_t i = 0; i < nets.size(); ++i) {
      json n = {{"name", nets[i]}};
      if (i == 0 && !o.ip.empty()) n["ip"] = o.ip;
      list.push_back(std::move(n));
    }
    body["networks"] = std::move(list);
  }
  if (!o.publish.empty()) {
    json ports = json::array();
    for (const auto& p : o.publish) ports.push_back(LJ_TRY(parse_publish(p)));
    body["ports"] = std::move(ports);
  }
  if (!o.dns.empty()) body["dns"] = o.dns;
  if (!o.add_host.empty()) {
    for (const auto& h : o.add_host) LJ_TRY(check_add_host(h));
    body["extra_hosts"] = o.add_host;
  }
  return {};
}

void NetworkCommands::add(CLI::App& app, const std::function<void(CLI::App*)>& add_globals) {
  CLI::App* network = app.add_subcommand("network", "manage networks (bridges with NAT and ports)");
  add_globals(network);
  network->require_subcommand(1);
  create_ = network->add_subcommand("create", "create a network");
  add_globals(create_);
  create_->add_option("NAME", name_, "the network's name")->required();
  create_->add_option("--subnet", subnet_, "IPv4 subnet (default: a free /24 of 10.78.0.0/16)");
  create_->add_option("--gateway", gateway_, "the gateway (default: the subnet's first address)");
  create_->add_option("--subnet6", subnet6_, "an IPv6 subnet too");
  create_->add_option("--gateway6", gateway6_, "its gateway");
  create_->add_flag("--internal", internal_, "no NAT, no way out, no published ports");
  ls_ = network->add_subcommand("ls", "list networks");
  add_globals(ls_);
  inspect_ = network->add_subcommand("inspect", "show networks as JSON, with their jails");
  add_globals(inspect_);
  inspect_->add_option("NAME", names_, "network names")->required();
  rm_ = network->add_subcommand("rm", "remove networks (none of whose jails may still run)");
  add_globals(rm_);
  rm_->add_option("NAME", names_, "network names")->required();
  port_ = app.add_subcommand("port", "list a jail's published ports");
  add_globals(port_);
  port_->add_option("JAIL", name_, "jail id or name")->required();
}

std::optional<int> NetworkCommands::run(Api& api, bool json_out) {
  if (create_->parsed()) {
    json body = {{"name", name_}};
    if (!subnet_.empty()) body["subnet"] = subnet_;
    if (!gateway_.empty()) body["gateway"] = gateway_;
    if (!subnet6_.empty()) body["subnet6"] = subnet6_;
    if (!gateway6_.empty()) body["gateway6"] = gateway6_;
    if (internal_) body["internal"] = true;
    auto r = api.call("POST", "/v1/networks", &body);
    if (!r) return report(r.error().what());
    outln(json_out ? r->dump() : r->value("name", name_));
    return 0;
  }
  if (ls_->parsed()) {
    auto r = api.call("GET", "/v1/networks");
    if (!r) return report(r.error().what());
    if (json_out) {
      outln(r->dump());
      return 0;
    }
    Table t({"NAME", "SUBNET", "GATEWAY", "INTERNAL", "JAILS", "BRIDGE"});
    for (const auto& n : *r) {
      std::string subnet = cell(n.value("subnet", json()));
      if (n.contains("subnet6") && n["subnet6"].is_string()) subnet += " " + n["subnet6"].get<std::string>();
      t.add({cell(n.value("name", json())), subnet, cell(n.value("gateway", json())),
             n.value("internal", false) ? "yes" : "no",
             std::to_string(n.contains("jails") ? n["jails"].size() : 0),
             cell(n.value("bridge", json()))});
    }
    std::fputs(t.str().c_str(), stdout);
    return 0;
  }
  if (inspect_->parsed() || rm_->parsed()) {
    int rc = 0;
    for (const auto& n : names_) {
      auto r = api.call(rm_->parsed() ? "DELETE" : "GET", "/v1/networks/" + seg(n));
      if (!r) {
        std::string line = r.error().what();
        if (api.last_api_error().status == 409) line += " (remove its jails first: ljctl rm)";
        rc = report(line);
        continue;
      }
      if (rm_->parsed())
        outln(json_out ? r->dump() : n);
      else
        outln(json_out ? r->dump() : r->dump(2));
    }
    return rc;
  }
  if (port_->parsed()) {
    auto r = api.call("GET", "/v1/jails/" + seg(name_));
    if (!r) return report(r.error().what());
    json ports = (*r)["spec"].is_object() ? (*r)["spec"].value("ports", json::array()) : json();
    if (json_out) {
      outln(ports.is_array() ? ports.dump() : "[]");
      return 0;
    }
    // docker's form: "80/tcp -> 0.0.0.0:8080"
    if (ports.is_array()) {
      for (const auto& p : ports) {
        std::string host_ip = p.value("host_ip", std::string("0.0.0.0"));
        if (host_ip.find(':') != std::string::npos) host_ip = "[" + host_ip + "]";
        outln(std::to_string(p.value("container_port", 0)) + "/" +
              p.value("protocol", std::string("tcp")) + " -> " + host_ip + ":" +
              std::to_string(p.value("host_port", 0)));
      }
    }
    return 0;
  }
  return std::nullopt;
}

}  // namespace lj::ljctl
