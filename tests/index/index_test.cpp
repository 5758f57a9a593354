// The state index against real SQLite: a private :memory: database for the logic, a real file in
// a temporary directory for durability, reopening, crashes and file errors.
#include "index/index.hpp"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <regex>
#include <thread>

#include "../overlay/temp_dir.hpp"
#include "common/sys.hpp"
#include "helpers.hpp"

namespace lj::index {
namespace {

using overlay::test::TempDir;
using namespace std::chrono_literals;

TEST(Index, MigratesFromEmpty) {
  Index idx = open_memory();
  EXPECT_EQ(idx.schema_version().value(), schema_version_supported());
  EXPECT_TRUE(idx.list_jails().value().empty());
  EXPECT_EQ(idx.last_event_seq().value(), 0);
  EXPECT_TRUE(idx.integrity_check()) << idx.integrity_check().error().what();
}

TEST(Index, ReopenKeepsDataWithoutMigratingAgain) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  std::string id;
  {
    auto idx = Index::open(path);
    ASSERT_TRUE(idx) << idx.error().what();
    auto row = idx->insert_jail(jail("web", {{"app", "web"}}));
    ASSERT_TRUE(row) << row.error().what();
    id = row->id;
    ASSERT_TRUE(idx->transition(id, JailState::running,
                                ProcessHandle{4242, 777, "/sys/fs/cgroup/ljd/web", 0}, 1001));
  }
  auto idx = Index::open(path);
  ASSERT_TRUE(idx) << idx.error().what();
  auto got = idx->get_jail("web");
  ASSERT_TRUE(got) << got.error().what();
  EXPECT_EQ(got->id, id);
  EXPECT_EQ(got->state, JailState::running);
  EXPECT_EQ(got->pid, 4242);
  EXPECT_EQ(got->start_time, 777u);
  EXPECT_EQ(got->labels.at("app"), "web");
  EXPECT_EQ(idx->last_event_seq().value(), 1);

  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "wal");
  EXPECT_EQ(raw.execAndGet("SELECT count(*) FROM schema_migrations").getInt(),
            schema_version_supported());
  EXPECT_EQ(raw.execAndGet("PRAGMA user_version").getInt(), schema_version_supported());
}

TEST(Index, MigratesAnOlderIndexStepByStep) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  {
    Index idx = Index::open(path).value();
    ASSERT_TRUE(idx.insert_jail(jail("kept")));
  }
  {  // Back to what schema version 1 left.
    SQLite::Database raw(path, SQLite::OPEN_READWRITE);
    raw.exec(
        "DROP TABLE execs; DROP TRIGGER leases_release; DROP TABLE leases; DROP TABLE networks; "
        "DROP TABLE meta; DELETE FROM schema_migrations WHERE version > 1; "
        "CREATE TABLE jail_mounts (jail_id TEXT NOT NULL REFERENCES jails (id) ON DELETE CASCADE, "
        "seq INTEGER NOT NULL, target TEXT NOT NULL, fstype TEXT NOT NULL, "
        "PRIMARY KEY (jail_id, seq)) STRICT, WITHOUT ROWID; "
        "PRAGMA user_version = 1");
  }
  auto idx = Index::open(path);
  ASSERT_TRUE(idx) << idx.error().what();
  EXPECT_EQ(idx->schema_version().value(), schema_version_supported());
  EXPECT_TRUE(idx->get_jail("kept"));
  EXPECT_FALSE(idx->epoch().empty());
  EXPECT_TRUE(idx->integrity_check());
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("SELECT count(*) FROM schema_migrations").getInt(),
            schema_version_supported());
  // 003 dropped the mount journal that version 1 made.
  EXPECT_EQ(
      raw.execAndGet("SELECT count(*) FROM sqlite_schema WHERE name = 'jail_mounts'").getInt(), 0);
}

