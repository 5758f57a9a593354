#include "net/network.hpp"

#include <cctype>

#include "common/log.hpp"

namespace lj::net {
namespace {

std::string suffix8(std::string_view id) {
  std::string s;
  for (char c : id) {
    if (s.size() == 8) break;
    auto u = static_cast<unsigned char>(c);
    if (std::isdigit(u) || (std::islower(u) && c <= 'z')) s += c;
  }
  return s;
}

std::string tail8(std::string_view id) {
  // The daemon's ids are "<letter>-<hex>": the part after the last '-' is the unique one.
  auto dash = id.rfind('-');
  return suffix8(dash == std::string_view::npos ? id : id.substr(dash + 1));
}

bool valid_ifname(const std::string& s) {
  if (s.empty() || s.size() > 15) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.')
      return false;
  return true;
}

}  // namespace

std::string bridge_name(std::string_view id) { return std::string(kBridgePrefix) + tail8(id); }

std::string link_name(std::string_view id, unsigned index) {
  // 5 + 8 + at most 2: "ljve-3f1a2b4c" for the first network, "ljve-3f1a2b4c1" for the second.
  std::string s = std::string(kLinkPrefix) + tail8(id);
  if (index > 0) s += std::to_string(index);
  return s;
}

std::string_view proto_name(Proto p) { return p == Proto::tcp ? "tcp" : "udp"; }

Status check_network(const NetworkSpec& n) {
  auto bad = [&](const std::string& m) {
    return fail(Errc::invalid_argument, "net", "network " + n.name + ": " + m);
  };
  if (!valid_ifname(n.bridge) || n.bridge.rfind(kBridgePrefix, 0) != 0)
    return bad("bad bridge name '" + n.bridge + "'");
  if (!n.subnet4.address().is_v4()) return bad("subnet " + n.subnet4.str() + " is not IPv4");
  if (auto s = check_subnet(n.subnet4, n.gateway4); !s) return fail(std::move(s).error());
  if (n.subnet6.has_value() != n.gateway6.has_value())
    return bad("an IPv6 subnet and its gateway go together");
  if (n.subnet6) {
    if (n.subnet6->address().is_v4()) return bad("subnet " + n.subnet6->str() + " is not IPv6");
    if (auto s = check_subnet(*n.subnet6, *n.gateway6); !s) return fail(std::move(s).error());
  }
  return {};
}

Status check_endpoint(const NetworkSpec& n, const Endpoint& ep) {
  auto bad = [&](const std::string& m) {
    return fail(Errc::invalid_argument, "net", "network " + n.name + ": " + m);
  };
  if (!valid_ifname(ep.link) || ep.link.rfind(kLinkPrefix, 0) != 0)
    return bad("bad link name '" + ep.link + "'");
  if (!valid_ifname(ep.jail_ifname)) return bad("bad interface name '" + ep.jail_ifname + "'");
  if (!n.subnet4.contains(ep.address4) || ep.address4 == n.gateway4 ||
      ep.address4 == n.subnet4.address() || ep.address4 == n.subnet4.last())
    return bad("address " + ep.address4.str() + " is not a host address of " + n.subnet4.str());
  if (ep.address6 && (!n.subnet6 || !n.subnet6->contains(*ep.address6) ||
                      *ep.address6 == *n.gateway6 || *ep.address6 == n.subnet6->address()))
    return bad("address " + ep.address6->str() + " is not a host address of the IPv6 subnet");
  if (n.internal && !ep.ports.empty())
    return bad("an internal network has no published ports");
  for (const auto& p : ep.ports)
    if (p.host_port == 0 || p.jail_port == 0) return bad("port 0 cannot be published");
  return {};
}

Attachment::Attachment(Attachment&& o) noexcept
    : host_(std::exchange(o.host_, nullptr)), net_(std::move(o.net_)), ep_(std::move(o.ep_)) {}

Attachment& Attachment::operator=(Attachment&& o) noexcept {
  if (this != &o) {
    if (host_) (void)detach();
    host_ = std::exchange(o.host_, nullptr);
    net_ = std::move(o.net_);
    ep_ = std::move(o.ep_);
  }
  return *this;
}

Attachment::~Attachment() {
  if (!host_) return;
  if (auto s = detach(); !s) lj::log("net")->warn("{}", s.error().what());
}

Status Attachment::detach(Unlink unlink) {
  Host* h = std::exchange(host_, nullptr);
  if (!h) return {};
  return h->detach(net_, ep_, unlink);
}

}  // namespace lj::net
