// Private to lj_index (and its tests): the one SQLite connection every concern of the index writes
// through. It opens the file (pragmas, migrations, the epoch session), caches prepared statements,
// runs transactions, maps SQLite's errors to lj::Error, appends events, and applies every state
// change through one function, transition(), driven by the lifecycle tables of states.hpp.
//
// Owned by the daemon's state strand, like the Index that holds it: one thread, no lock.
#pragma once

#include <sqlite3.h>
#include <sys/types.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/fmt/fmt.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "common/error.hpp"
#include "index/rows.hpp"
#include "index/states.hpp"

namespace lj::index {

inline constexpr const char* kDomain = "index";

// ---- values between rows and columns ----

inline std::int64_t ms(Time t) {
  return t.time_since_epoch().count();
}
inline Time from_ms(std::int64_t v) {
  return Time(std::chrono::milliseconds(v));
}
inline Time or_now(Time t) {
  return t.time_since_epoch().count() == 0 ? now() : t;
}
inline std::optional<Time> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_ms(c.getInt64());
}
inline std::optional<int> opt_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt();
}

// One column a transition sets besides `state`: NULL, an integer or a text.
struct Set {
  using Value = std::variant<std::nullptr_t, std::int64_t, std::string>;
  std::string_view column;
  Value value;

  static Set time(std::string_view col, Time t) { return {col, ms(t)}; }
  static Set flag(std::string_view col, bool b) { return {col, std::int64_t{b ? 1 : 0}}; }
  template <class T>
  static Set opt(std::string_view col, const std::optional<T>& v) {
    if (!v) return {col, nullptr};
    return {col, static_cast<std::int64_t>(*v)};
  }
};

// SQLite's error as an lj::Error of our kinds. `db` gives the errno of a failed I/O
// (sqlite3_system_errno, only meaningful right after an IOERR/CANTOPEN/FULL); may be null.
Error map_error(const SQLite::Exception& e, sqlite3* db, std::string_view what);

// The newest schema version this binary knows (the last of migrations/).
int latest_schema_version();

// Which file a path names (stat's device and inode).
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
};

class Db {
 public:
  // Opens (creating when missing, mode 0600) and migrates; see Index::open.
  static Result<std::unique_ptr<Db>> open(const std::string& path, const Options& options);
  ~Db();  // close(), logging a failure
  Db(const Db&) = delete;
  Db& operator=(const Db&) = delete;

  // Checkpoints the WAL into the database file (fsync), then records a clean close durably.
  Status close();

  const std::string& path() const { return path_; }
  const Options& options() const { return options_; }
  // nullopt while path() still names the file this connection writes (and its -wal), else what
  // became of it: "deleted", "replaced (inode A -> B)". Always nullopt for :memory:.
  std::optional<std::string> file_lost() const;
  // Writes this connection's whole database, as it reads now (WAL included), to `to` (VACUUM
  // INTO; `to` must not exist), fsynced.
  Status copy_to(const std::string& to);
  const std::string& epoch() const { return epoch_; }
  bool epoch_changed() const { return epoch_changed_; }
  int user_version();
  Status integrity_check();
  SQLite::Database& raw() { return db_; }

  // A cached statement, bindings cleared; reset when the guard goes (so a read never pins a WAL
  // snapshot, which would stop checkpoints).
  class Query {
   public:
    explicit Query(SQLite::Statement& s) : s_(s) {}
    Query(const Query&) = delete;
    Query& operator=(const Query&) = delete;
    ~Query() { s_.tryReset(); }
    SQLite::Statement& operator*() { return s_; }
    SQLite::Statement* operator->() { return &s_; }

   private:
    SQLite::Statement& s_;
  };
  Query query(const std::string& sql);
  void exec(const std::string& sql);

  // One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a busy database is
  // reported at the start (as busy) rather than as a deadlock at the first write. Rolled back
  // when it goes without commit().
  class Tx {
   public:
    explicit Tx(Db& db) : db_(db) { db_.exec("BEGIN IMMEDIATE"); }
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    ~Tx();
    // The seam "index.commit" fails the commit as a crash before it would: nothing is written.
    Status commit();

   private:
    Db& db_;
    bool done_ = false;
  };

  // Runs `f` (returning Result<T> or Status), turning every exception into an lj::Error: no
  // exception leaves the index.
  template <class F>
  auto guarded(std::string_view what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      return fail(map_error(e, db_.getHandle(), what));
    } catch (const std::exception& e) {
      return fail(Errc::internal, kDomain, fmt::format("{}: {}", what, e.what()));
    }
  }

  // Appends one event inside the caller's transaction. The seam "index.event" fails it as a crash
  // between the row's write and the event's would.
  Result<EventRow> append(std::string_view type, std::string_view resource,
                          std::optional<std::uint32_t> uid, std::string data);

  // THE state change. In one transaction: reads the state of the row `key` of `lc`'s table
  // (not_found when absent), refuses a change its table does not list (conflict: "jail j-1234:
  // running -> creating is not a transition"), writes the new state and the columns of `set`,
  // appends the event of the new state with `data` (plus the lifecycle's label column), commits.
  // Returns the event, to be published by the caller after this returned.
  template <class S>
  Result<EventRow> transition(const Lifecycle<S>& lc, std::string_view key, S to,
                              const std::vector<Set>& set, nlohmann::json data,
                              std::optional<std::uint32_t> uid) {
    return guarded(fmt::format("{} {} -> {}", lc.noun, key, lc.def(to).name),
                   [&]() -> Result<EventRow> {
                     Tx tx(*this);
                     auto row = LJ_TRY(read_state(lc.noun, lc.table, lc.key, lc.label, key));
                     auto from = lc.from_name(row.state);
                     if (!from || !lc.allows(*from, to)) {
                       return fail(Errc::conflict, kDomain,
                                   fmt::format("{} {}: {} -> {} is not a transition", lc.noun, key,
                                               row.state, lc.def(to).name));
                     }
                     write_state(lc.table, lc.key, key, lc.def(to).name, set);
                     if (!lc.label.empty()) data[std::string(lc.label)] = row.label;
                     auto ev = LJ_TRY(append(lc.def(to).event, key, uid, data.dump()));
                     LJ_TRY(tx.commit());
                     return ev;
                   });
  }

  // "<prefix>-" and 8 random hex digits. The one id generator of the index (jails, builds, the
  // epoch).
  std::string random_id(char prefix);

 private:
  Db(std::string path, int flags);

  struct StateRead {
    std::string state;
    std::string label;
  };
  Result<StateRead> read_state(std::string_view noun, std::string_view table,
                               std::string_view key_column, std::string_view label_column,
                               std::string_view key);
  void write_state(std::string_view table, std::string_view key_column, std::string_view key,
                   std::string_view state, const std::vector<Set>& set);
  Status migrate();
  Status start_session(std::string boot_id);
  std::optional<std::string> meta(const char* key);
  void set_meta(const char* key, const std::string& value);
  void apply_synchronous(Synchronous s);

  std::string path_;
  Options options_;
  // The identity of the file at path_ and of its -wal when opened: a file deleted or replaced
  // while ljd runs is noticed by comparing (file_lost).
  std::optional<FileId> file_id_, wal_id_;
  SQLite::Database db_;
  // Prepared statements keyed by their SQL text. Declared after `db_` so they are finalized
  // before the connection closes.
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache_;
  std::string epoch_;
  bool epoch_changed_ = false;
  bool closed_ = true;  // until open() succeeded: a failed open leaves the file as it was
  bool memory_ = false;
  Synchronous synchronous_ = Synchronous::normal;
};

}  // namespace lj::index
