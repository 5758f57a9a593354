-- Exec sessions (issue 13): one more command in a running jail, created, then started once. Its
-- monitor's pid and start time identify it across a restart of ljd (re-adopted like a jail); the
-- exit record is durable and goes with its jail's row (retention purges both).
CREATE TABLE execs (
  id          TEXT PRIMARY KEY NOT NULL,  -- "x-xxxxxxxx"
  jail_id     TEXT NOT NULL REFERENCES jails (id) ON DELETE CASCADE,
  spec        TEXT NOT NULL,              -- JSON of the create request (ExecCreate)
  state       TEXT NOT NULL CHECK (state IN ('created', 'running', 'exited')),
  owner_uid   INTEGER NOT NULL DEFAULT 0,
  pid         INTEGER NOT NULL DEFAULT 0, -- the monitor (lj-exec), a host pid
  start_time  INTEGER NOT NULL DEFAULT 0, -- its /proc/PID/stat field 22
  created_at  INTEGER NOT NULL,
  started_at  INTEGER,
  exited_at   INTEGER,
  exit_code   INTEGER,
  exit_signal INTEGER,
  lost        INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX execs_by_jail ON execs (jail_id, created_at);
