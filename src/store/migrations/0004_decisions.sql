-- 0004: what a journaled organize or ingest session decided for each file
-- it looked at (filed where, or left alone and why), so `cbctl why FILE`
-- can explain it later.
CREATE TABLE decisions (
    id           INTEGER PRIMARY KEY,
    session      INTEGER NOT NULL REFERENCES sessions(id),
    path         BLOB NOT NULL,             -- the file as found, absolute, raw bytes
    outcome      TEXT NOT NULL,             -- moved | copied | quarantined | duplicate | error | skipped | non-media
    dest         BLOB,                      -- where it went (or the file it duplicates, left in place)
    duplicate_of BLOB,                      -- for a duplicate: the file it duplicates
    match        TEXT,                      -- exact (same bytes) | similar (same picture by pHash)
    distance     INTEGER,                   -- pHash distance to duplicate_of
    taken_at     TEXT,                      -- the capture date used, RFC 3339
    taken_source TEXT,                      -- where that date came from
    reason       TEXT,
    at           TEXT NOT NULL              -- RFC 3339, when it was decided
);
CREATE INDEX decisions_path ON decisions(path);
CREATE INDEX decisions_dest ON decisions(dest);
