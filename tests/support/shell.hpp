// Runs a shell command line for black-box tests: its exit status and its stdout+stderr.
#pragma once

#include <sys/wait.h>

#include <cstdio>
#include <string>

namespace lj::test {

struct ShellOut {
  int status = -1;  // the exit status; -1 when it did not exit normally
  std::string text;
};

inline ShellOut sh(const std::string& cmd) {
  ShellOut o;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return o;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) o.text += buf;
  int ws = ::pclose(p);
  o.status = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  return o;
}

}  // namespace lj::test
