-- 008 (PostgreSQL, the fleet database): retention of config_changes keeps what a host's services
-- are. The fleet knows which services a host has by their configuration changes (upk status --at
-- --fleet: libclient/fleet-status-at.ts), so a DELETE by time must not take a service's last change
-- before the cut: a service added 13 months ago and unchanged since would vanish while it runs.
-- fleet_delete_before('config_changes', cut) now deletes the changes before the cut but the newest
-- one of each (host, service) before it, unless that one is its removal. docs/fleet.md#retention-dropping-partitions.
CREATE OR REPLACE FUNCTION fleet_delete_before(tab text, cut timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF tab = 'config_changes' THEN
    DELETE FROM config_changes c
    WHERE c.time < cut
      AND (c.change = 'removed' OR c.service_uuid IS NULL
           OR EXISTS (SELECT 1 FROM config_changes k
                      WHERE k.host = c.host AND k.service_uuid = c.service_uuid AND k.time < cut
                        AND (k.time, k.uid) > (c.time, c.uid)));
  ELSIF tab = 'client_requests' THEN
    DELETE FROM client_requests WHERE time < cut;
  ELSE
    RAISE EXCEPTION 'fleet_delete_before: % is not a plain table of the fleet (events: fleet_drop_partitions)', tab;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
