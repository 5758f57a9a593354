#include "daemon/http_types.hpp"

namespace lj::daemon {

const std::string* Request::param(std::string_view key) const {
  auto [b, e] = query.equal_range(std::string(key));
  if (b == e) return nullptr;
  return &std::prev(e)->second;
}

bool url_decode(std::string_view in, std::string* out, bool plus_is_space) {
  out->clear();
  out->reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9') return h - '0';
        if (h >= 'a' && h <= 'f') return h - 'a' + 10;
        if (h >= 'A' && h <= 'F') return h - 'A' + 10;
        return -1;
      };
      int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '\0') return false;  // never let a NUL into a name or a path
      out->push_back(d);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out->push_back(' ');
    } else {
      out->push_back(c);
    }
  }
  return true;
}

bool parse_target(std::string_view target, Request* req) {
  if (target.empty() || target.front() != '/') return false;
  std::size_t q = target.find('?');
  if (!url_decode(target.substr(0, q), &req->path, false)) return false;
  if (req->path.size() > 1 && req->path.back() == '/') req->path.pop_back();
  if (q == std::string_view::npos) return true;
  std::string_view rest = target.substr(q + 1);
  while (!rest.empty()) {
    std::size_t amp = rest.find('&');
    std::string_view kv = rest.substr(0, amp);
    rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
    if (kv.empty()) continue;
    std::size_t eq = kv.find('=');
    std::string k, v;
    if (!url_decode(kv.substr(0, eq), &k, true)) return false;
    if (eq != std::string_view::npos && !url_decode(kv.substr(eq + 1), &v, true)) return false;
    req->query.emplace(std::move(k), std::move(v));
  }
  return true;
}

}  // namespace lj::daemon
