//! Corrections and memories of verdicts, by content (blake3) so they hold
//! through renames and re-syncs: pairs the user said are not duplicates
//! (`apart`), contents the user chose as keepers (`chosen`), and contents
//! remembered after they left the library (`remembered`: deleted, or
//! replaced by a compressed copy).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rusqlite::{params, OptionalExtension};

use super::{blob_path, now_rfc3339, path_blob, Store, StoreError};
use crate::phash::PHash;

/// A content remembered after it left the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    /// The content, blake3 hex.
    pub blake3: String,
    /// [`DELETED`] or [`COMPRESSED`].
    pub kind: String,
    /// Its pHash, when it was known.
    pub phash: Option<PHash>,
    /// For a compressed original: the content of the compressed copy that replaced it.
    pub now: Option<String>,
    /// Where it was (the library path, or the inbox path of a set-aside duplicate).
    pub path: Option<PathBuf>,
    /// The session that deleted or compressed it.
    pub session: Option<i64>,
    /// When (RFC 3339; set by the store).
    pub at: String,
}

/// A set-aside duplicate or a dedup-deleted file, pruned for good.
pub const DELETED: &str = "deleted";
/// An original replaced in the library by its compressed copy.
pub const COMPRESSED: &str = "compressed";

/// An unordered pair of contents, smaller first.
pub fn pair(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_string(), b.to_string())
    } else {
        (b.to_string(), a.to_string())
    }
}

