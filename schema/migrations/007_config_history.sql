-- 007: the configuration history. Each configuration change applied from now on also keeps the
-- service's configuration as applied (the resolved ServiceConfig as JSON, as services.config holds it)
-- and the configuration keys whose values changed (a JSON list, as users write them: ExecStart,
-- Environment), so that `upk config-history` can show each change's values before and after. The rows
-- before it keep their words (detail) only: both columns are NULL there.
ALTER TABLE config_changes ADD COLUMN config TEXT;
ALTER TABLE config_changes ADD COLUMN keys TEXT;
-- A service's history, in order.
CREATE INDEX config_changes_by_service ON config_changes (service_uuid, time);

-- The view names its columns: made again with the keys, after change.
DROP VIEW change_log;
CREATE VIEW change_log AS
SELECT c.id, strftime('%Y-%m-%d %H:%M:%f', c.time / 1000.0, 'unixepoch') AS utc, c.trigger, c.service, c.change, c.keys, c.detail, c.time
FROM config_changes c;
