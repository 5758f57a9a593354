// lib/image on the real kernel, as root: whiteouts and opaque directories become overlayfs's own,
// and the tree a stack of unpacked layers shows through overlayfs is the tree `umoci unpack`
// makes of the same image (modes, owners, contents, links, xattrs, whiteouts applied). Also
// imports of the archives `podman save` writes. Skips without root, umoci or podman.
#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>

#include "image/import.hpp"
#include "image/store.hpp"
#include "tar_builder.hpp"

namespace lj::image {
namespace {

using namespace test;

bool have(const char* tool) {
  return std::system((std::string("command -v ") + tool + " >/dev/null 2>&1").c_str()) == 0;
}

int run(const std::string& cmd) {
  int st = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

// One line per entry, sorted: path, type, mode, owner, size, content digest or link target,
// user.* xattrs, and the mtime of non-directories (a directory's mtime legitimately differs:
// umoci deletes whiteout targets from the directory, overlayfs shows the lower's).
std::string describe_tree(const fs::path& root) {
  std::vector<std::string> lines;
  for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
    const fs::path p = it->path();
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) continue;
    std::ostringstream o;
    o << fs::relative(p, root).string() << " " << std::oct << st.st_mode << std::dec << " "
      << st.st_uid << ":" << st.st_gid;
    if (S_ISREG(st.st_mode)) {
      o << " " << st.st_size << " " << Digest::of(slurp(p)).hex().substr(0, 16) << " " << st.st_mtime;
    } else if (S_ISLNK(st.st_mode)) {
      o << " -> " << fs::read_symlink(p).string() << " " << st.st_mtime;
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      o << " dev " << major(st.st_rdev) << ":" << minor(st.st_rdev);
    }
    if (!S_ISLNK(st.st_mode)) {
      char names[4096];
      ssize_t n = ::llistxattr(p.c_str(), names, sizeof names);
      for (ssize_t i = 0; i < n; i += static_cast<ssize_t>(std::strlen(names + i)) + 1) {
        std::string name = names + i;
        if (name.rfind("user.", 0) != 0) continue;
        char v[256];
        ssize_t vn = ::lgetxattr(p.c_str(), name.c_str(), v, sizeof v);
        o << " " << name << "=" << std::string(v, vn > 0 ? static_cast<size_t>(vn) : 0);
      }
    }
    lines.push_back(o.str());
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const auto& l : lines) out += l + "\n";
  return out;
}

// The tree of `layers` (bottom first) merged by a read-only overlayfs mount, described; the
// mount lives in a child's private mount namespace and dies with it.
std::string describe_overlay(const std::vector<fs::path>& layers, const fs::path& work) {
  std::string lower;
  for (auto it = layers.rbegin(); it != layers.rend(); ++it) lower += (lower.empty() ? "" : ":") + it->string();
  fs::create_directories(work / "mnt");
  const fs::path out = work / "overlay.txt";
  pid_t pid = ::fork();
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(2);
    std::string opts = "lowerdir=" + lower;
    if (::mount("overlay", (work / "mnt").c_str(), "overlay", MS_RDONLY, opts.c_str()) != 0) _exit(3);
    write_file(out, describe_tree(work / "mnt"));
    _exit(0);
  }
  int st = 0;
  ::waitpid(pid, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "overlay child status " << st;
  return slurp(out);
}

class ImagePrivileged : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (whiteouts are device nodes, opaque is a trusted xattr)";
    auto s = Store::open(overlay::Root(tmp.path() / "root"));
    ASSERT_TRUE(s) << s.error().what();
    store.emplace(std::move(*s));
  }
  TempDir tmp;
  std::optional<Store> store;
};

BuiltImage three_layers() {
  Entry home = dir("home/u", 0700);
  home.uid = home.gid = 1000;
  Entry owned = file("home/u/.profile", "export A=1\n", 0600);
  owned.uid = owned.gid = 1000;
  Entry attr = file("data/f", "data", 0640);
  attr.xattrs["user.k"] = "v";
  std::string l1 = make_tar({dir("etc"), file("etc/passwd", "root:x:0:0::/:/bin/sh\n"),
                             file("etc/motd", "old motd\n"), dir("opt"), dir("opt/a"),
                             file("opt/a/x", "x"), file("opt/b", "b"), dir("usr/bin"),
                             file("usr/bin/tool", "tool", 04755), sym("usr/bin/sh", "tool"),
                             dir("home"), home, owned, dir("data"), attr, dir("tmp", 01777)},
                            true);
  std::string l2 = make_tar({dir("etc"), file("etc/.wh.motd", ""), dir("opt"),
                             file("opt/.wh..wh..opq", ""), file("opt/new", "new"),
                             file("usr/bin/t2", "two", 0755), hard("usr/bin/t3", "usr/bin/t2"),
                             file(".wh.data", "")});
  std::string l3 = make_tar({dir("data", 0750), file("data/g", "g"), file("etc/motd", "new motd\n"),
                             file("usr/bin/.wh.sh", "")},
                            true);
  return build_image({l1, l2, l3}, host_platform().architecture,
                     {{"Cmd", {"/bin/sh"}}});
}

