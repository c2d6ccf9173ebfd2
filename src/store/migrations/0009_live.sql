-- 0009: a big library is not held in memory (issue 17). The daemon looks
-- up a late Live Photo video's still by its ContentIdentifier through this
-- index instead of a map of every still.
CREATE INDEX files_live ON files(json_extract(capture, '$.live')) WHERE capture IS NOT NULL;
