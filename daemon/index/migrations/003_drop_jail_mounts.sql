-- jail_mounts (version 1) was never written by ljd, only by tests. FreeBSD's record of a jail's
-- global mounts is the kernel's own mount table: every mount of a jail lies under its directory
-- (<root>/.ljd/jails/<name>), and recovery unmounts what getmntinfo(3) lists there. On Linux a
-- jail's mounts live and die in its own mount namespace. See docs/index.md, "Mounts".
DROP TABLE IF EXISTS jail_mounts;
