//! Seeing and correcting verdicts: `cbctl skipped` (every file set aside,
//! with its keeper and the command that takes it back), `cbctl keep FILE`
//! (file it anyway, and never call it a duplicate of that keeper again),
//! `cbctl not-duplicate A B`, `cbctl prefer FILE` (keep this one over its
//! duplicates), and `cbctl forget FILE` (lift a remembered deletion).
//! Corrections are stored by content, so they hold through renames,
//! restarts and re-syncs; `not-duplicate` and `prefer` are each a journal
//! session of their own, which `cbctl undo` takes back.

use std::path::{Path, PathBuf};

use super::scan::Found;
use super::{EngineError, Event, Summary};
use crate::journal::Journal;
use crate::store::{DecisionRow, Store};

/// A file a session set aside, as `cbctl skipped` lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SetAside {
    /// Where the file is now: in its inbox (left in place) or in the duplicates folder.
    pub path: PathBuf,
    /// Where it was found, when that is elsewhere (it was moved to the duplicates folder).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub found_at: Option<PathBuf>,
    /// `exact` (the same bytes or the same pixels), `similar` (a copy of the
    /// same capture), or `deleted` (deleted before, arriving again).
    pub verdict: String,
    /// Where the file it duplicates is now; `None` when there is none (a
    /// deleted one) or it was removed since.
    #[serde(default)]
    pub keeper: Option<PathBuf>,
    /// pHash distance to the keeper.
    #[serde(default)]
    pub distance: Option<u32>,
    /// The session that set it aside.
    pub session: i64,
    /// When (RFC 3339).
    pub at: String,
    /// Why, in the session's words.
    #[serde(default)]
    pub reason: Option<String>,
    /// The command that files it after all.
    pub undo: String,
}

/// What `keep`, `not-duplicate`, `prefer` and `forget` did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Corrected {
    /// The pairs of contents now kept apart (blake3, blake3).
    #[serde(default)]
    pub apart: Vec<(String, String)>,
    /// The journal session that stored the verdict (`not-duplicate`,
    /// `prefer`): `cbctl undo N` takes it back. `None` when it was already
    /// stored, so nothing changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<i64>,
    /// The content (blake3) now chosen as the keeper of its group (`prefer` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
    /// A remembered deletion was lifted.
    #[serde(default)]
    pub forgotten: bool,
    /// What filing the kept file did (`keep` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed: Option<Summary>,
    /// Where the kept file went (`keep` only, when it was filed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filed_to: Option<PathBuf>,
    /// Why the kept file could not be filed (`keep` only, when it was not).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// Why a correction cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum CorrectionError {
    /// The file is not one a session set aside.
    #[error("{0}: not set aside as a duplicate")]
    NotSetAside(PathBuf),
    /// The two files have the same bytes: copies, whatever is said.
    #[error("{0} and {1} have the same bytes: they are copies of one file, and stay duplicates")]
    SameContent(PathBuf, PathBuf),
    /// There is no such file.
    #[error("{0}: no such file")]
    Missing(PathBuf),
    /// No deletion is remembered of this content.
    #[error("{0}: no earlier deletion is remembered of this file's content")]
    NotRemembered(PathBuf),
    /// The file cannot be read.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// The job that files the kept file.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The index database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// Reading the file.
    #[error(transparent)]
    Fs(#[from] crate::fsops::FsError),
}

impl CorrectionError {
    /// A mistake in what was asked (exit code 2).
    pub fn is_usage(&self) -> bool {
        match self {
            CorrectionError::NotSetAside(_)
            | CorrectionError::NotRemembered(_)
            | CorrectionError::Missing(_)
            | CorrectionError::SameContent(..) => true,
            CorrectionError::Engine(e) => e.is_usage(),
            _ => false,
        }
    }
}

