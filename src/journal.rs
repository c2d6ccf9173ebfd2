//! Sessions, write-ahead ops, crash recovery and undo.
//!
//! Every file operation goes through [`Journal::run_op`]: the op is written
//! to SQLite as `planned` (fsync'd) before `fsops` touches the file and
//! marked `done` after. [`Journal::open`] takes the state lock and repairs
//! whatever a crash left half-done, so every file is in exactly one place.

use std::path::{Path, PathBuf};

use crate::fsops::{self, Fingerprint, FsError, Identity};
use crate::store::{Action, FileRow, NewOp, OpRow, OpState, SessionRow, StateLock, Store, StoreError};

/// Where compress-on-ingest writes the smaller copy of a photo, inside the
/// library (so on its filesystem), before a journaled move files it. Undo
/// recognises such a copy by this folder: it is derived from an original the
/// same session moved to the trash, and it is discarded once that original
/// is back.
pub const STAGING_DIR: &str = ".clean-backup-staging";

/// Journal errors.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// The database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file operation.
    #[error(transparent)]
    Fs(#[from] FsError),
    /// `undo N` of a session that does not exist.
    #[error("no session {0}; `cbctl history` lists them")]
    NoSuchSession(i64),
    /// `undo --last` with nothing left to undo.
    #[error("nothing to undo: no session has files (or a not-duplicate or prefer verdict) still in place")]
    NothingToUndo,
    /// `undo N` of an undo session.
    #[error("session {0} is itself an undo; run the job again instead of undoing an undo")]
    UndoOfUndo(i64),
    /// `undo N` of a prune.
    #[error("session {0} emptied the trash; files removed by `cbctl prune` cannot be brought back")]
    PruneIsFinal(i64),
    /// A journaled hash is not valid hex.
    #[error("journal op {0} has a bad blake3 value")]
    BadHash(i64),
    /// `undo N` of a session an earlier undo already put back.
    #[error("session {session} was already undone (by session {by}); nothing to put back")]
    AlreadyUndone {
        /// The session asked for.
        session: i64,
        /// The undo session that put its files back.
        by: i64,
    },
    /// `undo N` of a session that left nothing to put back, and why.
    #[error("session {session} has nothing to put back: {why}")]
    NothingToRevert {
        /// The session asked for.
        session: i64,
        /// Why, in words.
        why: String,
    },
    /// A time given as a cutoff (`prune --older-than`) that is not RFC 3339.
    #[error("{0:?} is not an RFC 3339 time (such as 2024-05-01T00:00:00Z)")]
    BadTime(String),
}

impl JournalError {
    /// Whether the request itself was refused before anything changed (no
    /// such session, nothing to undo, an undo of an undo or of a prune, a
    /// session already undone, a bad cutoff time): a usage error, exit 2 in
    /// `cbctl`, as opposed to work that failed on the way.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            JournalError::NoSuchSession(_)
                | JournalError::NothingToUndo
                | JournalError::UndoOfUndo(_)
                | JournalError::PruneIsFinal(_)
                | JournalError::AlreadyUndone { .. }
                | JournalError::NothingToRevert { .. }
                | JournalError::BadTime(_)
        )
    }
}

/// What recovery did at start-up.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct RecoveryReport {
    /// Ops found completed on disk and marked done.
    pub completed: usize,
    /// Ops that had not happened, marked failed (file left at its source).
    pub rolled_back: usize,
    /// Sessions that were running when the process died.
    pub interrupted_sessions: usize,
    /// Ops that need a person: each names the paths.
    pub problems: Vec<String>,
}

/// The result of one journaled op.
#[derive(Debug)]
pub enum OpOutcome {
    /// Done and durable.
    Done {
        /// Op id.
        op: i64,
    },
    /// Failed; nothing changed.
    Failed(JournalError),
}

/// What an undo did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct UndoReport {
    /// The session undone.
    pub session: i64,
    /// The undo's own session id.
    pub undo_session: i64,
    /// Files put back (or copies removed).
    pub reverted: usize,
    /// Files left where they are, with the reason.
    pub conflicts: Vec<String>,
    /// Empty folders removed (only ones the session created).
    pub dirs_removed: usize,
    /// For a verdict session (`not-duplicate`, `prefer`), which moves no
    /// file: the verdicts its undo lifted. `reverted` stays 0 then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted: Option<Lifted>,
}

/// The session kinds that store a verdict by content and move no file:
/// `cbctl not-duplicate A B` and `cbctl prefer FILE`. Their undo removes
/// the verdicts they stored.
pub const VERDICT_KINDS: &[&str] = &["not-duplicate", "prefer"];

/// What undoing a verdict session lifted.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Lifted {
    /// The session's kind: `not-duplicate` or `prefer`.
    pub kind: String,
    /// The files it named, as they were given then.
    pub paths: Vec<String>,
    /// The verdicts removed: pairs kept apart, or keepers chosen.
    pub verdicts: usize,
}

/// What a prune did.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct PruneReport {
    /// The prune's session, when there was anything to remove.
    pub session: Option<i64>,
    /// Files removed for good.
    pub removed: usize,
    /// Their bytes.
    pub bytes: u64,
    /// Files left in the trash, with the reason.
    pub problems: Vec<String>,
}

