#include "build/jailfile.hpp"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace lj::build {
namespace {

ParseOptions opts() {
  ParseOptions o;
  o.default_world = "busybox";
  o.version_suffix = "fixed";
  return o;
}

// The seed's own example (seeds/000), byte for byte apart from the world.
constexpr std::string_view kSeed =
    "# Example: Jailfile for installing Ruby\n"
    "# Comments start with a # symbol, like in the shell\n"
    "name lang/ruby # Required. This is the directory where it will be built. MUST contain a "
    "slash (subdirectory)\n"
    "version 2.1.1 # Optional, `0.0.0-<random string>` will be used by default\n"
    "world 10.0-RELEASE # Techically optional, `uname -r` of the host will be used by default\n"
    "from lang/common ~> 1.0 # Optional. This is the parent overlay.\n"
    "# You can use any constraints supported by gosemver here.\n"
    "copy / # Optional. Copies all files in the Jailfile's directory to the specified directory "
    "inside the overlay\n"
    "#!/bin/sh\n"
    "pkg install -y ruby21\n"
    "pkg clean -aqy\n";

TEST(Jailfile, ParsesTheSeedExample) {
  auto jf = parse_jailfile(kSeed, opts());
  ASSERT_TRUE(jf) << jf.error().what();
  EXPECT_EQ(jf->name, "lang/ruby");
  EXPECT_EQ(jf->version, "2.1.1");
  EXPECT_FALSE(jf->version_generated);
  EXPECT_EQ(jf->world, "10.0-RELEASE");
  EXPECT_FALSE(jf->world_defaulted);
  ASSERT_TRUE(jf->from);
  EXPECT_EQ(jf->from->name, "lang/common");
  EXPECT_EQ(jf->from->constraint, "~> 1.0");
  EXPECT_EQ(jf->from->pos.line, 6);
  ASSERT_TRUE(jf->copy_dest);
  EXPECT_EQ(*jf->copy_dest, "/");
  EXPECT_EQ(jf->script, "#!/bin/sh\npkg install -y ruby21\npkg clean -aqy\n");
  EXPECT_EQ(jf->script_line, 9);
}

TEST(Jailfile, DefaultsVersionAndWorld) {
  auto jf = parse_jailfile("name a/b\n#!/bin/sh\ntrue\n", opts());
  ASSERT_TRUE(jf) << jf.error().what();
  EXPECT_EQ(jf->version, "0.0.0-fixed");
  EXPECT_TRUE(jf->version_generated);
  EXPECT_EQ(jf->world, "busybox");
  EXPECT_TRUE(jf->world_defaulted);
  EXPECT_FALSE(jf->from);
  EXPECT_FALSE(jf->copy_dest);
}

TEST(Jailfile, RandomDefaultVersionsDiffer) {
  ParseOptions o;
  auto a = parse_jailfile("name a/b\n#!/bin/sh\n", o);
  auto b = parse_jailfile("name a/b\n#!/bin/sh\n", o);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->version.rfind("0.0.0-", 0), 0u);
  EXPECT_EQ(a->version.size(), 16u);
  EXPECT_NE(a->version, b->version);
  EXPECT_TRUE(a->world.empty());
}

struct Good {
  const char* what;
  const char* text;
  const char* name;
  const char* version;
  const char* constraint;  // nullptr: no from
  const char* copy;        // nullptr: no copy
  const char* script;
};

class JailfileGood : public ::testing::TestWithParam<Good> {};

TEST_P(JailfileGood, Parses) {
  const Good& g = GetParam();
  auto jf = parse_jailfile(g.text, opts());
  ASSERT_TRUE(jf) << g.what << ": " << jf.error().what();
  EXPECT_EQ(jf->name, g.name) << g.what;
  EXPECT_EQ(jf->version, g.version) << g.what;
  if (g.constraint) {
    ASSERT_TRUE(jf->from) << g.what;
    EXPECT_EQ(jf->from->constraint, g.constraint) << g.what;
  } else {
    EXPECT_FALSE(jf->from) << g.what;
  }
  if (g.copy) {
    ASSERT_TRUE(jf->copy_dest) << g.what;
    EXPECT_EQ(*jf->copy_dest, g.copy) << g.what;
  } else {
    EXPECT_FALSE(jf->copy_dest) << g.what;
  }
  EXPECT_EQ(jf->script, g.script) << g.what;
}

