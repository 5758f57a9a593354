#include "index/index.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <SQLiteCpp/SQLiteCpp.h>
#include <spdlog/fmt/fmt.h>
#include <nlohmann/json.hpp>
#include <cstdio>
#include <ctime>
#include <random>
#include <unordered_map>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "index/boot_id.hpp"

namespace lj::index {
namespace {

using json = nlohmann::json;
constexpr const char* kDomain = "index";

// ---- schema: one numbered step per migration, applied in one transaction each. Never edit a
// step that has shipped; append a new one. ----
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE schema_migrations (
  version    INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
) STRICT;

CREATE TABLE worlds (
  name       TEXT PRIMARY KEY NOT NULL,
  path       TEXT NOT NULL,
  source     TEXT NOT NULL DEFAULT '',
  state      TEXT NOT NULL CHECK (state IN ('importing', 'ready', 'failed')),
  size_bytes INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL,
  error      TEXT NOT NULL DEFAULT ''
) STRICT;

CREATE TABLE overlays (
  name           TEXT NOT NULL,
  version        TEXT NOT NULL,
  world          TEXT NOT NULL,
  parent_name    TEXT NOT NULL DEFAULT '',
  parent_version TEXT NOT NULL DEFAULT '',
  manifest       TEXT NOT NULL DEFAULT '{}',
  size_bytes     INTEGER NOT NULL DEFAULT 0,
  created_at     INTEGER NOT NULL,
  PRIMARY KEY (name, version)
) STRICT;

CREATE TABLE builds (
  id         TEXT PRIMARY KEY NOT NULL,
  state      TEXT NOT NULL
             CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  jailfile   TEXT NOT NULL DEFAULT '',
  context    TEXT NOT NULL DEFAULT '',
  name       TEXT NOT NULL DEFAULT '',
  version    TEXT NOT NULL DEFAULT '',
  published  INTEGER NOT NULL DEFAULT 0,
  cache_hit  INTEGER NOT NULL DEFAULT 0,
  error      TEXT NOT NULL DEFAULT '',
  log_path   TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  started_at INTEGER,
  ended_at   INTEGER
) STRICT;

CREATE TABLE jails (
  id          TEXT PRIMARY KEY NOT NULL,
  name        TEXT NOT NULL,
  state       TEXT NOT NULL
              CHECK (state IN ('creating', 'created', 'running', 'stopping', 'exited', 'removed')),
  spec        TEXT NOT NULL DEFAULT '{}',
  labels      TEXT NOT NULL DEFAULT '{}',
  auto_remove INTEGER NOT NULL DEFAULT 0,
  owner_uid   INTEGER NOT NULL DEFAULT 0,
  pid         INTEGER NOT NULL DEFAULT 0,
  start_time  INTEGER NOT NULL DEFAULT 0,
  cgroup      TEXT NOT NULL DEFAULT '',
  jid         INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  started_at  INTEGER,
  exited_at   INTEGER,
  exit_code   INTEGER,
  exit_signal INTEGER,
  oom         INTEGER NOT NULL DEFAULT 0,
  timed_out   INTEGER NOT NULL DEFAULT 0,
  lost        INTEGER NOT NULL DEFAULT 0,
  log_path    TEXT NOT NULL DEFAULT '',
  removed_at  INTEGER
) STRICT;
-- A name is unique among the jails that are not removed; removed rows keep theirs as a record.
-- No index on state (here or on builds, worlds): these tables hold thousands of rows at most, a
-- scan of them is cheap and rare, and every index is one more page written per transaction.
CREATE UNIQUE INDEX jails_live_name ON jails (name) WHERE state <> 'removed';

-- Global mounts a jail holds (FreeBSD), recorded BEFORE each mount is made.
CREATE TABLE jail_mounts (
  jail_id TEXT NOT NULL REFERENCES jails (id) ON DELETE CASCADE,
  seq     INTEGER NOT NULL,
  target  TEXT NOT NULL,
  fstype  TEXT NOT NULL,
  PRIMARY KEY (jail_id, seq)
) STRICT, WITHOUT ROWID;

-- AUTOINCREMENT: a seq is never reused, even after the newest events were pruned; a rolled-back
-- insert consumes none (sqlite_sequence is updated in the same transaction), so seqs are gapless.
-- No index on time: retention walks from the oldest end and stops at the first recent event.
CREATE TABLE events (
  seq      INTEGER PRIMARY KEY AUTOINCREMENT,
  time     INTEGER NOT NULL,
  type     TEXT NOT NULL,
  resource TEXT NOT NULL,
  uid      INTEGER,
  data     TEXT NOT NULL DEFAULT '{}'
) STRICT;
)sql"},
    {2, R"sql(
-- The index's own state: epoch (see Index::epoch()), boot_id and open ("1" from open to a clean
-- close), to tell a power loss from a crash of ljd.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
)sql"},
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

std::int64_t ms(Time t) {
  return t.time_since_epoch().count();
}
Time from_ms(std::int64_t v) {
  return Time(std::chrono::milliseconds(v));
}
Time or_now(Time t) {
  return t.time_since_epoch().count() == 0 ? now() : t;
}

std::optional<Time> opt_time(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return from_ms(c.getInt64());
}
std::optional<int> opt_int(const SQLite::Column& c) {
  if (c.isNull()) return std::nullopt;
  return c.getInt();
}
template <class T>
void bind_opt(SQLite::Statement& s, int i, const std::optional<T>& v) {
  if (!v) {
    s.bind(i);
  } else if constexpr (std::is_same_v<T, Time>) {
    s.bind(i, static_cast<std::int64_t>(ms(*v)));
  } else {
    s.bind(i, static_cast<std::int64_t>(*v));
  }
}
void bind_uid(SQLite::Statement& s, int i, std::optional<std::uint32_t> uid) {
  if (uid) {
    s.bind(i, static_cast<std::int64_t>(*uid));
  } else {
    s.bind(i);
  }
}

