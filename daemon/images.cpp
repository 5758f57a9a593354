#include "daemon/images.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>

#include <algorithm>
#include <mutex>
#include <set>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/random_id.hpp"
#include "daemon/crash_point.hpp"
#include "daemon/image_defaults.hpp"
#include "daemon/jails.hpp"
#include "daemon/wire.hpp"
#include "image/export.hpp"
#include "image/import.hpp"
#include "image/reference.hpp"
#include "image/registry.hpp"
#include "overlay/fs_ops.hpp"

namespace lj::daemon {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

auto lg() {
  return lj::log("image");
}

json error_object(const Error& e) {
  return {{"code", e.code()}, {"message", e.what()}};
}

json opt_string(const std::string& s) {
  return s.empty() ? json() : json(s);
}

// Names in a directory (no "." / ".."); a missing directory is empty.
std::vector<std::string> dir_names(const fs::path& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(std::move(n));
  }
  ::closedir(d);
  return out;
}

}  // namespace

// Per-layer progress, written by the transferring thread, read by the loop (GET of the job).
struct Images::Progress {
  std::mutex mu;
  std::map<std::size_t, image::LayerProgress> layers;  // guarded by mu; SIZE_MAX: the config

  void update(const image::LayerProgress& p) {
    std::lock_guard lock(mu);
    layers[p.index] = p;
  }
  json to_json() {
    std::lock_guard lock(mu);
    json arr = json::array();
    for (const auto& [i, p] : layers) {
      arr.push_back({{"index", i == SIZE_MAX ? json() : json(i)},
                     {"digest", p.digest.str()},
                     {"done", p.done},
                     {"total", p.total},
                     {"state", p.state}});
    }
    return {{"layers", std::move(arr)}};
  }
};

struct Images::Job {
  std::string id, kind, state = "running";
  std::string reference, source, destination;
  std::string created_at, ended_at;
  json error, result;
  std::shared_ptr<Progress> progress = std::make_shared<Progress>();
  json saved_progress;  // an ended job's last progress, as recorded
};

Images::Images(Daemon& d) : d_(d) {}
Images::~Images() = default;

fs::path Images::jobs_dir() const {
  return d_.cfg.root / ".ljd" / "image_jobs";
}

json Images::job_json(const Job& j) const {
  return {{"id", j.id},
          {"kind", j.kind},
          {"state", j.state},
          {"reference", opt_string(j.reference)},
          {"source", opt_string(j.source)},
          {"destination", opt_string(j.destination)},
          {"created_at", j.created_at},
          {"ended_at", opt_string(j.ended_at)},
          {"error", j.error},
          {"progress", j.state == "running" ? j.progress->to_json() : j.saved_progress},
          {"result", j.result}};
}

Status Images::save(const Job& j) const {
  return overlay::write_file_atomic(jobs_dir() / (j.id + ".json"), job_json(j).dump() + "\n",
                                    0600);
}

Status Images::recover() {
  store_ = LJ_TRY_CTX("opening the image store", image::Store::open(d_.catalog.root()));
  if (::mkdir(jobs_dir().c_str(), 0700) != 0 && errno != EEXIST) {
    return fail_errno("image", "mkdir " + jobs_dir().string());
  }
  for (const auto& name : dir_names(jobs_dir())) {
    if (!name.ends_with(".json")) continue;  // a write_file_atomic temp file of a crash
    auto text = overlay::read_file(jobs_dir() / name, 1 << 20);
    json j = text ? json::parse(*text, nullptr, false) : json();
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      lg()->warn("recovery: image job record {} is unreadable; removed", name);
      ::unlink((jobs_dir() / name).c_str());
      continue;
    }
    auto job = std::make_unique<Job>();
    auto str = [&](const char* k) {
      return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : std::string();
    };
    job->id = str("id");
    job->kind = str("kind");
    job->state = str("state");
    job->reference = str("reference");
    job->source = str("source");
    job->destination = str("destination");
    job->created_at = str("created_at");
    job->ended_at = str("ended_at");
    job->error = j.value("error", json());
    job->result = j.value("result", json());
    job->saved_progress = j.value("progress", json::object());
    if (job->state == "running") {
      // ljd died during the transfer: nothing was named (a name is written last), and the
      // staging directory it left is removed by the staging cleanup of this start.
      job->state = "failed";
      job->ended_at = iso_time(index::now());
      job->error = {{"code", "image.interrupted"},
                    {"message", "ljd stopped while this " + job->kind + " ran; run it again"}};
      if (Status st = save(*job); !st) lg()->warn("recovery: {}", st.error().what());
      lg()->info("recovery: image job={} marked failed", job->id);
    }
    jobs_.emplace(job->id, std::move(job));
  }
  trim_ended();
  return {};
}

