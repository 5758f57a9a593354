// Beast's HTTP/1.1 request parser behind RequestReader (http_parse.hpp). Only the parser: no Asio
// here, so this translation unit is quick to build and fuzz (the coroutines of runtime.cpp are
// not needed to exercise it).
#include "daemon/http_parse.hpp"

#include <algorithm>
#include <limits>

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

}  // namespace

struct RequestReader::Impl {
  http::request_parser<http::string_body> parser;
};

RequestReader::RequestReader(const HttpLimits& limits) : impl_(std::make_unique<Impl>()) {
  auto& p = impl_->parser;
  p.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.max_header_bytes, std::numeric_limits<std::uint32_t>::max())));
  p.body_limit(limits.max_body_bytes);
  p.eager(true);  // header and body in one feed
}

RequestReader::~RequestReader() = default;

std::size_t RequestReader::feed(std::string_view bytes) {
  std::size_t total = 0;
  auto& p = impl_->parser;
  while (state_ == State::more && !bytes.empty()) {
    boost::system::error_code ec;
    std::size_t used = p.put(boost::asio::const_buffer(bytes.data(), bytes.size()), ec);
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
    if (p.is_done()) state_ = State::done;
  }
  if (state_ == State::more && p.is_done()) state_ = State::done;
  return total;
}

void RequestReader::eof() {
  if (state_ != State::more) return;
  boost::system::error_code ec;
  impl_->parser.put_eof(ec);
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
