// The client side of ljd's HTTP upgrade (docs/attach.md), for the interactive tests: POST a
// target with `Connection: Upgrade` and get the raw connection after the 101.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <string>

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

}  // namespace lj::testing
