#include "daemon/resources.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "build/builder.hpp"
#include "common/log.hpp"
#include "common/random_id.hpp"
#include "daemon/crash_point.hpp"
#include "daemon/images.hpp"
#include "daemon/jails.hpp"
#include "daemon/wire.hpp"
#include "image/import.hpp"
#include "overlay/fs_ops.hpp"
#include "overlay/world_import.hpp"

namespace lj::daemon {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

auto lg() {
  return lj::log("daemon");
}

std::string error_json(const Error& e) {
  return json{{"code", e.code()}, {"message", e.what()}}.dump();
}

bool is_dir(const fs::path& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

}  // namespace

// An import in flight: its progress, updated by the importing thread, read by the loop.
struct Resources::Import {
  std::shared_ptr<std::atomic<std::uint64_t>> entries =
      std::make_shared<std::atomic<std::uint64_t>>(0);
  std::shared_ptr<std::atomic<std::uint64_t>> bytes =
      std::make_shared<std::atomic<std::uint64_t>>(0);
};

// A build in flight: its output records.
struct Resources::Running {
  std::unique_ptr<RecordLog> log;
  fs::path inline_context;  // removed at the end when the Jailfile came inline
};

Resources::Resources(Daemon& d) : d_(d) {}
Resources::~Resources() = default;

// ---- waiters ------------------------------------------------------------------------------

void Resources::add_waiter(std::map<std::string, std::map<std::uint64_t, Waiter>>& table,
                           const std::string& key, std::optional<std::chrono::milliseconds> timeout,
                           JsonDone done, std::function<Result<json>()> current) {
  std::uint64_t n = next_waiter_++;
  Waiter& w = table[key][n];
  w.done = std::move(done);
  if (timeout) {
    w.timer = d_.loop.after(*timeout, [&table, key, n, current = std::move(current)] {
      auto it = table.find(key);
      if (it == table.end()) return;
      auto wit = it->second.find(n);
      if (wit == it->second.end()) return;
      auto cb = std::move(wit->second.done);
      it->second.erase(wit);
      if (it->second.empty()) table.erase(it);
      auto cur = current();
      if (!cur) return cb(cur);
      cb(json{{"resource", *cur}, {"timed_out", true}});
    });
  }
}

void Resources::answer(std::map<std::string, std::map<std::uint64_t, Waiter>>& table,
                       const std::string& key, const Result<json>& value) {
  auto it = table.find(key);
  if (it == table.end()) return;
  auto ws = std::move(it->second);
  table.erase(it);
  for (auto& [n, w] : ws) {
    w.timer.reset();
    if (!value)
      w.done(tl::unexpected(value.error()));
    else
      w.done(json{{"resource", *value}, {"timed_out", false}});
  }
}

// ---- worlds -------------------------------------------------------------------------------

namespace {

// The index's word for a world, checked against the disk: a ready world whose directory was
// removed by hand is failed (no jail can run on it), with an error that names the path. The row
// is left as it is: putting the directory back makes the world ready again.
json checked_world_json(const index::WorldRow& r) {
  json j = world_json(r);
  if (r.state == index::WorldState::ready && !is_dir(r.path)) {
    j["state"] = "failed";
    j["error"] = {{"code", "world.not_found"},
                  {"message", "the world directory " + r.path +
                                  " is gone (removed by hand?); DELETE the world to forget it"}};
  }
  return j;
}

}  // namespace

Result<json> Resources::world_json_of(const std::string& name) {
  auto row = d_.idx.get_world(name);
  json j;
  if (row) {
    j = checked_world_json(*row);
  } else if (row.error().errc() != Errc::not_found) {
    return tl::unexpected(row.error());
  } else {
    // A world put under root/worlds by hand (the seeds' way): ready, with no import record.
    auto wn = overlay::WorldName::parse(name);
    if (!wn || !is_dir(d_.catalog.root().world_dir(*wn))) {
      return fail(Errc::not_found, "world", "no world `" + name + "`");
    }
    j = {{"name", name},          {"path", d_.catalog.root().world_dir(*wn).string()},
         {"source", nullptr},     {"state", "ready"},
         {"size_bytes", nullptr}, {"created_at", nullptr},
         {"error", nullptr}};
  }
  if (auto it = imports_.find(name); it != imports_.end()) {
    j["progress"] = {{"entries", it->second->entries->load()},
                     {"bytes", it->second->bytes->load()}};
  }
  return j;
}

Result<json> Resources::world(std::string_view name) {
  return world_json_of(std::string(name));
}

Result<json> Resources::worlds() {
  std::map<std::string, json> out;
  auto rows = LJ_TRY(d_.idx.list_worlds());
  for (const auto& r : rows) out[r.name] = checked_world_json(r);
  auto dirs = LJ_TRY(d_.catalog.list_worlds());
  for (const auto& w : dirs) {
    if (!out.count(w.str())) out[w.str()] = LJ_TRY(world_json_of(w.str()));
  }
  json arr = json::array();
  for (auto& [name, j] : out) {
    if (auto it = imports_.find(name); it != imports_.end()) {
      j["progress"] = {{"entries", it->second->entries->load()},
                       {"bytes", it->second->bytes->load()}};
    }
    arr.push_back(std::move(j));
  }
  return arr;
}

void Resources::import_world(const std::string& name, const std::string& source, Uid uid,
                             JsonDone done) {
  auto wn = overlay::WorldName::parse(name);
  if (!wn) return done(tl::unexpected(wn.error()));
  if (source.empty() || source.front() != '/') {
    return done(fail(Errc::invalid_argument, "world", "source must be an absolute path"));
  }
  if (::access(source.c_str(), R_OK) != 0) {
    return done(fail_errno("world", "source " + source));
  }
  // An image holds no tree: say so before making a record that could only fail (issue 16's
  // first report: "no usable /bin/sh" and a `failed` world left behind). A few reads.
  if (auto kind = image::image_source_kind(source)) {
    return done(fail(Errc::invalid_argument, "world",
                     source + " is " + *kind + ", not a root filesystem: load it as an image (" +
                         "ljctl load " + source + ") and run that (ljctl run IMAGE)"));
  }
  if (is_dir(d_.catalog.root().world_dir(*wn))) {
    return done(fail(Errc::exists, "world", "world `" + name + "` exists"));
  }
  if (auto old = d_.idx.get_world(name); old) {
    if (old->state == index::WorldState::importing) {
      return done(fail(Errc::exists, "world", "world `" + name + "` is being imported"));
    }
    (void)d_.emit(d_.idx.delete_world(name, uid));  // a failed import's record makes way
  }
  index::WorldRow row;
  row.name = name;
  row.path = d_.catalog.root().world_dir(*wn).string();
  row.source = source;
  if (auto st = d_.emit(d_.idx.insert_world(row, uid)); !st)
    return done(tl::unexpected(st.error()));
  crash_point("world.after_row");
  auto& imp = imports_[name];
  imp = std::make_unique<Import>();
  auto entries = imp->entries;
  auto bytes = imp->bytes;
  overlay::Root root = d_.catalog.root();
  overlay::WorldName world = *wn;
  d_.loop.long_blocking([this, root, world, source, entries, bytes, name, uid] {
    auto res = overlay::import_world(root, world, source, [&](const overlay::ImportProgress& p) {
      entries->store(p.entries, std::memory_order_relaxed);
      crash_point("world.copying");
      bytes->store(p.bytes, std::memory_order_relaxed);
    });
    Result<std::uint64_t> out = res ? Result<std::uint64_t>(res->bytes)
                                    : Result<std::uint64_t>(tl::unexpected(res.error()));
    d_.loop.post([this, name, out = std::move(out), uid]() mutable {
      finish_import(name, std::move(out), uid);
    });
  });
  done(world_json_of(name));
}

void Resources::finish_import(const std::string& name, Result<std::uint64_t> bytes, Uid uid) {
  imports_.erase(name);
  crash_point("world.before_ready");
  Status st = bytes ? d_.emit(d_.idx.transition(name, index::WorldState::ready, *bytes, uid))
                    : d_.emit(d_.idx.transition(name, index::WorldState::failed,
                                                error_json(bytes.error()), uid));
  if (!st) lg()->error("world={} recording the import's end: {}", name, st.error().what());
  if (!bytes)
    lg()->warn("world={} import failed: {}", name, bytes.error().what());
  else
    lg()->info("world={} imported bytes={}", name, *bytes);
  answer(world_waiters_, name, world_json_of(name));
}

void Resources::wait_world(const std::string& name,
                           std::optional<std::chrono::milliseconds> timeout, JsonDone done) {
  auto cur = world_json_of(name);
  if (!cur) return done(cur);
  if (!imports_.count(name)) return done(json{{"resource", *cur}, {"timed_out", false}});
  add_waiter(world_waiters_, name, timeout, std::move(done),
             [this, name] { return world_json_of(name); });
}

Result<json> Resources::remove_world(const std::string& name, Uid uid) {
  auto cur = LJ_TRY(world_json_of(name));
  if (imports_.count(name)) {
    return fail(Errc::conflict, "world", "world `" + name + "` is being imported");
  }
  auto wn = LJ_TRY(overlay::WorldName::parse(name));
  fs::path dir = d_.catalog.root().world_dir(wn);
  if (d_.jails->uses(dir)) {
    return fail(Errc::conflict, "world", "world `" + name + "` is used by a running jail");
  }
  if (is_dir(dir)) LJ_TRY(d_.catalog.remove_world(wn));
  auto row = d_.idx.get_world(name);
  if (row) {
    LJ_TRY(d_.emit(d_.idx.delete_world(name, uid)));
  } else {
    LJ_TRY(d_.emit(d_.idx.append_event("world.removed", name, uid)));
  }
  cur["state"] = "removed";
  return cur;
}

// ---- overlays -----------------------------------------------------------------------------

namespace {
json entry_json(const overlay::Manifest& m) {
  return {{"name", m.name},
          {"version", m.version},
          {"world", m.world},
          {"image", m.image ? json{{"reference", m.image->reference}, {"digest", m.image->digest}}
                            : json()},
          {"parent", m.parent ? json{{"name", m.parent->name},
                                     {"version", m.parent->version},
                                     {"constraint", m.parent->constraint}}
                              : json()},
          {"size_bytes", m.size_bytes},
          {"created_at", m.created},
          {"build_id", m.build_id.empty() ? json() : json(m.build_id)},
          {"privileges", m.privileges.items()},
          {"manifest", overlay::manifest_to_json(m)}};
}
}  // namespace

Result<json> Resources::overlays(std::string_view name_filter) {
  auto entries = LJ_TRY(d_.catalog.list_overlays());
  json arr = json::array();
  for (const auto& e : entries) {
    if (!name_filter.empty() && e.name.str() != name_filter) continue;
    arr.push_back(entry_json(e.manifest));
  }
  if (!name_filter.empty() && arr.empty()) {
    return fail(Errc::not_found, "overlay", "no overlay `" + std::string(name_filter) + "`");
  }
  return arr;
}

Result<json> Resources::overlay(const std::string& name, const std::string& version) {
  auto n = LJ_TRY(overlay::OverlayName::parse(name));
  auto v = LJ_TRY(overlay::Version::parse(version));
  auto m = LJ_TRY(d_.catalog.manifest(n, v));
  json j = entry_json(m);
  j["dependents"] = json::array();
  for (const auto& dep : LJ_TRY(d_.catalog.dependents(n, v))) {
    j["dependents"].push_back({{"name", dep.name.str()}, {"version", dep.version.str()}});
  }
  j["in_use"] = d_.jails->uses(d_.catalog.root().layer_dir(n, v));
  // What a jail on this version is weighed with besides its request: the chain's declarations
  // and its base image's (api_jails.cpp, chain_facts). null when the chain does not resolve.
  j["chain_privileges"] = nullptr;
  if (auto chain = d_.catalog.resolve(n, v)) {
    if (auto facts = d_.images->chain_policy_facts(*chain)) j["chain_privileges"] = facts->declared.items();
  }
  return j;
}

Result<json> Resources::remove_overlay(const std::string& name, const std::string& version,
                                       Uid uid) {
  json cur = LJ_TRY(overlay(name, version));
  if (cur["in_use"].get<bool>()) {
    return fail(Errc::conflict, "overlay",
                "overlay " + name + "@" + version + " is used by a running jail");
  }
  auto n = LJ_TRY(overlay::OverlayName::parse(name));
  auto v = LJ_TRY(overlay::Version::parse(version));
  LJ_TRY(d_.catalog.remove(n, v));  // conflict while a child overlay names it
  crash_point("overlay.after_remove");
  if (d_.idx.get_overlay(name, version)) {
    LJ_TRY(d_.emit(d_.idx.delete_overlay(name, version, uid)));
  } else {
    LJ_TRY(d_.emit(d_.idx.append_event("overlay.removed", name + "@" + version, uid)));
  }
  cur["removed"] = true;
  return cur;
}

// ---- builds -------------------------------------------------------------------------------

std::string Resources::build_records_path(std::string_view id) const {
  return (d_.cfg.root / ".ljd" / "builds" / (std::string(id) + ".ndjson")).string();
}

Result<json> Resources::build_json_of(std::string_view id) {
  auto row = d_.idx.get_build(id);
  if (!row && row.error().errc() == Errc::not_found) {
    return fail(Errc::not_found, "build", "no build `" + std::string(id) + "`");
  }
  if (!row) return tl::unexpected(row.error());
  return build_json(*row);
}

Result<json> Resources::build(std::string_view id) {
  return build_json_of(id);
}

Result<json> Resources::builds(std::optional<index::BuildState> state) {
  auto rows = LJ_TRY(d_.idx.list_builds(state));
  json arr = json::array();
  for (const auto& r : rows) arr.push_back(build_json(r));
  return arr;
}

void Resources::submit_build(BuildSubmit req, Uid uid, JsonDone done) {
  if (!d_.backend) {
    return done(fail(Errc::unsupported, "build", "this ljd was built without a jail backend"));
  }
  if (d_.stopping) return done(fail(Errc::busy, "build", "ljd is shutting down"));
  std::string id = lj::random_id("b", 4);
  fs::path context, jailfile, inline_ctx;
  std::error_code ec;
  if (!req.jailfile.empty()) {
    inline_ctx = d_.cfg.root / ".ljd" / "builds" / (id + ".context");
    fs::create_directories(inline_ctx, ec);
    if (ec)
      return done(fail(Error::from_errno("build", "mkdir " + inline_ctx.string(), ec.value())));
    std::ofstream(inline_ctx / "Jailfile") << req.jailfile;
    context = inline_ctx;
  } else {
    context = req.context;
    if (!is_dir(context)) {
      return done(fail(Errc::not_found, "build", "no context directory " + req.context));
    }
  }
  jailfile = context / "Jailfile";
  if (::access(jailfile.c_str(), R_OK) != 0) {
    return done(
        fail(Errc::invalid_argument, "build", "no readable Jailfile in " + context.string()));
  }
  index::BuildRow row;
  row.id = id;
  row.jailfile = req.jailfile;
  row.context = req.jailfile.empty() ? req.context : "";
  row.log_path = build_records_path(id);
  auto ins = d_.idx.insert_build(row, uid);
  if (!ins) return done(tl::unexpected(ins.error()));
  d_.events.publish(ins->second);
  auto& run = running_[id];
  run = std::make_unique<Running>();
  run->log = std::make_unique<RecordLog>(build_records_path(id));
  run->inline_context = inline_ctx;
  if (auto st = d_.emit(d_.idx.transition(id, index::BuildState::running, {}, uid)); !st) {
    lg()->warn("build={} recording its start: {}", id, st.error().what());
  }
  crash_point("build.after_row");

  build::BuildRequest br;
  br.jailfile = jailfile;
  br.context = context;
  br.default_world = d_.cfg.default_world;
  br.force = req.force;
  br.build_id = id;
  br.limits = req.limits;
  // A build runs a Jailfile's script: untrusted code, bounded like a jail by ljd's defaults.
  if (!br.limits.memory_bytes) br.limits.memory_bytes = d_.cfg.default_memory_bytes;
  if (!br.limits.pids) br.limits.pids = d_.cfg.default_pids;
  if (!br.limits.cpu_percent) br.limits.cpu_percent = d_.cfg.default_cpu_percent;
  br.on_output = [this, id](std::string_view line) {
    d_.loop.post([this, id, l = std::string(line)] { build_line(id, l); });
  };
  jail::Backend* backend = d_.backend.get();
  overlay::Root root = d_.catalog.root();
  d_.loop.long_blocking([this, br = std::move(br), backend, root, id, uid] {
    build::Builder builder(root, *backend);
    auto res = builder.build(br);
    Result<json> out = fail(Errc::internal, "build", "no result");
    if (res) {
      out = json{{"name", res->name},
                 {"version", res->version},
                 {"world", res->world},
                 {"image", res->image ? json{{"reference", res->image->reference},
                                             {"digest", res->image->digest}}
                                      : json()},
                 {"cache_hit", res->cache_hit},
                 {"size_bytes", res->size_bytes},
                 {"parent",
                  res->parent ? json{{"name", res->parent->name}, {"version", res->parent->version}}
                              : json()}};
    } else {
      out = tl::unexpected(res.error());
    }
    d_.loop.post(
        [this, id, out = std::move(out), uid]() mutable { finish_build(id, std::move(out), uid); });
  });
  done(build_json_of(id));
}

void Resources::build_line(const std::string& id, std::string_view line) {
  auto it = running_.find(id);
  if (it == running_.end()) return;
  crash_point("build.output");
  std::string fields = R"(,"data":)";
  fields += json(std::string(line)).dump(-1, ' ', false, json::error_handler_t::replace);
  fields += R"(,"time":")" + iso_time(index::now()) + "\"";
  it->second->log->append(fields, d_.cfg.stream_backlog_bytes);
}

