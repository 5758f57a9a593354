// Teardown off the loop, black-box: a real ljd whose every jail teardown is made 2 s slower (the
// fault seam LJD_FAULT=teardown.delay_ms:2000, daemon/crash_point.hpp) keeps answering other
// clients meanwhile, and still records the exit before publishing its event and answers every
// waiter (a wait, a log follower) once the teardown is done. Privileged: skipped when not root.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "ljd_process.hpp"

namespace lj::testing {
namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

constexpr auto kDelay = 2000ms;

TEST(LjdJailTeardown, ASlowTeardownStallsNoClientAndEveryWaiterIsAnswered) {
  if (::getuid() != 0) GTEST_SKIP() << "needs root: jails need namespaces, mounts and cgroups";
  LjdProcess ljd("heartbeat = 1s\nworkers = 4\n");
  ::setenv("LJD_FAULT", ("teardown.delay_ms:" + std::to_string(kDelay.count())).c_str(), 1);
  auto started = ljd.start();
  ::unsetenv("LJD_FAULT");
  ASSERT_TRUE(started) << started.error().what();
  if (ljd.log().find("backend=none") != std::string::npos)
    GTEST_SKIP() << "no jail backend in this build";
  ASSERT_TRUE(ljd.make_busybox_world("bb"));

  auto c = ljd.client();
  const std::int64_t since = c.get("/v1/info")->json()["event_seq"];
  auto r = c.post("/v1/jails?start=true",
                  {{"world", "bb"}, {"command", {"sh", "-c", "echo hi; sleep 1; exit 7"}}});
  ASSERT_TRUE(r && r->status == 201) << (r ? r->body : r.error().what());
  const std::string id = r->json()["id"];

  // The exit event, and the row as it was when the event arrived.
  auto event = std::async(std::launch::async, [&] {
    auto ec = ljd.client();
    EXPECT_TRUE(ec.open_stream("/v1/events?follow=true&since=" + std::to_string(since)));
    for (;;) {
      auto line = ec.next_line(30s);
      if (!line || !*line) return std::pair{Clock::time_point{}, json()};
      json e = json::parse(**line, nullptr, false);
      if (e.value("type", "") == "jail.exited" && e.value("resource", "") == id) {
        auto at = Clock::now();
        auto rc = ljd.client();
        return std::pair{at, rc.get("/v1/jails/" + id)->json()};
      }
    }
  });
  auto waited = std::async(std::launch::async, [&] {
    auto wc = ljd.client();
    auto w = wc.get("/v1/jails/" + id + "/wait?timeout_s=30");
    return std::pair{Clock::now(), w ? w->json() : json()};
  });
  auto followed = std::async(std::launch::async, [&] {
    auto lc = ljd.client();
    EXPECT_TRUE(lc.open_stream("/v1/jails/" + id + "/logs?follow=true"));
    json last;
    for (;;) {
      auto line = lc.next_line(30s);
      if (!line || !*line) break;
      json rec = json::parse(**line, nullptr, false);
      if (rec.value("type", "") != "heartbeat") last = rec;
    }
    return std::pair{Clock::now(), last};
  });

  // Meanwhile: pings, one after the other, each timed.
  std::vector<std::pair<Clock::time_point, Clock::duration>> pings;
  auto pc = ljd.client();
  while (waited.wait_for(0s) != std::future_status::ready) {
    auto t0 = Clock::now();
    auto p = pc.get("/v1/_ping");
    ASSERT_TRUE(p && p->status == 200);
    pings.emplace_back(t0, Clock::now() - t0);
    std::this_thread::sleep_for(5ms);
  }
  auto [event_at, row_at_event] = event.get();
  auto [wait_at, wait_body] = waited.get();
  auto [end_at, end_record] = followed.get();

  // Recorded before published: the row the event's reader fetched already holds the exit.
  EXPECT_EQ(row_at_event["state"], "exited") << row_at_event;
  EXPECT_EQ(row_at_event["exit"]["code"], 7) << row_at_event;
  // Every waiter answered, with the exit, once the teardown is done (it holds them kDelay).
  EXPECT_EQ(wait_body["state"], "exited") << wait_body;
  EXPECT_EQ(wait_body["exit"]["code"], 7) << wait_body;
  EXPECT_EQ(end_record["type"], "end") << end_record;
  EXPECT_EQ(end_record["exit"]["code"], 7) << end_record;
  ASSERT_NE(event_at, Clock::time_point{});
  EXPECT_GE(wait_at - event_at, kDelay - 300ms) << "the teardown delay was not in effect";
  EXPECT_GE(end_at - event_at, kDelay - 300ms);

  // Served meanwhile: the pings sent while the jail was being torn down.
  std::vector<double> during;
  for (auto& [at, took] : pings) {
    if (at >= event_at && at + took <= wait_at)
      during.push_back(std::chrono::duration<double, std::milli>(took).count());
  }
  ASSERT_GE(during.size(), 20u) << "too few pings during the teardown";
  std::sort(during.begin(), during.end());
  double p99 = during[std::min(during.size() - 1, during.size() * 99 / 100)];
  RecordProperty("pings_during_teardown", static_cast<int>(during.size()));
  RecordProperty("ping_p99_us", static_cast<int>(p99 * 1000));
  std::printf("pings during a %lld ms teardown: %zu, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n",
              static_cast<long long>(kDelay.count()), during.size(), during[during.size() / 2], p99,
              during.back());
  EXPECT_LT(p99, 50.0);
  EXPECT_EQ(ljd.client().get("/v1/info")->json()["jails_live"], 0);
}

}  // namespace
}  // namespace lj::testing
