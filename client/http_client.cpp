#include "client/http_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace lj::client {

namespace {

constexpr std::size_t kMaxHead = 64 * 1024;  // status line + headers
constexpr std::size_t kMaxLine = 4096;       // one chunk-size or trailer line
constexpr std::string_view kDomain = "client";

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

tl::unexpected<Error> bad_response(std::string what) {
  return fail(Errc::invalid_argument, std::string(kDomain), "malformed HTTP response: " + what);
}

// Appends the rest of a line from in[i...] to `line`; true once its '\n' is consumed.
bool take_line(std::string_view in, std::size_t& i, std::string& line) {
  auto nl = in.find('\n', i);
  if (nl == std::string_view::npos) {
    line.append(in.substr(i));
    i = in.size();
    return false;
  }
  line.append(in.substr(i, nl - i));
  i = nl + 1;
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return true;
}

}  // namespace

const std::string* Response::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

Result<std::size_t> ChunkedDecoder::feed(std::string_view in, std::string& out) {
  std::size_t i = 0;
  while (i < in.size() && state_ != State::done) {
    switch (state_) {
      case State::size: {
        if (!take_line(in, i, line_)) break;
        std::string_view s = line_;
        if (auto semi = s.find(';'); semi != std::string_view::npos) s = s.substr(0, semi);
        s = trim(s);
        if (s.empty() || s.size() > 15) return bad_response("chunk size `" + line_ + "`");
        std::uint64_t n = 0;
        for (char c : s) {
          int d = (c >= '0' && c <= '9')   ? c - '0'
                  : (c >= 'a' && c <= 'f') ? c - 'a' + 10
                  : (c >= 'A' && c <= 'F') ? c - 'A' + 10
                                           : -1;
          if (d < 0) return bad_response("chunk size `" + line_ + "`");
          n = n * 16 + static_cast<std::uint64_t>(d);
        }
        line_.clear();
        left_ = n;
        state_ = n == 0 ? State::trailer : State::data;
        break;
      }
      case State::data: {
        std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left_, in.size() - i));
        out.append(in.substr(i, n));
        i += n;
        left_ -= n;
        if (left_ == 0) state_ = State::data_crlf;
        break;
      }
      case State::data_crlf:
        if (!take_line(in, i, line_)) break;
        if (!line_.empty()) return bad_response("chunk data longer than its size");
        state_ = State::size;
        break;
      case State::trailer:
        if (!take_line(in, i, line_)) break;
        if (line_.empty()) state_ = State::done;
        line_.clear();
        break;
      case State::done:
        break;
    }
    if (line_.size() > kMaxLine) return bad_response("chunk framing line too long");
  }
  return i;
}

bool LineSplitter::feed(std::string_view data,
                        const std::function<bool(std::string_view)>& on_line) {
  std::size_t start = 0;
  for (;;) {
    auto nl = data.find('\n', start);
    if (nl == std::string_view::npos) break;
    std::string_view line = data.substr(start, nl - start);
    if (!partial_.empty()) {
      partial_.append(line);
      line = partial_;
    }
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool go = on_line(line);
    partial_.clear();
    start = nl + 1;
    if (!go) return false;
  }
  partial_.append(data.substr(start));
  return true;
}

std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

Status HttpClient::connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof addr.sun_path) {
    return fail(Errc::invalid_argument, std::string(kDomain),
                "socket path is longer than " + std::to_string(sizeof addr.sun_path - 1) +
                    " bytes: " + path_);
  }
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return fail_errno(std::string(kDomain), "socket(AF_UNIX)");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR && !interrupted());
  if (rc < 0) return fail_errno(std::string(kDomain), "connect " + path_);
  fd_ = std::move(fd);
  buf_.clear();
  return {};
}

Status HttpClient::send_all(std::string_view data) {
  while (!data.empty()) {
    // MSG_NOSIGNAL: a daemon that went away is an EPIPE to report, not a SIGPIPE that kills us.
    ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR && !interrupted()) continue;
      int err = errno;
      fd_.reset();
      if (err == EINTR) return tl::unexpected(Error(Errc::busy, "client", "interrupted", EINTR));
      return fail_errno(std::string(kDomain), "write to " + path_, err);
    }
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return {};
}