/// Where the file a decision set aside is now (in place, or where it was
/// moved), if it is still there.
fn still_there(d: &DecisionRow) -> Option<PathBuf> {
    let at = if d.outcome == "quarantined" { d.dest.clone()? } else { d.path.clone() };
    crate::fsops::exists(&at).unwrap_or(false).then_some(at)
}

/// Where the file `d` was set aside for is now. A keeper that was itself
/// set aside (the better of two incoming copies, a duplicate of a library
/// file) is followed to the file that stayed: that is the one kept.
fn keeper_of(store: &Store, d: &DecisionRow) -> Result<Option<PathBuf>, crate::store::StoreError> {
    let (mut session, mut of) = (d.session, d.duplicate_of.clone());
    // Each step is an earlier or the same batch's decision; the bound is for a journal edited by hand.
    for _ in 0..64 {
        let Some(k) = of.take() else { return Ok(None) };
        let Some(now) = super::why::whereabouts(store, &k, session)?.0.map(PathBuf::from) else { return Ok(None) };
        match store.set_aside_at(&now)? {
            Some(next) if next.duplicate_of.is_some() && next.duplicate_of.as_deref() != Some(now.as_path()) => {
                (session, of) = (next.session, next.duplicate_of);
            }
            _ => return Ok(Some(now)),
        }
    }
    Ok(None)
}

