-- 014: the fleet export of client requests as they begin, and the database its positions are for
-- (docs/fleet.md#exactly-once-the-argument).
-- A client request is sent when it begins and again when it finishes, like a run (013): `changed`, a
-- counter raised by a trigger at each, is the export's position; a request that runs for hours (a
-- custom action) no longer holds back the ones after it.
ALTER TABLE client_requests ADD COLUMN changed INTEGER;
UPDATE client_requests SET changed = id;
CREATE INDEX client_requests_by_changed ON client_requests (changed);
CREATE TRIGGER client_requests_fleet_stored AFTER INSERT ON client_requests BEGIN
  UPDATE client_requests SET
    changed = max(coalesce((SELECT max(changed) FROM client_requests), 0),
                  coalesce((SELECT last_id FROM fleet_export WHERE source = 'client_requests'), 0)) + 1
  WHERE id = NEW.id;
END;
CREATE TRIGGER client_requests_fleet_finished AFTER UPDATE OF finished, ok, outcome ON client_requests BEGIN
  UPDATE client_requests SET
    changed = max(coalesce((SELECT max(changed) FROM client_requests), 0),
                  coalesce((SELECT last_id FROM fleet_export WHERE source = 'client_requests'), 0)) + 1
  WHERE id = NEW.id;
END;
DROP INDEX client_requests_unfinished;
-- The FleetDatabase URL the positions were saved for: retention keeps every row for another one
-- (NULL: not known yet; the exporter sets it when it connects).
ALTER TABLE fleet_export ADD COLUMN target TEXT;
