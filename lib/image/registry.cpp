#include "image/registry.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::image {
namespace {

using json = nlohmann::json;

constexpr std::string_view kAccept =
    "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v2+json";

void curl_global() {
  // curl_global_init is not thread-safe before 7.84; a function-local static runs it once.
  static const bool done = [] { return ::curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK; }();
  (void)done;
}

std::string base64(std::string_view in) {
  std::string out(4 * ((in.size() + 2) / 3) + 1, '\0');
  int n = ::EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

Result<std::string> unbase64(std::string_view in) {
  std::string out(3 * (in.size() / 4) + 3, '\0');
  int n = ::EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(in.data()),
                            static_cast<int>(in.size()));
  if (n < 0) return fail(Errc::invalid_argument, "image", "auth is not valid base64");
  std::size_t len = static_cast<std::size_t>(n);
  // EVP_DecodeBlock counts the padding's zero bytes.
  for (std::size_t i = in.size(); i > 0 && in[i - 1] == '=' && len > 0; --i) --len;
  out.resize(len);
  return out;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "Bearer realm="x",service="y"" -> scheme "bearer" and lowercase-keyed params.
std::pair<std::string, std::map<std::string, std::string>> parse_challenge(const std::string& h) {
  std::map<std::string, std::string> params;
  auto sp = h.find(' ');
  std::string scheme = lower(h.substr(0, sp));
  std::size_t i = sp == std::string::npos ? h.size() : sp + 1;
  while (i < h.size()) {
    while (i < h.size() && (h[i] == ' ' || h[i] == ',')) ++i;
    auto eq = h.find('=', i);
    if (eq == std::string::npos) break;
    std::string key = lower(h.substr(i, eq - i));
    std::string value;
    i = eq + 1;
    if (i < h.size() && h[i] == '"') {
      ++i;
      while (i < h.size() && h[i] != '"') {
        if (h[i] == '\\' && i + 1 < h.size()) ++i;
        value += h[i++];
      }
      ++i;
    } else {
      while (i < h.size() && h[i] != ',') value += h[i++];
    }
    params[key] = value;
  }
  return {scheme, params};
}

// docker's default: every registry in 127.0.0.0/8 is insecure (daemon/config "insecure-registries").
bool is_insecure(const std::string& registry, const std::set<std::string>& listed) {
  if (listed.count(registry)) return true;
  std::string host = registry;
  if (auto c = host.rfind(':'); c != std::string::npos && host.find(']') == std::string::npos) {
    host = host.substr(0, c);
  }
  if (listed.count(host)) return true;
  in_addr a{};
  if (::inet_pton(AF_INET, host.c_str(), &a) == 1) return (ntohl(a.s_addr) >> 24) == 127;
  return false;
}

struct Response {
  long status = 0;
  std::map<std::string, std::string> headers;  // lowercase names; the last response's
  std::string body;                            // non-2xx bodies, and 2xx ones without a sink
};

// Receives a 2xx response's body; an error stops the transfer and is returned.
using Sink = std::function<Status(const char*, std::size_t)>;

struct Upload {
  const std::string* data = nullptr;
  int fd = -1;
  std::uint64_t size = 0;
  std::uint64_t offset = 0;
  std::function<void(std::uint64_t)> sent;
};

class Client {
 public:
  Client(const Reference& ref, const RegistryOptions& opt, std::string actions)
      : ref_(ref), opt_(opt), actions_(std::move(actions)), curl_(::curl_easy_init()) {}
  ~Client() {
    if (curl_) ::curl_easy_cleanup(curl_);
  }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  std::string repo_url(const std::string& tail) const { return "/v2/" + ref_.repository + tail; }

  // One request with authentication: a 401 is answered once (challenge -> credentials), then
  // the request is repeated. `path` is absolute ("/v2/...") or a full URL (upload locations).
  Result<Response> send(const std::string& method, const std::string& path,
                        std::vector<std::string> headers, Upload* up, const Sink& sink,
                        std::size_t limit) {
    if (!curl_) return fail(Errc::internal, "image", "curl_easy_init failed");
    LJ_TRY(choose_scheme());
    for (int attempt = 0;; ++attempt) {
      if (up) up->offset = 0;
      Response r = LJ_TRY(once(method, url(path), headers, up, sink, limit));
      if (r.status != 401 || attempt > 0) return r;
      LJ_TRY(authenticate(r.headers["www-authenticate"]));
    }
  }

  std::string url(const std::string& path) const {
    if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) return path;
    return scheme_ + "://" + ref_.registry + path;
  }
  const std::string& registry() const { return ref_.registry; }
  const std::string& repository() const { return ref_.repository; }

 private:
  Status choose_scheme() {
    if (!scheme_.empty()) return {};
    if (!is_insecure(ref_.registry, opt_.insecure)) {
      scheme_ = "https";
      return {};
    }
    // docker's order for an insecure registry: HTTPS without verification, then HTTP.
    scheme_ = "https";
    verify_ = false;
    auto r = once("GET", url("/v2/"), {}, nullptr, {}, 64 * 1024);
    if (!r) {
      log("image")->info("registry={} not reachable over HTTPS ({}); using HTTP (insecure)",
                         ref_.registry, r.error().what());
      scheme_ = "http";
    }
    return {};
  }

  static size_t on_header(char* p, size_t size, size_t n, void* ctx) {
    auto* r = static_cast<Response*>(ctx);
    std::string line(p, size * n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    if (line.rfind("HTTP/", 0) == 0) {
      r->headers.clear();  // a new response (after a redirect or a 100 Continue)
    } else if (auto c = line.find(':'); c != std::string::npos) {
      std::string v = line.substr(c + 1);
      while (!v.empty() && v.front() == ' ') v.erase(0, 1);
      r->headers[lower(line.substr(0, c))] = v;
    }
    return size * n;
  }

  struct WriteCtx {
    CURL* curl;
    Response* r;
    const Sink* sink;
    std::size_t limit;
    std::optional<Error> error;
  };
  static size_t on_data(char* p, size_t size, size_t n, void* ctx) {
    auto* w = static_cast<WriteCtx*>(ctx);
    long status = 0;
    ::curl_easy_getinfo(w->curl, CURLINFO_RESPONSE_CODE, &status);
    const size_t len = size * n;
    if (status >= 200 && status < 300 && w->sink && *w->sink) {
      if (auto s = (*w->sink)(p, len); !s) {
        w->error = std::move(s).error();
        return 0;
      }
      return len;
    }
    if (w->r->body.size() + len > w->limit) {
      w->error = Error(Errc::limit, "image", "registry response over " + std::to_string(w->limit) + " bytes");
      return 0;
    }
    w->r->body.append(p, len);
    return len;
  }
  static size_t on_read(char* buf, size_t size, size_t n, void* ctx) {
    auto* u = static_cast<Upload*>(ctx);
    size_t want = std::min<std::uint64_t>(size * n, u->size - u->offset);
    if (want == 0) return 0;
    if (u->data) {
      std::memcpy(buf, u->data->data() + u->offset, want);
    } else {
      ssize_t got = ::pread(u->fd, buf, want, static_cast<off_t>(u->offset));
      if (got <= 0) return CURL_READFUNC_ABORT;
      want = static_cast<size_t>(got);
    }
    u->offset += want;
    if (u->sent) u->sent(u->offset);
    return want;
  }

  Result<Response> once(const std::string& method, const std::string& u,
                        const std::vector<std::string>& headers, Upload* up, const Sink& sink,
                        std::size_t limit) {
    ::curl_easy_reset(curl_);  // keeps the connection cache
    Response r;
    WriteCtx w{curl_, &r, &sink, limit, std::nullopt};
    curl_slist* hl = nullptr;
    for (const auto& h : headers) hl = ::curl_slist_append(hl, h.c_str());
    if (!auth_.empty()) hl = ::curl_slist_append(hl, ("Authorization: " + auth_).c_str());
    // No "Expect: 100-continue" round trip before uploads.
    hl = ::curl_slist_append(hl, "Expect:");
    std::unique_ptr<curl_slist, void (*)(curl_slist*)> hold(hl, ::curl_slist_free_all);
    ::curl_easy_setopt(curl_, CURLOPT_URL, u.c_str());
    ::curl_easy_setopt(curl_, CURLOPT_HTTPHEADER, hl);
    ::curl_easy_setopt(curl_, CURLOPT_USERAGENT, "ljd/0.1");
    ::curl_easy_setopt(curl_, CURLOPT_FOLLOWLOCATION, 1L);
    ::curl_easy_setopt(curl_, CURLOPT_MAXREDIRS, 5L);
    ::curl_easy_setopt(curl_, CURLOPT_PROTOCOLS_STR, "http,https");
    ::curl_easy_setopt(curl_, CURLOPT_NOSIGNAL, 1L);
    ::curl_easy_setopt(curl_, CURLOPT_CONNECTTIMEOUT, opt_.connect_timeout_s);
    ::curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    ::curl_easy_setopt(curl_, CURLOPT_LOW_SPEED_TIME, opt_.low_speed_time_s);
    ::curl_easy_setopt(curl_, CURLOPT_HEADERFUNCTION, &Client::on_header);
    ::curl_easy_setopt(curl_, CURLOPT_HEADERDATA, &r);
    ::curl_easy_setopt(curl_, CURLOPT_WRITEFUNCTION, &Client::on_data);
    ::curl_easy_setopt(curl_, CURLOPT_WRITEDATA, &w);
    if (!opt_.ca_file.empty()) {
      // The given CAs in addition to the system's directory of them.
      ::curl_easy_setopt(curl_, CURLOPT_CAINFO, opt_.ca_file.c_str());
      ::curl_easy_setopt(curl_, CURLOPT_CAPATH, "/etc/ssl/certs");
    }
    if (!verify_) {
      ::curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYPEER, 0L);
      ::curl_easy_setopt(curl_, CURLOPT_SSL_VERIFYHOST, 0L);
    }
    if (method == "HEAD") {
      ::curl_easy_setopt(curl_, CURLOPT_NOBODY, 1L);
    } else if (method == "POST") {
      ::curl_easy_setopt(curl_, CURLOPT_POST, 1L);
      ::curl_easy_setopt(curl_, CURLOPT_POSTFIELDSIZE, 0L);
    } else if (method == "PUT") {
      ::curl_easy_setopt(curl_, CURLOPT_UPLOAD, 1L);
      ::curl_easy_setopt(curl_, CURLOPT_READFUNCTION, &Client::on_read);
      static Upload empty;
      ::curl_easy_setopt(curl_, CURLOPT_READDATA, up ? up : &empty);
      ::curl_easy_setopt(curl_, CURLOPT_INFILESIZE_LARGE,
                         static_cast<curl_off_t>(up ? up->size : 0));
    }
    CURLcode rc = ::curl_easy_perform(curl_);
    if (w.error) return fail(std::move(*w.error));
    if (rc != CURLE_OK) {
      Errc e = rc == CURLE_OPERATION_TIMEDOUT ? Errc::timed_out : Errc::system;
      return fail(e, "image", method + " " + u + ": " + ::curl_easy_strerror(rc));
    }
    ::curl_easy_getinfo(curl_, CURLINFO_RESPONSE_CODE, &r.status);
    return r;
  }

  Status authenticate(const std::string& challenge) {
    std::string creds = opt_.credentials.empty()
                            ? LJ_TRY(registry_credentials(ref_.registry, opt_.auth_file))
                            : opt_.credentials;
    auto [scheme, params] = parse_challenge(challenge);
    if (scheme == "basic") {
      if (creds.empty()) {
        return fail(Errc::permission_denied, "image",
                    "registry " + ref_.registry + " asks for credentials and the auths file has none for it");
      }
      auth_ = "Basic " + base64(creds);
      return {};
    }
    if (scheme != "bearer" || params["realm"].empty()) {
      return fail(Errc::permission_denied, "image",
                  "registry " + ref_.registry + " answered 401 with an unusable challenge \"" +
                      challenge + "\"");
    }
    // A login (no repository) asks for a token without a scope, as docker login does.
    std::string scope = params.count("scope")  ? params["scope"]
                        : ref_.repository.empty() ? ""
                                                  : "repository:" + ref_.repository + ":" + actions_;
    std::unique_ptr<char, void (*)(void*)> svc(
        ::curl_easy_escape(curl_, params["service"].c_str(), 0), ::curl_free);
    std::unique_ptr<char, void (*)(void*)> sc(::curl_easy_escape(curl_, scope.c_str(), 0), ::curl_free);
    std::string realm = params["realm"];
    std::string token_url = realm + (realm.find('?') == std::string::npos ? "?" : "&") +
                            "service=" + svc.get() + (scope.empty() ? "" : "&scope=" + std::string(sc.get()));
    auth_ = creds.empty() ? "" : "Basic " + base64(creds);
    Response r = LJ_TRY(once("GET", token_url, {}, nullptr, {}, 1024 * 1024));
    if (r.status != 200) {
      return fail(Errc::permission_denied, "image",
                  "token endpoint " + realm + " answered " + std::to_string(r.status) + ": " +
                      r.body.substr(0, 200));
    }
    json j = json::parse(r.body, nullptr, false);
    std::string token;
    if (j.is_object()) {
      if (j.contains("token") && j["token"].is_string()) token = j["token"];
      else if (j.contains("access_token") && j["access_token"].is_string()) token = j["access_token"];
    }
    if (token.empty()) {
      return fail(Errc::permission_denied, "image", "token endpoint " + realm + " gave no token");
    }
    auth_ = "Bearer " + token;
    return {};
  }

  Reference ref_;
  const RegistryOptions& opt_;
  std::string actions_;  // "pull" or "pull,push"
  CURL* curl_;
  std::string scheme_;
  bool verify_ = true;
  std::string auth_;  // the Authorization header's value once a challenge was answered
};

// An error for a response that is not the expected one: the registry's own error text
// (distribution-spec "error codes": {"errors":[{"code","message"}]}) when there is one.
Error http_error(const Client& c, const std::string& what, const Response& r) {
  std::string text;
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("errors") && j["errors"].is_array() && !j["errors"].empty()) {
    const auto& e = j["errors"][0];
    if (e.contains("code") && e["code"].is_string()) text += e["code"].get<std::string>();
    if (e.contains("message") && e["message"].is_string()) text += ": " + e["message"].get<std::string>();
  }
  Errc errc = r.status == 404                    ? Errc::not_found
              : r.status == 401 || r.status == 403 ? Errc::permission_denied
              : r.status == 429 || r.status >= 500 ? Errc::busy
                                                   : Errc::system;
  return Error(errc, "image",
               what + " on " + c.registry() + ": HTTP " + std::to_string(r.status) +
                   (text.empty() ? "" : " (" + text + ")"));
}