void Images::trim_ended() {
  std::vector<std::pair<std::string, std::string>> ended;  // (ended_at, id)
  for (const auto& [id, j] : jobs_) {
    if (j->state != "running") ended.emplace_back(j->ended_at, id);
  }
  if (ended.size() <= kMaxEndedJobs) return;
  std::sort(ended.begin(), ended.end());
  for (std::size_t i = 0; i + kMaxEndedJobs < ended.size(); ++i) {
    ::unlink((jobs_dir() / (ended[i].second + ".json")).c_str());
    jobs_.erase(ended[i].second);
  }
}

// ---- images -------------------------------------------------------------------------------

Status Images::usable() const {
  if (!store_) return fail(Errc::internal, "image", "the image store could not be opened (see ljd's log)");
  return {};
}

Result<image::Digest> Images::find(const std::string& text) const {
  LJ_TRY(usable());
  if (text.rfind("sha256:", 0) == 0) {
    auto d = LJ_TRY(image::Digest::parse(text));
    if (!store_->has_blob(d)) return fail(Errc::not_found, "image", "no image " + text);
    return d;
  }
  auto ref = LJ_TRY(image::Reference::parse(text));
  if (ref.digest) {
    // Pinned (a jail's stored spec, or name@digest): the content, whatever the name says now.
    if (!store_->has_blob(*ref.digest)) return fail(Errc::not_found, "image", "no image " + ref.str());
    return *ref.digest;
  }
  auto d = store_->resolve_ref(ref.str());
  if (!d && d.error().errc() == Errc::not_found) {
    return fail(Errc::not_found, "image", "no image `" + ref.str() + "`");
  }
  return d;
}

bool Images::in_use(const image::Image& img) const {
  // The top layer: a jail on this image, or on one built on it, stacks it.
  return !img.layer_dirs.empty() && d_.jails->uses(img.layer_dirs.back());
}

Result<json> Images::image_json(const image::Digest& manifest,
                                const std::map<std::string, image::Digest>& refs) const {
  auto m = LJ_TRY(store_->read_manifest(manifest));
  auto c = LJ_TRY(store_->read_config(m.config.digest));
  json names = json::array();
  for (const auto& [r, d] : refs) {
    if (d == manifest) names.push_back(r);
  }
  json layers = json::array();
  std::uint64_t size = 0;
  bool all_unpacked = c.diff_ids.size() == m.layers.size();
  for (std::size_t i = 0; i < m.layers.size(); ++i) {
    const auto& l = m.layers[i];
    bool unpacked = i < c.diff_ids.size() && store_->has_layer(c.diff_ids[i]);
    all_unpacked = all_unpacked && unpacked;
    size += static_cast<std::uint64_t>(l.size);
    layers.push_back({{"digest", l.digest.str()},
                      {"diff_id", i < c.diff_ids.size() ? json(c.diff_ids[i].str()) : json()},
                      {"size", l.size},
                      {"media_type", l.media_type},
                      {"unpacked", unpacked}});
  }
  bool used = false;
  if (all_unpacked && !c.diff_ids.empty()) used = d_.jails->uses(store_->layer_path(c.diff_ids.back()));
  return json{{"id", manifest.str()},
              {"references", std::move(names)},
              {"platform", c.platform.str()},
              {"size_bytes", size},
              {"config",
               {{"entrypoint", c.entrypoint},
                {"cmd", c.cmd},
                {"env", c.env},
                {"user", c.user},
                {"working_dir", c.working_dir},
                {"exposed_ports", c.exposed_ports},
                {"stop_signal", c.stop_signal},
                {"labels", c.labels}}},
              {"layers", std::move(layers)},
              {"in_use", used}};
}

