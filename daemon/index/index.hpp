// The daemon's state index: one SQLite file, <root>/.ljd/index.db, owned by ljd. It holds worlds,
// overlays, builds, jails (with their process handles and exit records), the global mounts a jail
// holds (FreeBSD) and the durable, gapless event log.
//
// Contract for callers:
// - Thread ownership: an Index is used from ONE thread, the daemon's state strand. It caches
//   prepared statements and keeps no lock; calling it from two threads at once is a bug.
// - Every state change that publishes an event writes the row AND appends the event in one SQLite
//   transaction and returns the event (with its seq). Publish it to subscribers only after the call
//   returned: then the row is always written before the event is seen, and a crash at any instant
//   leaves either both or neither (see docs/index.md).
// - Errors are lj::Error with domain "index": a missing row -> not_found, a duplicate name/key ->
//   exists, a transition from the wrong state -> conflict, SQLITE_BUSY -> busy, disk full ->
//   no_space, a read-only/unwritable file -> permission_denied, anything else -> system/internal
//   carrying SQLite's message. No exception leaves this class.
// - No SQLite type appears here: rows are plain structs whose fields are named like the columns and
//   the JSON API (snake_case).
// - Ids: jail ids ("j-3f1a9c2e") and build ids ("b-0c4d77a1") are 8 random hex digits generated
//   here when the caller leaves them empty (a collision is retried); a caller may supply its own.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.hpp"