// SQLite's error, mapped to our kinds. `db` gives the errno of a failed I/O (sqlite3_system_errno,
// only meaningful right after an IOERR/CANTOPEN/FULL).
Error map_error(const SQLite::Exception& e, sqlite3* db, std::string_view what) {
  const int code = e.getErrorCode() & 0xff;
  const int ext = e.getExtendedErrorCode();
  std::string msg = fmt::format("{}: {} (sqlite {})", what, e.what(), ext);
  int sys_errno = 0;
  Errc errc = Errc::internal;
  switch (code) {
    case SQLITE_CONSTRAINT:
      if (ext == SQLITE_CONSTRAINT_UNIQUE || ext == SQLITE_CONSTRAINT_PRIMARYKEY) {
        errc = Errc::exists;
      } else if (ext == SQLITE_CONSTRAINT_CHECK || ext == SQLITE_CONSTRAINT_NOTNULL) {
        errc = Errc::invalid_argument;
      } else {
        errc = Errc::conflict;  // foreign keys: still in use, or owner missing
      }
      break;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      errc = Errc::busy;
      break;
    case SQLITE_FULL:
      errc = Errc::no_space;
      break;
    case SQLITE_READONLY:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      errc = Errc::permission_denied;
      break;
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
      sys_errno = db ? sqlite3_system_errno(db) : 0;
      if (sys_errno == ENOSPC || sys_errno == EDQUOT) {
        errc = Errc::no_space;
      } else if (sys_errno == EACCES || sys_errno == EPERM || sys_errno == EROFS) {
        errc = Errc::permission_denied;
      } else {
        errc = Errc::system;
      }
      break;
    default:  // CORRUPT, NOTADB, NOMEM, MISUSE, ...: nothing the caller can retry
      errc = Errc::internal;
      break;
  }
  return Error(errc, kDomain, std::move(msg), sys_errno);
}

std::string labels_json(const std::map<std::string, std::string>& labels) {
  return json(labels).dump();
}

constexpr const char* kJailCols =
    "id, name, state, spec, labels, auto_remove, owner_uid, pid, start_time, cgroup, jid, "
    "created_at, started_at, exited_at, exit_code, exit_signal, oom, timed_out, lost, log_path, "
    "removed_at";
constexpr const char* kBuildCols =
    "id, state, jailfile, context, name, version, published, cache_hit, error, log_path, "
    "created_at, started_at, ended_at";
constexpr const char* kWorldCols = "name, path, source, state, size_bytes, created_at, error";
constexpr const char* kOverlayCols =
    "name, version, world, parent_name, parent_version, manifest, size_bytes, created_at";
constexpr const char* kEventCols = "seq, time, type, resource, uid, data";