/// One file [`Journal::prune`] would remove for good.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PruneFile {
    /// Where it is, in the trash.
    pub trash_path: String,
    /// Where it was before it was trashed (where `cbctl undo` would put it back).
    pub original: String,
    /// Its size.
    pub bytes: u64,
    /// The session that trashed it.
    pub session: i64,
}

/// What [`Journal::prune`] would do with the same cutoff: nothing changed.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PrunePreview {
    /// The cutoff, as prune compares it (RFC 3339 UTC, milliseconds).
    pub before: String,
    /// The files that would be removed for good, in the order trashed.
    pub files: Vec<PruneFile>,
    /// Their bytes, together.
    pub bytes: u64,
    /// Trashed files prune would leave, changed or gone since, with the reason.
    pub problems: Vec<String>,
}

/// One file operation for [`Journal::run_batch`].
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// Move, copy or unlink.
    pub action: Action,
    /// Where the file is.
    pub src: PathBuf,
    /// Where it goes (its folder is created if needed).
    pub dst: PathBuf,
    /// Its size and blake3, checked on the way.
    pub fp: Fingerprint,
    /// The device and inode of the file that was read to get `fp`: the file
    /// acted on must be that one. `None`: its content is checked instead.
    pub id: Option<Identity>,
}

/// One reverted (or refused) file during an undo, for progress output.
#[derive(Debug, Clone)]
pub struct UndoEvent {
    /// Where the file was (the session's destination).
    pub from: PathBuf,
    /// Where it goes back to.
    pub to: PathBuf,
    /// `None` when done, else why it was left in place.
    pub conflict: Option<String>,
}

/// The journal: the store plus the lock that makes us its only writer.
pub struct Journal {
    store: Store,
    lock: std::sync::Arc<StateLock>,
    state_dir: PathBuf,
}

fn fingerprint_of(op: &OpRow) -> Result<Fingerprint, JournalError> {
    let hash = blake3::Hash::from_hex(&op.blake3).map_err(|_| JournalError::BadHash(op.id))?;
    Ok(Fingerprint { size: op.size, hash })
}

fn tmp_tag(session: i64, fp: &Fingerprint) -> String {
    format!("{session}-{}", &fp.hex()[..16])
}

impl Journal {
    /// Locks `state_dir`, opens the database and repairs half-done ops.
    pub fn open(state_dir: &Path) -> Result<(Journal, RecoveryReport), JournalError> {
        let lock = StateLock::acquire(state_dir)?;
        let store = Store::open(state_dir)?;
        let mut journal = Journal { store, lock: std::sync::Arc::new(lock), state_dir: state_dir.to_path_buf() };
        let report = journal.recover()?;
        Ok((journal, report))
    }

    /// A second journal on the same state for another thread of this
    /// process (the daemon's job worker): its own database connection,
    /// sharing this one's lock. No repair: that was done by `open`.
    pub fn sibling(&self) -> Result<Journal, JournalError> {
        let store = Store::open(&self.state_dir)?;
        Ok(Journal { store, lock: std::sync::Arc::clone(&self.lock), state_dir: self.state_dir.clone() })
    }

    /// The state folder this journal lives in.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The underlying store, for the index (the journal tables are ours alone).
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// The underlying store (read-only queries: history, sessions).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Starts a session.
    pub fn begin(&self, kind: &str, params: &serde_json::Value) -> Result<i64, JournalError> {
        Ok(self.store.begin_session(kind, params, None)?)
    }

    /// Ends a session.
    pub fn finish(&self, session: i64, summary: &serde_json::Value) -> Result<(), JournalError> {
        Ok(self.store.finish_session(session, "done", summary)?)
    }

    /// Journals, then performs, a move or copy of `src` (content `fp`) to
    /// `dst`, creating `dst`'s folder. A failure leaves the file where it
    /// was and removes any folder this op created.
    pub fn run_op(
        &mut self,
        session: i64,
        action: Action,
        src: &Path,
        dst: &Path,
        fp: &Fingerprint,
    ) -> Result<OpOutcome, JournalError> {
        let item = BatchItem { action, src: src.to_path_buf(), dst: dst.to_path_buf(), fp: *fp, id: None };
        let mut out = self.run_batch(session, std::slice::from_ref(&item))?;
        out.pop().ok_or(JournalError::BadHash(0))
    }

    /// Journals a batch of ops as planned in one transaction, performs them,
    /// fsyncs every folder they touched once, then marks them done (or
    /// failed) in one transaction. Group commit: a crash anywhere in between
    /// is repaired by [`Journal::recover`] from what is on disk, op by op.
    pub fn run_batch(&mut self, session: i64, items: &[BatchItem]) -> Result<Vec<OpOutcome>, JournalError> {
        Ok(self.run_batch_indexed(session, items, Vec::new())?.0)
    }

