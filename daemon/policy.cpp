#include "daemon/policy.hpp"

#include <algorithm>
#include <charconv>

#include "daemon/host_ports.hpp"

namespace lj::daemon {
namespace {

Error bad(std::string message) {
  return Error(Errc::invalid_argument, "policy", std::move(message));
}

}  // namespace

jail::Grants grants_of(const Privileges& p) {
  jail::Grants g;
  g.devices.reserve(p.devices.size());
  for (const auto& d : p.devices) g.devices.emplace_back(d);
  g.raw_sockets = p.raw_sockets;
  g.mlock = p.mlock;
  g.sysvipc = p.sysvipc;
  return g;
}

Result<bool> parse_policy_key(std::string_view key, std::string_view value, HostPolicy* policy) {
  auto items = overlay::split_list(value);
  if (key == "policy_registries") {
    policy->registries.clear();
    for (auto r : items) {
      if (r == "*") {  // any: the same as empty, written out
        policy->registries.clear();
        break;
      }
      if (r.back() == '/' || r.find_first_of(" \t@") != std::string_view::npos)
        return tl::unexpected(bad("policy_registries: `" + std::string(r) +
                                  "` is not a registry or registry/repository"));
      policy->registries.emplace_back(r);
    }
  } else if (key == "policy_devices") {
    policy->devices.clear();
    for (auto d : items) {
      if (!overlay::is_device_path(d))
        return tl::unexpected(bad("policy_devices: `" + std::string(d) +
                                  "` is not a plain path under /dev"));
      policy->devices.emplace(d);
    }
  } else if (key == "policy_allow") {
    policy->raw_sockets = policy->mlock = policy->sysvipc = false;
    for (auto a : items) {
      if (a == "raw_sockets")
        policy->raw_sockets = true;
      else if (a == "mlock")
        policy->mlock = true;
      else if (a == "sysvipc")
        policy->sysvipc = true;
      else
        return tl::unexpected(bad("policy_allow: unknown privilege `" + std::string(a) +
                                  "` (raw_sockets, mlock, sysvipc)"));
    }
  } else if (key == "policy_ports") {
    policy->ports.clear();
    for (auto r : items) {
      if (r == "none") continue;
      auto dash = r.find('-');
      std::uint16_t lo = 0, hi = 0;
      bool ok = dash == std::string_view::npos
                    ? parse_port(r, &lo) && (hi = lo)
                    : parse_port(r.substr(0, dash), &lo) &&
                          parse_port(r.substr(dash + 1), &hi) && lo <= hi;
      if (!ok)
        return tl::unexpected(bad("policy_ports: `" + std::string(r) +
                                  "` is not a port or a range LOW-HIGH of 1..65535"));
      policy->ports.emplace_back(lo, hi);
    }
  } else {
    return false;
  }
  return true;
}

std::vector<Refusal> evaluate(const HostPolicy& policy, const Privileges& wanted,
                              const std::vector<std::string>* image_names) {
  std::vector<Refusal> out;
  if (image_names && !policy.registries.empty()) {
    auto allowed = [&](const std::string& name) {
      for (const auto& r : policy.registries) {
        if (name == r || (name.size() > r.size() && name.compare(0, r.size(), r) == 0 &&
                          name[r.size()] == '/'))
          return true;
      }
      return false;
    };
    if (std::none_of(image_names->begin(), image_names->end(), allowed)) {
      std::string names;
      for (const auto& n : *image_names) names += (names.empty() ? "" : ", ") + n;
      out.push_back({"image=" + (names.empty() ? std::string("(unnamed)") : names),
                     "policy_registries",
                     "the image's registry and repository are not in policy_registries"});
    }
  }
  for (const auto& d : wanted.devices) {
    if (!policy.devices.count(d))
      out.push_back({"device=" + d, "policy_devices", d + " is not in policy_devices"});
  }
  auto flag = [&](bool want, bool have, const char* name) {
    if (want && !have)
      out.push_back({name, "policy_allow", std::string(name) + " is not in policy_allow"});
  };
  flag(wanted.mlock, policy.mlock, "mlock");
  flag(wanted.raw_sockets, policy.raw_sockets, "raw_sockets");
  flag(wanted.sysvipc, policy.sysvipc, "sysvipc");
  for (const auto& p : wanted.ports) {
    unsigned n = 0;
    std::from_chars(p.data(), p.data() + p.size(), n);
    bool ok = std::any_of(policy.ports.begin(), policy.ports.end(),
                          [&](const auto& r) { return n >= r.first && n <= r.second; });
    if (!ok)
      out.push_back({"port=" + p, "policy_ports", "port " + p + " is outside policy_ports"});
  }
  return out;
}

Error refusal_error(const std::vector<Refusal>& refused) {
  std::string list;
  for (const auto& r : refused) list += (list.empty() ? "" : ", ") + r.item + " (" + r.rule + ")";
  return Error(Errc::permission_denied, "policy",
               "the host policy does not grant " + list +
                   "; a root caller may override with policy_override");
}

nlohmann::json refusal_details(const std::vector<Refusal>& refused) {
  auto arr = nlohmann::json::array();
  for (const auto& r : refused)
    arr.push_back({{"item", r.item}, {"rule", r.rule}, {"message", r.message}});
  return {{"refused", std::move(arr)}};
}

}  // namespace lj::daemon