void Resources::finish_build(const std::string& id, Result<json> result, Uid uid) {
  // The inline context goes before the end is recorded: a kill between the two leaves a build in
  // flight, whose context recovery removes; the other order left a finished build's context
  // behind for good (recovery looks only at builds in flight).
  if (auto it = running_.find(id); it != running_.end() && !it->second->inline_context.empty()) {
    if (auto st = overlay::remove_tree(it->second->inline_context); !st) {
      lg()->warn("build={} removing its context: {}", id, st.error().what());
    }
  }
  crash_point("build.before_record");
  index::BuildRow out;
  index::BuildState state = index::BuildState::succeeded;
  if (result) {
    const json& r = *result;
    out.name = r["name"];
    out.version = r["version"];
    out.cache_hit = r["cache_hit"];
    out.published = !out.cache_hit;
    if (out.published) {
      auto n = overlay::OverlayName::parse(out.name);
      auto v = overlay::Version::parse(out.version);
      if (n && v) {
        if (auto m = d_.catalog.manifest(*n, *v)) {
          index::OverlayRow orow;
          orow.name = out.name;
          orow.version = out.version;
          orow.world = m->world;
          if (m->parent) {
            orow.parent_name = m->parent->name;
            orow.parent_version = m->parent->version;
          }
          orow.manifest = overlay::manifest_to_json(*m).dump();
          orow.size_bytes = m->size_bytes;
          if (d_.idx.get_overlay(out.name, out.version)) {
            (void)d_.idx.delete_overlay(out.name, out.version, uid);  // force rebuilt it
          }
          if (auto st = d_.emit(d_.idx.insert_overlay(orow, uid)); !st) {
            lg()->warn("build={} recording overlay {}@{}: {}", id, out.name, out.version,
                       st.error().what());
          }
        }
      }
    }
  } else {
    state = index::BuildState::failed;
    out.error = error_json(result.error());
    lg()->warn("build={} failed: {}", id, result.error().what());
  }
  if (auto st = d_.emit(d_.idx.transition(id, state, out, uid)); !st) {
    lg()->error("build={} recording its end: {}", id, st.error().what());
  }
  crash_point("build.after_record");
  auto cur = build_json_of(id);
  auto it = running_.find(id);
  if (it != running_.end()) {
    if (cur) {
      json end = {{"type", "end"},
                  {"seq", it->second->log->last_seq() + 1},
                  {"state", (*cur)["state"]},
                  {"overlay", (*cur)["overlay"]},
                  {"error", (*cur)["error"]}};
      it->second->log->end_followers(end.dump());
    }
    running_.erase(it);
  }
  answer(build_waiters_, id, cur);
}

