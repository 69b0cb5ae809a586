-- 001 (PostgreSQL, the fleet database): the events of every host, exactly once, partitioned by month.
-- Applied by controller/fleet-migrations.ts under an advisory lock; docs/fleet.md#the-schema.

-- One row: which database this is. An exporter keeps it with its position and starts over elsewhere.
CREATE TABLE fleet_meta (
  id          integer PRIMARY KEY CHECK (id = 1),
  database_id uuid NOT NULL,
  created     timestamptz NOT NULL DEFAULT now()
);
INSERT INTO fleet_meta (id, database_id) VALUES (1, gen_random_uuid());

-- One row per event of every host. The key is (host, buddy_instance, seq); time is in it because a
-- partitioned table's key must hold the partition key (an event sent again has the same time).
CREATE TABLE events (
  host           text        NOT NULL,
  buddy_instance uuid        NOT NULL,
  seq            bigint      NOT NULL,
  time           timestamptz NOT NULL,
  service_uuid   uuid        NOT NULL,
  service        text        NOT NULL,
  type           text        NOT NULL,
  pid            integer,
  code           integer,
  signal         text,
  detail         jsonb,
  exported       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, buddy_instance, seq, time)
) PARTITION BY RANGE (time);
CREATE INDEX events_by_host_service_time ON events (host, service_uuid, time);
CREATE INDEX events_by_service_time ON events (service, time);
CREATE INDEX events_by_type_time ON events (type, time);
CREATE INDEX events_by_time ON events USING brin (time);

-- The month partition of `parent` that holds `at` (UTC), created when missing: <parent>_YYYY_MM.
CREATE FUNCTION fleet_ensure_partition(parent text, at timestamptz) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
  first timestamptz := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name  text := parent || '_' || to_char(at AT TIME ZONE 'UTC', 'YYYY_MM');
BEGIN
  IF to_regclass(quote_ident(name)) IS NOT NULL THEN
    RETURN name;
  END IF;
  -- Hosts that need the same month at once: one creates it, the others find it.
  PERFORM pg_advisory_xact_lock(hashtext('upkeeper fleet partition ' || name));
  IF to_regclass(quote_ident(name)) IS NULL THEN
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                   name, parent, first, first + interval '1 month');
  END IF;
  RETURN name;
END $$;

-- Retention: drop every month partition of `parent` that ended before `cut`. Returns their names.
CREATE FUNCTION fleet_drop_partitions(parent text, cut timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
  part record;
BEGIN
  FOR part IN
    SELECT c.relname
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = to_regclass(quote_ident(parent))
      AND c.relname ~ ('^' || parent || '_[0-9]{4}_[0-9]{2}$')
      AND (to_timestamp(right(c.relname, 7), 'YYYY_MM') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' + interval '1 month' <= cut
  LOOP
    EXECUTE format('DROP TABLE %I', part.relname);
    RETURN NEXT part.relname;
  END LOOP;
END $$;
