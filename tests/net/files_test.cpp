#include "net/files.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace lj::net {
namespace {

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

TEST(ResolvConf, HostServersWithoutLoopback) {
  std::string host = "# comment\nnameserver 127.0.0.53\nnameserver 192.0.2.53\nnameserver ::1\n"
                     "search example.org\noptions edns0\n";
  std::string r = resolv_conf(host, {});
  EXPECT_EQ(r.find("127.0.0.53"), std::string::npos);
  EXPECT_EQ(r.find("::1"), std::string::npos);
  EXPECT_NE(r.find("nameserver 192.0.2.53\n"), std::string::npos);
  EXPECT_NE(r.find("search example.org\n"), std::string::npos);
  EXPECT_NE(r.find("options edns0\n"), std::string::npos);
}

TEST(ResolvConf, DnsOverridesAndNoneLeft) {
  std::string r = resolv_conf("nameserver 192.0.2.53\n", {ip("198.51.100.1"), ip("2001:db8::53")},
                              {"svc.local"});
  EXPECT_EQ(r.find("192.0.2.53"), std::string::npos);
  EXPECT_NE(r.find("nameserver 198.51.100.1\nnameserver 2001:db8::53\n"), std::string::npos);
  EXPECT_NE(r.find("search svc.local\n"), std::string::npos);
  std::string none = resolv_conf("nameserver 127.0.0.53\n", {});
  EXPECT_EQ(none.find("\nnameserver "), std::string::npos);
  EXPECT_NE(none.find("no nameserver"), std::string::npos);
}

TEST(HostsFile, OwnPeersExtra) {
  std::string h = hosts_file("web", {ip("10.88.0.2")}, {{ip("10.88.0.3"), {"db", "db.local"}}},
                             {{ip("192.0.2.9"), {"api"}}});
  EXPECT_NE(h.find("127.0.0.1\tlocalhost\n"), std::string::npos);
  EXPECT_NE(h.find("10.88.0.2\tweb\n"), std::string::npos);
  EXPECT_NE(h.find("10.88.0.3\tdb db.local\n"), std::string::npos);
  EXPECT_NE(h.find("192.0.2.9\tapi\n"), std::string::npos);
  EXPECT_LT(h.find("db"), h.find("api"));
}

TEST(HostsFile, ParsesEntries) {
  auto e = parse_host_entry("db:10.0.0.5");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->names[0], "db");
  EXPECT_EQ(parse_host_entry("v6:[fd00::5]")->address.str(), "fd00::5");
  EXPECT_EQ(parse_host_entry("v6:fd00::5")->address.str(), "fd00::5");
  EXPECT_FALSE(parse_host_entry("nocolon"));
  EXPECT_FALSE(parse_host_entry(":10.0.0.5"));
  EXPECT_FALSE(parse_host_entry("bad name:10.0.0.5"));
  EXPECT_FALSE(parse_host_entry("db:notanip"));
}

TEST(WriteInPlace, KeepsTheInode) {
  char tmpl[] = "/tmp/lj-net-files-XXXXXX";
  int fd = ::mkstemp(tmpl);
  ASSERT_GE(fd, 0);
  ::close(fd);
  struct stat before {}, after {};
  ASSERT_TRUE(write_in_place(tmpl, "a long first text\n"));
  ::stat(tmpl, &before);
  ASSERT_TRUE(write_in_place(tmpl, "short\n"));
  ::stat(tmpl, &after);
  EXPECT_EQ(before.st_ino, after.st_ino);
  std::ifstream in(tmpl);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_EQ(ss.str(), "short\n");
  ::unlink(tmpl);
}

}  // namespace
}  // namespace lj::net