struct Document {
  std::string body;
  std::string media_type;
};

Result<Document> get_manifest(Client& c, const std::string& ref) {
  // Named as the user wrote it ("app:nope", "app@sha256:..."): the repository is half the answer.
  const std::string what =
      "manifest " + c.repository() + (ref.starts_with("sha256:") ? "@" : ":") + ref;
  Response r = LJ_TRY_CTX(what + " on " + c.registry(),
                          c.send("GET", c.repo_url("/manifests/" + ref),
                                 {"Accept: " + std::string(kAccept)}, nullptr, {},
                                 kMaxDocumentBytes));
  if (r.status != 200) return fail(http_error(c, what, r));
  std::string mt = r.headers["content-type"];
  if (auto semi = mt.find(';'); semi != std::string::npos) mt.resize(semi);
  return Document{std::move(r.body), mt};
}

// Fetches blob `d` into the store through a verifying writer; progress as bytes arrive. With
// `unpack`, the same bytes go to a layer's unpacker as they arrive.
Status fetch_blob(const Store& store, Client& c, const Descriptor& d, std::uint64_t limit,
                  const std::function<void(std::uint64_t)>& on_bytes, LayerStream* unpack = nullptr) {
  auto w = LJ_TRY(store.writer(d.digest, static_cast<std::uint64_t>(d.size), limit));
  // curl hands over 16 KiB at a time: gathered into 256 KiB, a write(2) and a wake-up of the
  // unpacker per 256 KiB instead of per 16 KiB.
  std::string buf;
  buf.reserve(256 * 1024);
  std::uint64_t received = 0;
  auto flush = [&]() -> Status {
    if (buf.empty()) return {};
    LJ_TRY(w.write(buf.data(), buf.size()));
    if (unpack) LJ_TRY(unpack->write(buf.data(), buf.size()));
    buf.clear();
    return {};
  };
  // The writer checks the limit and the declared size at each flush: at most 256 KiB past
  // them are held in memory.
  Sink sink = [&](const char* p, std::size_t n) -> Status {
    if (buf.size() + n > buf.capacity()) LJ_TRY(flush());
    buf.append(p, n);
    received += n;
    if (on_bytes) on_bytes(received);
    return {};
  };
  Response r = LJ_TRY_CTX("blob " + d.digest.str(),
                          c.send("GET", c.repo_url("/blobs/" + d.digest.str()), {}, nullptr, sink, 64 * 1024));
  if (r.status != 200) return fail(http_error(c, "blob " + d.digest.str(), r));
  LJ_TRY(flush());
  LJ_TRY(w.commit());
  return {};
}

}  // namespace

