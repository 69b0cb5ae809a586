-- 010: a service's health events found by their time. `upk correlate` (and the line `upk why` adds)
-- reads, service by service, its `start_timeout` events, and its `unhealthy` and `limit_exceeded`
-- events (failures when their action ended the run); events_by_type_time would read those of every
-- service, and events_by_service_time every event of the service. The index holds the events of these
-- three types alone: inserting any other event does not touch it.

-- The partial index serves only a query that repeats its condition: `type IN (…)` exactly as written here
-- (controller/correlation-reads.ts, HEALTH).
CREATE INDEX IF NOT EXISTS events_health ON events (service_uuid, type, time)
  WHERE type IN ('unhealthy', 'limit_exceeded', 'start_timeout');
