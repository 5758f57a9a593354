// The event log: durable, gapless, keyed by seq (AUTOINCREMENT: a seq is never reused, even after
// the newest events were pruned; a rolled-back insert consumes none).
#include "index/events.hpp"

#include "index/db.hpp"

namespace lj::index::events {
namespace {

EventRow read(SQLite::Statement& s) {
  EventRow r;
  r.seq = s.getColumn(0).getInt64();
  r.time = from_ms(s.getColumn(1).getInt64());
  r.type = s.getColumn(2).getString();
  r.resource = s.getColumn(3).getString();
  if (!s.getColumn(4).isNull()) r.uid = static_cast<std::uint32_t>(s.getColumn(4).getInt64());
  r.data = s.getColumn(5).getString();
  return r;
}

std::int64_t read_last_seq(Db& db) {
  auto q = db.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
  return q->executeStep() ? q->getColumn(0).getInt64() : std::int64_t{0};
}

}  // namespace

Result<EventRow> append(Db& db, std::string_view type, std::string_view resource,
                        std::optional<std::uint32_t> uid, std::string_view data_json) {
  return db.guarded("appending event", [&]() -> Result<EventRow> {
    Db::Tx tx(db);
    auto ev =
        LJ_TRY(db.append(type, resource, uid, std::string(data_json.empty() ? "{}" : data_json)));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventBatch> since(Db& db, std::int64_t since, std::size_t limit) {
  return db.guarded("reading events", [&]() -> Result<EventBatch> {
    EventBatch b;
    if (since < 0) since = 0;
    // No transaction needed: this connection is the only writer and runs on this thread.
    b.last_seq = read_last_seq(db);
    {
      auto q = db.query("SELECT min(seq) FROM events");
      q->executeStep();
      b.first_seq = q->getColumn(0).isNull() ? b.last_seq + 1 : q->getColumn(0).getInt64();
    }
    b.pruned = since + 1 < b.first_seq;
    b.epoch = db.epoch();
    auto q = db.query(
        "SELECT seq, time, type, resource, uid, data FROM events WHERE seq > ? ORDER BY seq "
        "LIMIT ?");
    q->bind(1, static_cast<std::int64_t>(since));
    q->bind(2, static_cast<std::int64_t>(limit));
    while (q->executeStep()) b.events.push_back(read(*q));
    return b;
  });
}

Result<std::int64_t> last_seq(Db& db) {
  return db.guarded("reading last event seq",
                    [&]() -> Result<std::int64_t> { return read_last_seq(db); });
}

}  // namespace lj::index::events
