#include "build/builder.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <array>
#include <thread>

#include "build/context.hpp"
#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/scope.hpp"
#include "common/sys.hpp"
#include "image/store.hpp"
#include "image/reference.hpp"
#include "overlay/catalog.hpp"
#include "overlay/fs_ops.hpp"
#include "overlay/staging.hpp"

namespace fs = std::filesystem;

namespace lj::build {
namespace {

std::string new_build_id() {
  return "b-" + random_version_suffix() + random_version_suffix().substr(0, 2);
}

std::string describe_exit(const jail::ExitStatus& e) {
  if (e.timed_out) return "timed out (the build's time limit killed it)";
  if (e.oom) return "was killed by the OOM killer (memory limit)";
  if (e.signal != 0) return "was killed by signal " + std::to_string(e.signal);
  return "exited with status " + std::to_string(e.code);
}

// Reads the script's output pipe to its end: every byte to the log, every line to the sink.
class OutputPump {
 public:
  OutputPump(UniqueFd pipe_read, UniqueFd log, OutputSink sink)
      : pipe_(std::move(pipe_read)), log_(std::move(log)), sink_(std::move(sink)) {
    thread_ = std::thread([this] { run(); });
  }
  OutputPump(const OutputPump&) = delete;
  OutputPump& operator=(const OutputPump&) = delete;
  ~OutputPump() { join(); }
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Valid after join(): the first write error to the log, if any (the build goes on without it).
  int log_errno() const { return log_errno_; }

 private:
  void run() {
    std::array<char, 16384> buf{};
    std::string partial;
    for (;;) {
      ssize_t n = ::read(pipe_.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::string_view chunk(buf.data(), static_cast<std::size_t>(n));
      write_log(chunk);
      if (!sink_) continue;
      partial.append(chunk);
      std::size_t start = 0;
      for (std::size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        sink_(std::string_view(partial).substr(start, nl - start));
      }
      partial.erase(0, start);
    }
    if (sink_ && !partial.empty()) sink_(partial);
  }
  void write_log(std::string_view chunk) {
    while (!chunk.empty() && log_errno_ == 0) {
      ssize_t w = ::write(log_.get(), chunk.data(), chunk.size());
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        log_errno_ = errno;
        break;
      }
      chunk.remove_prefix(static_cast<std::size_t>(w));
    }
  }

  UniqueFd pipe_;
  UniqueFd log_;
  OutputSink sink_;
  int log_errno_ = 0;
  std::thread thread_;
};

// Holds an exclusive flock(2) on one name@version for the whole build. The lock files live in
// root/.ljd/locks, not in .staging/: Catalog::clean_staging removes every unlocked entry there,
// and a lock file deleted between open(2) and flock(2) would let two builds in at once.
Result<UniqueFd> lock_version(const overlay::Root& root, const std::string& name,
                              const std::string& version) {
  std::string file = "build-" + name + "@" + version + ".lock";
  // '!' cannot appear in an overlay name, so the flattened name is unambiguous.
  for (char& c : file) {
    if (c == '/') c = '!';
  }
  fs::path dir = root.daemon_dir() / "locks";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return fail(Error::from_errno("build", "mkdir " + dir.string(), ec.value()));
  fs::path path = dir / file;
  UniqueFd fd(
      LJ_SYS("open", ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)));
  if (!fd) return fail_errno("build", "open lock " + path.string());
  while (LJ_SYS("flock", ::flock(fd.get(), LOCK_EX)) != 0) {
    if (errno != EINTR) return fail_errno("build", "flock " + path.string());
  }
  return fd;
}

std::string digest_label(std::string_view hex) {
  return hex.empty() ? std::string() : "sha256:" + std::string(hex);
}

// The published manifest records what the cache key covers; equal records, equal builds.
bool same_build(const overlay::Manifest& m, const BuildPlan& plan) {
  if (m.jailfile_digest != digest_label(plan.jailfile_digest)) return false;
  if (m.context_digest != digest_label(plan.context_digest)) return false;
  if (m.world != plan.world) return false;
  if (m.image.has_value() != plan.image.has_value()) return false;
  if (m.image && m.image->digest != plan.image->digest) return false;
  if (m.parent.has_value() != plan.parent.has_value()) return false;
  return !m.parent ||
         (m.parent->name == plan.parent->name && m.parent->version == plan.parent->version);
}

// The stored image `text` names (a tag, or pinned by digest), as an overlay records it.
Result<overlay::ImageBase> find_image(const image::Store& store, std::string_view text) {
  auto ref = LJ_TRY(image::Reference::parse(text));
  image::Digest d;
  if (ref.digest) {
    d = *ref.digest;
    if (!store.has_blob(d)) {
      return fail(Errc::not_found, "image",
                  "no image " + ref.str() + " in the store: pull or load it first");
    }
  } else {
    auto r = store.resolve_ref(ref.str());
    if (!r && r.error().errc() == Errc::not_found) {
      return fail(Errc::not_found, "image",
                  "no image `" + ref.str() + "` in the store: pull or load it first");
    }
    d = LJ_TRY(std::move(r));
  }
  return overlay::ImageBase{ref.str(), d.str()};
}

// The unpacked layers of a chain's base image, bottom first.
Result<std::vector<fs::path>> image_layers(const overlay::Root& root,
                                          const overlay::ImageBase& base) {
  auto store = LJ_TRY(image::Store::open(root));
  auto d = LJ_TRY(image::Digest::parse(base.digest));
  auto img = LJ_TRY_CTX("image " + base.reference, store.image(d));
  return std::move(img.layer_dirs);
}

}  // namespace

