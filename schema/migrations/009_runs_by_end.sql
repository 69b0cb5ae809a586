-- 009: runs found by when they ended. `upk correlate` (and the line `upk why` adds) reads the times
-- of a service's failures and stops within a range; runs_by_service_started would read every run of
-- the service that started before the range ends, its whole history. One entry per run: the service,
-- when it ended (NULL while it runs) and how.
CREATE INDEX runs_by_service_ended ON runs (service_uuid, ended, outcome);
