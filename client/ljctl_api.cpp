#include "client/ljctl_api.hpp"

#include <chrono>
#include <map>
#include <thread>

namespace lj::ljctl {

using nlohmann::json;

namespace {

constexpr const char* kStartHint = "is ljd running? (start it with `ljd` or `service ljd start`)";

Errc errc_of_status(int status) {
  switch (status) {
    case 400:
      return Errc::invalid_argument;
    case 403:
      return Errc::permission_denied;
    case 404:
      return Errc::not_found;
    case 409:
      return Errc::conflict;
    case 413:
    case 429:
    case 431:
      return Errc::limit;
    case 501:
      return Errc::unsupported;
    case 503:
      return Errc::busy;
    case 504:
      return Errc::timed_out;
    case 507:
      return Errc::no_space;
    default:
      return Errc::system;
  }
}

// Where to look for what exists, by error code. Only for a lookup that found nothing: a request
// field at fault (details.field) or a failed system call (details.errno, e.g. a volume's host
// path missing at start) is not a missing jail, overlay or world, whatever its domain.
std::string lookup_hint(const ApiError& e) {
  static const std::map<std::string, std::string, std::less<>> kHints = {
      {"jail.not_found", "list jails with `ljctl ps -a`"},
      {"overlay.not_found", "list overlays with `ljctl overlays`"},
      {"world.not_found", "list worlds with `ljctl worlds`"},
      // A refusal by the host policy (ljd.conf), not of the caller's access to the socket.
      {"policy.permission_denied", "as root, `ljctl run --policy-override` grants it anyway"},
  };
  auto it = kHints.find(e.code);
  if (it == kHints.end()) return "";
  if (e.details.is_object() && (e.details.contains("field") || e.details.contains("errno")))
    return "";
  return it->second;
}

std::string path_of(const std::string& target) {
  return target.substr(0, target.find('?'));
}

}  // namespace

std::string explain_transport(const Error& e, const std::string& socket) {
  std::string at = "cannot reach ljd at " + socket + ": ";
  switch (e.sys_errno()) {
    case ENOENT:
      return at + "no such file — " + kStartHint;
    case ECONNREFUSED:
      return at + "connection refused (a stale socket: nobody listens on it) — " + kStartHint;
    case EACCES:
    case EPERM:
      return at +
             "permission denied — run ljctl as root or as a member of the socket's group "
             "(see `ls -l " +
             socket + "` and `group` in ljd.conf(5))";
    case ENOTSOCK:
      return at + "not a socket — point --socket or LJD_SOCKET at ljd's socket";
    case ENOTDIR:
      return at + "a path component is not a directory — check --socket or LJD_SOCKET";
    case EINTR:
      return "interrupted";
    default:
      break;
  }
  if (e.errc() == Errc::timed_out)
    return "ljd at " + socket + " stopped answering (" + e.message() + ")";
  if (e.domain() == "client" && e.sys_errno() == 0) {
    return "ljd at " + socket + ": " + e.message() + " — check ljd's log";
  }
  return "talking to ljd at " + socket + ": " + e.what() + " — check ljd's log";
}

Api::Api(std::string socket) : http_(std::move(socket)) {}

Error Api::transport_error(Error e) const {
  if (e.sys_errno() == EINTR) return e;  // the caller's Ctrl-C: it knows what to do
  // The line says everything; no "(ENOENT)" decoration after it.
  return Error(e.errc(), "ljctl", explain_transport(e, socket()));
}

Error Api::api_error(std::string_view method, const std::string& target,
                     const client::Response& r) {
  last_ = ApiError{r.status, "", "", json()};
  json body = json::parse(r.body, nullptr, false);
  if (body.is_object()) {
    last_.code = body.value("code", "");
    last_.message = body.value("message", "");
    if (body.contains("details")) last_.details = body["details"];
  }
  if (last_.message.empty()) {
    last_.message = "HTTP " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
  }
  std::string domain = last_.code.substr(0, last_.code.find('.'));
  if (domain.empty()) domain = "api";
  Errc errc = errc_of_status(r.status);

  // A route this daemon does not have: it is older than this ljctl.
  if (last_.code == "api.no_route" || last_.code == "api.method_not_allowed" ||
      (r.status == 404 && last_.code.empty())) {
    std::string version = "an unknown version";
    client::HttpClient probe(socket());
    if (auto info = probe.request("GET", "/v1/info"); info && info->status == 200) {
      json j = json::parse(info->body, nullptr, false);
      if (j.is_object() && j.contains("version") && j["version"].is_string()) {
        version = j["version"].get<std::string>();
      }
    }
    return Error(Errc::unsupported, "ljctl",
                 "ljd at " + socket() + " (version " + version + ") does not serve " +
                     std::string(method) + " " + path_of(target) +
                     ", which this ljctl (" LJD_VERSION ") needs: it is older — upgrade ljd");
  }
  std::string line = last_.message;
  if (last_.details.is_object() && last_.details.contains("field") &&
      line.find(last_.details["field"].get<std::string>()) == std::string::npos) {
    line += " (field " + last_.details["field"].get<std::string>() + ")";
  }
  if (auto hint = lookup_hint(last_); !hint.empty()) {
    line += " — " + hint;
  } else if (r.status == 403) {
    line += " — run ljctl as root or as a member of ljd's socket group";
  } else if (r.status >= 500 && r.status != 501 && r.status != 503) {
    line += " — ljd failed; see its log";
  }
  return Error(errc, domain, line);
}

Result<std::string> Api::call_raw(std::string_view method, const std::string& target,
                                  const json* body) {
  last_ = ApiError{};
  std::string text = body ? body->dump() : std::string();
  // 503 while ljd reconciles its state at start-up: it says so with Retry-After; wait a little.
  for (int attempt = 0;; ++attempt) {
    auto r = http_.request(method, target, text);
    if (!r) return tl::unexpected(transport_error(std::move(r).error()));
    if (r->status / 100 == 2) return std::move(r->body);
    if (r->status == 503 && r->header("retry-after") && attempt < 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    return tl::unexpected(api_error(method, target, *r));
  }
}

Result<json> Api::call(std::string_view method, const std::string& target, const json* body) {
  auto raw = LJ_TRY(call_raw(method, target, body));
  if (raw.empty()) return json();
  json j = json::parse(raw, nullptr, false);
  if (j.is_discarded()) {
    return fail(Errc::invalid_argument, "ljctl",
                "ljd answered " + std::string(method) + " " + path_of(target) +
                    " with something that is not JSON — check that --socket is ljd's");
  }
  return j;
}

Status Api::stream(std::string_view method, const std::string& target,
                   const std::function<bool(std::string_view)>& on_line) {
  last_ = ApiError{};
  auto r = http_.stream(method, target, {}, on_line);
  if (!r) return tl::unexpected(transport_error(std::move(r).error()));
  if (r->status / 100 != 2) return tl::unexpected(api_error(method, target, *r));
  return {};
}

}  // namespace lj::ljctl