namespace {
Result<json> read_auths(const std::string& path) {
  auto text = overlay::read_file(path, 1024 * 1024);
  if (!text && text.error().errc() == Errc::not_found) return json{{"auths", json::object()}};
  if (!text) return fail(std::move(text).error().context("auths file"));
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return fail(Errc::invalid_argument, "image", path + " is not a JSON object");
  if (!j.contains("auths") || !j["auths"].is_object()) j["auths"] = json::object();
  return j;
}
Status write_auths(const std::string& path, const json& j) {
  // 0600 from the start: the file holds passwords.
  return overlay::write_file_atomic(path, j.dump(2) + "\n", 0600);
}
}  // namespace

Status login(const std::string& registry, const std::string& user, const std::string& password,
             const std::string& auth_file, const RegistryOptions& options) {
  if (user.empty() || user.find(':') != std::string::npos) {
    return fail(Errc::invalid_argument, "image", "a user name is not empty and has no ':'");
  }
  curl_global();
  RegistryOptions opt = options;
  opt.credentials = user + ":" + password;
  Reference ref;
  ref.registry = registry;
  Client c(ref, opt, "");
  Response r = LJ_TRY(c.send("GET", "/v2/", {}, nullptr, {}, 64 * 1024));
  if (r.status == 401 || r.status == 403) {
    return fail(Errc::permission_denied, "image",
                "registry " + registry + " refused the credentials of " + user + " (" +
                    std::to_string(r.status) + ")");
  }
  if (r.status != 200) return fail(http_error(c, "GET /v2/", r));
  json j = LJ_TRY(read_auths(auth_file));
  j["auths"][registry] = {{"auth", base64(opt.credentials)}};
  return write_auths(auth_file, j);
}