    /// [`Journal::run_batch`], and each item whose `rows` entry is `Some` is
    /// recorded in the library index at its destination in the same
    /// transaction that marks its op done: the index never lists a file the
    /// journal has not filed, nor misses one it has. Returns the outcomes
    /// and the index rows recorded.
    pub fn run_batch_indexed(
        &mut self,
        session: i64,
        items: &[BatchItem],
        mut rows: Vec<Option<FileRow>>,
    ) -> Result<(Vec<OpOutcome>, Vec<FileRow>), JournalError> {
        rows.resize(items.len(), None);
        let mut new_ops = Vec::with_capacity(items.len());
        for it in items {
            let dir = it.dst.parent().unwrap_or(Path::new("."));
            new_ops.push(NewOp {
                session,
                action: it.action,
                src: it.src.clone(),
                dst: it.dst.clone(),
                tmp: fsops::temp_path_for(&it.dst, &tmp_tag(session, &it.fp)),
                size: it.fp.size,
                blake3: it.fp.hex(),
                dirs_created: fsops::missing_dirs(dir)?,
                reverts: None,
            });
        }
        let ids = self.store.plan_ops(&new_ops)?;
        let mut syncs = fsops::PendingSyncs::default();
        let mut results = Vec::with_capacity(items.len());
        for (it, op) in items.iter().zip(&new_ops) {
            let dir = it.dst.parent().unwrap_or(Path::new("."));
            let r = fsops::create_dirs(dir).and_then(|()| {
                for created in &op.dirs_created {
                    syncs.add(created.parent().unwrap_or(created));
                }
                match it.action {
                    Action::Move | Action::Trash => {
                        fsops::move_file(&it.src, &it.dst, &op.tmp, &it.fp, it.id, &mut syncs).map(|_| ())
                    }
                    Action::Copy => fsops::copy_file(&it.src, &it.dst, &op.tmp, &it.fp, it.id, &mut syncs),
                    Action::Unlink => fsops::remove_verified(&it.src, &it.fp, &mut syncs),
                }
            });
            results.push(r);
        }
        // Durable on disk before the journal says so; if this fails the ops
        // stay planned and the next start resolves them.
        syncs.flush()?;
        let updates: Vec<(i64, OpState, Option<String>)> = ids
            .iter()
            .zip(&results)
            .map(|(id, r)| match r {
                Ok(()) => (*id, OpState::Done, None),
                Err(e) => (*id, OpState::Failed, Some(e.to_string())),
            })
            .collect();
        let mut filed = Vec::new();
        for ((it, r), row) in items.iter().zip(&results).zip(rows) {
            if let (Ok(()), Some(mut row), Ok(meta)) = (r, row, std::fs::symlink_metadata(&it.dst)) {
                row.path = it.dst.clone();
                row.set_stat(&meta);
                filed.push(row);
            }
        }
        self.store.set_op_states_indexed(&updates, &filed, &[])?;
        let mut out = Vec::with_capacity(items.len());
        for ((id, r), op) in ids.into_iter().zip(results).zip(&new_ops) {
            out.push(match r {
                Ok(()) => OpOutcome::Done { op: id },
                Err(e) => {
                    remove_empty_dirs(&op.dirs_created);
                    OpOutcome::Failed(e.into())
                }
            });
        }
        Ok((out, filed))
    }

    /// Removes temp files of ours left behind (a copy cut short by a full
    /// disk or a crash): only names clean-backup gives its temp files, and
    /// only in folders the journal says it wrote into. Run at start, after
    /// recovery, when no op is under way. Returns how many were removed.
    pub fn sweep_temp_files(&self) -> usize {
        let dirs = match self.store.journaled_dirs() {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!("temp files not swept: {e}");
                return 0;
            }
        };
        let mut removed = 0;
        for dir in dirs.iter().chain(std::iter::once(&self.state_dir)) {
            for tmp in fsops::temp_files_in(dir) {
                match fsops::remove_temp(&tmp) {
                    Ok(()) => removed += 1,
                    Err(e) => tracing::warn!("{e}"),
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "removed temp files left by an earlier run");
        }
        removed
    }

    /// Resolves every op left `planned` by a crash, from what is on disk.
    pub fn recover(&mut self) -> Result<RecoveryReport, JournalError> {
        let mut report = RecoveryReport::default();
        for op in self.store.unfinished_ops()? {
            self.recover_op(&op, &mut report)?;
        }
        for session in self.store.running_sessions()? {
            self.store.finish_session(session, "interrupted", &serde_json::json!({"interrupted": true}))?;
            report.interrupted_sessions += 1;
        }
        if report.completed + report.rolled_back + report.problems.len() > 0 {
            tracing::warn!(
                completed = report.completed,
                rolled_back = report.rolled_back,
                problems = report.problems.len(),
                "repaired operations left half-done by an interrupted run"
            );
        }
        for p in &report.problems {
            tracing::error!("recovery: {p}");
        }
        Ok(report)
    }

    fn mark_done(&mut self, op: &OpRow) -> Result<(), JournalError> {
        match op.reverts {
            Some(original) => self.store.complete_revert(op.id, original)?,
            None => self.store.set_op_state(op.id, OpState::Done, None)?,
        }
        Ok(())
    }

