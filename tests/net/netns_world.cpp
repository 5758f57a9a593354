#include "netns_world.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

namespace lj::net::test {
namespace {

Run sh(const std::string& cmd) {
  Run r;
  std::string full = cmd + " 2>&1";
  FILE* p = ::popen(full.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (std::size_t n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

// `path` is the root of a mount (statx STATX_ATTR_MOUNT_ROOT): a bind of a directory onto itself
// has the same device as its parent, so st_dev cannot tell.
bool mount_root(const char* path) {
  struct statx sx {};
  return ::statx(AT_FDCWD, path, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS, &sx) == 0 &&
         (sx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
         (sx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

}  // namespace

bool have_root_and_tools(std::string* why) {
  if (::geteuid() != 0) {
    *why = "needs root (network namespaces)";
    return false;
  }
  for (const char* t : {"/usr/sbin/ip", "/usr/bin/busybox", "/usr/sbin/nft", "/usr/bin/curl"})
    if (::access(t, X_OK) != 0) {
      *why = std::string("needs ") + t;
      return false;
    }
  return true;
}

NetnsWorld::NetnsWorld() : prefix_("ljt" + std::to_string(::getpid()) + "-") {
  char tmpl[] = "/tmp/lj-net-www-XXXXXX";
  www_ = ::mkdtemp(tmpl);
  std::filesystem::create_directories(www_ + "/cgi-bin");
  std::ofstream(www_ + "/cgi-bin/ip") << "#!/bin/sh\necho 'Content-Type: text/plain'\necho\n"
                                         "echo \"$REMOTE_ADDR\"\n";
  ::chmod((www_ + "/cgi-bin/ip").c_str(), 0755);
  std::ofstream(www_ + "/index.html") << "ok\n";
}

NetnsWorld::~NetnsWorld() {
  for (pid_t p : procs_) {
    ::kill(p, SIGKILL);
    ::waitpid(p, nullptr, 0);
  }
  for (auto it = made_.rbegin(); it != made_.rend(); ++it) sh("ip netns del " + *it);
  // Not while anything is in it (another test's namespace): that one's world undoes it, or
  // scripts/test at the end.
  std::error_code ec;
  if (dir_was_mounted_ == false && mount_root("/run/netns") &&
      std::filesystem::is_empty("/run/netns", ec) && !ec)
    (void)::umount2("/run/netns", 0);
  std::filesystem::remove_all(www_);
}

std::string NetnsWorld::add(const std::string& name) {
  if (!dir_was_mounted_) dir_was_mounted_ = mount_root("/run/netns");
  std::string n = full(name);
  sh("ip netns del " + n);  // a leftover of a killed run of this pid
  Run r = sh("ip netns add " + n);
  if (r.status == 0) made_.push_back(n);
  sh("ip -n " + n + " link set lo up");
  return n;
}

UniqueFd NetnsWorld::fd(const std::string& name) const {
  return UniqueFd(::open(("/run/netns/" + full(name)).c_str(), O_RDONLY | O_CLOEXEC));
}

Run NetnsWorld::exec(const std::string& name, const std::string& cmd) const {
  std::string quoted = "'";
  for (char c : cmd) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return sh("ip netns exec " + full(name) + " sh -c " + quoted);
}

pid_t NetnsWorld::spawn(const std::string& name, const std::vector<std::string>& argv) {
  std::vector<std::string> all{"ip", "netns", "exec", full(name)};
  all.insert(all.end(), argv.begin(), argv.end());
  pid_t pid = ::fork();
  if (pid == 0) {
    std::vector<char*> a;
    for (auto& s : all) a.push_back(s.data());
    a.push_back(nullptr);
    int null = ::open("/dev/null", O_RDWR);
    ::dup2(null, 0);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execv("/usr/sbin/ip", a.data());
    ::_exit(127);
  }
  if (pid > 0) procs_.push_back(pid);
  return pid;
}

void NetnsWorld::httpd(const std::string& name, int port) {
  spawn(name, {"busybox", "httpd", "-f", "-p", std::to_string(port), "-h", www_});
  for (int i = 0; i < 100; ++i) {
    if (exec(name, "curl -sf -m 1 -o /dev/null http://127.0.0.1:" + std::to_string(port) +
                       "/index.html").status == 0)
      return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Run NetnsWorld::get_ip(const std::string& name, const std::string& host, int port) const {
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  Run r = exec(name, "curl -sfg --connect-timeout 1 -m 2 http://" + h + ":" + std::to_string(port) +
                         "/cgi-bin/ip");
  while (!r.out.empty() && r.out.back() == '\n') r.out.pop_back();
  // busybox httpd listens on IPv6 and writes "[::ffff:192.0.2.1]" for an IPv4 client.
  if (r.out.size() > 2 && r.out.front() == '[' && r.out.back() == ']')
    r.out = r.out.substr(1, r.out.size() - 2);
  if (r.out.rfind("::ffff:", 0) == 0 && r.out.find('.') != std::string::npos)
    r.out = r.out.substr(7);
  if (r.status != 0) r.out.clear();
  return r;
}

Inside::Inside(int netns_fd) : own_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
  if (!own_ || ::setns(netns_fd, CLONE_NEWNET) != 0) std::abort();
}

Inside::~Inside() {
  if (::setns(own_.get(), CLONE_NEWNET) != 0) std::abort();
}

}  // namespace lj::net::test
