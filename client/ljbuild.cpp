// ljbuild: the daemon-less Jailfile builder (seeds/000: "the overlay build script runner").
//
//   ljbuild [DIR] [-f JAILFILE] [--force] [--world NAME] [--timeout SECONDS]
//
// Builds DIR/Jailfile (or JAILFILE) with DIR as the build context, streaming the script's output
// to stdout, and ends with the published "namespace/name@version" (exit 0), or the failure on
// stderr (exit 1). The root is $LIGHTJAIL_ROOT, /usr/local/lj when empty.
#include <sys/utsname.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>

#include <CLI/CLI.hpp>

#include "build/builder.hpp"
#include "common/log.hpp"
#include "jail/backend.hpp"
#include "overlay/root.hpp"

namespace {

// The world of a Jailfile without `world`: on FreeBSD the host's `uname -r` (seeds/000); on
// Linux there is no such convention, so --world is needed.
std::string host_default_world() {
  struct utsname u {};
  if (::uname(&u) != 0) return {};
  if (std::string(u.sysname) == "FreeBSD") return u.release;
  return {};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"ljbuild: build an overlay from a Jailfile (daemon-less)"};
  std::string dir = ".";
  std::string jailfile;
  std::string world;
  bool force = false;
  double timeout_s = 0;
  std::string log_level = "warn";
  app.add_option("DIR", dir, "the build context: the directory holding the Jailfile")
      ->capture_default_str();
  app.add_option("-f,--file", jailfile, "the Jailfile (default: DIR/Jailfile)");
  app.add_flag("--force", force, "build even when an identical build is already published");
  app.add_option("--world", world,
                 "the world of a Jailfile without a `world` line (default on FreeBSD: uname -r)");
  app.add_option("--timeout", timeout_s, "kill the build after this many seconds (0: never)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, off")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (!lj::configure_logging(log_level)) {
    std::fprintf(stderr, "ljbuild: unknown log level %s\n", log_level.c_str());
    return 2;
  }

  lj::build::BuildRequest req;
  req.context = dir;
  req.jailfile =
      jailfile.empty() ? std::filesystem::path(dir) / "Jailfile" : std::filesystem::path(jailfile);
  req.default_world = world.empty() ? host_default_world() : world;
  req.force = force;
  req.limits.timeout = std::chrono::milliseconds(static_cast<long long>(timeout_s * 1000));
  req.on_output = [](std::string_view line) {
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  };

  lj::jail::BackendOptions options;
  options.state_dir = lj::overlay::Root::from_env().daemon_dir();
  auto backend = lj::jail::make_backend(options);
  if (!backend) {
    std::fprintf(stderr, "ljbuild: %s\n", backend.error().what().c_str());
    return 1;
  }
  lj::build::Builder builder(lj::overlay::Root::from_env(), **backend);
  auto res = builder.build(req);
  if (!res) {
    std::fprintf(stderr, "ljbuild: %s [%s]\n", res.error().what().c_str(),
                 res.error().code().c_str());
    return 1;
  }
  double secs = static_cast<double>(res->elapsed.count()) / 1000.0;
  if (res->cache_hit) {
    std::printf(
        "%s (cached: already built from this Jailfile, context, parent and image; --force "
        "rebuilds)\n",
        res->ref().c_str());
  } else {
    std::printf("%s (built in %.1f s, %llu bytes, build %s)\n", res->ref().c_str(), secs,
                static_cast<unsigned long long>(res->size_bytes), res->build_id.c_str());
  }
  return 0;
}
