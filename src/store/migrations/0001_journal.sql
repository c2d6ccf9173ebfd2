-- 0001: sessions and the write-ahead journal of file operations.
-- Released migrations are never edited; add a new file instead.
CREATE TABLE sessions (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,              -- ingest | organize | dedup | compress | undo
    started_at  TEXT NOT NULL,              -- RFC 3339, UTC
    finished_at TEXT,
    state       TEXT NOT NULL,              -- running | done | interrupted | undone
    params      TEXT NOT NULL DEFAULT '{}', -- JSON
    summary     TEXT NOT NULL DEFAULT '{}', -- JSON counts written when the session ends
    undoes      INTEGER REFERENCES sessions(id)
);

CREATE TABLE ops (
    id       INTEGER PRIMARY KEY,
    session  INTEGER NOT NULL REFERENCES sessions(id),
    seq      INTEGER NOT NULL,
    action   TEXT NOT NULL,                 -- move | copy | unlink
    src      BLOB NOT NULL,                 -- raw path bytes (names need not be UTF-8)
    dst      BLOB NOT NULL,
    tmp      BLOB NOT NULL,                 -- temp name used for a cross-filesystem copy
    size     INTEGER NOT NULL,
    blake3   TEXT NOT NULL,
    state    TEXT NOT NULL,                 -- planned | done | failed | undone
    error    TEXT,
    reverts  INTEGER REFERENCES ops(id),    -- for undo ops: the op they revert
    UNIQUE (session, seq)
);
CREATE INDEX ops_state ON ops(state);

-- Folders an op created (outermost first), so undo removes those and only those.
CREATE TABLE op_dirs (
    op   INTEGER NOT NULL REFERENCES ops(id),
    ord  INTEGER NOT NULL,
    path BLOB NOT NULL,
    PRIMARY KEY (op, ord)
);
