#include "fake_ljd.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace lj::test {

namespace {
bool read_request(int fd, std::string& buf, SeenRequest& req) {
  for (;;) {
    auto end = buf.find("\r\n\r\n");
    if (end != std::string::npos) {
      std::string head = buf.substr(0, end);
      auto sp1 = head.find(' '), sp2 = head.find(' ', sp1 + 1);
      req.method = head.substr(0, sp1);
      req.target = head.substr(sp1 + 1, sp2 - sp1 - 1);
      std::size_t len = 0;
      auto cl = head.find("Content-Length: ");
      if (cl != std::string::npos) len = std::stoul(head.substr(cl + 16));
      while (buf.size() < end + 4 + len) {
        char tmp[4096];
        ssize_t n = ::read(fd, tmp, sizeof tmp);
        if (n <= 0) return false;
        buf.append(tmp, static_cast<std::size_t>(n));
      }
      req.body = buf.substr(end + 4, len);
      buf.erase(0, end + 4 + len);
      return true;
    }
    char tmp[4096];
    ssize_t n = ::read(fd, tmp, sizeof tmp);
    if (n <= 0) return false;
    buf.append(tmp, static_cast<std::size_t>(n));
  }
}
}  // namespace

FakeLjd::FakeLjd(Handler h) : handler_(std::move(h)) {
  char tmpl[] = "/tmp/ljctl-test-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  path_ = (dir_ / "ljd.sock").string();
  listen_fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path_.c_str(), sizeof addr.sun_path - 1);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0 || ::pipe2(wake_, O_CLOEXEC) != 0) {
    throw std::runtime_error(std::string("fake ljd: ") + std::strerror(errno));
  }
  thread_ = std::thread([this] { serve(); });
}

FakeLjd::~FakeLjd() {
  char c = 'x';
  (void)!::write(wake_[1], &c, 1);
  thread_.join();
  for (auto& t : sessions_) t.join();
  ::close(listen_fd_);
  ::close(wake_[0]);
  ::close(wake_[1]);
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void FakeLjd::serve() {
  for (;;) {
    pollfd p[2] = {{listen_fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0) continue;
    if (p[1].revents) return;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    int n = ++connections_;
    sessions_.emplace_back([this, fd, n] { session(fd, n); });
  }
}

void FakeLjd::session(int fd, int n) {
  std::string buf;
  for (;;) {
    SeenRequest req;
    req.connection = n;
    pollfd p[2] = {{fd, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (::poll(p, 2, -1) < 0 || p[1].revents) break;
    if (!read_request(fd, buf, req)) break;
    {
      std::lock_guard lock(mu_);
      seen_.push_back(req);
    }
    bool close = false;
    std::string out = handler_(req, close);
    if (out.empty()) break;
    std::size_t off = 0;
    while (off < out.size()) {
      ssize_t w = ::send(fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
      if (w <= 0) break;
      off += static_cast<std::size_t>(w);
    }
    if (close) break;
  }
  ::close(fd);
}

std::vector<SeenRequest> FakeLjd::seen() const {
  std::lock_guard lock(mu_);
  return seen_;
}

std::string FakeLjd::json_response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::string FakeLjd::chunked_response(const std::vector<std::string>& chunks) {
  std::string out =
      "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n";
  char size[32];
  for (const auto& c : chunks) {
    std::snprintf(size, sizeof size, "%zx\r\n", c.size());
    out += size + c + "\r\n";
  }
  return out + "0\r\n\r\n";
}

}  // namespace lj::test
