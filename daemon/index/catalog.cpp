// The catalog: worlds (their import from `importing` to `ready` or `failed`, states.hpp
// kWorldStates) and published overlays (no lifecycle: a row exists from publication to removal).
#include "index/catalog.hpp"

#include "index/db.hpp"

namespace lj::index::catalog {
namespace {

using json = nlohmann::json;

constexpr const char* kWorldCols = "name, path, source, state, size_bytes, created_at, error";
constexpr const char* kOverlayCols =
    "name, version, world, parent_name, parent_version, manifest, size_bytes, created_at";

WorldRow read_world(SQLite::Statement& s) {
  WorldRow r;
  r.name = s.getColumn(0).getString();
  r.path = s.getColumn(1).getString();
  r.source = s.getColumn(2).getString();
  r.state = world_state_from(s.getColumn(3).getString()).value_or(WorldState::failed);
  r.size_bytes = static_cast<std::uint64_t>(s.getColumn(4).getInt64());
  r.created_at = from_ms(s.getColumn(5).getInt64());
  r.error = s.getColumn(6).getString();
  return r;
}

OverlayRow read_overlay(SQLite::Statement& s) {
  OverlayRow r;
  r.name = s.getColumn(0).getString();
  r.version = s.getColumn(1).getString();
  r.world = s.getColumn(2).getString();
  r.parent_name = s.getColumn(3).getString();
  r.parent_version = s.getColumn(4).getString();
  r.manifest = s.getColumn(5).getString();
  r.size_bytes = static_cast<std::uint64_t>(s.getColumn(6).getInt64());
  r.created_at = from_ms(s.getColumn(7).getInt64());
  return r;
}

}  // namespace

// ---- worlds ----

Result<EventRow> insert_world(Db& db, WorldRow row, std::optional<std::uint32_t> uid) {
  return db.guarded("inserting world", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    auto q = db.query(
        "INSERT INTO worlds (name, path, source, state, size_bytes, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    q->bind(1, row.name);
    q->bind(2, row.path);
    q->bind(3, row.source);
    q->bind(4, std::string(to_string(kWorlds.initial)));
    q->bind(5, static_cast<std::int64_t>(row.size_bytes));
    q->bind(6, static_cast<std::int64_t>(ms(or_now(row.created_at))));
    try {
      q->exec();
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() != SQLITE_CONSTRAINT) throw;
      return fail(Errc::exists, kDomain, fmt::format("world {} exists", row.name));
    }
    json data{{"path", row.path}, {"source", row.source}};
    auto ev = LJ_TRY(db.append(kWorlds.def(kWorlds.initial).event, row.name, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

// ready records the size; failed the error.
Result<EventRow> transition(Db& db, std::string_view name, WorldState to, const WorldChange& with,
                            std::optional<std::uint32_t> uid) {
  std::vector<Set> set;
  json data = json::object();
  switch (to) {
    case WorldState::importing:
      break;
    case WorldState::ready:
      set = {{"size_bytes", static_cast<std::int64_t>(with.size_bytes)}};
      data["size_bytes"] = with.size_bytes;
      break;
    case WorldState::failed: {
      set = {{"error", with.error}};
      json err = json::parse(with.error, nullptr, false);
      data["error"] = err.is_discarded() ? json(with.error) : err;
      break;
    }
  }
  return db.transition(kWorlds, name, to, set, std::move(data), uid);
}

Result<EventRow> delete_world(Db& db, std::string_view name, std::optional<std::uint32_t> uid) {
  return db.guarded("deleting world", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    auto q = db.query("DELETE FROM worlds WHERE name = ?");
    q->bind(1, std::string(name));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("world {} not found", name));
    }
    auto ev = LJ_TRY(db.append("world.removed", name, uid, "{}"));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<WorldRow> get_world(Db& db, std::string_view name) {
  return db.guarded("reading world", [&]() -> Result<WorldRow> {
    auto q = db.query(fmt::format("SELECT {} FROM worlds WHERE name = ?", kWorldCols));
    q->bind(1, std::string(name));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("world {} not found", name));
    }
    return read_world(*q);
  });
}

Result<std::vector<WorldRow>> list_worlds(Db& db, std::optional<WorldState> state) {
  return db.guarded("listing worlds", [&]() -> Result<std::vector<WorldRow>> {
    auto q = db.query(fmt::format(
        "SELECT {} FROM worlds WHERE ?1 IS NULL OR state = ?1 ORDER BY name", kWorldCols));
    if (state) q->bind(1, std::string(to_string(*state)));
    std::vector<WorldRow> out;
    while (q->executeStep()) out.push_back(read_world(*q));
    return out;
  });
}

// ---- overlays ----

Result<EventRow> insert_overlay(Db& db, OverlayRow row, std::optional<std::uint32_t> uid) {
  return db.guarded("inserting overlay", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    auto q = db.query(
        "INSERT INTO overlays (name, version, world, parent_name, parent_version, manifest, "
        "size_bytes, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    q->bind(1, row.name);
    q->bind(2, row.version);
    q->bind(3, row.world);
    q->bind(4, row.parent_name);
    q->bind(5, row.parent_version);
    q->bind(6, row.manifest.empty() ? std::string("{}") : row.manifest);
    q->bind(7, static_cast<std::int64_t>(row.size_bytes));
    q->bind(8, static_cast<std::int64_t>(ms(or_now(row.created_at))));
    try {
      q->exec();
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() != SQLITE_CONSTRAINT) throw;
      return fail(Errc::exists, kDomain,
                  fmt::format("overlay {}@{} exists", row.name, row.version));
    }
    json data{{"name", row.name}, {"version", row.version}, {"world", row.world}};
    auto ev = LJ_TRY(db.append("overlay.published", fmt::format("{}@{}", row.name, row.version),
                               uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> delete_overlay(Db& db, std::string_view name, std::string_view version,
                                std::optional<std::uint32_t> uid) {
  return db.guarded("deleting overlay", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    auto q = db.query("DELETE FROM overlays WHERE name = ? AND version = ?");
    q->bind(1, std::string(name));
    q->bind(2, std::string(version));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("overlay {}@{} not found", name, version));
    }
    json data{{"name", name}, {"version", version}};
    auto ev =
        LJ_TRY(db.append("overlay.removed", fmt::format("{}@{}", name, version), uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<OverlayRow> get_overlay(Db& db, std::string_view name, std::string_view version) {
  return db.guarded("reading overlay", [&]() -> Result<OverlayRow> {
    auto q = db.query(
        fmt::format("SELECT {} FROM overlays WHERE name = ? AND version = ?", kOverlayCols));
    q->bind(1, std::string(name));
    q->bind(2, std::string(version));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("overlay {}@{} not found", name, version));
    }
    return read_overlay(*q);
  });
}

Result<std::vector<OverlayRow>> list_overlays(Db& db, std::string_view name) {
  return db.guarded("listing overlays", [&]() -> Result<std::vector<OverlayRow>> {
    auto q = db.query(fmt::format(
        "SELECT {} FROM overlays WHERE ?1 = '' OR name = ?1 ORDER BY name, created_at, version",
        kOverlayCols));
    q->bind(1, std::string(name));
    std::vector<OverlayRow> out;
    while (q->executeStep()) out.push_back(read_overlay(*q));
    return out;
  });
}

}  // namespace lj::index::catalog
