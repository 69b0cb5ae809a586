-- 004: the audit trail of client requests is named for what it records. The table client_actions
-- becomes client_requests, its column action becomes request, and the view action_log becomes
-- request_log: "action" now means a service's action scripts alone. Every row is kept.

-- The old view reads the old names: drop it before the renames, make the new one after.
DROP VIEW action_log;
ALTER TABLE client_actions RENAME TO client_requests;
ALTER TABLE client_requests RENAME COLUMN action TO request;
-- SQLite cannot rename an index: made again under the table's name.
DROP INDEX client_actions_by_time;
CREATE INDEX client_requests_by_time ON client_requests (time);

-- Who asked for what, and how it ended.
CREATE VIEW request_log AS
SELECT r.id, strftime('%Y-%m-%d %H:%M:%f', r.time / 1000.0, 'unixepoch') AS utc, r.client, r.client_user, r.client_pid,
       r.request, i.service, r.params, CASE r.ok WHEN 1 THEN 'ok' WHEN 0 THEN 'failed' ELSE 'running' END AS result,
       r.outcome, round((r.finished - r.time) / 1000.0, 3) AS seconds, r.time
FROM client_requests r LEFT JOIN service_ids i ON i.uuid = r.service_uuid;