namespace lj::index {

// Wall-clock time at millisecond precision, stored as INTEGER milliseconds since the Unix epoch.
using Time = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
Time now();
// RFC 3339 in UTC with milliseconds ("2026-11-24T19:51:32.767Z"): every time the API sends,
// those in event data included.
std::string rfc3339(Time t);

// ---- states (stored and sent on the wire by these exact names) ----

enum class WorldState { importing, ready, failed };
enum class BuildState { queued, running, succeeded, failed, cancelled };
// creating: row written, root being mounted; created: ready to start; running: process alive;
// stopping: a stop was requested; exited: the process tree is gone and its exit is recorded;
// removed: deleted by the user (or auto_remove), kept as a record for the retention window.
enum class JailState { creating, created, running, stopping, exited, removed };

std::string_view to_string(WorldState s);
std::string_view to_string(BuildState s);
std::string_view to_string(JailState s);
std::optional<WorldState> world_state_from(std::string_view s);
std::optional<BuildState> build_state_from(std::string_view s);
std::optional<JailState> jail_state_from(std::string_view s);

// ---- rows ----

struct WorldRow {
  std::string name;    // primary key
  std::string path;    // root/worlds/<name>
  std::string source;  // the directory or tarball it was imported from
  WorldState state = WorldState::importing;
  std::uint64_t size_bytes = 0;
  Time created_at{};  // set by insert when left at the epoch
  std::string error;  // JSON text {"code","message"} when failed, else empty
};

struct OverlayRow {
  std::string name;  // "ns/name"; (name, version) is the key
  std::string version;
  std::string world;
  std::string parent_name;     // empty when built directly on the world
  std::string parent_version;  // the resolved version of the parent
  std::string manifest;        // JSON text of the manifest
  std::uint64_t size_bytes = 0;
  Time created_at{};
};

struct BuildRow {
  std::string id;  // "b-xxxxxxxx"; generated when empty
  BuildState state = BuildState::queued;
  std::string jailfile;  // the Jailfile text when given inline
  std::string context;   // the context directory when given
  std::string name;      // the overlay name and version, once known (parsed or published)
  std::string version;
  bool published = false;  // the overlay (name, version) was published by this build
  bool cache_hit = false;
  std::string error;  // JSON text {"code","message",...} when failed, else empty
  std::string log_path;
  Time created_at{};
  std::optional<Time> started_at;
  std::optional<Time> ended_at;
};

struct JailRow {
  std::string id;    // "j-xxxxxxxx"; generated when empty
  std::string name;  // unique among jails not removed; defaults to the id
  JailState state = JailState::creating;
  std::string spec;                           // JSON text of the create request
  std::map<std::string, std::string> labels;  // stored as a JSON object
  bool auto_remove = false;
  std::uint32_t owner_uid = 0;  // the uid that created it
  // The process handle: pid plus its start time (Linux: /proc/PID/stat field 22, clock ticks since
  // boot) so a reused pid is never mistaken for the jail; cgroup path; FreeBSD jid (0 = none).
  std::int64_t pid = 0;
  std::uint64_t start_time = 0;
  std::string cgroup;
  std::int64_t jid = 0;
  Time created_at{};
  std::optional<Time> started_at;
  // The exit record; it outlives the jail (state removed) for the retention window.
  std::optional<Time> exited_at;
  std::optional<int> exit_code;    // set when the main process exited normally
  std::optional<int> exit_signal;  // set when it was killed by a signal
  bool oom = false;
  bool timed_out = false;
  bool lost = false;  // ljd could not learn how it ended (it died while ljd was down)
  std::string log_path;
  std::optional<Time> removed_at;
};

struct ExitRecord {
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  bool oom = false;
  bool timed_out = false;
  bool lost = false;
  Time exited_at{};  // now() when left at the epoch
};

struct JailMountRow {
  std::string jail_id;
  std::int64_t seq = 0;  // order of mounting, from 1; unmount in reverse
  std::string target;
  std::string fstype;
};

struct EventRow {
  std::int64_t seq = 0;  // gapless and monotonic from 1, never reused
  Time time{};
  std::string type;      // "jail.started", "build.succeeded", "world.ready", ...
  std::string resource;  // the id or name of the resource ("j-3f1a9c2e", "ns/app@1.2.0")
  std::optional<std::uint32_t> uid;  // the requesting uid; empty when ljd acted on its own
  std::string data;                  // JSON text (an object), "{}" when nothing to add
};

// The answer to events_since(): the events after `since`, and where the log starts now.
struct EventBatch {
  std::vector<EventRow> events;
  std::int64_t first_seq = 0;  // the oldest seq still stored (last_seq + 1 when the log is empty)
  std::int64_t last_seq = 0;   // the newest seq ever written (0 when none)
  // True when the reader asked to resume before first_seq: the events between were pruned by
  // retention and the reader must resynchronise (list the resources) before reading on.
  bool pruned = false;
  // The index's event epoch (see Index::epoch()); a reader that saw another epoch resynchronises.
  std::string epoch;
};

// ---- filters ----

struct JailFilter {
  std::vector<JailState> states;                            // empty: every state except removed
  std::vector<std::pair<std::string, std::string>> labels;  // all must match (key = value)
  std::optional<std::uint32_t> owner_uid;
};

struct RetentionStats {
  std::int64_t jails = 0;   // exited/removed jail rows purged
  std::int64_t builds = 0;  // finished build rows purged
  std::int64_t events = 0;  // events pruned from the oldest end
  // The log files of the purged jails and builds, for the caller to unlink.
  std::vector<std::string> log_paths;
};

// ---- the index ----

enum class Synchronous { normal, full };

struct Options {
  // WAL + synchronous=NORMAL (the default) never corrupts the file; a crash of ljd loses nothing
  // committed; a power cut or kernel crash can lose the transactions committed since the last
  // checkpoint (the epoch then changes, see epoch()). FULL fsyncs the WAL on every commit and
  // loses nothing committed, at one fdatasync per transaction. Measured in docs/index.md.
  Synchronous synchronous = Synchronous::normal;
  std::chrono::milliseconds busy_timeout{5000};
  // Identifies this boot of the machine; empty: read from the system (Linux
  // /proc/sys/kernel/random/boot_id, FreeBSD kern.boottime). Tests set it to simulate a reboot.
  std::string boot_id;
};

// The newest schema version this binary knows.
int schema_version_supported();

// <root>/.ljd/index.db
std::string index_path(std::string_view root);

// Owned by the daemon's state strand: every call from that one thread (see the top of this file).
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
  // Checkpoints the WAL into the database file (fsync), then records a clean close durably. The
  // destructor does the same when close() was not called; after close() only the destructor may
  // be called.
  Status close();