const Good kGood[] = {
    {"minimal", "name a/b\n#!/bin/sh\n", "a/b", "0.0.0-fixed", nullptr, nullptr, "#!/bin/sh\n"},
    {"no trailing newline", "name a/b\n#!/bin/sh", "a/b", "0.0.0-fixed", nullptr, nullptr,
     "#!/bin/sh"},
    {"blank lines and indented comments", "\n\n   # hi\n\t\nname a/b\n\n#!/bin/sh\necho\n", "a/b",
     "0.0.0-fixed", nullptr, nullptr, "#!/bin/sh\necho\n"},
    {"tabs between tokens", "name\ta/b\t# c\nversion\t\t1.2.3\n#!/bin/sh\n", "a/b", "1.2.3",
     nullptr, nullptr, "#!/bin/sh\n"},
    {"CRLF directive lines", "name a/b\r\nversion 1.0.0\r\n#!/bin/sh\n", "a/b", "1.0.0", nullptr,
     nullptr, "#!/bin/sh\n"},
    {"comment right after a token", "name a/b #comment\n#!/bin/sh\n", "a/b", "0.0.0-fixed", nullptr,
     nullptr, "#!/bin/sh\n"},
    {"constraint is the rest of the line",
     "name a/b\nfrom x/y >= 1.0, < 2.0 || 3.x  # why\n#!/bin/sh\n", "a/b", "0.0.0-fixed",
     ">= 1.0, < 2.0 || 3.x", nullptr, "#!/bin/sh\n"},
    {"pre-release and build metadata", "name a/b\nversion 1.0.0-rc.1+build.5\n#!/bin/sh\n", "a/b",
     "1.0.0-rc.1+build.5", nullptr, nullptr, "#!/bin/sh\n"},
    {"copy normalizes", "name a/b\ncopy //app/./src/\n#!/bin/sh\n", "a/b", "0.0.0-fixed", nullptr,
     "/app/src", "#!/bin/sh\n"},
    {"directives in any order", "copy /app\nfrom x/y ~> 1.0\nversion 3.0.0\nname a/b\n#!/bin/sh\n",
     "a/b", "3.0.0", "~> 1.0", "/app", "#!/bin/sh\n"},
    {"script keeps comments, blanks and directive-like lines",
     "name a/b\n#!/bin/sh -e\n# not a comment to us\n\nname x\n#!/again\n", "a/b", "0.0.0-fixed",
     nullptr, nullptr, "#!/bin/sh -e\n# not a comment to us\n\nname x\n#!/again\n"},
    {"three components", "name ci/github.com/builder\n#!/bin/sh\n", "ci/github.com/builder",
     "0.0.0-fixed", nullptr, nullptr, "#!/bin/sh\n"},
    {"other interpreters", "name a/b\n#!/usr/bin/env python3\nprint(1)\n", "a/b", "0.0.0-fixed",
     nullptr, nullptr, "#!/usr/bin/env python3\nprint(1)\n"},
};

INSTANTIATE_TEST_SUITE_P(Table, JailfileGood, ::testing::ValuesIn(kGood));

struct Bad {
  const char* what;
  const char* text;
  int line;
  int column;
  const char* message_part;
};

class JailfileBad : public ::testing::TestWithParam<Bad> {};

TEST_P(JailfileBad, FailsWithPosition) {
  const Bad& b = GetParam();
  auto jf = parse_jailfile(b.text, opts());
  ASSERT_FALSE(jf) << b.what;
  EXPECT_EQ(jf.error().pos.line, b.line) << b.what << ": " << jf.error().what();
  EXPECT_EQ(jf.error().pos.column, b.column) << b.what << ": " << jf.error().what();
  EXPECT_NE(jf.error().message.find(b.message_part), std::string::npos)
      << b.what << ": " << jf.error().what();
}

