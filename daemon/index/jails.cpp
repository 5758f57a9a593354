// The jails table: a jail's row from `creating` to `removed` (states.hpp, kJailStates), its
// process handle and its exit record.
#include "index/jails.hpp"

#include "index/db.hpp"
#include "index/networks.hpp"

namespace lj::index::jails {
namespace {

using json = nlohmann::json;

constexpr const char* kCols =
    "id, name, state, spec, labels, auto_remove, owner_uid, pid, start_time, cgroup, jid, "
    "created_at, started_at, exited_at, exit_code, exit_signal, oom, timed_out, lost, log_path, "
    "removed_at";

JailRow read(SQLite::Statement& s) {
  JailRow r;
  r.id = s.getColumn(0).getString();
  r.name = s.getColumn(1).getString();
  r.state = jail_state_from(s.getColumn(2).getString()).value_or(JailState::removed);
  r.spec = s.getColumn(3).getString();
  auto labels = json::parse(s.getColumn(4).getString(), nullptr, /*allow_exceptions=*/false);
  if (labels.is_object()) {
    for (auto& [k, v] : labels.items()) {
      if (v.is_string()) r.labels[k] = v.get<std::string>();
    }
  }
  r.auto_remove = s.getColumn(5).getInt() != 0;
  r.owner_uid = static_cast<std::uint32_t>(s.getColumn(6).getInt64());
  r.pid = s.getColumn(7).getInt64();
  r.start_time = static_cast<std::uint64_t>(s.getColumn(8).getInt64());
  r.cgroup = s.getColumn(9).getString();
  r.jid = s.getColumn(10).getInt64();
  r.created_at = from_ms(s.getColumn(11).getInt64());
  r.started_at = opt_time(s.getColumn(12));
  r.exited_at = opt_time(s.getColumn(13));
  r.exit_code = opt_int(s.getColumn(14));
  r.exit_signal = opt_int(s.getColumn(15));
  r.oom = s.getColumn(16).getInt() != 0;
  r.timed_out = s.getColumn(17).getInt() != 0;
  r.lost = s.getColumn(18).getInt() != 0;
  r.log_path = s.getColumn(19).getString();
  r.removed_at = opt_time(s.getColumn(20));
  return r;
}

Result<JailRow> get_by(Db& db, const std::string& where, std::string_view key) {
  auto q = db.query(fmt::format("SELECT {} FROM jails WHERE {}", kCols, where));
  q->bind(1, std::string(key));
  if (!q->executeStep()) return fail(Errc::not_found, kDomain, "jail not found");
  return read(*q);
}

}  // namespace

Result<JailRow> insert(Db& db, JailRow row, std::vector<LeaseRow> leases) {
  return db.guarded("inserting jail", [&]() -> Result<JailRow> {
    Db::Tx tx(db);
    const bool gen_id = row.id.empty();
    const bool gen_name = row.name.empty();
    row.state = kJails.initial;
    row.created_at = or_now(row.created_at);
    // A generated id collides with odds of n/2^32 per jail: the daemon, which names jails itself
    // (their log paths follow the id), retries on Errc::exists (Jails::create); this one is for
    // callers that do not care (tests).
    if (gen_id) row.id = db.random_id('j');
    if (gen_name) row.name = row.id;
    try {
      auto q = db.query(
          "INSERT INTO jails (id, name, state, spec, labels, auto_remove, owner_uid, pid, "
          "start_time, cgroup, jid, created_at, log_path) "
          "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
      q->bind(1, row.id);
      q->bind(2, row.name);
      q->bind(3, std::string(to_string(row.state)));
      q->bind(4, row.spec.empty() ? std::string("{}") : row.spec);
      q->bind(5, json(row.labels).dump());
      q->bind(6, row.auto_remove ? 1 : 0);
      q->bind(7, static_cast<std::int64_t>(row.owner_uid));
      q->bind(8, static_cast<std::int64_t>(row.pid));
      q->bind(9, static_cast<std::int64_t>(row.start_time));
      q->bind(10, row.cgroup);
      q->bind(11, static_cast<std::int64_t>(row.jid));
      q->bind(12, static_cast<std::int64_t>(ms(row.created_at)));
      q->bind(13, row.log_path);
      q->exec();
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() == SQLITE_CONSTRAINT) {
        const bool id_clash = e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY;
        return fail(Errc::exists, kDomain,
                    id_clash ? fmt::format("jail id {} exists", row.id)
                             : fmt::format("jail name {} is taken", row.name));
      }
      throw;
    }
    // The leases go in with the row: an address is taken exactly when a jail holding it exists.
    for (LeaseRow& l : leases) l.jail_id = row.id;
    try {
      networks::insert_leases(db, leases);
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() == SQLITE_CONSTRAINT) {
        return fail(Errc::conflict, kDomain, "an address asked for is leased already");
      }
      throw;
    }
    LJ_TRY(tx.commit());
    return row;
  });
}

