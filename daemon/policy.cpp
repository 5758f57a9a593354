#include "daemon/policy.hpp"

#include <algorithm>
#include <charconv>

#include "daemon/host_ports.hpp"

namespace lj::daemon {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits a comma-separated list, skipping empty items.
std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = trim(list.substr(0, comma));
    if (!item.empty()) out.push_back(item);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return out;
}

// The syntax of jail::validate_spec's granted devices, checked here so that a bad label or
// request is a 400 naming it rather than a failed start.
bool plain_dev_path(std::string_view d) {
  if (d.size() < 6 || d.substr(0, 5) != "/dev/" || d.back() == '/') return false;
  if (d.find_first_of(std::string_view("\0\n,:\\", 5)) != std::string_view::npos) return false;
  std::string_view rest = d.substr(5);
  while (!rest.empty()) {
    auto slash = rest.find('/');
    auto part = rest.substr(0, slash);
    if (part.empty() || part == "." || part == "..") return false;
    rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  }
  return true;
}

Error bad(std::string message) {
  return Error(Errc::invalid_argument, "policy", std::move(message));
}

}  // namespace

void Privileges::merge(const Privileges& o) {
  devices.insert(o.devices.begin(), o.devices.end());
  raw_sockets |= o.raw_sockets;
  mlock |= o.mlock;
  sysvipc |= o.sysvipc;
  ports.insert(o.ports.begin(), o.ports.end());
}

std::vector<std::string> Privileges::items() const {
  std::vector<std::string> out;
  for (const auto& d : devices) out.push_back("device=" + d);
  if (mlock) out.emplace_back("mlock");
  for (const auto& p : ports) out.push_back("port=" + p);
  if (raw_sockets) out.emplace_back("raw_sockets");
  if (sysvipc) out.emplace_back("sysvipc");
  std::sort(out.begin(), out.end());
  return out;
}

jail::Grants Privileges::grants() const {
  jail::Grants g;
  g.devices.reserve(devices.size());
  for (const auto& d : devices) g.devices.emplace_back(d);
  g.raw_sockets = raw_sockets;
  g.mlock = mlock;
  g.sysvipc = sysvipc;
  return g;
}

Status add_privilege(std::string_view item, Privileges* p) {
  item = trim(item);
  if (item == "raw_sockets") {
    p->raw_sockets = true;
  } else if (item == "mlock") {
    p->mlock = true;
  } else if (item == "sysvipc") {
    p->sysvipc = true;
  } else if (item.substr(0, 7) == "device=") {
    auto path = item.substr(7);
    if (!plain_dev_path(path))
      return tl::unexpected(bad("privilege `" + std::string(item) +
                                "`: a device is a plain path under /dev"));
    p->devices.emplace(path);
  } else if (item.substr(0, 5) == "port=") {
    // ExposedPorts' syntax (image-spec config.md): "80", "80/tcp", "53/udp"; tcp by default.
    auto spec = item.substr(5);
    auto slash = spec.find('/');
    std::string proto = slash == std::string_view::npos ? "tcp" : std::string(spec.substr(slash + 1));
    std::uint16_t port = 0;
    if (!parse_port(spec.substr(0, slash), &port) ||
        (proto != "tcp" && proto != "udp" && proto != "sctp"))
      return tl::unexpected(bad("privilege `" + std::string(item) +
                                "`: a port is N or N/tcp|udp|sctp, 1..65535"));
    p->ports.insert(std::to_string(port) + "/" + proto);
  } else {
    return tl::unexpected(bad("unknown privilege `" + std::string(item) +
                              "` (device=PATH, raw_sockets, mlock, sysvipc, port=N[/proto])"));
  }
  return {};
}

Result<Privileges> parse_privileges(std::string_view list) {
  Privileges p;
  for (auto item : split_list(list)) LJ_TRY(add_privilege(item, &p));
  return p;
}

Result<bool> parse_policy_key(std::string_view key, std::string_view value, HostPolicy* policy) {
  auto items = split_list(value);
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
      if (!plain_dev_path(d))
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
