#include "overlay/world_import.hpp"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <fstream>

#include "../support/other_user.hpp"
#include "overlay/catalog.hpp"
#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;

WorldName W(std::string_view s) {
  return *WorldName::parse(s);
}

struct Entry {
  std::string path;
  mode_t type = AE_IFREG;
  mode_t perm = 0644;
  std::string data;
  std::string symlink;
  std::string hardlink;
};
Entry dir(std::string p, mode_t perm = 0755) {
  return Entry{std::move(p), AE_IFDIR, perm, "", "", ""};
}
Entry file(std::string p, std::string data, mode_t perm = 0644) {
  return Entry{std::move(p), AE_IFREG, perm, std::move(data), "", ""};
}
Entry sym(std::string p, std::string target) {
  return Entry{std::move(p), AE_IFLNK, 0777, "", std::move(target), ""};
}
Entry hard(std::string p, std::string target) {
  return Entry{std::move(p), AE_IFREG, 0644, "", "", std::move(target)};
}

// Writes a pax tar archive with the given compression (ARCHIVE_FILTER_XZ, _GZIP, _NONE).
void write_archive(const fs::path& out, int filter, const std::vector<Entry>& entries) {
  archive* a = archive_write_new();
  ASSERT_EQ(archive_write_add_filter(a, filter), ARCHIVE_OK) << archive_error_string(a);
  ASSERT_EQ(archive_write_set_format_pax_restricted(a), ARCHIVE_OK);
  // The fastest levels: the tests are about extraction, not ratio.
  if (filter == ARCHIVE_FILTER_XZ)
    archive_write_set_filter_option(a, "xz", "compression-level", "0");
  if (filter == ARCHIVE_FILTER_GZIP)
    archive_write_set_filter_option(a, "gzip", "compression-level", "1");
  ASSERT_EQ(archive_write_open_filename(a, out.c_str()), ARCHIVE_OK) << archive_error_string(a);
  for (const auto& e : entries) {
    archive_entry* ae = archive_entry_new();
    archive_entry_set_pathname(ae, e.path.c_str());
    archive_entry_set_filetype(ae, e.type);
    archive_entry_set_perm(ae, e.perm);
    archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
    if (!e.symlink.empty()) archive_entry_set_symlink(ae, e.symlink.c_str());
    if (!e.hardlink.empty()) {
      archive_entry_set_hardlink(ae, e.hardlink.c_str());
      archive_entry_set_size(ae, 0);
    }
    ASSERT_EQ(archive_write_header(a, ae), ARCHIVE_OK) << archive_error_string(a);
    if (!e.data.empty() && e.hardlink.empty()) {
      ASSERT_EQ(archive_write_data(a, e.data.data(), e.data.size()),
                static_cast<la_ssize_t>(e.data.size()));
    }
    archive_entry_free(ae);
  }
  ASSERT_EQ(archive_write_close(a), ARCHIVE_OK);
  archive_write_free(a);
}

class WorldImportTest : public ::testing::Test {
 protected:
  WorldImportTest() : root_(tmp_.path() / "root") {
    EXPECT_TRUE(root_.create_skeleton());
    busybox_ = test::slurp("/bin/busybox");
  }

  // The smallest real world: busybox-static as /bin/busybox, /bin/sh a relative symlink to it.
  // `fake` replaces the 2 MB binary by a few bytes where only the tree's shape matters.
  std::vector<Entry> busybox_entries(bool fake = false) const {
    return {dir("./"),
            dir("./bin"),
            file("./bin/busybox", fake ? "#!fake" : busybox_, 0755),
            sym("./bin/sh", "busybox"),
            hard("./bin/ls", "./bin/busybox"),
            dir("./etc"),
            file("./etc/hostname", "jail\n")};
  }

  std::size_t staging_entries() const {
    return static_cast<std::size_t>(
        std::distance(fs::directory_iterator(root_.staging_dir()), fs::directory_iterator()));
  }

  // Asserts a failed import left nothing: no world, no staging leftovers.
  void expect_nothing_published(std::string_view world) {
    EXPECT_FALSE(fs::exists(root_.worlds_dir() / world));
    EXPECT_EQ(staging_entries(), 0u);
  }

  test::TempDir tmp_;
  Root root_;
  std::string busybox_;
};

