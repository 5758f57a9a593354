// The facade: each call is one function of a concern over the one connection. See index.hpp for
// the contract, docs/index.md for the layout.
#include "index/index.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include <spdlog/fmt/fmt.h>

#include "common/fd.hpp"

#include "index/builds.hpp"
#include "index/catalog.hpp"
#include "index/db.hpp"
#include "index/events.hpp"
#include "index/jails.hpp"
#include "index/networks.hpp"
#include "index/retention.hpp"

namespace lj::index {

int schema_version_supported() {
  return latest_schema_version();
}

std::string index_path(std::string_view root) {
  std::string p(root);
  if (p.empty()) p = "/usr/local/lj";
  if (p.back() != '/') p += '/';
  return p + ".ljd/index.db";
}

Result<Index> Index::open(const std::string& path, const Options& options) {
  return Index(LJ_TRY(Db::open(path, options)));
}

Index::Index(std::unique_ptr<Db> db) : db_(std::move(db)) {}
Index::Index(Index&&) noexcept = default;
// The index replaced is closed cleanly (~Db).
Index& Index::operator=(Index&&) noexcept = default;
Index::~Index() = default;

const std::string& Index::path() const {
  return db_->path();
}
const std::string& Index::epoch() const {
  return db_->epoch();
}
bool Index::epoch_changed() const {
  return db_->epoch_changed();
}
std::optional<std::string> Index::file_lost() const {
  return db_->file_lost();
}

Result<std::string> Index::restore_file() {
  const std::string path = db_->path();
  const Options options = db_->options();
  const std::string copy = path + ".restore";
  // Made empty and 0600 first (VACUUM INTO writes into an empty file, and would create one 0644):
  // the index holds jail specs. A leftover of an earlier attempt goes first.
  ::unlink(copy.c_str());
  if (UniqueFd fd(::open(copy.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)); !fd) {
    return fail_errno(kDomain, "creating " + copy);
  }
  if (auto st = db_->copy_to(copy); !st) {
    ::unlink(copy.c_str());
    return fail(std::move(st).error());
  }
  // Closed before anything takes the path: the old connection's -wal and -shm bear the path's
  // name, and a new connection must not open them.
  (void)db_->close();
  db_.reset();
  std::string aside;
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    const std::string to = fmt::format("{}.replaced-{}", path, ms(now()));
    aside = to;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      const std::string from = path + suffix;
      if (::rename(from.c_str(), (to + suffix).c_str()) != 0 && errno != ENOENT) {
        aside += fmt::format(" (moving {} aside: {})", from, std::strerror(errno));
      }
    }
  }
  // Should the rename or the open fail, ljd goes on with the copy where it lies, else (nothing
  // durable left to write to) with a private in-memory index; either way the error says why.
  Status renamed;
  if (::rename(copy.c_str(), path.c_str()) != 0) {
    renamed = fail_errno(kDomain, fmt::format("renaming {} to {}", copy, path));
  }
  Result<std::unique_ptr<Db>> db = fail(Errc::internal, kDomain, "not reopened");
  if (renamed) {
    db = Db::open(path, options);
  } else {
    db = fail(renamed.error());
  }
  if (!db) {
    auto fallback = Db::open(renamed ? std::string(":memory:") : copy, options);
    if (!fallback) fallback = Db::open(":memory:", options);
    if (!fallback) std::abort();  // SQLite cannot even open memory: nothing sane remains
    db_ = std::move(*fallback);
    return fail(std::move(db).error());
  }
  db_ = std::move(*db);
  return aside;
}

Status Index::close() {
  return db_->close();
}
Result<int> Index::schema_version() {
  return db_->guarded("reading schema version",
                      [&]() -> Result<int> { return db_->user_version(); });
}
Status Index::integrity_check() {
  return db_->integrity_check();
}

// ---- state changes ----

Result<EventRow> Index::transition(std::string_view jail_id, JailState to, const JailChange& with,
                                   std::optional<std::uint32_t> uid) {
  return jails::transition(*db_, jail_id, to, with, uid);
}
Result<EventRow> Index::transition(std::string_view build_id, BuildState to, const BuildRow& result,
                                   std::optional<std::uint32_t> uid) {
  return builds::transition(*db_, build_id, to, result, uid);
}
Result<EventRow> Index::transition(std::string_view world, WorldState to, const WorldChange& with,
                                   std::optional<std::uint32_t> uid) {
  return catalog::transition(*db_, world, to, with, uid);
}

// ---- exec sessions ----

Result<ExecRow> Index::insert_exec(ExecRow row) { return execs::insert(*db_, std::move(row)); }
Result<EventRow> Index::transition(std::string_view exec_id, ExecState to, const ExecChange& with,
                                   std::optional<std::uint32_t> uid) {
  return execs::transition(*db_, exec_id, to, with, uid);
}
Result<ExecRow> Index::get_exec(std::string_view id) { return execs::get(*db_, id); }
Result<std::vector<ExecRow>> Index::list_execs(std::string_view jail_id,
                                               std::optional<ExecState> state) {
  return execs::list(*db_, jail_id, state);
}