fs::path build_log_path(const overlay::Root& root, std::string_view build_id) {
  return root.daemon_dir() / "builds" / (std::string(build_id) + ".log");
}

Result<BuildPlan> plan_build(const overlay::Root& root, const BuildRequest& request) {
  BuildPlan plan;
  plan.build_id = request.build_id.empty() ? new_build_id() : request.build_id;
  plan.jailfile_text = LJ_TRY_CTX("reading the Jailfile", read_jailfile(request.jailfile));
  ParseOptions popts;
  popts.default_world = request.default_world;
  auto parsed = parse_jailfile(plan.jailfile_text, popts);
  if (!parsed) {
    return fail(Errc::invalid_argument, "build",
                request.jailfile.string() + ":" + parsed.error().what());
  }
  plan.jailfile = std::move(*parsed);
  const Jailfile& jf = plan.jailfile;

  std::error_code ec;
  fs::path context = request.context.empty() ? request.jailfile.parent_path() : request.context;
  if (context.empty()) context = ".";
  plan.context = fs::absolute(context, ec);
  if (ec) return fail(Error::from_errno("build", "absolute " + context.string(), ec.value()));

  // A child takes its parent's base (world or image) when the Jailfile names no world.
  if (jf.world.empty() && !jf.from_image && !jf.from) {
    return fail(Errc::invalid_argument, "build",
                request.jailfile.string() +
                    ": no world: the Jailfile has no `world` line and no default world is "
                    "configured (ljbuild --world NAME)");
  }
  plan.world = jf.world;
  overlay::Catalog catalog(root);
  if (jf.from_image) {
    const std::string what = "resolving the image of " + jf.name;
    auto store = LJ_TRY_CTX(what, image::Store::open(root));
    plan.image = LJ_TRY_CTX(what, find_image(store, jf.from_image->reference));
    plan.lower = LJ_TRY_CTX(what, image_layers(root, *plan.image));
  } else if (!jf.from) {
    auto world = LJ_TRY(overlay::WorldName::parse(jf.world));
    plan.lower = LJ_TRY(catalog.resolve_world(world)).lower;
  } else {
    const std::string what = "resolving the parent of " + jf.name;
    auto name = LJ_TRY_CTX(what, overlay::OverlayName::parse(jf.from->name));
    auto constraint = LJ_TRY_CTX(what, overlay::Constraint::parse(jf.from->constraint));
    auto version = LJ_TRY_CTX(what, catalog.find(name, constraint));
    auto chain = LJ_TRY_CTX(what, catalog.resolve(name, version));
    if (chain.image) {
      // A chain shares its base: a child of an image-based overlay stands on that image.
      if (!jf.world_defaulted) {
        return fail(Errc::conflict, "build",
                    jf.from->name + "@" + version.str() + " was built on " + chain.base() +
                        ", not world " + jf.world + ": a chain shares one base");
      }
      plan.world.clear();
      plan.image = chain.image;
      plan.lower = LJ_TRY_CTX(what, image_layers(root, *chain.image));
      plan.lower.insert(plan.lower.end(), chain.lower.begin(), chain.lower.end());
    } else if (jf.world.empty()) {
      plan.world = chain.world->str();
      plan.lower = std::move(chain.lower);
    } else {
      auto world = LJ_TRY(overlay::WorldName::parse(jf.world));
      if (chain.world != world) {
        return fail(Errc::conflict, "build",
                    jf.from->name + "@" + version.str() + " was built on " + chain.base() +
                        ", not world " + jf.world + ": a chain shares one base");
      }
      plan.lower = std::move(chain.lower);
    }
    plan.parent = ResolvedParent{jf.from->name, jf.from->constraint, version.str()};
  }

  plan.jailfile_digest = sha256_hex(plan.jailfile_text);
  // Only a copied context is part of the overlay; without `copy`, files next to the Jailfile
  // (a README, other Jailfiles) must not change the cache key.
  if (jf.copy_dest) {
    plan.context_digest = LJ_TRY_CTX("digesting the build context", digest_tree(plan.context));
  }
  Sha256 key;
  key.add_field("lj-build-key-v1");
  key.add_field(plan.jailfile_digest);
  key.add_field(plan.context_digest);
  key.add_field(plan.world);
  if (plan.parent) {
    key.add_field(plan.parent->name + "@" + plan.parent->version);
  } else {
    key.add_field("");
  }
  // Only when there is one, so the keys of builds on worlds stay what they were.
  if (plan.image) key.add_field("image:" + plan.image->digest);
  plan.cache_key = key.hex();
  auto name = LJ_TRY(overlay::OverlayName::parse(jf.name));
  auto version = LJ_TRY(overlay::Version::parse(jf.version));
  if (version.str() != jf.version) {
    return fail(Errc::invalid_argument, "build", "version " + jf.version + " is not canonical");
  }
  plan.target = root.overlay_dir(name, version);
  return plan;
}

