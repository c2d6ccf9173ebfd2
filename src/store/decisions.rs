//! What a session decided for each file it looked at, and the lookups
//! behind `cbctl why FILE`: the decisions, journal ops, index row and
//! parked row that mention one path.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::{blob_path, now_rfc3339, path_blob, OpRow, Store, StoreError};

/// One decision about one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionRow {
    /// The session that decided.
    pub session: i64,
    /// The file as found.
    pub path: PathBuf,
    /// `moved`, `copied`, `quarantined`, `duplicate`, `error`, `skipped`, `non-media`.
    pub outcome: String,
    /// Where it went (for a duplicate left in place: the file it duplicates).
    pub dest: Option<PathBuf>,
    /// For a duplicate: the file it duplicates.
    pub duplicate_of: Option<PathBuf>,
    /// `exact` (same bytes) or `similar` (same picture by pHash).
    pub how: Option<String>,
    /// pHash distance to `duplicate_of`.
    pub distance: Option<u32>,
    /// The capture date used, RFC 3339.
    pub taken_at: Option<String>,
    /// Where that date came from.
    pub taken_source: Option<String>,
    /// Why (for a file left alone), or a note.
    pub reason: Option<String>,
    /// When it was decided (RFC 3339; set by the store when recorded).
    pub at: String,
}

const DECISION_COLUMNS: &str =
    "session, path, outcome, dest, duplicate_of, match, distance, taken_at, taken_source, reason, at";

fn decision_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<DecisionRow> {
    Ok(DecisionRow {
        session: r.get(0)?,
        path: blob_path(r.get(1)?),
        outcome: r.get(2)?,
        dest: r.get::<_, Option<Vec<u8>>>(3)?.map(blob_path),
        duplicate_of: r.get::<_, Option<Vec<u8>>>(4)?.map(blob_path),
        how: r.get(5)?,
        distance: r.get(6)?,
        taken_at: r.get(7)?,
        taken_source: r.get(8)?,
        reason: r.get(9)?,
        at: r.get(10)?,
    })
}

impl Store {
    /// The latest decision about each file, where it matches `filter` (SQL
    /// on the decision's columns), newest first. A file moved to the
    /// duplicates folder and decided about again there (kept) is decided
    /// by that later decision.
    pub(super) fn latest_decisions(&self, filter: &str) -> Result<Vec<DecisionRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {DECISION_COLUMNS} FROM decisions d \
                 WHERE ({filter}) AND NOT EXISTS (SELECT 1 FROM decisions e \
                   WHERE e.id > d.id AND (e.path = d.path OR (d.outcome = 'quarantined' AND e.path = d.dest))) \
                 ORDER BY d.id DESC"
            ))
            .map_err(self.sql())?;
        let rows = stmt.query_map([], decision_of).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Records decisions, all in one transaction.
    pub fn record_decisions(&mut self, rows: &[DecisionRow]) -> Result<(), StoreError> {
        if rows.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let now = now_rfc3339();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT INTO decisions (session, path, outcome, dest, duplicate_of, match, distance, \
                     taken_at, taken_source, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                )
                .map_err(&sql)?;
            for d in rows {
                stmt.execute(params![
                    d.session,
                    path_blob(&d.path),
                    d.outcome,
                    d.dest.as_deref().map(path_blob),
                    d.duplicate_of.as_deref().map(path_blob),
                    d.how,
                    d.distance,
                    d.taken_at,
                    d.taken_source,
                    d.reason,
                    now
                ])
                .map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)
    }

    /// Decisions about `path`, as the file found or as where it went (not
    /// the duplicates that name it as their match); newest first.
    pub fn decisions_about(&self, path: &Path) -> Result<Vec<DecisionRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT session, path, outcome, dest, duplicate_of, match, distance, taken_at, taken_source, \
                 reason, at FROM decisions \
                 WHERE path = ?1 OR (dest = ?1 AND outcome IN ('moved', 'copied', 'quarantined')) ORDER BY id DESC",
            )
            .map_err(self.sql())?;
        let rows = stmt.query_map([path_blob(path)], decision_of).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Journal ops that moved, copied or removed `path` or put a file there; oldest first.
    pub fn ops_touching(&self, path: &Path) -> Result<Vec<OpRow>, StoreError> {
        self.read_ops("WHERE src = ?1 OR dst = ?1", Some(&path_blob(path)))
    }

    /// The first op after op `after_op`, in session `from_session` or a
    /// later one, that took the file at `path` away: a move or trash that
    /// happened (done, or undone later by an op of its own, or pruned), or
    /// an unlink. Following these from a path gives where its file is now.
    pub fn next_op_from(&self, path: &Path, from_session: i64, after_op: i64) -> Result<Option<OpRow>, StoreError> {
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM ops WHERE src = ?1 AND session >= ?2 AND id > ?3 \
                 AND action IN ('move', 'trash', 'unlink') AND state IN ('done', 'undone', 'pruned') \
                 ORDER BY id LIMIT 1",
                params![path_blob(path), from_session, after_op],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())?;
        match id {
            Some(id) => self.op(id),
            None => Ok(None),
        }
    }

    /// The session of the undo that reverted op `op`, if one did.
    pub fn undo_of(&self, op: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT session FROM ops WHERE reverts = ?1 AND state = 'done'", [op], |r| r.get(0))
            .optional()
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decisions_are_found_by_the_path_found_and_by_where_it_went() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let sid = s.begin_session("ingest", &serde_json::json!({}), None).unwrap();
        let row = |path: &str, outcome: &str, dest: Option<&str>| DecisionRow {
            session: sid,
            path: PathBuf::from(path),
            outcome: outcome.into(),
            dest: dest.map(PathBuf::from),
            duplicate_of: None,
            how: None,
            distance: Some(3),
            taken_at: Some("2024-05-01T10:00:00+02:00".into()),
            taken_source: Some("exif".into()),
            reason: None,
            at: String::new(),
        };
        s.record_decisions(&[row("/in/a.jpg", "moved", Some("/lib/2024/05/a.jpg")), row("/in/b.jpg", "error", None)])
            .unwrap();
        let by_src = s.decisions_about(Path::new("/in/a.jpg")).unwrap();
        let by_dest = s.decisions_about(Path::new("/lib/2024/05/a.jpg")).unwrap();
        assert_eq!(by_src.len(), 1);
        assert_eq!(by_src, by_dest);
        assert_eq!(by_src[0].outcome, "moved");
        assert_eq!(by_src[0].distance, Some(3));
        assert!(!by_src[0].at.is_empty());
        assert_eq!(s.decisions_about(Path::new("/in/b.jpg")).unwrap()[0].outcome, "error");
        assert!(s.decisions_about(Path::new("/in/c.jpg")).unwrap().is_empty());
    }
}