impl Store {
    /// Records that contents `a` and `b` are not duplicates of each other.
    /// Returns false when that was already known.
    pub fn set_apart(&mut self, a: &str, b: &str, session: Option<i64>) -> Result<bool, StoreError> {
        let (a, b) = pair(a, b);
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO apart (a, b, session, at) VALUES (?1, ?2, ?3, ?4)",
                params![a, b, session, now_rfc3339()],
            )
            .map_err(self.sql())?;
        Ok(n > 0)
    }

    /// Whether contents `a` and `b` are already kept apart.
    pub fn is_apart(&self, a: &str, b: &str) -> Result<bool, StoreError> {
        let (a, b) = pair(a, b);
        self.conn
            .query_row("SELECT 1 FROM apart WHERE a = ?1 AND b = ?2", params![a, b], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(self.sql())
    }

    /// Records that content `blake3` is the keeper of its group from now on
    /// (`cbctl prefer`). Returns false when that was already known.
    pub fn choose(&mut self, blake3: &str, session: Option<i64>) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute(
                "INSERT OR IGNORE INTO chosen (blake3, session, at) VALUES (?1, ?2, ?3)",
                params![blake3, session, now_rfc3339()],
            )
            .map_err(self.sql())?;
        Ok(n > 0)
    }

    /// Whether content `blake3` was chosen as a keeper.
    pub fn is_chosen(&self, blake3: &str) -> Result<bool, StoreError> {
        self.conn
            .query_row("SELECT 1 FROM chosen WHERE blake3 = ?1", [blake3], |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
            .map_err(self.sql())
    }

    /// Every content the user chose as a keeper (as many as choices made: few).
    pub fn chosen_contents(&self) -> Result<BTreeSet<String>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT blake3 FROM chosen").map_err(self.sql())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// How many verdicts (pairs kept apart, keepers chosen) `session` stored and still stand.
    pub fn verdicts_of_session(&self, session: i64) -> Result<usize, StoreError> {
        self.conn
            .query_row(
                "SELECT (SELECT COUNT(*) FROM apart WHERE session = ?1) + (SELECT COUNT(*) FROM chosen WHERE session = ?1)",
                [session],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n as usize)
            .map_err(self.sql())
    }

    /// Removes the verdicts `session` stored (its pairs kept apart, its
    /// keepers chosen), in one transaction; returns how many there were.
    pub fn lift_verdicts_of_session(&mut self, session: i64) -> Result<usize, StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        let n = tx.execute("DELETE FROM apart WHERE session = ?1", [session]).map_err(&sql)?
            + tx.execute("DELETE FROM chosen WHERE session = ?1", [session]).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(n)
    }

    /// Every pair the user kept apart (there are as many as corrections made: few).
    pub fn apart_pairs(&self) -> Result<BTreeSet<(String, String)>, StoreError> {
        let mut stmt = self.conn.prepare_cached("SELECT a, b FROM apart").map_err(self.sql())?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Remembers contents, replacing what was remembered of the same kind.
    pub fn remember(&mut self, rows: &[Remembered]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let now = now_rfc3339();
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        {
            let mut stmt = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO remembered (blake3, kind, phash, now, path, session, at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(&sql)?;
            for r in rows {
                stmt.execute(params![
                    r.blake3,
                    r.kind,
                    r.phash.map(|h| h.0 as i64),
                    r.now,
                    r.path.as_deref().map(path_blob),
                    r.session,
                    now
                ])
                .map_err(&sql)?;
            }
        }
        tx.commit().map_err(&sql)
    }

    /// What is remembered of a content: at most one row per kind.
    pub fn remembered(&self, blake3: &str) -> Result<Vec<Remembered>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT blake3, kind, phash, now, path, session, at FROM remembered WHERE blake3 = ?1 ORDER BY kind",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([blake3], |r| {
                Ok(Remembered {
                    blake3: r.get(0)?,
                    kind: r.get(1)?,
                    phash: r.get::<_, Option<i64>>(2)?.map(|v| PHash(v as u64)),
                    now: r.get(3)?,
                    path: r.get::<_, Option<Vec<u8>>>(4)?.map(blob_path),
                    session: r.get(5)?,
                    at: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.collect::<Result<_, _>>().map_err(self.sql())
    }

    /// Lifts a deletion remembered of a content (`cbctl forget`). Returns
    /// whether one was remembered.
    pub fn forget(&mut self, blake3: &str) -> Result<bool, StoreError> {
        let n = self
            .conn
            .execute("DELETE FROM remembered WHERE blake3 = ?1 AND kind = ?2", params![blake3, DELETED])
            .map_err(self.sql())?;
        Ok(n > 0)
    }

    /// The pHash the index knows for a content, from any file that has it.
    pub fn phash_of_content(&self, blake3: &str) -> Result<Option<PHash>, StoreError> {
        self.conn
            .query_row(
                &format!("SELECT phash FROM files WHERE {} AND phash IS NOT NULL LIMIT 1", super::index::SAME_CONTENT),
                [blake3],
                |r| r.get::<_, i64>(0),
            )
            .optional()
            .map(|v| v.map(|v| PHash(v as u64)))
            .map_err(self.sql())
    }

    /// The latest decision of each file a session set aside (left in place
    /// as a duplicate, or moved to the duplicates folder), newest first:
    /// `cbctl skipped`. A file decided about again later (filed, say) is
    /// listed by that later decision, and so left out.
    pub fn set_aside(&self) -> Result<Vec<super::DecisionRow>, StoreError> {
        self.latest_decisions("outcome IN ('duplicate', 'quarantined')")
    }

    /// Whether `path` was set aside by its latest decision.
    pub fn set_aside_at(&self, path: &Path) -> Result<Option<super::DecisionRow>, StoreError> {
        Ok(self
            .decisions_about(path)?
            .into_iter()
            .next()
            .filter(|d| d.outcome == "duplicate" || d.outcome == "quarantined"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_unordered_and_kept_once() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        assert!(s.set_apart("bb", "aa", None).unwrap());
        assert!(!s.set_apart("aa", "bb", Some(3)).unwrap());
        assert_eq!(s.apart_pairs().unwrap().into_iter().collect::<Vec<_>>(), vec![pair("aa", "bb")]);
    }

    #[test]
    fn a_sessions_verdicts_are_lifted_and_no_other_sessions() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        assert!(s.set_apart("aa", "bb", Some(1)).unwrap());
        assert!(s.set_apart("aa", "cc", Some(2)).unwrap());
        assert!(s.choose("dd", Some(1)).unwrap());
        assert!(!s.choose("dd", Some(2)).unwrap(), "chosen once");
        assert!(s.is_apart("bb", "aa").unwrap() && s.is_chosen("dd").unwrap());
        assert_eq!(s.verdicts_of_session(1).unwrap(), 2);
        assert_eq!(s.lift_verdicts_of_session(1).unwrap(), 2);
        assert_eq!(s.verdicts_of_session(1).unwrap(), 0);
        assert!(!s.is_apart("aa", "bb").unwrap() && s.is_apart("aa", "cc").unwrap());
        assert!(s.chosen_contents().unwrap().is_empty());
    }

    #[test]
    fn a_remembered_deletion_is_found_by_content_and_forgotten() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let gone = Remembered {
            blake3: "c0ffee".into(),
            kind: DELETED.into(),
            phash: Some(PHash(7)),
            now: None,
            path: Some(PathBuf::from("/in/a.jpg")),
            session: Some(4),
            at: String::new(),
        };
        let squeezed = Remembered { kind: COMPRESSED.into(), now: Some("beef".into()), ..gone.clone() };
        s.remember(&[gone, squeezed]).unwrap();
        let found = s.remembered("c0ffee").unwrap();
        assert_eq!(found.iter().map(|r| r.kind.as_str()).collect::<Vec<_>>(), vec![COMPRESSED, DELETED]);
        assert_eq!(found[1].path.as_deref(), Some(Path::new("/in/a.jpg")));
        assert!(!found[1].at.is_empty());
        assert!(s.forget("c0ffee").unwrap());
        assert!(!s.forget("c0ffee").unwrap());
        assert_eq!(s.remembered("c0ffee").unwrap().len(), 1, "the compressed copy is still remembered");
        assert!(s.remembered("other").unwrap().is_empty());
    }
}
