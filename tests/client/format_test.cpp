// ljctl's human output, exact text.
#include "client/ljctl_format.hpp"

#include <gtest/gtest.h>

namespace lj::ljctl {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

TEST(Table, AlignsColumnsWithoutTrailingBlanks) {
  Table t({"ID", "NAME", "STATUS"});
  t.add({"j-1", "web", "Up 3 seconds"});
  t.add({"j-22", "élan", "Exited (0)"});
  EXPECT_EQ(t.str(),
            "ID     NAME   STATUS\n"
            "j-1    web    Up 3 seconds\n"
            "j-22   élan   Exited (0)\n");
  Table empty({"A", "B"});
  EXPECT_EQ(empty.str(), "A   B\n");
}

TEST(HumanSize, BinaryUnits) {
  EXPECT_EQ(human_size(0), "0B");
  EXPECT_EQ(human_size(1023), "1023B");
  EXPECT_EQ(human_size(1536), "1.5K");
  EXPECT_EQ(human_size(512ull << 20), "512M");
  EXPECT_EQ(human_size(3ull << 30), "3G");
  EXPECT_EQ(human_size(12ull << 30 | 1ull << 29), "12G");
}

TEST(ParseTime, Rfc3339) {
  auto t = parse_time("2026-11-24T18:00:03.123Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(std::chrono::duration_cast<std::chrono::milliseconds>(t->time_since_epoch()).count(),
            1795543203123);
  EXPECT_EQ(*parse_time("2026-11-24T19:00:03.123+01:00"), *t);
  EXPECT_EQ(*parse_time("2026-11-24T18:00:03Z") + 123ms, *t);
  for (const char* bad : {"", "2026-11-24", "2026-11-24T18:00:03", "2026-11-24T18:00:03.1Zx"}) {
    EXPECT_FALSE(parse_time(bad)) << bad;
  }
}

TEST(HumanDuration, Units) {
  EXPECT_EQ(human_duration(0s), "1 second");
  EXPECT_EQ(human_duration(5s), "5 seconds");
  EXPECT_EQ(human_duration(61s), "1 minute");
  EXPECT_EQ(human_duration(7200s), "2 hours");
  EXPECT_EQ(human_duration(72h), "3 days");
}

TEST(JailStatus, EveryState) {
  auto now = *parse_time("2026-11-24T18:01:00Z");
  json running = {{"state", "running"}, {"started_at", "2026-11-24T18:00:00Z"}};
  EXPECT_EQ(jail_status(running, now), "Up 1 minute");
  json exited = {
      {"state", "exited"},
      {"exit",
       {{"code", 3}, {"signal", nullptr}, {"oom", false}, {"exited_at", "2026-11-24T18:00:50Z"}}}};
  EXPECT_EQ(jail_status(exited, now), "Exited (3) 10 seconds ago");
  exited["exit"]["code"] = nullptr;
  exited["exit"]["signal"] = 9;
  EXPECT_EQ(jail_status(exited, now), "Killed (SIGKILL) 10 seconds ago");
  exited["exit"]["oom"] = true;
  EXPECT_EQ(jail_status(exited, now), "OOM-killed 10 seconds ago");
  exited["state"] = "removed";
  EXPECT_EQ(jail_status(exited, now), "OOM-killed, removed 10 seconds ago");
  EXPECT_EQ(jail_status(json{{"state", "created"}}, now), "Created");
}

TEST(JailImage, WorldOrOverlay) {
  EXPECT_EQ(jail_image(json{{"spec", {{"world", "bookworm"}}}}), "bookworm");
  EXPECT_EQ(jail_image(json{
                {"spec", {{"world", "w"}, {"overlay", {{"name", "a/b"}, {"version", "~>1"}}}}}}),
            "a/b@~>1");
  EXPECT_EQ(jail_image(json::object()), "-");
}

TEST(DisplayCommand, QuotesAndCuts) {
  EXPECT_EQ(display_command(json{"/bin/sh", "-c", "exit 3"}), "/bin/sh -c 'exit 3'");
  EXPECT_EQ(display_command(json{"echo", "it's"}), "echo 'it'\\''s'");
  EXPECT_EQ(display_command(json{"a", ""}), "a ''");
  EXPECT_EQ(display_command(json{"abcdefghij", "klmnop"}, 10), "abcdefg...");
  EXPECT_EQ(display_command(json("#!/bin/sh\necho hi")), "#!/bin/sh echo hi");
}

}  // namespace
}  // namespace lj::ljctl
