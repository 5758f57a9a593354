// The index on a real file system that fills up: needs root for a private mount namespace.
#include <sched.h>
#include <sys/mount.h>

#include <gtest/gtest.h>

#include "../overlay/temp_dir.hpp"
#include "helpers.hpp"
#include "index/index.hpp"

namespace lj::index {
namespace {

using overlay::test::TempDir;

TEST(IndexPrivileged, FullDiskIsNoSpace) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mounts a tiny tmpfs in a private namespace";
  TempDir dir;
  const std::string mnt = dir.path().string();
  int rc = in_child([&] {
    if (::unshare(CLONE_NEWNS) != 0) return 10;
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 11;
    if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0) return 12;
    auto idx = Index::open(mnt + "/index.db");
    if (!idx) return 13;
    JailRow r = jail("");
    r.spec = std::string(16 * 1024, 'x');
    for (int i = 0; i < 1000; ++i) {
      auto ins = idx->insert_jail(r);
      if (!ins) return ins.error().errc() == Errc::no_space ? 0 : 1;
    }
    return 2;  // never filled up
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace lj::index
