// Retention: what ended before the cutoff goes, in one transaction; events only from the oldest
// end, so the log stays gapless.
#include "index/retention.hpp"

#include "index/db.hpp"

namespace lj::index::retention {

Result<RetentionStats> purge(Db& db, Time cutoff) {
  return db.guarded("purging old records", [&]() -> Result<RetentionStats> {
    RetentionStats st;
    const auto c = static_cast<std::int64_t>(ms(cutoff));
    Db::Tx tx(db);
    {
      auto q = db.query(
          "DELETE FROM jails WHERE state IN ('exited', 'removed') "
          "AND coalesce(exited_at, removed_at, created_at) < ? RETURNING log_path");
      q->bind(1, c);
      while (q->executeStep()) {
        ++st.jails;
        if (auto p = q->getColumn(0).getString(); !p.empty()) st.log_paths.push_back(p);
      }
    }
    {
      auto q = db.query(
          "DELETE FROM builds WHERE state IN ('succeeded', 'failed', 'cancelled') "
          "AND coalesce(ended_at, created_at) < ? RETURNING log_path");
      q->bind(1, c);
      while (q->executeStep()) {
        ++st.builds;
        if (auto p = q->getColumn(0).getString(); !p.empty()) st.log_paths.push_back(p);
      }
    }
    {
      // Only a prefix of the log goes: everything before the first event at or after the cutoff
      // (or all of it). A clock step backwards can keep old events a little longer, never open
      // a gap. The walk from the oldest end is short: the previous purge left few old events.
      auto q = db.query(
          "DELETE FROM events WHERE seq < coalesce("
          "(SELECT seq FROM events WHERE time >= ?1 ORDER BY seq LIMIT 1), "
          "(SELECT max(seq) + 1 FROM events))");
      q->bind(1, c);
      st.events = q->exec();
    }
    LJ_TRY(tx.commit());
    return st;
  });
}

}  // namespace lj::index::retention
