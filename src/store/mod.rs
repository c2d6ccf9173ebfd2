//! The only code that touches SQLite: schema, migrations, sessions and the
//! write-ahead journal of file operations, plus the state-dir lock.
//!
//! The database lives in `state_dir/clean-backup.db`, in WAL mode with
//! `synchronous=FULL`: a journal row is on disk before the file operation
//! it describes starts.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};

mod decisions;
mod index;
mod lock;
mod parked;
pub mod search;
mod verdicts;

pub use decisions::DecisionRow;
pub use index::{FileKey, FileRow, INDEX_FORMAT};
pub use lock::StateLock;
pub use parked::ParkedRow;
pub use search::HashIndex;
pub use verdicts::{pair, Remembered, COMPRESSED, DELETED};

/// Schema migrations, applied in order; `PRAGMA user_version` counts them.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_journal.sql"),
    include_str!("migrations/0002_files.sql"),
    include_str!("migrations/0003_parked.sql"),
    include_str!("migrations/0004_decisions.sql"),
    include_str!("migrations/0005_meta.sql"),
    include_str!("migrations/0006_lookups.sql"),
    include_str!("migrations/0007_verdicts.sql"),
    include_str!("migrations/0008_chosen.sql"),
    include_str!("migrations/0009_live.sql"),
    include_str!("migrations/0010_content_key.sql"),
];

/// File name of the database inside `state_dir`.
pub const DB_FILE: &str = "clean-backup.db";

/// Store errors, naming the database file.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("journal database {path}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        #[source]
        source: rusqlite::Error,
    },
    /// The state folder could not be created or locked.
    #[error("state folder {path}: {source}")]
    Io {
        /// The folder or file in it (the lock, the database) that failed.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another engine holds the state lock.
    #[error("{path} is locked by another clean-backup process (pid {pid}); stop it or use `cbctl` to talk to it")]
    Locked {
        /// The lock file in the state folder.
        path: PathBuf,
        /// The holder's pid, as written in the lock file (empty if it wrote none).
        pid: String,
    },
    /// The database was written by a newer clean-backup.
    #[error("journal database {path} has schema version {found}, newer than this build knows ({known}); upgrade clean-backup")]
    TooNew {
        /// The database file.
        path: PathBuf,
        /// Its schema version (`PRAGMA user_version`).
        found: i64,
        /// The newest schema version this build knows (its migration count).
        known: i64,
    },
    /// A row holds a value this build does not understand.
    #[error("journal database {path}: bad value {value:?} in {column}")]
    BadValue {
        /// The database file.
        path: PathBuf,
        /// The table and column, such as `ops.state`.
        column: &'static str,
        /// The value found, or `(missing)` for a row that is not there.
        value: String,
    },
}

/// What a journaled op does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move `src` to `dst`.
    Move,
    /// Copy `src` to `dst`.
    Copy,
    /// Remove `src` (a copy made earlier, whose original is at `dst`; or,
    /// in a prune, a file in the trash whose original place was `dst`).
    Unlink,
    /// Move `src` into the trash at `dst` ("delete", undoable until pruned).
    Trash,
}

impl Action {
    /// The name stored in the `ops.action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Move => "move",
            Action::Copy => "copy",
            Action::Unlink => "unlink",
            Action::Trash => "trash",
        }
    }
    fn parse(s: &str) -> Option<Action> {
        Some(match s {
            "move" => Action::Move,
            "copy" => Action::Copy,
            "unlink" => Action::Unlink,
            "trash" => Action::Trash,
            _ => return None,
        })
    }
}

/// Where an op stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    /// Journaled; the file operation may or may not have happened.
    Planned,
    /// Happened and is durable.
    Done,
    /// Did not happen (error, or rolled back by recovery).
    Failed,
    /// Happened, then was reverted by an undo.
    Undone,
    /// A trash op whose file `cbctl prune` removed for good.
    Pruned,
}

