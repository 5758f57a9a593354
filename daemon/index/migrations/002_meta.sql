-- The index's own state: epoch (see Index::epoch()), boot_id and open ("1" from open to a clean
-- close), to tell a power loss from a crash of ljd.
CREATE TABLE meta (
  key   TEXT PRIMARY KEY NOT NULL,
  value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