// What each state writes besides itself, and what its event says besides the jail's name.
Result<EventRow> transition(Db& db, std::string_view id, JailState to, const JailChange& with,
                            std::optional<std::uint32_t> uid) {
  std::vector<Set> set;
  json data = json::object();
  switch (to) {
    case JailState::running: {
      const ProcessHandle& h = with.handle;
      set = {{"pid", h.pid},
             {"start_time", static_cast<std::int64_t>(h.start_time)},
             {"cgroup", h.cgroup},
             {"jid", h.jid},
             Set::time("started_at", now())};
      data["pid"] = h.pid;
      // Its addresses, so that a subscriber learns them with the start (issue 14).
      auto leases = LJ_TRY(networks::leases_of_jail(db, id));
      if (!leases.empty()) {
        json nets = json::array();
        for (const LeaseRow& l : leases) {
          json n = {{"network", l.network}, {"ip", l.address4}};
          if (!l.address6.empty()) n["ip6"] = l.address6;
          nets.push_back(std::move(n));
        }
        data["networks"] = std::move(nets);
      }
      break;
    }
    case JailState::exited: {
      // pid and start_time stay as a record: recovery only looks at states in flight.
      const ExitRecord& e = with.exit;
      const Time t = or_now(e.exited_at);
      set = {Set::time("exited_at", t),
             Set::opt("exit_code", e.exit_code),
             Set::opt("exit_signal", e.exit_signal),
             Set::flag("oom", e.oom),
             Set::flag("timed_out", e.timed_out),
             Set::flag("lost", e.lost)};
      data = {{"exit_code", nullptr},     {"exit_signal", nullptr}, {"oom", e.oom},
              {"timed_out", e.timed_out}, {"lost", e.lost},         {"exited_at", rfc3339(t)}};
      if (e.exit_code) data["exit_code"] = *e.exit_code;
      if (e.exit_signal) data["exit_signal"] = *e.exit_signal;
      break;
    }
    case JailState::removed:
      set = {Set::time("removed_at", now())};
      break;
    case JailState::creating:
    case JailState::created:
    case JailState::stopping:
      break;
  }
  return db.transition(kJails, id, to, set, std::move(data), uid);
}

Status erase(Db& db, std::string_view id) {
  return db.guarded("deleting jail", [&]() -> Status {
    auto q = db.query("DELETE FROM jails WHERE id = ?");
    q->bind(1, std::string(id));
    if (q->exec() == 0) return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id));
    return {};
  });
}

Status set_auto_remove(Db& db, std::string_view id) {
  return db.guarded("marking jail for removal", [&]() -> Status {
    auto q = db.query("UPDATE jails SET auto_remove = 1 WHERE id = ?");
    q->bind(1, std::string(id));
    if (q->exec() == 0) return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id));
    return {};
  });
}

Result<JailRow> get(Db& db, std::string_view id_or_name) {
  return db.guarded("reading jail", [&]() -> Result<JailRow> {
    if (auto r = get_by(db, "id = ?", id_or_name)) return r;
    if (auto r = get_by(db, "name = ? AND state <> 'removed'", id_or_name)) return r;
    if (auto r = get_by(db, "name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1", id_or_name)) {
      return r;
    }
    return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id_or_name));
  });
}

Result<std::vector<JailRow>> list(Db& db, const JailFilter& filter) {
  return db.guarded("listing jails", [&]() -> Result<std::vector<JailRow>> {
    std::string where;
    std::vector<std::string> binds;
    if (filter.states.empty()) {
      where = "state <> 'removed'";
    } else {
      where = "state IN (";
      for (std::size_t i = 0; i < filter.states.size(); ++i) {
        where += i ? ", ?" : "?";
        binds.emplace_back(to_string(filter.states[i]));
      }
      where += ")";
    }
    for (const auto& [key, value] : filter.labels) {
      where += " AND EXISTS (SELECT 1 FROM json_each(jails.labels) WHERE key = ? AND value = ?)";
      binds.push_back(key);
      binds.push_back(value);
    }
    if (filter.owner_uid) {
      where += " AND owner_uid = ?";  // bound, not formatted: one cached statement for every uid
      binds.push_back(std::to_string(*filter.owner_uid));
    }
    auto q = db.query(
        fmt::format("SELECT {} FROM jails WHERE {} ORDER BY created_at, id", kCols, where));
    int i = 1;
    for (const auto& b : binds) q->bind(i++, b);
    std::vector<JailRow> out;
    while (q->executeStep()) out.push_back(read(*q));
    return out;
  });
}

}  // namespace lj::index::jails
