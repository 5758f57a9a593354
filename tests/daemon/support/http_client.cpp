#include "http_client.hpp"

#include <algorithm>

namespace lj::testing {

namespace {

HttpResponse from(client::Response r) {
  HttpResponse out;
  out.status = r.status;
  for (auto& [k, v] : r.headers) out.headers[k] = std::move(v);
  out.body = std::move(r.body);
  return out;
}

}  // namespace

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
  auto c = std::make_unique<client::HttpClient>(path);
  LJ_TRY(c->open());
  return HttpClient(std::move(c));
}

Result<HttpResponse> HttpClient::request(const std::string& method, const std::string& target,
                                         const std::string& body,
                                         const std::map<std::string, std::string>& headers) {
  c_->set_idle_timeout(std::chrono::seconds(30));
  client::HttpClient::Headers extra(headers.begin(), headers.end());
  // POST/PUT without a body still say Content-Length: 0 (lj_http_client does for any non-GET).
  auto r =
      extra.empty() ? c_->request(method, target, body) : c_->request(method, target, body, extra);
  if (!r) return tl::unexpected(std::move(r).error());
  return from(std::move(*r));
}

Status HttpClient::send_raw(const std::string& bytes) {
  return c_->send_raw(bytes);
}

Result<HttpResponse> HttpClient::read_response(std::chrono::milliseconds timeout) {
  c_->set_idle_timeout(timeout);
  auto r = c_->read_response();
  if (!r) return tl::unexpected(std::move(r).error());
  return from(std::move(*r));
}

bool HttpClient::closed_by_peer(std::chrono::milliseconds timeout) {
  return c_->closed_by_peer(timeout);
}

Result<HttpResponse> HttpClient::open_stream(const std::string& target) {
  LJ_TRY(c_->send_raw("GET " + target + " HTTP/1.1\r\nHost: ljd\r\n\r\n"));
  c_->set_idle_timeout(std::chrono::seconds(30));
  auto head = c_->read_head();
  if (!head) return tl::unexpected(std::move(head).error());
  pending_.clear();
  stream_ended_ = false;
  chunks_.reset();
  const std::string* te = head->header("transfer-encoding");
  if (te && te->find("chunked") != std::string::npos) {
    chunks_ = std::make_unique<client::ChunkedDecoder>();
    return from(std::move(*head));
  }
  // Not a stream (an error answer): read its body whole.
  HttpResponse out = from(std::move(*head));
  if (auto cl = out.header("content-length"); !cl.empty()) {
    std::size_t want = std::stoul(cl);
    while (out.body.size() < want) {
      auto more = c_->read_raw();
      if (!more) return tl::unexpected(std::move(more).error());
      if (more->empty()) break;
      out.body += *more;
    }
    out.body.resize(std::min(out.body.size(), want));
  }
  stream_ended_ = true;
  return out;
}

Result<std::optional<std::string>> HttpClient::next_line(std::chrono::milliseconds timeout) {
  c_->set_idle_timeout(timeout);
  for (;;) {
    auto nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return std::optional<std::string>(line);
    }
    if (stream_ended_ || !chunks_) return std::optional<std::string>();
    auto raw = c_->read_raw();
    if (!raw) return tl::unexpected(std::move(raw).error());
    if (raw->empty() && !c_->connected()) {
      return fail(Errc::conflict, "client", "connection closed by ljd in a stream");
    }
    auto used = chunks_->feed(*raw, pending_);
    if (!used) return tl::unexpected(std::move(used).error());
    if (chunks_->done()) stream_ended_ = true;
  }
}

}  // namespace lj::testing