impl OpState {
    /// The name stored in the `ops.state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            OpState::Planned => "planned",
            OpState::Done => "done",
            OpState::Failed => "failed",
            OpState::Undone => "undone",
            OpState::Pruned => "pruned",
        }
    }
    fn parse(s: &str) -> Option<OpState> {
        Some(match s {
            "planned" => OpState::Planned,
            "done" => OpState::Done,
            "failed" => OpState::Failed,
            "undone" => OpState::Undone,
            "pruned" => OpState::Pruned,
            _ => return None,
        })
    }
}

/// An op to journal before it happens.
#[derive(Debug, Clone)]
pub struct NewOp {
    /// The session it belongs to.
    pub session: i64,
    /// What it does.
    pub action: Action,
    /// Where the file is now.
    pub src: PathBuf,
    /// Where it goes.
    pub dst: PathBuf,
    /// Temp name used for a cross-filesystem copy.
    pub tmp: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// blake3 hex of the content.
    pub blake3: String,
    /// Folders this op will create, outermost first.
    pub dirs_created: Vec<PathBuf>,
    /// For undo ops, the op being reverted.
    pub reverts: Option<i64>,
}

/// A journaled op as read back.
#[derive(Debug, Clone)]
pub struct OpRow {
    /// Row id.
    pub id: i64,
    /// Its session.
    pub session: i64,
    /// Order within the session.
    pub seq: i64,
    /// What it does.
    pub action: Action,
    /// Where the file was.
    pub src: PathBuf,
    /// Where it went.
    pub dst: PathBuf,
    /// Temp name for a cross-filesystem copy.
    pub tmp: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// blake3 hex.
    pub blake3: String,
    /// Where it stands.
    pub state: OpState,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// The op an undo op reverts.
    pub reverts: Option<i64>,
    /// Folders it created, outermost first.
    pub dirs_created: Vec<PathBuf>,
}

/// A session as read back, with op counts.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SessionRow {
    /// Session id (what `cbctl undo ID` takes).
    pub id: i64,
    /// ingest | organize | dedup | compress | undo | prune | keep | not-duplicate | prefer.
    pub kind: String,
    /// RFC 3339 UTC.
    pub started_at: String,
    /// RFC 3339 UTC, when finished.
    pub finished_at: Option<String>,
    /// running | done | interrupted | undone.
    pub state: String,
    /// The job's parameters (JSON).
    pub params: serde_json::Value,
    /// The job's summary counts (JSON).
    pub summary: serde_json::Value,
    /// For an undo session, the session it undid.
    pub undoes: Option<i64>,
    /// Ops done and still standing.
    pub ops_done: i64,
    /// Ops undone.
    pub ops_undone: i64,
    /// Ops failed (a move or copy that did not happen; the file stayed).
    pub ops_failed: i64,
    /// Files that failed in this session: the ones it could not read or
    /// file (its decisions with outcome `error`), and any other failed op.
    /// What `cbctl history` shows as FAILED; `ops_failed` misses the files
    /// that failed before an op was planned for them.
    #[serde(default)]
    pub failed: i64,
    /// Bytes of the done ops.
    pub bytes: i64,
}

/// The journal database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn path_blob(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

fn blob_path(b: Vec<u8>) -> PathBuf {
    PathBuf::from(OsString::from_vec(b))
}

/// Creates `dir` (and parents) if missing, mode 0700 whatever the umask.
/// An existing folder that others (or its group) may write, or others read,
/// is tightened to 0700 (0750 when its group could read it, as the system
/// unit's `StateDirectoryMode=0750` sets). Search-only access (0711, set
/// when `control.allow_users` lets others reach the socket) is left.
pub fn ensure_private_dir(dir: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    let io = |source| StoreError::Io { path: dir.to_path_buf(), source };
    if !dir.is_dir() {
        std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        // `mode` is masked by the umask; the folder itself gets exactly 0700.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(io)?;
        return Ok(());
    }
    let meta = std::fs::metadata(dir).map_err(io)?;
    let mode = meta.permissions().mode() & 0o7777;
    use std::os::unix::fs::MetadataExt;
    if mode & 0o026 != 0 && meta.uid() == rustix::process::geteuid().as_raw() {
        let tight = if mode & 0o070 == 0o050 { 0o750 } else { 0o700 };
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(tight)).map_err(io)?;
    }
    Ok(())
}

