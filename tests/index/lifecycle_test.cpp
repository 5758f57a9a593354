// The lifecycle tables (daemon/index/states.hpp) and the index's one transition function
// (Db::transition), table-driven: for each resource, every ordered pair of states (from, to). A row
// put straight into `from` by SQL is moved to `to` if and only if the lifecycle written out below
// lists the pair; an accepted change writes the state and its event in one step, a refused one
// is a conflict that names the change and leaves the row and the event log as they were.
//
// The expected edges are spelled out here by hand, independently of states.hpp: they are the
// specification the tables are held to (docs/index.md shows the same tables).
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>

#include "index/db.hpp"
#include "index/events.hpp"

namespace lj::index {
namespace {

using Edges = std::set<std::pair<std::string, std::string>>;

const Edges kJailEdges = {
    {"creating", "created"}, {"creating", "running"}, {"creating", "exited"},
    {"creating", "removed"}, {"created", "running"},  {"created", "exited"},
    {"created", "removed"},  {"running", "stopping"}, {"running", "exited"},
    {"running", "removed"},  {"stopping", "exited"},  {"stopping", "removed"},
    {"exited", "removed"},
};
const Edges kBuildEdges = {
    {"queued", "running"},    {"queued", "succeeded"},  {"queued", "failed"},
    {"queued", "cancelled"},  {"running", "succeeded"}, {"running", "failed"},
    {"running", "cancelled"},
};
const Edges kWorldEdges = {{"importing", "ready"}, {"importing", "failed"}};

std::unique_ptr<Db> open_db() {
  auto db = Db::open(":memory:", {});
  if (!db) ADD_FAILURE() << db.error().what();
  return std::move(db).value();
}

std::string state_of(Db& db, std::string_view table, std::string_view key_column,
                     const std::string& key) {
  return db.raw()
      .execAndGet(fmt::format("SELECT state FROM {} WHERE {} = '{}'", table, key_column, key))
      .getString();
}

// Every pair (from, to) of `lc`'s states against `expected`. `insert(db, key, state)` puts a row
// in a state by SQL, as if the earlier transitions had happened.
template <class S, class Insert>
void check_every_pair(const Lifecycle<S>& lc, const Edges& expected, Insert insert) {
  auto db = open_db();
  int n = 0, accepted = 0;
  for (const auto& from : lc.states) {
    for (const auto& to : lc.states) {
      SCOPED_TRACE(fmt::format("{}: {} -> {}", lc.noun, from.name, to.name));
      const std::string key = fmt::format("{}-{}", lc.noun, ++n);
      insert(*db, key, std::string(from.name));
      const std::int64_t seq = events::last_seq(*db).value();
      const bool legal = expected.count({std::string(from.name), std::string(to.name)}) != 0;
      EXPECT_EQ(lc.allows(from.state, to.state), legal);

      auto r = db->transition(lc, key, to.state, {}, nlohmann::json::object(), 1001);
      if (legal) {
        ++accepted;
        ASSERT_TRUE(r) << r.error().what();
        EXPECT_EQ(state_of(*db, lc.table, lc.key, key), to.name);
        EXPECT_FALSE(to.event.empty());
        EXPECT_EQ(r->type, to.event);
        EXPECT_EQ(r->resource, key);
        EXPECT_EQ(r->uid, 1001u);
        EXPECT_EQ(r->seq, seq + 1);  // the row and its event, together
      } else {
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().errc(), Errc::conflict);
        EXPECT_EQ(r.error().code(), "index.conflict");
        EXPECT_EQ(r.error().message(), fmt::format("{} {}: {} -> {} is not a transition", lc.noun,
                                                   key, from.name, to.name));
        EXPECT_EQ(state_of(*db, lc.table, lc.key, key), from.name);
        EXPECT_EQ(events::last_seq(*db).value(), seq);  // nothing appended
      }
    }
  }
  EXPECT_EQ(accepted, static_cast<int>(expected.size()));  // every listed edge was tried

  auto missing = db->transition(lc, "nobody", lc.initial, {}, nlohmann::json::object(), 0);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().errc(), Errc::not_found);
  EXPECT_EQ(missing.error().message(), fmt::format("{} nobody not found", lc.noun));
}

TEST(IndexLifecycle, JailTransitions) {
  check_every_pair(kJails, kJailEdges, [](Db& db, const std::string& id, const std::string& st) {
    db.raw().exec(fmt::format(
        "INSERT INTO jails (id, name, state, created_at) VALUES ('{0}', '{0}', '{1}', 0)", id, st));
  });
}

TEST(IndexLifecycle, BuildTransitions) {
  check_every_pair(kBuilds, kBuildEdges, [](Db& db, const std::string& id, const std::string& st) {
    db.raw().exec(
        fmt::format("INSERT INTO builds (id, state, created_at) VALUES ('{}', '{}', 0)", id, st));
  });
}

TEST(IndexLifecycle, WorldImportTransitions) {
  check_every_pair(
      kWorlds, kWorldEdges, [](Db& db, const std::string& name, const std::string& st) {
        db.raw().exec(fmt::format(
            "INSERT INTO worlds (name, path, state, created_at) VALUES ('{0}', '/w/{0}', '{1}', 0)",
            name, st));
      });
}

// A jail's event carries its name (the table's label column) beside the change's own data.
TEST(IndexLifecycle, JailEventsCarryTheName) {
  auto db = open_db();
  db->raw().exec(
      "INSERT INTO jails (id, name, state, created_at) VALUES ('j-1', 'web', 'creating', 0)");
  auto r = db->transition(kJails, "j-1", JailState::running, {{"pid", std::int64_t{42}}},
                          nlohmann::json{{"pid", 42}}, std::nullopt);
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->data, R"({"name":"web","pid":42})");
  EXPECT_FALSE(r->uid.has_value());
  EXPECT_EQ(db->raw().execAndGet("SELECT pid FROM jails WHERE id = 'j-1'").getInt(), 42);
}

// The tables' names are the SQL CHECK constraints' names: a state the table does not know is
// refused by SQLite too.
TEST(IndexLifecycle, TheSchemaKnowsTheSameStates) {
  auto db = open_db();
  for (const auto& s : kJails.states) {
    EXPECT_NO_THROW(db->raw().exec(fmt::format(
        "INSERT INTO jails (id, name, state, created_at) VALUES ('{0}', '{0}', '{0}', 0)",
        s.name)));
  }
  EXPECT_ANY_THROW(db->raw().exec(
      "INSERT INTO jails (id, name, state, created_at) VALUES ('x', 'x', 'paused', 0)"));
  for (const auto& s : kBuilds.states) {
    EXPECT_NO_THROW(db->raw().exec(fmt::format(
        "INSERT INTO builds (id, state, created_at) VALUES ('{0}', '{0}', 0)", s.name)));
  }
  for (const auto& s : kWorlds.states) {
    EXPECT_NO_THROW(db->raw().exec(fmt::format(
        "INSERT INTO worlds (name, path, state, created_at) VALUES ('{0}', '/', '{0}', 0)",
        s.name)));
  }
}

}  // namespace
}  // namespace lj::index
