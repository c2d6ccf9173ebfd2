//! Files the daemon handled without filing (a skipped duplicate, a file
//! that failed): remembered across restarts so they are reported once and
//! retried only when they change.

use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::{blob_path, now_rfc3339, path_blob, Store, StoreError};

/// One parked file, as it was when parked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParkedRow {
    /// Absolute path in its inbox.
    pub path: PathBuf,
    /// Size then.
    pub size: u64,
    /// mtime then, in ns since the epoch.
    pub mtime_ns: i64,
    /// What happened: "duplicate", "error", ...
    pub outcome: String,
    /// Why.
    pub reason: Option<String>,
}

impl Store {
    /// Remembers (or re-remembers) a parked file.
    pub fn park(&self, row: &ParkedRow) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO parked (path, size, mtime_ns, outcome, reason, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    path_blob(&row.path),
                    row.size as i64,
                    row.mtime_ns,
                    row.outcome,
                    row.reason,
                    now_rfc3339()
                ])
            })
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Forgets these paths (gone from the inbox, or changed).
    pub fn unpark(&mut self, paths: &[&Path]) -> Result<(), StoreError> {
        if paths.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM parked WHERE path = ?1").map_err(&sql)?;
            for p in paths {
                stmt.execute(params![path_blob(p)]).map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)
    }

    /// Forgets every parked file (`cbctl rescan`: give them all another look).
    pub fn unpark_all(&self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM parked", []).map(|_| ()).map_err(self.sql())
    }

    /// Forgets every parked file but those an undo put back (`cbctl rescan`):
    /// the user asked for those to be where they are.
    pub fn unpark_all_but_undone(&self) -> Result<(), StoreError> {
        self.conn.execute("DELETE FROM parked WHERE outcome <> 'undone'", []).map(|_| ()).map_err(self.sql())
    }

    /// Every parked file.
    pub fn parked(&self) -> Result<Vec<ParkedRow>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, size, mtime_ns, outcome, reason FROM parked ORDER BY path")
            .map_err(self.sql())?;
        let rows = stmt.query_map([], parked_row).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// The parked row of `path` and when it was parked, if the daemon left it alone.
    pub fn parked_at(&self, path: &Path) -> Result<Option<(ParkedRow, String)>, StoreError> {
        self.conn
            .query_row(
                "SELECT path, size, mtime_ns, outcome, reason, at FROM parked WHERE path = ?1",
                [path_blob(path)],
                |r| Ok((parked_row(r)?, r.get(5)?)),
            )
            .optional()
            .map_err(self.sql())
    }
}

/// A `parked` row from the columns `path, size, mtime_ns, outcome, reason`.
fn parked_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ParkedRow> {
    Ok(ParkedRow {
        path: blob_path(r.get(0)?),
        size: r.get::<_, i64>(1)? as u64,
        mtime_ns: r.get(2)?,
        outcome: r.get(3)?,
        reason: r.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parked_files_survive_reopening_and_can_be_forgotten() {
        let t = tempfile::tempdir().unwrap();
        let row = |p: &str, size| ParkedRow {
            path: PathBuf::from(p),
            size,
            mtime_ns: 7,
            outcome: "duplicate".into(),
            reason: Some("identical".into()),
        };
        {
            let s = Store::open(t.path()).unwrap();
            s.park(&row("/in/a.jpg", 1)).unwrap();
            s.park(&row("/in/b.jpg", 2)).unwrap();
            s.park(&row("/in/a.jpg", 3)).unwrap();
        }
        let mut s = Store::open(t.path()).unwrap();
        assert_eq!(s.parked().unwrap(), vec![row("/in/a.jpg", 3), row("/in/b.jpg", 2)]);
        s.unpark(&[Path::new("/in/a.jpg")]).unwrap();
        assert_eq!(s.parked().unwrap(), vec![row("/in/b.jpg", 2)]);
        s.unpark_all().unwrap();
        assert!(s.parked().unwrap().is_empty());
    }
}
