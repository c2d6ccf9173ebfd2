-- 0010: the content index holds a 64-bit prefix of blake3 (16 hex digits),
-- not all 64 (issue 17). Entries are a quarter the size, so with a big
-- library more of this randomly-ordered index stays in SQLite's cache, and
-- each file filed reads and writes fewer pages. Lookups name the same
-- expression and then compare the whole hash.
CREATE INDEX files_content ON files(substr(blake3, 1, 16));
DROP INDEX files_blake3;
