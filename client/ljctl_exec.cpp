#include "client/ljctl_exec.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include <CLI/CLI.hpp>

#include "client/http_client.hpp"
#include "client/ljctl_args.hpp"
#include "client/ljctl_attach.hpp"

namespace lj::ljctl {

using nlohmann::json;

namespace {

int report(const std::string& line) {
  std::fflush(stdout);
  std::fprintf(stderr, "ljctl: %s\n", line.c_str());
  return kExitError;
}

std::string seg(std::string_view s) { return client::url_encode(s); }

// The error of a refused start (its JSON body): a command that cannot run exits 126 or 127 as a
// shell's does; the rest kExitError.
int report_refusal(int status, const std::string& body) {
  json e = json::parse(body, nullptr, false);
  const std::string message = e.is_object() ? e.value("message", body) : body;
  report(message.empty() ? "ljd answered " + std::to_string(status) : message);
  if (e.is_object() && e.value("code", "") == "jail.exec_failed") {
    const bool missing = e.contains("details") && e["details"].is_object() &&
                         e["details"].value("reason", "") == "not_found";
    return missing ? kExitNotFound : kExitCannotRun;
  }
  return kExitError;
}

}  // namespace

void ExecCommands::add(CLI::App& app, const std::function<void(CLI::App*)>& add_globals) {
  exec_ = app.add_subcommand("exec", "run a command in a running jail; exit with its status");
  add_globals(exec_);
  exec_->prefix_command();  // everything after JAIL is the command
  exec_->add_flag("-i,--interactive", interactive_, "feed ljctl's stdin to the command");
  exec_->add_flag("-t,--tty", tty_, "run the command on a terminal of the jail's");
  exec_->add_flag("-d,--detach", detach_, "start it, print the exec's id and return");
  exec_->add_option("-u,--user", user_, "name|uid[:group|gid], from the jail's /etc/passwd");
  exec_->add_option("-e,--env", env_, "KEY=VALUE, or KEY to pass ljctl's own $KEY")
      ->allow_extra_args(false);
  exec_->add_option("--env-file", env_files_, "a file of KEY=VALUE lines (docker's format)")
      ->allow_extra_args(false);
  exec_->add_option("-w,--workdir", workdir_, "the command's working directory in the jail");
  exec_->add_option("--detach-keys", detach_keys_,
                    "keys that leave the command running (default ctrl-p,ctrl-q; \"\": none)");
  attach_ = app.add_subcommand("attach", "attach to a running jail's stdio (detach: ctrl-p ctrl-q)");
  add_globals(attach_);
  attach_->add_option("--detach-keys", detach_keys_, "keys that detach (default ctrl-p,ctrl-q)");
  attach_->add_option("JAIL", jail_, "jail id or name")->required();
}

std::optional<int> ExecCommands::run(Api& api, bool json_out) {
  if (exec_ && exec_->parsed()) return exec(api, json_out);
  if (attach_ && attach_->parsed()) return attach(api);
  return std::nullopt;
}

int ExecCommands::exec(Api& api, bool json_out) {
  std::vector<std::string> rest = exec_->remaining();
  // An option CLI11 does not know ends the options of a prefix command: it is not a jail.
  if (!rest.empty() && rest.front() != "--" && rest.front().size() > 1 && rest.front()[0] == '-')
    return report("unknown flag " + rest.front() + " (see `ljctl exec --help`)");
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (rest.size() < 2) return report("exec: give the jail and the command (see `ljctl exec --help`)");
  jail_ = rest.front();
  rest.erase(rest.begin());
  if (!rest.empty() && rest.front() == "--") rest.erase(rest.begin());
  if (rest.empty()) return report("exec: give the command to run");
  std::string keys;
  if (!parse_detach_keys(detach_keys_, &keys))
    return report("--detach-keys " + detach_keys_ + ": expected ctrl-<key> or one character, comma separated");

  json body = {{"cmd", rest}};
  json env = json::object();
  std::vector<std::string> all_env;
  for (const auto& f : env_files_) {
    auto lines = read_env_file(f);
    if (!lines) return report(lines.error().what());
    all_env.insert(all_env.end(), lines->begin(), lines->end());
  }
  all_env.insert(all_env.end(), env_.begin(), env_.end());
  for (const auto& e : all_env) {
    auto eq = e.find('=');
    if (eq == 0) return report("-e " + e + ": expected KEY=VALUE or KEY");
    if (eq != std::string::npos) {
      env[e.substr(0, eq)] = e.substr(eq + 1);
    } else if (const char* v = std::getenv(e.c_str())) {
      env[e] = v;  // KEY alone: ljctl's own, as docker's -e KEY; unset: left out
    }
  }
  if (!env.empty()) body["env"] = env;
  if (!user_.empty()) body["user"] = user_;
  if (!workdir_.empty()) body["workdir"] = workdir_;
  if (interactive_) body["stdin"] = true;
  if (tty_) {
    body["tty"] = true;
    if (struct winsize ws {}; ::isatty(0) && ::ioctl(0, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col)
      body["tty_size"] = {{"rows", ws.ws_row}, {"cols", ws.ws_col}};
  }
  auto created = api.call("POST", "/v1/jails/" + seg(jail_) + "/exec", &body);
  if (!created) return report(created.error().what());
  const std::string id = created->value("id", "");
  if (id.empty()) return report("ljd created an exec without an id — check ljd's log");
  if (detach_) {
    auto started = api.call_raw("POST", "/v1/exec/" + id + "/start?detach=true");
    if (!started) {
      const ApiError& ae = api.last_api_error();
      return ae.status ? report_refusal(ae.status, json({{"code", ae.code}, {"message", ae.message}, {"details", ae.details}}).dump())
                       : report(started.error().what());
    }
    std::printf("%s\n", json_out ? started->c_str() : id.c_str());
    return 0;
  }
  AttachOptions o;
  o.target = "/v1/exec/" + id + "/start";
  o.tty = tty_;
  o.input = interactive_;
  o.detach_keys = keys;
  o.resize_target = "/v1/exec/" + id + "/resize";
  AttachResult r = attach_stream(api.socket(), o);
  if (r.refused_status) return report_refusal(r.refused_status, r.refused_body);
  if (!r.error.empty()) return report(r.error);
  if (r.detached) {
    std::fprintf(stderr, "\r\nljctl: detached from exec %s (it runs on in jail %s)\r\n", id.c_str(),
                 jail_.c_str());
    return 0;
  }
  auto w = api.call("GET", "/v1/exec/" + id + "/wait");
  if (!w) return report(w.error().what());
  return exit_status(w->contains("exit") ? (*w)["exit"] : json());
}

int ExecCommands::attach(Api& api) {
  std::string keys;
  if (!parse_detach_keys(detach_keys_, &keys))
    return report("--detach-keys " + detach_keys_ + ": expected ctrl-<key> or one character, comma separated");
  auto row = api.call("GET", "/v1/jails/" + seg(jail_));
  if (!row) return report(row.error().what());
  const std::string id = row->value("id", jail_);
  const json spec = row->value("spec", json::object());
  AttachOptions o;
  o.target = "/v1/jails/" + id + "/attach";
  o.tty = spec.is_object() && spec.value("tty", false);
  o.input = spec.is_object() && spec.value("stdin", false);
  o.detach_keys = keys;
  o.resize_target = o.tty ? "/v1/jails/" + id + "/resize" : "";
  AttachResult r = attach_stream(api.socket(), o);
  if (r.refused_status) return report_refusal(r.refused_status, r.refused_body);
  if (!r.error.empty()) return report(r.error);
  if (r.detached) {
    std::fprintf(stderr, "\r\nljctl: detached from jail %s (it runs on)\r\n", id.c_str());
    return 0;
  }
  auto w = api.call("GET", "/v1/jails/" + id + "/wait");
  if (!w) return report(w.error().what());
  return exit_status(w->contains("exit") ? (*w)["exit"] : json());
}

}  // namespace lj::ljctl
