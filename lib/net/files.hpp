// A jail's /etc/resolv.conf and /etc/hosts, generated as text from plain data. The daemon writes
// them under its state directory and the backend binds them read-only into the jail (volumes of
// single files), so nothing is written into a shared layer.
//
// Names: jails on one network find each other through their hosts files, which the daemon keeps
// current (every join or leave on a network rewrites the files of the jails on it, in place, so
// that the binds see the new text). No resolver runs on the data path, and it works the same with
// glibc, musl and busybox, and on FreeBSD. docs/networking.md says why and what it costs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.hpp"
#include "net/address.hpp"

namespace lj::net {

struct HostEntry {
  IpAddress address;
  std::vector<std::string> names;  // first the canonical name
};

// resolv.conf for a jail: `dns` when given, else the host's nameservers (from `host_resolv`, the
// host's resolv.conf text) without the loopback ones, which a jail with its own network stack
// cannot reach; the host's search and options lines are kept. No nameserver left: the text says
// so in a comment (names then resolve only through /etc/hosts).
std::string resolv_conf(std::string_view host_resolv, const std::vector<IpAddress>& dns,
                        const std::vector<std::string>& search = {});

// hosts for a jail: loopback names, the jail's own addresses under its hostname, then `peers`
// (other jails on its networks) and `extra` (--add-host), in that order.
std::string hosts_file(const std::string& hostname, const std::vector<IpAddress>& own,
                       const std::vector<HostEntry>& peers, const std::vector<HostEntry>& extra);

// Parses "NAME:IP" (--add-host); IPv6 addresses may be bracketed ("db:[fd00::5]").
Result<HostEntry> parse_host_entry(std::string_view text);

// Replaces a file's contents in place (same inode: a bind mount of it sees the new text):
// written from offset 0, then truncated to the new length. Creates it (0644) when missing.
Status write_in_place(const std::filesystem::path& path, std::string_view text);

}  // namespace lj::net