Result<json> Images::list() {
  LJ_TRY(usable());
  auto refs = LJ_TRY(store_->refs());
  std::vector<image::Digest> order;  // by first name
  for (const auto& [r, d] : refs) {
    if (std::find(order.begin(), order.end(), d) == order.end()) order.push_back(d);
  }
  json arr = json::array();
  for (const auto& d : order) {
    auto j = image_json(d, refs);
    if (!j) {
      // A name whose documents are damaged or gone: listed with its error, not hidden.
      json names = json::array();
      for (const auto& [r, dd] : refs) {
        if (dd == d) names.push_back(r);
      }
      arr.push_back({{"id", d.str()}, {"references", names}, {"error", error_object(j.error())}});
      continue;
    }
    arr.push_back(std::move(*j));
  }
  return arr;
}

Result<std::string> Images::expand_id(const std::string& text) const {
  if (text.size() < 4 || text.size() > 64 ||
      text.find_first_not_of("0123456789abcdef") != std::string::npos) {
    return text;
  }
  LJ_TRY(usable());
  auto refs = LJ_TRY(store_->refs());
  if (auto ref = image::Reference::parse(text); ref && refs.count(ref->str())) return text;
  std::set<std::string> hits;
  for (const auto& [r, d] : refs) {
    if (d.hex().starts_with(text)) hits.insert(d.str());
  }
  if (hits.size() > 1) {
    return fail(Errc::invalid_argument, "image",
                "image ID " + text + " is ambiguous: " + std::to_string(hits.size()) +
                    " images begin with it; give more digits");
  }
  return hits.empty() ? text : *hits.begin();
}

Result<json> Images::inspect(const std::string& text_in) {
  const std::string text = LJ_TRY(expand_id(text_in));
  auto d = LJ_TRY(find(text));
  return image_json(d, LJ_TRY(store_->refs()));
}

Result<json> Images::tag(const std::string& source, const std::string& target, Uid uid) {
  const std::string id = LJ_TRY(expand_id(source));
  auto d = LJ_TRY(find(id));
  LJ_TRY(store_->read_manifest(d));  // a digest that names a layer blob is not an image
  auto ref = LJ_TRY(image::Reference::parse(target));
  if (ref.digest) {
    return fail(Errc::invalid_argument, "image",
                "a tag names an image by tag, not by digest: " + target);
  }
  LJ_TRY(store_->set_ref(ref.str(), d));
  LJ_TRY(d_.emit(d_.idx.append_event("image.tagged", ref.str(), uid,
                                     json{{"id", d.str()}}.dump())));
  return inspect(ref.str());
}

Result<json> Images::remove(const std::string& text_in, Uid uid) {
  const std::string text = LJ_TRY(expand_id(text_in));
  const bool by_id = text.rfind("sha256:", 0) == 0;
  const std::string key = by_id ? text : LJ_TRY(image::Reference::parse(text)).str();
  auto d = LJ_TRY(find(key));
  auto refs = LJ_TRY(store_->refs());
  json cur = LJ_TRY(image_json(d, refs));
  std::vector<std::string> names;  // what goes: the one name, or (by ID) every name
  if (by_id) {
    for (const auto& n : cur["references"]) names.push_back(n.get<std::string>());
    if (names.empty()) {
      return fail(Errc::not_found, "image",
                  "image " + text + " has no name to remove; `image prune` removes its content");
    }
  } else {
    names.push_back(key);
  }
  if (names.size() >= cur["references"].size() && cur["in_use"].get<bool>()) {
    return fail(Errc::conflict, "image",
                "image `" + names.front() + "` is used by a running jail (its last name)");
  }
  for (const auto& n : names) {
    LJ_TRY(store_->remove_ref(n));
    LJ_TRY(d_.emit(d_.idx.append_event("image.removed", n, uid, json{{"id", d.str()}}.dump())));
  }
  cur["removed"] = true;
  return cur;
}

Result<ResolvedImage> Images::resolve(const std::string& text) {
  auto d = LJ_TRY(find(text));
  ResolvedImage out;
  out.reference = text.rfind("sha256:", 0) == 0 ? text : image::Reference::parse(text)->str();
  // Named images keep their layers (prune spares them): no unpacking on the loop thread here.
  out.image = LJ_TRY(store_->image(d));
  return out;
}

