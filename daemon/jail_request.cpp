#include "daemon/jail_request.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>

#include "common/signals.hpp"

namespace lj::daemon {

using nlohmann::json;

bool valid_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

namespace {
bool has_nul(std::string_view s) {
  return s.find('\0') != std::string_view::npos;
}

// An absolute path without a ".." component (nor a NUL: the kernel would stop there).
bool abs_clean(std::string_view p) {
  if (p.empty() || p.front() != '/' || has_nul(p)) return false;
  std::size_t i = 0;
  while (i < p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string_view::npos) j = p.size();
    if (p.substr(i, j - i) == "..") return false;
    i = j + 1;
  }
  return true;
}
// The first component of the absolute path `p` that is a symlink (with its target), if any. A
// component that does not exist ends the walk: the mount reports that at start.
std::optional<std::string> symlink_in(const std::string& p) {
  std::string prefix;
  std::size_t i = 1;
  while (i <= p.size()) {
    std::size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    if (j > i && p.compare(i, j - i, ".") != 0) {
      prefix += "/" + p.substr(i, j - i);
      struct stat st {};
      if (::lstat(prefix.c_str(), &st) != 0) return std::nullopt;
      if (S_ISLNK(st.st_mode)) {
        std::error_code ec;
        auto target = std::filesystem::read_symlink(prefix, ec);
        return prefix + (ec ? "" : " -> " + target.string());
      }
    }
    i = j + 1;
  }
  return std::nullopt;
}

// Below a few MiB the kernel refuses the jail at start (init and the command cannot even be
// charged to the cgroup), which surfaced as a 503 `jail.busy` after everything was set up. The
// floor is Docker's (6 MiB), an amount known to start a shell; 0 means no limit.
constexpr std::uint64_t kMinMemoryBytes = 6ull << 20;

void check_memory_floor(Fields& lim, std::uint64_t bytes) {
  if (bytes != 0 && bytes < kMinMemoryBytes) {
    lim.reject("memory_bytes", "at least " + std::to_string(kMinMemoryBytes) +
                                   " (6 MiB), or 0 for no limit");
  }
}

}  // namespace

// The form JailSpec::user takes (the jail's files decide the rest at start): name|uid, then
// optionally :group|gid, no NUL or newline (they would end the C string or the passwd line).
bool valid_user(std::string_view user) {
  if (user.empty() || user.size() > 256 || has_nul(user) || user.find('\n') != user.npos)
    return false;
  auto colon = user.find(':');
  if (colon == 0 || colon + 1 == user.size()) return false;
  return user.find(':', colon == std::string_view::npos ? user.size() : colon + 1) ==
         std::string_view::npos;
}

