// Helpers shared by the index tests.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "index/index.hpp"

namespace lj::index {

inline Index open_memory() {
  auto idx = Index::open(":memory:");
  if (!idx) ADD_FAILURE() << idx.error().what();
  return std::move(idx).value();
}

inline JailRow jail(std::string name, std::map<std::string, std::string> labels = {}) {
  JailRow r;
  r.name = std::move(name);
  r.labels = std::move(labels);
  r.spec = R"({"command":["/bin/true"]})";
  r.owner_uid = 1001;
  return r;
}

// Runs `fn` in a forked child and returns its exit status (fn's return value), so a test can
// change credentials or namespaces, or die abruptly, without touching the test process.
template <class F>
int in_child(F fn) {
  pid_t pid = ::fork();
  if (pid == 0) ::_exit(fn());
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace lj::index
