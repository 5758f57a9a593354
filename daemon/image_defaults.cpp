#include "daemon/image_defaults.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "common/fd.hpp"
#include "image/layer_fs.hpp"

namespace lj::daemon {

namespace fs = std::filesystem;

Status apply_image_config(CreateJail& req, const image::ImageConfig& c, std::string* field) {
  auto refuse = [&](const char* f, std::string message) -> Status {
    if (field) *field = f;
    return fail(Errc::invalid_argument, "api", "field " + std::string(f) + ": " + message);
  };
  if (req.script.empty()) {
    std::vector<std::string> cmd = c.entrypoint;
    const auto& tail = req.command.empty() ? c.cmd : req.command;
    cmd.insert(cmd.end(), tail.begin(), tail.end());
    if (cmd.empty()) {
      return refuse("command", "the image has no Entrypoint or Cmd: give a command");
    }
    req.command = std::move(cmd);
  }
  std::map<std::string, std::string> env;
  for (const auto& kv : c.env) {
    auto eq = kv.find('=');
    if (eq == 0 || eq == std::string::npos) continue;  // malformed in the image: not applied
    env[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  for (auto& [k, v] : req.env) env[k] = v;
  req.env = std::move(env);
  if (req.workdir.empty()) {
    req.workdir = c.working_dir.empty() ? "/" : c.working_dir;
    if (req.workdir.front() != '/' || req.workdir.find('\0') != std::string::npos) {
      return refuse("workdir", "the image's WorkingDir `" + c.working_dir + "` is not absolute");
    }
  }
  if (req.user.empty() && !c.user.empty()) {
    if (!valid_user(c.user)) return refuse("user", "the image's User `" + c.user + "` is malformed");
    req.user = c.user;
  }
  std::map<std::string, std::string> labels = c.labels;
  for (auto& [k, v] : req.labels) labels[k] = v;
  req.labels = std::move(labels);
  return {};
}

namespace {

// The file etc/`name` of the topmost layer holding it, opened without following any symlink
// (layers are untrusted: an etc -> / link must not read the host's files). A link is not
// resolved: the lookup fails plainly.
std::optional<std::string> top_file(const std::vector<fs::path>& layers, const std::string& name) {
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) {
    UniqueFd layer(::open(it->c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!layer) continue;
    UniqueFd etc(image::layer_fs::open_dir_beneath(layer.get(), "etc"));
    if (!etc) continue;
    UniqueFd fd(::openat(etc.get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) continue;
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > (4 << 20)) {
      return std::nullopt;
    }
    std::string out(static_cast<std::size_t>(st.st_size), '\0');
    ssize_t n = ::read(fd.get(), out.data(), out.size());
    if (n < 0) return std::nullopt;
    out.resize(static_cast<std::size_t>(n));
    return out;
  }
  return std::nullopt;
}

// Field `col` (0-based, ':'-separated) of the line whose first field is `name`.
std::optional<std::string> lookup(const std::string& text, const std::string& name, int col) {
  std::size_t i = 0;
  while (i < text.size()) {
    std::size_t e = text.find('\n', i);
    if (e == std::string::npos) e = text.size();
    std::string line = text.substr(i, e - i);
    i = e + 1;
    std::vector<std::string> f;
    std::size_t a = 0;
    for (;;) {
      std::size_t b = line.find(':', a);
      f.push_back(line.substr(a, b == std::string::npos ? std::string::npos : b - a));
      if (b == std::string::npos) break;
      a = b + 1;
    }
    if (f.size() > static_cast<std::size_t>(col) && f[0] == name) return f[col];
  }
  return std::nullopt;
}

}  // namespace

Status resolve_user(CreateJail& req, const std::vector<fs::path>& layers, std::string* field) {
  if (req.user.empty() || numeric_user(req.user)) return {};
  auto refuse = [&](std::string message) -> Status {
    if (field) *field = "user";
    return fail(Errc::invalid_argument, "api", "field user: " + message);
  };
  auto colon = req.user.find(':');
  std::string u = req.user.substr(0, colon);
  std::string g = colon == std::string::npos ? "" : req.user.substr(colon + 1);
  auto digits = [](const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
  };
  std::string uid = u, gid = g;
  if (!digits(u)) {
    auto passwd = top_file(layers, "passwd");
    auto id = passwd ? lookup(*passwd, u, 2) : std::nullopt;
    if (!id || !digits(*id)) return refuse("no user `" + u + "` in the root's /etc/passwd");
    uid = *id;
    if (g.empty()) {
      auto pg = lookup(*passwd, u, 3);
      if (pg && digits(*pg)) gid = *pg;
    }
  }
  if (!g.empty() && !digits(g)) {
    auto group = top_file(layers, "group");
    auto id = group ? lookup(*group, g, 2) : std::nullopt;
    if (!id || !digits(*id)) return refuse("no group `" + g + "` in the root's /etc/group");
    gid = *id;
  }
  std::string out = gid.empty() ? uid : uid + ":" + gid;
  if (!numeric_user(out)) return refuse("`" + req.user + "` resolves to `" + out + "`, out of range");
  req.user = out;
  return {};
}

}  // namespace lj::daemon
