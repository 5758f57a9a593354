// The daemon's state index: one SQLite file, <root>/.ljd/index.db, owned by ljd. It holds worlds,
// overlays, builds, jails (with their process handles and exit records) and the durable, gapless
// event log. Files: see docs/index.md ("Layout"); the lifecycles are the tables of states.hpp.
//
// Contract for callers:
// - Thread ownership: an Index is used from ONE thread, the daemon's state strand. It caches
//   prepared statements and keeps no lock; calling it from two threads at once is a bug.
// - Every state change that publishes an event writes the row AND appends the event in one SQLite
//   transaction and returns the event (with its seq). Publish it to subscribers only after the call
//   returned: then the row is always written before the event is seen, and a crash at any instant
//   leaves either both or neither (see docs/index.md).
// - Errors are lj::Error with domain "index": a missing row -> not_found, a duplicate name/key ->
//   exists, a transition its lifecycle table does not list -> conflict, SQLITE_BUSY -> busy, disk
//   full -> no_space, a read-only/unwritable file -> permission_denied, anything else ->
//   system/internal carrying SQLite's message. No exception leaves this class.
// - No SQLite type appears here: rows are plain structs whose fields are named like the columns and
//   the JSON API (snake_case).
// - Ids: jail ids ("j-3f1a9c2e") and build ids ("b-0c4d77a1") are 8 random hex digits generated
//   here when the caller leaves them empty (a collision is retried); a caller may supply its own.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"
#include "index/execs.hpp"
#include "index/rows.hpp"
#include "index/states.hpp"

namespace lj::index {

class Db;

// The newest schema version this binary knows.
int schema_version_supported();

// <root>/.ljd/index.db
std::string index_path(std::string_view root);

// Owned by the daemon's state strand: every call from that one thread (see the top of this file).
// A thin facade: each call is one function of a concern (jails.cpp, builds.cpp, catalog.cpp,
// events.cpp, retention.cpp) over the one connection (db.cpp).
class Index {
 public:
  // Opens (creating when missing) the index at `path` (":memory:" for a private in-memory index),
  // sets the pragmas and applies pending migrations, each in its own transaction. The parent
  // directory must exist. Errors: a schema newer than this binary -> unsupported; an unwritable or
  // read-only file -> permission_denied; not a database / corrupt -> internal.
  static Result<Index> open(const std::string& path, const Options& options = {});

  Index(Index&&) noexcept;
  Index& operator=(Index&&) noexcept;
  ~Index();

  const std::string& path() const;
  Result<int> schema_version();
  // PRAGMA integrity_check: ok, or internal with the first problems SQLite reports.
  Status integrity_check();

  // The event epoch: random hex, fixed at the index's creation, changed only when the index is
  // opened after the machine went down (another boot_id) while the index was open. Only then can
  // synchronous=NORMAL have lost committed transactions, so the seqs after the last durable one
  // may be handed out again: a subscriber pairs (epoch, seq) and resynchronises when the epoch
  // changes. A crash of ljd alone keeps the epoch (nothing committed is lost).
  const std::string& epoch() const;
  // True when this open changed the epoch (the daemon logs it and tells subscribers).
  bool epoch_changed() const;
  // The file deleted or replaced while ljd runs (docs/index.md, "The file deleted or replaced"):
  // nullopt while path() still names the file (and -wal) this index writes, else what became of
  // it ("deleted", "replaced (inode A -> B)", "its -wal deleted").
  std::optional<std::string> file_lost() const;
  // Puts this index's content, as it reads now, back at path(): a copy (VACUUM INTO, fsynced)
  // beside it, this connection closed, whatever file stands at path() now moved aside to
  // path().replaced-<ms> (with its -wal and -shm), the copy renamed in, and the index reopened on
  // it. Returns where a replacement was moved ("" when the path was empty). Nothing changes when
  // the copy fails (its directory gone, the disk full); the error says why.
  Result<std::string> restore_file();
  // Checkpoints the WAL into the database file (fsync), then records a clean close durably. The
  // destructor does the same when close() was not called; after close() only the destructor may
  // be called.
  Status close();

  // ---- state changes ----
  // THE way a jail, a build or a world import changes state, one overload per lifecycle. In one
  // transaction: the row's state is read, a change its table (states.hpp) does not list is refused
  // (not_found when the row is absent; conflict "jail j-1234: running -> creating is not a
  // transition"), the new state and what goes with it (`with`) are written, and the state's event
  // is appended (jails: data carries the name, plus pid for running, the exit record for
  // exited). Returns the event; publish it after the call returned.
  //   jails:  -> running records with.handle and started_at; -> exited the exit record
  //           (pid/start_time stay as a record); -> removed removed_at (the row stays until
  //           retention purges it, the name is free again at once). Whether a running jail may
  //           be removed is the caller's decision (stop it first).
  //   builds: -> running sets started_at; an end (succeeded|failed|cancelled) writes name,
  //           version, published, cache_hit, error of `result` and ended_at.
  //   worlds: -> ready records with.size_bytes; -> failed with.error.
  Result<EventRow> transition(std::string_view jail_id, JailState to, const JailChange& with = {},
                              std::optional<std::uint32_t> uid = std::nullopt);
  Result<EventRow> transition(std::string_view build_id, BuildState to, const BuildRow& result = {},
                              std::optional<std::uint32_t> uid = std::nullopt);
  Result<EventRow> transition(std::string_view world, WorldState to, const WorldChange& with = {},
                              std::optional<std::uint32_t> uid = std::nullopt);

