#include "daemon/image_defaults.hpp"

#include "common/signals.hpp"

namespace lj::daemon {

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
  if (req.stop_signal == 0 && !c.stop_signal.empty()) {
    auto n = lj::parse_signal(c.stop_signal);
    if (!n || *n <= 0 || *n >= 65)
      return refuse("stop_signal", "the image's StopSignal `" + c.stop_signal + "` is not a signal");
    req.stop_signal = *n;
  }
  std::map<std::string, std::string> labels = c.labels;
  for (auto& [k, v] : req.labels) labels[k] = v;
  req.labels = std::move(labels);
  return {};
}

Result<std::vector<ExposedPort>> ports_to_publish(const CreateJail& req,
                                                  const image::ImageConfig& c) {
  std::vector<ExposedPort> out;
  if (!req.publish_all) return out;
  for (const auto& text : c.exposed_ports) {
    auto e = LJ_TRY(parse_exposed_port(text));
    bool published = false;
    for (const auto& p : req.net.ports) published |= p.jail_port == e.port && p.proto == e.proto;
    if (!published) out.push_back(e);
  }
  return out;
}

}  // namespace lj::daemon
