-- Schema version 1: the resources (worlds, overlays, builds, jails), the mounts a jail holds
-- (dropped by 003) and the event log.

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