TEST(Index, EpochChangesOnlyAfterTheMachineWentDownWithTheIndexOpen) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  auto open = [&](const char* boot) { return Index::open(path, {.boot_id = boot}).value(); };
  std::string epoch;
  {
    Index idx = open("boot-a");
    epoch = idx.epoch();
    EXPECT_EQ(epoch.size(), 16u);
    EXPECT_FALSE(idx.epoch_changed());
    ASSERT_TRUE(idx.append_event("test.tick", "r", 0));
    EXPECT_EQ(idx.events_since(0)->epoch, epoch);
  }                                          // clean close
  EXPECT_EQ(open("boot-b").epoch(), epoch);  // a reboot after a clean close loses nothing

  // ljd killed (no close) and restarted in the same boot: the kernel kept every commit.
  EXPECT_EQ(in_child([&] {
              Index idx = open("boot-b");
              if (!idx.append_event("test.tick", "r", 0)) return 1;
              ::_exit(0);  // no destructor, no close: a kill -9
            }),
            0);
  {
    Index idx = open("boot-b");
    EXPECT_EQ(idx.epoch(), epoch);
    EXPECT_FALSE(idx.epoch_changed());
    EXPECT_EQ(idx.last_event_seq().value(), 2);
  }

  // Killed again, and this time the machine went down too: the epoch changes, once.
  EXPECT_EQ(in_child([&]() -> int {
              Index idx = open("boot-b");
              ::_exit(0);
            }),
            0);
  std::string next;
  {
    Index idx = open("boot-c");
    next = idx.epoch();
    EXPECT_NE(next, epoch);
    EXPECT_TRUE(idx.epoch_changed());
    EXPECT_EQ(idx.events_since(0)->epoch, next);
  }
  Index idx = open("boot-d");
  EXPECT_EQ(idx.epoch(), next);
  EXPECT_FALSE(idx.epoch_changed());
  ASSERT_TRUE(idx.close());
  ASSERT_TRUE(idx.close());  // idempotent
}

TEST(Index, ReplacingAnOpenIndexClosesItCleanly) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  Index idx = Index::open(path).value();
  auto open_flag = [&] {
    SQLite::Database raw(path, SQLite::OPEN_READONLY);
    return raw.execAndGet("SELECT value FROM meta WHERE key = 'open'").getString();
  };
  EXPECT_EQ(open_flag(), "1");
  idx = open_memory();
  EXPECT_EQ(open_flag(), "0");
}

TEST(Index, JailLifecycleWritesRowAndEventTogether) {
  Index idx = open_memory();
  auto row = idx.insert_jail(jail("web"));
  ASSERT_TRUE(row) << row.error().what();
  EXPECT_TRUE(std::regex_match(row->id, std::regex("j-[0-9a-f]{8}"))) << row->id;
  EXPECT_EQ(row->state, JailState::creating);
  EXPECT_EQ(idx.last_event_seq().value(), 0);  // creating is not announced

  auto created = idx.transition(row->id, JailState::created, {}, 1001);
  ASSERT_TRUE(created) << created.error().what();
  EXPECT_EQ(created->seq, 1);
  EXPECT_EQ(created->type, "jail.created");
  EXPECT_EQ(created->resource, row->id);
  EXPECT_EQ(created->uid, 1001u);

  auto started =
      idx.transition(row->id, JailState::running, ProcessHandle{100, 200, "cg", 0}, 1001);
  ASSERT_TRUE(started) << started.error().what();
  EXPECT_EQ(started->seq, 2);
  EXPECT_EQ(idx.get_jail(row->id)->state, JailState::running);
  EXPECT_TRUE(idx.get_jail(row->id)->started_at.has_value());

  ASSERT_TRUE(idx.transition(row->id, JailState::stopping, {}, 0));
  ExitRecord exit;
  exit.exit_signal = 9;
  exit.timed_out = true;
  auto exited = idx.transition(row->id, JailState::exited, exit);
  ASSERT_TRUE(exited) << exited.error().what();
  EXPECT_EQ(exited->seq, 4);
  EXPECT_EQ(exited->type, "jail.exited");
  EXPECT_FALSE(exited->uid.has_value());
  EXPECT_NE(exited->data.find(R"("exit_signal":9)"), std::string::npos) << exited->data;
  EXPECT_NE(exited->data.find(R"("timed_out":true)"), std::string::npos) << exited->data;

  auto got = idx.get_jail(row->id).value();
  EXPECT_EQ(got.state, JailState::exited);
  EXPECT_FALSE(got.exit_code.has_value());
  EXPECT_EQ(got.exit_signal, 9);
  EXPECT_TRUE(got.timed_out);
  EXPECT_FALSE(got.oom);
  EXPECT_TRUE(got.exited_at.has_value());

  // Transitions from the wrong state are conflicts, and change nothing.
  auto again = idx.transition(row->id, JailState::running, ProcessHandle{1, 1, "", 0}, 0);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errc(), Errc::conflict) << again.error().what();
  EXPECT_EQ(again.error().code(), "index.conflict");
  EXPECT_EQ(idx.transition(row->id, JailState::exited, ExitRecord{}).error().errc(),
            Errc::conflict);
  EXPECT_EQ(idx.last_event_seq().value(), 4);

  auto removed = idx.transition(row->id, JailState::removed, {}, 1001);
  ASSERT_TRUE(removed);
  EXPECT_EQ(removed->type, "jail.removed");
  EXPECT_EQ(idx.transition(row->id, JailState::removed, {}, 1001).error().errc(), Errc::conflict);

  // Like every time of the API, RFC 3339 (it was epoch milliseconds).
  ExitRecord at;
  at.exit_code = 0;
  at.exited_at = Time(std::chrono::milliseconds(1764000000123));
  auto row2 = idx.insert_jail(jail("web2"));
  ASSERT_TRUE(row2);
  auto exited2 = idx.transition(row2->id, JailState::exited, at);
  ASSERT_TRUE(exited2) << exited2.error().what();
  EXPECT_NE(exited2->data.find(R"("exited_at":"2025-11-24T16:00:00.123Z")"), std::string::npos)
      << exited2->data;
}

