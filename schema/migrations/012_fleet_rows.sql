-- 012: the fleet export of configuration changes and client requests (docs/fleet.md#exactly-once-the-argument).
-- Each row gets a random key (32 hex digits, a UUID to PostgreSQL) when it is stored: the local id is
-- no key across databases (a database made anew, or a table emptied by retention, begins its ids again
-- at 1), and no natural column set is unique (two requests of one client in one millisecond). The rows
-- before it get theirs now. The exporter's position per table is a row of fleet_export (011), whose
-- source is now also config_changes or client_requests.
ALTER TABLE config_changes ADD COLUMN uid TEXT;
ALTER TABLE client_requests ADD COLUMN uid TEXT;
UPDATE config_changes SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
UPDATE client_requests SET uid = lower(hex(randomblob(16))) WHERE uid IS NULL;
-- The export of client requests waits for the oldest one not finished: found at once.
CREATE INDEX client_requests_unfinished ON client_requests (id) WHERE finished IS NULL;
