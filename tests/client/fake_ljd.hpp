// A scripted HTTP server on a UNIX socket for ljctl's tests that need no real daemon: it records
// each request (method, target, body) and answers with the raw bytes its handler returns, so a
// test controls framing exactly (chunks split anywhere, a connection closed mid-stream).
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace lj::test {

struct SeenRequest {
  std::string method, target, body;
  int connection = 0;  // 1, 2, ...: which accepted connection carried it
};

class FakeLjd {
 public:
  // The handler gets the request and returns the raw response bytes to write; an empty string
  // closes the connection without answering. Set `close` to close after writing.
  using Handler = std::function<std::string(const SeenRequest&, bool& close)>;

  explicit FakeLjd(Handler h);
  ~FakeLjd();
  FakeLjd(const FakeLjd&) = delete;
  FakeLjd& operator=(const FakeLjd&) = delete;

  const std::string& socket() const { return path_; }
  std::vector<SeenRequest> seen() const;
  int connections() const { return connections_.load(); }

  // "HTTP/1.1 <status>\r\nContent-Type: application/json\r\nContent-Length: n\r\n\r\n<body>"
  static std::string json_response(int status, const std::string& body);
  // A chunked response whose chunks are exactly `chunks`.
  static std::string chunked_response(const std::vector<std::string>& chunks);

 private:
  void serve();
  void session(int fd, int n);

  Handler handler_;
  std::filesystem::path dir_;
  std::string path_;
  int listen_fd_ = -1;
  int wake_[2] = {-1, -1};
  std::thread thread_;
  std::vector<std::thread> sessions_;
  mutable std::mutex mu_;
  std::vector<SeenRequest> seen_;
  std::atomic<int> connections_{0};
};

}  // namespace lj::test
