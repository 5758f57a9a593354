#include "test_world.hpp"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>

namespace lj::test {
namespace fs = std::filesystem;

namespace {
// The applets the tests and scripts use; the rest of busybox is reachable as `busybox NAME`.
constexpr const char* kApplets[] = {"sh",     "ls",       "cat",      "echo",  "sleep",    "true",
                                    "false",  "id",       "hostname", "ps",    "mount",    "mkdir",
                                    "rm",     "touch",    "env",      "ip",    "ifconfig", "wc",
                                    "grep",   "head",     "tail",     "test",  "kill",     "mknod",
                                    "chroot", "readlink", "uname",    "printf"};
}  // namespace

TestWorld::TestWorld() {
  const fs::path busybox = "/bin/busybox";
  const fs::path probe = LJ_PROBE_PATH;
  if (!fs::exists(busybox))
    throw std::runtime_error("no /bin/busybox (apt install busybox-static)");
  if (!fs::exists(probe)) throw std::runtime_error("no probe at " + probe.string());
  char tmpl[] = "/tmp/lj-world-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  fs::permissions(dir_, fs::perms(0755));
  const fs::path w = world();
  for (const char* d : {"bin", "dev", "proc", "sys", "tmp", "etc", "root", "usr/bin"})
    fs::create_directories(w / d);
  fs::permissions(w / "tmp", fs::perms(01777));
  fs::copy_file(busybox, w / "bin/busybox");
  fs::copy_file(probe, w / "bin/probe");
  for (const char* a : kApplets) fs::create_symlink("busybox", w / "bin" / a);
  std::unique_ptr<FILE, int (*)(FILE*)> passwd(std::fopen((w / "etc/passwd").c_str(), "w"),
                                               std::fclose);
  if (passwd)
    std::fputs("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/bin/false\n", passwd.get());
}

TestWorld::~TestWorld() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

fs::path TestWorld::mkdir(const std::string& name) const {
  fs::path p = dir_ / name;
  fs::create_directories(p);
  return p;
}

std::string unique_name(const std::string& prefix) {
  static std::atomic<int> n{0};
  return prefix + "-" + std::to_string(::getpid()) + "-" + std::to_string(n++);
}

bool is_root() {
  return ::geteuid() == 0;
}

}  // namespace lj::test
