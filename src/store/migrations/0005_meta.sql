-- What this state knows of itself and of the libraries it has filed into:
-- `state_id` (made once, when the database is made), and `library:<path>`
-- = the id written in that library's marker file.
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
INSERT INTO meta (key, value) VALUES ('state_id', lower(hex(randomblob(16))));
