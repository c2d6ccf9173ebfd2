//! The `files` table: what we know about each indexed media file, trusted
//! while its size, mtime and inode are unchanged.

use std::path::{Path, PathBuf};

use rusqlite::params;

use super::{blob_path, path_blob, Store, StoreError};
use crate::media::capture::Capture;
use crate::phash::PHash;

/// One indexed file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileRow {
    /// Absolute path.
    pub path: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// blake3 of the content, hex.
    pub blake3: String,
    /// Perceptual hash, for images we can decode.
    pub phash: Option<PHash>,
    /// Pixel width (upright), when known.
    pub width: Option<u32>,
    /// Pixel height (upright), when known.
    pub height: Option<u32>,
    /// Capture date, RFC 3339.
    pub taken_at: Option<String>,
    /// Where the date came from.
    pub taken_source: Option<String>,
    /// Media kind name (`jpeg`, `heic`, `mp4`, ...).
    pub kind: String,
    /// Why an image has no perceptual hash.
    pub hash_error: Option<String>,
    /// The second look at the picture ([`crate::phash::second_32`]).
    pub second: Option<PHash>,
    /// What tells this shot from the camera's others.
    pub capture: Capture,
    /// The index format it was read with ([`INDEX_FORMAT`]).
    pub format: u32,
}

/// The index format rows are read with now: 1 added `capture` and
/// `second`. Rows of an older format are read again.
pub const INDEX_FORMAT: u32 = 1;

impl FileRow {
    /// Width × height, 0 when unknown.
    pub fn pixels(&self) -> u64 {
        u64::from(self.width.unwrap_or(0)) * u64::from(self.height.unwrap_or(0))
    }

    /// The index's view of a file on disk: size, mtime in ns, inode.
    pub fn stat_key(meta: &std::fs::Metadata) -> (u64, i64, u64) {
        use std::os::unix::fs::MetadataExt;
        (meta.len(), meta.mtime() * 1_000_000_000 + meta.mtime_nsec(), meta.ino())
    }

    /// Takes size, mtime and inode from `meta`.
    pub fn set_stat(&mut self, meta: &std::fs::Metadata) {
        (self.size, self.mtime_ns, self.inode) = FileRow::stat_key(meta);
    }
}

const COLUMNS: &str = "path, size, mtime_ns, inode, blake3, phash, width, height, taken_at, taken_source, kind, \
                       hash_error, second, capture, format";

/// Rows whose content is `?1`: through the index of its 64-bit prefix
/// (migration 0010, which the planner uses only for this very expression),
/// then the whole hash.
pub(super) const SAME_CONTENT: &str = "substr(blake3, 1, 16) = substr(?1, 1, 16) AND blake3 = ?1";

fn files_with_blake3_sql() -> String {
    format!("SELECT {COLUMNS} FROM files WHERE {SAME_CONTENT} AND path >= ?2 AND path < ?3 ORDER BY path")
}

fn row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<FileRow> {
    row_at(r, 0)
}

/// The row whose [`COLUMNS`] start at column `o`.
fn row_at(r: &rusqlite::Row<'_>, o: usize) -> rusqlite::Result<FileRow> {
    Ok(FileRow {
        path: blob_path(r.get(o)?),
        size: r.get::<_, i64>(o + 1)? as u64,
        mtime_ns: r.get(o + 2)?,
        inode: r.get::<_, i64>(o + 3)? as u64,
        blake3: r.get(o + 4)?,
        phash: r.get::<_, Option<i64>>(o + 5)?.map(|v| PHash(v as u64)),
        width: r.get(o + 6)?,
        height: r.get(o + 7)?,
        taken_at: r.get(o + 8)?,
        taken_source: r.get(o + 9)?,
        kind: r.get(o + 10)?,
        hash_error: r.get(o + 11)?,
        second: r.get::<_, Option<i64>>(o + 12)?.map(|v| PHash(v as u64)),
        capture: Capture::from_json(r.get::<_, Option<String>>(o + 13)?.as_deref()),
        format: r.get(o + 14)?,
    })
}

/// What [`Store::file_key_at`] gives: enough to tell a changed file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileKey {
    /// Row id.
    pub id: i64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i64,
    /// Inode number.
    pub inode: u64,
    /// The index format it was read with.
    pub format: u32,
    /// Media kind name.
    pub kind: String,
    /// It has a perceptual hash, or the reason why not.
    pub hashed: bool,
}

/// The half-open range of path blobs strictly under `root`: `root/` ..
/// `root0` (`0` follows `/` in byte order).
fn subtree(root: &Path) -> (Vec<u8>, Vec<u8>) {
    let mut lo = path_blob(root).to_vec();
    if lo.last() != Some(&b'/') {
        lo.push(b'/');
    }
    let mut hi = lo.clone();
    if let Some(last) = hi.last_mut() {
        *last = b'/' + 1;
    }
    (lo, hi)
}