TEST(Index, FailedTransactionLeavesNeitherRowNorEvent) {
  Index idx = open_memory();
  auto row = idx.insert_jail(jail("web")).value();
  ASSERT_TRUE(idx.transition(row.id, JailState::created, {}, 0));

  // Between the row's UPDATE and the event's INSERT.
  sys::clear_faults();
  sys::inject_fault("index.event", EIO);
  auto r = idx.transition(row.id, JailState::running, ProcessHandle{1, 2, "cg", 0}, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(idx.get_jail(row.id)->state, JailState::created);
  EXPECT_EQ(idx.last_event_seq().value(), 1);

  // After both, before COMMIT.
  sys::inject_fault("index.commit", EIO);
  r = idx.transition(row.id, JailState::running, ProcessHandle{1, 2, "cg", 0}, 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(sys::faults_fired(), 2);
  sys::clear_faults();
  EXPECT_EQ(idx.get_jail(row.id)->state, JailState::created);
  EXPECT_EQ(idx.get_jail(row.id)->pid, 0);
  EXPECT_EQ(idx.last_event_seq().value(), 1);

  // The next success takes the next seq: no gap where the failures were.
  auto ok = idx.transition(row.id, JailState::running, ProcessHandle{1, 2, "cg", 0}, 0);
  ASSERT_TRUE(ok) << ok.error().what();
  EXPECT_EQ(ok->seq, 2);
  EXPECT_EQ(idx.events_since(0).value().events.size(), 2u);
}

TEST(Index, WriterKilledMidTransactionLeavesNeitherRowNorEvent) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  std::string id;
  {
    auto idx = Index::open(path);
    ASSERT_TRUE(idx) << idx.error().what();
    id = idx->insert_jail(jail("web")).value().id;
    ASSERT_TRUE(idx->transition(id, JailState::created, {}, 0));
  }
  // A writer that dies by SIGKILL between the row and the event, its transaction open.
  int status = in_child([&] {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);
    db.exec("BEGIN IMMEDIATE");
    db.exec("UPDATE jails SET state = 'running', pid = 99 WHERE id = '" + id + "'");
    db.exec(
        "INSERT INTO events (time, type, resource, data) VALUES (0, 'jail.started', 'x', '{}')");
    ::kill(::getpid(), SIGKILL);
    return 0;
  });
  EXPECT_EQ(status, 128 + SIGKILL);

  auto idx = Index::open(path);
  ASSERT_TRUE(idx) << idx.error().what();
  EXPECT_TRUE(idx->integrity_check());
  EXPECT_EQ(idx->get_jail(id)->state, JailState::created);
  EXPECT_EQ(idx->last_event_seq().value(), 1);
  auto next = idx->transition(id, JailState::running, ProcessHandle{5, 6, "", 0}, 0);
  ASSERT_TRUE(next) << next.error().what();
  EXPECT_EQ(next->seq, 2);
}

