// OCI images as a resource of ljd: the store of lib/image (root/images) seen through the API,
// and its long work (pull, load, push) as jobs with a state, an error, per-layer progress and
// /wait. Owned by the loop thread like Jails and Resources; the transfers run on the long-work
// pool and post their progress and results back.
//
// Jobs are persisted as one JSON file each, root/.ljd/image_jobs/<id>.json, written when the job
// starts and again when it ends (atomically): the index is not involved, since the store itself
// (refs.json, content-addressed blobs and layers) is the record of what a job produced. A job
// that was running when ljd died is marked failed at the next start (its staging directory is
// removed with the others'). The last kMaxEndedJobs ended jobs are kept.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "daemon/core.hpp"
#include "daemon/jail_request.hpp"
#include "daemon/resources.hpp"
#include "image/store.hpp"

namespace lj::daemon {

struct PullRequest {
  std::string reference;
  std::set<std::string> insecure;
  bool allow_devices = false;
};

struct LoadRequest {
  std::string source;  // absolute path on the host
  std::optional<std::string> name;
  bool allow_devices = false;
};

struct PushRequest {
  std::string reference;    // the stored image
  std::string destination;  // empty: the reference
  std::set<std::string> insecure;
};

// An overlay chain as an OCI image (image::export_image): one layer per overlay, below them the
// chain's base when `include_base` (the world as one layer, or the image's own layers).
struct ExportOverlayRequest {
  std::string overlay;     // "ns/name"
  std::string version;     // a constraint; empty: the highest version
  std::string reference;   // the name the image gets
  bool include_base = true;
};

// A stored image written to a host file as an OCI archive. Only for root callers: ljd writes it
// as root, so the file is made new (O_EXCL, never through a symlink) and never replaces one.
struct SaveRequest {
  std::string reference;
  std::string destination;  // absolute path on the host
};

// Registry credentials for ljd's pulls and pushes: checked against the registry, then kept in
// root/.ljd/auth.json (0600, a docker-style auths file).
struct LoginRequest {
  std::string registry;  // "host[:port]"
  std::string username, password;
  std::set<std::string> insecure;
};

// What the host policy weighs of an image (policy.hpp): its names ("registry/repository"; for
// a bare digest, every name that points at it) and the privileges it declares (the
// org.lightjail.privileges label, and its ExposedPorts as listening ports).
struct ImagePolicyFacts {
  std::vector<std::string> names;
  Privileges declared;
};

// What a jail takes from an image: its layers (bottom first) and its config.
struct ResolvedImage {
  std::string reference;  // as named (normalized), or the digest
  image::Image image;
};

class Images {
 public:
  static constexpr std::size_t kMaxEndedJobs = 100;

  explicit Images(Daemon& d);
  ~Images();

  // Start-up: opens the store (creating root/images), reads the job records and marks those
  // that were running failed. Loop thread, before serving.
  Status recover();

  // ---- images ----
  Result<nlohmann::json> list();
  // An image ID as `ljctl images` shows it (docker's habit: 4 to 64 hex digits that begin the
  // manifest digest of a named image) -> "sha256:<hex>"; a stored name spelled the same wins,
  // two images that begin so are a 400; any other text is returned as it is. The calls below
  // that take `text` (and a jail's `image`) take it through this.
  Result<std::string> expand_id(const std::string& text) const;
  // `text`: a reference, an image ID, or a manifest digest "sha256:...".
  Result<nlohmann::json> inspect(const std::string& text);
  Result<nlohmann::json> tag(const std::string& source, const std::string& target, Uid uid);
  // Removes the name (an ID or a digest: every name of the image, as docker rmi ID does); 409
  // when an image a live jail stands on would lose its last name.
  Result<nlohmann::json> remove(const std::string& text, Uid uid);
  // Removes every blob and layer that no name and no live jail uses; 409 while a job runs.
  Result<nlohmann::json> prune(Uid uid);
  // For a jail: the image named `text`, its layers unpacked.
  Result<ResolvedImage> resolve(const std::string& text);
  // A new jail's request on an image: its config's defaults applied (image_defaults.hpp) and
  // req.image pinned to the manifest digest, so that a later start (or a retag) runs the same.
  // With publish_all, *to_publish gets the exposed ports the request does not publish yet.
  Status prepare_create(CreateJail& req, std::vector<ExposedPort>* to_publish);
  // For the host policy: the image named `text`. A malformed declaration is the image's fault:
  // Errc::invalid_argument naming the image and the label.
  Result<ImagePolicyFacts> policy_facts(const std::string& text) const;
  // For the host policy: a jail on an overlay chain. declared: what the chain's manifests
  // declare (a child inherits its ancestors'), and on a chain built `from image`, what that
  // image declares; names: that image's (its current names and the reference the chain
  // recorded), empty on a world.
  Result<ImagePolicyFacts> chain_policy_facts(const overlay::Chain& chain) const;

  // ---- jobs (202 with the job; it runs on the long-work pool) ----
  void pull(PullRequest req, Uid uid, JsonDone done);
  void load(LoadRequest req, Uid uid, JsonDone done);
  void push(PushRequest req, Uid uid, JsonDone done);
  void export_overlay(ExportOverlayRequest req, Uid uid, JsonDone done);
  void save(SaveRequest req, Uid uid, JsonDone done);
  void login(LoginRequest req, Uid uid, JsonDone done);
  Result<nlohmann::json> logout(const std::string& registry, Uid uid);
  Result<nlohmann::json> job(const std::string& id);
  Result<nlohmann::json> jobs();
  // {"resource": job, "timed_out": bool} once the job has ended (at once when it has).
  void wait_job(const std::string& id, std::optional<std::chrono::milliseconds> timeout,
                JsonDone done);

 private:
  struct Job;
  struct Progress;
  using Work = std::function<Result<nlohmann::json>(const image::Store&, Progress&)>;
  // Registers the job (record written, event), runs `work` on the long-work pool.
  void start(std::unique_ptr<Job> job, Work work, Uid uid, JsonDone done);
  void finish(const std::string& id, Result<nlohmann::json> result, Uid uid);
  nlohmann::json job_json(const Job& j) const;
  Status save(const Job& j) const;
  void trim_ended();
  Status usable() const;
  Result<image::Digest> find(const std::string& text) const;
  Result<nlohmann::json> image_json(const image::Digest& manifest,
                                    const std::map<std::string, image::Digest>& refs) const;
  bool in_use(const image::Image& img) const;
  std::filesystem::path jobs_dir() const;

  Daemon& d_;
  std::optional<image::Store> store_;  // set by recover()
  std::map<std::string, std::unique_ptr<Job>> jobs_;  // by id; loop thread
  std::size_t running_ = 0;
  struct Waiter {
    JsonDone done;
    std::unique_ptr<Watch> timer;
  };
  std::map<std::string, std::map<std::uint64_t, Waiter>> waiters_;  // by job id
  std::uint64_t next_waiter_ = 1;
};

}  // namespace lj::daemon
