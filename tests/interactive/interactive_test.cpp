// Interactive jails through the real ljd and the real Linux backend, on a busybox world: a
// terminal (spec tty), a user resolved in the jail (spec user). Privileged: skipped when not root.
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "shared_ljd.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;

class LjdInteractiveTest : public SharedLjdTest<LjdInteractiveTest, true> {
 public:
  static constexpr const char* kConfig = "heartbeat = 1s\nworkers = 2\n";

 protected:
  // Starts `body`, waits for its end; the exit and what its log's stdout records hold.
  std::pair<json, std::string> run_to_end(HttpClient& c, json body) {
    auto r = c.post("/v1/jails?start=true", body);
    EXPECT_TRUE(r);
    if (!r) return {};
    EXPECT_EQ(r->status, 201) << r->body;
    std::string id = r->json()["id"];
    auto w = c.get("/v1/jails/" + id + "/wait?timeout_s=30");
    EXPECT_TRUE(w && w->status == 200);
    auto logs = c.get("/v1/jails/" + id + "/logs");
    EXPECT_TRUE(logs);
    std::string out;
    std::istringstream in(logs ? logs->body : "");
    for (std::string line; std::getline(in, line);) {
      json rec = json::parse(line);
      if (rec.value("stream", "") == "stdout") out += rec["data"].get<std::string>();
    }
    return {w ? w->json()["exit"] : json(), out};
  }
};

TEST_F(LjdInteractiveTest, ATtyJailRunsOnAPtyOfItsOwnAsItsUser) {
  auto c = client();
  auto [exit, out] = run_to_end(c, {{"world", "bb"},
                                    {"command", {"sh", "-c", "tty; busybox stty size; id -u; exit 4"}},
                                    {"tty", true},
                                    {"tty_size", {{"rows", 33}, {"cols", 99}}},
                                    {"user", "65534:65534"}});  // the world has no passwd entry for it
  EXPECT_EQ(exit["code"], 4);
  // A terminal merges stderr into stdout and ends lines with CR LF (onlcr).
  EXPECT_EQ(out, "/dev/pts/0\r\n33 99\r\n65534\r\n");
}

TEST_F(LjdInteractiveTest, AnUnknownUserIsABadRequest) {
  auto c = client();
  auto r = c.post("/v1/jails?start=true",
                  json{{"world", "bb"}, {"command", {"true"}}, {"user", "mallory"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_NE(r->body.find("no user 'mallory'"), std::string::npos) << r->body;
  r = c.post("/v1/jails", json{{"world", "bb"}, {"command", {"true"}}, {"user", "a:b:c"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(r->json()["details"]["field"], "user") << r->body;
}

}  // namespace
}  // namespace lj::testing