// Many transitions, a fifth of them failed between their statements or at COMMIT: every success
// takes exactly the next seq, and every event in the log matches a transition that succeeded.
TEST(Index, EventsStayGaplessThroughRandomFailures) {
  Index idx = open_memory();
  std::mt19937 rng(12345);
  std::vector<std::string> ids;
  std::int64_t expected = 0;
  std::vector<std::string> types;
  int injected = 0;
  for (int i = 0; i < 600; ++i) {
    if (ids.empty() || rng() % 4 == 0) {
      ids.push_back(idx.insert_jail(jail("")).value().id);
      continue;
    }
    const std::string& id = ids[rng() % ids.size()];
    sys::clear_faults();
    if (rng() % 5 == 0) sys::inject_fault(rng() % 2 ? "index.event" : "index.commit", EIO);
    Result<EventRow> r = fail(Errc::internal, "test", "none");
    switch (rng() % 4) {
      case 0:
        r = idx.transition(id, JailState::created, {}, 0);
        break;
      case 1:
        r = idx.transition(id, JailState::running, ProcessHandle{1, 1, "", 0}, 0);
        break;
      case 2:
        r = idx.transition(id, JailState::exited, ExitRecord{.exit_code = 1});
        break;
      case 3:
        r = idx.transition(id, JailState::removed, {}, 0);
        break;
    }
    sys::clear_faults();
    if (!r && r.error().sys_errno() == EIO) ++injected;
    if (r) {
      EXPECT_EQ(r->seq, ++expected);
      types.push_back(r->type);
      // The row says what the event says.
      auto row = idx.get_jail(id).value();
      EXPECT_EQ("jail." + std::string(to_string(row.state)),
                r->type == "jail.created"   ? "jail.created"
                : r->type == "jail.started" ? "jail.running"
                                            : r->type);
    }
  }
  ASSERT_GT(expected, 100);
  EXPECT_GT(injected, 20);
  auto all = idx.events_since(0, 10000).value();
  ASSERT_EQ(static_cast<std::int64_t>(all.events.size()), expected);
  for (std::int64_t i = 0; i < expected; ++i) {
    EXPECT_EQ(all.events[i].seq, i + 1);
    EXPECT_EQ(all.events[i].type, types[i]);
  }
  EXPECT_TRUE(idx.integrity_check());
}

TEST(Index, EventsAreGaplessAndResumableBySeq) {
  Index idx = open_memory();
  for (int i = 1; i <= 10; ++i) {
    auto e = idx.append_event("test.tick", "r", i, R"({"i":)" + std::to_string(i) + "}");
    ASSERT_TRUE(e);
    EXPECT_EQ(e->seq, i);
  }
  auto page = idx.events_since(0, 4).value();
  ASSERT_EQ(page.events.size(), 4u);
  EXPECT_EQ(page.events.front().seq, 1);
  EXPECT_EQ(page.events.back().seq, 4);
  EXPECT_EQ(page.first_seq, 1);
  EXPECT_EQ(page.last_seq, 10);
  EXPECT_FALSE(page.pruned);

  std::int64_t at = page.events.back().seq;
  std::vector<std::int64_t> seen;
  while (true) {
    auto p = idx.events_since(at, 3).value();
    if (p.events.empty()) break;
    for (auto& e : p.events) seen.push_back(e.seq);
    at = p.events.back().seq;
  }
  EXPECT_EQ(seen, (std::vector<std::int64_t>{5, 6, 7, 8, 9, 10}));
  EXPECT_EQ(idx.events_since(10).value().events.size(), 0u);
  auto last = idx.events_since(9).value().events.at(0);
  EXPECT_EQ(last.type, "test.tick");
  EXPECT_EQ(last.uid, 10u);
  EXPECT_EQ(last.data, R"({"i":10})");
}

