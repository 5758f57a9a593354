// The index's rows and filters: plain structs whose fields are named like the columns and the JSON
// API (snake_case). No SQLite type appears here.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "index/states.hpp"

namespace lj::index {

// Wall-clock time at millisecond precision, stored as INTEGER milliseconds since the Unix epoch.
using Time = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;
Time now();
// RFC 3339 in UTC with milliseconds ("2026-11-24T19:51:32.767Z"): every time the API sends,
// those in event data included.
std::string rfc3339(Time t);

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

// A network of ljd's (issue 14): its addresses as text ("10.88.0.0/16", "10.88.0.1"); the IPv6
// pair empty when it has none.
struct NetworkRow {
  std::string name;  // primary key
  std::string id;    // "n-xxxxxxxx", names the host's bridge; generated when empty
  std::string subnet4, gateway4;
  std::string subnet6, gateway6;
  bool internal = false;
  Time created_at{};
};

// A jail's place on one network: its addresses there.
struct LeaseRow {
  std::string jail_id;
  std::string network;
  int position = 0;  // the jail's n-th network (its link's index)
  std::string address4;
  std::string address6;  // empty: none
};

struct ExitRecord {
  std::optional<int> exit_code;
  std::optional<int> exit_signal;
  bool oom = false;
  bool timed_out = false;
  bool lost = false;
  Time exited_at{};  // now() when left at the epoch
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

// ---- what a transition writes besides the state (see Index::transition) ----

// A jail's process, recorded with `running` so that recovery can find it again.
struct ProcessHandle {
  std::int64_t pid = 0;
  std::uint64_t start_time = 0;  // Linux: /proc/PID/stat field 22
  std::string cgroup;
  std::int64_t jid = 0;  // FreeBSD; 0 = none
};

// Each field goes with one target state and is ignored for the others. Made from the part that
// matters: transition(id, JailState::running, handle) or transition(id, JailState::exited, exit).
struct JailChange {
  JailChange() = default;
  JailChange(ProcessHandle h) : handle(std::move(h)) {}  // NOLINT: implicit on purpose
  JailChange(const ExitRecord& e) : exit(e) {}           // NOLINT: implicit on purpose
  ProcessHandle handle;                                  // -> running (also sets started_at)
  ExitRecord exit;                                       // -> exited: the exit record
};

// transition(name, WorldState::ready, size_bytes) or transition(name, WorldState::failed, error).
struct WorldChange {
  WorldChange() = default;
  WorldChange(std::uint64_t size) : size_bytes(size) {}    // NOLINT: implicit on purpose
  WorldChange(std::string err) : error(std::move(err)) {}  // NOLINT: implicit on purpose
  std::uint64_t size_bytes = 0;                            // -> ready
  std::string error;  // -> failed: JSON text {"code","message"}
};

// ---- opening ----

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

}  // namespace lj::index