void Resources::wait_build(const std::string& id, std::optional<std::chrono::milliseconds> timeout,
                           JsonDone done) {
  auto cur = build_json_of(id);
  if (!cur) return done(cur);
  if (!running_.count((*cur)["id"].get<std::string>())) {
    return done(json{{"resource", *cur}, {"timed_out", false}});
  }
  add_waiter(build_waiters_, id, timeout, std::move(done),
             [this, id] { return build_json_of(id); });
}

Status Resources::build_logs(const std::string& id, std::uint64_t after, bool follow,
                             std::shared_ptr<StreamWriter> w) {
  auto cur = LJ_TRY(build_json_of(id));
  std::uint64_t last = replay_records(build_records_path(id), after, w.get());
  auto it = running_.find(id);
  if (it == running_.end()) {
    w->write(json{{"type", "end"},
                  {"seq", last + 1},
                  {"state", cur["state"]},
                  {"overlay", cur["overlay"]},
                  {"error", cur["error"]}}
                 .dump());
    w->end();
    return {};
  }
  if (!follow) {
    w->end();
    return {};
  }
  it->second->log->follow(std::move(w), std::max(after, last));
  return {};
}

// ---- start-up and shutdown ----------------------------------------------------------------

namespace {
// Bytes of the files under `dir` (a world published before its row said so); 0 when it cannot be
// walked. overlay::tree_size walks any depth without following a symlink.
std::uint64_t tree_bytes(const fs::path& dir) {
  return overlay::tree_size(dir).value_or(0);
}
}  // namespace

