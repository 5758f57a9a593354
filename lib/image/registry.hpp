// A client of the OCI distribution API (distribution-spec v1.1 "pull" and "push"), on libcurl.
//
// Transport: HTTPS verified against the system's CAs (plus `ca_file` when given). A registry
// is reached over plain HTTP only when it is *insecure*: listed in `insecure`, or, as docker
// does by default ("insecure-registries" always contains 127.0.0.0/8), a host in 127.0.0.0/8.
// For an insecure registry HTTPS is still tried first (unverified, as docker does) and plain
// HTTP used when that fails to connect; `localhost` is not implicitly insecure (docker's rule
// is about the address range, not the name).
//
// Authentication: a 401's WWW-Authenticate challenge is answered: Bearer (the token endpoint
// of its realm, with service and scope, sending the user's basic credentials when there are
// any; the token is kept per scope for the client's life) or Basic. Credentials come from a
// docker-style auths file: `auth_file`, else $REGISTRY_AUTH_FILE, else ~/.docker/config.json;
// {"auths": {"<registry>": {"auth": base64("user:password")}}} (docker.io also under
// "https://index.docker.io/v1/"). A missing file means anonymous.
//
// Every document is size-limited (kMaxDocumentBytes) and every blob is verified against its
// digest as it is stored (store.hpp): a server that lies about content gets an error and
// leaves nothing named. Progress is reported per layer.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>

#include "common/error.hpp"
#include "image/reference.hpp"
#include "image/spec.hpp"
#include "image/store.hpp"

namespace lj::image {

struct RegistryOptions {
  std::set<std::string> insecure;  // "host:port" or "host", reached over HTTP when HTTPS fails
  std::string ca_file;             // extra CA certificates (PEM) to trust, e.g. a test's own
  std::string auth_file;           // see above; empty: $REGISTRY_AUTH_FILE or ~/.docker/config.json
  std::string credentials;         // "user:password" to use instead of the auths file (login)
  Platform platform = host_platform();
  UnpackPolicy unpack;
  long connect_timeout_s = 30;
  // Transfers slower than 1 KiB/s for this long are abandoned (a stalled server).
  long low_speed_time_s = 60;
};

// Progress of one layer (or the config, index == SIZE_MAX): bytes done of total. `state` is
// "fetching"/"pushing", "done", "exists" (already in the store or the registry: nothing sent),
// or "unpacked".
struct LayerProgress {
  std::size_t index = 0;
  std::size_t count = 0;
  Digest digest;
  std::uint64_t done = 0;
  std::uint64_t total = 0;
  std::string state;
};
using ProgressFn = std::function<void(const LayerProgress&)>;

struct PullResult {
  std::string ref;       // normalized reference written to the store
  Digest manifest;
  std::size_t layers = 0;
  std::size_t fetched = 0;           // layer blobs actually transferred
  std::uint64_t bytes_fetched = 0;   // their bytes
};

// Pulls `ref` into `store`: the manifest (an index resolved to options.platform), its config
// and the layers the store lacks, each verified, then unpacked; finally the reference is
// named. On failure nothing is named.
Result<PullResult> pull(const Store& store, const Reference& ref, const RegistryOptions& options,
                        const ProgressFn& progress = {});

// Pushes the stored image `manifest` to `dest` (its tag, or its digest when `dest` has none):
// each blob the registry lacks (HEAD) is uploaded (POST, then one PUT), then the manifest.
Status push(const Store& store, const Digest& manifest, const Reference& dest,
            const RegistryOptions& options, const ProgressFn& progress = {});

// Checks `user`/`password` against `registry` (GET /v2/, answering its challenge: Basic, or a
// Bearer token from its realm), then stores them in the auths file `auth_file` (created 0600;
// the other registries' entries kept; replaced atomically). A refusal is Errc::permission_denied
// and leaves the file as it was.
Status login(const std::string& registry, const std::string& user, const std::string& password,
             const std::string& auth_file, const RegistryOptions& options);
// Removes `registry`'s entry from the auths file; Errc::not_found when it has none.
Status logout(const std::string& registry, const std::string& auth_file);

// The credentials for `registry` from the auths file, as "user:password"; empty when none.
// Exposed for tests.
Result<std::string> registry_credentials(const std::string& registry, const std::string& auth_file);

}  // namespace lj::image
