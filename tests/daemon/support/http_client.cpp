#include "http_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cstring>

namespace lj::testing {

nlohmann::json HttpResponse::json() const {
  auto j = nlohmann::json::parse(body, nullptr, false);
  return j.is_discarded() ? nlohmann::json() : j;
}

const std::string& HttpResponse::header(const std::string& name) const {
  static const std::string kEmpty;
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

Result<HttpClient> HttpClient::connect(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno("client", "socket");
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  if (path.size() >= sizeof sa.sun_path)
    return fail(Errc::invalid_argument, "client", "path too long");
  std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    return fail_errno("client", "connect " + path);
  }
  return HttpClient(std::move(fd));
}

Status HttpClient::send_raw(const std::string& bytes) {
  std::size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail_errno("client", "send");
    }
    off += static_cast<std::size_t>(n);
  }
  return {};
}

Status HttpClient::fill(std::chrono::milliseconds timeout) {
  pollfd p{fd_.get(), POLLIN, 0};
  int r = ::poll(&p, 1, static_cast<int>(timeout.count()));
  if (r == 0) return fail(Errc::timed_out, "client", "no data from ljd");
  if (r < 0) return fail_errno("client", "poll");
  char tmp[65536];
  ssize_t n = ::recv(fd_.get(), tmp, sizeof tmp, 0);
  if (n < 0) return fail_errno("client", "recv");
  if (n == 0) return fail(Errc::conflict, "client", "connection closed by ljd");
  buf_.append(tmp, static_cast<std::size_t>(n));
  return {};
}

Result<std::string> HttpClient::read_line(std::chrono::milliseconds timeout) {
  for (;;) {
    auto pos = buf_.find("\r\n");
    if (pos != std::string::npos) {
      std::string line = buf_.substr(0, pos);
      buf_.erase(0, pos + 2);
      return line;
    }
    LJ_TRY(fill(timeout));
  }
}

Result<std::string> HttpClient::read_exact(std::size_t n, std::chrono::milliseconds timeout) {
  while (buf_.size() < n) LJ_TRY(fill(timeout));
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

Result<HttpResponse> HttpClient::read_head(std::chrono::milliseconds timeout) {
  HttpResponse r;
  std::string status = LJ_TRY(read_line(timeout));
  if (status.size() < 12 || status.rfind("HTTP/1.", 0) != 0) {
    return fail(Errc::internal, "client", "bad status line: " + status);
  }
  r.status = std::stoi(status.substr(9, 3));
  for (;;) {
    std::string line = LJ_TRY(read_line(timeout));
    if (line.empty()) break;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string name = line.substr(0, colon);
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    std::string value = line.substr(colon + 1);
    value.erase(0, value.find_first_not_of(' '));
    r.headers[name] = value;
  }
  return r;
}

Result<std::string> HttpClient::read_chunk(std::chrono::milliseconds timeout, bool* last) {
  std::string size_line = LJ_TRY(read_line(timeout));
  std::size_t size = std::stoul(size_line, nullptr, 16);
  if (size == 0) {
    // Trailers, then the empty line.
    for (;;) {
      std::string t = LJ_TRY(read_line(timeout));
      if (t.empty()) break;
    }
    *last = true;
    return std::string();
  }
  std::string data = LJ_TRY(read_exact(size + 2, timeout));
  data.resize(size);
  *last = false;
  return data;
}

Result<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout) {
  HttpResponse r = LJ_TRY(read_head(timeout));
  if (r.header("transfer-encoding") == "chunked") {
    for (;;) {
      bool last = false;
      std::string data = LJ_TRY(read_chunk(timeout, &last));
      if (last) break;
      r.body += data;
    }
  } else if (auto cl = r.header("content-length"); !cl.empty()) {
    r.body = LJ_TRY(read_exact(std::stoul(cl), timeout));
  }
  return r;
}

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& target,
                                         const std::string& body,
                                         const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: ljd\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT") {
    req +=
        "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  }
  req += "\r\n";
  req += body;
  LJ_TRY(send_raw(req));
  return read_response();
}

Result<HttpResponse> HttpClient::open_stream(const std::string& target) {
  LJ_TRY(send_raw("GET " + target + " HTTP/1.1\r\nHost: ljd\r\n\r\n"));
  HttpResponse r = LJ_TRY(read_head(std::chrono::seconds(30)));
  chunked_stream_ = r.header("transfer-encoding") == "chunked";
  stream_buf_.clear();
  stream_ended_ = false;
  if (!chunked_stream_) {
    if (auto cl = r.header("content-length"); !cl.empty()) {
      r.body = LJ_TRY(read_exact(std::stoul(cl), std::chrono::seconds(30)));
    }
    stream_ended_ = true;
  }
  return r;
}

Result<std::optional<std::string>> HttpClient::next_line(std::chrono::milliseconds timeout) {
  for (;;) {
    auto nl = stream_buf_.find('\n');
    if (nl != std::string::npos) {
      std::string line = stream_buf_.substr(0, nl);
      stream_buf_.erase(0, nl + 1);
      return std::optional<std::string>(line);
    }
    if (stream_ended_) return std::optional<std::string>();
    bool last = false;
    std::string data = LJ_TRY(read_chunk(timeout, &last));
    if (last) stream_ended_ = true;
    stream_buf_ += data;
  }
}

bool HttpClient::closed_by_peer(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto st = fill(left);
    if (!st) return st.error().errc() == Errc::conflict || st.error().errc() == Errc::system;
  }
}

}  // namespace lj::testing