// ---- jails ----

Result<JailRow> Index::insert_jail(JailRow row, std::vector<LeaseRow> leases) {
  return jails::insert(*db_, std::move(row), std::move(leases));
}

Result<std::pair<NetworkRow, EventRow>> Index::insert_network(NetworkRow row,
                                                              std::optional<std::uint32_t> uid) {
  return networks::insert(*db_, std::move(row), uid);
}
Result<EventRow> Index::delete_network(std::string_view name, std::optional<std::uint32_t> uid) {
  return networks::erase(*db_, name, uid);
}
Result<NetworkRow> Index::get_network(std::string_view name) {
  return networks::get(*db_, name);
}
Result<std::vector<NetworkRow>> Index::list_networks() {
  return networks::list(*db_);
}
Result<std::vector<LeaseRow>> Index::list_leases(std::string_view network) {
  return networks::leases_of_network(*db_, network);
}
Result<std::vector<LeaseRow>> Index::jail_leases(std::string_view jail_id) {
  return networks::leases_of_jail(*db_, jail_id);
}
Result<int> Index::release_leases(std::string_view jail_id) {
  return networks::release(*db_, jail_id);
}
Result<int> Index::release_ended_leases() {
  return networks::release_ended(*db_);
}
Status Index::delete_jail(std::string_view id) {
  return jails::erase(*db_, id);
}
Status Index::set_auto_remove(std::string_view id) {
  return jails::set_auto_remove(*db_, id);
}
Result<JailRow> Index::get_jail(std::string_view id_or_name) {
  return jails::get(*db_, id_or_name);
}
Result<std::vector<JailRow>> Index::list_jails(const JailFilter& filter) {
  return jails::list(*db_, filter);
}
Result<std::vector<JailRow>> Index::list_jails_in_flight() {
  JailFilter f;
  f.states = {JailState::creating, JailState::created, JailState::running, JailState::stopping};
  return jails::list(*db_, f);
}

// ---- builds ----

Result<std::pair<BuildRow, EventRow>> Index::insert_build(BuildRow row,
                                                          std::optional<std::uint32_t> uid) {
  return builds::insert(*db_, std::move(row), uid);
}
Result<BuildRow> Index::get_build(std::string_view id) {
  return builds::get(*db_, id);
}
Result<std::vector<BuildRow>> Index::list_builds(std::optional<BuildState> state) {
  return builds::list(*db_, state ? std::vector{*state} : std::vector<BuildState>{});
}
Result<std::vector<BuildRow>> Index::list_builds_in_flight() {
  return builds::list(*db_, {BuildState::queued, BuildState::running});
}

// ---- worlds and overlays ----

Result<EventRow> Index::insert_world(WorldRow row, std::optional<std::uint32_t> uid) {
  return catalog::insert_world(*db_, std::move(row), uid);
}
Result<EventRow> Index::delete_world(std::string_view name, std::optional<std::uint32_t> uid) {
  return catalog::delete_world(*db_, name, uid);
}
Result<WorldRow> Index::get_world(std::string_view name) {
  return catalog::get_world(*db_, name);
}
Result<std::vector<WorldRow>> Index::list_worlds() {
  return catalog::list_worlds(*db_, std::nullopt);
}
Result<std::vector<WorldRow>> Index::list_worlds_importing() {
  return catalog::list_worlds(*db_, WorldState::importing);
}
Result<EventRow> Index::insert_overlay(OverlayRow row, std::optional<std::uint32_t> uid) {
  return catalog::insert_overlay(*db_, std::move(row), uid);
}
Result<EventRow> Index::delete_overlay(std::string_view name, std::string_view version,
                                       std::optional<std::uint32_t> uid) {
  return catalog::delete_overlay(*db_, name, version, uid);
}
Result<OverlayRow> Index::get_overlay(std::string_view name, std::string_view version) {
  return catalog::get_overlay(*db_, name, version);
}
Result<std::vector<OverlayRow>> Index::list_overlays(std::string_view name) {
  return catalog::list_overlays(*db_, name);
}

// ---- events and retention ----

Result<EventRow> Index::append_event(std::string_view type, std::string_view resource,
                                     std::optional<std::uint32_t> uid, std::string_view data_json) {
  return events::append(*db_, type, resource, uid, data_json);
}
Result<EventBatch> Index::events_since(std::int64_t since, std::size_t limit) {
  return events::since(*db_, since, limit);
}
Result<std::int64_t> Index::last_event_seq() {
  return events::last_seq(*db_);
}
Result<RetentionStats> Index::purge(Time cutoff) {
  return retention::purge(*db_, cutoff);
}

}  // namespace lj::index