impl Store {
    /// Every indexed file under `root` (recursively), by path.
    pub fn files_under(&self, root: &Path) -> Result<Vec<FileRow>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT {COLUMNS} FROM files WHERE path >= ?1 AND path < ?2 ORDER BY path"))
            .map_err(self.sql())?;
        let rows = stmt.query_map(params![lo, hi], row_of).map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// The perceptual hashes under `root` (or all, for `None`), for the
    /// in-memory search structure: (row id, hash). One pass, no other columns.
    pub fn phashes_under(&self, root: Option<&Path>) -> Result<Vec<(i64, PHash)>, StoreError> {
        let map = |r: &rusqlite::Row<'_>| Ok((r.get::<_, i64>(0)?, PHash(r.get::<_, i64>(1)? as u64)));
        let rows = match root {
            Some(root) => {
                let (lo, hi) = subtree(root);
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id, phash FROM files WHERE path >= ?1 AND path < ?2 AND phash IS NOT NULL")
                    .map_err(self.sql())?;
                let rows = stmt.query_map(params![lo, hi], map).map_err(self.sql())?;
                rows.collect::<Result<Vec<_>, _>>()
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id, phash FROM files WHERE phash IS NOT NULL")
                    .map_err(self.sql())?;
                let rows = stmt.query_map([], map).map_err(self.sql())?;
                rows.collect::<Result<Vec<_>, _>>()
            }
        };
        rows.map_err(self.sql())
    }

