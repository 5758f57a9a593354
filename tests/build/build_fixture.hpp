// A temporary lightjail root with a busybox world, for build tests. Removes everything it made;
// refuses to remove a tree that still has something mounted under it.
#pragma once

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "build/builder.hpp"
#include "image/digest.hpp"
#include "image/store.hpp"
#include "jail/backend.hpp"
#include "common/mount_table.hpp"
#include "overlay/root.hpp"

namespace lj::build::testing {

namespace fs = std::filesystem;

inline std::string read_text(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline void write_text(const fs::path& p, std::string_view text) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << text;
}

inline fs::path unique_temp_dir(std::string_view what) {
  std::random_device rd;
  fs::path dir =
      fs::temp_directory_path() / ("lj-" + std::string(what) + "-" + std::to_string(::getpid()) +
                                   "-" + std::to_string(rd() % 1000000));
  fs::create_directories(dir);
  return dir;
}

// root/worlds/<name>: busybox-static and a link per applet, plus the usual mount points.
inline bool make_busybox_world(const fs::path& dir) {
  const fs::path busybox = "/bin/busybox";
  if (!fs::exists(busybox)) return false;
  for (const char* d :
       {"bin", "etc", "dev", "proc", "sys", "tmp", "root", "usr/bin", "usr/local"}) {
    fs::create_directories(dir / d);
  }
  fs::permissions(dir / "tmp", fs::perms::all | fs::perms::sticky_bit);
  fs::copy_file(busybox, dir / "bin/busybox");
  for (const char* applet :
       {"sh",    "echo",  "cat",  "cp",    "rm",  "mkdir", "test",    "[",   "ls",
        "sleep", "chmod", "true", "false", "id",  "touch", "printf",  "seq", "wc",
        "kill",  "ln",    "mv",   "grep",  "sed", "env",   "hostname"}) {
    fs::create_symlink("busybox", dir / "bin" / applet);
  }
  write_text(dir / "etc/passwd", "root:x:0:0:root:/root:/bin/sh\n");
  write_text(dir / "etc/world-release", "busybox test world\n");
  return true;
}

// An image in root/images named `ref` whose one layer is a busybox tree (as if pulled and
// unpacked); `marker` goes into /etc/image-marker, so two such images differ. Returns the
// manifest digest ("sha256:...") or "" on failure.
inline std::string store_busybox_image(const overlay::Root& root, const std::string& ref,
                                       const std::string& marker) {
  auto store = image::Store::open(root);
  if (!store) return "";
  const image::Digest did = image::Digest::of("layer " + marker);
  const std::string diff_id = did.str();
  const fs::path layer = store->layer_path(did);
  if (!fs::exists(layer)) {
    if (!make_busybox_world(layer)) return "";
    write_text(layer / "etc/image-marker", marker + "\n");
  }
  const std::string config =
      R"({"architecture":"amd64","os":"linux","config":{"Env":["PATH=/bin"]},)"
      R"("rootfs":{"type":"layers","diff_ids":[")" + diff_id + R"("]}})";
  auto cd = store->put(config);
  if (!cd) return "";
  const std::string manifest =
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
      cd->str() + R"(","size":)" + std::to_string(config.size()) +
      R"(},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")" +
      image::Digest::of("blob " + marker).str() + R"(","size":1}]})";
  auto md = store->put(manifest);
  if (!md) return "";
  if (!store->set_ref(ref, *md)) return "";
  return md->str();
}

// Counts spawns, to assert that a cache hit ran nothing.
class CountingBackend : public jail::Backend {
 public:
  explicit CountingBackend(jail::Backend& inner) : inner_(inner) {}
  std::string_view name() const override { return inner_.name(); }
  std::vector<std::string> features() const override { return inner_.features(); }
  Result<std::unique_ptr<jail::Jail>> spawn(const jail::JailSpec& spec) override {
    ++spawns;
    return inner_.spawn(spec);
  }
  Result<std::unique_ptr<jail::Jail>> adopt(const jail::JailHandle& h) override {
    return inner_.adopt(h);
  }
  Status release(const jail::JailHandle& h) override { return inner_.release(h); }

  std::atomic<int> spawns{0};

 private:
  jail::Backend& inner_;
};

class BuildRoot {
 public:
  BuildRoot() : dir_(unique_temp_dir("build-root")), root_(dir_) {
    auto st = root_.create_skeleton();
    EXPECT_TRUE(st) << (st ? "" : st.error().what());
    world_ok_ = make_busybox_world(root_.worlds_dir() / "busybox");
  }
  ~BuildRoot() {
    auto unmounted = lj::ensure_nothing_mounted(lj::system_mount_table(), dir_);
    if (unmounted) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    } else {
      ADD_FAILURE() << "mounts left under " << dir_;
    }
  }
  BuildRoot(const BuildRoot&) = delete;
  BuildRoot& operator=(const BuildRoot&) = delete;

  const overlay::Root& root() const { return root_; }
  const fs::path& dir() const { return dir_; }
  bool world_ok() const { return world_ok_; }

  // Writes <dir>/src/<sub>/Jailfile and returns a request for it on the busybox world.
  BuildRequest jailfile(const std::string& sub, std::string_view text) const {
    fs::path ctx = dir_ / "src" / sub;
    write_text(ctx / "Jailfile", text);
    BuildRequest req;
    req.jailfile = ctx / "Jailfile";
    req.default_world = "busybox";
    return req;
  }

 private:
  fs::path dir_;
  overlay::Root root_;
  bool world_ok_ = false;
};

}  // namespace lj::build::testing