const Bad kBad[] = {
    {"empty file", "", 1, 1, "missing name"},
    {"only comments", "# nothing\n\n", 3, 1, "missing name"},
    {"missing name", "version 1.0.0\n#!/bin/sh\n", 2, 1, "missing name"},
    {"missing script", "name a/b\nversion 1.0.0\n", 3, 1, "missing script"},
    {"missing script, no newline", "name a/b", 1, 9, "missing script"},
    {"indented shebang is not a script", "name a/b\n  #!/bin/sh\n", 3, 1, "missing script"},
    {"unknown directive", "name a/b\n  nmae a/b\n#!/bin/sh\n", 2, 3, "unknown directive 'nmae'"},
    {"directives are lowercase", "NAME a/b\n#!/bin/sh\n", 1, 1, "unknown directive 'NAME'"},
    {"a command before the script", "name a/b\necho hi\n#!/bin/sh\n", 2, 1,
     "unknown directive 'echo'"},
    {"name without slash", "name ruby\n#!/bin/sh\n", 1, 6, "must contain a slash"},
    {"name with five components", "name a/b/c/d/e\n#!/bin/sh\n", 1, 6, "more than 4 components"},
    {"name with ..", "name a/../b\n#!/bin/sh\n", 1, 8, "must start with a letter"},
    {"absolute name", "name /b\n#!/bin/sh\n", 1, 6, "must be relative"},
    {"name with bad character", "name a/b$c\n#!/bin/sh\n", 1, 8, "character outside"},
    {"hash inside a token", "name a/b#c\n#!/bin/sh\n", 1, 8, "character outside"},
    {"missing name argument", "name\n#!/bin/sh\n", 1, 6, "missing argument to 'name'"},
    {"missing name argument, comment", "name   # hm\n#!/bin/sh\n", 1, 6,
     "missing argument to 'name'"},
    {"missing version argument", "name a/b\nversion\n#!/bin/sh\n", 2, 9, "missing argument"},
    {"missing from arguments", "name a/b\nfrom\n#!/bin/sh\n", 2, 6, "missing argument to 'from'"},
    {"missing constraint", "name a/b\nfrom x/y\n#!/bin/sh\n", 2, 10, "missing constraint"},
    {"missing copy argument", "name a/b\ncopy\n#!/bin/sh\n", 2, 6, "missing argument to 'copy'"},
    {"extra argument", "name a/b c\n#!/bin/sh\n", 1, 10, "unexpected argument 'c'"},
    {"duplicate name", "name a/b\nversion 1.0.0\nname a/c\n#!/bin/sh\n", 3, 1,
     "duplicate directive 'name' (first given on line 1)"},
    {"duplicate from", "name a/b\nfrom x/y 1\n from x/y 2\n#!/bin/sh\n", 3, 2,
     "duplicate directive 'from'"},
    {"bad version", "name a/b\nversion v1.0\n#!/bin/sh\n", 2, 9, "bad version"},
    {"bad version character", "name a/b\nversion 1.0.0_1\n#!/bin/sh\n", 2, 14, "bad version"},
    {"from name without slash", "name a/b\nfrom common ~> 1.0\n#!/bin/sh\n", 2, 6,
     "must contain a slash"},
    {"bad constraint", "name a/b\nfrom x/y >= 1.0, <~ 2\n#!/bin/sh\n", 2, 19, "bad constraint"},
    {"reserved namespace", "name worlds/x\n#!/bin/sh\n", 1, 6, "reserved"},
    {"relative copy", "name a/b\ncopy app\n#!/bin/sh\n", 2, 6, "absolute"},
    {"copy with ..", "name a/b\ncopy /app/../etc\n#!/bin/sh\n", 2, 11, "'..'"},
    {"world with slash", "name a/b\nworld ../x\n#!/bin/sh\n", 2, 9, "one path component"},
    {"control character", "name a/b\x01\n#!/bin/sh\n", 1, 9, "control character"},
    {"from image without reference", "name a/b\nfrom image\n#!/bin/sh\n", 2, 12,
     "missing image reference"},
    {"from image with a constraint", "name a/b\nfrom image bb:1 ~> 1.0\n#!/bin/sh\n", 2, 17,
     "an image takes no constraint"},
    {"from image, bad reference", "name a/b\nfrom image Bad/UPPER:1\n#!/bin/sh\n", 2, 12,
     "bad image reference"},
    {"from image with a world", "name a/b\nworld busybox\nfrom image bb:1\n#!/bin/sh\n", 2, 1,
     "the image is the base"},
    {"unknown privilege", "name a/b\nprivileges raw_sockets, cap_sys_admin\n#!/bin/sh\n", 2, 25,
     "bad privileges: unknown privilege `cap_sys_admin`"},
    {"device outside /dev", "name a/b\nprivileges  device=/dev/../etc/passwd # no\n#!/bin/sh\n", 2,
     13, "a device is a plain path under /dev"},
    {"bad port", "name a/b\nprivileges port=0\n#!/bin/sh\n", 2, 12, "a port is N"},
    {"missing privileges argument", "name a/b\nprivileges\n#!/bin/sh\n", 2, 12,
     "missing argument to 'privileges'"},
    {"privileges without an item", "name a/b\nprivileges , ,\n#!/bin/sh\n", 2, 12,
     "missing argument to 'privileges'"},
    {"duplicate privileges", "name a/b\nprivileges mlock\nprivileges sysvipc\n#!/bin/sh\n", 3, 1,
     "duplicate directive 'privileges' (first given on line 2)"},
};