    fn recover_op(&mut self, op: &OpRow, report: &mut RecoveryReport) -> Result<(), JournalError> {
        let fp = fingerprint_of(op)?;
        let rolled_back = |this: &mut Self, report: &mut RecoveryReport, why: &str| -> Result<(), JournalError> {
            this.store.set_op_state(op.id, OpState::Failed, Some(why))?;
            remove_empty_dirs(&op.dirs_created);
            report.rolled_back += 1;
            Ok(())
        };
        match op.action {
            Action::Unlink => {
                if fsops::exists(&op.src)? {
                    rolled_back(self, report, "interrupted before the copy was removed; run the undo again")?;
                } else {
                    self.mark_done(op)?;
                    report.completed += 1;
                }
            }
            Action::Copy | Action::Move | Action::Trash => {
                let at_dst = fsops::has_content(&op.dst, &fp)?;
                let at_src = fsops::has_content(&op.src, &fp)?;
                if at_dst {
                    if op.action != Action::Copy && at_src {
                        // A cross-filesystem move died after the verified copy
                        // took its name: finish it by removing the source.
                        let mut syncs = fsops::PendingSyncs::default();
                        fsops::remove_verified(&op.src, &fp, &mut syncs)?;
                        syncs.flush()?;
                    }
                    fsops::remove_temp(&op.tmp)?;
                    self.mark_done(op)?;
                    report.completed += 1;
                } else if at_src {
                    fsops::remove_temp(&op.tmp)?;
                    rolled_back(self, report, "interrupted before it happened; file left at its source")?;
                } else if fsops::has_content(&op.tmp, &fp)? && !fsops::exists(&op.dst)? {
                    // Verified copy written but not yet named, source already gone:
                    // cannot happen in our order of steps, but finish it rather than lose it.
                    let mut syncs = fsops::PendingSyncs::default();
                    fsops::move_file(&op.tmp, &op.dst, &op.tmp, &fp, None, &mut syncs)?;
                    syncs.flush()?;
                    self.mark_done(op)?;
                    report.completed += 1;
                } else {
                    let why = format!(
                        "file with blake3 {} is at neither {} nor {}; it was changed or moved by something else",
                        op.blake3,
                        op.src.display(),
                        op.dst.display()
                    );
                    self.store.set_op_state(op.id, OpState::Failed, Some(&why))?;
                    report.problems.push(why);
                }
            }
        }
        Ok(())
    }

    /// Undoes a session: moves its files back (or removes the copies it
    /// made) after checking each still has its journaled content, never
    /// overwriting what is now at the original path, then removes the empty
    /// folders the session created, and only those.
    pub fn undo(&mut self, session: i64, mut on_file: impl FnMut(&UndoEvent)) -> Result<UndoReport, JournalError> {
        let row = self.store.session(session)?.ok_or(JournalError::NoSuchSession(session))?;
        if row.kind == "undo" {
            return Err(JournalError::UndoOfUndo(session));
        }
        if row.kind == "prune" {
            return Err(JournalError::PruneIsFinal(session));
        }
        if VERDICT_KINDS.contains(&row.kind.as_str()) {
            return self.undo_verdicts(&row);
        }
        self.check_something_to_undo(session)?;
        let undo_session =
            self.store.begin_session("undo", &serde_json::json!({ "session": session }), Some(session))?;
        let mut report = UndoReport { session, undo_session, ..UndoReport::default() };
        let ops = self.store.ops_of_session(session)?;
        for op in ops.iter().filter(|o| o.state == OpState::Pruned) {
            let why = format!("{}: removed for good by `cbctl prune`; cannot be restored", op.src.display());
            on_file(&UndoEvent { from: op.dst.clone(), to: op.src.clone(), conflict: Some(why.clone()) });
            report.conflicts.push(why);
        }
        // Ops put back so far, to know whether a compressed copy's original
        // (its session's next op, a trash move; undone just before it) is back.
        let mut put_back = std::collections::HashSet::new();
        let mut staging_dirs = Vec::new();
        for op in ops.iter().rev().filter(|o| o.state == OpState::Done) {
            let conflict = match compressed_copy_of(op, &ops) {
                None => self.undo_op(undo_session, op, false)?,
                Some(original) if put_back.contains(&original.id) => {
                    staging_dirs.extend(op.src.parent().map(Path::to_path_buf));
                    self.undo_op(undo_session, op, true)?
                }
                // Its original is not back (pruned, or it conflicted): the
                // compressed copy is now the photo; it stays in the library.
                Some(original) => Some(format!(
                    "{}: kept, as its original {} was not put back",
                    op.dst.display(),
                    original.src.display()
                )),
            };
            if conflict.is_none() {
                put_back.insert(op.id);
            }
            on_file(&UndoEvent { from: op.dst.clone(), to: op.src.clone(), conflict: conflict.clone() });
            match conflict {
                None => report.reverted += 1,
                Some(c) => report.conflicts.push(c),
            }
        }
        // Folders the session created, deepest first; a folder still holding
        // anything (a conflict, a file the user added) stays.
        let mut dirs: Vec<PathBuf> = self
            .store
            .ops_of_session(session)?
            .into_iter()
            .filter(|o| o.state == OpState::Undone)
            .flat_map(|o| o.dirs_created)
            .collect();
        // The staging folders of discarded copies (`<staging>/<session>`, then
        // the staging folder itself): made outside any op.
        staging_dirs.sort();
        staging_dirs.dedup();
        let staging_roots: Vec<PathBuf> =
            staging_dirs.iter().filter_map(|d| d.parent().map(Path::to_path_buf)).collect();
        dirs.extend(staging_dirs.into_iter().chain(staging_roots));
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for d in &dirs {
            if fsops::remove_dir_if_empty(d)? {
                report.dirs_removed += 1;
            }
        }
        let summary = serde_json::to_value(&report).unwrap_or_default();
        self.store.finish_session(undo_session, "done", &summary)?;
        let state = if report.conflicts.is_empty() { "undone" } else { "partly-undone" };
        self.store.set_session_state(session, state)?;
        Ok(report)
    }

