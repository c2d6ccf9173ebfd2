-- 0003: files the daemon left in an inbox (a duplicate it skipped, a file
-- that failed), so that after a restart they are not retried, or reported
-- again, until they change (size or mtime).
CREATE TABLE parked (
    path     BLOB PRIMARY KEY,          -- absolute, raw bytes
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    outcome  TEXT NOT NULL,             -- duplicate | error | ...
    reason   TEXT,
    at       TEXT NOT NULL              -- RFC 3339, when it was parked
);