TEST(Index, ListsJailsByStateAndLabels) {
  Index idx = open_memory();
  auto a = idx.insert_jail(jail("a", {{"app", "web"}, {"tier", "front"}})).value();
  auto b = idx.insert_jail(jail("b", {{"app", "web"}})).value();
  auto c = idx.insert_jail(jail("c", {{"app", "db"}})).value();
  ASSERT_TRUE(idx.transition(b.id, JailState::running, ProcessHandle{1, 1, "", 0}, 0));
  ASSERT_TRUE(idx.transition(c.id, JailState::exited, ExitRecord{.exit_code = 0}));
  ASSERT_TRUE(idx.transition(c.id, JailState::removed, {}, 0));

  auto names = [](const std::vector<JailRow>& rows) {
    std::vector<std::string> out;
    for (auto& r : rows) out.push_back(r.name);
    std::sort(out.begin(), out.end());
    return out;
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(names(idx.list_jails().value()), (V{"a", "b"}));  // removed are hidden
  EXPECT_EQ(names(idx.list_jails({.labels = {{"app", "web"}}}).value()), (V{"a", "b"}));
  EXPECT_EQ(names(idx.list_jails({.labels = {{"app", "web"}, {"tier", "front"}}}).value()),
            (V{"a"}));
  EXPECT_EQ(names(idx.list_jails({.labels = {{"app", "db"}}}).value()), V{});
  EXPECT_EQ(names(idx.list_jails({.states = {JailState::removed}}).value()), (V{"c"}));
  EXPECT_EQ(names(idx.list_jails({.states = {JailState::running}}).value()), (V{"b"}));
  EXPECT_EQ(names(idx.list_jails({.states = {JailState::creating, JailState::running},
                                  .labels = {{"tier", "front"}}})
                      .value()),
            (V{"a"}));
  EXPECT_EQ(names(idx.list_jails_in_flight().value()), (V{"a", "b"}));
  EXPECT_EQ(names(idx.list_jails({.owner_uid = 1001}).value()), (V{"a", "b"}));
  EXPECT_EQ(names(idx.list_jails({.owner_uid = 7}).value()), V{});
  // A label value that looks like SQL or JSON is just a value.
  auto d = idx.insert_jail(jail("d", {{"q", "x' OR '1'='1"}, {"$.k", "{\"a\":1}"}})).value();
  EXPECT_EQ(names(idx.list_jails({.labels = {{"q", "x' OR '1'='1"}}}).value()), (V{"d"}));
  EXPECT_EQ(names(idx.list_jails({.labels = {{"$.k", "{\"a\":1}"}}}).value()), (V{"d"}));
  EXPECT_EQ(idx.get_jail(d.id)->labels.at("$.k"), "{\"a\":1}");
}

TEST(Index, NamesAreUniqueAmongJailsNotRemoved) {
  Index idx = open_memory();
  auto first = idx.insert_jail(jail("web")).value();
  auto dup = idx.insert_jail(jail("web"));
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().errc(), Errc::exists);
  EXPECT_EQ(dup.error().code(), "index.exists");

  JailRow same_id = jail("other");
  same_id.id = first.id;
  EXPECT_EQ(idx.insert_jail(same_id).error().errc(), Errc::exists);

  ASSERT_TRUE(idx.transition(first.id, JailState::exited, ExitRecord{.exit_code = 3}));
  EXPECT_EQ(idx.insert_jail(jail("web")).error().errc(), Errc::exists);  // exited still holds it
  ASSERT_TRUE(idx.transition(first.id, JailState::removed, {}, 0));
  auto second = idx.insert_jail(jail("web"));
  ASSERT_TRUE(second) << second.error().what();
  EXPECT_NE(second->id, first.id);

  EXPECT_EQ(idx.get_jail("web")->id, second->id);  // the live one wins
  EXPECT_EQ(idx.get_jail(first.id)->state, JailState::removed);
  ASSERT_TRUE(idx.delete_jail(second->id));
  EXPECT_EQ(idx.get_jail("web")->id, first.id);  // then the newest record

  JailRow unnamed;
  auto u = idx.insert_jail(unnamed).value();
  EXPECT_EQ(u.name, u.id);
}

