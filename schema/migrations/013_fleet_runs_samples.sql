-- 013: the fleet export of runs and usage records (docs/fleet.md#exactly-once-the-argument).
-- A run changes after it is stored (it ends, it is repaired, a buddy adopts it): `changed` is a counter
-- raised each time, and the exporter sends the runs changed after its position (fleet_export, source
-- 'runs'), each time with its current columns; PostgreSQL updates the row in place. A run's key there
-- is `uid`, "<buddy instance>:<seq>" of the event that began it: the same when the runs are rebuilt
-- from the events. Usage records never change: `stored` numbers them in the order they were stored
-- (a buddy's buffered records arrive after newer ones of other buddies), the exporter's position.
-- The counters never go back below the saved position, so a rebuild or an emptied table is sent anew.
ALTER TABLE runs ADD COLUMN uid TEXT;
ALTER TABLE runs ADD COLUMN changed INTEGER;
ALTER TABLE samples ADD COLUMN stored INTEGER;
UPDATE runs SET changed = id,
  uid = coalesce((SELECT b.instance || ':' || e.seq FROM events e JOIN buddies b ON b.id = e.buddy_id WHERE e.id = runs.start_event),
                 lower(hex(randomblob(16))));
UPDATE samples SET stored = x.n
FROM (SELECT buddy_id, seq, row_number() OVER (ORDER BY time, buddy_id, seq) AS n FROM samples) AS x
WHERE x.buddy_id = samples.buddy_id AND x.seq = samples.seq;
CREATE INDEX runs_by_changed ON runs (changed);
CREATE INDEX samples_by_stored ON samples (stored);

CREATE TRIGGER runs_fleet_inserted AFTER INSERT ON runs BEGIN
  UPDATE runs SET
    changed = max(coalesce((SELECT max(changed) FROM runs), 0), coalesce((SELECT last_id FROM fleet_export WHERE source = 'runs'), 0)) + 1,
    uid = coalesce((SELECT b.instance || ':' || e.seq FROM events e JOIN buddies b ON b.id = e.buddy_id WHERE e.id = NEW.start_event),
                   lower(hex(randomblob(16))))
  WHERE id = NEW.id;
END;
CREATE TRIGGER runs_fleet_changed AFTER UPDATE OF buddy_id, pid, ended, outcome, code, signal, repaired ON runs BEGIN
  UPDATE runs SET
    changed = max(coalesce((SELECT max(changed) FROM runs), 0), coalesce((SELECT last_id FROM fleet_export WHERE source = 'runs'), 0)) + 1
  WHERE id = NEW.id;
END;
CREATE TRIGGER samples_fleet_stored AFTER INSERT ON samples BEGIN
  UPDATE samples SET
    stored = max(coalesce((SELECT max(stored) FROM samples), 0), coalesce((SELECT last_id FROM fleet_export WHERE source = 'samples'), 0)) + 1
  WHERE buddy_id = NEW.buddy_id AND seq = NEW.seq;
END;
