// resolve_user (lib/jail/linux/user_lookup.hpp) against passwd/group files written here: the
// forms of --user, supplementary groups, the errors a caller sees. Hermetic: no root, no jail.
#include "jail/linux/user_lookup.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace lj::jail {
namespace {

class UserLookup : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/lj-users-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    write("passwd",
          "root:x:0:0:root:/root:/bin/sh\n"
          "# a comment line is no entry\n"
          "daemon:x:1:1::/:/bin/false\n"
          "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
          "broken:x:notanumber:5::/:/bin/sh\n"
          "nobody:x:65534:65534::/:/bin/false");  // no final newline
    write("group",
          "root:x:0:\n"
          "wheel:x:10:root,alice\n"
          "alice:x:1000:\n"
          "audio:x:29:bob,alice,carol\n"
          "alicex:x:31:alicexx\n"
          "nogroup:x:65534:\n");
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_ / name) << text;
  }

  struct Outcome {
    bool ok;
    ResolvedUser user;
    std::string detail;
    int err;
    std::vector<gid_t> groups() const { return {user.groups, user.groups + user.ngroups}; }
  };
  Outcome resolve(const char* spec) {
    Outcome o{};
    char detail[256] = "";
    o.ok = resolve_user(spec, (dir_ / "passwd").c_str(), (dir_ / "group").c_str(), &o.user, detail,
                        sizeof detail, &o.err);
    o.detail = detail;
    return o;
  }

  std::filesystem::path dir_;
};

TEST_F(UserLookup, NameGivesItsIdsAndTheGroupsThatListIt) {
  auto o = resolve("alice");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.uid, 1000u);
  EXPECT_EQ(o.user.gid, 1000u);
  EXPECT_EQ(o.groups(), (std::vector<gid_t>{1000, 10, 29}));  // not alicex's group
}

TEST_F(UserLookup, UidFindsItsEntryOrRunsWithGidZero) {
  auto o = resolve("65534");
  ASSERT_TRUE(o.ok) << o.detail;  // the last line, without its newline
  EXPECT_EQ(o.user.uid, 65534u);
  EXPECT_EQ(o.user.gid, 65534u);
  o = resolve("4242");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.uid, 4242u);
  EXPECT_EQ(o.user.gid, 0u);
  EXPECT_EQ(o.groups(), (std::vector<gid_t>{0}));
}

TEST_F(UserLookup, GroupByNameOrNumberOverridesThePrimary) {
  auto o = resolve("alice:audio");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.gid, 29u);
  EXPECT_EQ(o.groups(), (std::vector<gid_t>{29, 10}));
  o = resolve("1000:7");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.uid, 1000u);
  EXPECT_EQ(o.user.gid, 7u);
  o = resolve("4242:4343");  // neither needs an entry
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.gid, 4343u);
}

TEST_F(UserLookup, UnknownNamesAndMalformedSpecsAreTheCallersError) {
  for (const char* bad : {"mallory", "alice:nosuch", "broken"}) {
    auto o = resolve(bad);
    EXPECT_FALSE(o.ok) << bad;
    EXPECT_EQ(o.err, 0) << bad;
  }
  EXPECT_EQ(resolve("mallory").detail, "no user 'mallory' in the jail's /etc/passwd");
  EXPECT_EQ(resolve("alice:nosuch").detail, "no group 'nosuch' in the jail's /etc/group");
  for (const char* bad : {"", ":0", "alice:", "a:b:c", "4294967295"}) {
    auto o = resolve(bad);
    if (std::string(bad) == "4294967295") {  // (uid_t)-1 is no uid: read as a name, not found
      EXPECT_FALSE(o.ok);
      continue;
    }
    EXPECT_FALSE(o.ok) << bad;
    EXPECT_NE(o.detail.find("is not name|uid"), std::string::npos) << o.detail;
  }
}

TEST_F(UserLookup, MissingFilesLeaveNumbersWorkingAndNamesNot) {
  std::filesystem::remove(dir_ / "passwd");
  std::filesystem::remove(dir_ / "group");
  auto o = resolve("123:456");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.user.uid, 123u);
  EXPECT_EQ(o.user.gid, 456u);
  EXPECT_FALSE(resolve("alice").ok);
}

TEST_F(UserLookup, LongLinesAreSkippedAndManyGroupsRefused) {
  std::string text = "huge:x:5:" + std::string(10000, 'a') + "\n";  // longer than the buffer
  std::string groups;
  for (int g = 0; g < 70; ++g) groups += "g" + std::to_string(g) + ":x:" + std::to_string(2000 + g) + ":alice\n";
  write("group", text + groups);
  auto o = resolve("alice");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.detail, "user 'alice' is in more than 64 groups");
  write("group", text + "small:x:6:alice\n");
  o = resolve("alice");
  ASSERT_TRUE(o.ok) << o.detail;
  EXPECT_EQ(o.groups(), (std::vector<gid_t>{1000, 6}));
}

TEST_F(UserLookup, AnUnreadableFileIsASystemError) {
  std::filesystem::remove(dir_ / "passwd");
  std::filesystem::create_directory(dir_ / "passwd");  // read(2) of a directory: EISDIR
  auto o = resolve("alice");
  EXPECT_FALSE(o.ok);
  EXPECT_EQ(o.err, EISDIR);
}

}  // namespace
}  // namespace lj::jail
