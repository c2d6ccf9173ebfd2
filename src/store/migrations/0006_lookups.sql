-- 0006: lookups behind `cbctl history` and `cbctl why`: decisions by
-- session (the files that failed in each session, outcome 'error'), and ops
-- by the path they took a file from (following a file from one place to
-- the next, to tell where a library copy is now).
CREATE INDEX decisions_session ON decisions(session, outcome);
CREATE INDEX ops_src ON ops(src);