TEST_F(WorldImportTest, FromTarXz) {
  ASSERT_GT(busybox_.size(), 100000u) << "busybox-static is not installed";
  fs::path txz = tmp_.path() / "base.txz";
  write_archive(txz, ARCHIVE_FILTER_XZ, busybox_entries());
  std::vector<ImportProgress> seen;
  auto r =
      import_world(root_, W("busybox"), txz, [&](const ImportProgress& p) { seen.push_back(p); });
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->entries, 7u);
  EXPECT_EQ(r->bytes, busybox_.size() + 5);
  ASSERT_EQ(seen.size(), 7u);
  EXPECT_EQ(seen.back().bytes, r->bytes);

  fs::path w = root_.worlds_dir() / "busybox";
  EXPECT_EQ(fs::read_symlink(w / "bin/sh"), "busybox");
  struct stat a {
  }, b{};
  ASSERT_EQ(::stat((w / "bin/busybox").c_str(), &a), 0);
  ASSERT_EQ(::stat((w / "bin/ls").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino) << "hard link preserved";
  EXPECT_EQ(a.st_mode & 07777, 0755u);
  EXPECT_EQ(test::slurp(w / "etc/hostname"), "jail\n");
  EXPECT_EQ(staging_entries(), 0u);
  Catalog cat(root_);
  EXPECT_EQ(cat.list_worlds()->size(), 1u);

  auto again = import_world(root_, W("busybox"), txz);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().code(), "world.exists");
}

// A world's set-id binaries are for its jails: imported under a private worlds/, no other host
// user reaches them (issue 17: worlds/ was 0755).
TEST_F(WorldImportTest, AnImportedWorldIsOutOfReachOfOtherHostUsers) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: switches to nobody";
  fs::path src = tmp_.path() / "src";
  fs::create_directories(src / "bin");
  fs::copy_file("/bin/busybox", src / "bin/busybox");
  fs::create_symlink("busybox", src / "bin/sh");
  ASSERT_EQ(::chmod((src / "bin/busybox").c_str(), 04755), 0);
  auto r = import_world(root_, W("suidworld"), src);
  ASSERT_TRUE(r) << r.error().what();
  const fs::path bin = root_.worlds_dir() / "suidworld/bin/busybox";
  struct stat st {};
  ASSERT_EQ(::lstat(bin.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 04755u);
  EXPECT_EQ(lj::test::stat_errno_as_nobody(bin), EACCES);
  EXPECT_EQ(lj::test::exec_errno_as_nobody(bin), EACCES);
}

TEST_F(WorldImportTest, FromTgzAndPlainTar) {
  for (auto [name, filter] :
       {std::pair{"gz", ARCHIVE_FILTER_GZIP}, {"plain", ARCHIVE_FILTER_NONE}}) {
    fs::path file = tmp_.path() / (std::string(name) + ".archive");
    write_archive(file, filter, busybox_entries());
    auto r = import_world(root_, W(name), file);
    ASSERT_TRUE(r) << name << ": " << r.error().what();
    EXPECT_TRUE(validate_world_tree(root_.worlds_dir() / name));
  }
}