Result<std::size_t> HttpClient::read_some() {
  auto waited = std::chrono::milliseconds(0);
  for (;;) {
    if (interrupted()) {
      fd_.reset();
      return tl::unexpected(Error(Errc::busy, "client", "interrupted", EINTR));
    }
    // With an interrupt flag, wake up every 100 ms to look at it: a signal that lands between
    // the check and a blocking read would otherwise go unnoticed until the next byte.
    int slice = interrupt_ ? 100 : -1;
    if (idle_timeout_.count() > 0) {
      auto left = idle_timeout_ - waited;
      if (left.count() <= 0) {
        fd_.reset();
        return fail(Errc::timed_out, std::string(kDomain),
                    "no answer from " + path_ + " for " +
                        std::to_string(idle_timeout_.count() / 1000) + " s");
      }
      slice = slice < 0 ? static_cast<int>(left.count())
                        : std::min<int>(slice, static_cast<int>(left.count()));
    }
    if (slice >= 0) {
      pollfd p{fd_.get(), POLLIN, 0};
      int n = ::poll(&p, 1, slice);
      if (n < 0 && errno != EINTR) return fail_errno(std::string(kDomain), "poll " + path_);
      if (n <= 0) {
        waited += std::chrono::milliseconds(slice);
        continue;
      }
    }
    char tmp[64 * 1024];
    ssize_t n = ::read(fd_.get(), tmp, sizeof tmp);
    if (n < 0) {
      if (errno == EINTR) continue;  // the flag is looked at on the next turn
      int err = errno;
      fd_.reset();
      return fail_errno(std::string(kDomain), "read from " + path_, err);
    }
    buf_.append(tmp, static_cast<std::size_t>(n));
    return static_cast<std::size_t>(n);
  }
}

Result<Response> HttpClient::request(std::string_view method, std::string_view target,
                                     std::string_view body) {
  return exchange(method, target, body, nullptr);
}

Result<Response> HttpClient::request(std::string_view method, std::string_view target,
                                     std::string_view body, const Headers& headers) {
  extra_headers_ = headers;
  auto r = exchange(method, target, body, nullptr);
  extra_headers_.clear();
  return r;
}

Status HttpClient::open() {
  if (fd_) return {};
  return connect();
}

Status HttpClient::send_raw(std::string_view bytes) {
  LJ_TRY(open());
  return send_all(bytes);
}

Result<Response> HttpClient::read_response(std::string_view method) {
  if (!fd_ && buf_.empty()) return fail(Errc::conflict, std::string(kDomain), "not connected");
  Response resp = LJ_TRY(read_head(nullptr));
  return read_body(std::move(resp), method, nullptr);
}

Result<std::string> HttpClient::read_raw() {
  if (buf_.empty()) {
    if (!fd_) return std::string();
    auto n = read_some();
    if (!n) return tl::unexpected(std::move(n).error());
    if (*n == 0) {
      fd_.reset();
      return std::string();
    }
  }
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

bool HttpClient::closed_by_peer(std::chrono::milliseconds timeout) {
  if (!fd_) return true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd_.get(), POLLIN, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 0)));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    char tmp[4096];
    ssize_t got = ::read(fd_.get(), tmp, sizeof tmp);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {  // EOF, or reset
      fd_.reset();
      return true;
    }
    buf_.append(tmp, static_cast<std::size_t>(got));  // an answer is kept for read_response()
  }
}

Result<Response> HttpClient::stream(std::string_view method, std::string_view target,
                                    std::string_view body,
                                    const std::function<bool(std::string_view)>& on_line) {
  LineSplitter lines;
  Sink sink = [&](std::string_view data) { return lines.feed(data, on_line); };
  auto r = exchange(method, target, body, &sink);
  // A last line without its newline is still a line.
  if (r && r->status / 100 == 2 && !lines.rest().empty()) {
    std::string last = lines.rest();
    lines.clear();
    on_line(last);
  }
  return r;
}

