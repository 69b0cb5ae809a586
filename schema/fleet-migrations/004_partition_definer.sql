-- 004 (PostgreSQL, the fleet database): fleet_ensure_partition runs with its owner's rights (SECURITY
-- DEFINER), so that an exporting role needs no CREATE privilege (docs/fleet.md#security): it needs
-- EXECUTE on this function, which PUBLIC no longer has. Made safe as PostgreSQL's manual says
-- ("Writing SECURITY DEFINER Functions Safely"): a fixed search_path (the schema of the fleet tables,
-- then pg_temp last, so that no caller's temporary table or other schema can stand in for a fleet
-- table), and it refuses any parent but the partitioned fleet tables events, runs and samples.

-- The month partition of `parent` (events, runs or samples) that holds `at` (UTC), created when missing: <parent>_YYYY_MM.
CREATE OR REPLACE FUNCTION fleet_ensure_partition(parent text, at timestamptz) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
  first timestamptz;
  name  text;
BEGIN
  IF parent IS NULL OR parent NOT IN ('events', 'runs', 'samples') THEN
    RAISE EXCEPTION 'fleet_ensure_partition: % is not a partitioned table of the fleet (events, runs, samples)', parent;
  END IF;
  IF at IS NULL OR NOT isfinite(at) THEN
    RAISE EXCEPTION 'fleet_ensure_partition: % is not a finite time', at;
  END IF;
  first := date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  name := parent || '_' || to_char(at AT TIME ZONE 'UTC', 'YYYY_MM');
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

-- The search_path: the schema that holds the fleet's tables (where the migrations made them), then pg_temp.
DO $$
BEGIN
  EXECUTE format('ALTER FUNCTION fleet_ensure_partition(text, timestamptz) SET search_path = %I, pg_temp',
                 (SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                  WHERE c.oid = 'events'::regclass));
END $$;

-- Only the roles granted EXECUTE (docs/fleet.md#security) and the owner may call it.
REVOKE EXECUTE ON FUNCTION fleet_ensure_partition(text, timestamptz) FROM PUBLIC;