TEST(Index, ExitRecordSurvivesRemoval) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  std::string id;
  {
    Index idx = Index::open(path).value();
    JailRow r = jail("job");
    r.auto_remove = true;
    id = idx.insert_jail(r).value().id;
    ASSERT_TRUE(idx.transition(id, JailState::running, ProcessHandle{10, 20, "", 0}, 0));
    ASSERT_TRUE(idx.transition(id, JailState::exited, ExitRecord{.exit_code = 42, .oom = true}));
    ASSERT_TRUE(idx.transition(id, JailState::removed, {}, std::nullopt));
  }
  Index idx = Index::open(path).value();
  auto got = idx.get_jail(id).value();
  EXPECT_EQ(got.state, JailState::removed);
  EXPECT_EQ(got.exit_code, 42);
  EXPECT_TRUE(got.oom);
  EXPECT_TRUE(got.auto_remove);
  EXPECT_TRUE(got.removed_at.has_value());
  EXPECT_EQ(idx.get_jail("job")->id, id);
}

TEST(Index, RetentionPurgesOldRecordsAndKeepsEventsGapless) {
  Index idx = open_memory();
  const Time old = now() - 48h;
  auto gone = idx.insert_jail(jail("gone")).value();
  ASSERT_TRUE(
      idx.transition(gone.id, JailState::exited, ExitRecord{.exit_code = 0, .exited_at = old}));
  auto live = idx.insert_jail(jail("live")).value();
  ASSERT_TRUE(idx.transition(live.id, JailState::running, ProcessHandle{1, 1, "", 0}, 0));
  auto fresh = idx.insert_jail(jail("fresh")).value();
  const std::int64_t before_cut = idx.last_event_seq().value();  // 2

  std::this_thread::sleep_for(5ms);
  const Time cutoff = now();
  std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(
      idx.transition(fresh.id, JailState::exited, ExitRecord{.exit_code = 0}));  // after the cutoff
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(idx.append_event("test.tick", "r", 0));

  auto st = idx.purge(cutoff);
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->jails, 1);  // "gone"; the others are recent
  EXPECT_EQ(st->events, before_cut);
  EXPECT_EQ(idx.get_jail(gone.id).error().errc(), Errc::not_found);
  EXPECT_TRUE(idx.get_jail(fresh.id));
  EXPECT_TRUE(idx.get_jail(live.id));

  EXPECT_EQ(idx.last_event_seq().value(), before_cut + 4);
  auto b = idx.events_since(0).value();
  EXPECT_TRUE(b.pruned);
  EXPECT_EQ(b.first_seq, before_cut + 1);
  ASSERT_EQ(b.events.size(), 4u);
  EXPECT_EQ(b.events.front().seq, before_cut + 1);
  EXPECT_FALSE(idx.events_since(before_cut).value().pruned);

  // Pruning everything still never reuses a seq.
  ASSERT_TRUE(idx.purge(now() + 1h));
  auto empty = idx.events_since(0).value();
  EXPECT_TRUE(empty.events.empty());
  EXPECT_EQ(empty.first_seq, before_cut + 5);
  EXPECT_EQ(empty.last_seq, before_cut + 4);
  EXPECT_EQ(idx.append_event("test.tick", "r", 0)->seq, before_cut + 5);
  EXPECT_TRUE(idx.integrity_check());
}