    /// The index row of one path, if indexed.
    pub fn file_at(&self, path: &Path) -> Result<Option<FileRow>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM files WHERE path = ?1")).map_err(self.sql())?;
        let mut rows = stmt.query_map([path_blob(path)], row_of).map_err(self.sql())?;
        rows.next().transpose().map_err(self.sql())
    }

    /// One indexed file by row id.
    pub fn file_by_id(&self, id: i64) -> Result<Option<FileRow>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached(&format!("SELECT {COLUMNS} FROM files WHERE id = ?1")).map_err(self.sql())?;
        let mut rows = stmt.query_map([id], row_of).map_err(self.sql())?;
        rows.next().transpose().map_err(self.sql())
    }

    /// Indexed files under `root` with this content.
    pub fn files_with_blake3(&self, root: &Path, blake3: &str) -> Result<Vec<FileRow>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self.conn.prepare_cached(&files_with_blake3_sql()).map_err(self.sql())?;
        let rows = stmt.query_map(params![blake3, lo, hi], row_of).map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// What the index knows of one path to tell whether its file changed
    /// (no other columns: a refresh looks this up for every file it walks).
    pub fn file_key_at(&self, path: &Path) -> Result<Option<FileKey>, StoreError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT id, size, mtime_ns, inode, format, kind, phash IS NOT NULL OR hash_error IS NOT NULL
                 FROM files WHERE path = ?1",
            )
            .map_err(self.sql())?;
        let mut rows = stmt
            .query_map([path_blob(path)], |r| {
                Ok(FileKey {
                    id: r.get(0)?,
                    size: r.get::<_, i64>(1)? as u64,
                    mtime_ns: r.get(2)?,
                    inode: r.get::<_, i64>(3)? as u64,
                    format: r.get(4)?,
                    kind: r.get(5)?,
                    hashed: r.get(6)?,
                })
            })
            .map_err(self.sql())?;
        rows.next().transpose().map_err(self.sql())
    }

    /// The largest row id of the index (0 when it is empty): rows written
    /// after a refresh began have larger ones.
    pub fn max_file_id(&self) -> Result<i64, StoreError> {
        self.conn.query_row("SELECT coalesce(max(id), 0) FROM files", [], |r| r.get(0)).map_err(self.sql())
    }

    /// Row id and path of every indexed file under `root` that `wanted`
    /// picks (by row id), without reading their other columns.
    pub fn ids_under(
        &self,
        root: &Path,
        wanted: &mut dyn FnMut(i64) -> bool,
    ) -> Result<Vec<(i64, PathBuf)>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path FROM files WHERE path >= ?1 AND path < ?2")
            .map_err(self.sql())?;
        let mut rows = stmt.query(params![lo, hi]).map_err(self.sql())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.sql())? {
            let id: i64 = r.get(0).map_err(self.sql())?;
            if wanted(id) {
                out.push((id, blob_path(r.get(1).map_err(self.sql())?)));
            }
        }
        Ok(out)
    }

    /// Every indexed file under `root` (recursively, by path) that `wanted`
    /// picks by row id.
    pub fn files_under_where(
        &self,
        root: &Path,
        wanted: &mut dyn FnMut(i64) -> bool,
    ) -> Result<Vec<FileRow>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self
            .conn
            .prepare_cached(&format!("SELECT id, {COLUMNS} FROM files WHERE path >= ?1 AND path < ?2 ORDER BY path"))
            .map_err(self.sql())?;
        let mut rows = stmt.query(params![lo, hi]).map_err(self.sql())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.sql())? {
            if wanted(r.get(0).map_err(self.sql())?) {
                out.push(row_at(r, 1).map_err(self.sql())?);
            }
        }
        Ok(out)
    }

    /// The indexed media files under `root` whose lower-case file name
    /// `wanted` picks: a sidecar that came alone looks for its photo by
    /// name. Reads every path under `root` once (no other columns but the
    /// kind of the ones picked); nothing is kept in memory between calls.
    pub fn files_named_under(
        &self,
        root: &Path,
        wanted: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<(PathBuf, String)>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self
            .conn
            .prepare_cached("SELECT path, kind FROM files WHERE path >= ?1 AND path < ?2 ORDER BY path")
            .map_err(self.sql())?;
        let mut rows = stmt.query(params![lo, hi]).map_err(self.sql())?;
        let mut out = Vec::new();
        while let Some(r) = rows.next().map_err(self.sql())? {
            let path = blob_path(r.get(0).map_err(self.sql())?);
            let picked = path.file_name().is_some_and(|n| wanted(&n.to_string_lossy().to_lowercase()));
            if picked {
                out.push((path, r.get(1).map_err(self.sql())?));
            }
        }
        Ok(out)
    }

    /// The Live Photo still (not its video) under `root` with this Apple
    /// ContentIdentifier, by its index row; through an index on the
    /// identifier, so nothing of the library is kept in memory for it.
    pub fn live_stills_under(&self, root: &Path, id: &str) -> Result<Vec<FileRow>, StoreError> {
        let (lo, hi) = subtree(root);
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM files WHERE capture IS NOT NULL AND json_extract(capture, '$.live') = ?1
                 AND path >= ?2 AND path < ?3 ORDER BY path"
            ))
            .map_err(self.sql())?;
        let rows = stmt.query_map(params![id, lo, hi], row_of).map_err(self.sql())?;
        rows.collect::<Result<Vec<_>, _>>().map_err(self.sql())
    }

    /// Adds or replaces rows and removes others, in one transaction.
    pub fn update_files(&mut self, upsert: &[FileRow], remove: &[PathBuf]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        write_files(&tx, upsert, remove).map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    /// Whether any file under `root` is indexed.
    pub fn has_files_under(&self, root: &Path) -> Result<bool, StoreError> {
        let (lo, hi) = subtree(root);
        self.conn
            .query_row("SELECT EXISTS (SELECT 1 FROM files WHERE path >= ?1 AND path < ?2)", params![lo, hi], |r| {
                r.get(0)
            })
            .map_err(self.sql())
    }

    /// Number of indexed files under `root` (recursively): the library's
    /// own, without the other folders a dedup or index job read.
    pub fn count_under(&self, root: &Path) -> Result<u64, StoreError> {
        let (lo, hi) = subtree(root);
        self.conn
            .query_row("SELECT count(*) FROM files WHERE path >= ?1 AND path < ?2", params![lo, hi], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n as u64)
            .map_err(self.sql())
    }

    /// Number of indexed files.
    pub fn file_count(&self) -> Result<u64, StoreError> {
        self.conn
            .query_row("SELECT count(*) FROM files", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
            .map_err(self.sql())
    }
}

/// Upserts and removes index rows inside a caller's transaction (so the
/// journal and the index change together).
pub(super) fn write_files(
    tx: &rusqlite::Transaction<'_>,
    upsert: &[FileRow],
    remove: &[PathBuf],
) -> Result<(), rusqlite::Error> {
    let mut ins = tx.prepare_cached(&format!(
        "INSERT INTO files ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
         ON CONFLICT(path) DO UPDATE SET size = excluded.size, mtime_ns = excluded.mtime_ns,
           inode = excluded.inode, blake3 = excluded.blake3, phash = excluded.phash,
           width = excluded.width, height = excluded.height, taken_at = excluded.taken_at,
           taken_source = excluded.taken_source, kind = excluded.kind, hash_error = excluded.hash_error,
           second = excluded.second, capture = excluded.capture, format = excluded.format"
    ))?;
    for f in upsert {
        ins.execute(params![
            path_blob(&f.path),
            f.size as i64,
            f.mtime_ns,
            f.inode as i64,
            f.blake3,
            f.phash.map(|h| h.0 as i64),
            f.width,
            f.height,
            f.taken_at,
            f.taken_source,
            f.kind,
            f.hash_error,
            f.second.map(|h| h.0 as i64),
            f.capture.to_json(),
            f.format,
        ])?;
    }
    let mut del = tx.prepare_cached("DELETE FROM files WHERE path = ?1")?;
    for p in remove {
        del.execute([path_blob(p)])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, phash: Option<u64>) -> FileRow {
        FileRow {
            path: PathBuf::from(path),
            size: 10,
            mtime_ns: 1,
            inode: 2,
            blake3: "ab".into(),
            phash: phash.map(PHash),
            width: Some(4),
            height: Some(3),
            taken_at: None,
            taken_source: None,
            kind: "jpeg".into(),
            hash_error: None,
            second: phash.map(|h| PHash(!h)),
            capture: Capture { time: Some("2024:05:01 10:00:00".into()), ..Capture::default() },
            format: INDEX_FORMAT,
        }
    }

    #[test]
    fn rows_round_trip_and_subtrees_do_not_leak_into_siblings() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let rows = [row("/lib/a.jpg", Some(u64::MAX)), row("/lib/x/b.jpg", None), row("/lib2/c.jpg", Some(5))];
        s.update_files(&rows, &[]).unwrap();
        let under = s.files_under(Path::new("/lib")).unwrap();
        assert_eq!(under, rows[..2].to_vec());
        let hashes = s.phashes_under(Some(Path::new("/lib"))).unwrap();
        assert_eq!(hashes.len(), 1);
        assert_eq!(hashes[0].1, PHash(u64::MAX));
        assert_eq!(s.phashes_under(None).unwrap().len(), 2);
        s.update_files(&[], &[PathBuf::from("/lib/a.jpg")]).unwrap();
        assert_eq!(s.file_count().unwrap(), 2);
    }

    #[test]
    fn count_under_counts_one_folder_not_its_siblings_or_the_rest() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let rows =
            [row("/lib/a.jpg", None), row("/lib/x/b.jpg", None), row("/lib2/c.jpg", None), row("/other/d.jpg", None)];
        s.update_files(&rows, &[]).unwrap();
        assert_eq!(s.count_under(Path::new("/lib")).unwrap(), 2);
        assert_eq!(s.count_under(Path::new("/lib/")).unwrap(), 2);
        assert_eq!(s.count_under(Path::new("/lib/x")).unwrap(), 1);
        assert_eq!(s.count_under(Path::new("/nowhere")).unwrap(), 0);
        assert_eq!(s.file_count().unwrap(), 4);
    }

    #[test]
    fn content_lookups_go_through_the_prefix_index_and_compare_the_whole_hash() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let prefix = "0123456789abcdef";
        let mut a = row("/lib/a.jpg", Some(7));
        a.blake3 = format!("{prefix}{}", "0".repeat(48));
        let mut b = row("/lib/b.jpg", None);
        b.blake3 = format!("{prefix}{}", "1".repeat(48));
        let mut c = row("/elsewhere/c.jpg", None);
        c.blake3 = a.blake3.clone();
        s.update_files(&[a.clone(), b.clone(), c], &[]).unwrap();
        // Same 64-bit prefix, different content: only the whole hash's row.
        assert_eq!(s.files_with_blake3(Path::new("/lib"), &a.blake3).unwrap(), vec![a.clone()]);
        assert_eq!(s.files_with_blake3(Path::new("/lib"), &b.blake3).unwrap(), vec![b.clone()]);
        assert!(s.files_with_blake3(Path::new("/lib"), &format!("{prefix}{}", "2".repeat(48))).unwrap().is_empty());
        assert_eq!(s.phash_of_content(&a.blake3).unwrap(), Some(PHash(7)));
        assert_eq!(s.phash_of_content(&b.blake3).unwrap(), None);
        // The lookup is a search of the compact index, never a scan.
        let plan: Vec<String> = {
            let mut stmt = s.conn.prepare(&format!("EXPLAIN QUERY PLAN {}", files_with_blake3_sql())).unwrap();
            let rows = stmt.query_map(params![a.blake3, b"/lib/".to_vec(), b"/lib0".to_vec()], |r| r.get(3)).unwrap();
            rows.collect::<Result<_, _>>().unwrap()
        };
        assert!(plan.iter().any(|l| l.contains("USING INDEX files_content")), "{plan:?}");
        let old: i64 = s
            .conn
            .query_row("SELECT count(*) FROM sqlite_master WHERE name = 'files_blake3'", [], |r| r.get(0))
            .unwrap();
        assert_eq!(old, 0, "the full-width index is dropped");
    }
}
