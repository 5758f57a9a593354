// The client side of ljd's HTTP upgrade (docs/attach.md), for the interactive tests: POST a
// target with `Connection: Upgrade` and get the raw connection after the 101. And what the
// stdin tests share: a large file of known content and its digest, ljd's memory.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <utility>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/base64.hpp"
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

// Every byte value, 0 to 255 (NUL included), and the script that makes a jail's `sh` print it:
// busybox printf with octal escapes writes each as it is.
inline std::string all_bytes(bool reversed = false) {
  std::string b(256, '\0');
  for (int i = 0; i < 256; ++i) b[i] = static_cast<char>(reversed ? 255 - i : i);
  return b;
}
inline std::string printf_of(const std::string& bytes) {
  std::string f = "printf '";
  char esc[8];
  for (unsigned char c : bytes) {
    std::snprintf(esc, sizeof esc, "\\%03o", c);
    f += esc;
  }
  return f + "'";
}

// The output records of an NDJSON stream (a log, an exec's NDJSON start), decoded: "data" as it
// is, "data_base64" (bytes that are not UTF-8) from base64. stdout and stderr.
inline std::pair<std::string, std::string> record_output(const std::string& ndjson) {
  std::string out, err;
  std::istringstream in(ndjson);
  for (std::string line; std::getline(in, line);) {
    auto rec = nlohmann::json::parse(line, nullptr, false);
    if (!rec.is_object() || !rec.contains("stream")) continue;
    std::string data;
    if (rec.contains("data")) {
      data = rec["data"].get<std::string>();
    } else if (rec.contains("data_base64")) {
      auto d = base64_decode(rec["data_base64"].get<std::string>());
      EXPECT_TRUE(d) << line;
      data = d.value_or("");
    }
    (rec["stream"] == "stderr" ? err : out) += data;
  }
  return {out, err};
}

// Reads an upgraded stream without a terminal to its end, de-multiplexing as it goes without
// keeping the bytes: how many arrived on stdout and stderr, and whether all of stdout was `fill`.
struct Tally {
  std::size_t out = 0, err = 0;
  bool only_fill = true;
};
inline Tally tally(int fd, char fill) {
  Tally t;
  std::string buf;
  char chunk[1 << 16];
  for (ssize_t n; (n = ::read(fd, chunk, sizeof chunk)) > 0;) {
    buf.append(chunk, static_cast<std::size_t>(n));
    std::size_t at = 0;
    while (buf.size() - at >= 8) {
      std::size_t len = 0;
      for (int i = 4; i < 8; ++i) len = len << 8 | static_cast<unsigned char>(buf[at + i]);
      if (buf.size() - at < 8 + len) break;
      if (buf[at] == 2) {
        t.err += len;
      } else {
        t.out += len;
        for (std::size_t i = 0; i < len && t.only_fill; ++i) t.only_fill = buf[at + 8 + i] == fill;
      }
      at += 8 + len;
    }
    buf.erase(0, at);
  }
  return t;
}

// A file of `mib` MiB of a repeating, non-text pattern in /tmp, removed by the destructor; its
// sha256 as sha256sum(1) prints it.
class BigFile {
 public:
  explicit BigFile(int mib) {
    block_.resize(1 << 20);
    for (std::size_t i = 0; i < block_.size(); ++i) block_[i] = static_cast<char>(i * 7 + i / 251);
    char tmpl[] = "/tmp/lj-stdin-XXXXXX";
    const int fd = ::mkstemp(tmpl);
    if (fd < 0) return;
    path_ = tmpl;
    for (int i = 0; i < mib; ++i)
      if (::write(fd, block_.data(), block_.size()) != static_cast<ssize_t>(block_.size())) break;
    ::close(fd);
    if (FILE* p = ::popen(("sha256sum < " + path_).c_str(), "r")) {
      char line[128] = "";
      if (std::fgets(line, sizeof line, p)) sha256_ = std::string(line).substr(0, 64);
      ::pclose(p);
    }
  }
  ~BigFile() {
    if (!path_.empty()) ::unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }
  const std::string& sha256() const { return sha256_; }  // 64 hex digits, "" on failure
  const std::string& block() const { return block_; }    // one MiB of it

 private:
  std::string path_, sha256_, block_;
};

// Sends `block` `times` times on `fd`, then ends the input (a half close), on a thread of its
// own so that the caller reads the output meanwhile: join it.
inline std::thread feed(int fd, const std::string& block, int times) {
  return std::thread([fd, &block, times] {
    for (int i = 0; i < times; ++i)
      if (::send(fd, block.data(), block.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(block.size()))
        break;
    ::shutdown(fd, SHUT_WR);
  });
}

// A "Vm...:" line of /proc/PID/status (VmRSS, VmHWM: the peak), in KiB; -1 when absent.
inline long vm_kib(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind(field + ":", 0) == 0) return std::stol(line.substr(field.size() + 1));
  return -1;
}

}  // namespace lj::testing
