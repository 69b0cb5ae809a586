-- 001: services, buddy instances, events and client actions.
-- Times are integers: milliseconds since the Unix epoch, UTC.

-- Every service ever configured. A service keeps its uuid for life; `removed` is set when it leaves
-- the configuration (the row stays, so its events keep their meaning).
CREATE TABLE services (
  uuid        TEXT PRIMARY KEY,
  name        TEXT NOT NULL,
  package     TEXT,
  config      TEXT NOT NULL,               -- the effective configuration, JSON
  config_file TEXT,                         -- the file that defined it
  desired     TEXT NOT NULL DEFAULT 'stopped' CHECK (desired IN ('running', 'stopped')),
  created     INTEGER NOT NULL,
  modified    INTEGER NOT NULL,
  removed     INTEGER
);
CREATE UNIQUE INDEX services_by_id ON services (coalesce(package, ''), name) WHERE removed IS NULL;

-- Every buddy process that ever supervised a service. `instance` is the UUID the buddy chose at start.
CREATE TABLE buddies (
  id           INTEGER PRIMARY KEY,
  instance     TEXT NOT NULL UNIQUE,
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  pid          INTEGER NOT NULL,
  started      INTEGER NOT NULL,            -- when the buddy started
  seen         INTEGER NOT NULL,            -- when a controller first reached it
  ended        INTEGER,                     -- when a controller saw it gone
  end_reason   TEXT
);
CREATE INDEX buddies_by_service ON buddies (service_uuid);

-- One row per buddy event, exactly once: (buddy_id, seq) is unique, so a replayed poll changes nothing.
CREATE TABLE events (
  id           INTEGER PRIMARY KEY,
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  buddy_id     INTEGER NOT NULL REFERENCES buddies (id),
  seq          INTEGER NOT NULL,
  time         INTEGER NOT NULL,
  type         TEXT NOT NULL,
  pid          INTEGER,
  code         INTEGER,
  signal       TEXT,
  detail       TEXT,                        -- JSON object or NULL
  UNIQUE (buddy_id, seq)
);
CREATE INDEX events_by_service_time ON events (service_uuid, time);
CREATE INDEX events_by_time ON events (time);
CREATE INDEX events_by_type_time ON events (type, time);

-- Who asked for what, when, and how it ended. One row per service an action touched
-- (service_uuid is NULL for actions on the controller itself).
CREATE TABLE client_actions (
  id           INTEGER PRIMARY KEY,
  time         INTEGER NOT NULL,
  client       TEXT NOT NULL,               -- program name the client gave, e.g. upk
  client_pid   INTEGER,
  client_user  TEXT,
  action       TEXT NOT NULL,               -- start, stop, restart, reload, action, signal, shutdown, controller.stop
  service_uuid TEXT REFERENCES services (uuid),
  params       TEXT,                        -- JSON
  finished     INTEGER,
  ok           INTEGER,                     -- 1 success, 0 failure, NULL while running
  outcome      TEXT                         -- message
);
CREATE INDEX client_actions_by_time ON client_actions (time);
