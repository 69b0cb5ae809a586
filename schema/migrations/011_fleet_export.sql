-- 011: the fleet exporter's position (controller/fleet-export.ts; docs/fleet.md#exactly-once-the-argument).
-- Per local table: the PostgreSQL database exported to, and the highest local id known to be there.
CREATE TABLE fleet_export (
  source      TEXT PRIMARY KEY,   -- the local table: events
  database_id TEXT NOT NULL,      -- fleet_meta.database_id of the PostgreSQL database
  last_id     INTEGER NOT NULL,   -- the highest local id committed there
  exported    INTEGER NOT NULL    -- when the position was saved
);
