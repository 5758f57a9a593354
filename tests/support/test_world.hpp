// A tiny Linux world for tests: Debian's static busybox with its applet links, plus the static
// probe (tests/probe/probe.c) as /bin/probe, in a fresh temporary directory that the destructor
// removes. Reusable by any test that needs a root to jail (lib/jail, lib/build, the daemon).
//
//   lj::test::TestWorld w;            // w.dir(): the temp dir; w.world(): the world inside it
//   spec.root.layers = {w.world()};
//
// Needs /bin/busybox (Debian: busybox-static) and the probe, whose path CMake compiles in.
#pragma once

#include <filesystem>
#include <string>

namespace lj::test {

class TestWorld {
 public:
  TestWorld();  // throws std::runtime_error when busybox or the probe is missing
  ~TestWorld();
  TestWorld(const TestWorld&) = delete;
  TestWorld& operator=(const TestWorld&) = delete;

  // A unique temporary directory (under /tmp), removed with everything in it.
  const std::filesystem::path& dir() const { return dir_; }
  // dir()/world: bin/ (busybox, applets, probe), dev/ proc/ sys/ tmp/ etc/ root/.
  std::filesystem::path world() const { return dir_ / "world"; }
  // A new empty directory under dir().
  std::filesystem::path mkdir(const std::string& name) const;

 private:
  std::filesystem::path dir_;
};

// A name unique on this machine and in this process, for jails and cgroups: "<prefix>-<pid>-<n>".
std::string unique_name(const std::string& prefix);

// True when running as root (privileged tests skip otherwise).
bool is_root();

}  // namespace lj::test
