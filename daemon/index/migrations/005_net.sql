-- Leases are released after the jail's rules are gone (issue 14: teardown is the reverse of
-- setup). Migration 004 freed them with the exit record, a moment before the teardown deleted
-- the jail's rules: a new jail given the same address (or publishing the same host port) in that
-- window failed to attach. Now the daemon releases them itself once the teardown has detached the
-- jail (Index::release_leases), and recovery releases those of jails that ended while it was down
-- once it has replaced ljd's rules (Index::release_ended_leases). The trigger stays for the
-- removal of a jail that never ran (created -> removed): it holds no rules.
DROP TRIGGER leases_release;
CREATE TRIGGER leases_release AFTER UPDATE OF state ON jails
  WHEN NEW.state = 'removed'
BEGIN
  DELETE FROM leases WHERE jail_id = NEW.id;
END;
