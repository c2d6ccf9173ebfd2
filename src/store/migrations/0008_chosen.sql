-- 0008: journaled verdicts the review page makes, each undoable (issue 16).
-- Contents the user chose as the keeper of their group (`cbctl prefer
-- FILE`): by blake3, so the choice holds through renames and re-syncs;
-- `session` is the "prefer" session that chose it, whose undo removes it.
CREATE TABLE chosen (
    blake3  TEXT PRIMARY KEY,
    session INTEGER,
    at      TEXT NOT NULL
) WITHOUT ROWID;
-- The apart pairs and chosen keepers of a session, for its undo.
CREATE INDEX apart_session ON apart(session);
CREATE INDEX chosen_session ON chosen(session);