/// Creates `path` as an empty 0600 file if it does not exist, or takes away
/// group and other access from one that does.
pub fn private_file(path: &Path) -> Result<(), StoreError> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let io = |source| StoreError::Io { path: path.to_path_buf(), source };
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(io)?;
    let mode = f.metadata().map_err(io)?.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        f.set_permissions(std::fs::Permissions::from_mode(mode & 0o600)).map_err(io)?;
    }
    Ok(())
}

/// Now as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Store {
    /// Opens (creating if needed) the database in `state_dir` and migrates it.
    /// The folder is made private (0700) and the database file 0600 (SQLite
    /// gives its `-wal` and `-shm` files the database's mode), whatever the
    /// caller's umask: the journal names every file of the library.
    pub fn open(state_dir: &Path) -> Result<Store, StoreError> {
        ensure_private_dir(state_dir)?;
        let path = state_dir.join(DB_FILE);
        private_file(&path)?;
        let sql = |source| StoreError::Sql { path: path.clone(), source };
        let conn = Connection::open(&path).map_err(sql)?;
        conn.busy_timeout(std::time::Duration::from_secs(10)).map_err(sql)?;
        conn.pragma_update(None, "journal_mode", "WAL").map_err(sql)?;
        conn.pragma_update(None, "synchronous", "FULL").map_err(sql)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(sql)?;
        let mut store = Store { conn, path };
        store.migrate()?;
        Ok(store)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sql(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sql { path: self.path.clone(), source }
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let version: i64 = self.conn.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(self.sql())?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::TooNew { path: self.path.clone(), found: version, known });
        }
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        for (i, migration) in MIGRATIONS.iter().enumerate().skip(version as usize) {
            let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
            tx.execute_batch(migration).map_err(&sql)?;
            tx.pragma_update(None, "user_version", i as i64 + 1).map_err(&sql)?;
            tx.commit().map_err(&sql)?;
        }
        Ok(())
    }

    /// Starts a session; returns its id.
    pub fn begin_session(
        &self,
        kind: &str,
        params: &serde_json::Value,
        undoes: Option<i64>,
    ) -> Result<i64, StoreError> {
        self.conn
            .execute(
                "INSERT INTO sessions (kind, started_at, state, params, undoes) VALUES (?1, ?2, 'running', ?3, ?4)",
                params![kind, now_rfc3339(), params.to_string(), undoes],
            )
            .map_err(self.sql())?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Ends a session with a state and its summary counts.
    pub fn finish_session(&self, id: i64, state: &str, summary: &serde_json::Value) -> Result<(), StoreError> {
        self.conn
            .execute(
                "UPDATE sessions SET finished_at = ?2, state = ?3, summary = ?4 WHERE id = ?1",
                params![id, now_rfc3339(), state, summary.to_string()],
            )
            .map_err(self.sql())?;
        Ok(())
    }

    /// Sets a session's state (e.g. `undone`) without touching its summary.
    pub fn set_session_state(&self, id: i64, state: &str) -> Result<(), StoreError> {
        self.conn.execute("UPDATE sessions SET state = ?2 WHERE id = ?1", params![id, state]).map_err(self.sql())?;
        Ok(())
    }

    /// Journals an op as planned (durably) and returns its id.
    pub fn plan_op(&mut self, op: &NewOp) -> Result<i64, StoreError> {
        Ok(self.plan_ops(std::slice::from_ref(op))?[0])
    }

    /// Journals several ops as planned in one transaction (one fsync) and
    /// returns their ids, in order.
    pub fn plan_ops(&mut self, ops: &[NewOp]) -> Result<Vec<i64>, StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        let mut ids = Vec::with_capacity(ops.len());
        for op in ops {
            let seq: i64 = tx
                .query_row("SELECT COALESCE(MAX(seq), 0) + 1 FROM ops WHERE session = ?1", [op.session], |r| r.get(0))
                .map_err(&sql)?;
            tx.execute(
                "INSERT INTO ops (session, seq, action, src, dst, tmp, size, blake3, state, reverts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'planned', ?9)",
                params![
                    op.session,
                    seq,
                    op.action.as_str(),
                    path_blob(&op.src),
                    path_blob(&op.dst),
                    path_blob(&op.tmp),
                    op.size as i64,
                    op.blake3,
                    op.reverts
                ],
            )
            .map_err(&sql)?;
            let id = tx.last_insert_rowid();
            for (ord, dir) in op.dirs_created.iter().enumerate() {
                tx.execute(
                    "INSERT INTO op_dirs (op, ord, path) VALUES (?1, ?2, ?3)",
                    params![id, ord as i64, path_blob(dir)],
                )
                .map_err(&sql)?;
            }
            ids.push(id);
        }
        tx.commit().map_err(&sql)?;
        Ok(ids)
    }

    /// Sets the states of several ops in one transaction.
    pub fn set_op_states(&mut self, updates: &[(i64, OpState, Option<String>)]) -> Result<(), StoreError> {
        self.set_op_states_indexed(updates, &[], &[])
    }

    /// Sets the states of several ops and updates the library index to
    /// match, in one transaction: a crash leaves both before or both after.
    pub fn set_op_states_indexed(
        &mut self,
        updates: &[(i64, OpState, Option<String>)],
        upsert: &[FileRow],
        remove: &[PathBuf],
    ) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        for (op, state, error) in updates {
            tx.execute("UPDATE ops SET state = ?2, error = ?3 WHERE id = ?1", params![op, state.as_str(), error])
                .map_err(&sql)?;
        }
        index::write_files(&tx, upsert, remove).map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    /// Sets an op's state (and error text).
    pub fn set_op_state(&self, op: i64, state: OpState, error: Option<&str>) -> Result<(), StoreError> {
        self.conn
            .execute("UPDATE ops SET state = ?2, error = ?3 WHERE id = ?1", params![op, state.as_str(), error])
            .map_err(self.sql())?;
        Ok(())
    }

    /// Marks an undo op done and the op it reverts undone, and drops the
    /// index row of the place the file left, in one transaction: the index
    /// follows the journal, so a library emptied by an undo is not "a
    /// library whose files vanished".
    pub fn complete_revert(&mut self, undo_op: i64, original: i64) -> Result<(), StoreError> {
        let path = self.path.clone();
        let sql = move |source| StoreError::Sql { path: path.clone(), source };
        let tx = self.conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(&sql)?;
        tx.execute("UPDATE ops SET state = 'done', error = NULL WHERE id = ?1", [undo_op]).map_err(&sql)?;
        tx.execute("UPDATE ops SET state = 'undone' WHERE id = ?1", [original]).map_err(&sql)?;
        tx.execute("DELETE FROM files WHERE path = (SELECT dst FROM ops WHERE id = ?1)", [original]).map_err(&sql)?;
        tx.commit().map_err(&sql)
    }

    fn read_ops(&self, where_clause: &str, arg: Option<&dyn rusqlite::ToSql>) -> Result<Vec<OpRow>, StoreError> {
        let query = format!(
            "SELECT id, session, seq, action, src, dst, tmp, size, blake3, state, error, reverts FROM ops {where_clause} ORDER BY id"
        );
        let mut stmt = self.conn.prepare(&query).map_err(self.sql())?;
        let map = |r: &rusqlite::Row| -> rusqlite::Result<(OpRow, String, String)> {
            let action: String = r.get(3)?;
            let state: String = r.get(9)?;
            Ok((
                OpRow {
                    id: r.get(0)?,
                    session: r.get(1)?,
                    seq: r.get(2)?,
                    action: Action::Move,
                    src: blob_path(r.get(4)?),
                    dst: blob_path(r.get(5)?),
                    tmp: blob_path(r.get(6)?),
                    size: r.get::<_, i64>(7)? as u64,
                    blake3: r.get(8)?,
                    state: OpState::Planned,
                    error: r.get(10)?,
                    reverts: r.get(11)?,
                    dirs_created: Vec::new(),
                },
                action,
                state,
            ))
        };
        let rows = match arg {
            Some(a) => stmt.query_map([a], map),
            None => stmt.query_map([], map),
        }
        .map_err(self.sql())?;
        let mut out = Vec::new();
        for row in rows {
            let (mut op, action, state) = row.map_err(self.sql())?;
            op.action = Action::parse(&action).ok_or_else(|| StoreError::BadValue {
                path: self.path.clone(),
                column: "ops.action",
                value: action,
            })?;
            op.state = OpState::parse(&state).ok_or_else(|| StoreError::BadValue {
                path: self.path.clone(),
                column: "ops.state",
                value: state,
            })?;
            op.dirs_created = self.op_dirs(op.id)?;
            out.push(op);
        }
        Ok(out)
    }

    fn op_dirs(&self, op: i64) -> Result<Vec<PathBuf>, StoreError> {
        let mut stmt =
            self.conn.prepare_cached("SELECT path FROM op_dirs WHERE op = ?1 ORDER BY ord").map_err(self.sql())?;
        let rows = stmt.query_map([op], |r| r.get::<_, Vec<u8>>(0)).map_err(self.sql())?;
        rows.map(|r| r.map(blob_path).map_err(self.sql())).collect()
    }

    /// All ops of a session, in order.
    pub fn ops_of_session(&self, session: i64) -> Result<Vec<OpRow>, StoreError> {
        self.read_ops("WHERE session = ?1", Some(&session))
    }

    /// One op by id.
    pub fn op(&self, id: i64) -> Result<Option<OpRow>, StoreError> {
        Ok(self.read_ops("WHERE id = ?1", Some(&id))?.into_iter().next())
    }

    /// Ops journaled as planned but never marked done or failed: a crash happened.
    pub fn unfinished_ops(&self) -> Result<Vec<OpRow>, StoreError> {
        self.read_ops("WHERE state = 'planned'", None)
    }

    /// Done trash ops, and moves into a library's duplicates folder, of
    /// sessions that finished before `before` (RFC 3339): what `cbctl prune
    /// --older-than` may remove.
    pub fn trashed_before(&self, before: &str) -> Result<Vec<OpRow>, StoreError> {
        self.read_ops(
            "WHERE (action = 'trash' OR (action = 'move' AND CAST(dst AS TEXT) LIKE '%/.clean-backup-duplicates/%'))
               AND state = 'done' AND session IN
               (SELECT id FROM sessions WHERE finished_at IS NOT NULL AND finished_at <= ?1)",
            Some(&before),
        )
    }

    /// Sessions still marked running (their process died).
    pub fn running_sessions(&self) -> Result<Vec<i64>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT id FROM sessions WHERE state = 'running'").map_err(self.sql())?;
        let rows = stmt.query_map([], |r| r.get(0)).map_err(self.sql())?;
        rows.map(|r| r.map_err(self.sql())).collect()
    }

    fn read_sessions(&self, where_clause: &str, args: &[&dyn rusqlite::ToSql]) -> Result<Vec<SessionRow>, StoreError> {
        let query = format!(
            "SELECT s.id, s.kind, s.started_at, s.finished_at, s.state, s.params, s.summary, s.undoes,
                    COALESCE(SUM(o.state = 'done'), 0), COALESCE(SUM(o.state = 'undone'), 0),
                    COALESCE(SUM(o.state = 'failed'), 0), COALESCE(SUM(CASE WHEN o.state = 'done' THEN o.size END), 0),
                    (SELECT COUNT(*) FROM decisions d WHERE d.session = s.id AND d.outcome = 'error')
                    + (SELECT COUNT(*) FROM ops f WHERE f.session = s.id AND f.state = 'failed' AND NOT EXISTS
                         (SELECT 1 FROM decisions e WHERE e.session = s.id AND e.outcome = 'error' AND e.path = f.src))
             FROM sessions s LEFT JOIN ops o ON o.session = s.id
             {where_clause} GROUP BY s.id ORDER BY s.id DESC"
        );
        let mut stmt = self.conn.prepare(&query).map_err(self.sql())?;
        let rows = stmt
            .query_map(args, |r| {
                let params: String = r.get(5)?;
                let summary: String = r.get(6)?;
                Ok(SessionRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    started_at: r.get(2)?,
                    finished_at: r.get(3)?,
                    state: r.get(4)?,
                    params: serde_json::from_str(&params).unwrap_or(serde_json::Value::Null),
                    summary: serde_json::from_str(&summary).unwrap_or(serde_json::Value::Null),
                    undoes: r.get(7)?,
                    ops_done: r.get(8)?,
                    ops_undone: r.get(9)?,
                    ops_failed: r.get(10)?,
                    bytes: r.get(11)?,
                    failed: r.get(12)?,
                })
            })
            .map_err(self.sql())?;
        rows.map(|r| r.map_err(self.sql())).collect()
    }

    /// Sessions, newest first, at most `limit`.
    pub fn sessions(&self, limit: i64) -> Result<Vec<SessionRow>, StoreError> {
        self.read_sessions("WHERE s.id IN (SELECT id FROM sessions ORDER BY id DESC LIMIT ?1)", &[&limit])
    }

    /// One session.
    pub fn session(&self, id: i64) -> Result<Option<SessionRow>, StoreError> {
        Ok(self.read_sessions("WHERE s.id = ?1", &[&id])?.into_iter().next())
    }

    /// Every folder an op has written into (its destination's folder, where
    /// its temp file lives): where start-up looks for temp files of ours.
    pub fn journaled_dirs(&self) -> Result<Vec<PathBuf>, StoreError> {
        let mut stmt = self.conn.prepare("SELECT DISTINCT tmp FROM ops").map_err(self.sql())?;
        let rows = stmt.query_map([], |r| r.get::<_, Vec<u8>>(0)).map_err(self.sql())?;
        let mut dirs = std::collections::BTreeSet::new();
        for r in rows {
            if let Some(d) = blob_path(r.map_err(self.sql())?).parent() {
                dirs.insert(d.to_path_buf());
            }
        }
        Ok(dirs.into_iter().collect())
    }

    /// A value of the `meta` table.
    pub fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.conn.query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0)).optional().map_err(self.sql())
    }

    /// Sets a value of the `meta` table.
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.conn
            .execute(
                "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = ?2",
                [key, value],
            )
            .map(drop)
            .map_err(self.sql())
    }

    /// This state's id, made once with the database: a library's marker
    /// names it, so a state that was deleted and made anew is recognised.
    pub fn state_id(&self) -> Result<String, StoreError> {
        self.meta("state_id")?.ok_or_else(|| StoreError::BadValue {
            path: self.path.clone(),
            column: "meta.state_id",
            value: "(missing)".into(),
        })
    }

    /// Whether the journal has any session at all (a state that has done nothing yet).
    pub fn has_sessions(&self) -> Result<bool, StoreError> {
        self.conn.query_row("SELECT EXISTS (SELECT 1 FROM sessions)", [], |r| r.get(0)).map_err(self.sql())
    }

    /// Writes a consistent copy of the whole database to `dest` (SQLite's
    /// online backup: the journal keeps working meanwhile), mode 0600.
    pub fn backup_to(&self, dest: &Path) -> Result<(), StoreError> {
        let tmp = dest.with_extension("db.part");
        let _ = std::fs::remove_file(&tmp);
        private_file(&tmp)?;
        let sql = |source| StoreError::Sql { path: tmp.clone(), source };
        {
            let mut out = Connection::open(&tmp).map_err(sql)?;
            let backup = rusqlite::backup::Backup::new(&self.conn, &mut out).map_err(sql)?;
            backup.run_to_completion(256, std::time::Duration::from_millis(5), None).map_err(sql)?;
        }
        let io = |source| StoreError::Io { path: dest.to_path_buf(), source };
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io)?;
        std::fs::rename(&tmp, dest).map_err(io)
    }

    /// The `state_id` in a database file (for tests of backups).
    #[cfg(test)]
    pub fn open_file_for_test(path: &Path) -> String {
        let conn = Connection::open(path).expect("open copy");
        conn.query_row("SELECT value FROM meta WHERE key = 'state_id'", [], |r| r.get(0)).expect("state_id")
    }

    /// The newest undo session of `session`, whatever it did.
    pub fn newest_undo_of(&self, session: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT id FROM sessions WHERE kind = 'undo' AND undoes = ?1 ORDER BY id DESC LIMIT 1",
                [session],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }

    /// The newest undo session that put back files of `session`, if any did.
    pub fn undo_session_of(&self, session: i64) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT s.id FROM sessions s WHERE s.kind = 'undo' AND s.undoes = ?1
                   AND EXISTS (SELECT 1 FROM ops o WHERE o.session = s.id AND o.state = 'done')
                 ORDER BY s.id DESC LIMIT 1",
                [session],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }

    /// The newest session that is not an undo and still has ops standing, or
    /// a verdict session (`not-duplicate`, `prefer`) whose verdicts still
    /// stand: what `undo --last` undoes.
    pub fn last_undoable_session(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(
                "SELECT s.id FROM sessions s WHERE s.kind NOT IN ('undo', 'prune')
                   AND (EXISTS (SELECT 1 FROM ops o WHERE o.session = s.id AND o.state = 'done')
                     OR (s.kind IN ('not-duplicate', 'prefer')
                         AND (EXISTS (SELECT 1 FROM apart a WHERE a.session = s.id)
                           OR EXISTS (SELECT 1 FROM chosen c WHERE c.session = s.id))))
                 ORDER BY s.id DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .map_err(self.sql())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planned_op_reads_back_with_raw_path_bytes_and_dirs() {
        let t = tempfile::tempdir().unwrap();
        let mut s = Store::open(t.path()).unwrap();
        let sid = s.begin_session("organize", &serde_json::json!({"src": "x"}), None).unwrap();
        let weird = PathBuf::from(OsString::from_vec(b"/in/caf\xe9.jpg".to_vec()));
        let id = s
            .plan_op(&NewOp {
                session: sid,
                action: Action::Move,
                src: weird.clone(),
                dst: "/lib/2021/04/caf.jpg".into(),
                tmp: "/lib/2021/04/.t".into(),
                size: 3,
                blake3: "ab".into(),
                dirs_created: vec!["/lib/2021".into(), "/lib/2021/04".into()],
                reverts: None,
            })
            .unwrap();
        let ops = s.unfinished_ops().unwrap();
        assert_eq!(ops.len(), 1);
        assert_eq!(ops[0].src, weird);
        assert_eq!(ops[0].dirs_created, vec![PathBuf::from("/lib/2021"), PathBuf::from("/lib/2021/04")]);
        s.set_op_state(id, OpState::Done, None).unwrap();
        assert!(s.unfinished_ops().unwrap().is_empty());
        assert_eq!(s.last_undoable_session().unwrap(), Some(sid));
        let row = s.session(sid).unwrap().unwrap();
        assert_eq!((row.ops_done, row.bytes, row.state.as_str()), (1, 3, "running"));
    }

    #[test]
    fn reopening_keeps_data_and_refuses_a_newer_schema() {
        let t = tempfile::tempdir().unwrap();
        let sid = Store::open(t.path()).unwrap().begin_session("organize", &serde_json::json!({}), None).unwrap();
        let s = Store::open(t.path()).unwrap();
        assert!(s.session(sid).unwrap().is_some());
        s.conn.pragma_update(None, "user_version", 99).unwrap();
        drop(s);
        assert!(matches!(Store::open(t.path()), Err(StoreError::TooNew { found: 99, .. })));
    }
}