void Resources::recover(std::function<void()> done) {
  RecoveryReport& rep = d_.recovery;
  Error interrupted(Errc::busy, "daemon", "interrupted: ljd stopped while it ran");
  // Imports: the rename into worlds/ is an import's commit point; a world directory there is
  // complete, whatever its row says.
  if (auto ws = d_.idx.list_worlds_importing()) {
    for (const auto& w : *ws) {
      auto wn = overlay::WorldName::parse(w.name);
      fs::path dir = wn ? d_.catalog.root().world_dir(*wn) : fs::path();
      if (wn && is_dir(dir)) {
        (void)d_.emit(
            d_.idx.transition(w.name, index::WorldState::ready, tree_bytes(dir), std::nullopt));
        ++rep.imports_ready;
        lg()->info("recovery: world={} import had completed; marked ready", w.name);
      } else {
        (void)d_.emit(d_.idx.transition(w.name, index::WorldState::failed, error_json(interrupted),
                                        std::nullopt));
        ++rep.imports_failed;
        lg()->info("recovery: world={} import marked failed", w.name);
      }
    }
  } else {
    lg()->error("recovery: listing imports: {}", ws.error().what());
  }
  // Builds: publishing (a rename) is a build's commit point; an overlay whose manifest names the
  // build means it succeeded, and its row and end are recorded now.
  std::map<std::string, const overlay::OverlayEntry*> by_build;
  auto on_disk = d_.catalog.list_overlays();
  if (!on_disk) lg()->error("recovery: listing overlays: {}", on_disk.error().what());
  if (on_disk) {
    for (const auto& e : *on_disk) {
      if (!e.manifest.build_id.empty()) by_build[e.manifest.build_id] = &e;
    }
  }
  std::vector<std::string> interrupted_builds;
  if (auto bs = d_.idx.list_builds_in_flight()) {
    for (const auto& b : *bs) {
      if (auto st = overlay::remove_tree(d_.cfg.root / ".ljd" / "builds" / (b.id + ".context"));
          !st) {
        lg()->warn("recovery: build={} removing its context: {}", b.id, st.error().what());
      }
      if (auto it = by_build.find(b.id); it != by_build.end()) {
        const overlay::OverlayEntry& e = *it->second;
        finish_build(
            b.id, json{{"name", e.name.str()}, {"version", e.version.str()}, {"cache_hit", false}},
            std::nullopt);
        ++rep.builds_published;
        lg()->info("recovery: build={} had published {}@{}; marked succeeded", b.id, e.name.str(),
                   e.version.str());
        continue;
      }
      interrupted_builds.push_back(b.id);
      index::BuildRow out;
      out.error = error_json(interrupted);
      (void)d_.emit(d_.idx.transition(b.id, index::BuildState::failed, out, std::nullopt));
      ++rep.builds_failed;
      lg()->info("recovery: build={} marked failed", b.id);
    }
  } else {
    lg()->error("recovery: listing builds: {}", bs.error().what());
  }
  // Overlay rows whose directory is gone (ljd died between removing it and its row).
  if (auto rows = d_.idx.list_overlays(); rows && on_disk) {
    for (const auto& r : *rows) {
      bool present = false;
      for (const auto& e : *on_disk) {
        present = present || (e.name.str() == r.name && e.version.str() == r.version);
      }
      if (present) continue;
      (void)d_.emit(d_.idx.delete_overlay(r.name, r.version, std::nullopt));
      ++rep.overlay_rows_removed;
      lg()->info("recovery: overlay {}@{} is gone from disk; row removed", r.name, r.version);
    }
  }
  // Staging leftovers of interrupted builds and imports (a half-copied world can be large: off
  // the loop). Nothing else runs yet, so nothing new is staged meanwhile.
  overlay::Catalog catalog = d_.catalog;
  jail::Backend* backend = d_.backend.get();
  d_.loop.long_blocking(
      [this, catalog, backend, interrupted_builds, done = std::move(done)]() mutable {
        // The build jail died with ljd (die_with_parent); its cgroups did not. lib/build names it
        // "lj-<build id>".
        for (const auto& id : interrupted_builds) {
          jail::JailHandle h;
          h.name = "lj-" + id;
          if (Status st = backend ? backend->release(h) : Status{}; !st) {
            lg()->warn("recovery: releasing the jail of build={}: {}", id, st.error().what());
          }
        }
        auto n = catalog.clean_staging();
        d_.loop.post([this, n = std::move(n), done = std::move(done)] {
          if (!n) {
            lg()->warn("recovery: cleaning .staging: {}", n.error().what());
          } else {
            d_.recovery.staging_removed = *n;
            if (*n > 0) lg()->info("recovery: removed {} staging leftovers", *n);
          }
          done();
        });
      });
}

void Resources::shutdown() {
  for (auto& [id, r] : running_) {
    r->log->end_followers(R"({"type":"end","state":"unknown","reason":"ljd is shutting down"})");
  }
}

}  // namespace lj::daemon
