-- 006: who asked, when a client acts for others: upk serve records the HTTP peer (transport, address
-- and User-Agent) of each request it passes on, libclient's onBehalfOf what a program names. NULL for
-- the rows before it, and for a client that asks for itself.
ALTER TABLE client_requests ADD COLUMN requester TEXT;

-- The view names its columns: made again with the new one, after client.
DROP VIEW request_log;
CREATE VIEW request_log AS
SELECT r.id, strftime('%Y-%m-%d %H:%M:%f', r.time / 1000.0, 'unixepoch') AS utc, r.client, r.requester, r.client_user,
       r.client_pid, r.request, i.service, r.params, CASE r.ok WHEN 1 THEN 'ok' WHEN 0 THEN 'failed' ELSE 'running' END AS result,
       r.outcome, round((r.finished - r.time) / 1000.0, 3) AS seconds, r.time
FROM client_requests r LEFT JOIN service_ids i ON i.uuid = r.service_uuid;