  // ---- jails ----
  // Inserts a jail in state creating (row.state is ignored); no event: the jail becomes visible
  // with jail.created or jail.started. Fills id, name and created_at when empty. Errors: exists
  // when the name is taken by a jail not removed (or the id is taken).
  // `leases` (their jail_id is filled in) go in with the row, in its transaction: conflict when
  // an address is leased already (the UNIQUE keys of the leases table), and nothing is written.
  Result<JailRow> insert_jail(JailRow row, std::vector<LeaseRow> leases = {});
  // Deletes the row outright, without an event (a create that failed before anybody could see
  // the jail). not_found when absent.
  Status delete_jail(std::string_view id);
  // Sets auto_remove: a forced delete of a running jail, persisted before the kill, so that a
  // jail whose daemon dies before the removal is removed when its end is recorded (recovery).
  Status set_auto_remove(std::string_view id);

  // By id; else by name among jails not removed; else the newest removed jail of that name.
  Result<JailRow> get_jail(std::string_view id_or_name);
  Result<std::vector<JailRow>> list_jails(const JailFilter& filter = {});
  // Recovery: jails in creating|created|running|stopping.
  Result<std::vector<JailRow>> list_jails_in_flight();

  // ---- networks (issue 14) ----
  // Inserts a network; event "network.created". exists when the name is taken.
  Result<std::pair<NetworkRow, EventRow>> insert_network(NetworkRow row,
                                                         std::optional<std::uint32_t> uid);
  // Deletes it; event "network.removed". conflict (naming the jails) while it has leases.
  Result<EventRow> delete_network(std::string_view name, std::optional<std::uint32_t> uid);
  Result<NetworkRow> get_network(std::string_view name);
  Result<std::vector<NetworkRow>> list_networks();
  // The leases of one network, or of all when `network` is empty. A lease lives from its jail's
  // insert until release_leases (the daemon, once the jail's teardown has removed its rules),
  // release_ended_leases (recovery), the jail's removal or the row's deletion: an address is
  // never free while rules of its previous holder may still be on the host.
  Result<std::vector<LeaseRow>> list_leases(std::string_view network = {});
  Result<std::vector<LeaseRow>> jail_leases(std::string_view jail_id);
  // Frees one jail's leases; how many there were.
  Result<int> release_leases(std::string_view jail_id);
  // Frees the leases of every jail that has ended (exited, removed); how many there were.
  Result<int> release_ended_leases();

  // ---- exec sessions (issue 13; index/execs.hpp) ----
  // Inserts in state created, no event: not_found without the jail, conflict unless it is
  // running. Fills id and created_at.
  Result<ExecRow> insert_exec(ExecRow row);
  // -> running records with.handle (the monitor's pid, start time) and started_at, event
  // exec.started; -> exited the exit record, event exec.exited. Event data carries jail_id.
  Result<EventRow> transition(std::string_view exec_id, ExecState to, const ExecChange& with,
                              std::optional<std::uint32_t> uid = std::nullopt);
  Result<ExecRow> get_exec(std::string_view id);
  // A jail's execs (oldest first), or with jail_id empty every exec in `state`.
  Result<std::vector<ExecRow>> list_execs(std::string_view jail_id,
                                          std::optional<ExecState> state = std::nullopt);

  // ---- builds ----
  // Inserts in state queued; event "build.queued". Fills id and created_at when empty.
  Result<std::pair<BuildRow, EventRow>> insert_build(BuildRow row,
                                                     std::optional<std::uint32_t> uid);
  Result<BuildRow> get_build(std::string_view id);
  Result<std::vector<BuildRow>> list_builds(std::optional<BuildState> state = std::nullopt);
  // Recovery: builds queued|running.
  Result<std::vector<BuildRow>> list_builds_in_flight();

  // ---- worlds ----
  // Inserts in state importing; event "world.importing".
  Result<EventRow> insert_world(WorldRow row, std::optional<std::uint32_t> uid);
  // Deletes the row; event "world.removed". Whether it is in use is the caller's check.
  Result<EventRow> delete_world(std::string_view name, std::optional<std::uint32_t> uid);
  Result<WorldRow> get_world(std::string_view name);
  Result<std::vector<WorldRow>> list_worlds();
  // Recovery: worlds importing.
  Result<std::vector<WorldRow>> list_worlds_importing();

  // ---- overlays ----
  // Inserts a published overlay; event "overlay.published".
  Result<EventRow> insert_overlay(OverlayRow row, std::optional<std::uint32_t> uid);
  // Deletes the row; event "overlay.removed".
  Result<EventRow> delete_overlay(std::string_view name, std::string_view version,
                                  std::optional<std::uint32_t> uid);
  Result<OverlayRow> get_overlay(std::string_view name, std::string_view version);
  // Every overlay, or the versions of one name; ordered by name, then created_at.
  Result<std::vector<OverlayRow>> list_overlays(std::string_view name = {});

  // ---- events ----
  // Appends an event that goes with no row change of this index (e.g. "jail.oom_warning").
  Result<EventRow> append_event(std::string_view type, std::string_view resource,
                                std::optional<std::uint32_t> uid,
                                std::string_view data_json = "{}");
  // At most `limit` events with seq > since, oldest first.
  Result<EventBatch> events_since(std::int64_t since, std::size_t limit = 1000);
  // The newest seq ever written; 0 on a fresh index. Never goes back, even when pruned.
  Result<std::int64_t> last_event_seq();

  // ---- retention ----
  // Purges exited/removed jails that ended before `cutoff`, finished builds that ended before
  // it, and events older than it; events go only from the oldest end, so the log stays gapless
  // and last_event_seq() is unchanged.
  Result<RetentionStats> purge(Time cutoff);

 private:
  explicit Index(std::unique_ptr<Db> db);
  std::unique_ptr<Db> db_;
};

}  // namespace lj::index