Status Images::prepare_create(CreateJail& req, std::vector<ExposedPort>* to_publish) {
  auto d = LJ_TRY(find(req.image));
  auto img = LJ_TRY(store_->image(d));
  LJ_TRY(apply_image_config(req, img.config, nullptr));
  *to_publish = LJ_TRY_CTX("image " + req.image, ports_to_publish(req, img.config));
  if (req.image.rfind("sha256:", 0) != 0) {
    auto ref = LJ_TRY(image::Reference::parse(req.image));
    ref.digest = d;
    req.image = ref.str();
  }
  return {};
}

Result<ImagePolicyFacts> Images::policy_facts(const std::string& text) const {
  auto found = find(text);
  if (!found && found.error().errc() == Errc::not_found) {
    // A jail's image is never fetched behind the caller's back (a pull is a job with progress,
    // credentials and a registry policy of its own): say how to get it.
    return fail(Errc::not_found, "image",
                found.error().message() + " here: pull it first (ljctl pull " + text +
                    ") or load it (ljctl load FILE)");
  }
  auto d = LJ_TRY(std::move(found));
  auto img = LJ_TRY(store_->image(d));
  ImagePolicyFacts f;
  if (text.rfind("sha256:", 0) == 0) {
    for (const auto& [r, target] : LJ_TRY(store_->refs())) {
      if (target != d) continue;
      if (auto ref = image::Reference::parse(r)) f.names.push_back(ref->name());
    }
  } else {
    f.names.push_back(LJ_TRY(image::Reference::parse(text)).name());
  }
  auto bad = [&](const Error& e) {
    return fail(Errc::invalid_argument, "image",
                "image " + text + ": its declared privileges: " + e.message());
  };
  if (auto it = img.config.labels.find(std::string(kPrivilegesLabel)); it != img.config.labels.end()) {
    auto p = parse_privileges(it->second);
    if (!p) return bad(p.error());
    f.declared = std::move(*p);
  }
  for (const auto& port : img.config.exposed_ports) {
    if (auto st = add_privilege("port=" + port, &f.declared); !st) return bad(st.error());
  }
  return f;
}

Result<ImagePolicyFacts> Images::chain_policy_facts(const overlay::Chain& chain) const {
  ImagePolicyFacts f;
  if (chain.image) {
    f = LJ_TRY_CTX("the base of " + chain.base(), policy_facts(chain.image->digest));
    auto ref = image::Reference::parse(chain.image->reference);
    if (ref && std::find(f.names.begin(), f.names.end(), ref->name()) == f.names.end())
      f.names.push_back(ref->name());
  }
  f.declared.merge(chain.privileges);
  return f;
}

Result<json> Images::prune(Uid uid) {
  LJ_TRY(usable());
  if (running_ > 0) {
    return fail(Errc::conflict, "image",
                "an image job is running (its blobs are not named yet); prune after it ends");
  }
  // What the names and the overlays built on images reach: manifests, configs, layer blobs,
  // diff_ids. An overlay pins its base by digest, so its image outlives every name.
  std::vector<image::Digest> roots;
  for (const auto& [r, d] : LJ_TRY(store_->refs())) roots.push_back(d);
  for (const auto& e : LJ_TRY(d_.catalog.list_overlays())) {
    if (!e.manifest.image) continue;
    if (auto d = image::Digest::parse(e.manifest.image->digest)) roots.push_back(*d);
  }
  std::set<std::string> keep_blobs, keep_layers;
  for (const auto& d : roots) {
    keep_blobs.insert(d.hex());
    auto m = store_->read_manifest(d);
    if (!m) continue;  // a damaged name keeps its manifest blob only
    keep_blobs.insert(m->config.digest.hex());
    for (const auto& l : m->layers) keep_blobs.insert(l.digest.hex());
    if (auto c = store_->read_config(m->config.digest)) {
      for (const auto& id : c->diff_ids) keep_layers.insert(id.hex());
    }
  }
  const fs::path blobs = store_->dir() / "blobs" / "sha256";
  const fs::path layers = store_->dir() / "layers" / "sha256";
  std::uint64_t freed = 0;
  std::size_t nblobs = 0, nlayers = 0;
  for (const auto& name : dir_names(layers)) {
    if (keep_layers.count(name) || d_.jails->uses(layers / name)) continue;
    std::uint64_t size = overlay::tree_size(layers / name).value_or(0);
    LJ_TRY(overlay::remove_tree(layers / name));
    freed += size;
    ++nlayers;
  }
  for (const auto& name : dir_names(blobs)) {
    if (keep_blobs.count(name)) continue;
    struct stat st {};
    if (::lstat((blobs / name).c_str(), &st) == 0) freed += static_cast<std::uint64_t>(st.st_size);
    if (::unlink((blobs / name).c_str()) != 0 && errno != ENOENT) {
      return fail_errno("image", "unlink " + (blobs / name).string());
    }
    ++nblobs;
  }
  json out = {{"blobs_removed", nblobs}, {"layers_removed", nlayers}, {"bytes_freed", freed}};
  LJ_TRY(d_.emit(d_.idx.append_event("image.pruned", "images", uid, out.dump())));
  lg()->info("pruned blobs={} layers={} bytes={}", nblobs, nlayers, freed);
  return out;
}