INSTANTIATE_TEST_SUITE_P(Table, JailfileBad, ::testing::ValuesIn(kBad));

// A version is a directory name in the store: a 300-character one used to pass the parser and
// fail the build as `build.system` (ENAMETOOLONG); it is refused where it is written.
TEST(Jailfile, OverlongVersionIsRefusedAtItsColumn) {
  std::string version = "1.0.0-" + std::string(294, 'a');
  auto jf = parse_jailfile("name a/b\nversion " + version + "\n#!/bin/sh\n", opts());
  ASSERT_FALSE(jf);
  EXPECT_EQ(jf.error().pos.line, 2) << jf.error().what();
  EXPECT_EQ(jf.error().pos.column, 9 + 128) << jf.error().what();
  EXPECT_NE(jf.error().message.find("longer than 128 bytes"), std::string::npos)
      << jf.error().what();
  // 128 bytes is still a version.
  std::string longest = "1.0.0-" + std::string(122, 'a');
  EXPECT_TRUE(parse_jailfile("name a/b\nversion " + longest + "\n#!/bin/sh\n", opts()));
}

// `from image REF`: "image" is not an overlay name (no slash), so the forms cannot be confused.
TEST(Jailfile, FromImageByTagOrDigest) {
  auto jf = parse_jailfile("name a/b\nfrom image 127.0.0.1:5000/bb:1\n#!/bin/sh\n", opts());
  ASSERT_TRUE(jf) << jf.error().what();
  EXPECT_FALSE(jf->from);
  ASSERT_TRUE(jf->from_image);
  EXPECT_EQ(jf->from_image->reference, "127.0.0.1:5000/bb:1");
  EXPECT_EQ(jf->from_image->pos.line, 2);
  EXPECT_EQ(jf->from_image->pos.column, 12);
  EXPECT_TRUE(jf->world.empty()) << "an image is the base: no default world";
  const std::string pinned =
      "bb@sha256:" + std::string(64, 'a');
  jf = parse_jailfile("name a/b\nfrom image " + pinned + " # pinned\n#!/bin/sh\n", opts());
  ASSERT_TRUE(jf) << jf.error().what();
  ASSERT_TRUE(jf->from_image);
  EXPECT_EQ(jf->from_image->reference, pinned);
}

// `privileges`: the label's item syntax (overlay/privileges.hpp), the rest of the line a list.
TEST(Jailfile, PrivilegesAreTheLabelsItems) {
  auto jf = parse_jailfile(
      "name a/b\nprivileges device=/dev/fuse, raw_sockets ,port=80 # what jails need\n#!/bin/sh\n",
      opts());
  ASSERT_TRUE(jf) << jf.error().what();
  EXPECT_EQ(jf->privileges.items(),
            (std::vector<std::string>{"device=/dev/fuse", "port=80/tcp", "raw_sockets"}));
  jf = parse_jailfile("name a/b\n#!/bin/sh\n", opts());
  ASSERT_TRUE(jf);
  EXPECT_TRUE(jf->privileges.empty());
}

TEST(Jailfile, ParseErrorWhatCarriesThePosition) {
  auto jf = parse_jailfile("name a/b\nnmae x\n#!/bin/sh\n", opts());
  ASSERT_FALSE(jf);
  EXPECT_EQ(jf.error().what().rfind("2:1: unknown directive", 0), 0u) << jf.error().what();
}

TEST(Jailfile, LoadReadsAFileAndPrefixesErrorsWithItsPath) {
  auto dir =
      std::filesystem::temp_directory_path() / ("lj-jailfile-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto good = dir / "Jailfile";
  std::ofstream(good) << "name a/b\n#!/bin/sh\necho hi\n";
  auto jf = load_jailfile(good, opts());
  ASSERT_TRUE(jf) << jf.error().what();
  EXPECT_EQ(jf->script, "#!/bin/sh\necho hi\n");

  auto bad = dir / "Bad";
  std::ofstream(bad) << "name ab\n#!/bin/sh\n";
  auto e = load_jailfile(bad, opts());
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().errc(), Errc::invalid_argument);
  EXPECT_EQ(e.error().code(), "build.invalid_argument");
  EXPECT_NE(e.error().what().find(bad.string() + ":1:6: "), std::string::npos) << e.error().what();

  auto missing = load_jailfile(dir / "nope", opts());
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errc(), Errc::not_found);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace lj::build
