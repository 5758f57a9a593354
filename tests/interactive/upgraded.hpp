// The client side of ljd's HTTP upgrade (docs/attach.md), for the interactive tests: POST a
// target with `Connection: Upgrade` and get the raw connection after the 101.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <utility>

#include <gtest/gtest.h>

#include "common/fd.hpp"

namespace lj::testing {

// POST `target` (e.g. /v1/jails/ID/attach) upgraded: the raw connection after the 101, or an
// empty descriptor (and a test failure naming the answer).
inline UniqueFd upgraded(const std::string& socket_path, const std::string& target) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un sa {};
  sa.sun_family = AF_UNIX;
  std::strncpy(sa.sun_path, socket_path.c_str(), sizeof sa.sun_path - 1);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) return {};
  std::string req = "POST " + target +
                    " HTTP/1.1\r\nHost: ljd\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                    "Content-Length: 0\r\n\r\n";
  if (::write(s.get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) return {};
  std::string head;
  char c;
  while (head.find("\r\n\r\n") == std::string::npos && ::read(s.get(), &c, 1) == 1) head += c;
  if (head.rfind("HTTP/1.1 101", 0) != 0) {
    ADD_FAILURE() << head;
    return {};
  }
  return s;
}

// Everything until EOF.
inline std::string read_all(int fd) {
  std::string raw;
  char buf[65536];
  for (ssize_t n; (n = ::read(fd, buf, sizeof buf)) > 0;) raw.append(buf, static_cast<std::size_t>(n));
  return raw;
}

// Output without a terminal, de-multiplexed: Docker's 8-byte headers, stream 1 and 2.
inline std::pair<std::string, std::string> demux(const std::string& raw) {
  std::string out, err;
  for (std::size_t at = 0; at + 8 <= raw.size();) {
    std::size_t n = 0;
    for (int i = 4; i < 8; ++i) n = n << 8 | static_cast<unsigned char>(raw[at + i]);
    (raw[at] == 2 ? err : out) += raw.substr(at + 8, n);
    at += 8 + n;
  }
  return {out, err};
}

}  // namespace lj::testing
