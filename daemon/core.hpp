// The daemon's state and the services the API calls. Everything here is owned by the loop thread
// (the one thread running Runtime::run): the jail table, the index and the event bus are touched
// from nowhere else. Blocking work goes to Loop::blocking and posts its result back.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/error.hpp"
#include "daemon/config.hpp"
#include "daemon/loop.hpp"
#include "index/index.hpp"
#include "jail/backend.hpp"
#include "overlay/catalog.hpp"

namespace lj::daemon {

// Fans events out to live subscribers after the index has written them (rows first, then the
// event, then subscribers: a subscriber never sees an event whose row is not on disk).
class EventBus {
 public:
  // Returns false to be unsubscribed.
  using Subscriber = std::function<bool(const index::EventRow&)>;
  std::uint64_t subscribe(Subscriber s);
  void unsubscribe(std::uint64_t token);
  void publish(const index::EventRow& e);
  std::size_t subscribers() const { return subs_.size(); }

 private:
  std::map<std::uint64_t, Subscriber> subs_;
  std::uint64_t next_ = 1;
};

class Jails;
class Networks;
class Resources;
class Images;
class Execs;

// What start-up reconciliation found and did: logged at the end of recovery and shown by
// GET /v1/info ("recovery"). Filled on the loop thread by main and the recover() calls.
struct RecoveryReport {
  std::string integrity = "unchecked";  // PRAGMA integrity_check at start: "ok" or SQLite's text
  int adopted = 0;                      // running jails re-adopted
  int ended = 0;      // jails that ended while ljd was down, exit read from their status file
  int lost = 0;       // jails that ended while ljd was down, how unknown (recorded lost)
  int discarded = 0;  // jails caught in create (never visible): killed, released, row deleted
  int reset = 0;      // created jails checked: whatever a start under way had spawned was killed
  int builds_failed = 0, builds_published = 0;
  int imports_failed = 0, imports_ready = 0;
  std::size_t staging_removed = 0;
  int overlay_rows_removed = 0;
  int unknown_released = 0;  // jails of this root no index row names (index lost): released
  std::int64_t took_ms = 0;
};

// Exit records the index refused (SQLITE_BUSY: another process holds its write lock;
// SQLITE_FULL: the disk is full). The jail's status file is kept until the record commits, the
// write is retried with backoff, and GET /v1/info ("exit_records") shows what is pending.
struct ExitRecordHealth {
  std::uint64_t failed_writes = 0;  // attempts that failed since start
  int pending = 0;                  // exits not yet recorded (retrying)
  std::string last_error;           // the last failure's text
};

// The index file deleted or replaced while ljd runs (docs/index.md, "The file deleted or
// replaced"): seen by check_index_file(), shown by GET /v1/info ("index": "file", "restores").
struct IndexFileHealth {
  std::string state = "ok";  // "ok", or what became of the file and why it is not restored yet
  int restores = 0;          // times ljd put its open index back at its path
  std::string last_restore;  // what the last restore found and did
};

struct Daemon {
  Daemon(Config c, Loop& l, std::unique_ptr<jail::Backend> b, index::Index i);
  ~Daemon();

  // Publishes the event of a successful index transition; returns the error otherwise.
  Status emit(Result<index::EventRow> ev);

  // Whether the index file at its path is the one ljd writes. When it was deleted or replaced,
  // ljd's open connection (which still reads everything) is written back to the path, the file
  // found there kept aside, and the index reopened: true then too. False while that fails (the
  // reason in index_file.state): callers keep what they would have written (an exit's status
  // file) and try again. Run every second (watch_index_file), before every exit record and at
  // shutdown.
  bool check_index_file();
  // Starts the once-a-second check.
  void watch_index_file();

  Config cfg;
  Loop& loop;
  std::unique_ptr<jail::Backend> backend;  // null: this build has no jail backend
  index::Index idx;
  EventBus events;
  overlay::Catalog catalog;  // immutable; its mutations are serialized on the loop thread
  // Before jails: destroyed after them (a live jail's links point into its host).
  std::unique_ptr<Networks> networks;  // networks and the jails' leases on them
  std::unique_ptr<Jails> jails;
  std::unique_ptr<Resources> resources;  // worlds, overlays, builds
  std::unique_ptr<Images> images;        // the OCI image store and its jobs
  std::unique_ptr<Execs> execs;          // exec sessions in running jails (issue 13)
  bool ready = false;                    // recovery done: serve every route
  RecoveryReport recovery;
  ExitRecordHealth exit_records;
  IndexFileHealth index_file;
  std::unique_ptr<Watch> index_file_timer;
  bool stopping = false;  // shutdown begun: refuse new jails
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

}  // namespace lj::daemon
