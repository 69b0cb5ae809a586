-- 003: service runs and resource samples (for trends and `upk why`), and views for people who query
-- the database with the sqlite3 shell. Times are integers: milliseconds since the Unix epoch, UTC.

-- One row per run of a service: from its start (a `spawned` event, or `adopted` when no run of the
-- process was known) to its end (`exited`). Derived from the events as they are stored
-- (controller/run-ledger.ts); the controller can rebuild it from them.
CREATE TABLE runs (
  id           INTEGER PRIMARY KEY,
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  buddy_id     INTEGER NOT NULL REFERENCES buddies (id), -- the buddy that started or adopted it
  pid          INTEGER,                                   -- NULL: the start script could not execute
  started      INTEGER NOT NULL,
  cause        TEXT NOT NULL CHECK (cause IN ('start', 'restart', 'adopted')),
  ended        INTEGER,                                   -- NULL while it runs
  -- stopped: a stop asked for it; failed: it exited by itself; spawn_failed: it never ran;
  -- lost: its end was not seen (it ended with its buddy); NULL while it runs
  outcome      TEXT CHECK (outcome IN ('stopped', 'failed', 'spawn_failed', 'lost')),
  code         INTEGER,
  signal       TEXT,
  start_event  INTEGER,                                   -- events.id of its spawned, adopted or spawn_failed event
  end_event    INTEGER,                                   -- events.id of its exited event
  repaired     INTEGER                                    -- a failure: when the service next ran (NULL: not yet)
);
-- Covering what the trend queries read, so that they count runs without reading the table.
CREATE INDEX runs_by_service_started ON runs (service_uuid, started, ended, cause, outcome, repaired);
CREATE INDEX runs_by_pid ON runs (service_uuid, pid, started);
CREATE INDEX runs_open ON runs (service_uuid) WHERE ended IS NULL;
CREATE INDEX runs_unrepaired ON runs (service_uuid, ended) WHERE repaired IS NULL AND outcome IN ('failed', 'spawn_failed');

-- The runs summed per service and hour, kept with them: what a trend in whole hours reads.
CREATE TABLE run_hours (
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  hour         INTEGER NOT NULL,                          -- the hour's start
  restarts     INTEGER NOT NULL DEFAULT 0,                -- automatic restarts begun in it
  failures     INTEGER NOT NULL DEFAULT 0,                -- failures ended in it
  up_ms        INTEGER NOT NULL DEFAULT 0,                -- time runs that have ended were up in it (open runs count at query time)
  repairs      INTEGER NOT NULL DEFAULT 0,                -- its failures after which the service ran again
  repair_ms    INTEGER NOT NULL DEFAULT 0,                -- and the time until it did, summed
  burst        INTEGER NOT NULL DEFAULT 0,                -- most automatic restarts within 10 minutes ending in it
  burst_at     INTEGER,                                   -- when the first restart of that burst began
  PRIMARY KEY (service_uuid, hour)
) WITHOUT ROWID;
CREATE INDEX run_hours_by_hour ON run_hours (hour);

-- A buddy's usage records: one per minute of the clock (at most) while its service runs.
CREATE TABLE samples (
  buddy_id   INTEGER NOT NULL REFERENCES buddies (id),
  seq        INTEGER NOT NULL,                            -- the buddy's sequence number: stored exactly once
  time       INTEGER NOT NULL,                            -- the stretch's last measurement
  wall_ms    INTEGER NOT NULL,                            -- the stretch's length
  cpu_ms     INTEGER NOT NULL,                            -- CPU time the process group used in it
  rss_kb     INTEGER NOT NULL,                            -- resident memory of the group: mean (by time), KiB
  rss_max_kb INTEGER NOT NULL,                            -- and highest
  processes  INTEGER NOT NULL,                            -- most processes in the group at once
  PRIMARY KEY (buddy_id, seq)
) WITHOUT ROWID;
-- Covering what a trend of minute records sums, so that it reads the index alone.
CREATE INDEX samples_by_time ON samples (time, buddy_id, wall_ms, cpu_ms, rss_kb, rss_max_kb);

-- The same, summed per service and hour: kept as long as the events (AuditMaxAge).
CREATE TABLE samples_hourly (
  service_uuid TEXT NOT NULL REFERENCES services (uuid),
  hour         INTEGER NOT NULL,                          -- the hour's start
  wall_ms      INTEGER NOT NULL,
  cpu_ms       INTEGER NOT NULL,
  rss_kb_ms    INTEGER NOT NULL,                          -- Σ rss_kb × wall_ms: the mean is rss_kb_ms / wall_ms
  rss_max_kb   INTEGER NOT NULL,
  processes    INTEGER NOT NULL,
  samples      INTEGER NOT NULL,                          -- measurements summed
  PRIMARY KEY (service_uuid, hour)
) WITHOUT ROWID;
CREATE INDEX samples_hourly_by_hour ON samples_hourly (hour);