    /// Undoes a verdict session (`not-duplicate`, `prefer`): removes the
    /// verdicts it stored, and only those, in an undo session of its own.
    fn undo_verdicts(&mut self, row: &SessionRow) -> Result<UndoReport, JournalError> {
        let session = row.id;
        if self.store.verdicts_of_session(session)? == 0 {
            if let Some(by) = self.store.newest_undo_of(session)? {
                return Err(JournalError::AlreadyUndone { session, by });
            }
            return Err(JournalError::NothingToRevert {
                session,
                why: "the verdict it stored is no longer there".to_string(),
            });
        }
        let undo_session =
            self.store.begin_session("undo", &serde_json::json!({ "session": session }), Some(session))?;
        let verdicts = self.store.lift_verdicts_of_session(session)?;
        let paths = match row.kind.as_str() {
            "not-duplicate" => ["a", "b"].iter().filter_map(|k| row.params.get(*k)).collect::<Vec<_>>(),
            _ => row.params.get("path").into_iter().collect(),
        };
        let paths = paths.into_iter().filter_map(|v| v.as_str().map(str::to_string)).collect();
        let report = UndoReport {
            session,
            undo_session,
            lifted: Some(Lifted { kind: row.kind.clone(), paths, verdicts }),
            ..UndoReport::default()
        };
        let summary = serde_json::to_value(&report).unwrap_or_default();
        self.store.finish_session(undo_session, "done", &summary)?;
        self.store.set_session_state(session, "undone")?;
        Ok(report)
    }

    /// Refuses, before an undo session is made, a session with no op left to
    /// revert: already undone (by whom), or one that never moved a file.
    /// A session whose only files were pruned goes on: the undo names each.
    fn check_something_to_undo(&self, session: i64) -> Result<(), JournalError> {
        let ops = self.store.ops_of_session(session)?;
        let count = |state: OpState| ops.iter().filter(|o| o.state == state).count();
        if count(OpState::Done) > 0 || count(OpState::Pruned) > 0 {
            return Ok(());
        }
        if count(OpState::Undone) > 0 {
            if let Some(by) = self.store.undo_session_of(session)? {
                return Err(JournalError::AlreadyUndone { session, by });
            }
        }
        let why = if ops.is_empty() {
            "it moved, copied or trashed no file (duplicates, skipped and failed files stay where they were; \
             `cbctl why FILE` tells about one)"
                .to_string()
        } else if count(OpState::Planned) > 0 {
            format!(
                "{} of its file operations are unfinished; restart clean-backup (or run any cbctl command \
                 with --local) to repair them first",
                count(OpState::Planned)
            )
        } else {
            format!(
                "none of its {} file operation(s) happened (they failed, so every file stayed where it was; \
                 `cbctl why FILE` says why)",
                ops.len()
            )
        };
        Err(JournalError::NothingToRevert { session, why })
    }

    /// Reverts one op; `Ok(Some(reason))` when it was left in place. With
    /// `discard`, a move is reverted by removing what it moved (a compressed
    /// copy whose original is back) instead of moving it back.
    fn undo_op(&mut self, undo_session: i64, op: &OpRow, discard: bool) -> Result<Option<String>, JournalError> {
        let fp = fingerprint_of(op)?;
        let Some(id) = fsops::content_identity(&op.dst, &fp)? else {
            return Ok(Some(format!(
                "{}: changed or gone since it was filed (expected blake3 {}); left as is",
                op.dst.display(),
                op.blake3
            )));
        };
        let (action, src, dst) = match op.action {
            Action::Move if discard => (Action::Unlink, &op.dst, &op.src),
            Action::Move | Action::Trash => {
                if fsops::exists(&op.src)? {
                    return Ok(Some(format!(
                        "{}: something else is now at this path; {} left where it is",
                        op.src.display(),
                        op.dst.display()
                    )));
                }
                (Action::Move, &op.dst, &op.src)
            }
            Action::Copy => {
                if !fsops::has_content(&op.src, &fp)? {
                    return Ok(Some(format!(
                        "{}: the original is gone or changed, so its copy {} is kept",
                        op.src.display(),
                        op.dst.display()
                    )));
                }
                (Action::Unlink, &op.dst, &op.src)
            }
            Action::Unlink => return Ok(Some(format!("op {} cannot be undone", op.id))),
        };
        let parent = dst.parent().unwrap_or(Path::new("."));
        let dirs_created = if action == Action::Move { fsops::missing_dirs(parent)? } else { Vec::new() };
        let tmp = fsops::temp_path_for(dst, &tmp_tag(undo_session, &fp));
        let undo_op = self.store.plan_op(&NewOp {
            session: undo_session,
            action,
            src: src.clone(),
            dst: dst.clone(),
            tmp: tmp.clone(),
            size: fp.size,
            blake3: fp.hex(),
            dirs_created,
            reverts: Some(op.id),
        })?;
        let mut syncs = fsops::PendingSyncs::default();
        let result = match action {
            Action::Move => fsops::create_dirs(parent)
                .and_then(|()| fsops::move_file(src, dst, &tmp, &fp, Some(id), &mut syncs).map(|_| ())),
            _ => fsops::remove_verified(src, &fp, &mut syncs),
        }
        .and_then(|()| syncs.flush());
        match result {
            Ok(()) => {
                self.store.complete_revert(undo_op, op.id)?;
                Ok(None)
            }
            Err(e) => {
                self.store.set_op_state(undo_op, OpState::Failed, Some(&e.to_string()))?;
                Ok(Some(e.to_string()))
            }
        }
    }

