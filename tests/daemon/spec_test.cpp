// The spec check: proto/openapi.yaml is the API's one source of truth. Every route the server has
// must be in it, and every path+method in it must be served (answer something other than "no such
// route"). The YAML is read line by line: paths sit at two spaces of indent, methods at four.
#include <cstdio>
#include <fstream>
#include <regex>
#include <set>

#include <gtest/gtest.h>

#include "ljd_process.hpp"

namespace lj::testing {
namespace {

using Route = std::pair<std::string, std::string>;  // METHOD, /v1/path/{param}

std::set<Route> spec_routes() {
  std::ifstream in(LJ_OPENAPI_PATH);
  std::set<Route> out;
  std::string line, path;
  bool in_paths = false;
  static const std::regex kPath(R"(^  (/\S*):\s*$)");
  static const std::regex kMethod(R"(^    (get|post|put|delete|patch|head):\s*$)");
  std::smatch m;
  while (std::getline(in, line)) {
    if (line == "paths:") {
      in_paths = true;
      continue;
    }
    if (!line.empty() && line[0] != ' ' && line[0] != '#') in_paths = false;
    if (!in_paths) continue;
    if (std::regex_match(line, m, kPath)) {
      path = m[1];
    } else if (!path.empty() && std::regex_match(line, m, kMethod)) {
      std::string method = m[1];
      for (auto& ch : method) ch = static_cast<char>(std::toupper(ch));
      out.emplace(method, path);
    }
  }
  return out;
}

std::set<Route> server_routes() {
  std::set<Route> out;
  std::string cmd = LjdProcess::binary() + " --routes --root /nonexistent-ljd-root";
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[512];
  while (std::fgets(buf, sizeof buf, p)) {
    std::string s(buf);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
    auto sp = s.find(' ');
    if (sp != std::string::npos) out.emplace(s.substr(0, sp), s.substr(sp + 1));
  }
  ::pclose(p);
  return out;
}

TEST(LjdSpec, EveryServerRouteIsInTheSpecAndBack) {
  auto spec = spec_routes();
  auto server = server_routes();
  ASSERT_FALSE(spec.empty()) << "no paths read from " << LJ_OPENAPI_PATH;
  ASSERT_FALSE(server.empty()) << "ljd --routes printed nothing";
  for (const auto& r : server) {
    EXPECT_TRUE(spec.count(r)) << r.first << " " << r.second
                               << " is served but not in openapi.yaml";
  }
  for (const auto& r : spec) {
    EXPECT_TRUE(server.count(r)) << r.first << " " << r.second
                                 << " is in openapi.yaml but not served";
  }
}

TEST(LjdSpec, EverySpecRouteAnswersOnTheSocket) {
  LjdProcess ljd;
  auto st = ljd.start();
  ASSERT_TRUE(st) << st.error().what();
  auto c = ljd.client();
  for (const auto& [method, path] : spec_routes()) {
    std::string target = std::regex_replace(path, std::regex(R"(\{[^}]*\})"), "spec-check");
    // Bounded waits and non-following streams, so that every call returns.
    if (target.find("/wait") != std::string::npos) target += "?timeout_s=0";
    auto r = c.request(method, target, method == "POST" ? "{}" : "");
    ASSERT_TRUE(r) << method << " " << target << ": " << r.error().what();
    EXPECT_NE(r->status, 405) << method << " " << target;
    EXPECT_EQ(r->body.find("api.no_route"), std::string::npos) << method << " " << target;
  }
}

}  // namespace
}  // namespace lj::testing