JailRow read_jail(SQLite::Statement& s) {
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

BuildRow read_build(SQLite::Statement& s) {
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

EventRow read_event(SQLite::Statement& s) {
  EventRow r;
  r.seq = s.getColumn(0).getInt64();
  r.time = from_ms(s.getColumn(1).getInt64());
  r.type = s.getColumn(2).getString();
  r.resource = s.getColumn(3).getString();
  if (!s.getColumn(4).isNull()) r.uid = static_cast<std::uint32_t>(s.getColumn(4).getInt64());
  r.data = s.getColumn(5).getString();
  return r;
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

// ---- names ----

Time now() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string rfc3339(Time t) {
  auto ms = t.time_since_epoch().count();
  std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  ::gmtime_r(&secs, &tm);
  char buf[40];
  std::size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%03dZ", static_cast<int>(ms % 1000));
  return buf;
}

std::string_view to_string(WorldState s) {
  switch (s) {
    case WorldState::importing:
      return "importing";
    case WorldState::ready:
      return "ready";
    case WorldState::failed:
      return "failed";
  }
  return "failed";
}
std::string_view to_string(BuildState s) {
  switch (s) {
    case BuildState::queued:
      return "queued";
    case BuildState::running:
      return "running";
    case BuildState::succeeded:
      return "succeeded";
    case BuildState::failed:
      return "failed";
    case BuildState::cancelled:
      return "cancelled";
  }
  return "failed";
}
std::string_view to_string(JailState s) {
  switch (s) {
    case JailState::creating:
      return "creating";
    case JailState::created:
      return "created";
    case JailState::running:
      return "running";
    case JailState::stopping:
      return "stopping";
    case JailState::exited:
      return "exited";
    case JailState::removed:
      return "removed";
  }
  return "removed";
}

namespace {
template <class E, std::size_t N>
std::optional<E> state_from(std::string_view s, const E (&all)[N]) {
  for (E e : all) {
    if (to_string(e) == s) return e;
  }
  return std::nullopt;
}
}  // namespace

std::optional<WorldState> world_state_from(std::string_view s) {
  static constexpr WorldState kAll[] = {WorldState::importing, WorldState::ready,
                                        WorldState::failed};
  return state_from(s, kAll);
}
std::optional<BuildState> build_state_from(std::string_view s) {
  static constexpr BuildState kAll[] = {BuildState::queued, BuildState::running,
                                        BuildState::succeeded, BuildState::failed,
                                        BuildState::cancelled};
  return state_from(s, kAll);
}
std::optional<JailState> jail_state_from(std::string_view s) {
  static constexpr JailState kAll[] = {JailState::creating, JailState::created, JailState::running,
                                       JailState::stopping, JailState::exited,  JailState::removed};
  return state_from(s, kAll);
}

int schema_version_supported() {
  return kSchemaVersion;
}

std::string index_path(std::string_view root) {
  std::string p(root);
  if (p.empty()) p = "/usr/local/lj";
  if (p.back() != '/') p += '/';
  return p + ".ljd/index.db";
}

// ---- the implementation ----

struct Index::Impl {
  std::string path;
  SQLite::Database db;
  // Prepared statements keyed by their SQL text, reset after each use. Declared after `db` so
  // they are finalized before the connection closes.
  std::unordered_map<std::string, std::unique_ptr<SQLite::Statement>> cache;
  std::mt19937 rng{std::random_device{}()};
  std::string epoch;
  bool epoch_changed = false;
  bool closed = false;
  bool memory = false;
  Synchronous synchronous = Synchronous::normal;

  Impl(std::string p, int flags) : path(std::move(p)), db(path, flags) {}

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

  Query query(const std::string& sql) {
    auto it = cache.find(sql);
    if (it == cache.end()) {
      it = cache.emplace(sql, std::make_unique<SQLite::Statement>(db, sql)).first;
    }
    it->second->tryReset();
    it->second->clearBindings();
    return Query(*it->second);
  }

  void exec(const std::string& sql) {
    auto q = query(sql);
    q->exec();
  }

  // One write transaction. BEGIN IMMEDIATE takes the write lock up front, so a busy database is
  // reported at the start (as busy) rather than as a deadlock at the first write.
  class Tx {
   public:
    explicit Tx(Impl& impl) : impl_(impl) { impl_.exec("BEGIN IMMEDIATE"); }
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    ~Tx() {
      if (!done_ && sqlite3_get_autocommit(impl_.db.getHandle()) == 0) {
        impl_.db.tryExec("ROLLBACK");
      }
    }
    // The seam "index.commit" fails the commit as a crash before it would: nothing is written.
    Status commit() {
      if (sys::faulted("index.commit")) return fail_errno(kDomain, "COMMIT (injected fault)");
      impl_.exec("COMMIT");
      done_ = true;
      return {};
    }

   private:
    Impl& impl_;
    bool done_ = false;
  };

  // Runs `f` (returning Result<T>), turning every exception into an lj::Error.
  template <class F>
  auto guarded(std::string_view what, F&& f) -> decltype(f()) {
    try {
      return f();
    } catch (const SQLite::Exception& e) {
      return fail(map_error(e, db.getHandle(), what));
    } catch (const std::exception& e) {
      return fail(Errc::internal, kDomain, fmt::format("{}: {}", what, e.what()));
    }
  }

  std::string random_id(char prefix) {
    return fmt::format("{}-{:08x}", prefix, static_cast<std::uint32_t>(rng()));
  }

  int user_version() {
    auto q = query("PRAGMA user_version");
    q->executeStep();
    return q->getColumn(0).getInt();
  }

  Status migrate() {
    int current = user_version();
    if (current > kSchemaVersion) {
      return fail(Errc::unsupported, kDomain,
                  fmt::format("index {} has schema version {}, newer than this ljd knows ({}): "
                              "upgrade ljd, or move the index aside",
                              path, current, kSchemaVersion));
    }
    for (const Migration& m : kMigrations) {
      if (m.version <= current) continue;
      Tx tx(*this);
      db.exec(m.sql);
      auto ins = query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
      ins->bind(1, m.version);
      ins->bind(2, static_cast<std::int64_t>(ms(now())));
      ins->exec();
      db.exec(fmt::format("PRAGMA user_version = {}", m.version));
      LJ_TRY_CTX(fmt::format("migrating {} to schema version {}", path, m.version), tx.commit());
      // A private :memory: index (tests) is migrated every time: not worth an info line.
      log("index")->log(path == ":memory:" ? spdlog::level::debug : spdlog::level::info,
                        "migrated index={} schema_version={}", path, m.version);
      current = m.version;
    }
    return {};
  }

  // Appends one event inside the caller's transaction. The seam "index.event" fails it as a crash
  // between the row's write and the event's would.
  Result<EventRow> append(std::string_view type, std::string_view resource,
                          std::optional<std::uint32_t> uid, std::string data) {
    if (sys::faulted("index.event")) return fail_errno(kDomain, "appending event (injected fault)");
    EventRow e;
    e.time = now();
    e.type = type;
    e.resource = resource;
    e.uid = uid;
    e.data = std::move(data);
    auto q = query("INSERT INTO events (time, type, resource, uid, data) VALUES (?, ?, ?, ?, ?)");
    q->bind(1, static_cast<std::int64_t>(ms(e.time)));
    q->bind(2, e.type);
    q->bind(3, e.resource);
    bind_uid(*q, 4, uid);
    q->bind(5, e.data);
    q->exec();
    e.seq = db.getLastInsertRowid();
    return e;
  }

  // Reads a row's state inside the caller's transaction: not_found when absent, conflict unless
  // the state is one of `allowed`. Yields the jail's name (the key for other tables). A plain
  // SELECT, not UPDATE ... RETURNING: RETURNING buffers rows in an ephemeral table whose page
  // cache costs an 87 KB malloc+free and its page faults on every call (perf, SQLite 3.40).
  Result<std::string> expect_state(std::string_view table, std::string_view noun,
                                   std::string_view key,
                                   std::initializer_list<std::string_view> allowed,
                                   std::string_view wanted) {
    const bool by_name = table != "builds";
    auto st = query(fmt::format("SELECT {}, state FROM {} WHERE {} = ?", by_name ? "name" : "id",
                                table, table == "worlds" ? "name" : "id"));
    st->bind(1, std::string(key));
    if (!st->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("{} {} not found", noun, key));
    }
    std::string state = st->getColumn(1).getString();
    for (auto a : allowed) {
      if (a == state) return st->getColumn(0).getString();
    }
    return fail(Errc::conflict, kDomain,
                fmt::format("{} {} is {}, not {}", noun, key, state, wanted));
  }

  std::optional<std::string> meta(const char* key) {
    auto q = query("SELECT value FROM meta WHERE key = ?");
    q->bind(1, key);
    if (!q->executeStep()) return std::nullopt;
    return q->getColumn(0).getString();
  }

  void set_meta(const char* key, const std::string& value) {
    auto q = query(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
    q->bind(1, key);
    q->bind(2, value);
    q->exec();
  }

  void apply_synchronous(Synchronous s) {
    db.exec(s == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
  }

  // Marks the index open, durably, and decides the epoch. Under synchronous=NORMAL, commits after
  // the last checkpoint live in the WAL without an fsync: a crash of ljd keeps them (the kernel
  // has them), a power cut or kernel crash may not. The latter means a new boot, so: open at the
  // last look and another boot now -> possibly lost -> new epoch.
  Status start_session(std::string boot_id) {
    if (boot_id.empty()) boot_id = detail::system_boot_id();
    auto stored = meta("epoch");
    const bool was_open = meta("open").value_or("0") == "1";
    const std::string prev_boot = meta("boot_id").value_or("");
    epoch = stored.value_or("");
    if (epoch.empty() ||
        (was_open && (boot_id.empty() || prev_boot.empty() || boot_id != prev_boot))) {
      epoch_changed = !epoch.empty();
      epoch = fmt::format("{:08x}{:08x}", static_cast<std::uint32_t>(rng()),
                          static_cast<std::uint32_t>(rng()));
    }
    // This one commit is fsynced whatever the setting: "open" must be on disk before any
    // transaction that a power cut could lose.
    apply_synchronous(Synchronous::full);
    {
      Tx tx(*this);
      set_meta("epoch", epoch);
      set_meta("boot_id", boot_id);
      set_meta("open", "1");
      LJ_TRY(tx.commit());
    }
    apply_synchronous(synchronous);
    return {};
  }

  Result<JailRow> get_jail_by(const std::string& where, std::string_view key) {
    auto q = query(fmt::format("SELECT {} FROM jails WHERE {}", kJailCols, where));
    q->bind(1, std::string(key));
    if (!q->executeStep()) return fail(Errc::not_found, kDomain, "jail not found");
    return read_jail(*q);
  }

  Result<std::vector<JailRow>> list_jails_where(const std::string& where,
                                                const std::vector<std::string>& binds) {
    auto q = query(
        fmt::format("SELECT {} FROM jails WHERE {} ORDER BY created_at, id", kJailCols, where));
    int i = 1;
    for (const auto& b : binds) q->bind(i++, b);
    std::vector<JailRow> out;
    while (q->executeStep()) out.push_back(read_jail(*q));
    return out;
  }
};

// ---- open ----

Result<Index> Index::open(const std::string& path, const Options& options) {
  const bool memory = path == ":memory:" || path.empty();
  if (!memory) {
    // access(2) first: it names the errno (ENOENT, EACCES, EROFS) where SQLite would only say
    // "unable to open database file" or silently open read-only.
    std::string dir = parent_dir(path);
    if (::access(dir.c_str(), W_OK | X_OK) != 0) {
      return fail_errno(kDomain, fmt::format("opening index {}: directory {}", path, dir));
    }
    if (::access(path.c_str(), F_OK) == 0) {
      if (::access(path.c_str(), R_OK | W_OK) != 0) {
        return fail_errno(kDomain, fmt::format("opening index {} for writing", path));
      }
    } else {
      // Created here, 0600: the index holds jail specs (environment, maybe secrets), and SQLite
      // gives the -wal and -shm files the mode of the database file (os_unix.c findCreateFileMode)
      // where it would itself create all three 0644 & ~umask.
      UniqueFd fd(
          LJ_SYS("open", ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600)));
      if (!fd && errno != EEXIST) {
        return fail_errno(kDomain, fmt::format("creating index {}", path));
      }
    }
  }
  std::unique_ptr<Impl> impl;
  try {
    impl =
        std::make_unique<Impl>(memory ? std::string(":memory:") : path,
                               SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX);
  } catch (const SQLite::Exception& e) {
    return fail(map_error(e, nullptr, fmt::format("opening index {}", path)));
  }
  Impl& d = *impl;
  auto opened = d.guarded(fmt::format("opening index {}", path), [&]() -> Status {
    // SQLite opens a write-protected file read-only without an error (sqlite3_open_v2(3)); every
    // write would then fail later, far from the cause.
    if (sqlite3_db_readonly(d.db.getHandle(), "main") == 1) {
      return fail(Errc::permission_denied, kDomain,
                  fmt::format("opening index {}: the file is read-only", path));
    }
    d.db.setBusyTimeout(static_cast<int>(options.busy_timeout.count()));
    // Read the version before changing anything: a newer index is left exactly as it was.
    if (int v = d.user_version(); v > kSchemaVersion) {
      return fail(Errc::unsupported, kDomain,
                  fmt::format("index {} has schema version {}, newer than this ljd knows ({}): "
                              "upgrade ljd, or move the index aside",
                              path, v, kSchemaVersion));
    }
    if (!memory) {
      SQLite::Statement jm(d.db, "PRAGMA journal_mode = WAL");
      jm.executeStep();
      if (jm.getColumn(0).getString() != "wal") {
        return fail(Errc::unsupported, kDomain,
                    fmt::format("index {}: the file system refused journal_mode=WAL (got {})", path,
                                jm.getColumn(0).getString()));
      }
    }
    d.memory = memory;
    d.synchronous = options.synchronous;
    d.apply_synchronous(options.synchronous);
    d.db.exec("PRAGMA foreign_keys = ON");
    d.db.exec("PRAGMA trusted_schema = OFF");
    LJ_TRY(d.migrate());
    if (memory) {
      d.epoch = d.random_id('e').substr(2);
      return {};
    }
    return d.start_session(options.boot_id);
  });
  if (!opened) return fail(std::move(opened).error());
  return Index(std::move(impl));
}

Index::Index(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Index::Index(Index&&) noexcept = default;
Index& Index::operator=(Index&& other) noexcept {
  if (this != &other) {
    if (impl_ && !impl_->closed) {
      if (auto st = close(); !st) {
        log("index")->warn("closing index={} failed: {}", impl_->path, st.error().what());
      }
    }
    impl_ = std::move(other.impl_);
  }
  return *this;
}
Index::~Index() {
  if (!impl_ || impl_->closed) return;
  if (auto st = close(); !st) {
    log("index")->warn("closing index={} failed: {}", impl_->path, st.error().what());
  }
}

const std::string& Index::epoch() const {
  return impl_->epoch;
}
bool Index::epoch_changed() const {
  return impl_->epoch_changed;
}

Status Index::close() {
  Impl& d = *impl_;
  if (d.closed) return {};
  d.closed = true;
  if (d.memory) return {};
  return d.guarded("closing index", [&]() -> Status {
    // TRUNCATE: the WAL is copied into the database file, which is fsynced, and emptied.
    d.db.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    d.apply_synchronous(Synchronous::full);
    Impl::Tx tx(d);
    d.set_meta("open", "0");
    LJ_TRY(tx.commit());
    d.cache.clear();
    return {};
  });
}

const std::string& Index::path() const {
  return impl_->path;
}

Result<int> Index::schema_version() {
  return impl_->guarded("reading schema version",
                        [&]() -> Result<int> { return impl_->user_version(); });
}

Status Index::integrity_check() {
  return impl_->guarded("integrity_check", [&]() -> Status {
    SQLite::Statement q(impl_->db, "PRAGMA integrity_check(20)");
    std::string problems;
    while (q.executeStep()) {
      std::string line = q.getColumn(0).getString();
      if (line == "ok") continue;
      if (!problems.empty()) problems += "; ";
      problems += line;
    }
    if (!problems.empty()) {
      return fail(Errc::internal, kDomain,
                  fmt::format("integrity_check of {}: {}", impl_->path, problems));
    }
    return {};
  });
}

// ---- jails ----

Result<JailRow> Index::insert_jail(JailRow row) {
  Impl& d = *impl_;
  return d.guarded("inserting jail", [&]() -> Result<JailRow> {
    const bool gen_id = row.id.empty();
    const bool gen_name = row.name.empty();
    row.state = JailState::creating;
    row.created_at = or_now(row.created_at);
    // A generated id collides with odds of n/2^32 per jail; retry rather than fail the request.
    for (int attempt = 0;; ++attempt) {
      if (gen_id) row.id = d.random_id('j');
      if (gen_name) row.name = row.id;
      try {
        auto q = d.query(
            "INSERT INTO jails (id, name, state, spec, labels, auto_remove, owner_uid, pid, "
            "start_time, cgroup, jid, created_at, log_path) "
            "VALUES (?, ?, 'creating', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
        q->bind(1, row.id);
        q->bind(2, row.name);
        q->bind(3, row.spec.empty() ? std::string("{}") : row.spec);
        q->bind(4, labels_json(row.labels));
        q->bind(5, row.auto_remove ? 1 : 0);
        q->bind(6, static_cast<std::int64_t>(row.owner_uid));
        q->bind(7, static_cast<std::int64_t>(row.pid));
        q->bind(8, static_cast<std::int64_t>(row.start_time));
        q->bind(9, row.cgroup);
        q->bind(10, static_cast<std::int64_t>(row.jid));
        q->bind(11, static_cast<std::int64_t>(ms(row.created_at)));
        q->bind(12, row.log_path);
        q->exec();
        return row;
      } catch (const SQLite::Exception& e) {
        if (e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY && gen_id && attempt < 8) {
          continue;
        }
        if (e.getErrorCode() == SQLITE_CONSTRAINT) {
          const bool id_clash = e.getExtendedErrorCode() == SQLITE_CONSTRAINT_PRIMARYKEY;
          return fail(Errc::exists, kDomain,
                      id_clash ? fmt::format("jail id {} exists", row.id)
                               : fmt::format("jail name {} is taken", row.name));
        }
        throw;
      }
    }
  });
}

Result<EventRow> Index::jail_created(std::string_view id, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking jail created", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto name = LJ_TRY(d.expect_state("jails", "jail", id, {"creating"}, "creating"));
    auto q = d.query("UPDATE jails SET state = 'created' WHERE id = ?");
    q->bind(1, std::string(id));
    q->exec();
    auto ev = LJ_TRY(d.append("jail.created", id, uid, json{{"name", name}}.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::jail_started(std::string_view id, std::int64_t pid,
                                     std::uint64_t start_time, std::string_view cgroup,
                                     std::int64_t jid, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking jail started", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    const Time t = now();
    auto name =
        LJ_TRY(d.expect_state("jails", "jail", id, {"creating", "created"}, "creating or created"));
    auto q = d.query(
        "UPDATE jails SET state = 'running', pid = ?, start_time = ?, cgroup = ?, jid = ?, "
        "started_at = ? WHERE id = ?");
    q->bind(1, static_cast<std::int64_t>(pid));
    q->bind(2, static_cast<std::int64_t>(start_time));
    q->bind(3, std::string(cgroup));
    q->bind(4, static_cast<std::int64_t>(jid));
    q->bind(5, static_cast<std::int64_t>(ms(t)));
    q->bind(6, std::string(id));
    q->exec();
    json data{{"name", name}, {"pid", pid}};
    auto ev = LJ_TRY(d.append("jail.started", id, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::jail_stopping(std::string_view id, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking jail stopping", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto name = LJ_TRY(d.expect_state("jails", "jail", id, {"running"}, "running"));
    auto q = d.query("UPDATE jails SET state = 'stopping' WHERE id = ?");
    q->bind(1, std::string(id));
    q->exec();
    auto ev = LJ_TRY(d.append("jail.stopping", id, uid, json{{"name", name}}.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::record_exit(std::string_view id, const ExitRecord& exit,
                                    std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("recording jail exit", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    const Time t = or_now(exit.exited_at);
    auto name = LJ_TRY(d.expect_state("jails", "jail", id,
                                      {"creating", "created", "running", "stopping"}, "live"));
    auto q = d.query(
        "UPDATE jails SET state = 'exited', exited_at = ?, exit_code = ?, exit_signal = ?, "
        "oom = ?, timed_out = ?, lost = ? "
        "WHERE id = ?");
    q->bind(1, static_cast<std::int64_t>(ms(t)));
    bind_opt(*q, 2, exit.exit_code);
    bind_opt(*q, 3, exit.exit_signal);
    q->bind(4, exit.oom ? 1 : 0);
    q->bind(5, exit.timed_out ? 1 : 0);
    q->bind(6, exit.lost ? 1 : 0);
    q->bind(7, std::string(id));
    q->exec();
    json data{{"name", name},      {"exit_code", nullptr},        {"exit_signal", nullptr},
              {"oom", exit.oom},   {"timed_out", exit.timed_out}, {"lost", exit.lost},
              {"exited_at", rfc3339(t)}};
    if (exit.exit_code) data["exit_code"] = *exit.exit_code;
    if (exit.exit_signal) data["exit_signal"] = *exit.exit_signal;
    auto ev = LJ_TRY(d.append("jail.exited", id, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::jail_removed(std::string_view id, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking jail removed", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto name = LJ_TRY(d.expect_state("jails", "jail", id,
                                      {"creating", "created", "running", "stopping", "exited"},
                                      "removable"));
    auto q = d.query("UPDATE jails SET state = 'removed', removed_at = ? WHERE id = ?");
    q->bind(1, static_cast<std::int64_t>(ms(now())));
    q->bind(2, std::string(id));
    q->exec();
    auto ev = LJ_TRY(d.append("jail.removed", id, uid, json{{"name", name}}.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Status Index::delete_jail(std::string_view id) {
  Impl& d = *impl_;
  return d.guarded("deleting jail", [&]() -> Status {
    auto q = d.query("DELETE FROM jails WHERE id = ?");
    q->bind(1, std::string(id));
    if (q->exec() == 0) return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id));
    return {};
  });
}

Status Index::set_auto_remove(std::string_view id) {
  Impl& d = *impl_;
  return d.guarded("marking jail for removal", [&]() -> Status {
    auto q = d.query("UPDATE jails SET auto_remove = 1 WHERE id = ?");
    q->bind(1, std::string(id));
    if (q->exec() == 0) return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id));
    return {};
  });
}

Result<JailRow> Index::get_jail(std::string_view id_or_name) {
  Impl& d = *impl_;
  return d.guarded("reading jail", [&]() -> Result<JailRow> {
    if (auto r = d.get_jail_by("id = ?", id_or_name)) return r;
    if (auto r = d.get_jail_by("name = ? AND state <> 'removed'", id_or_name)) return r;
    if (auto r =
            d.get_jail_by("name = ? ORDER BY created_at DESC, rowid DESC LIMIT 1", id_or_name)) {
      return r;
    }
    return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", id_or_name));
  });
}

Result<std::vector<JailRow>> Index::list_jails(const JailFilter& filter) {
  Impl& d = *impl_;
  return d.guarded("listing jails", [&]() -> Result<std::vector<JailRow>> {
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
    return d.list_jails_where(where, binds);
  });
}

Result<std::vector<JailRow>> Index::list_jails_in_flight() {
  JailFilter f;
  f.states = {JailState::creating, JailState::created, JailState::running, JailState::stopping};
  return list_jails(f);
}

Result<JailMountRow> Index::add_jail_mount(std::string_view jail_id, std::string_view target,
                                           std::string_view fstype) {
  Impl& d = *impl_;
  return d.guarded("recording jail mount", [&]() -> Result<JailMountRow> {
    auto q = d.query(
        "INSERT INTO jail_mounts (jail_id, seq, target, fstype) "
        "SELECT id, (SELECT coalesce(max(seq), 0) + 1 FROM jail_mounts WHERE jail_id = ?1), ?2, ?3 "
        "FROM jails WHERE id = ?1");
    q->bind(1, std::string(jail_id));
    q->bind(2, std::string(target));
    q->bind(3, std::string(fstype));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("jail {} not found", jail_id));
    }
    // WITHOUT ROWID: no last_insert_rowid(); the seq just written is the jail's largest.
    auto s = d.query("SELECT max(seq) FROM jail_mounts WHERE jail_id = ?");
    s->bind(1, std::string(jail_id));
    s->executeStep();
    JailMountRow m{std::string(jail_id), s->getColumn(0).getInt64(), std::string(target),
                   std::string(fstype)};
    return m;
  });
}

Result<std::vector<JailMountRow>> Index::list_jail_mounts(std::string_view jail_id) {
  Impl& d = *impl_;
  return d.guarded("listing jail mounts", [&]() -> Result<std::vector<JailMountRow>> {
    auto q = d.query(
        "SELECT jail_id, seq, target, fstype FROM jail_mounts WHERE jail_id = ? ORDER BY seq");
    q->bind(1, std::string(jail_id));
    std::vector<JailMountRow> out;
    while (q->executeStep()) {
      out.push_back({q->getColumn(0).getString(), q->getColumn(1).getInt64(),
                     q->getColumn(2).getString(), q->getColumn(3).getString()});
    }
    return out;
  });
}

Status Index::remove_jail_mount(std::string_view jail_id, std::int64_t seq) {
  Impl& d = *impl_;
  return d.guarded("forgetting jail mount", [&]() -> Status {
    auto q = d.query("DELETE FROM jail_mounts WHERE jail_id = ? AND seq = ?");
    q->bind(1, std::string(jail_id));
    q->bind(2, static_cast<std::int64_t>(seq));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain,
                  fmt::format("mount {} of jail {} not found", seq, jail_id));
    }
    return {};
  });
}

// ---- builds ----

Result<std::pair<BuildRow, EventRow>> Index::insert_build(BuildRow row,
                                                          std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("inserting build", [&]() -> Result<std::pair<BuildRow, EventRow>> {
    const bool gen_id = row.id.empty();
    row.state = BuildState::queued;
    row.created_at = or_now(row.created_at);
    row.started_at.reset();
    row.ended_at.reset();
    for (int attempt = 0;; ++attempt) {
      if (gen_id) row.id = d.random_id('b');
      Impl::Tx tx(d);
      try {
        auto q = d.query(
            "INSERT INTO builds (id, state, jailfile, context, name, version, log_path, "
            "created_at) VALUES (?, 'queued', ?, ?, ?, ?, ?, ?)");
        q->bind(1, row.id);
        q->bind(2, row.jailfile);
        q->bind(3, row.context);
        q->bind(4, row.name);
        q->bind(5, row.version);
        q->bind(6, row.log_path);
        q->bind(7, static_cast<std::int64_t>(ms(row.created_at)));
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
      auto ev = LJ_TRY(d.append("build.queued", row.id, uid, data.dump()));
      LJ_TRY(tx.commit());
      return std::pair{row, ev};
    }
  });
}

Result<EventRow> Index::build_started(std::string_view id, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking build started", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    LJ_TRY(d.expect_state("builds", "build", id, {"queued"}, "queued"));
    auto q = d.query("UPDATE builds SET state = 'running', started_at = ? WHERE id = ?");
    q->bind(1, static_cast<std::int64_t>(ms(now())));
    q->bind(2, std::string(id));
    q->exec();
    auto ev = LJ_TRY(d.append("build.started", id, uid, "{}"));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::build_finished(std::string_view id, BuildState state,
                                       const BuildRow& result, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking build finished", [&]() -> Result<EventRow> {
    if (state == BuildState::queued || state == BuildState::running) {
      return fail(Errc::invalid_argument, kDomain,
                  fmt::format("build {} cannot finish as {}", id, to_string(state)));
    }
    Impl::Tx tx(d);
    LJ_TRY(d.expect_state("builds", "build", id, {"queued", "running"}, "queued or running"));
    auto q = d.query(
        "UPDATE builds SET state = ?, name = ?, version = ?, published = ?, cache_hit = ?, "
        "error = ?, ended_at = ? WHERE id = ?");
    q->bind(1, std::string(to_string(state)));
    q->bind(2, result.name);
    q->bind(3, result.version);
    q->bind(4, result.published ? 1 : 0);
    q->bind(5, result.cache_hit ? 1 : 0);
    q->bind(6, result.error);
    q->bind(7, static_cast<std::int64_t>(ms(now())));
    q->bind(8, std::string(id));
    q->exec();
    json data{{"name", result.name},
              {"version", result.version},
              {"published", result.published},
              {"cache_hit", result.cache_hit}};
    if (!result.error.empty()) {
      data["error"] = json::parse(result.error, nullptr, false);
      if (data["error"].is_discarded()) data["error"] = result.error;
    }
    auto ev = LJ_TRY(d.append(fmt::format("build.{}", to_string(state)), id, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<BuildRow> Index::get_build(std::string_view id) {
  Impl& d = *impl_;
  return d.guarded("reading build", [&]() -> Result<BuildRow> {
    auto q = d.query(fmt::format("SELECT {} FROM builds WHERE id = ?", kBuildCols));
    q->bind(1, std::string(id));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("build {} not found", id));
    }
    return read_build(*q);
  });
}

Result<std::vector<BuildRow>> Index::list_builds(std::optional<BuildState> state) {
  Impl& d = *impl_;
  return d.guarded("listing builds", [&]() -> Result<std::vector<BuildRow>> {
    auto q = d.query(
        fmt::format("SELECT {} FROM builds WHERE ?1 IS NULL OR state = ?1 ORDER BY created_at, id",
                    kBuildCols));
    if (state) q->bind(1, std::string(to_string(*state)));
    std::vector<BuildRow> out;
    while (q->executeStep()) out.push_back(read_build(*q));
    return out;
  });
}

Result<std::vector<BuildRow>> Index::list_builds_in_flight() {
  Impl& d = *impl_;
  return d.guarded("listing builds in flight", [&]() -> Result<std::vector<BuildRow>> {
    auto q = d.query(fmt::format(
        "SELECT {} FROM builds WHERE state IN ('queued', 'running') ORDER BY created_at, id",
        kBuildCols));
    std::vector<BuildRow> out;
    while (q->executeStep()) out.push_back(read_build(*q));
    return out;
  });
}

// ---- worlds ----

Result<EventRow> Index::insert_world(WorldRow row, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("inserting world", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto q = d.query(
        "INSERT INTO worlds (name, path, source, state, size_bytes, created_at) "
        "VALUES (?, ?, ?, 'importing', ?, ?)");
    q->bind(1, row.name);
    q->bind(2, row.path);
    q->bind(3, row.source);
    q->bind(4, static_cast<std::int64_t>(row.size_bytes));
    q->bind(5, static_cast<std::int64_t>(ms(or_now(row.created_at))));
    try {
      q->exec();
    } catch (const SQLite::Exception& e) {
      if (e.getErrorCode() != SQLITE_CONSTRAINT) throw;
      return fail(Errc::exists, kDomain, fmt::format("world {} exists", row.name));
    }
    json data{{"path", row.path}, {"source", row.source}};
    auto ev = LJ_TRY(d.append("world.importing", row.name, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::world_ready(std::string_view name, std::uint64_t size_bytes,
                                    std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking world ready", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    LJ_TRY(d.expect_state("worlds", "world", name, {"importing"}, "importing"));
    auto q = d.query("UPDATE worlds SET state = 'ready', size_bytes = ? WHERE name = ?");
    q->bind(1, static_cast<std::int64_t>(size_bytes));
    q->bind(2, std::string(name));
    q->exec();
    json data{{"size_bytes", size_bytes}};
    auto ev = LJ_TRY(d.append("world.ready", name, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::world_failed(std::string_view name, std::string_view error_json,
                                     std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("marking world failed", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    LJ_TRY(d.expect_state("worlds", "world", name, {"importing"}, "importing"));
    auto q = d.query("UPDATE worlds SET state = 'failed', error = ? WHERE name = ?");
    q->bind(1, std::string(error_json));
    q->bind(2, std::string(name));
    q->exec();
    json err = json::parse(error_json, nullptr, false);
    json data{{"error", err.is_discarded() ? json(std::string(error_json)) : err}};
    auto ev = LJ_TRY(d.append("world.failed", name, uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::delete_world(std::string_view name, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("deleting world", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto q = d.query("DELETE FROM worlds WHERE name = ?");
    q->bind(1, std::string(name));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("world {} not found", name));
    }
    auto ev = LJ_TRY(d.append("world.removed", name, uid, "{}"));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<WorldRow> Index::get_world(std::string_view name) {
  Impl& d = *impl_;
  return d.guarded("reading world", [&]() -> Result<WorldRow> {
    auto q = d.query(fmt::format("SELECT {} FROM worlds WHERE name = ?", kWorldCols));
    q->bind(1, std::string(name));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("world {} not found", name));
    }
    return read_world(*q);
  });
}

Result<std::vector<WorldRow>> Index::list_worlds() {
  Impl& d = *impl_;
  return d.guarded("listing worlds", [&]() -> Result<std::vector<WorldRow>> {
    auto q = d.query(fmt::format("SELECT {} FROM worlds ORDER BY name", kWorldCols));
    std::vector<WorldRow> out;
    while (q->executeStep()) out.push_back(read_world(*q));
    return out;
  });
}

Result<std::vector<WorldRow>> Index::list_worlds_importing() {
  Impl& d = *impl_;
  return d.guarded("listing worlds importing", [&]() -> Result<std::vector<WorldRow>> {
    auto q = d.query(
        fmt::format("SELECT {} FROM worlds WHERE state = 'importing' ORDER BY name", kWorldCols));
    std::vector<WorldRow> out;
    while (q->executeStep()) out.push_back(read_world(*q));
    return out;
  });
}

// ---- overlays ----

Result<EventRow> Index::insert_overlay(OverlayRow row, std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("inserting overlay", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto q = d.query(
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
    auto ev = LJ_TRY(d.append("overlay.published", fmt::format("{}@{}", row.name, row.version), uid,
                              data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventRow> Index::delete_overlay(std::string_view name, std::string_view version,
                                       std::optional<std::uint32_t> uid) {
  Impl& d = *impl_;
  return d.guarded("deleting overlay", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto q = d.query("DELETE FROM overlays WHERE name = ? AND version = ?");
    q->bind(1, std::string(name));
    q->bind(2, std::string(version));
    if (q->exec() == 0) {
      return fail(Errc::not_found, kDomain, fmt::format("overlay {}@{} not found", name, version));
    }
    json data{{"name", name}, {"version", version}};
    auto ev =
        LJ_TRY(d.append("overlay.removed", fmt::format("{}@{}", name, version), uid, data.dump()));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<OverlayRow> Index::get_overlay(std::string_view name, std::string_view version) {
  Impl& d = *impl_;
  return d.guarded("reading overlay", [&]() -> Result<OverlayRow> {
    auto q = d.query(
        fmt::format("SELECT {} FROM overlays WHERE name = ? AND version = ?", kOverlayCols));
    q->bind(1, std::string(name));
    q->bind(2, std::string(version));
    if (!q->executeStep()) {
      return fail(Errc::not_found, kDomain, fmt::format("overlay {}@{} not found", name, version));
    }
    return read_overlay(*q);
  });
}

Result<std::vector<OverlayRow>> Index::list_overlays(std::string_view name) {
  Impl& d = *impl_;
  return d.guarded("listing overlays", [&]() -> Result<std::vector<OverlayRow>> {
    auto q = d.query(fmt::format(
        "SELECT {} FROM overlays WHERE ?1 = '' OR name = ?1 ORDER BY name, created_at, version",
        kOverlayCols));
    q->bind(1, std::string(name));
    std::vector<OverlayRow> out;
    while (q->executeStep()) out.push_back(read_overlay(*q));
    return out;
  });
}

// ---- events ----

Result<EventRow> Index::append_event(std::string_view type, std::string_view resource,
                                     std::optional<std::uint32_t> uid, std::string_view data_json) {
  Impl& d = *impl_;
  return d.guarded("appending event", [&]() -> Result<EventRow> {
    Impl::Tx tx(d);
    auto ev =
        LJ_TRY(d.append(type, resource, uid, std::string(data_json.empty() ? "{}" : data_json)));
    LJ_TRY(tx.commit());
    return ev;
  });
}

Result<EventBatch> Index::events_since(std::int64_t since, std::size_t limit) {
  Impl& d = *impl_;
  return d.guarded("reading events", [&]() -> Result<EventBatch> {
    EventBatch b;
    if (since < 0) since = 0;
    // No transaction needed: this connection is the only writer and runs on this thread.
    {
      auto q = d.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
      b.last_seq = q->executeStep() ? q->getColumn(0).getInt64() : 0;
    }
    {
      auto q = d.query("SELECT min(seq) FROM events");
      q->executeStep();
      b.first_seq = q->getColumn(0).isNull() ? b.last_seq + 1 : q->getColumn(0).getInt64();
    }
    b.pruned = since + 1 < b.first_seq;
    b.epoch = d.epoch;
    auto q = d.query(
        fmt::format("SELECT {} FROM events WHERE seq > ? ORDER BY seq LIMIT ?", kEventCols));
    q->bind(1, static_cast<std::int64_t>(since));
    q->bind(2, static_cast<std::int64_t>(limit));
    while (q->executeStep()) b.events.push_back(read_event(*q));
    return b;
  });
}

Result<std::int64_t> Index::last_event_seq() {
  Impl& d = *impl_;
  return d.guarded("reading last event seq", [&]() -> Result<std::int64_t> {
    auto q = d.query("SELECT seq FROM sqlite_sequence WHERE name = 'events'");
    return q->executeStep() ? q->getColumn(0).getInt64() : std::int64_t{0};
  });
}

// ---- retention ----

Result<RetentionStats> Index::purge(Time cutoff) {
  Impl& d = *impl_;
  return d.guarded("purging old records", [&]() -> Result<RetentionStats> {
    RetentionStats st;
    const auto c = static_cast<std::int64_t>(ms(cutoff));
    Impl::Tx tx(d);
    {
      auto q = d.query(
          "DELETE FROM jails WHERE state IN ('exited', 'removed') "
          "AND coalesce(exited_at, removed_at, created_at) < ? "
          "AND NOT EXISTS (SELECT 1 FROM jail_mounts m WHERE m.jail_id = jails.id) "
          "RETURNING log_path");
      q->bind(1, c);
      while (q->executeStep()) {
        ++st.jails;
        if (auto p = q->getColumn(0).getString(); !p.empty()) st.log_paths.push_back(p);
      }
    }
    {
      auto q = d.query(
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
      auto q = d.query(
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

}  // namespace lj::index