TEST(Index, BuildLifecycle) {
  Index idx = open_memory();
  BuildRow b;
  b.context = "/src/app";
  b.log_path = "/var/log/b.log";
  auto [row, queued] = idx.insert_build(b, 1001).value();
  EXPECT_TRUE(std::regex_match(row.id, std::regex("b-[0-9a-f]{8}"))) << row.id;
  EXPECT_EQ(queued.type, "build.queued");
  EXPECT_EQ(idx.list_builds_in_flight().value().size(), 1u);
  ASSERT_TRUE(idx.transition(row.id, BuildState::running, {}, 1001));
  EXPECT_EQ(idx.get_build(row.id)->state, BuildState::running);

  BuildRow result;
  result.name = "acme/app";
  result.version = "1.2.0";
  result.published = true;
  auto done = idx.transition(row.id, BuildState::succeeded, result, std::nullopt);
  ASSERT_TRUE(done) << done.error().what();
  EXPECT_EQ(done->type, "build.succeeded");
  auto got = idx.get_build(row.id).value();
  EXPECT_EQ(got.state, BuildState::succeeded);
  EXPECT_EQ(got.name, "acme/app");
  EXPECT_TRUE(got.published);
  EXPECT_TRUE(got.ended_at.has_value());
  EXPECT_TRUE(idx.list_builds_in_flight().value().empty());
  EXPECT_EQ(idx.list_builds(BuildState::succeeded).value().size(), 1u);
  EXPECT_EQ(idx.transition(row.id, BuildState::failed, {}, 0).error().errc(), Errc::conflict);
  EXPECT_EQ(idx.transition(row.id, BuildState::running, {}, 0).error().errc(), Errc::conflict);
  EXPECT_EQ(idx.get_build("b-nope").error().errc(), Errc::not_found);
}

TEST(Index, WorldsAndOverlays) {
  Index idx = open_memory();
  ASSERT_TRUE(idx.insert_world({.name = "14.1", .path = "/lj/worlds/14.1", .source = "/t.txz"}, 0));
  EXPECT_EQ(idx.insert_world({.name = "14.1"}, 0).error().errc(), Errc::exists);
  EXPECT_EQ(idx.list_worlds_importing().value().size(), 1u);
  ASSERT_TRUE(idx.transition("14.1", WorldState::ready, 1 << 20, 0));
  EXPECT_EQ(idx.get_world("14.1")->size_bytes, 1u << 20);
  EXPECT_TRUE(idx.list_worlds_importing().value().empty());
  ASSERT_TRUE(idx.insert_world({.name = "bad"}, 0));
  auto failed =
      idx.transition("bad", WorldState::failed, std::string(R"({"code":"world.no_space"})"), 0);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->data, R"({"error":{"code":"world.no_space"}})");
  EXPECT_EQ(idx.get_world("bad")->state, WorldState::failed);
  EXPECT_EQ(idx.transition("bad", WorldState::ready, 1, 0).error().errc(), Errc::conflict);

  OverlayRow o{.name = "acme/base", .version = "1.0.0", .world = "14.1"};
  ASSERT_TRUE(idx.insert_overlay(o, 0));
  EXPECT_EQ(idx.insert_overlay(o, 0).error().errc(), Errc::exists);
  o.version = "1.1.0";
  o.parent_name = "acme/base";
  o.parent_version = "1.0.0";
  ASSERT_TRUE(idx.insert_overlay(o, 0));
  EXPECT_EQ(idx.list_overlays("acme/base").value().size(), 2u);
  EXPECT_EQ(idx.list_overlays().value().size(), 2u);
  EXPECT_EQ(idx.get_overlay("acme/base", "1.1.0")->parent_version, "1.0.0");
  auto del = idx.delete_overlay("acme/base", "1.0.0", 0);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->resource, "acme/base@1.0.0");
  EXPECT_EQ(idx.get_overlay("acme/base", "1.0.0").error().errc(), Errc::not_found);
  ASSERT_TRUE(idx.delete_world("bad", 0));
  EXPECT_EQ(idx.delete_world("bad", 0).error().errc(), Errc::not_found);
  EXPECT_EQ(idx.list_worlds().value().size(), 1u);
}

