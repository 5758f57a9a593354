// Builds: a Jailfile -> a BuildPlan (world, parent chain, digests, cache key) -> a run of its
// script in a jail on world + parents (read-only) + a staging layer -> the staging layer published
// as root/<ns>/<name>/<version>/ with its manifest, or nothing at all.
//
//   auto backend = LJ_TRY(lj::jail::make_backend());
//   lj::build::Builder builder(lj::overlay::Root::from_env(), *backend);
//   lj::build::BuildRequest req{.jailfile = "examples/ruby/Jailfile", .default_world = "busybox"};
//   req.on_output = [](std::string_view line) { fmt::print("{}\n", line); };
//   auto res = builder.build(req);   // res->name, res->version, res->cache_hit ...
//
// Layer format: the staging layer is an overlayfs upper directory (Linux), so a file the script
// deletes from a parent becomes a whiteout (a 0/0 character device) and an emptied-and-refilled
// directory is marked opaque (trusted.overlay.opaque xattr); both keep their meaning when the
// published layer is stacked as a lower directory under later jails (docs/jailfile.md).
//
// Concurrency: builds of different name@version run in parallel. Builds of the same name@version
// serialize on an flock(2) of root/.ljd/locks/build-<ns>!<name>@<version>.lock; the second sees
// the first one's result (a cache hit when identical, Errc::exists when not), and the catalog's
// publish never replaces a published directory.
//
// Thread-safety: a Builder may be used by several threads at once (it holds no mutable state).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "build/jailfile.hpp"
#include "common/error.hpp"
#include "jail/backend.hpp"
#include "overlay/manifest.hpp"
#include "overlay/root.hpp"

namespace lj::build {

// Receives the build script's output (stdout and stderr, interleaved as written), one line at a
// time without its '\n'; a last line without one is delivered at the end. Called on a thread of
// the builder, never concurrently with itself; it must not throw, and should not block for long
// (the script's writes wait on it).
using OutputSink = std::function<void(std::string_view line)>;

struct BuildRequest {
  std::filesystem::path jailfile;  // the Jailfile (required)
  std::filesystem::path context;   // empty: the Jailfile's directory
  // The world of a Jailfile without a `world` line: `uname -r` on FreeBSD, the configured default
  // world on Linux (ljbuild --world, the daemon's config).
  std::string default_world;
  bool force = false;    // run even when the cache would answer (see Builder::build)
  std::string build_id;  // empty: generated ("b-" + 12 characters of [a-z0-9])
  // Limits of the build jail; timeout 0 means none. The network is always the host's.
  jail::Limits limits;
  OutputSink on_output;
};

struct ResolvedParent {
  std::string name;        // "lang/common"
  std::string constraint;  // "~> 1.0", as written
  std::string version;     // "1.2.0": the highest published version that satisfies it
};

// Everything decided before anything runs. Pure data; plan_build() makes it.
struct BuildPlan {
  std::string build_id;
  Jailfile jailfile;
  std::string jailfile_text;
  std::filesystem::path context;  // absolute
  std::string world;              // its name; empty on an image
  // The image the chain stands on (`from image REF`, or a parent built on one), pinned to its
  // manifest digest; then lower starts with the image's layers instead of a world.
  std::optional<overlay::ImageBase> image;
  std::optional<ResolvedParent> parent;
  // lower[0] is the world's directory (or the image's layers, bottom first), then each
  // ancestor's layer, oldest first.
  std::vector<std::filesystem::path> lower;
  std::string jailfile_digest;  // SHA-256 of the Jailfile's bytes
  std::string context_digest;   // digest_tree(context) when the Jailfile copies it, else ""
  // SHA-256 over (Jailfile digest, context digest, world, parent name@version[, image manifest
  // digest]): equal keys build equal overlays; a tag moved to another image changes the key, and
  // the Jailfile's bytes hold its `privileges` line (a changed declaration is another build). The manifest records each part (a published version is immutable, so the
  // parent's name@version pins its contents).
  std::string cache_key;
  std::filesystem::path target;  // root/<ns>/<name>/<version>
};

struct BuildResult {
  std::string build_id;
  std::string name;
  std::string version;
  std::string world;
  std::optional<overlay::ImageBase> image;
  std::optional<ResolvedParent> parent;
  bool cache_hit = false;  // nothing ran: the published overlay already had this cache key
  bool ran_jail = false;   // a build jail was spawned
  std::filesystem::path overlay_dir;  // root/<ns>/<name>/<version>
  std::filesystem::path log_path;     // the script's output; empty on a cache hit
  std::uint64_t size_bytes = 0;       // of the published layer
  jail::ExitStatus exit;              // of the script (code 0 on success)
  std::chrono::milliseconds elapsed{0};

  // "lang/ruby@2.1.1"
  std::string ref() const { return name + "@" + version; }
};

// Where the build logs go: root/.ljd/builds/<build id>.log. They outlive the build, failed or
// not (the daemon's retention prunes them).
std::filesystem::path build_log_path(const overlay::Root& root, std::string_view build_id);

// Reads the Jailfile and resolves everything a build needs. Errors: the Jailfile's own
// (invalid_argument, with path:line:column), world or parent not_found (naming what was looked
// for and what exists), the context's (a special file in it when it is copied).
Result<BuildPlan> plan_build(const overlay::Root& root, const BuildRequest& request);

class Builder {
 public:
  // `backend` must outlive the Builder.
  Builder(overlay::Root root, jail::Backend& backend) : root_(std::move(root)), backend_(backend) {}

  // plan_build(), then run(). On success the overlay is published (or was already: cache_hit).
  Result<BuildResult> build(const BuildRequest& request) const;

  // Runs a plan. When root/<ns>/<name>/<version> already exists: with the same cache key it is a
  // cache hit (nothing runs) unless request.force; with another key it is Errc::exists (a version
  // is immutable: bump it). With force and an existing identical version, the build runs and
  // then replaces it (Catalog::remove, which refuses while another overlay depends on it or
  // something is mounted under it; then Catalog::publish).
  //
  // Failure (non-zero exit, signal, timeout, spawn or copy error) publishes nothing and removes
  // the staging directory; the log is kept and named in the error, whose message names how the
  // script ended ("exited with status 3", "killed by signal 9", "timed out"). Errc: conflict for
  // a failed script, timed_out for the timeout, the underlying error's kind otherwise.
  Result<BuildResult> run(const BuildPlan& plan, const BuildRequest& request) const;

  const overlay::Root& root() const { return root_; }

 private:
  overlay::Root root_;
  jail::Backend& backend_;
};

}  // namespace lj::build
