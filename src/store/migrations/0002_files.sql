-- 0002: the index of media files (the library, and folders `cbctl dedup` looked at).
-- A row is trusted while the file's size, mtime and inode are unchanged.
CREATE TABLE files (
    id           INTEGER PRIMARY KEY,
    path         BLOB NOT NULL UNIQUE,      -- absolute, raw bytes
    size         INTEGER NOT NULL,
    mtime_ns     INTEGER NOT NULL,
    inode        INTEGER NOT NULL,
    blake3       TEXT NOT NULL,
    phash        INTEGER,                   -- 64 bits as a signed integer; NULL when not an image we can hash
    width        INTEGER,
    height       INTEGER,
    taken_at     TEXT,                      -- RFC 3339
    taken_source TEXT,
    kind         TEXT NOT NULL,
    hash_error   TEXT                       -- why phash is NULL for an image
);
CREATE INDEX files_blake3 ON files(blake3);
