-- 007 (PostgreSQL, the fleet database): what `upk correlate --fleet` reads service by service, in time
-- order (docs/fleet.md, "upk correlate --fleet"), as a host's 009 and 010 do for its own correlation:
-- the runs of a service that ended in a range (failures and stops; without it, runs_by_ended reads the
-- runs of every host that ended in the range, and runs_by_host_service_started every run of the service
-- that began before the range's end), and its health events (without it, every event of the service in
-- the range is read to find the few unhealthy, limit_exceeded and start_timeout among them).
-- On the partitioned tables, each index is made on every month's partition, in this migration's transaction.
CREATE INDEX runs_by_host_service_ended ON runs (host, service_uuid, ended) WHERE ended IS NOT NULL;
CREATE INDEX events_health ON events (host, service_uuid, type, time) WHERE type IN ('unhealthy', 'limit_exceeded', 'start_timeout');
