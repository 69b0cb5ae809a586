-- 005: OnEvent hooks. Every run of a hook for an event, and how it ended, once: UNIQUE (hook, event_id)
-- is what keeps a hook from running twice for one event, across controller restarts and crashes.

CREATE TABLE hook_runs (
  id           INTEGER PRIMARY KEY,
  time         INTEGER NOT NULL,                          -- when the controller took the event for this hook
  hook         TEXT NOT NULL,                             -- the hook's Name
  event_id     INTEGER NOT NULL,                          -- events.id (kept after retention deletes the event)
  event_type   TEXT NOT NULL,
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  service      TEXT NOT NULL,                             -- the service id at the time
  -- queued: waits for a free slot; running; ok: exit 0; failed: another exit, a signal, or it could not
  -- start; timed_out: killed at its Timeout; skipped: MinInterval; dropped: the queue was full, or its
  -- hook or event was gone; interrupted: the controller stopped or died while it ran (never run again)
  outcome      TEXT NOT NULL CHECK (outcome IN ('queued', 'running', 'ok', 'failed', 'timed_out', 'skipped', 'dropped', 'interrupted')),
  reason       TEXT,                                      -- why skipped, dropped, interrupted, or unable to start
  started      INTEGER,                                   -- NULL until it starts (and for one that never does)
  finished     INTEGER,
  pid          INTEGER,
  exit_code    INTEGER,
  signal       TEXT,
  output       TEXT,                                      -- the last 4 KiB of its stdout and stderr, as they came
  UNIQUE (hook, event_id)
);
CREATE INDEX hook_runs_by_time ON hook_runs (time);
CREATE INDEX hook_runs_pending ON hook_runs (outcome) WHERE outcome IN ('queued', 'running');

-- The newest event whose hooks were decided (run, queued, skipped or dropped): a controller starts after it.
-- Events stored before hooks existed never run them: the cursor starts at the newest event.
CREATE TABLE hook_cursor (
  id       INTEGER PRIMARY KEY CHECK (id = 1),
  event_id INTEGER NOT NULL
);
INSERT INTO hook_cursor (id, event_id) SELECT 1, coalesce(max(id), 0) FROM events;

-- Every hook run, in words.
CREATE VIEW hook_log AS
SELECT h.id, strftime('%Y-%m-%d %H:%M:%f', h.time / 1000.0, 'unixepoch') AS utc, h.hook, h.service, h.event_type, h.event_id,
       h.outcome, h.exit_code, h.signal, round((h.finished - h.started) / 1000.0, 3) AS seconds, h.reason, h.output, h.time
FROM hook_runs h;
