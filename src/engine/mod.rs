//! The jobs, and the progress events they report.
//!
//! A job never prints: it calls `on_event` for each file and once at the
//! end, and the host (`cbctl` today, the daemon later) renders the events as
//! text, JSON lines or a progress bar.

use std::path::{Path, PathBuf};

pub mod assets;
pub mod compress;
pub mod dedup;
pub mod exact;
pub mod group;
pub mod index;
pub mod job;
pub mod organize;
pub mod scan;
pub mod thumbs;
pub mod verdicts;
pub mod why;

pub use organize::{organize, organize_found, organize_found_with, Library, OrganizeOptions};

/// Errors that stop a job before it touches any file (usage errors).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The source folder is missing.
    #[error("{0}: no such folder")]
    MissingSource(PathBuf),
    /// The source is not a folder.
    #[error("{0}: not a folder")]
    SourceNotDir(PathBuf),
    /// The destination lies inside the source, so filed files would be found again.
    #[error("destination {dest} is inside the source {src}; choose a destination outside it")]
    DestInsideSource {
        /// The source folder (resolved).
        src: PathBuf,
        /// The destination folder (resolved).
        dest: PathBuf,
    },
    /// A file operation outside any one file (resolving paths).
    #[error(transparent)]
    Fs(#[from] crate::fsops::FsError),
    /// The journal.
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    /// The index database.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// The folder template is bad.
    #[error(transparent)]
    Layout(#[from] crate::layout::LayoutError),
    /// The destination is a library this state filed into, but it is not
    /// there as it was (its marker is missing: a disk not mounted?).
    #[error("{0}")]
    LibraryAway(String),
    /// The library marker could not be read or written.
    #[error(transparent)]
    Marker(#[from] crate::marker::MarkerError),
}

impl EngineError {
    /// A mistake in what was asked (exit code 2), not a failure while working.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            EngineError::MissingSource(_)
                | EngineError::SourceNotDir(_)
                | EngineError::DestInsideSource { .. }
                | EngineError::Layout(_)
                | EngineError::LibraryAway(_)
        )
    }
}

/// What happened to one file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Moved into the library.
    Moved,
    /// Copied into the library.
    Copied,
    /// Moved to the trash (undoable until `cbctl prune`).
    Trashed,
    /// A duplicate moved aside into the duplicates folder (journaled, undoable).
    Quarantined,
    /// Would be moved or copied (dry run).
    Planned,
    /// An identical file is already at the destination; the source is kept.
    Duplicate,
    /// Not a media file; left alone.
    NonMedia,
    /// Hidden, a sync tool's temp file, or a symlink; left alone.
    Skipped,
    /// Could not be handled; left where it was, with the reason.
    Error,
    /// Not handled yet: it waits (the daemon's `watch.pair_seconds`) for a
    /// file that belongs with it (a Live Photo's video, a sidecar's photo).
    Waiting,
}

impl Outcome {
    /// The name used in JSON events (its serialization) and the journal's `decisions` table.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Moved => "moved",
            Outcome::Copied => "copied",
            Outcome::Trashed => "trashed",
            Outcome::Quarantined => "quarantined",
            Outcome::Planned => "planned",
            Outcome::Duplicate => "duplicate",
            Outcome::NonMedia => "non-media",
            Outcome::Skipped => "skipped",
            Outcome::Error => "error",
            Outcome::Waiting => "waiting",
        }
    }
}

impl serde::Serialize for Outcome {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Outcome {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Outcome, D::Error> {
        const ALL: [Outcome; 10] = [
            Outcome::Moved,
            Outcome::Copied,
            Outcome::Trashed,
            Outcome::Quarantined,
            Outcome::Planned,
            Outcome::Duplicate,
            Outcome::NonMedia,
            Outcome::Skipped,
            Outcome::Error,
            Outcome::Waiting,
        ];
        let name = String::deserialize(d)?;
        ALL.into_iter()
            .find(|o| o.as_str() == name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown outcome {name:?}")))
    }
}

/// A fixed name an event carries (a match kind, a date source, a media
/// kind). An alias so serde's derive does not take the `'static` for a
/// borrow from the input: [`static_name`] reads it back.
pub type Name = &'static str;

/// Reads back one of the fixed names events carry as `&'static str` (a
/// match kind, a date source, a media kind); a name this build does not
/// know reads as "unknown" rather than failing the whole event.
pub(crate) fn static_name<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'static str>, D::Error> {
    use serde::Deserialize;
    const NAMES: &[&str] = &[
        "exact",
        "similar",
        "perceptual",
        "name",
        "image",
        "video",
        "other",
        "exif",
        "xmp",
        "exif-create",
        "quicktime",
        "mvhd",
        "container",
        "filename",
        "mtime",
        "heif",
        "raw",
        "gif",
        "bmp",
        "tiff",
        "png",
        "webp",
        "avif",
        "jpeg",
    ];
    let name: Option<String> = Option::deserialize(d)?;
    Ok(name.map(|n| NAMES.iter().copied().find(|k| *k == n).unwrap_or("unknown")))
}

/// [`static_name`] for a field that is always there.
pub(crate) fn static_name_req<'de, D: serde::Deserializer<'de>>(d: D) -> Result<&'static str, D::Error> {
    Ok(static_name(d)?.unwrap_or("unknown"))
}

