// Runs a program (ljctl) as a subprocess with its stdout and stderr captured, for black-box tests.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace lj::test {

struct ProcResult {
  int status = -1;  // the exit status, or 128+N when killed by signal N
  std::string out, err;
};

class Proc {
 public:
  // Starts argv[0] with argv; `env` entries ("K=V") are added to this process's environment.
  // `as_uid` >= 0: setuid to it first (tests of permission errors, when root).
  explicit Proc(const std::vector<std::string>& argv, const std::vector<std::string>& env = {},
                int as_uid = -1);
  ~Proc();
  Proc(const Proc&) = delete;
  Proc& operator=(const Proc&) = delete;

  pid_t pid() const { return pid_; }
  // Waits for the exit (SIGKILL after `timeout_ms`) and collects the output.
  ProcResult wait(int timeout_ms = 30000);

 private:
  pid_t pid_ = -1;
  int out_ = -1, err_ = -1;
  std::string dir_;
};

// Proc(argv, env).wait().
ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env = {});

}  // namespace lj::test