TEST(Index, ErrorsMapToKinds) {
  Index idx = open_memory();
  auto missing = idx.get_jail("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errc(), Errc::not_found);
  EXPECT_EQ(missing.error().domain(), "index");
  EXPECT_EQ(idx.transition("j-00000000", JailState::running, ProcessHandle{1, 1, "", 0}, 0)
                .error()
                .errc(),
            Errc::not_found);
  EXPECT_EQ(idx.delete_jail("j-00000000").error().errc(), Errc::not_found);
}

TEST(Index, LockedDatabaseIsBusy) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  Index idx = Index::open(path, {.busy_timeout = 20ms}).value();
  SQLite::Database other(path, SQLite::OPEN_READWRITE);
  other.exec("BEGIN IMMEDIATE");
  auto r = idx.append_event("test.tick", "r", 0);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errc(), Errc::busy) << r.error().what();
  other.exec("ROLLBACK");
  EXPECT_TRUE(idx.append_event("test.tick", "r", 0));
  EXPECT_EQ(idx.last_event_seq().value(), 1);
}

TEST(Index, FilesAreOnlyForTheOwner) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  Index idx = Index::open(path).value();
  ASSERT_TRUE(idx.append_event("test.tick", "r", 0));
  for (const std::string& f : {path, path + "-wal", path + "-shm"}) {
    struct stat st {};
    ASSERT_EQ(::stat(f.c_str(), &st), 0) << f;
    EXPECT_EQ(st.st_mode & 0777, 0600u) << f;
  }
}

TEST(Index, FailingToCreateTheFileNamesTheSyscall) {
  TempDir dir;
  sys::clear_faults();
  sys::inject_fault("open", EMFILE);
  auto idx = Index::open((dir.path() / "index.db").string());
  sys::clear_faults();
  ASSERT_FALSE(idx);
  EXPECT_EQ(idx.error().sys_errno(), EMFILE);
  EXPECT_NE(idx.error().what().find("creating index"), std::string::npos) << idx.error().what();
}

TEST(Index, FutureSchemaIsRefusedAndLeftAlone) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  {
    SQLite::Database raw(path, SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE);
    raw.exec("PRAGMA user_version = 99");
  }
  auto idx = Index::open(path);
  ASSERT_FALSE(idx);
  EXPECT_EQ(idx.error().errc(), Errc::unsupported);
  EXPECT_NE(idx.error().what().find("schema version 99"), std::string::npos) << idx.error().what();
  SQLite::Database raw(path, SQLite::OPEN_READONLY);
  EXPECT_EQ(raw.execAndGet("PRAGMA user_version").getInt(), 99);
  EXPECT_EQ(raw.execAndGet("PRAGMA journal_mode").getString(), "delete");
}

TEST(Index, NotADatabaseIsAClearError) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  std::ofstream(path) << "this is not an SQLite database, not even close; padding padding padding "
                         "padding padding padding padding padding padding padding padding";
  auto idx = Index::open(path);
  ASSERT_FALSE(idx);
  EXPECT_EQ(idx.error().errc(), Errc::internal);
  EXPECT_NE(idx.error().what().find(path), std::string::npos) << idx.error().what();
}

TEST(Index, MissingDirectoryIsNotFound) {
  TempDir dir;
  const std::string path = (dir.path() / "no" / "index.db").string();
  auto idx = Index::open(path);
  ASSERT_FALSE(idx);
  EXPECT_EQ(idx.error().errc(), Errc::not_found);
  EXPECT_EQ(idx.error().sys_errno(), ENOENT);
  EXPECT_NE(idx.error().what().find(path), std::string::npos) << idx.error().what();
}

TEST(Index, UnwritableFileIsPermissionDenied) {
  TempDir dir;
  const std::string path = (dir.path() / "index.db").string();
  { ASSERT_TRUE(Index::open(path)); }
  ::chmod(dir.path().c_str(), 0755);
  ::chmod(path.c_str(), 0644);
  // Root ignores file modes: check as an unprivileged uid, in a child.
  int rc = in_child([&] {
    if (::getuid() == 0 && ::setresuid(65534, 65534, 65534) != 0) return 10;
    ::chmod(path.c_str(), 0444);  // effective when we own it (not root)
    auto idx = Index::open(path);
    if (idx) return 1;
    if (idx.error().errc() != Errc::permission_denied) return 2;
    if (idx.error().what().find(path) == std::string::npos) return 3;
    return 0;
  });
  EXPECT_EQ(rc, 0);
}

}  // namespace
}  // namespace lj::index
