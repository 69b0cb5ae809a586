-- 006 (PostgreSQL, the fleet database): the index `upk status --at TIME --fleet` seeks, as a host's
-- migration 008 for its own: the last buddy_started, desired, ready or adopted of a service on a host
-- before a time (a few events in a hundred: partial). libclient/fleet-status-at.ts repeats its
-- condition word for word, so that the planner uses it. docs/fleet.md#the-schema.
CREATE INDEX events_anchors ON events (host, service_uuid, type, time)
  WHERE type IN ('buddy_started', 'desired', 'ready', 'adopted');
