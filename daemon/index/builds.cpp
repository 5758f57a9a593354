// The builds table: a build from `queued` to its end (states.hpp, kBuildStates) and its result.
#include "index/builds.hpp"

#include "index/db.hpp"

namespace lj::index::builds {
namespace {

using json = nlohmann::json;

constexpr const char* kCols =
    "id, state, jailfile, context, name, version, published, cache_hit, error, log_path, "
    "created_at, started_at, ended_at";

BuildRow read(SQLite::Statement& s) {
  BuildRow r;
  r.id = s.getColumn(0).getString();
  r.state = build_state_from(s.getColumn(1).getString()).value_or(BuildState::failed);
  r.jailfile = s.getColumn(2).getString();
  r.context = s.getColumn(3).getString();
  r.name = s.getColumn(4).getString();
  r.version = s.getColumn(5).getString();
  r.published = s.getColumn(6).getInt() != 0;
  r.cache_hit = s.getColumn(7).getInt() != 0;
  r.error = s.getColumn(8).getString();
  r.log_path = s.getColumn(9).getString();
  r.created_at = from_ms(s.getColumn(10).getInt64());
  r.started_at = opt_time(s.getColumn(11));
  r.ended_at = opt_time(s.getColumn(12));
  return r;
}

}  // namespace

Result<std::pair<BuildRow, EventRow>> insert(Db& db, BuildRow row,
                                             std::optional<std::uint32_t> uid) {
  return db.guarded("inserting build", [&]() -> Result<std::pair<BuildRow, EventRow>> {
    const bool gen_id = row.id.empty();
    row.state = kBuilds.initial;
    row.created_at = or_now(row.created_at);
    row.started_at.reset();
    row.ended_at.reset();
    for (int attempt = 0;; ++attempt) {
      if (gen_id) row.id = db.random_id('b');
      Db::Tx tx(db);
      try {
        auto q = db.query(
            "INSERT INTO builds (id, state, jailfile, context, name, version, log_path, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
        q->bind(1, row.id);
        q->bind(2, std::string(to_string(row.state)));
        q->bind(3, row.jailfile);
        q->bind(4, row.context);
        q->bind(5, row.name);
        q->bind(6, row.version);
        q->bind(7, row.log_path);
        q->bind(8, static_cast<std::int64_t>(ms(row.created_at)));
        q->exec();
      } catch (const SQLite::Exception& e) {
        if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY && gen_id && attempt < 8) {
          continue;
        }
        if (e.getErrorCode() == SQLITE_CONSTRAINT) {
          return fail(Errc::exists, kDomain, fmt::format("build {} exists", row.id));
        }
        throw;
      }
      json data{{"context", row.context}};
      auto ev = LJ_TRY(db.append(kBuilds.def(row.state).event, row.id, uid, data.dump()));
      LJ_TRY(tx.commit());
      return std::pair{row, ev};
    }
  });
}

// running sets started_at; an end (succeeded, failed, cancelled) writes the result.
Result<EventRow> transition(Db& db, std::string_view id, BuildState to, const BuildRow& result,
                            std::optional<std::uint32_t> uid) {
  std::vector<Set> set;
  json data = json::object();
  switch (to) {
    case BuildState::queued:
      break;
    case BuildState::running:
      set = {Set::time("started_at", now())};
      break;
    case BuildState::succeeded:
    case BuildState::failed:
    case BuildState::cancelled:
      set = {{"name", result.name},
             {"version", result.version},
             Set::flag("published", result.published),
             Set::flag("cache_hit", result.cache_hit),
             {"error", result.error},
             Set::time("ended_at", now())};
      data = {{"name", result.name},
              {"version", result.version},
              {"published", result.published},
              {"cache_hit", result.cache_hit}};
      if (!result.error.empty()) {
        data["error"] = json::parse(result.error, nullptr, false);
        if (data["error"].is_discarded()) data["error"] = result.error;
      }
      break;
  }
  return db.transition(kBuilds, id, to, set, std::move(data), uid);
}

Result<BuildRow> get(Db& db, std::string_view id) {
  return db.guarded("reading build", [&]() -> Result<BuildRow> {
    auto q = db.query(fmt::format("SELECT {} FROM builds WHERE id = ?", kCols));
    q->bind(1, std::string(id));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("build {} not found", id));
    }
    return read(*q);
  });
}

Result<std::vector<BuildRow>> list(Db& db, std::vector<BuildState> states) {
  return db.guarded("listing builds", [&]() -> Result<std::vector<BuildRow>> {
    std::string where = states.empty() ? "1" : "state IN (";
    for (std::size_t i = 0; i < states.size(); ++i) where += i ? ", ?" : "?";
    if (!states.empty()) where += ")";
    auto q = db.query(
        fmt::format("SELECT {} FROM builds WHERE {} ORDER BY created_at, id", kCols, where));
    int i = 1;
    for (BuildState s : states) q->bind(i++, std::string(to_string(s)));
    std::vector<BuildRow> out;
    while (q->executeStep()) out.push_back(read(*q));
    return out;
  });
}

}  // namespace lj::index::builds
