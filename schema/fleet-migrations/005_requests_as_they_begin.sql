-- 005 (PostgreSQL, the fleet database): a client request is sent when it begins and again when it
-- finishes (local migration 014), so that a request that runs for hours (a custom action) holds back
-- no other: finished and ok are empty until it finishes, and the row is updated in place then.
ALTER TABLE client_requests ALTER COLUMN finished DROP NOT NULL;
ALTER TABLE client_requests ALTER COLUMN ok DROP NOT NULL;
