-- 0007: verdicts people can trust and correct (issue 14).
-- What tells one shot from another (capture: compact JSON of
-- media::capture::Capture), the second look at the picture near the pHash
-- threshold, and the index format a row was read with: rows of an older
-- format are read again by the next refresh.
ALTER TABLE files ADD COLUMN capture TEXT;
ALTER TABLE files ADD COLUMN second INTEGER;
ALTER TABLE files ADD COLUMN format INTEGER NOT NULL DEFAULT 0;

-- Pairs of contents the user said are not duplicates of each other
-- (`cbctl not-duplicate A B`, `cbctl keep FILE`): by blake3, a <= b, so
-- they hold through renames and re-syncs.
CREATE TABLE apart (
    a       TEXT NOT NULL,
    b       TEXT NOT NULL,
    session INTEGER,
    at      TEXT NOT NULL,
    PRIMARY KEY (a, b)
) WITHOUT ROWID;

-- Contents remembered after they left the library: 'deleted' (a set-aside
-- duplicate or a dedup-deleted file, pruned: arriving again it is set
-- aside, not filed) and 'compressed' (an original replaced by its
-- compressed copy, whose content is `now`: arriving again it is an exact
-- duplicate of that copy). `cbctl forget FILE` lifts a 'deleted' one.
CREATE TABLE remembered (
    blake3  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    phash   INTEGER,
    now     TEXT,
    path    BLOB,
    session INTEGER,
    at      TEXT NOT NULL,
    PRIMARY KEY (blake3, kind)
) WITHOUT ROWID;
CREATE INDEX remembered_now ON remembered(now);
