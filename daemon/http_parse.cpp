// Beast's HTTP/1.1 request parser behind RequestReader (http_parse.hpp). Only the parser: no Asio
// here, so this translation unit is quick to build and fuzz (the coroutines of runtime.cpp are
// not needed to exercise it).
#include "daemon/http_parse.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <string>
#include <utility>

#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "daemon/router.hpp"

namespace lj::daemon {

namespace http = boost::beast::http;

namespace {

// The answer to a request that cannot be read, or nullopt when the client just went away.
std::optional<Response> read_error(const boost::system::error_code& ec) {
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return std::nullopt;
  if (ec == http::error::body_limit)
    return error_response(HttpFailure::body_too_large, "request body too large (max_body_bytes)");
  if (ec == http::error::header_limit)
    return error_response(HttpFailure::header_too_large,
                          "request header too large (max_header_bytes)");
  return error_response(
      Error(Errc::invalid_argument, "api", "malformed HTTP request: " + ec.message()));
}

// Whether a header block (up to its empty line) continues a field line on the next (obs-fold:
// a line that starts with a space or a tab). RFC 9112 5.2: a server rejects it with a 400.
bool has_obs_fold(std::string_view head) {
  std::size_t end = head.find("\r\n\r\n");
  if (end != std::string_view::npos) head = head.substr(0, end + 2);
  for (std::size_t i = head.find('\n'); i != std::string_view::npos && i + 1 < head.size();
       i = head.find('\n', i + 1)) {
    if (head[i + 1] == ' ' || head[i + 1] == '\t') return true;
  }
  return false;
}

std::string lower_trimmed(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  std::string out(v);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

struct RequestReader::Impl {
  http::request_parser<http::string_body> parser;
  std::string head;  // the bytes fed until the header was whole (at most max_header_bytes)
};

RequestReader::RequestReader(const HttpLimits& limits) : impl_(std::make_unique<Impl>()) {
  auto& p = impl_->parser;
  p.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  p.body_limit(limits.max_body_bytes);
  // The header alone first, so that it is checked (and a 100 Continue sent) before any body is
  // read; then the body in as few feeds as it arrives in (check_header turns eager on).
  p.eager(false);
}

void RequestReader::check_header() {
  header_checked_ = true;
  auto& p = impl_->parser;
  auto& msg = p.get();
  if (has_obs_fold(impl_->head)) {
    state_ = State::failed;
    error_ = error_response(Error(Errc::invalid_argument, "api",
                                  "obs-fold (a header line continued on the next) is not accepted"));
    return;
  }
  std::size_t codings = 0;
  std::string te;
  for (auto it = msg.find(http::field::transfer_encoding);
       it != msg.end() && it->name() == http::field::transfer_encoding; ++it) {
    ++codings;
    te = lower_trimmed(it->value());
  }
  // Only chunked alone is understood; Beast would treat "gzip, chunked" as chunked and hand the
  // gzip bytes on as the body. RFC 9112 6.1: an unknown transfer coding is a 501.
  if (codings > 1 || (codings == 1 && te != "chunked")) {
    state_ = State::failed;
    error_ = error_response(Error(Errc::unsupported, "api",
                                  "Transfer-Encoding other than `chunked` alone is not supported"));
    return;
  }
  impl_->head.clear();
  impl_->head.shrink_to_fit();
  auto expect = msg.find(http::field::expect);
  continue_pending_ = expect != msg.end() && lower_trimmed(expect->value()) == "100-continue" &&
                      !p.is_done() && msg.version() >= 11;
  p.eager(true);
}

bool RequestReader::take_continue() {
  return std::exchange(continue_pending_, false);
}

RequestReader::~RequestReader() = default;

std::size_t RequestReader::feed(std::string_view bytes) {
  std::size_t total = 0;
  auto& p = impl_->parser;
  while (state_ == State::more && !bytes.empty()) {
    boost::system::error_code ec;
    std::size_t used = p.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
    if (!header_checked_) impl_->head.append(bytes.data(), used);
    bytes.remove_prefix(used);
    total += used;
    if (ec == http::error::need_more) {
      if (used == 0) break;  // wants more than it has: wait for the next bytes
      continue;
    }
    if (ec) {
      state_ = State::failed;
      error_ = read_error(ec);
      break;
    }
    if (!header_checked_ && p.is_header_done()) {
      check_header();
      if (state_ == State::failed) break;
    }
    if (p.is_done()) state_ = State::done;
  }
  if (state_ == State::more && p.is_done()) state_ = State::done;
  return total;
}

void RequestReader::eof() {
  if (state_ != State::more) return;
  boost::system::error_code ec;
  // put_eof's precondition is a parser that took some bytes (beast asserts it: a build without
  // NDEBUG aborted ljd on every client that connected and closed without a whole request line).
  if (impl_->parser.got_some()) impl_->parser.put_eof(ec);
  else ec = http::error::partial_message;
  if (!ec && impl_->parser.is_done()) {
    state_ = State::done;
    return;
  }
  state_ = State::failed;
  error_ = std::nullopt;  // gone mid-request: nobody to answer
}

std::optional<Response> RequestReader::take(Request* req) {
  auto& msg = impl_->parser.get();
  req->method = std::string(msg.method_string());
  req->target = std::string(msg.target());
  if (!parse_target(req->target, req))
    return error_response(Error(Errc::invalid_argument, "api", "malformed request target"));
  req->body = std::move(msg.body());
  req->upgrade_tcp = impl_->parser.upgrade() && lower_trimmed(msg[http::field::upgrade]) == "tcp";
  return std::nullopt;
}

bool RequestReader::keep_alive() const {
  return impl_->parser.get().keep_alive();
}

unsigned RequestReader::version() const {
  return impl_->parser.get().version();
}

ParsedRequests parse_requests(std::string_view bytes, const HttpLimits& limits) {
  ParsedRequests out;
  while (!bytes.empty()) {
    RequestReader r(limits);
    bytes.remove_prefix(r.feed(bytes));
    if (r.state() == RequestReader::State::more) r.eof();  // nothing more will come
    if (r.state() == RequestReader::State::failed) {
      out.error = r.error();
      break;
    }
    Request req;
    if (auto bad = r.take(&req)) {
      out.error = std::move(bad);
      break;
    }
    out.requests.push_back(std::move(req));
    if (!r.keep_alive()) break;
  }
  return out;
}

}  // namespace lj::daemon