    /// What [`Journal::prune`] with the same `before` would remove, changing
    /// nothing: each trashed file (where it is in the trash, where it came
    /// from, its size and the session that trashed it) and the total bytes.
    /// Files that changed or went since they were trashed are listed under
    /// `problems`, as prune would leave them. Reads every listed file to
    /// check its content, as prune does.
    pub fn prune_preview(&self, before: &str) -> Result<PrunePreview, JournalError> {
        let before = cutoff(before)?;
        let mut preview = PrunePreview { before: before.clone(), ..PrunePreview::default() };
        for op in self.store.trashed_before(&before)? {
            let fp = fingerprint_of(&op)?;
            if !fsops::has_content(&op.dst, &fp)? {
                preview.problems.push(trash_changed(&op.dst));
                continue;
            }
            preview.bytes += fp.size;
            preview.files.push(PruneFile {
                trash_path: op.dst.to_string_lossy().into_owned(),
                original: op.src.to_string_lossy().into_owned(),
                bytes: fp.size,
                session: op.session,
            });
        }
        Ok(preview)
    }

    /// Empties the trash: removes for good the files moved to the trash by
    /// sessions that finished at or before `before`, after checking each
    /// still has its journaled content. Journaled as a "prune" session of
    /// unlink ops; the trash ops become `pruned`, so undo reports them.
    ///
    /// The cutoff is the trashing session's finish time, not the time of
    /// each file's move: a file trashed early in a long session is pruned
    /// with the rest of it. A session still running is never pruned; one
    /// interrupted by a crash counts as finished when the next start
    /// repaired it. Files an undo put back are not in the trash and are not
    /// touched. `before` is RFC 3339 with any offset (`cbctl prune
    /// --older-than N` gives now minus N days in UTC); anything else is
    /// [`JournalError::BadTime`].
    pub fn prune(
        &mut self,
        before: &str,
        mut on_file: impl FnMut(&Path, Option<&str>),
    ) -> Result<PruneReport, JournalError> {
        let before = cutoff(before)?;
        let before = before.as_str();
        let ops = self.store.trashed_before(before)?;
        let mut report = PruneReport::default();
        if ops.is_empty() {
            return Ok(report);
        }
        let session = self.store.begin_session("prune", &serde_json::json!({ "before": before }), None)?;
        report.session = Some(session);
        for op in &ops {
            let fp = fingerprint_of(op)?;
            if !fsops::has_content(&op.dst, &fp)? {
                let why = trash_changed(&op.dst);
                on_file(&op.dst, Some(&why));
                report.problems.push(why);
                continue;
            }
            let item = BatchItem { action: Action::Unlink, src: op.dst.clone(), dst: op.src.clone(), fp, id: None };
            match self.run_batch(session, std::slice::from_ref(&item))?.pop() {
                Some(OpOutcome::Done { .. }) => {
                    self.store.set_op_state(op.id, OpState::Pruned, None)?;
                    // Deleted for good: the same bytes arriving again are set aside, not filed.
                    let phash = self.store.phash_of_content(&op.blake3)?;
                    self.store.remember(&[crate::store::Remembered {
                        blake3: op.blake3.clone(),
                        kind: crate::store::DELETED.into(),
                        phash,
                        now: None,
                        path: Some(op.src.clone()),
                        session: Some(op.session),
                        at: String::new(),
                    }])?;
                    report.removed += 1;
                    report.bytes += fp.size;
                    on_file(&op.dst, None);
                }
                Some(OpOutcome::Failed(e)) => {
                    let why = e.to_string();
                    on_file(&op.dst, Some(&why));
                    report.problems.push(why);
                }
                None => {}
            }
        }
        // The trash folders those sessions made, deepest first, when now empty.
        let mut dirs: Vec<PathBuf> = ops.iter().flat_map(|o| o.dirs_created.clone()).collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        dirs.dedup();
        for d in &dirs {
            fsops::remove_dir_if_empty(d)?;
        }
        self.store.finish_session(session, "done", &serde_json::to_value(&report).unwrap_or_default())?;
        Ok(report)
    }

    /// The newest session with files still in place.
    pub fn last_undoable(&self) -> Result<i64, JournalError> {
        self.store.last_undoable_session()?.ok_or(JournalError::NothingToUndo)
    }

