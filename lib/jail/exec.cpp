#include "jail/exec.hpp"

#include <string_view>

namespace lj::jail {

Status validate_exec_spec(const ExecSpec& spec) {
  auto bad = [](std::string msg) { return fail(Errc::invalid_argument, "jail", std::move(msg)); };
  if (spec.argv.empty() || spec.argv[0].empty()) return bad("an exec needs a command");
  for (const auto& e : spec.env)
    if (e.find('=') == std::string::npos || e[0] == '=')
      return bad("environment entry is not KEY=value: '" + e + "'");
  if (spec.workdir.empty() || spec.workdir[0] != '/')
    return bad("working directory must be absolute: '" + spec.workdir + "'");
  if (!valid_user_form(spec.user)) return bad("user must be name|uid[:group|gid]: '" + spec.user + "'");
  if (spec.stdio.out_read >= 0 || spec.stdio.err_read >= 0)
    return bad("an exec's output pipes are not held by the jail: no out_read/err_read");
  if (spec.tty) {
    if (spec.tty->socket < 0) return bad("a terminal needs a socket to hand its master back on");
    if (spec.stdio.in >= 0 || spec.stdio.out >= 0 || spec.stdio.err >= 0)
      return bad("an exec with a terminal takes its stdio from it: no stdio descriptors");
  }
  const ProcessOptions& p = spec.process;
  if (!p.sysctl.empty() || p.oom_score_adj || p.hold_fd >= 0 || !p.create_hooks.empty() ||
      !p.start_hooks.empty())
    return bad("sysctl, oom_score_adj, hold_fd and the hooks are the jail's, not an exec's");
  return {};
}

}  // namespace lj::jail