-- ---- views: the tables above in words, for the sqlite3 shell (docs/controller.md#views) ----------

-- Each service ever recorded, by its id (`name` or `package::name`).
CREATE VIEW service_ids AS
SELECT uuid, CASE WHEN package IS NULL THEN name ELSE package || '::' || name END AS service, removed IS NOT NULL AS removed
FROM services;

-- Every event, with its service and a readable UTC time.
CREATE VIEW event_log AS
SELECT e.id, strftime('%Y-%m-%d %H:%M:%f', e.time / 1000.0, 'unixepoch') AS utc, i.service, e.type, e.pid, e.code,
       e.signal, e.detail, e.time, e.service_uuid, b.instance AS buddy
FROM events e JOIN service_ids i ON i.uuid = e.service_uuid JOIN buddies b ON b.id = e.buddy_id;

-- Every run: when, how long (seconds; up to now while it runs), why it began and how it ended.
CREATE VIEW run_log AS
SELECT r.id, i.service, strftime('%Y-%m-%d %H:%M:%S', r.started / 1000.0, 'unixepoch') AS started_utc,
       strftime('%Y-%m-%d %H:%M:%S', r.ended / 1000.0, 'unixepoch') AS ended_utc,
       round((coalesce(r.ended, (julianday('now') - 2440587.5) * 86400000.0) - r.started) / 1000.0, 1) AS seconds,
       r.cause, coalesce(r.outcome, 'running') AS outcome, r.code, r.signal, r.pid, r.started, r.ended, r.service_uuid
FROM runs r JOIN service_ids i ON i.uuid = r.service_uuid;

-- Every failure (an exit nobody asked for, or a start that could not execute), with the last lines
-- the service wrote before it.
CREATE VIEW failure_log AS
SELECT l.id, l.service, l.ended_utc AS utc, l.seconds AS after_seconds, l.outcome, l.code, l.signal, l.pid,
       json_extract(e.detail, '$.lastOutput.stderr') AS last_stderr, json_extract(e.detail, '$.lastOutput.stdout') AS last_stdout,
       json_extract(s.detail, '$.error') AS error, l.ended, l.service_uuid
FROM run_log l JOIN runs r ON r.id = l.id
LEFT JOIN events e ON e.id = r.end_event LEFT JOIN events s ON s.id = r.start_event AND r.outcome = 'spawn_failed'
WHERE r.outcome IN ('failed', 'spawn_failed');

-- CPU (% of one core) and memory (MiB) of each service, per minute (7 days) and per hour (AuditMaxAge).
CREATE VIEW usage_by_minute AS
SELECT i.service, strftime('%Y-%m-%d %H:%M', s.time / 1000.0, 'unixepoch') AS utc,
       round(s.cpu_ms * 100.0 / s.wall_ms, 1) AS cpu_percent, round(s.rss_kb / 1024.0, 1) AS rss_mib,
       round(s.rss_max_kb / 1024.0, 1) AS rss_max_mib, s.processes, s.time, b.service_uuid
FROM samples s JOIN buddies b ON b.id = s.buddy_id JOIN service_ids i ON i.uuid = b.service_uuid
WHERE s.wall_ms > 0;

CREATE VIEW usage_by_hour AS
SELECT i.service, strftime('%Y-%m-%d %H:00', h.hour / 1000.0, 'unixepoch') AS utc,
       round(h.cpu_ms * 100.0 / h.wall_ms, 1) AS cpu_percent, round(h.rss_kb_ms / 1024.0 / h.wall_ms, 1) AS rss_mib,
       round(h.rss_max_kb / 1024.0, 1) AS rss_max_mib, h.processes, h.samples, h.hour, h.service_uuid
FROM samples_hourly h JOIN service_ids i ON i.uuid = h.service_uuid
WHERE h.wall_ms > 0;

-- Who asked for what, and how it ended.
CREATE VIEW action_log AS
SELECT a.id, strftime('%Y-%m-%d %H:%M:%f', a.time / 1000.0, 'unixepoch') AS utc, a.client, a.client_user, a.client_pid,
       a.action, i.service, a.params, CASE a.ok WHEN 1 THEN 'ok' WHEN 0 THEN 'failed' ELSE 'running' END AS result,
       a.outcome, round((a.finished - a.time) / 1000.0, 3) AS seconds, a.time
FROM client_actions a LEFT JOIN service_ids i ON i.uuid = a.service_uuid;

-- Every configuration change applied.
CREATE VIEW change_log AS
SELECT c.id, strftime('%Y-%m-%d %H:%M:%f', c.time / 1000.0, 'unixepoch') AS utc, c.trigger, c.service, c.change, c.detail, c.time
FROM config_changes c;