Status logout(const std::string& registry, const std::string& auth_file) {
  json j = LJ_TRY(read_auths(auth_file));
  if (j["auths"].erase(registry) == 0) {
    return fail(Errc::not_found, "image", "not logged in to " + registry);
  }
  return write_auths(auth_file, j);
}

Result<std::string> registry_credentials(const std::string& registry, const std::string& auth_file) {
  std::string path = auth_file;
  if (path.empty()) {
    if (const char* e = std::getenv("REGISTRY_AUTH_FILE"); e && *e) {
      path = e;
    } else if (const char* h = std::getenv("HOME"); h && *h) {
      path = std::string(h) + "/.docker/config.json";
    }
  }
  if (path.empty()) return std::string();
  auto text = overlay::read_file(path, 1024 * 1024);
  if (!text) {
    if (text.error().errc() == Errc::not_found) return std::string();
    return fail(std::move(text).error().context("auths file"));
  }
  json j = json::parse(*text, nullptr, false);
  if (!j.is_object()) return fail(Errc::invalid_argument, "image", path + " is not a JSON object");
  auto auths = j.find("auths");
  if (auths == j.end() || !auths->is_object()) return std::string();
  std::vector<std::string> keys = {registry, "https://" + registry, "http://" + registry};
  if (registry == "docker.io") keys.push_back("https://index.docker.io/v1/");
  for (const auto& k : keys) {
    auto it = auths->find(k);
    if (it == auths->end() || !it->is_object() || !it->contains("auth") || !(*it)["auth"].is_string()) continue;
    std::string creds = LJ_TRY_CTX(path + ": " + k, unbase64((*it)["auth"].get<std::string>()));
    if (creds.find(':') == std::string::npos) {
      return fail(Errc::invalid_argument, "image", path + ": auth of " + k + " is not user:password");
    }
    return creds;
  }
  return std::string();
}

