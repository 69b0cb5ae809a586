-- 002: every configuration change the controller applied (at start-up, on reload, by upk remove).

CREATE TABLE config_changes (
  id           INTEGER PRIMARY KEY,
  time         INTEGER NOT NULL,              -- ms since the Unix epoch, UTC
  service_uuid TEXT REFERENCES services (uuid),
  service      TEXT NOT NULL,                 -- the service id at the time
  change       TEXT NOT NULL CHECK (change IN ('added', 'changed', 'removed', 'kept')),
  trigger      TEXT NOT NULL,                 -- start, reload (upk reload-config), SIGHUP, remove (upk remove)
  detail       TEXT                           -- what changed or why, in words
);
CREATE INDEX config_changes_by_time ON config_changes (time);