Result<Response> HttpClient::exchange(std::string_view method, std::string_view target,
                                      std::string_view body, const Sink* sink_2xx) {
  bool reused = static_cast<bool>(fd_);
  bool retryable = false;
  auto r = exchange_once(method, target, body, sink_2xx, &retryable);
  // A kept-alive connection the server closed while idle: say it again on a new one. Only when
  // not one byte of an answer came back, so the request was not acted on.
  if (!r && reused && retryable) {
    fd_.reset();
    r = exchange_once(method, target, body, sink_2xx, &retryable);
  }
  return r;
}

Result<Response> HttpClient::exchange_once(std::string_view method, std::string_view target,
                                           std::string_view body, const Sink* sink_2xx,
                                           bool* retryable) {
  LJ_TRY(send_request(method, target, body, retryable));
  Response resp = LJ_TRY(read_head(retryable));
  return read_body(std::move(resp), method, sink_2xx);
}

Result<HttpClient::Upgrade> HttpClient::upgrade(std::string_view method, std::string_view target,
                                                std::string_view protocol) {
  extra_headers_ = {{"Connection", "Upgrade"}, {"Upgrade", std::string(protocol)}};
  bool retryable = false;
  auto sent = send_request(method, target, {}, &retryable);
  extra_headers_.clear();
  if (!sent) return tl::unexpected(std::move(sent).error());
  Upgrade up;
  up.response = LJ_TRY(read_head(nullptr, true));
  if (up.response.status == 101) {
    up.fd = std::move(fd_);
    up.early = std::move(buf_);
    buf_.clear();
    return up;
  }
  up.response = LJ_TRY(read_body(std::move(up.response), method, nullptr));
  return up;
}

Status HttpClient::send_request(std::string_view method, std::string_view target,
                                std::string_view body, bool* retryable) {
  *retryable = false;
  if (!fd_) LJ_TRY(connect());
  buf_.clear();

  std::string req;
  req.reserve(160 + target.size() + body.size());
  req.append(method).append(" ").append(target).append(" HTTP/1.1\r\n");
  req.append(
      "Host: ljd\r\nUser-Agent: ljctl\r\nAccept: application/json, application/x-ndjson\r\n");
  for (const auto& [k, v] : extra_headers_) req.append(k).append(": ").append(v).append("\r\n");
  if (!body.empty()) req.append("Content-Type: application/json\r\n");
  if (!body.empty() || method != "GET") {
    req.append("Content-Length: ").append(std::to_string(body.size())).append("\r\n");
  }
  req.append("\r\n").append(body);
  if (auto st = send_all(req); !st) {
    *retryable = st.error().sys_errno() == EPIPE || st.error().sys_errno() == ECONNRESET;
    return tl::unexpected(std::move(st).error());
  }
  return {};
}