Result<CreateJail> decode_create(const json& body, const Config& cfg, std::string* field) {
  CreateJail c;
  Fields f(body);
  c.name = f.opt_string("name").value_or("");
  c.world = f.opt_string("world").value_or("");
  Fields ov = f.object("overlay");
  if (ov.present()) {
    c.overlay = OverlayRef{ov.string("name"), ov.opt_string("version").value_or("")};
  }
  c.image = f.opt_string("image").value_or("");
  // An overlay names its own world; an image is a whole root.
  if (c.world.empty() && !c.overlay && c.image.empty()) c.world = cfg.default_world;
  c.command = f.opt_strings("command").value_or(std::vector<std::string>{});
  c.script = f.opt_string("script").value_or("");
  c.env = f.opt_string_map("env").value_or(std::map<std::string, std::string>{});
  c.workdir = f.opt_string("workdir").value_or(c.image.empty() ? "/" : "");
  c.hostname = f.opt_string("hostname").value_or("");
  Fields net = f.object("network");
  if (net.present()) {
    std::string mode = net.opt_string("mode").value_or("none");
    if (mode == "none")
      c.network.mode = jail::NetworkMode::none;
    else if (mode == "inherit")
      c.network.mode = jail::NetworkMode::inherit;
    else if (mode == "ip")
      c.network.mode = jail::NetworkMode::ip;
    else
      net.reject("mode", "must be one of none, inherit, ip");
    c.network.interface = net.opt_string("interface").value_or("");
    c.network.addresses = net.opt_strings("addresses").value_or(std::vector<std::string>{});
    if (c.network.mode == jail::NetworkMode::ip && c.network.addresses.empty()) {
      net.reject("addresses", "mode ip needs at least one address");
    }
  }
  c.net = decode_networking(f);
  if (c.net.any() && c.network.mode != jail::NetworkMode::none)
    f.reject("networks", "a jail on networks (or with ports) takes no network.mode");
  c.publish_all = f.opt_bool("publish_all").value_or(false);
  if (c.publish_all && c.image.empty())
    f.reject("publish_all", "it publishes an image's ExposedPorts: the jail names no image");
  else if (c.publish_all && c.network.mode != jail::NetworkMode::none)
    f.reject("publish_all", "a jail with published ports takes no network.mode");
  Fields lim = f.object("limits");
  auto memory = lim.opt_uint("memory_bytes");
  if (memory) check_memory_floor(lim, *memory);  // the request's own value, not the default
  c.limits.memory_bytes = memory.value_or(cfg.default_memory_bytes);
  c.limits.pids = lim.opt_uint("pids").value_or(cfg.default_pids);
  auto cpu = lim.opt_uint("cpu_percent").value_or(cfg.default_cpu_percent);
  if (cpu > 100000) lim.reject("cpu_percent", "at most 100000");
  c.limits.cpu_percent = static_cast<std::uint32_t>(cpu);
  c.limits.nofile = lim.opt_uint("nofile").value_or(cfg.default_nofile);
  c.limits.timeout = lim.opt_seconds("timeout_s")
                         .value_or(std::chrono::milliseconds(cfg.default_timeout_s * 1000));
  std::size_t i = 0;
  for (Fields& v : f.objects("volumes")) {
    jail::Volume vol;
    vol.host_path = v.string("host_path");
    vol.jail_path = v.string("jail_path");
    vol.read_only = v.opt_bool("read_only").value_or(false);
    std::string key = "volumes[" + std::to_string(i++) + "]";
    if (!v.error() && !abs_clean(vol.host_path.string())) {
      v.reject("host_path", "must be an absolute path without ..");
    }
    if (!v.error() && !abs_clean(vol.jail_path)) {
      v.reject("jail_path", "must be an absolute path without ..");
    }
    if (!v.error()) {
      if (auto link = symlink_in(vol.host_path.string())) {
        v.reject("host_path", "goes through the symlink " + *link +
                                  ": name the real path (a link could point anywhere by the time "
                                  "it is mounted)");
      }
    }
    c.volumes.push_back(std::move(vol));
  }
  c.labels = f.opt_string_map("labels").value_or(std::map<std::string, std::string>{});
  c.auto_remove = f.opt_bool("auto_remove").value_or(false);
  c.user = f.opt_string("user").value_or("");
  c.stdin_open = f.opt_bool("stdin").value_or(false);
  c.tty = f.opt_bool("tty").value_or(false);
  Fields size = f.object("tty_size");
  if (size.present()) {
    auto rows = size.opt_uint("rows"), cols = size.opt_uint("cols");
    if (!rows || *rows == 0 || *rows > 65535) size.reject("rows", "1..65535");
    if (!cols || *cols == 0 || *cols > 65535) size.reject("cols", "1..65535");
    c.tty_rows = static_cast<unsigned short>(rows.value_or(0));
    c.tty_cols = static_cast<unsigned short>(cols.value_or(0));
  }
  for (const auto& item : f.opt_strings("privileges").value_or(std::vector<std::string>{})) {
    if (auto st = add_privilege(item, &c.privileges); !st) f.reject("privileges", st.error().message());
  }
  c.policy_override = f.opt_bool("policy_override").value_or(false);
  if (auto s = f.opt_string("stop_signal")) {
    if (auto n = lj::parse_signal(*s); n && *n > 0 && *n < 65)
      c.stop_signal = *n;
    else
      f.reject("stop_signal", "unknown signal `" + *s + "`");
  }

  if (!f.error()) {
    if (!c.name.empty() && !valid_name(c.name)) {
      f.reject("name", "must be 1-64 characters of [A-Za-z0-9_.-]");
    } else if (!c.image.empty() && (c.overlay || f.opt_raw("world"))) {
      f.reject("image", "an image is the whole root: give no world or overlay with it");
    } else if (c.world.empty() && !c.overlay && c.image.empty()) {
      f.reject("world", "required field is missing (and no default_world is configured)");
    } else if (c.world.find('/') != std::string::npos || c.world == "." || c.world == "..") {
      f.reject("world", "must be a world name, not a path");
    } else if (c.image.empty() && c.command.empty() == c.script.empty()) {
      f.reject("command", "exactly one of command and script must be given");
    } else if (!c.command.empty() && !c.script.empty()) {
      f.reject("command", "give command or script, not both");
    } else if (!(c.workdir.empty() && !c.image.empty()) && !abs_clean(c.workdir)) {
      f.reject("workdir", "must be an absolute path without ..");
    } else if (c.overlay && c.overlay->name.find('/') == std::string::npos) {
      f.reject("overlay.name", "overlay names contain a slash (namespace/name)");
    } else if (!c.user.empty() && !valid_user(c.user)) {
      f.reject("user", "must be name|uid[:group|gid]");
    } else if (size.present() && !c.tty) {
      f.reject("tty_size", "only with tty");
    }
    for (const auto& [k, v] : c.env) {
      if (k.empty() || k.find('=') != std::string::npos || has_nul(k)) {
        f.reject("env", "bad variable name `" + k + "`");
      } else if (has_nul(v)) {
        f.reject("env." + k, "must not contain NUL");
      }
    }
    // What reaches the kernel or the index as a C string may not hold a NUL: it would be cut
    // there, silently running something else than what was asked.
    for (std::size_t a = 0; a < c.command.size(); ++a) {
      if (has_nul(c.command[a]))
        f.reject("command[" + std::to_string(a) + "]", "must not contain NUL");
    }
    if (has_nul(c.script)) f.reject("script", "must not contain NUL");
    if (c.hostname.size() > 64 || has_nul(c.hostname) ||
        c.hostname.find('/') != std::string::npos) {
      f.reject("hostname", "must be at most 64 characters, without NUL or /");
    }
    if (has_nul(c.network.interface)) f.reject("network.interface", "must not contain NUL");
    for (const auto& a : c.network.addresses) {
      if (has_nul(a)) f.reject("network.addresses", "must not contain NUL");
    }
    if (c.overlay && (has_nul(c.overlay->name) || has_nul(c.overlay->version))) {
      f.reject("overlay", "must not contain NUL");
    }
    if (has_nul(c.world)) f.reject("world", "must be a world name, not a path");
    if (has_nul(c.image)) f.reject("image", "must not contain NUL");
    for (const auto& [k, v] : c.labels) {
      if (k.empty() || has_nul(k) || has_nul(v)) {
        f.reject("labels", "label keys must be non-empty; keys and values without NUL");
      }
    }
  }
  auto st = f.finish();
  if (!st) {
    if (field && f.error()) *field = f.error()->field;
    return tl::unexpected(std::move(st).error());
  }
  return c;
}