// ---- jobs ---------------------------------------------------------------------------------

void Images::start(std::unique_ptr<Job> job, Work work, Uid uid, JsonDone done) {
  if (Status st = usable(); !st) return done(tl::unexpected(st.error()));
  job->id = random_id("i", 4);
  while (jobs_.count(job->id)) job->id = random_id("i", 4);
  job->created_at = iso_time(index::now());
  if (Status st = save(*job); !st) return done(tl::unexpected(st.error()));
  if (Status st = d_.emit(d_.idx.append_event("image.job_started", job->id, uid,
                                              json{{"kind", job->kind}}.dump()));
      !st) {
    ::unlink((jobs_dir() / (job->id + ".json")).c_str());
    return done(tl::unexpected(st.error()));
  }
  lg()->info("job={} {} started ref={}{}", job->id, job->kind, job->reference, job->source);
  std::string id = job->id;
  auto progress = job->progress;
  json first = job_json(*job);
  jobs_.emplace(id, std::move(job));
  ++running_;
  image::Store store = *store_;
  d_.loop.long_blocking([this, id, store, progress, work = std::move(work), uid] {
    auto res = work(store, *progress);
    d_.loop.post([this, id, res = std::move(res), uid]() mutable {
      finish(id, std::move(res), uid);
    });
  });
  done(first);
}

void Images::finish(const std::string& id, Result<json> result, Uid uid) {
  --running_;
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  Job& j = *it->second;
  j.ended_at = iso_time(index::now());
  j.saved_progress = j.progress->to_json();
  if (result) {
    j.state = "succeeded";
    j.result = std::move(*result);
    lg()->info("job={} {} succeeded", id, j.kind);
  } else {
    j.state = "failed";
    j.error = error_object(result.error());
    lg()->warn("job={} {} failed: {}", id, j.kind, result.error().what());
  }
  if (Status st = save(j); !st) lg()->error("job={} recording its end: {}", id, st.error().what());
  if (Status st = d_.emit(d_.idx.append_event(
          j.state == "succeeded" ? "image.job_succeeded" : "image.job_failed", id, uid,
          json{{"kind", j.kind}}.dump()));
      !st) {
    lg()->error("job={} event: {}", id, st.error().what());
  }
  json now = job_json(j);
  auto wit = waiters_.find(id);
  if (wit != waiters_.end()) {
    auto ws = std::move(wit->second);
    waiters_.erase(wit);
    for (auto& [n, w] : ws) {
      w.timer.reset();
      w.done(json{{"resource", now}, {"timed_out", false}});
    }
  }
  trim_ended();
}

Result<json> Images::job(const std::string& id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return fail(Errc::not_found, "image", "no image job `" + id + "`");
  return job_json(*it->second);
}