    /// Sessions, newest first.
    pub fn history(&self, limit: i64) -> Result<Vec<SessionRow>, JournalError> {
        Ok(self.store.sessions(limit)?)
    }
}

/// Why prune leaves a trashed file.
fn trash_changed(path: &Path) -> String {
    format!("{}: changed or gone since it was put in the trash; left as is", path.display())
}

/// `before` as the journal writes times (RFC 3339 UTC, milliseconds, `Z`),
/// so that comparing it with a session's `finished_at` as text compares
/// the times.
fn cutoff(before: &str) -> Result<String, JournalError> {
    let t = chrono::DateTime::parse_from_rfc3339(before).map_err(|_| JournalError::BadTime(before.to_string()))?;
    Ok(t.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// For a move that filed a compressed copy out of the staging folder: the
/// trash move of its original, which compress-on-ingest journals right after it.
fn compressed_copy_of<'a>(op: &OpRow, ops: &'a [OpRow]) -> Option<&'a OpRow> {
    let staged = op.action == Action::Move && op.src.components().any(|c| c.as_os_str() == STAGING_DIR);
    if !staged {
        return None;
    }
    ops.iter().find(|o| o.session == op.session && o.seq == op.seq + 1 && o.action == Action::Trash)
}

/// Removes the given folders (outermost first as journaled) deepest first, if empty.
fn remove_empty_dirs(dirs: &[PathBuf]) {
    for d in dirs.iter().rev() {
        if let Err(e) = fsops::remove_dir_if_empty(d) {
            tracing::warn!("{e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(t: &Path, data: &[u8]) -> (PathBuf, PathBuf, Fingerprint) {
        let src = t.join("in/a.jpg");
        std::fs::create_dir_all(src.parent().unwrap()).unwrap();
        std::fs::write(&src, data).unwrap();
        let fp = fsops::fingerprint(&src).unwrap();
        (src, t.join("lib/2021/04/a.jpg"), fp)
    }

    /// Journals an op as planned, as a process that died right after would have left it.
    fn plan_only(state: &Path, action: Action, src: &Path, dst: &Path, fp: &Fingerprint) -> i64 {
        let (j, _) = Journal::open(state).unwrap();
        let mut store = Store::open(state).unwrap();
        let session = j.begin("organize", &serde_json::json!({})).unwrap();
        let dirs = fsops::missing_dirs(dst.parent().unwrap()).unwrap();
        store
            .plan_op(&NewOp {
                session,
                action,
                src: src.into(),
                dst: dst.into(),
                tmp: fsops::temp_path_for(dst, &tmp_tag(session, fp)),
                size: fp.size,
                blake3: fp.hex(),
                dirs_created: dirs,
                reverts: None,
            })
            .unwrap()
    }

    #[test]
    fn undoing_a_verdict_session_lifts_its_verdicts_only_and_undo_last_finds_the_newest() {
        let t = tempfile::tempdir().unwrap();
        let (mut j, _) = Journal::open(&t.path().join("state")).unwrap();
        let kept = j.begin("ingest", &serde_json::json!({})).unwrap();
        j.store_mut().set_apart("aa", "bb", Some(kept)).unwrap(); // `cbctl keep`'s pair, in an ingest session
        let params = serde_json::json!({"a": "/p/a.jpg", "b": "/p/b.jpg"});
        let apart = j.store().begin_session("not-duplicate", &params, None).unwrap();
        j.store_mut().set_apart("aa", "cc", Some(apart)).unwrap();
        let chose = j.store().begin_session("prefer", &serde_json::json!({"path": "/p/c.jpg"}), None).unwrap();
        j.store_mut().choose("cc", Some(chose)).unwrap();
        assert!(matches!(j.undo(kept, |_| {}), Err(JournalError::NothingToRevert { .. })), "an ingest moved no file");

        assert_eq!(j.last_undoable().unwrap(), chose, "the newest verdict first");
        let r = j.undo(chose, |_| {}).unwrap();
        assert_eq!(r.lifted.as_ref().map(|l| (l.kind.as_str(), l.verdicts)), Some(("prefer", 1)));
        assert!(j.store().chosen_contents().unwrap().is_empty());
        assert_eq!(j.last_undoable().unwrap(), apart);
        let r = j.undo(apart, |_| {}).unwrap();
        let lifted = r.lifted.unwrap();
        assert_eq!((lifted.paths, lifted.verdicts, r.reverted), (vec!["/p/a.jpg".into(), "/p/b.jpg".into()], 1, 0));
        assert_eq!(
            j.store().apart_pairs().unwrap().into_iter().collect::<Vec<_>>(),
            vec![crate::store::pair("aa", "bb")]
        );
        assert_eq!(j.store().session(apart).unwrap().unwrap().state, "undone");
        match j.undo(apart, |_| {}) {
            Err(JournalError::AlreadyUndone { session, by }) => assert_eq!((session, by), (apart, r.undo_session)),
            other => panic!("{other:?}"),
        }
        assert!(matches!(j.last_undoable(), Err(JournalError::NothingToUndo)));
    }

    #[test]
    fn recovery_rolls_back_an_op_that_never_happened_and_removes_its_new_folders() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        let op = plan_only(&state, Action::Move, &src, &dst, &fp);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap(); // died after mkdir
        let (j, report) = Journal::open(&state).unwrap();
        assert_eq!((report.rolled_back, report.completed, report.interrupted_sessions), (1, 0, 1));
        assert_eq!(j.store().op(op).unwrap().unwrap().state, OpState::Failed);
        assert!(src.exists());
        assert!(!t.path().join("lib").exists(), "folders made for the op are removed");
    }

    #[test]
    fn recovery_finishes_a_cross_filesystem_move_that_died_before_removing_the_source() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        let op = plan_only(&state, Action::Move, &src, &dst, &fp);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(&src, &dst).unwrap(); // both copies exist
        let (j, report) = Journal::open(&state).unwrap();
        assert_eq!(report.completed, 1);
        assert!(!src.exists() && dst.exists());
        assert_eq!(j.store().op(op).unwrap().unwrap().state, OpState::Done);
    }

    #[test]
    fn recovery_marks_a_completed_rename_done_and_cleans_a_leftover_temp() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        let op = plan_only(&state, Action::Copy, &src, &dst, &fp);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        let tmp = fsops::temp_path_for(&dst, &tmp_tag(1, &fp));
        std::fs::write(&tmp, b"pho").unwrap(); // a half-written temp: died mid-copy
        let (j, report) = Journal::open(&state).unwrap();
        assert_eq!(report.rolled_back, 1);
        assert!(!tmp.exists(), "half-written temp removed");
        assert!(src.exists() && !dst.exists());
        assert_eq!(j.store().op(op).unwrap().unwrap().state, OpState::Failed);
    }

    #[test]
    fn recovery_never_deletes_a_source_whose_destination_differs() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        plan_only(&state, Action::Move, &src, &dst, &fp);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::write(&dst, b"something else").unwrap();
        let (_, report) = Journal::open(&state).unwrap();
        assert_eq!(report.rolled_back, 1);
        assert_eq!(std::fs::read(&src).unwrap(), b"photo");
        assert_eq!(std::fs::read(&dst).unwrap(), b"something else");
    }

    #[test]
    fn undo_puts_a_moved_file_back_and_removes_only_the_folders_the_session_made() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        std::fs::create_dir_all(t.path().join("lib")).unwrap(); // existed before
        let (mut j, _) = Journal::open(&state).unwrap();
        let s = j.begin("organize", &serde_json::json!({})).unwrap();
        assert!(matches!(j.run_op(s, Action::Move, &src, &dst, &fp).unwrap(), OpOutcome::Done { .. }));
        j.finish(s, &serde_json::json!({})).unwrap();
        assert!(dst.exists() && !src.exists());
        let report = j.undo(s, |_| {}).unwrap();
        assert_eq!((report.reverted, report.dirs_removed), (1, 2));
        assert_eq!(std::fs::read(&src).unwrap(), b"photo");
        assert!(t.path().join("lib").is_dir(), "a folder that existed before stays");
        assert!(!t.path().join("lib/2021").exists());
        assert!(matches!(j.last_undoable(), Err(JournalError::NothingToUndo)));
    }

    #[test]
    fn a_filed_file_enters_the_index_with_its_new_place_and_a_failed_one_does_not() {
        let t = tempfile::tempdir().unwrap();
        let state = t.path().join("state");
        let (src, dst, fp) = setup(t.path(), b"photo");
        let gone = t.path().join("in/gone.jpg");
        let (mut j, _) = Journal::open(&state).unwrap();
        let session = j.begin("ingest", &serde_json::json!({})).unwrap();
        let row = |p: &Path| FileRow {
            path: p.to_path_buf(),
            size: 0,
            mtime_ns: 0,
            inode: 0,
            blake3: fp.hex(),
            phash: None,
            width: None,
            height: None,
            taken_at: None,
            taken_source: None,
            kind: "jpeg".into(),
            hash_error: None,
            second: None,
            capture: Default::default(),
            format: crate::store::INDEX_FORMAT,
        };
        let items = [
            BatchItem { action: Action::Move, src: src.clone(), dst: dst.clone(), fp, id: None },
            BatchItem {
                action: Action::Move,
                src: gone.clone(),
                dst: t.path().join("lib/2021/04/gone.jpg"),
                fp,
                id: None,
            },
        ];
        let (out, filed) = j.run_batch_indexed(session, &items, vec![Some(row(&src)), Some(row(&gone))]).unwrap();
        assert_eq!(filed.iter().map(|r| &r.path).collect::<Vec<_>>(), [&dst]);
        assert!(matches!(out[0], OpOutcome::Done { .. }) && matches!(out[1], OpOutcome::Failed(_)));
        let indexed = j.store().files_under(&t.path().join("lib")).unwrap();
        assert_eq!(indexed.len(), 1, "only the file that was filed is indexed: {indexed:?}");
        assert_eq!(indexed[0].path, dst);
        let meta = std::fs::metadata(&dst).unwrap();
        assert_eq!((indexed[0].size, indexed[0].mtime_ns, indexed[0].inode), FileRow::stat_key(&meta));
    }
}