TEST_F(WorldImportTest, FromDirectoryPreservesTypesModesLinksAndXattrs) {
  fs::path src = tmp_.path() / "src";
  fs::create_directories(src / "bin");
  fs::copy_file("/bin/busybox", src / "bin/busybox");
  fs::create_symlink("busybox", src / "bin/sh");
  fs::create_symlink("/bin/busybox", src / "bin/abs");
  ASSERT_EQ(::link((src / "bin/busybox").c_str(), (src / "bin/ls").c_str()), 0);
  fs::create_directories(src / "etc");
  std::ofstream(src / "etc/shadow") << "root:*:";
  ASSERT_EQ(::chmod((src / "etc/shadow").c_str(), 0600), 0);
  fs::create_directories(src / "var/empty");
  ASSERT_EQ(::chmod((src / "var/empty").c_str(), 0711), 0);
  ASSERT_EQ(::mkfifo((src / "etc/fifo").c_str(), 0620), 0);
  bool xattrs = ::setxattr((src / "etc/shadow").c_str(), "user.lj", "v1", 2, 0) == 0;
  bool root = ::geteuid() == 0;
  if (root) {
    ASSERT_EQ(::mknod((src / "etc/null").c_str(), S_IFCHR | 0666, makedev(1, 3)), 0);
    ASSERT_EQ(::lchown((src / "etc/shadow").c_str(), 1234, 5678), 0);
  }

  int calls = 0;
  auto r = import_world(root_, W("bookworm"), src, [&](const ImportProgress&) { ++calls; });
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(calls, static_cast<int>(r->entries));
  fs::path w = root_.worlds_dir() / "bookworm";
  EXPECT_EQ(fs::read_symlink(w / "bin/sh"), "busybox");
  EXPECT_EQ(fs::read_symlink(w / "bin/abs"), "/bin/busybox") << "absolute links kept verbatim";
  struct stat a {
  }, b{}, s{};
  ASSERT_EQ(::stat((w / "bin/busybox").c_str(), &a), 0);
  ASSERT_EQ(::stat((w / "bin/ls").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
  EXPECT_EQ(r->bytes, static_cast<std::uint64_t>(a.st_size) + 7) << "hard-linked data copied once";
  ASSERT_EQ(::lstat((w / "etc/shadow").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0600u);
  ASSERT_EQ(::lstat((w / "var/empty").c_str(), &s), 0);
  EXPECT_EQ(s.st_mode & 07777, 0711u);
  ASSERT_EQ(::lstat((w / "etc/fifo").c_str(), &s), 0);
  EXPECT_TRUE(S_ISFIFO(s.st_mode));
  if (xattrs) {
    char v[8] = {};
    EXPECT_EQ(::getxattr((w / "etc/shadow").c_str(), "user.lj", v, sizeof v), 2);
    EXPECT_STREQ(v, "v1");
  }
  if (root) {
    ASSERT_EQ(::lstat((w / "etc/null").c_str(), &s), 0);
    EXPECT_TRUE(S_ISCHR(s.st_mode));
    EXPECT_EQ(s.st_rdev, makedev(1, 3));
    ASSERT_EQ(::lstat((w / "etc/shadow").c_str(), &s), 0);
    EXPECT_EQ(s.st_uid, 1234u);
    EXPECT_EQ(s.st_gid, 5678u);
  }
  EXPECT_EQ(staging_entries(), 0u);
}

TEST_F(WorldImportTest, TheImportedWorldRuns) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: chroot(2) into the imported world";
  fs::path txz = tmp_.path() / "base.txz";
  write_archive(txz, ARCHIVE_FILTER_XZ, busybox_entries());
  ASSERT_TRUE(import_world(root_, W("busybox"), txz));
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::chroot((root_.worlds_dir() / "busybox").c_str()) != 0 || ::chdir("/") != 0) ::_exit(100);
    ::execl("/bin/sh", "sh", "-c", "read h < /etc/hostname; test \"$h\" = jail && exit 7", nullptr);
    ::_exit(101);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST_F(WorldImportTest, RefusesHostileArchives) {
  fs::create_directories(tmp_.path() / "outside");
  struct Case {
    std::string name;
    std::vector<Entry> extra;
    std::string_view want;
  };
  std::vector<Case> cases = {
      {"dotdot", {file("../evil", "x")}, "\"../evil\" has a \"..\" component"},
      {"deep-dotdot", {file("./etc/../../evil", "x")}, "has a \"..\" component"},
      {"absolute", {file("/etc/passwd", "x")}, "\"/etc/passwd\" is an absolute path"},
      {"hardlink-out", {hard("etc/pw", "../../outside/pw")}, "hard link target"},
      {"hardlink-abs", {hard("etc/pw", "/etc/passwd")}, "hard link target"},
      {"through-symlink",
       {sym("escape", (tmp_.path() / "outside").string()), file("escape/pwned", "x")},
       "entry \"escape/pwned\": Cannot extract through symlink"},
  };
  for (const auto& c : cases) {
    std::vector<Entry> entries = busybox_entries(/*fake=*/true);
    entries.insert(entries.end(), c.extra.begin(), c.extra.end());
    fs::path file = tmp_.path() / (c.name + ".tar.xz");
    write_archive(file, ARCHIVE_FILTER_XZ, entries);
    auto r = import_world(root_, W("busybox"), file);
    ASSERT_FALSE(r) << c.name;
    EXPECT_NE(r.error().what().find(c.want), std::string::npos)
        << c.name << ": " << r.error().what();
    expect_nothing_published("busybox");
  }
  EXPECT_TRUE(fs::is_empty(tmp_.path() / "outside"));
  EXPECT_FALSE(fs::exists(root_.dir() / "evil"));
  EXPECT_FALSE(fs::exists(root_.staging_dir().parent_path() / "evil"));
}

TEST_F(WorldImportTest, RefusesAWorldWithoutShell) {
  fs::path src = tmp_.path() / "nosh";
  fs::create_directories(src / "etc");
  auto r = import_world(root_, W("empty"), src);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code(), "world.invalid_argument");
  EXPECT_NE(r.error().what().find("no usable /bin/sh"), std::string::npos) << r.error().what();
  expect_nothing_published("empty");

  // A /bin/sh that only resolves on the host (absolute link to the host's dash) does not count.
  fs::create_directories(src / "bin");
  fs::create_symlink("/usr/bin/dash", src / "bin/sh");
  EXPECT_FALSE(import_world(root_, W("empty"), src));
  expect_nothing_published("empty");

  std::ofstream(tmp_.path() / "junk.txz") << "this is not an archive";
  auto junk = import_world(root_, W("junk"), tmp_.path() / "junk.txz");
  ASSERT_FALSE(junk);
  expect_nothing_published("junk");
  EXPECT_EQ(import_world(root_, W("none"), tmp_.path() / "missing").error().errc(),
            Errc::not_found);
}

TEST(ValidateWorldTree, FollowsLinksLikeAChroot) {
  test::TempDir tmp;
  fs::path t = tmp.path();
  // Debian's merged /usr: /bin -> usr/bin, /usr/bin/sh -> dash.
  fs::create_directories(t / "usr/bin");
  fs::create_directory_symlink("usr/bin", t / "bin");
  std::ofstream(t / "usr/bin/dash") << "ELF";
  fs::create_symlink("dash", t / "usr/bin/sh");
  EXPECT_FALSE(validate_world_tree(t)) << "dash is not executable yet";
  fs::permissions(t / "usr/bin/dash", fs::perms::owner_all);
  auto ok = validate_world_tree(t);
  EXPECT_TRUE(ok) << ok.error().what();
  // Absolute and climbing targets resolve inside the tree.
  fs::remove(t / "usr/bin/sh");
  fs::create_symlink("../../../../../usr/bin/dash", t / "usr/bin/sh");
  EXPECT_TRUE(validate_world_tree(t));
  fs::remove(t / "usr/bin/sh");
  fs::create_symlink("/usr/bin/dash", t / "usr/bin/sh");
  EXPECT_TRUE(validate_world_tree(t));
  fs::remove(t / "usr/bin/sh");
  fs::create_symlink("sh", t / "usr/bin/sh");
  auto loop = validate_world_tree(t);
  ASSERT_FALSE(loop);
  EXPECT_NE(loop.error().what().find("too many symlinks"), std::string::npos);
}

// Privileged: a filesystem mounted inside a source directory (a live /proc, a tmpfs) is not
// copied: the directory walk stays on the source's filesystem.
TEST_F(WorldImportTest, DirectoryImportDoesNotCrossMounts) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mounts a tmpfs inside the source tree";
  fs::path src = tmp_.path() / "src";
  fs::create_directories(src / "bin");
  fs::create_directories(src / "mnt");
  std::ofstream(src / "bin/sh") << "#!";
  fs::permissions(src / "bin/sh", fs::perms::owner_all);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    if (::mount("tmpfs", (src / "mnt").c_str(), "tmpfs", 0, "size=1m") != 0) ::_exit(12);
    std::ofstream(src / "mnt/host-secret") << "x";
    auto r = import_world(root_, W("nomounts"), src);
    if (!r) ::_exit(13);
    fs::path w = root_.worlds_dir() / "nomounts";
    if (!fs::is_directory(w / "mnt")) ::_exit(14);  // the mount point itself is copied ...
    if (!fs::is_empty(w / "mnt")) ::_exit(15);      // ... but not what is mounted on it
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

// Privileged: a full filesystem mid-import (a 1 MiB tmpfs root, in a private mount namespace of
// a child process) fails with no_space and publishes nothing.
TEST_F(WorldImportTest, NoSpaceLeavesNothing) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root: mounts a small tmpfs";
  fs::path txz = tmp_.path() / "base.txz";
  write_archive(txz, ARCHIVE_FILTER_XZ, busybox_entries());
  fs::path small = tmp_.path() / "small";
  fs::create_directories(small);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0) ::_exit(10);
    if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) ::_exit(11);
    if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=1m") != 0) ::_exit(12);
    Root r(small / "root");
    if (!r.create_skeleton()) ::_exit(13);
    auto res = import_world(r, W("busybox"), txz);
    if (res) ::_exit(14);
    if (res.error().errc() != Errc::no_space) ::_exit(15);
    if (fs::exists(r.worlds_dir() / "busybox")) ::_exit(16);
    if (!fs::is_empty(r.staging_dir())) ::_exit(17);
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

}  // namespace
}  // namespace lj::overlay