Result<PullResult> pull(const Store& store, const Reference& ref, const RegistryOptions& opt,
                        const ProgressFn& progress) {
  curl_global();
  Client c(ref, opt, "pull");
  PullResult out;
  Document doc = LJ_TRY(get_manifest(c, ref.manifest_ref()));
  Digest top = LJ_TRY(store.put(doc.body, ref.digest));  // a pinned digest is checked here
  Digest manifest = top;
  if (LJ_TRY(document_kind(doc.body, doc.media_type)) == DocKind::index) {
    Index idx = LJ_TRY(parse_index(doc.body));
    Descriptor chosen = LJ_TRY_CTX(ref.str(), select_platform(idx, opt.platform));
    Document m = LJ_TRY(get_manifest(c, chosen.digest.str()));
    manifest = LJ_TRY(store.put(m.body, chosen.digest));
  }
  Manifest m = LJ_TRY(store.read_manifest(manifest));
  if (!store.has_blob(m.config.digest)) {
    LJ_TRY(fetch_blob(store, c, m.config, kMaxDocumentBytes, {}));
  }
  ImageConfig cfg = LJ_TRY(store.read_config(m.config.digest));
  if (cfg.diff_ids.size() != m.layers.size()) {
    return fail(Errc::invalid_argument, "image",
                ref.str() + ": the manifest has " + std::to_string(m.layers.size()) +
                    " layers, its config " + std::to_string(cfg.diff_ids.size()) + " diff_ids");
  }
  out.layers = m.layers.size();
  // Each fetched layer is unpacked while it arrives (decompression and unpacking on a thread of
  // its own), published with the others after every blob was verified, with one sync.
  std::vector<StagedLayer> staged;
  std::vector<std::size_t> staged_index;
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    LayerProgress p{i, m.layers.size(), l.digest, 0, static_cast<std::uint64_t>(l.size), "fetching"};
    // Shared with an image already here: neither fetched nor unpacked again.
    if (store.has_layer(cfg.diff_ids[i]) || store.has_blob(l.digest)) {
      p.state = "exists";
      p.done = p.total;
      if (progress) progress(p);
      continue;
    }
    std::uint64_t next_report = 0;
    auto unpacker = LJ_TRY_CTX(ref.str(), store.stream_layer(cfg.diff_ids[i], l.digest.str(), opt.unpack));
    LJ_TRY_CTX(ref.str(), fetch_blob(store, c, l, UINT64_MAX, [&](std::uint64_t done) {
      if (!progress || done < next_report) return;
      next_report = done + 1024 * 1024;  // at most one report per MiB
      p.done = done;
      progress(p);
    }, &unpacker));
    auto layer = unpacker.finish();
    if (!layer) {
      // Its bytes matched the digest but the unpacker refused them (an entry climbing out, a
      // device the policy refuses): the blob is useless to any image, so it goes too rather
      // than wait for prune (and no later pull takes it for a layer already here).
      ::unlink(store.blob_path(l.digest).c_str());
      return fail(std::move(layer).error().context(ref.str()));
    }
    staged.push_back(std::move(*layer));
    staged_index.push_back(i);
    ++out.fetched;
    out.bytes_fetched += static_cast<std::uint64_t>(l.size);
    p.done = p.total;
    p.state = "done";
    if (progress) progress(p);
  }
  LJ_TRY_CTX(ref.str(), store.publish_layers(std::move(staged)));
  for (std::size_t i : staged_index) {
    if (progress) {
      progress(LayerProgress{i, m.layers.size(), m.layers[i].digest,
                             static_cast<std::uint64_t>(m.layers[i].size),
                             static_cast<std::uint64_t>(m.layers[i].size), "unpacked"});
    }
  }
  // Layers whose blob was stored but not unpacked (an interrupted pull) are unpacked here.
  LJ_TRY_CTX(ref.str(), store.install(manifest, opt.unpack, [&](std::size_t i, bool unpacked) {
    if (progress && unpacked) {
      progress(LayerProgress{i, m.layers.size(), m.layers[i].digest,
                             static_cast<std::uint64_t>(m.layers[i].size),
                             static_cast<std::uint64_t>(m.layers[i].size), "unpacked"});
    }
  }));
  out.ref = ref.str();
  out.manifest = manifest;
  LJ_TRY(store.set_ref(out.ref, manifest));
  log("image")->info("pulled image ref={} manifest={} layers={} fetched={} bytes={}", out.ref,
                     manifest.str(), out.layers, out.fetched, out.bytes_fetched);
  return out;
}