TEST_F(ImagePrivileged, WhiteoutsAndOpaqueBecomeOverlayfs) {
  auto img = three_layers();
  write_layout(tmp.path() / "layout", img);
  ImportOptions opt;
  opt.name = "localhost/three:1";
  auto r = import_images(*store, tmp.path() / "layout", opt);
  ASSERT_TRUE(r) << r.error().what();
  auto im = store->image(img.manifest_digest);
  ASSERT_TRUE(im) << im.error().what();
  ASSERT_EQ(im->layer_dirs.size(), 3u);
  struct stat st {};
  ASSERT_EQ(::lstat((im->layer_dirs[1] / "etc/motd").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0));
  ASSERT_EQ(::lstat((im->layer_dirs[1] / "data").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode));
  char v[8] = {};
  EXPECT_EQ(::getxattr((im->layer_dirs[1] / "opt").c_str(), "trusted.overlay.opaque", v, sizeof v), 1);
  EXPECT_EQ(v[0], 'y');
  // Owners kept (as root).
  ASSERT_EQ(::lstat((im->layer_dirs[0] / "home/u/.profile").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1000u);
  // Nothing named .wh.* survives.
  for (const auto& l : im->layer_dirs) {
    for (auto& e : fs::recursive_directory_iterator(l)) {
      EXPECT_EQ(e.path().filename().string().rfind(".wh.", 0), std::string::npos) << e.path();
    }
  }

  std::string merged = describe_overlay(im->layer_dirs, tmp.path());
  EXPECT_EQ(merged.find("etc/motd 100644 0:0 9"), merged.find("etc/motd "));  // the new one
  EXPECT_EQ(merged.find("opt/a"), std::string::npos) << merged;
  EXPECT_EQ(merged.find("opt/b"), std::string::npos) << merged;
  EXPECT_EQ(merged.find("data/f"), std::string::npos) << merged;
  EXPECT_EQ(merged.find("usr/bin/sh"), std::string::npos) << merged;
  EXPECT_NE(merged.find("data/g"), std::string::npos) << merged;
  EXPECT_NE(merged.find("usr/bin/tool 104755 0:0 4 "), std::string::npos) << merged;
  EXPECT_NE(merged.find("home/u/.profile 100600 1000:1000 "), std::string::npos) << merged;

  if (!have("umoci")) GTEST_SKIP() << "umoci not installed: no cross-check";
  // umoci wants the reference as the layout's ref.name annotation.
  write_layout(tmp.path() / "layout2", img, "t");
  ASSERT_EQ(run("umoci unpack --image " + (tmp.path() / "layout2").string() + ":t " +
                (tmp.path() / "bundle").string()), 0);
  std::string theirs = describe_tree(tmp.path() / "bundle/rootfs");
  EXPECT_EQ(merged, theirs);
}

TEST_F(ImagePrivileged, ImportsPodmanArchives) {
  if (!have("podman")) GTEST_SKIP() << "podman not installed";
  const fs::path t = tmp.path();
  fs::create_directories(t / "tree/bin");
  fs::copy_file("/bin/busybox", t / "tree/bin/busybox");
  fs::create_symlink("busybox", t / "tree/bin/sh");
  const std::string podman = "podman --root " + (t / "p/root").string() + " --runroot " +
                             (t / "p/run").string() + " --storage-driver vfs ";
  ASSERT_EQ(run("tar -C " + (t / "tree").string() + " -cf " + (t / "bb.tar").string() + " ."), 0);
  ASSERT_EQ(run(podman + "import " + (t / "bb.tar").string() + " localhost/bb:1"), 0);
  ASSERT_EQ(run(podman + "save --format oci-archive -o " + (t / "oci.tar").string() + " localhost/bb:1"), 0);
  ASSERT_EQ(run(podman + "save --format docker-archive -o " + (t / "docker.tar").string() + " localhost/bb:1"), 0);

  auto oci = import_images(*store, t / "oci.tar");
  ASSERT_TRUE(oci) << oci.error().what();
  ASSERT_EQ(oci->size(), 1u);
  EXPECT_EQ((*oci)[0].ref, "localhost/bb:1");
  ImportOptions opt;
  opt.name = "localhost/bb-docker:1";
  auto docker = import_images(*store, t / "docker.tar", opt);
  ASSERT_TRUE(docker) << docker.error().what();
  auto a = store->image((*oci)[0].manifest);
  auto b = store->image((*docker)[0].manifest);
  ASSERT_TRUE(a && b);
  // The same layer (by diff_id), unpacked once, whichever archive brought it.
  EXPECT_EQ(a->diff_ids, b->diff_ids);
  EXPECT_EQ(a->layer_dirs, b->layer_dirs);
  EXPECT_EQ(slurp(a->layer_dirs[0] / "bin/busybox"), slurp("/bin/busybox"));
  EXPECT_EQ(fs::read_symlink(a->layer_dirs[0] / "bin/sh"), "busybox");
  EXPECT_EQ(std::distance(fs::directory_iterator(store->dir() / "layers/sha256"), fs::directory_iterator()), 1);
  run(podman + "rmi -a");
  // podman's vfs storage may leave read-only dirs; the TempDir removes what it can.
}

TEST_F(ImagePrivileged, DevicesOnlyByPolicy) {
  std::string tar = make_tar({chr("dev/null", 1, 3)});
  auto img = build_image({tar}, host_platform().architecture);
  write_layout(tmp.path() / "l", img);
  ImportOptions opt;
  opt.name = "localhost/dev:1";
  auto r = import_images(*store, tmp.path() / "l", opt);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::permission_denied) << r.error().what();
  EXPECT_TRUE(listing(store->dir() / "layers/sha256").empty());
  opt.unpack.allow_devices = true;
  r = import_images(*store, tmp.path() / "l", opt);
  ASSERT_TRUE(r) << r.error().what();
  struct stat st {};
  ASSERT_EQ(::lstat((store->image(img.manifest_digest)->layer_dirs[0] / "dev/null").c_str(), &st), 0);
  EXPECT_TRUE(S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3));
}

}  // namespace
}  // namespace lj::image
