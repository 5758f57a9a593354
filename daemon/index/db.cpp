// The connection: opening, pragmas, migrations, the epoch session, transactions, errors, events
// appended in a transaction, and the one transition function's two statements.
#include "common/random_id.hpp"
#include "index/db.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <ctime>

#include "common/fd.hpp"
#include "common/log.hpp"
#include "common/sys.hpp"
#include "index/boot_id.hpp"

namespace lj::index {
namespace {

// ---- schema: migrations/NNN_name.sql, applied in order, one transaction each. Never edit a step
// that has shipped; add a new file. ----
struct Migration {
  int version;
  const char* name;
  const char* sql;
};

constexpr Migration kMigrations[] = {
#include "index/migrations.inc"
};

constexpr int kSchemaVersion = static_cast<int>(std::size(kMigrations));

constexpr bool numbered_from_one() {
  for (std::size_t i = 0; i < std::size(kMigrations); ++i) {
    if (kMigrations[i].version != static_cast<int>(i) + 1) return false;
  }
  return true;
}
static_assert(numbered_from_one(), "migrations are numbered 1, 2, 3, ... (embed.cmake)");

std::optional<FileId> file_id(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  return FileId{st.st_dev, st.st_ino};
}

std::string parent_dir(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Error newer_schema(const std::string& path, int v) {
  return Error(Errc::unsupported, kDomain,
               fmt::format("index {} has schema version {}, newer than this ljd knows ({}): "
                           "upgrade ljd, or move the index aside",
                           path, v, kSchemaVersion));
}

}  // namespace

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

int latest_schema_version() {
  return kSchemaVersion;
}

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

// ---- statements and transactions ----

Db::Db(std::string path, int flags) : path_(std::move(path)), db_(path_, flags) {}

Db::Query Db::query(const std::string& sql) {
  auto it = cache_.find(sql);
  if (it == cache_.end()) {
    it = cache_.emplace(sql, std::make_unique<SQLite::Statement>(db_, sql)).first;
  }
  it->second->tryReset();
  it->second->clearBindings();
  return Query(*it->second);
}

void Db::exec(const std::string& sql) {
  auto q = query(sql);
  q->exec();
}

Db::Tx::~Tx() {
  if (!done_ && sqlite3_get_autocommit(db_.db_.getHandle()) == 0) db_.db_.tryExec("ROLLBACK");
}

Status Db::Tx::commit() {
  if (sys::faulted("index.commit")) return fail_errno(kDomain, "COMMIT (injected fault)");
  db_.exec("COMMIT");
  done_ = true;
  return {};
}

std::string Db::random_id(char prefix) {
  return lj::random_id(std::string_view(&prefix, 1), 4);  // the one generator (common/random_id)
}

// ---- events and transitions ----

Result<EventRow> Db::append(std::string_view type, std::string_view resource,
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
  if (uid) {
    q->bind(4, static_cast<std::int64_t>(*uid));
  } else {
    q->bind(4);
  }
  q->bind(5, e.data);
  q->exec();
  e.seq = db_.getLastInsertRowid();
  return e;
}

// A plain SELECT, not UPDATE ... RETURNING: RETURNING buffers rows in an ephemeral table whose page
// cache costs an 87 KB malloc+free and its page faults on every call (perf, SQLite 3.40).
Result<Db::StateRead> Db::read_state(std::string_view noun, std::string_view table,
                                     std::string_view key_column, std::string_view label_column,
                                     std::string_view key) {
  auto q = query(fmt::format("SELECT state, {} FROM {} WHERE {} = ?",
                             label_column.empty() ? "''" : label_column, table, key_column));
  q->bind(1, std::string(key));
  if (!q->executeStep()) {
    return fail(Errc::not_found, kDomain, fmt::format("{} {} not found", noun, key));
  }
  return StateRead{q->getColumn(0).getString(), q->getColumn(1).getString()};
}

void Db::write_state(std::string_view table, std::string_view key_column, std::string_view key,
                     std::string_view state, const std::vector<Set>& set) {
  std::string sql = fmt::format("UPDATE {} SET state = ?", table);
  for (const Set& s : set) fmt::format_to(std::back_inserter(sql), ", {} = ?", s.column);
  fmt::format_to(std::back_inserter(sql), " WHERE {} = ?", key_column);
  auto q = query(sql);
  int i = 1;
  q->bind(i++, std::string(state));
  for (const Set& s : set) {
    std::visit(
        [&](const auto& v) {
          using T = std::decay_t<decltype(v)>;
          if constexpr (std::is_same_v<T, std::nullptr_t>) {
            q->bind(i);
          } else {
            q->bind(i, v);
          }
        },
        s.value);
    ++i;
  }
  q->bind(i, std::string(key));
  q->exec();
}

// ---- opening, migrations, the epoch ----

int Db::user_version() {
  auto q = query("PRAGMA user_version");
  q->executeStep();
  return q->getColumn(0).getInt();
}

Status Db::migrate() {
  int current = user_version();
  if (current > kSchemaVersion) return fail(newer_schema(path_, current));
  for (const Migration& m : kMigrations) {
    if (m.version <= current) continue;
    Tx tx(*this);
    db_.exec(m.sql);
    auto ins = query("INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)");
    ins->bind(1, m.version);
    ins->bind(2, static_cast<std::int64_t>(ms(now())));
    ins->exec();
    db_.exec(fmt::format("PRAGMA user_version = {}", m.version));
    LJ_TRY_CTX(fmt::format("migrating {} to schema version {} ({})", path_, m.version, m.name),
               tx.commit());
    // A private :memory: index (tests) is migrated every time: not worth an info line.
    log("index")->log(memory_ ? spdlog::level::debug : spdlog::level::info,
                      "migrated index={} schema_version={} step={}", path_, m.version, m.name);
    current = m.version;
  }
  return {};
}

std::optional<std::string> Db::meta(const char* key) {
  auto q = query("SELECT value FROM meta WHERE key = ?");
  q->bind(1, key);
  if (!q->executeStep()) return std::nullopt;
  return q->getColumn(0).getString();
}

void Db::set_meta(const char* key, const std::string& value) {
  auto q = query(
      "INSERT INTO meta (key, value) VALUES (?, ?) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value");
  q->bind(1, key);
  q->bind(2, value);
  q->exec();
}

void Db::apply_synchronous(Synchronous s) {
  db_.exec(s == Synchronous::full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL");
}

// Marks the index open, durably, and decides the epoch. Under synchronous=NORMAL, commits after
// the last checkpoint live in the WAL without an fsync: a crash of ljd keeps them (the kernel has
// them), a power cut or kernel crash may not. The latter means a new boot, so: open at the last
// look and another boot now -> possibly lost -> new epoch.
Status Db::start_session(std::string boot_id) {
  if (boot_id.empty()) boot_id = detail::system_boot_id();
  auto stored = meta("epoch");
  const bool was_open = meta("open").value_or("0") == "1";
  const std::string prev_boot = meta("boot_id").value_or("");
  epoch_ = stored.value_or("");
  if (epoch_.empty() ||
      (was_open && (boot_id.empty() || prev_boot.empty() || boot_id != prev_boot))) {
    epoch_changed_ = !epoch_.empty();
    epoch_ = random_id('e').substr(2) + random_id('e').substr(2);  // 16 hex digits
  }
  // This one commit is fsynced whatever the setting: "open" must be on disk before any
  // transaction that a power cut could lose.
  apply_synchronous(Synchronous::full);
  {
    Tx tx(*this);
    set_meta("epoch", epoch_);
    set_meta("boot_id", boot_id);
    set_meta("open", "1");
    LJ_TRY(tx.commit());
  }
  apply_synchronous(synchronous_);
  return {};
}

Result<std::unique_ptr<Db>> Db::open(const std::string& path, const Options& options) {
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
  std::unique_ptr<Db> d;
  try {
    d.reset(new Db(memory ? std::string(":memory:") : path,
                   SQLite::OPEN_READWRITE | SQLite::OPEN_CREATE | SQLite::OPEN_NOMUTEX));
  } catch (const SQLite::Exception& e) {
    return fail(map_error(e, nullptr, fmt::format("opening index {}", path)));
  }
  auto opened = d->guarded(fmt::format("opening index {}", path), [&]() -> Status {
    // SQLite opens a write-protected file read-only without an error (sqlite3_open_v2(3)); every
    // write would then fail later, far from the cause.
    if (sqlite3_db_readonly(d->db_.getHandle(), "main") == 1) {
      return fail(Errc::permission_denied, kDomain,
                  fmt::format("opening index {}: the file is read-only", path));
    }
    d->db_.setBusyTimeout(static_cast<int>(options.busy_timeout.count()));
    // Read the version before changing anything: a newer index is left exactly as it was.
    if (int v = d->user_version(); v > kSchemaVersion) return fail(newer_schema(path, v));
    if (!memory) {
      SQLite::Statement jm(d->db_, "PRAGMA journal_mode = WAL");
      jm.executeStep();
      if (jm.getColumn(0).getString() != "wal") {
        return fail(Errc::unsupported, kDomain,
                    fmt::format("index {}: the file system refused journal_mode=WAL (got {})", path,
                                jm.getColumn(0).getString()));
      }
    }
    d->memory_ = memory;
    d->options_ = options;
    d->synchronous_ = options.synchronous;
    d->apply_synchronous(options.synchronous);
    d->db_.exec("PRAGMA foreign_keys = ON");
    d->db_.exec("PRAGMA trusted_schema = OFF");
    LJ_TRY(d->migrate());
    if (memory) {
      d->epoch_ = d->random_id('e').substr(2);
      return {};
    }
    return d->start_session(options.boot_id);
  });
  if (!opened) return fail(std::move(opened).error());
  d->closed_ = false;
  if (!memory) {
    // The -wal exists from the first write (start_session wrote): both are open from now on.
    d->file_id_ = file_id(path);
    d->wal_id_ = file_id(path + "-wal");
  }
  return d;
}

std::optional<std::string> Db::file_lost() const {
  if (memory_ || !file_id_) return std::nullopt;
  auto now = file_id(path_);
  if (!now) return errno == ENOENT ? std::string("deleted") : fmt::format("unreadable ({})", std::strerror(errno));
  if (now->dev != file_id_->dev || now->ino != file_id_->ino) {
    return fmt::format("replaced (inode {} -> {})", static_cast<unsigned long long>(file_id_->ino),
                       static_cast<unsigned long long>(now->ino));
  }
  if (wal_id_) {
    auto wal = file_id(path_ + "-wal");
    if (!wal) return std::string("its -wal deleted");
    if (wal->dev != wal_id_->dev || wal->ino != wal_id_->ino) return std::string("its -wal replaced");
  }
  return std::nullopt;
}

Status Db::copy_to(const std::string& to) {
  LJ_TRY(guarded(fmt::format("copying index {} to {}", path_, to), [&]() -> Status {
    auto q = query("VACUUM INTO ?");
    q->bind(1, to);
    q->exec();
    return {};
  }));
  // VACUUM INTO writes without fsync; the copy becomes the index, so it is made durable here.
  UniqueFd fd(LJ_SYS("open", ::open(to.c_str(), O_RDONLY | O_CLOEXEC)));
  if (!fd || LJ_SYS("fsync", ::fsync(fd.get())) != 0) return fail_errno(kDomain, "fsync " + to);
  return {};
}

Db::~Db() {
  if (auto st = close(); !st) {
    log("index")->warn("closing index={} failed: {}", path_, st.error().what());
  }
}

Status Db::close() {
  if (closed_) return {};
  closed_ = true;
  if (memory_) return {};
  return guarded("closing index", [&]() -> Status {
    // TRUNCATE: the WAL is copied into the database file, which is fsynced, and emptied.
    db_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    apply_synchronous(Synchronous::full);
    Tx tx(*this);
    set_meta("open", "0");
    LJ_TRY(tx.commit());
    cache_.clear();
    return {};
  });
}

Status Db::integrity_check() {
  return guarded("integrity_check", [&]() -> Status {
    SQLite::Statement q(db_, "PRAGMA integrity_check(20)");
    std::string problems;
    while (q.executeStep()) {
      std::string line = q.getColumn(0).getString();
      if (line == "ok") continue;
      if (!problems.empty()) problems += "; ";
      problems += line;
    }
    if (!problems.empty()) {
      return fail(Errc::internal, kDomain,
                  fmt::format("integrity_check of {}: {}", path_, problems));
    }
    return {};
  });
}

}  // namespace lj::index