Status push(const Store& store, const Digest& manifest, const Reference& dest,
            const RegistryOptions& opt, const ProgressFn& progress) {
  curl_global();
  Client c(dest, opt, "pull,push");
  std::string body = LJ_TRY(store.read_document(manifest));
  Manifest m = LJ_TRY(parse_manifest(body));
  std::vector<Descriptor> blobs = m.layers;
  blobs.push_back(m.config);
  for (std::size_t i = 0; i < blobs.size(); ++i) {
    const auto& b = blobs[i];
    const bool is_config = i + 1 == blobs.size();
    LayerProgress p{is_config ? SIZE_MAX : i, m.layers.size(), b.digest, 0,
                    static_cast<std::uint64_t>(b.size), "pushing"};
    Response head = LJ_TRY(c.send("HEAD", c.repo_url("/blobs/" + b.digest.str()), {}, nullptr, {}, 64 * 1024));
    if (head.status == 200) {
      p.state = "exists";
      p.done = p.total;
      if (progress) progress(p);
      continue;
    }
    if (!store.has_blob(b.digest)) {
      return fail(Errc::not_found, "image",
                  "blob " + b.digest.str() + " is not stored here (its layer was unpacked from "
                  "another image's copy); pull the image again to push it");
    }
    Response start = LJ_TRY(c.send("POST", c.repo_url("/blobs/uploads/"), {}, nullptr, {}, 64 * 1024));
    if (start.status != 202 || start.headers["location"].empty()) {
      return fail(http_error(c, "starting the upload of " + b.digest.str(), start));
    }
    std::string loc = start.headers["location"];
    if (loc.front() == '/') loc = c.url(loc);
    loc += (loc.find('?') == std::string::npos ? "?" : "&") + std::string("digest=") + b.digest.str();
    UniqueFd fd(::open(store.blob_path(b.digest).c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) return fail_errno("image", "open " + store.blob_path(b.digest).string());
    Upload up;
    up.fd = fd.get();
    up.size = static_cast<std::uint64_t>(b.size);
    std::uint64_t next_report = 0;
    up.sent = [&](std::uint64_t done) {
      if (!progress || done < next_report) return;
      next_report = done + 1024 * 1024;
      p.done = done;
      progress(p);
    };
    Response put = LJ_TRY(c.send("PUT", loc, {"Content-Type: application/octet-stream"}, &up, {}, 64 * 1024));
    if (put.status != 201) return fail(http_error(c, "uploading " + b.digest.str(), put));
    p.state = "done";
    p.done = p.total;
    if (progress) progress(p);
  }
  Upload up;
  up.data = &body;
  up.size = body.size();
  std::string mt = m.media_type.empty() ? std::string(media::kOciManifest) : m.media_type;
  Response put = LJ_TRY(c.send("PUT", c.repo_url("/manifests/" + (dest.tag.empty() ? manifest.str() : dest.tag)),
                               {"Content-Type: " + mt}, &up, {}, 64 * 1024));
  if (put.status != 201) return fail(http_error(c, "putting the manifest", put));
  log("image")->info("pushed image manifest={} to={}", manifest.str(), dest.str());
  return {};
}

}  // namespace lj::image
