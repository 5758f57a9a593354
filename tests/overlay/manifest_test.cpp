#include "overlay/manifest.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "temp_dir.hpp"

namespace lj::overlay {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

Manifest sample() {
  Manifest m;
  m.name = "lang/ruby";
  m.version = "2.1.1";
  m.world = "10.0-RELEASE";
  m.parent = ParentRef{"lang/common", "~> 1.0", "1.2.0"};
  m.jailfile_digest = "sha256:aa";
  m.context_digest = "sha256:bb";
  m.size_bytes = 1234;
  m.created = "2026-11-24T18:07:00Z";
  m.build_id = "b-3f1a";
  return m;
}

TEST(Manifest, JsonIsSnakeCaseAndRoundTrips) {
  json j = manifest_to_json(sample());
  EXPECT_EQ(j["parent"]["constraint"], "~> 1.0");
  EXPECT_EQ(j["size_bytes"], 1234);
  EXPECT_EQ(j["jailfile_digest"], "sha256:aa");
  auto back = manifest_from_json(j);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(*back, sample());

  Manifest root_overlay = sample();
  root_overlay.parent.reset();
  json k = manifest_to_json(root_overlay);
  EXPECT_TRUE(k["parent"].is_null());
  EXPECT_EQ(*manifest_from_json(k), root_overlay);
}

// An overlay's declared privileges: absent when none (older manifests look the same), the
// sorted items otherwise, each checked on reading.
TEST(Manifest, PrivilegesRoundTripAndAreChecked) {
  EXPECT_FALSE(manifest_to_json(sample()).contains("privileges"));
  Manifest m = sample();
  ASSERT_TRUE(add_privilege("raw_sockets", &m.privileges));
  ASSERT_TRUE(add_privilege("device=/dev/fuse", &m.privileges));
  json j = manifest_to_json(m);
  EXPECT_EQ(j["privileges"], json({"device=/dev/fuse", "raw_sockets"}));
  auto back = manifest_from_json(j);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(*back, m);
  j["privileges"] = {"cap_sys_admin"};
  auto bad = manifest_from_json(j);
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().what().find("field \"privileges\""), std::string::npos) << bad.error().what();
  j["privileges"] = "raw_sockets";
  EXPECT_FALSE(manifest_from_json(j));
}

TEST(Manifest, ToleratesUnknownKeys) {
  json j = manifest_to_json(sample());
  j["labels"] = {{"team", "ci"}};
  EXPECT_TRUE(manifest_from_json(j));
}

TEST(Manifest, RefusesBadFieldsNamingThem) {
  struct Case {
    std::function<void(json&)> mutate;
    std::string_view want;
  };
  std::vector<Case> cases = {
      {[](json& j) { j.erase("name"); }, "missing field \"name\""},
      {[](json& j) { j["name"] = "ruby"; },
       "field \"name\": overlay name \"ruby\": must contain a slash"},
      {[](json& j) { j["name"] = 7; }, "field \"name\" is not a string"},
      {[](json& j) { j["version"] = "2.1"; }, "field \"version\""},
      {[](json& j) { j["world"] = "../x"; }, "field \"world\""},
      {[](json& j) { j.erase("parent"); }, "missing field \"parent\""},
      {[](json& j) { j["parent"] = "lang/common"; }, "neither an object nor null"},
      {[](json& j) { j["parent"]["constraint"] = "~> "; },
       "field \"parent.constraint\": bad constraint at column 4"},
      {[](json& j) { j["parent"].erase("version"); }, "in \"parent\": missing field \"version\""},
      {[](json& j) {
         j["parent"] = {{"name", "lang/ruby"}, {"constraint", "*"}, {"version", "2.1.1"}};
       },
       "names itself"},
      {[](json& j) { j["size_bytes"] = -1; }, "size_bytes"},
      {[](json& j) { j["created"] = "yesterday"; }, "not an RFC 3339 UTC time"},
      {[](json& j) { j["created"] = "2026-11-24T18:07:00+01:00"; }, "not an RFC 3339 UTC time"},
      {[](json& j) { j = json::array(); }, "JSON object"},
  };
  for (const auto& c : cases) {
    json j = manifest_to_json(sample());
    c.mutate(j);
    auto r = manifest_from_json(j);
    ASSERT_FALSE(r) << j.dump();
    EXPECT_EQ(r.error().errc(), Errc::invalid_argument);
    EXPECT_NE(r.error().what().find(c.want), std::string::npos)
        << r.error().what() << " (want " << c.want << ")";
  }
}

TEST(Manifest, Rfc3339) {
  EXPECT_TRUE(is_rfc3339_utc("2026-11-24T18:07:00Z"));
  EXPECT_TRUE(is_rfc3339_utc("2026-11-24T18:07:00.123456Z"));
  EXPECT_FALSE(is_rfc3339_utc("2026-13-24T18:07:00Z"));
  EXPECT_FALSE(is_rfc3339_utc("2026-11-24 18:07:00Z"));
  EXPECT_FALSE(is_rfc3339_utc("2026-11-24T18:07:00.Z"));
  EXPECT_EQ(rfc3339_utc(std::chrono::system_clock::time_point{}), "1970-01-01T00:00:00Z");
  EXPECT_TRUE(is_rfc3339_utc(rfc3339_utc(std::chrono::system_clock::now())));
}

TEST(Manifest, FileRoundTripAndErrorsNameTheFile) {
  test::TempDir tmp;
  fs::path f = tmp.path() / "manifest.json";
  ASSERT_TRUE(write_manifest(f, sample()));
  auto back = read_manifest(f);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(*back, sample());
  // No temp file left next to it.
  EXPECT_EQ(std::distance(fs::directory_iterator(tmp.path()), fs::directory_iterator()), 1);

  auto missing = read_manifest(tmp.path() / "nope.json");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errc(), Errc::not_found);
  EXPECT_NE(missing.error().what().find("nope.json"), std::string::npos);

  std::ofstream(f) << "{\"name\": ";
  auto broken = read_manifest(f);
  ASSERT_FALSE(broken);
  EXPECT_NE(broken.error().what().find(f.string()), std::string::npos) << broken.error().what();
  EXPECT_NE(broken.error().what().find("invalid JSON"), std::string::npos);

  Manifest bad = sample();
  bad.name = "nope";
  auto w = write_manifest(f, bad);
  ASSERT_FALSE(w);
  EXPECT_NE(w.error().what().find(f.string()), std::string::npos) << w.error().what();
}

}  // namespace
}  // namespace lj::overlay
