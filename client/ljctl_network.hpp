// ljctl's networking (issue 14): `network create|ls|inspect|rm`, `port JAIL`, and the run options
// --network, --ip, -p/--publish, --dns, --add-host. Registered into ljctl's CLI by two calls, so
// that ljctl.cpp stays the list of the other commands.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "client/ljctl_api.hpp"
#include "common/error.hpp"

namespace CLI {
class App;
}

namespace lj::ljctl {

// "[IP:]HOST:JAIL[/tcp|udp]" -> {"host_port", "container_port", "protocol"[, "host_ip"]}; an IPv6
// host address is bracketed ("[::1]:8080:80").
Result<nlohmann::json> parse_publish(std::string_view s);

// The run options of networking, as typed.
struct RunNetOptions {
  std::vector<std::string> networks;  // --network NAME (repeatable; the first carries -p)
  std::string ip;                     // --ip: the address asked for on the first network
  std::vector<std::string> publish;   // -p
  std::vector<std::string> dns;       // --dns
  std::vector<std::string> add_host;  // --add-host NAME:IP
  bool publish_all = false;           // -P: the image's ExposedPorts on host ports ljd picks
};
void add_run_net_options(CLI::App* run, RunNetOptions& o);
// Adds `networks`, `ports`, `publish_all`, `dns`, `extra_hosts` to a create body. -p without
// --network joins the network "default" (made by ljd on first use); so does -P, by ljd, when the
// image exposes a port.
Status add_run_networking(const RunNetOptions& o, nlohmann::json& body);

// `ljctl network ...` and `ljctl port`: registered with add(), run with run() after parsing
// (nullopt: none of them was given).
class NetworkCommands {
 public:
  void add(CLI::App& app, const std::function<void(CLI::App*)>& add_globals);
  std::optional<int> run(Api& api, bool json_out);

 private:
  CLI::App *create_ = nullptr, *ls_ = nullptr, *inspect_ = nullptr, *rm_ = nullptr,
           *port_ = nullptr;
  std::string name_, subnet_, gateway_, subnet6_, gateway6_;
  bool internal_ = false;
  std::vector<std::string> names_;
};

}  // namespace lj::ljctl
