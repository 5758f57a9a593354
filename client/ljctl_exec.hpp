// ljctl's exec sessions and attach (issue 13): `exec [-i] [-t] [-d] [-u] [-e] [-w]
// [--detach-keys] JAIL CMD...` and `attach [--detach-keys] JAIL`. Registered into ljctl's CLI by
// two calls, as NetworkCommands.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "client/ljctl_api.hpp"

namespace CLI {
class App;
}

namespace lj::ljctl {

class ExecCommands {
 public:
  void add(CLI::App& app, const std::function<void(CLI::App*)>& add_globals);
  // After parsing: the exit status of the command given, nullopt when it was neither.
  std::optional<int> run(Api& api, bool json_out);

 private:
  int exec(Api& api, bool json_out);
  int attach(Api& api);

  CLI::App *exec_ = nullptr, *attach_ = nullptr;
  bool interactive_ = false, tty_ = false, detach_ = false;
  std::string user_, workdir_, detach_keys_ = "ctrl-p,ctrl-q", jail_;
  std::vector<std::string> env_, env_files_;
};

}  // namespace lj::ljctl
