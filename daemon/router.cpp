#include "daemon/router.hpp"

#include <cerrno>

namespace lj::daemon {

int http_status(Errc errc) {
  switch (errc) {
    case Errc::invalid_argument:
      return 400;
    case Errc::exec_failed:
      return 400;  // jail.exec_failed: the command, which the caller gave, cannot run
    case Errc::permission_denied:
      return 403;
    case Errc::not_found:
      return 404;
    case Errc::exists:
      return 409;
    case Errc::conflict:
      return 409;
    case Errc::limit:
      return 429;  // too many of something (jails); 413/431 are the server's, for sizes
    case Errc::internal:
      return 500;
    case Errc::system:
      return 500;
    case Errc::unsupported:
      return 501;
    case Errc::busy:
      return 503;
    case Errc::timed_out:
      return 504;
    case Errc::no_space:
      return 507;
  }
  return 500;
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return r;
}

namespace {

Response error_body(int status, std::string_view code, const std::string& message,
                    nlohmann::json details) {
  return json_response(status,
                       {{"code", code}, {"message", message}, {"details", std::move(details)}});
}

}  // namespace

Response error_response(const Error& err, nlohmann::json details) {
  if (err.errc() == Errc::exec_failed) {
    // Clients tell "not found" (a shell's exit 127) from "not executable" (126) by details.reason,
    // never by reading the message.
    details["reason"] =
        err.sys_errno() == ENOENT || err.sys_errno() == ENOTDIR ? "not_found" : "not_executable";
  }
  if (err.sys_errno() != 0) details["errno"] = errno_name(err.sys_errno());
  Response r = error_body(http_status(err.errc()), err.code(), err.what(), std::move(details));
  if (err.errc() == Errc::busy) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response error_response(HttpFailure failure, std::string message) {
  auto body = [&](int status, std::string_view code) {
    return error_body(status, code, message, nlohmann::json::object());
  };
  switch (failure) {
    case HttpFailure::no_route:
      return body(404, "api.no_route");
    case HttpFailure::method_not_allowed:
      return body(405, "api.method_not_allowed");
    case HttpFailure::body_too_large:
      return body(413, "api.limit");  // over max_body_bytes
    case HttpFailure::header_too_large:
      return body(431, "api.limit");  // over max_header_bytes
  }
  return error_response(Error(Errc::internal, "api", message));
}

namespace {
std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    std::size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    out.emplace_back(path.substr(i, j - i));
    i = j;
  }
  return out;
}
}  // namespace

void Router::add(std::string method, std::string pattern, Handler handler) {
  auto segments = split_path(pattern);
  entries_.push_back(
      Entry{std::move(method), std::move(pattern), std::move(segments), std::move(handler)});
}

void Router::dispatch(Request& req, Reply reply) const {
  auto segs = split_path(req.path);
  bool path_known = false;
  for (const Entry& e : entries_) {
    // A "{name*}" segment takes one or more segments, joined with '/' (overlay names have slashes).
    std::size_t star = e.segments.size();
    for (std::size_t i = 0; i < e.segments.size(); ++i) {
      if (e.segments[i].size() > 3 && e.segments[i].ends_with("*}")) star = i;
    }
    if (star == e.segments.size() ? e.segments.size() != segs.size()
                                  : segs.size() < e.segments.size()) {
      continue;
    }
    std::size_t extra = segs.size() - e.segments.size();
    Params params;
    bool match = true;
    for (std::size_t i = 0, j = 0; i < e.segments.size() && match; ++i, ++j) {
      const std::string& p = e.segments[i];
      if (i == star) {
        std::string joined = segs[j];
        for (std::size_t k = 0; k < extra; ++k) joined += "/" + segs[++j];
        params.emplace(p.substr(1, p.size() - 3), joined);
      } else if (p.size() > 2 && p.front() == '{' && p.back() == '}') {
        params.emplace(p.substr(1, p.size() - 2), segs[j]);
      } else if (p != segs[j]) {
        match = false;
      }
    }
    if (!match) continue;
    path_known = true;
    if (e.method != req.method) continue;
    e.handler(req, params, std::move(reply));
    return;
  }
  if (path_known) {
    reply(error_response(HttpFailure::method_not_allowed,
                         "method " + req.method + " is not allowed on " + req.path));
    return;
  }
  reply(error_response(HttpFailure::no_route, "no such route: " + req.method + " " + req.path));
}

std::vector<Router::Route> Router::routes() const {
  std::vector<Route> out;
  for (const Entry& e : entries_) {
    std::string pattern = e.pattern;
    if (auto star = pattern.find("*}"); star != std::string::npos) pattern.erase(star, 1);
    out.push_back(Route{e.method, pattern});
  }
  return out;
}

}  // namespace lj::daemon
