-- Networks (issue 14) and the address leases of the jails on them. A lease is a jail's place on
-- one network: its IPv4 address and, on a network with IPv6, its IPv6 address. The UNIQUE keys
-- are what makes an address never handed out twice, whatever the daemon's allocator believed.
CREATE TABLE networks (
  name       TEXT PRIMARY KEY NOT NULL,
  id         TEXT NOT NULL UNIQUE,   -- "n-xxxxxxxx": names the host's bridge (ljbr-xxxxxxxx)
  subnet4    TEXT NOT NULL,
  gateway4   TEXT NOT NULL,
  subnet6    TEXT NOT NULL DEFAULT '',
  gateway6   TEXT NOT NULL DEFAULT '',
  internal   INTEGER NOT NULL DEFAULT 0,
  created_at INTEGER NOT NULL
) STRICT;

-- No cascade from networks: a network with leases cannot be deleted (the daemon says which jails
-- hold it). A jail's row deleted outright (a create rolled back) takes its leases with it.
CREATE TABLE leases (
  jail_id  TEXT NOT NULL REFERENCES jails (id) ON DELETE CASCADE,
  network  TEXT NOT NULL REFERENCES networks (name),
  position INTEGER NOT NULL,          -- the jail's n-th network: its link is ljve-<id>[n]
  address4 TEXT NOT NULL,
  address6 TEXT,                      -- NULL: the network has no IPv6
  PRIMARY KEY (jail_id, network),
  UNIQUE (network, address4),
  UNIQUE (network, address6)
) STRICT;

-- Released in the same transaction as the jail's row: the state change that ends a jail frees
-- its addresses, so a lease outlives its jail only while the jail can still run.
CREATE TRIGGER leases_release AFTER UPDATE OF state ON jails
  WHEN NEW.state IN ('exited', 'removed')
BEGIN
  DELETE FROM leases WHERE jail_id = NEW.id;
END;
