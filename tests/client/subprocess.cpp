#include "subprocess.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace lj::test {

namespace {
std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}
}  // namespace

Proc::Proc(const std::vector<std::string>& argv, const std::vector<std::string>& env, int as_uid) {
  char tmpl[] = "/tmp/ljctl-proc-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
  dir_ = tmpl;
  ::chmod(dir_.c_str(), 0777);
  std::string out = dir_ + "/out", err = dir_ + "/err";
  out_ = ::open(out.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  err_ = ::open(err.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_ = ::fork();
  if (pid_ < 0) throw std::runtime_error("fork");
  if (pid_ == 0) {
    ::dup2(out_, 1);
    ::dup2(err_, 2);
    ::setpgid(0, 0);
    // The test runner may ignore or block signals; ljctl must see them as a shell would give them.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGINT, SIG_DFL);
    for (const auto& e : env) ::putenv(const_cast<char*>(e.c_str()));
    if (as_uid >= 0 &&
        (::setgid(static_cast<gid_t>(as_uid)) != 0 || ::setuid(static_cast<uid_t>(as_uid)) != 0)) {
      ::_exit(120);
    }
    ::execv(args[0], args.data());
    ::_exit(121);
  }
}

Proc::~Proc() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  ::close(out_);
  ::close(err_);
  std::string cmd = dir_ + "/out";
  ::unlink(cmd.c_str());
  cmd = dir_ + "/err";
  ::unlink(cmd.c_str());
  ::rmdir(dir_.c_str());
}

ProcResult Proc::wait(int timeout_ms) {
  ProcResult r;
  int st = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    pid_t w = ::waitpid(pid_, &st, WNOHANG);
    if (w == pid_) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &st, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  pid_ = -1;
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  r.out = slurp(dir_ + "/out");
  r.err = slurp(dir_ + "/err");
  return r;
}

ProcResult run(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  return Proc(argv, env).wait();
}

}  // namespace lj::test