  // ---- jails ----
  // Inserts a jail in state creating (row.state is ignored); no event: the jail becomes visible
  // with jail.created or jail.started. Fills id, name and created_at when empty. Errors: exists
  // when the name is taken by a jail not removed (or the id is taken).
  Result<JailRow> insert_jail(JailRow row);
  // creating -> created; event "jail.created".
  Result<EventRow> jail_created(std::string_view id, std::optional<std::uint32_t> uid);
  // creating|created -> running with the process handle; event "jail.started".
  Result<EventRow> jail_started(std::string_view id, std::int64_t pid, std::uint64_t start_time,
                                std::string_view cgroup, std::int64_t jid,
                                std::optional<std::uint32_t> uid);
  // running -> stopping; event "jail.stopping".
  Result<EventRow> jail_stopping(std::string_view id, std::optional<std::uint32_t> uid);
  // creating|created|running|stopping -> exited with the exit record; event "jail.exited" whose
  // data carries the record. pid/start_time stay as a record (recovery only looks at live states).
  Result<EventRow> record_exit(std::string_view id, const ExitRecord& exit,
                               std::optional<std::uint32_t> uid = std::nullopt);
  // Any state but removed -> removed; event "jail.removed". The row (and exit record) stays until
  // retention purges it; the name is free again at once. Whether a running jail may be removed is
  // the caller's decision (stop it first). Recorded mounts are kept until remove_jail_mount(): a
  // jail whose mounts are still recorded is never purged, so a failed unmount is never forgotten.
  Result<EventRow> jail_removed(std::string_view id, std::optional<std::uint32_t> uid);
  // Deletes the row and its mounts outright, without an event (a create that failed before
  // anybody could see the jail). not_found when absent.
  Status delete_jail(std::string_view id);
  // Sets auto_remove: a forced delete of a running jail, persisted before the kill, so that a
  // jail whose daemon dies before the removal is removed when its end is recorded (recovery).
  Status set_auto_remove(std::string_view id);

  // By id; else by name among jails not removed; else the newest removed jail of that name.
  Result<JailRow> get_jail(std::string_view id_or_name);
  Result<std::vector<JailRow>> list_jails(const JailFilter& filter = {});
  // Recovery: jails in creating|created|running|stopping.
  Result<std::vector<JailRow>> list_jails_in_flight();

  // FreeBSD records each global mount here BEFORE making it, and forgets it after unmounting.
  Result<JailMountRow> add_jail_mount(std::string_view jail_id, std::string_view target,
                                      std::string_view fstype);
  Result<std::vector<JailMountRow>> list_jail_mounts(std::string_view jail_id);  // by seq
  Status remove_jail_mount(std::string_view jail_id, std::int64_t seq);

  // ---- builds ----
  // Inserts in state queued; event "build.queued". Fills id and created_at when empty.
  Result<std::pair<BuildRow, EventRow>> insert_build(BuildRow row,
                                                     std::optional<std::uint32_t> uid);
  // queued -> running; event "build.started".
  Result<EventRow> build_started(std::string_view id, std::optional<std::uint32_t> uid);
  // queued|running -> succeeded|failed|cancelled with the result fields of `result` (name,
  // version, published, cache_hit, error); event "build.<state>".
  Result<EventRow> build_finished(std::string_view id, BuildState state, const BuildRow& result,
                                  std::optional<std::uint32_t> uid);
  Result<BuildRow> get_build(std::string_view id);
  Result<std::vector<BuildRow>> list_builds(std::optional<BuildState> state = std::nullopt);
  // Recovery: builds queued|running.
  Result<std::vector<BuildRow>> list_builds_in_flight();

  // ---- worlds ----
  // Inserts in state importing; event "world.importing".
  Result<EventRow> insert_world(WorldRow row, std::optional<std::uint32_t> uid);
  // importing -> ready; event "world.ready".
  Result<EventRow> world_ready(std::string_view name, std::uint64_t size_bytes,
                               std::optional<std::uint32_t> uid);
  // importing -> failed; event "world.failed".
  Result<EventRow> world_failed(std::string_view name, std::string_view error_json,
                                std::optional<std::uint32_t> uid);
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
  // Purges exited/removed jails that ended before `cutoff` (none with mounts recorded), finished
  // builds that ended before it, and events older than it; events go only from the oldest end, so
  // the log stays gapless and last_event_seq() is unchanged.
  Result<RetentionStats> purge(Time cutoff);

 private:
  struct Impl;
  explicit Index(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace lj::index