Result<json> Images::jobs() {
  std::vector<const Job*> all;
  for (const auto& [id, j] : jobs_) all.push_back(j.get());
  std::sort(all.begin(), all.end(), [](const Job* a, const Job* b) {
    return std::tie(a->created_at, a->id) < std::tie(b->created_at, b->id);
  });
  json arr = json::array();
  for (const Job* j : all) arr.push_back(job_json(*j));
  return arr;
}

void Images::wait_job(const std::string& id, std::optional<std::chrono::milliseconds> timeout,
                      JsonDone done) {
  auto cur = job(id);
  if (!cur) return done(cur);
  if ((*cur)["state"] != "running") return done(json{{"resource", *cur}, {"timed_out", false}});
  std::uint64_t n = next_waiter_++;
  Waiter& w = waiters_[id][n];
  w.done = std::move(done);
  if (!timeout) return;
  w.timer = d_.loop.after(*timeout, [this, id, n] {
    auto it = waiters_.find(id);
    if (it == waiters_.end() || !it->second.count(n)) return;
    auto cb = std::move(it->second.at(n).done);
    it->second.erase(n);
    if (it->second.empty()) waiters_.erase(it);
    auto now = job(id);
    if (!now) return cb(now);
    cb(json{{"resource", *now}, {"timed_out", true}});
  });
}

namespace {

// Where the daemon's registry credentials are: root/.ljd/auth.json when present (ljctl login
// writes it), else lib/image's default ($REGISTRY_AUTH_FILE, then root's ~/.docker/config.json).
std::string auth_file_of(const fs::path& root) {
  fs::path p = root / ".ljd" / "auth.json";
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 ? p.string() : std::string();
}

}  // namespace

void Images::pull(PullRequest req, Uid uid, JsonDone done) {
  auto ref = image::Reference::parse(req.reference);
  if (!ref) return done(tl::unexpected(ref.error()));
  auto job = std::make_unique<Job>();
  job->kind = "pull";
  job->reference = ref->str();
  image::RegistryOptions opt;
  opt.insecure = req.insecure;
  opt.unpack.allow_devices = req.allow_devices;
  opt.auth_file = auth_file_of(d_.cfg.root);
  start(std::move(job),
        [ref = *ref, opt](const image::Store& store, Progress& p) -> Result<json> {
          auto r = LJ_TRY(image::pull(store, ref, opt, [&p](const image::LayerProgress& lp) {
            p.update(lp);
            // Test seam: ljd killed with a layer half-fetched (tests/image/daemon_image_test.sh).
            if (lp.state == "fetching" && lp.done > 0) crash_point("image.fetching");
          }));
          return json{{"images", json::array({{{"reference", r.ref}, {"id", r.manifest.str()}}})},
                      {"layers", r.layers},
                      {"fetched", r.fetched},
                      {"bytes_fetched", r.bytes_fetched}};
        },
        uid, std::move(done));
}

void Images::load(LoadRequest req, Uid uid, JsonDone done) {
  if (req.source.empty() || req.source.front() != '/') {
    return done(fail(Errc::invalid_argument, "image", "source must be an absolute path"));
  }
  struct stat st {};
  if (::stat(req.source.c_str(), &st) != 0) {
    return done(fail_errno("image", "source " + req.source));
  }
  if (req.name) {
    if (auto r = image::Reference::parse(*req.name); !r) return done(tl::unexpected(r.error()));
  }
  auto job = std::make_unique<Job>();
  job->kind = "load";
  job->source = req.source;
  image::ImportOptions opt;
  opt.name = req.name;
  opt.unpack.allow_devices = req.allow_devices;
  start(std::move(job),
        [source = req.source, opt](const image::Store& store, Progress&) -> Result<json> {
          auto imported = LJ_TRY(image::import_images(store, source, opt));
          json images = json::array();
          std::size_t layers = 0;
          for (const auto& i : imported) {
            images.push_back({{"reference", opt_string(i.ref)}, {"id", i.manifest.str()}});
            layers += i.layers;
          }
          return json{{"images", std::move(images)}, {"layers", layers}};
        },
        uid, std::move(done));
}

