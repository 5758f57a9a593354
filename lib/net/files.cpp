#include "net/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <sstream>

#include "common/fd.hpp"

namespace lj::net {

std::string resolv_conf(std::string_view host_resolv, const std::vector<IpAddress>& dns,
                        const std::vector<std::string>& search) {
  std::vector<std::string> servers, keep;
  std::istringstream in{std::string(host_resolv)};
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string key, value;
    words >> key >> value;
    if (key == "nameserver") {
      auto a = IpAddress::parse(value);
      bool loopback = a && ((a->is_v4() && a->bytes()[0] == 127) ||
                            (!a->is_v4() && *a == *IpAddress::parse("::1")));
      if (a && !loopback) servers.push_back(a->str());
    } else if ((key == "search" || key == "options") && search.empty()) {
      keep.push_back(line);
    } else if (key == "options") {
      keep.push_back(line);
    }
  }
  if (!dns.empty()) {
    servers.clear();
    for (const auto& a : dns) servers.push_back(a.str());
  }
  std::string out = "# written by ljd for this jail\n";
  if (!search.empty()) {
    out += "search";
    for (const auto& s : search) out += " " + s;
    out += "\n";
  }
  for (const auto& k : keep) out += k + "\n";
  if (servers.empty()) out += "# no nameserver reachable from the jail: names come from /etc/hosts\n";
  for (const auto& s : servers) out += "nameserver " + s + "\n";
  return out;
}

std::string hosts_file(const std::string& hostname, const std::vector<IpAddress>& own,
                       const std::vector<HostEntry>& peers, const std::vector<HostEntry>& extra) {
  std::string out = "# written by ljd for this jail; peers are kept current\n";
  out += "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& a : own) out += a.str() + "\t" + hostname + "\n";
  auto add = [&](const HostEntry& e) {
    out += e.address.str();
    for (const auto& n : e.names) out += (&n == &e.names.front() ? "\t" : " ") + n;
    out += "\n";
  };
  for (const auto& e : peers) add(e);
  for (const auto& e : extra) add(e);
  return out;
}

Result<HostEntry> parse_host_entry(std::string_view text) {
  auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0)
    return fail(Errc::invalid_argument, "net", "host entry must be NAME:IP: '" + std::string(text) + "'");
  std::string name(text.substr(0, colon));
  std::string_view ip = text.substr(colon + 1);
  if (ip.size() >= 2 && ip.front() == '[' && ip.back() == ']') ip = ip.substr(1, ip.size() - 2);
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.' && c != '_')
      return fail(Errc::invalid_argument, "net", "bad host name '" + name + "'");
  HostEntry e;
  e.address = LJ_TRY(IpAddress::parse(ip));
  e.names.push_back(name);
  return e;
}

Status write_in_place(const std::filesystem::path& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644));
  if (!fd) return fail_errno("net", "open " + path.string());
  std::size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::pwrite(fd.get(), text.data() + done, text.size() - done,
                         static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail_errno("net", "write " + path.string());
    done += static_cast<std::size_t>(n);
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(text.size())) != 0)
    return fail_errno("net", "truncate " + path.string());
  return {};
}

}  // namespace lj::net