/// The report for one file.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FileEvent {
    /// The file as found.
    #[serde(serialize_with = "lossy")]
    pub path: PathBuf,
    /// What happened.
    pub outcome: Outcome,
    /// Where it went (or, for a duplicate left in place, the library file it duplicates).
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "lossy_opt")]
    pub dest: Option<PathBuf>,
    /// For a duplicate (skipped or quarantined): the file it duplicates.
    #[serde(default, skip_serializing_if = "Option::is_none", serialize_with = "lossy_opt")]
    pub duplicate_of: Option<PathBuf>,
    /// For a duplicate: `exact` (same bytes) or `similar` (same picture by pHash).
    #[serde(rename = "match", default, skip_serializing_if = "Option::is_none", deserialize_with = "static_name")]
    pub how: Option<Name>,
    /// For a similar duplicate: the pHash distance to the file it duplicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distance: Option<u32>,
    /// The capture date used (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taken: Option<String>,
    /// The source of that date.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "static_name")]
    pub source: Option<Name>,
    /// Size in bytes.
    pub bytes: u64,
    /// Why it was skipped or failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// It failed for want of space (ENOSPC, quota): worth trying again once
    /// there is room, not a fault of the file.
    #[serde(skip)]
    pub no_space: bool,
}

/// [`FileEvent::how`] for a duplicate: `exact` (same bytes) or `similar` (same picture).
pub(crate) fn match_name(exact: bool) -> &'static str {
    if exact {
        "exact"
    } else {
        "similar"
    }
}

/// Writes the decisions reported so far into the journal (none in a dry run).
/// A failure loses only the explanations, never a file, so it is a warning.
pub(crate) fn record_decisions(
    journal: &mut crate::journal::Journal,
    session: Option<i64>,
    decided: &std::sync::Mutex<Vec<FileEvent>>,
) {
    let Some(session) = session else { return };
    let events = match decided.lock() {
        Ok(mut d) => std::mem::take(&mut *d),
        Err(_) => return,
    };
    let rows: Vec<crate::store::DecisionRow> = events
        .into_iter()
        .map(|f| crate::store::DecisionRow {
            session,
            path: f.path,
            outcome: f.outcome.as_str().to_string(),
            dest: f.dest,
            duplicate_of: f.duplicate_of,
            how: f.how.map(str::to_string),
            distance: f.distance,
            taken_at: f.taken,
            taken_source: f.source.map(str::to_string),
            reason: f.reason,
            at: String::new(),
        })
        .collect();
    if let Err(e) = journal.store_mut().record_decisions(&rows) {
        tracing::warn!(session, "cannot record why {} file(s) went where they did: {e}", rows.len());
    }
}

/// Counts for the end-of-job summary.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// The journal session, when the job changed anything.
    pub session: Option<i64>,
    /// Files looked at.
    pub scanned: u64,
    /// Files moved or copied into the library (or planned, in a dry run).
    pub filed: u64,
    /// Exact duplicates skipped (of a library file, of another incoming file, or at the destination name).
    pub duplicates: u64,
    /// Perceptual duplicates skipped (the same picture resized, re-encoded, converted).
    pub similar: u64,
    /// Non-media files left alone.
    pub non_media: u64,
    /// Hidden, temp and symlinked entries left alone.
    pub skipped: u64,
    /// Files that failed.
    pub errors: u64,
    /// Duplicates (exact or similar) moved into the duplicates folder.
    #[serde(default)]
    pub quarantined: u64,
    /// Bytes moved or copied.
    pub bytes: u64,
}

/// A progress event.
#[derive(Debug, Clone)]
pub enum Event {
    /// The scan found this many files to look at.
    Found {
        /// Count of entries that will get a `File` event.
        total: u64,
    },
    /// Indexing the destination: `done` of `total` new or changed files read.
    Indexing {
        /// Files read so far.
        done: u64,
        /// Files to read.
        total: u64,
    },
    /// One file was handled.
    File(FileEvent),
}

pub(crate) fn lossy<S: serde::Serializer>(p: &Path, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&p.to_string_lossy())
}

fn lossy_opt<S: serde::Serializer>(p: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
    match p {
        Some(p) => lossy(p, s),
        None => s.serialize_none(),
    }
}