Result<BuildSubmit> decode_build(const json& body, std::string* field) {
  BuildSubmit b;
  Fields f(body);
  b.context = f.opt_string("context").value_or("");
  b.jailfile = f.opt_string("jailfile").value_or("");
  b.force = f.opt_bool("force").value_or(false);
  Fields lim = f.object("limits");
  b.limits.memory_bytes = lim.opt_uint("memory_bytes").value_or(0);
  check_memory_floor(lim, b.limits.memory_bytes);
  b.limits.pids = lim.opt_uint("pids").value_or(0);
  auto cpu = lim.opt_uint("cpu_percent").value_or(0);
  if (cpu > 100000) lim.reject("cpu_percent", "at most 100000");
  b.limits.cpu_percent = static_cast<std::uint32_t>(cpu);
  b.limits.nofile = lim.opt_uint("nofile").value_or(0);
  if (auto t = lim.opt_seconds("timeout_s")) b.limits.timeout = *t;
  if (!f.error() && b.context.empty() == b.jailfile.empty()) {
    f.reject("context", "exactly one of context and jailfile must be given");
  }
  if (!f.error() && !b.context.empty() && !abs_clean(b.context)) {
    f.reject("context", "must be an absolute path without ..");
  }
  if (!f.error() && has_nul(b.jailfile)) f.reject("jailfile", "must not contain NUL");
  auto st = f.finish();
  if (!st) {
    if (field && f.error()) *field = f.error()->field;
    return tl::unexpected(std::move(st).error());
  }
  return b;
}