Result<Response> HttpClient::read_head(bool* retryable, bool upgrading) {
  bool dummy = false;
  if (!retryable) retryable = &dummy;
  Response resp;
  std::size_t head_end;
  for (;;) {  // 1xx answers are skipped, but 101 to an upgrade
    while ((head_end = buf_.find("\r\n\r\n")) == std::string::npos) {
      if (buf_.size() > kMaxHead) return bad_response("header section over 64 KiB");
      bool empty = buf_.empty();
      auto n = read_some();
      if (!n) {
        *retryable = empty && n.error().sys_errno() == ECONNRESET;
        return tl::unexpected(std::move(n).error());
      }
      if (*n == 0) {
        fd_.reset();
        *retryable = empty;
        return fail(Errc::system, std::string(kDomain),
                    empty ? "ljd closed the connection without answering"
                          : "ljd closed the connection in the middle of an answer");
      }
    }
    std::string_view head(buf_.data(), head_end);
    auto eol = head.find("\r\n");
    std::string_view status_line = head.substr(0, eol);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
      return bad_response("status line `" + std::string(status_line) + "`");
    }
    int status = 0;
    for (char c : status_line.substr(9, 3)) {
      if (c < '0' || c > '9') return bad_response("status line `" + std::string(status_line) + "`");
      status = status * 10 + (c - '0');
    }
    resp.status = status;
    resp.reason = status_line.size() > 13 ? std::string(status_line.substr(13)) : "";
    resp.headers.clear();
    std::size_t pos = eol == std::string_view::npos ? head.size() : eol + 2;
    while (pos < head.size()) {
      auto e = head.find("\r\n", pos);
      if (e == std::string_view::npos) e = head.size();
      std::string_view line = head.substr(pos, e - pos);
      auto colon = line.find(':');
      if (colon == std::string_view::npos || colon == 0) {
        return bad_response("header line `" + std::string(line) + "`");
      }
      resp.headers.emplace_back(lower(line.substr(0, colon)),
                                std::string(trim(line.substr(colon + 1))));
      pos = e + 2;
    }
    buf_.erase(0, head_end + 4);
    if (status >= 200 || status < 100 || (upgrading && status == 101)) break;
  }
  return resp;
}

Result<Response> HttpClient::read_body(Response resp, std::string_view method,
                                       const Sink* sink_2xx) {
  bool streamed = sink_2xx && resp.status / 100 == 2;
  Sink collect = [&resp](std::string_view data) {
    resp.body.append(data);
    return true;
  };
  const Sink& sink = streamed ? *sink_2xx : collect;
  const std::string* te = resp.header("transfer-encoding");
  const std::string* cl = resp.header("content-length");
  const std::string* conn = resp.header("connection");
  bool close_after = conn && lower(*conn) == "close";
  bool no_body = method == "HEAD" || resp.status == 204 || resp.status == 304;

  auto stopped = [&]() -> Result<Response> {  // the caller has seen enough: drop the connection
    fd_.reset();
    return std::move(resp);
  };

  if (no_body) {
    // nothing to read
  } else if (te && lower(*te).find("chunked") != std::string::npos) {
    ChunkedDecoder dec;
    std::string out;
    for (;;) {
      auto used = dec.feed(buf_, out);
      if (!used) {
        fd_.reset();
        return tl::unexpected(std::move(used).error());
      }
      buf_.erase(0, *used);
      if (!out.empty()) {
        bool go = sink(out);
        out.clear();
        if (!go) return stopped();
      }
      if (dec.done()) break;
      auto n = read_some();
      if (!n) return tl::unexpected(std::move(n).error());
      if (*n == 0) {
        fd_.reset();
        return fail(Errc::system, std::string(kDomain),
                    "ljd closed the connection in the middle of a stream");
      }
    }
  } else if (cl) {
    std::uint64_t left = 0;
    for (char c : *cl) {
      if (c < '0' || c > '9') return bad_response("content-length `" + *cl + "`");
      left = left * 10 + static_cast<std::uint64_t>(c - '0');
    }
    for (;;) {
      std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, buf_.size()));
      if (n > 0) {
        bool go = sink(std::string_view(buf_.data(), n));
        buf_.erase(0, n);
        left -= n;
        if (!go) return stopped();
      }
      if (left == 0) break;
      auto r = read_some();
      if (!r) return tl::unexpected(std::move(r).error());
      if (*r == 0) {
        fd_.reset();
        return fail(Errc::system, std::string(kDomain),
                    "ljd closed the connection before the end of the body");
      }
    }
  } else {
    // No framing: the body runs to the end of the connection (RFC 9112 section 6.3).
    close_after = true;
    for (;;) {
      if (!buf_.empty()) {
        bool go = sink(buf_);
        buf_.clear();
        if (!go) return stopped();
      }
      auto r = read_some();
      if (!r) return tl::unexpected(std::move(r).error());
      if (*r == 0) break;
    }
  }
  if (close_after) fd_.reset();
  return resp;
}

}  // namespace lj::client
