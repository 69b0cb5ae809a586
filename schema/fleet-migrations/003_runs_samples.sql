-- 003 (PostgreSQL, the fleet database): the runs and the usage records of every host, partitioned by
-- month like the events (a run by the month it began, a usage record by its time), retention by
-- fleet_drop_partitions('runs', cut) and fleet_drop_partitions('samples', cut). docs/fleet.md#the-schema.

-- One row per run of every host. A run changes after it is sent (it ends, its failure is repaired):
-- the exporter sends it again then, and the row is updated in place (ON CONFLICT … DO UPDATE).
-- The key: uid is "<buddy instance>:<seq>" of the event that began the run (spawned, adopted or
-- spawn_failed), the same however often the host rebuilds its runs from its events; started is in the
-- key because the table is partitioned by it (it never changes).
CREATE TABLE runs (
  host           text        NOT NULL,
  uid            text        NOT NULL,
  started        timestamptz NOT NULL,
  service_uuid   uuid        NOT NULL,
  service        text        NOT NULL,
  buddy_instance uuid,                   -- the buddy that runs it (or ran it last)
  pid            integer,
  cause          text        NOT NULL,   -- start, restart, adopted
  ended          timestamptz,            -- NULL while it runs
  outcome        text,                   -- stopped, failed, spawn_failed, lost; NULL while it runs
  code           integer,
  signal         text,
  repaired       timestamptz,            -- a failure: when the service next ran
  exported       timestamptz NOT NULL DEFAULT now(),
  updated        timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, uid, started)
) PARTITION BY RANGE (started);
CREATE INDEX runs_by_host_service_started ON runs (host, service_uuid, started);
CREATE INDEX runs_by_service_started ON runs (service, started);
-- Failures are counted when they end: the fleet trend and `why` read them by their end.
CREATE INDEX runs_by_ended ON runs (ended, host, service) WHERE ended IS NOT NULL;
CREATE INDEX runs_open ON runs (host, service_uuid) WHERE ended IS NULL;

-- One usage record (a stretch of at most a minute) per row; they never change.
CREATE TABLE samples (
  host           text        NOT NULL,
  buddy_instance uuid        NOT NULL,
  seq            bigint      NOT NULL,
  time           timestamptz NOT NULL,   -- the stretch's last measurement
  service_uuid   uuid        NOT NULL,
  service        text        NOT NULL,
  wall_ms        integer     NOT NULL,
  cpu_ms         integer     NOT NULL,
  rss_kb         integer     NOT NULL,   -- mean by time, KiB
  rss_max_kb     integer     NOT NULL,
  processes      integer     NOT NULL,
  exported       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (host, buddy_instance, seq, time)
) PARTITION BY RANGE (time);
CREATE INDEX samples_by_host_service_time ON samples (host, service_uuid, time);
CREATE INDEX samples_by_time ON samples USING brin (time);