void Images::export_overlay(ExportOverlayRequest req, Uid uid, JsonDone done) {
  auto resolve = [&]() -> Result<std::pair<overlay::Chain, image::ExportRequest>> {
    LJ_TRY(usable());
    auto dest = LJ_TRY(image::Reference::parse(req.reference));
    req.reference = dest.str();
    auto name = LJ_TRY(overlay::OverlayName::parse(req.overlay));
    auto constraint =
        LJ_TRY(overlay::Constraint::parse(req.version.empty() ? "*" : req.version));
    auto version = LJ_TRY(d_.catalog.find(name, constraint));
    auto chain = LJ_TRY(d_.catalog.resolve(name, version));
    image::ExportRequest ex;
    ex.labels["org.lightjail.overlay"] = name.str() + "@" + version.str();
    if (req.include_base && chain.image) {
      ex.base = LJ_TRY(image::Digest::parse(chain.image->digest));
      ex.labels["org.lightjail.base"] = chain.base();
    } else if (req.include_base && chain.world) {
      ex.layers.push_back({d_.catalog.root().world_dir(*chain.world), chain.base()});
      ex.labels["org.lightjail.base"] = chain.base();
    }
    for (const auto& o : chain.overlays) {
      ex.layers.push_back({d_.catalog.root().layer_dir(o.name, o.version),
                           "overlay " + o.name.str() + "@" + o.version.str()});
    }
    // What the chain declares (its Jailfiles' `privileges`), and its base image's declaration
    // when that image is in the export: the image declares them again wherever it is pulled.
    Privileges declared = chain.privileges;
    if (ex.base) {
      auto base = LJ_TRY_CTX("the base of " + chain.base(), store_->image(*ex.base));
      if (auto it = base.config.labels.find(std::string(kPrivilegesLabel));
          it != base.config.labels.end()) {
        declared.merge(LJ_TRY_CTX("the base of " + chain.base(), parse_privileges(it->second)));
      }
    }
    if (!declared.empty()) ex.labels[std::string(kPrivilegesLabel)] = declared.list();
    return std::make_pair(std::move(chain), std::move(ex));
  };
  auto r = resolve();
  if (!r) return done(tl::unexpected(r.error()));
  auto job = std::make_unique<Job>();
  job->kind = "export";
  job->source = req.overlay + (req.version.empty() ? "" : "@" + req.version);
  job->destination = req.reference;
  // The chain's directories are published overlays (immutable) and a world; a removal while the
  // export reads them fails the export, not the removal (as a removal under a build would).
  start(std::move(job),
        [ex = std::move(r->second), ref = req.reference](const image::Store& store,
                                                          Progress& p) -> Result<json> {
          auto m = LJ_TRY(image::export_image(
              store, ex,
              [&p](std::size_t i, std::size_t count, std::uint64_t bytes, bool finished) {
                image::LayerProgress lp;
                lp.index = i;
                lp.count = count;
                lp.done = bytes;
                lp.total = finished ? bytes : 0;
                lp.state = finished ? "done" : "exporting";
                p.update(lp);
              }));
          // Runnable here as it is, without a pull back: its layers unpacked into the store
          // (once per diff_id; the base image's are there already), their files hard links to
          // the trees' (install_export), before it is named. Device nodes as in the trees: they
          // are the host's own world and overlays, whose jails see the same nodes; the unpack
          // policy is for layers from elsewhere.
          image::UnpackPolicy own_trees;
          own_trees.allow_devices = true;
          LJ_TRY_CTX("unpacking the exported layers", image::install_export(store, m, ex, own_trees));
          LJ_TRY(store.set_ref(ref, m));
          return json{{"images", json::array({{{"reference", ref}, {"id", m.str()}}})},
                      {"layers", ex.layers.size()}};
        },
        uid, std::move(done));
}

