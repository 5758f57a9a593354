#include "ljd_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace lj::testing {

std::string LjdProcess::binary() {
  if (const char* env = std::getenv("LJD_BINARY"); env && *env) return env;
  return LJD_BINARY_PATH;
}

LjdProcess::LjdProcess(std::string extra_config) : extra_(std::move(extra_config)) {
  char tmpl[] = "/tmp/ljd-test.XXXXXX";
  char* dir = ::mkdtemp(tmpl);
  root_ = dir ? dir : "/tmp/ljd-test-failed";
}

LjdProcess::~LjdProcess() {
  if (pid_ > 0) stop(std::chrono::seconds(20));
  std::error_code ec;
  std::filesystem::remove_all(root_, ec);
}

std::string LjdProcess::log() const {
  std::ifstream in(root_ / "ljd.stderr");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

HttpClient LjdProcess::client() const {
  auto c = HttpClient::connect(socket());
  if (!c) throw std::runtime_error(c.error().what());
  return std::move(*c);
}

Status LjdProcess::start() {
  // A second ljd on the same root would be refused, and the first one forgotten: leaked.
  if (pid_ > 0) return fail(Errc::conflict, "test", "ljd is already running");
  {
    std::ofstream conf(config_path());
    conf << "root = " << root_.string() << "\n"
         << "socket = " << socket() << "\n"
         << "log_level = debug\n"
         << "stop_timeout = 5s\n"
         << extra_ << "\n";
  }
  // Everything the child needs, made before the fork (the test may have threads: no malloc after).
  const std::string bin = binary(), conf = config_path().string(),
                    err_path = (root_ / "ljd.stderr").string(),
                    procs = cgroup_.empty() ? "" : (cgroup_ / "cgroup.procs").string();
  pid_t pid = ::fork();
  if (pid < 0) return fail_errno("test", "fork");
  if (pid == 0) {
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (err >= 0) {
      ::dup2(err, 2);
      ::dup2(err, 1);
    }
    if (!procs.empty()) {  // "0": the writer itself
      int fd = ::open(procs.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd < 0 || ::write(fd, "0", 1) != 1) {
        static const char msg[] = "test: cannot enter the cgroup given to start_in_cgroup\n";
        (void)!::write(2, msg, sizeof msg - 1);
        ::_exit(126);
      }
      ::close(fd);
    }
    ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), "--foreground",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  pid_ = pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return fail(Errc::system, "test", "ljd exited during start-up: " + log());
    }
    if (auto c = HttpClient::connect(socket())) {
      auto r = c->get("/v1/info");
      if (r && r->status == 200) return {};
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fail(Errc::timed_out, "test", "ljd did not become ready: " + log());
}

int LjdProcess::stop(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  int status = wait_exit(timeout);
  if (status == -1) crash();
  return status;
}

int LjdProcess::wait_exit(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return -1;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return -1;
}

void LjdProcess::crash() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

Status LjdProcess::make_busybox_world(const std::string& name) const {
  auto w = root_ / "worlds" / name;
  std::error_code ec;
  for (auto d : {"bin", "sbin", "usr/bin", "usr/sbin", "etc", "tmp", "dev", "proc", "root"}) {
    std::filesystem::create_directories(w / d, ec);
    if (ec) return fail(Errc::system, "test", "mkdir " + (w / d).string() + ": " + ec.message());
  }
  const char* busybox = "/bin/busybox";
  std::filesystem::copy_file(busybox, w / "bin" / "busybox",
                             std::filesystem::copy_options::overwrite_existing, ec);
  if (ec) return fail(Errc::system, "test", "copy busybox: " + ec.message());
  for (auto applet : {"sh", "true", "false", "echo", "cat", "sleep", "ls", "id", "env", "hostname",
                      "printf", "yes", "head", "kill", "ps", "test", "seq", "wc", "pwd"}) {
    std::filesystem::create_symlink("busybox", w / "bin" / applet, ec);
  }
  std::ofstream(w / "etc" / "passwd") << "root:x:0:0:root:/root:/bin/sh\n";
  std::ofstream(w / "etc" / "group") << "root:x:0:\n";
  return {};
}

}  // namespace lj::testing
