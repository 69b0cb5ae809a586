-- 008: what `status.at` (upk status --at TIME) seeks for each service: the last event of a few rare types
-- before a time (a buddy's start, a desired state, a readiness, an adoption). The index is small: the
-- event types it holds are a few in a hundred. (The configuration change in force then is sought in
-- config_changes_by_service, made by 007.)

-- The partial index serves only a query that repeats its condition: `type IN (…)` exactly as written here
-- (controller/status-at-query.ts, ANCHORS).
CREATE INDEX IF NOT EXISTS events_anchors ON events (service_uuid, type, time)
  WHERE type IN ('buddy_started', 'desired', 'ready', 'adopted');
