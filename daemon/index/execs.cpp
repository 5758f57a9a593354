// The execs table (migration 005): an exec session from `created` to `exited` (execs.hpp,
// kExecStates), its monitor's handle and its exit record.
#include "index/execs.hpp"

#include "index/db.hpp"

namespace lj::index::execs {
namespace {

using json = nlohmann::json;

constexpr const char* kCols =
    "id, jail_id, spec, state, owner_uid, pid, start_time, created_at, started_at, exited_at, "
    "exit_code, exit_signal, lost";

ExecRow read(SQLite::Statement& s) {
  ExecRow r;
  r.id = s.getColumn(0).getString();
  r.jail_id = s.getColumn(1).getString();
  r.spec = s.getColumn(2).getString();
  r.state = kExecs.from_name(s.getColumn(3).getString()).value_or(ExecState::exited);
  r.owner_uid = static_cast<std::uint32_t>(s.getColumn(4).getInt64());
  r.pid = s.getColumn(5).getInt64();
  r.start_time = static_cast<std::uint64_t>(s.getColumn(6).getInt64());
  r.created_at = from_ms(s.getColumn(7).getInt64());
  r.started_at = opt_time(s.getColumn(8));
  r.exited_at = opt_time(s.getColumn(9));
  r.exit_code = opt_int(s.getColumn(10));
  r.exit_signal = opt_int(s.getColumn(11));
  r.lost = s.getColumn(12).getInt() != 0;
  return r;
}

}  // namespace

Result<ExecRow> insert(Db& db, ExecRow row) {
  return db.guarded("inserting exec", [&]() -> Result<ExecRow> {
    Db::Tx tx(db);
    auto j = db.query("SELECT state FROM jails WHERE id = ?");
    j->bind(1, row.jail_id);
    if (!j->executeStep())
      return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", row.jail_id));
    const std::string state = j->getColumn(0).getString();
    if (state != to_string(JailState::running))
      return fail(Errc::conflict, kDomain,
                  fmt::format("jail {} is {}, not running", row.jail_id, state));
    if (row.id.empty()) row.id = db.random_id('x');
    row.created_at = or_now(row.created_at);
    row.state = ExecState::created;
    auto q = db.query(
        "INSERT INTO execs (id, jail_id, spec, state, owner_uid, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)");
    q->bind(1, row.id);
    q->bind(2, row.jail_id);
    q->bind(3, row.spec);
    q->bind(4, std::string(to_string(row.state)));
    q->bind(5, static_cast<std::int64_t>(row.owner_uid));
    q->bind(6, static_cast<std::int64_t>(ms(row.created_at)));
    q->exec();
    LJ_TRY(tx.commit());
    return row;
  });
}

Result<EventRow> transition(Db& db, std::string_view id, ExecState to, const ExecChange& with,
                            std::optional<std::uint32_t> uid) {
  std::vector<Set> set;
  json data = json::object();
  switch (to) {
    case ExecState::running:
      set = {{"pid", with.handle.pid},
             {"start_time", static_cast<std::int64_t>(with.handle.start_time)},
             Set::time("started_at", now())};
      data["pid"] = with.handle.pid;
      break;
    case ExecState::exited: {
      const ExitRecord& e = with.exit;
      const Time t = or_now(e.exited_at);
      set = {Set::time("exited_at", t), Set::opt("exit_code", e.exit_code),
             Set::opt("exit_signal", e.exit_signal), Set::flag("lost", e.lost)};
      data = {{"exit_code", nullptr}, {"exit_signal", nullptr}, {"lost", e.lost},
              {"exited_at", rfc3339(t)}};
      if (e.exit_code) data["exit_code"] = *e.exit_code;
      if (e.exit_signal) data["exit_signal"] = *e.exit_signal;
      break;
    }
    case ExecState::created:
      break;
  }
  return db.transition(kExecs, id, to, set, std::move(data), uid);
}

Result<ExecRow> get(Db& db, std::string_view id) {
  return db.guarded("reading exec", [&]() -> Result<ExecRow> {
    auto q = db.query(fmt::format("SELECT {} FROM execs WHERE id = ?", kCols));
    q->bind(1, std::string(id));
    if (!q->executeStep()) return fail(Errc::not_found, kDomain, fmt::format("exec {} not found", id));
    return read(*q);
  });
}

Result<std::vector<ExecRow>> list(Db& db, std::string_view jail_id,
                                  std::optional<ExecState> state) {
  return db.guarded("listing execs", [&]() -> Result<std::vector<ExecRow>> {
    std::string where = jail_id.empty() ? "1" : "jail_id = ?";
    if (state) where += " AND state = ?";
    auto q = db.query(
        fmt::format("SELECT {} FROM execs WHERE {} ORDER BY created_at, id", kCols, where));
    int i = 1;
    if (!jail_id.empty()) q->bind(i++, std::string(jail_id));
    if (state) q->bind(i++, std::string(to_string(*state)));
    std::vector<ExecRow> out;
    while (q->executeStep()) out.push_back(read(*q));
    return out;
  });
}

}  // namespace lj::index::execs
