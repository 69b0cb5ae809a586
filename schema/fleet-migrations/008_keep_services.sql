-- 008 (PostgreSQL, the fleet database): retention of config_changes keeps what a host's services
-- are. The fleet knows which services a host has by their configuration changes (upk status --at
-- --fleet: libclient/fleet-status-at.ts), so a DELETE by time must not take a service's last change
-- before the cut: a service added 13 months ago and unchanged since would vanish while it runs.
-- fleet_delete_before('config_changes', cut) now deletes the changes before the cut but, of each
-- (host, service) not removed by then, the newest one before the cut and the newest one that holds a
-- configuration (what its status is judged by). Of changes in one millisecond, a removal is the
-- newest. A host's rows stay until they are deleted by host (docs/fleet.md#retention-dropping-partitions).
CREATE OR REPLACE FUNCTION fleet_delete_before(tab text, cut timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF tab = 'config_changes' THEN
    WITH old AS (
      SELECT host, uid,
             row_number() OVER newest AS rank,
             first_value(change) OVER newest AS last_change,
             config IS NOT NULL AS has_config,
             row_number() OVER (PARTITION BY host, service_uuid, config IS NOT NULL ORDER BY time DESC, uid DESC) AS rank_of_kind
      FROM config_changes
      WHERE time < cut AND service_uuid IS NOT NULL
      WINDOW newest AS (PARTITION BY host, service_uuid ORDER BY time DESC, (change = 'removed') DESC, uid DESC)
    ), kept AS (
      SELECT host, uid FROM old WHERE last_change != 'removed' AND (rank = 1 OR (has_config AND rank_of_kind = 1))
    )
    DELETE FROM config_changes c
    WHERE c.time < cut AND NOT EXISTS (SELECT 1 FROM kept k WHERE k.host = c.host AND k.uid = c.uid);
  ELSIF tab = 'client_requests' THEN
    DELETE FROM client_requests WHERE time < cut;
  ELSE
    RAISE EXCEPTION 'fleet_delete_before: % is not a plain table of the fleet (events: fleet_drop_partitions)', tab;
  END IF;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
