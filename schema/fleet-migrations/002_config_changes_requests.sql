-- 002 (PostgreSQL, the fleet database): the configuration changes and the finished client requests of
-- every host, exactly once. Plain tables, not partitioned: a host stores a few rows of each a day (one
-- per service changed at a reload, one per upk command that changes something), some thousands a day
-- for 1,000 hosts, a few million a year: an index on time serves the queries, and retention is a
-- DELETE by time (fleet_delete_before). docs/fleet.md#the-schema.

-- The key is the row's uid, a random UUID the host gave it when it stored it (local migration 012).
CREATE TABLE config_changes (
  host         text        NOT NULL,
  uid          uuid        NOT NULL,
  time         timestamptz NOT NULL,
  service_uuid uuid,
  service      text        NOT NULL,
  change       text        NOT NULL,
  trigger      text        NOT NULL,
  detail       text,
  config       jsonb,
  keys         jsonb,
  exported     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, uid)
);
CREATE INDEX config_changes_by_host_service_time ON config_changes (host, service_uuid, time);
CREATE INDEX config_changes_by_time ON config_changes (time);

-- Sent once finished: finished, ok and outcome are final.
CREATE TABLE client_requests (
  host         text        NOT NULL,
  uid          uuid        NOT NULL,
  time         timestamptz NOT NULL,
  client       text        NOT NULL,
  client_pid   integer,
  client_user  text,
  requester    text,
  request      text        NOT NULL,
  service_uuid uuid,
  params       jsonb,
  finished     timestamptz NOT NULL,
  ok           boolean     NOT NULL,
  outcome      text,
  exported     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, uid)
);
CREATE INDEX client_requests_by_host_time ON client_requests (host, time);
CREATE INDEX client_requests_by_time ON client_requests (time);

-- Retention of the plain tables: delete the rows of `tab` (config_changes, client_requests) older than `cut`.
CREATE FUNCTION fleet_delete_before(tab text, cut timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  n bigint;
BEGIN
  IF tab NOT IN ('config_changes', 'client_requests') THEN
    RAISE EXCEPTION 'fleet_delete_before: % is not a plain table of the fleet (events: fleet_drop_partitions)', tab;
  END IF;
  EXECUTE format('DELETE FROM %I WHERE time < $1', tab) USING cut;
  GET DIAGNOSTICS n = ROW_COUNT;
  RETURN n;
END $$;