Result<BuildResult> Builder::build(const BuildRequest& request) const {
  auto plan = LJ_TRY(plan_build(root_, request));
  return run(plan, request);
}

Result<BuildResult> Builder::run(const BuildPlan& plan, const BuildRequest& request) const {
  const auto started = std::chrono::steady_clock::now();
  const Jailfile& jf = plan.jailfile;
  const std::string ref = jf.name + "@" + jf.version;
  auto log = lj::log("build");
  overlay::Catalog catalog(root_);
  auto name = LJ_TRY(overlay::OverlayName::parse(jf.name));
  auto version = LJ_TRY(overlay::Version::parse(jf.version));

  BuildResult res;
  res.build_id = plan.build_id;
  res.name = jf.name;
  res.version = jf.version;
  res.world = plan.world;
  res.image = plan.image;
  res.parent = plan.parent;
  res.overlay_dir = plan.target;
  auto finish = [&] {
    res.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    return res;
  };

  LJ_TRY(root_.create_skeleton());
  auto lock = LJ_TRY(lock_version(root_, jf.name, jf.version));

  // Under the lock: is this version already published, and by an identical build?
  bool replace = false;
  if (auto published = catalog.manifest(name, version)) {
    if (!same_build(*published, plan)) {
      return fail(Errc::exists, "build",
                  ref +
                      " is already published from a different Jailfile, context, world, "
                      "image or parent (build " +
                      (published->build_id.empty() ? "?" : published->build_id) +
                      "); a version is immutable: bump `version` in the Jailfile");
    }
    if (!request.force) {
      res.cache_hit = true;
      res.size_bytes = published->size_bytes;
      log->info("cache hit build={} overlay={}", plan.build_id, ref);
      return finish();
    }
    replace = true;
  } else if (published.error().errc() != Errc::not_found) {
    return fail(std::move(published).error());
  }

  // Stage: root/.staging/build-<random>/{upper,work}; removed on every path out of here unless
  // published (renamed away).
  auto staging = LJ_TRY(overlay::StagingDir::create(root_, "build"));
  const fs::path upper = staging.path() / "upper";
  const fs::path work = staging.path() / "work";
  for (const auto& d : {upper, work}) {
    // 0755: the merged root of the build jail takes upper/'s mode.
    if (LJ_SYS("mkdir", ::mkdir(d.c_str(), 0755)) != 0 || ::chmod(d.c_str(), 0755) != 0) {
      return fail_errno("build", "mkdir " + d.string());
    }
  }
  if (jf.copy_dest) {
    const std::string what = "copy " + plan.context.string() + " to " + *jf.copy_dest;
    LJ_TRY_CTX(what, prepare_copy_dest(plan.lower, upper, *jf.copy_dest));
    LJ_TRY_CTX(what, copy_tree(plan.context, upper / fs::path(*jf.copy_dest).relative_path()));
  }

  // The log lives outside the staging directory: it must survive a failure.
  res.log_path = build_log_path(root_, plan.build_id);
  std::error_code ec;
  fs::create_directories(res.log_path.parent_path(), ec);
  if (ec) {
    return fail(
        Error::from_errno("build", "mkdir " + res.log_path.parent_path().string(), ec.value()));
  }
  UniqueFd log_fd(LJ_SYS(
      "open",
      ::open(res.log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640)));
  if (!log_fd) return fail_errno("build", "open " + res.log_path.string());

  std::array<int, 2> p{-1, -1};
  if (LJ_SYS("pipe2", ::pipe2(p.data(), O_CLOEXEC)) != 0) return fail_errno("build", "pipe2");
  UniqueFd pipe_read(p[0]);
  UniqueFd pipe_write(p[1]);

  jail::JailSpec spec;
  spec.name = "lj-" + plan.build_id;
  spec.hostname = "build";
  spec.root.layers = plan.lower;
  spec.root.writable = jail::WritableLayer::host_dir(staging.path());
  spec.root.nodev = true;  // a node in the world or a parent layer opens nothing, as in a jail
  spec.script = jf.script;
  spec.network.mode = jail::NetworkMode::inherit;  // builds fetch packages
  // A build jail never outlives its builder: killed with it (kill -9 of ljd included), it
  // cannot go on writing into a staging directory that recovery is about to remove.
  spec.die_with_parent = true;
  spec.limits = request.limits;
  spec.stdio.out = pipe_write.get();
  spec.stdio.err = pipe_write.get();
  spec.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
              "LJ_BUILD_ID=" + plan.build_id, "LJ_OVERLAY=" + ref};

  log->info("building build={} overlay={} base={} parent={}", plan.build_id, ref,
            plan.image ? plan.image->reference + "@" + plan.image->digest : plan.world,
            plan.parent ? plan.parent->name + "@" + plan.parent->version : "-");
  auto jail = backend_.spawn(spec);
  pipe_write.reset();  // the jail holds the only write ends now: EOF when its last process exits
  if (!jail) {
    return fail(std::move(jail).error().context("starting the build jail of " + ref +
                                                " (log: " + res.log_path.string() + ")"));
  }
  // Started after the spawn, so no thread of ours is half-way through malloc while the backend
  // clones; until then the script's first 64 KiB wait in the pipe.
  OutputPump pump(std::move(pipe_read), std::move(log_fd), request.on_output);
  res.ran_jail = true;
  auto waited = (*jail)->wait();
  jail->reset();  // every process of the jail is gone with it, so the pump reaches EOF
  pump.join();
  if (!waited) {
    return fail(std::move(waited).error().context("waiting for the build jail of " + ref));
  }
  res.exit = *waited;
  if (res.exit.code != 0 || res.exit.signal != 0 || res.exit.timed_out || res.exit.oom) {
    // A script that filled the staging file system fails with whatever its tools print; say
    // why here, while the staging layer still holds the space (it is removed on the way out).
    struct statvfs vfs {};
    const bool full = ::statvfs(staging.path().c_str(), &vfs) == 0 &&
                      static_cast<std::uint64_t>(vfs.f_bavail) * vfs.f_frsize < (1u << 20);
    return fail(Error(
        res.exit.timed_out ? Errc::timed_out
        : full             ? Errc::no_space
                           : Errc::conflict,
        "build",
        "build " + plan.build_id + " of " + ref + " failed: the script " + describe_exit(res.exit) +
            (full ? " with the file system of " + root_.staging_dir().string() + " full (ENOSPC)"
                  : std::string()) +
            "; nothing was published (log: " + res.log_path.string() + ")"));
  }

  // The staging directory becomes the overlay directory: upper/ is the layer, work/ goes.
  const fs::path layer = staging.path() / overlay::kLayerDir;
  if (LJ_SYS("rename", ::rename(upper.c_str(), layer.c_str())) != 0) {
    return fail_errno("build", "rename " + upper.string() + " to " + layer.string());
  }
  LJ_TRY(overlay::remove_tree(work));

  overlay::Manifest m;
  m.name = jf.name;
  m.version = jf.version;
  m.world = plan.world;
  m.image = plan.image;
  if (plan.parent) {
    m.parent = overlay::ParentRef{plan.parent->name, plan.parent->constraint, plan.parent->version};
  }
  m.jailfile_digest = digest_label(plan.jailfile_digest);
  m.context_digest = digest_label(plan.context_digest);
  m.build_id = plan.build_id;
  m.privileges = jf.privileges;
  if (replace) {
    // --force over an identical published version: the catalog refuses when something depends
    // on it or is mounted under it; otherwise the old one goes and the new one is published.
    LJ_TRY_CTX("replacing " + ref, catalog.remove(name, version));
  }
  auto published = LJ_TRY(catalog.publish(staging.path(), std::move(m)));
  staging.release();
  res.size_bytes = published.size_bytes;
  log->info("published build={} overlay={} bytes={}", plan.build_id, ref, res.size_bytes);
  return finish();
}

}  // namespace lj::build