void Images::save(SaveRequest req, Uid uid, JsonDone done) {
  if (uid != 0) {
    return done(fail(Errc::permission_denied, "image",
                     "save writes a host file as root: only a root caller may (use skopeo copy "
                     "from a pushed image otherwise)"));
  }
  if (req.destination.empty() || req.destination.front() != '/') {
    return done(fail(Errc::invalid_argument, "image", "destination must be an absolute path"));
  }
  auto id = expand_id(req.reference);
  if (!id) return done(tl::unexpected(id.error()));
  req.reference = *id;
  auto manifest = find(req.reference);
  if (!manifest) return done(tl::unexpected(manifest.error()));
  std::string name;
  if (req.reference.rfind("sha256:", 0) != 0) {
    name = image::Reference::parse(req.reference)->str();
  }
  // Written under a temporary name beside it, then link(2)ed into place: link never replaces a
  // file, and a save cut short (ljd killed) leaves the temporary, never a truncated archive
  // under the name asked for.
  struct stat exists {};
  if (::lstat(req.destination.c_str(), &exists) == 0) {
    return done(fail(Errc::exists, "image", req.destination + " exists; save makes a new file"));
  }
  const std::string partial = req.destination + ".lj-partial";
  UniqueFd fd(::open(partial.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return done(fail_errno("image", "create " + partial));
  auto job = std::make_unique<Job>();
  job->kind = "save";
  job->reference = req.reference;
  job->destination = req.destination;
  auto shared_fd = std::make_shared<UniqueFd>(std::move(fd));
  start(std::move(job),
        [m = *manifest, name, dest = req.destination, partial, shared_fd](
            const image::Store& store, Progress&) -> Result<json> {
          Status st = image::write_oci_archive(store, m, name, shared_fd->get());
          if (st && ::fsync(shared_fd->get()) != 0) st = fail_errno("image", "fsync " + partial);
          if (st && ::link(partial.c_str(), dest.c_str()) != 0) {
            st = fail_errno("image", "link " + partial + " to " + dest);
          }
          ::unlink(partial.c_str());
          if (!st) return fail(st.error());
          struct stat sb {};
          ::fstat(shared_fd->get(), &sb);
          return json{{"images", json::array({{{"reference", opt_string(name)}, {"id", m.str()}}})},
                      {"bytes", sb.st_size}};
        },
        uid, std::move(done));
}

void Images::login(LoginRequest req, Uid uid, JsonDone done) {
  if (req.registry.empty() || req.registry.find('/') != std::string::npos) {
    return done(fail(Errc::invalid_argument, "image", "registry is a host[:port], no path"));
  }
  const std::string file = (d_.cfg.root / ".ljd" / "auth.json").string();
  image::RegistryOptions opt;
  opt.insecure = req.insecure;
  // A network round trip (and a token fetch): off the loop thread.
  d_.loop.long_blocking([this, req = std::move(req), file, opt, uid, done = std::move(done)] {
    Status st = image::login(req.registry, req.username, req.password, file, opt);
    d_.loop.post([this, st = std::move(st), req, uid, done]() mutable {
      if (!st) return done(fail(st.error()));
      (void)d_.emit(d_.idx.append_event("image.login", req.registry, uid,
                                        json{{"username", req.username}}.dump()));
      done(json{{"registry", req.registry}, {"username", req.username}});
    });
  });
}

Result<json> Images::logout(const std::string& registry, Uid uid) {
  LJ_TRY(image::logout(registry, (d_.cfg.root / ".ljd" / "auth.json").string()));
  LJ_TRY(d_.emit(d_.idx.append_event("image.logout", registry, uid, "{}")));
  return json{{"registry", registry}};
}

void Images::push(PushRequest req, Uid uid, JsonDone done) {
  auto id = expand_id(req.reference);
  if (!id) return done(tl::unexpected(id.error()));
  req.reference = *id;
  auto manifest = find(req.reference);
  if (!manifest) return done(tl::unexpected(manifest.error()));
  auto dest = image::Reference::parse(req.destination.empty() ? req.reference : req.destination);
  if (!dest) return done(tl::unexpected(dest.error()));
  auto job = std::make_unique<Job>();
  job->kind = "push";
  job->reference = req.reference;
  job->destination = dest->str();
  image::RegistryOptions opt;
  opt.insecure = req.insecure;
  opt.auth_file = auth_file_of(d_.cfg.root);
  start(std::move(job),
        [m = *manifest, dest = *dest, opt](const image::Store& store, Progress& p) -> Result<json> {
          LJ_TRY(image::push(store, m, dest, opt,
                             [&p](const image::LayerProgress& lp) { p.update(lp); }));
          return json{{"images", json::array({{{"reference", dest.str()}, {"id", m.str()}}})}};
        },
        uid, std::move(done));
}

}  // namespace lj::daemon
