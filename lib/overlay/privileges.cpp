#include "overlay/privileges.hpp"

#include <algorithm>
#include <charconv>

namespace lj::overlay {
namespace {

bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

Error bad(std::string message) {
  return Error(Errc::invalid_argument, "policy", std::move(message));
}

}  // namespace

std::vector<std::string_view> split_list(std::string_view list) {
  std::vector<std::string_view> out;
  while (!list.empty()) {
    auto comma = list.find(',');
    auto item = list.substr(0, comma);
    while (!item.empty() && is_blank(item.front())) item.remove_prefix(1);
    while (!item.empty() && is_blank(item.back())) item.remove_suffix(1);
    if (!item.empty()) out.push_back(item);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
  }
  return out;
}

// The syntax of jail::validate_spec's granted devices, checked here so that a bad declaration is
// refused where it is written rather than at a jail's start.
bool is_device_path(std::string_view d) {
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

bool parse_port(std::string_view s, std::uint16_t* out) {
  unsigned v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535) return false;
  *out = static_cast<std::uint16_t>(v);
  return true;
}

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

std::string Privileges::list() const {
  std::string out;
  for (const auto& i : items()) out += (out.empty() ? "" : ", ") + i;
  return out;
}

Status add_privilege(std::string_view item, Privileges* p) {
  while (!item.empty() && is_blank(item.front())) item.remove_prefix(1);
  while (!item.empty() && is_blank(item.back())) item.remove_suffix(1);
  if (item == "raw_sockets") {
    p->raw_sockets = true;
  } else if (item == "mlock") {
    p->mlock = true;
  } else if (item == "sysvipc") {
    p->sysvipc = true;
  } else if (item.substr(0, 7) == "device=") {
    auto path = item.substr(7);
    if (!is_device_path(path))
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

Result<Privileges> parse_privileges(std::string_view list, std::size_t* error_offset) {
  Privileges p;
  for (auto item : split_list(list)) {
    if (auto st = add_privilege(item, &p); !st) {
      if (error_offset) *error_offset = static_cast<std::size_t>(item.data() - list.data());
      return tl::unexpected(st.error());
    }
  }
  return p;
}

}  // namespace lj::overlay
