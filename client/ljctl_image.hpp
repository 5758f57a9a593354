// ljctl's image commands: pull, push, images, image rm|inspect, save, load, tag, login, prune.
// Each is one or a few calls on /v1/images and /v1/image_jobs; pulls, pushes and loads are
// followed to their end with the job's per-layer progress drawn on stderr (when it is a
// terminal) and the job's result printed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "client/ljctl_api.hpp"

namespace lj::ljctl {

// The commands as registered, and the values their options fill.
struct ImageCommands {
  CLI::App* pull = nullptr;
  CLI::App* push = nullptr;
  CLI::App* images = nullptr;
  CLI::App* load = nullptr;
  CLI::App* tag = nullptr;
  CLI::App* rm = nullptr;
  CLI::App* inspect = nullptr;
  CLI::App* prune = nullptr;
  CLI::App* save = nullptr;
  CLI::App* export_ = nullptr;
  CLI::App* login = nullptr;
  CLI::App* logout = nullptr;
  std::string username, password;
  bool password_stdin = false;
  std::string ref, dest, source, name, output;
  bool no_base = false;
  std::vector<std::string> refs, insecure;
  bool allow_devices = false, quiet = false;
};


// Registers the commands; `sub` makes a top-level subcommand with the global options.
std::unique_ptr<ImageCommands> add_image_commands(
    const std::function<CLI::App*(const char*, const char*)>& sub);

// Runs the parsed image command, if one was parsed: its exit status; -1 when none was.
int run_image_command(ImageCommands& c, Api& api, bool json);

// "/v1/images/" + the reference, each '/'-separated part escaped on its own (the route takes
// the slashes of a reference as path separators); ':' and '@' are kept.
std::string image_path(const std::string& ref);

}  // namespace lj::ljctl
