// The body of POST /v1/jails as plain data, its strict decoding, its normalised JSON (stored as the
// row's spec, so a later start rebuilds the same JailSpec), and the JailSpec it becomes.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.hpp"
#include "daemon/config.hpp"
#include "daemon/jail_networks.hpp"
#include "daemon/json_fields.hpp"
#include "daemon/policy.hpp"
#include "daemon/resources.hpp"
#include "jail/spec.hpp"

namespace lj::daemon {

struct OverlayRef {
  std::string name;
  std::string version;  // a semver constraint; empty: the newest
};

struct CreateJail {
  std::string name;  // empty: the id
  std::string world;
  std::optional<OverlayRef> overlay;
  // An OCI image (reference or manifest digest) instead of a world or overlay; pinned to its
  // manifest digest ("name:tag@sha256:...") when the jail is created (images.hpp).
  std::string image;
  std::vector<std::string> command;  // exactly one of command and script
  std::string script;
  std::map<std::string, std::string> env;
  std::string workdir = "/";  // "" until an image's default is applied
  std::string hostname;
  jail::Network network;
  JailNetworking net;  // networks of ljd's (mode none: the daemon prepares the namespace)
  // "publish_all" (ljctl run -P): the image's ExposedPorts that `ports` leaves out are published
  // on free host ports at create (Jails::create); the stored spec holds the ports it became.
  bool publish_all = false;
  jail::Limits limits;
  std::vector<jail::Volume> volumes;
  std::map<std::string, std::string> labels;
  bool auto_remove = false;
  std::string user;  // jail::JailSpec::user; empty: root
  bool stdin_open = false;  // "stdin": ljd holds a pipe to the command's stdin
  bool tty = false;
  unsigned short tty_rows = 0, tty_cols = 0;  // "tty_size"
  // "privileges": what the request asks beyond the defaults (policy.hpp's items). Once created,
  // the stored spec holds everything granted: these, the image's declared ones and the listening
  // ports (ExposedPorts, published ports), i.e. the grant recorded on the jail.
  Privileges privileges;
  // "policy_override": a root caller's "grant what the policy refuses"; recorded (true) on a
  // jail whose grant went beyond the policy.
  bool policy_override = false;
  // "stop_signal": what a stop that names no signal sends (POST .../stop, ljd's shutdown); 0:
  // SIGTERM. An image's StopSignal is the default.
  int stop_signal = 0;
};

// The stop signal a jail's stored spec names (CreateJail::stop_signal), else SIGTERM.
int stop_signal_of(std::string_view stored_spec);

// Decodes and validates a create body (limits default from `cfg`). On a field error, *field names
// it ("limits.memory_bytes"). Besides the syntax, it refuses a volume whose host path is or goes
// through a symlink (lstat of each component, now: a start decodes the stored spec again, so the
// check is repeated then).
Result<CreateJail> decode_create(const nlohmann::json& body, const Config& cfg, std::string* field);
nlohmann::json encode_create(const CreateJail& c);

// What a new jail's request needs of the host now, beyond its syntax: every volume's host path
// exists (ljd makes none). Not part of decode_create, which also reads stored specs back (a
// recovered jail's volume may be gone). On failure *field names the volume's host_path.
Status check_volumes_exist(const CreateJail& c, std::string* field);

// Decodes and validates the body of POST /v1/builds. On a field error, *field names it.
Result<BuildSubmit> decode_build(const nlohmann::json& body, std::string* field);

// "name|uid[:group|gid]" as an image's config or a request gives it (syntax only).
bool valid_user(std::string_view user);

// A jail or overlay name as users write it: [A-Za-z0-9_.-], 1..64 characters, not "." or "..".
bool valid_name(std::string_view name);

// The JailSpec of a create request on `layers`, its root resolved already (the world, then the
// overlay chain's layer directories, bottom first): a private tmpfs writable layer on top, and
// the request's volumes.
jail::JailSpec make_spec(const CreateJail& c, const std::string& id,
                         std::vector<std::filesystem::path> layers);

}  // namespace lj::daemon