Status check_volumes_exist(const CreateJail& c, std::string* field) {
  for (std::size_t i = 0; i < c.volumes.size(); ++i) {
    const auto& host = c.volumes[i].host_path;
    struct stat st {};
    if (::stat(host.c_str(), &st) == 0) continue;
    const int e = errno;
    std::string key = "volumes[" + std::to_string(i) + "].host_path";
    if (field) *field = key;
    return fail(Errc::invalid_argument, "api",
                "field " + key + ": " + host.string() + ": " + std::strerror(e) +
                    " (ljd makes no volume directory: create it first)");
  }
  return {};
}

json encode_create(const CreateJail& c) {
  json j = json::object();
  if (!c.name.empty()) j["name"] = c.name;
  if (!c.world.empty()) j["world"] = c.world;
  if (!c.image.empty()) j["image"] = c.image;
  if (c.overlay) j["overlay"] = {{"name", c.overlay->name}, {"version", c.overlay->version}};
  if (!c.command.empty()) j["command"] = c.command;
  if (!c.script.empty()) j["script"] = c.script;
  if (!c.env.empty()) j["env"] = c.env;
  j["workdir"] = c.workdir;
  if (!c.hostname.empty()) j["hostname"] = c.hostname;
  static const char* kModes[] = {"none", "inherit", "ip"};
  j["network"] = {{"mode", kModes[static_cast<int>(c.network.mode)]}};
  if (!c.network.interface.empty()) j["network"]["interface"] = c.network.interface;
  if (!c.network.addresses.empty()) j["network"]["addresses"] = c.network.addresses;
  encode_networking(c.net, j);
  j["limits"] = {{"memory_bytes", c.limits.memory_bytes},
                 {"pids", c.limits.pids},
                 {"cpu_percent", c.limits.cpu_percent},
                 {"nofile", c.limits.nofile},
                 {"timeout_s", static_cast<double>(c.limits.timeout.count()) / 1000.0}};
  if (!c.volumes.empty()) {
    j["volumes"] = json::array();
    for (const auto& v : c.volumes) {
      j["volumes"].push_back({{"host_path", v.host_path.string()},
                              {"jail_path", v.jail_path},
                              {"read_only", v.read_only}});
    }
  }
  if (!c.labels.empty()) j["labels"] = c.labels;
  if (c.auto_remove) j["auto_remove"] = true;
  if (!c.user.empty()) j["user"] = c.user;
  if (c.stdin_open) j["stdin"] = true;
  if (c.tty) j["tty"] = true;
  if (c.tty_rows != 0) j["tty_size"] = {{"rows", c.tty_rows}, {"cols", c.tty_cols}};
  if (!c.privileges.empty()) j["privileges"] = c.privileges.items();
  if (c.policy_override) j["policy_override"] = true;
  if (c.stop_signal != 0)
    j["stop_signal"] = lj::signal_name(c.stop_signal).value_or(std::to_string(c.stop_signal));
  return j;
}

int stop_signal_of(std::string_view stored_spec) {
  auto j = json::parse(stored_spec, nullptr, false);
  if (j.is_object()) {
    if (auto it = j.find("stop_signal"); it != j.end() && it->is_string()) {
      if (auto n = lj::parse_signal(it->get<std::string>())) return *n;
    }
  }
  return SIGTERM;
}

jail::JailSpec make_spec(const CreateJail& c, const std::string& id,
                         std::vector<std::filesystem::path> layers) {
  jail::JailSpec s;
  s.name = id;
  s.root.layers = std::move(layers);
  s.root.volumes = c.volumes;
  // A device node in a world, a layer or a volume opens nothing in the jail: an imported world
  // can hold a `b 8 0` (docs/security.md, row 8). /dev's nodes are bound from the host's.
  s.root.nodev = true;
  s.argv = c.command;
  s.script = c.script;
  for (const auto& [k, v] : c.env) s.env.push_back(k + "=" + v);
  s.workdir = c.workdir.empty() ? "/" : c.workdir;
  s.make_workdir = !c.image.empty();  // docker's: an image's WorkingDir, or -w, made if missing
  s.user = c.user;  // resolved by lib/jail in the jail's own /etc/passwd, /etc/group
  s.hostname = c.hostname.empty() ? (c.name.empty() ? id : c.name) : c.hostname;
  s.network = c.network;
  s.limits = c.limits;
  s.grants = grants_of(c.privileges);  // decided at create (the host policy, or a root override)
  // The terminal's socket and the stdio descriptors are the start's (Jails::spawn), not the spec's.
  return s;
}

}  // namespace lj::daemon