/// `s` as one shell word: as it is when it is plain, else in single quotes.
pub fn shell_quote(s: &str) -> String {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._-+,:@".contains(&b)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Every file set aside and still where it was put, newest first, each once.
pub fn skipped(store: &Store) -> Result<Vec<SetAside>, crate::store::StoreError> {
    let mut out = Vec::new();
    for d in store.set_aside()? {
        let Some(path) = still_there(&d) else { continue };
        let keeper = keeper_of(store, &d)?;
        let found_at = (path != d.path).then(|| d.path.clone());
        out.push(SetAside {
            undo: format!("cbctl keep {}", shell_quote(&path.to_string_lossy())),
            path,
            found_at,
            verdict: d.how.clone().unwrap_or_else(|| "exact".into()),
            keeper,
            distance: d.distance,
            session: d.session,
            at: d.at,
            reason: d.reason,
        });
    }
    Ok(out)
}

/// The blake3 of a file: from the index when its row is fresh, else read.
fn content_of(store: &Store, path: &Path) -> Result<String, CorrectionError> {
    if !crate::fsops::exists(path)? {
        return Err(CorrectionError::Missing(path.to_path_buf()));
    }
    if let (Some(row), Ok(meta)) = (store.file_at(path)?, std::fs::symlink_metadata(path)) {
        if crate::store::FileRow::stat_key(&meta) == (row.size, row.mtime_ns, row.inode) {
            return Ok(row.blake3);
        }
    }
    let mut opened = crate::media::open(path)?;
    Ok(crate::fsops::fingerprint_file(&mut opened.file, path)?.hex())
}

/// `cbctl not-duplicate A B`: the contents of `a` and `b` are never
/// duplicates of each other again. A pair not kept apart before is stored
/// in a `not-duplicate` session, which `cbctl undo` takes back.
pub fn not_duplicate(journal: &mut Journal, a: &Path, b: &Path) -> Result<Corrected, CorrectionError> {
    let (ha, hb) = (content_of(journal.store(), a)?, content_of(journal.store(), b)?);
    if ha == hb {
        return Err(CorrectionError::SameContent(a.to_path_buf(), b.to_path_buf()));
    }
    let apart = vec![crate::store::pair(&ha, &hb)];
    if journal.store().is_apart(&ha, &hb)? {
        return Ok(Corrected { apart, ..Corrected::default() });
    }
    let params = serde_json::json!({ "a": a.to_string_lossy(), "b": b.to_string_lossy() });
    let store = journal.store_mut();
    let session = store.begin_session("not-duplicate", &params, None)?;
    let stored = store.set_apart(&ha, &hb, Some(session))?;
    store.finish_session(session, "done", &serde_json::json!({ "apart": usize::from(stored) }))?;
    Ok(Corrected { apart, session: Some(session), ..Corrected::default() })
}

/// `cbctl prefer FILE`: the content of `path` is the keeper of its group
/// from now on, in dedup and in filing, over every rule but
/// `dedup.protect`. A content not chosen before is stored in a `prefer`
/// session, which `cbctl undo` takes back.
pub fn prefer(journal: &mut Journal, path: &Path) -> Result<Corrected, CorrectionError> {
    let h = content_of(journal.store(), path)?;
    if journal.store().is_chosen(&h)? {
        return Ok(Corrected { chosen: Some(h), ..Corrected::default() });
    }
    let store = journal.store_mut();
    let session = store.begin_session("prefer", &serde_json::json!({ "path": path.to_string_lossy() }), None)?;
    let stored = store.choose(&h, Some(session))?;
    store.finish_session(session, "done", &serde_json::json!({ "chosen": usize::from(stored) }))?;
    Ok(Corrected { chosen: Some(h), session: Some(session), ..Corrected::default() })
}

/// `cbctl forget FILE`: content deleted before and arriving again is
/// filed like any new file.
pub fn forget(journal: &mut Journal, path: &Path) -> Result<Corrected, CorrectionError> {
    let h = content_of(journal.store(), path)?;
    if !journal.store_mut().forget(&h)? {
        return Err(CorrectionError::NotRemembered(path.to_path_buf()));
    }
    Ok(Corrected { forgotten: true, ..Corrected::default() })
}

/// `cbctl keep FILE`: files a file a session set aside (left in its inbox,
/// or moved to the duplicates folder) through the journal, as `opts` say
/// (its `src` is replaced by the file's folder), and keeps it apart from
/// its keeper from now on; a remembered deletion of it is lifted.
pub fn keep(
    journal: &mut Journal,
    opts: &super::OrganizeOptions,
    path: &Path,
    on_event: &mut (dyn FnMut(&Event) + Send),
) -> Result<Corrected, CorrectionError> {
    let store = journal.store();
    let Some(d) = store.decisions_about(path)?.into_iter().next().filter(|d| {
        (d.outcome == "duplicate" && d.path == path) || (d.outcome == "quarantined" && d.dest.as_deref() == Some(path))
    }) else {
        return Err(CorrectionError::NotSetAside(path.to_path_buf()));
    };
    if !crate::fsops::exists(path)? {
        return Err(CorrectionError::Missing(path.to_path_buf()));
    }
    let mine = content_of(store, path)?;
    let keeper = keeper_of(store, &d)?;
    let mut out = Corrected::default();
    if let Some(k) = keeper.filter(|k| crate::fsops::exists(k).unwrap_or(false)) {
        let theirs = content_of(store, &k)?;
        // The same bytes twice is a second copy, kept: there is no pair to keep apart.
        if theirs != mine {
            journal.store_mut().set_apart(&mine, &theirs, Some(d.session))?;
            out.apart.push(crate::store::pair(&mine, &theirs));
        }
    }
    out.forgotten = journal.store_mut().forget(&mine)?;
    let folder = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let opts = super::OrganizeOptions { src: folder, keep: true, quarantine: None, ..opts.clone() };
    let (mut filed_to, mut problem) = (None, None);
    let mut watch = |ev: &Event| {
        if let Event::File(f) = ev {
            match f.outcome {
                super::Outcome::Moved | super::Outcome::Copied => filed_to = f.dest.clone(),
                super::Outcome::Error
                | super::Outcome::Duplicate
                | super::Outcome::NonMedia
                | super::Outcome::Skipped => {
                    problem = f.reason.clone().or_else(|| Some("it could not be filed".into()))
                }
                _ => {}
            }
        }
        on_event(ev)
    };
    let summary = super::organize_found(journal, &opts, vec![Found::File(path.to_path_buf())], &mut watch)?;
    out.filed = Some(summary);
    out.filed_to = filed_to;
    out.problem = problem;
    Ok(out)
}
