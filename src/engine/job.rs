//! One-shot jobs as data: what `cbctl organize` / `cbctl dedup` ask for,
//! run in `cbctl` itself or submitted to the daemon over the control
//! socket. Both run them through [`run`], and both see the same progress
//! events ([`JobEvent`]), printed by `cbctl --json` one object per line.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::compress::{compress, CompressEvent, CompressOptions, CompressProgress, CompressSummary};
use super::dedup::{dedup, DedupAction, DedupEvent, DedupOptions, DedupSummary, GroupReport};
use super::group::GroupOptions;
use super::{organize, EngineError, Event, FileEvent, OrganizeOptions, Summary};
use crate::access::Access;
use crate::config::Mode;
use crate::journal::Journal;
use crate::layout::Layout;

fn default_undated() -> String {
    crate::layout::DEFAULT_UNDATED.to_string()
}

/// A job, with every option resolved by the side that asked for it (so the
/// daemon runs it as the client's config says, not its own).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum JobSpec {
    /// `cbctl organize SRC DEST`.
    Organize {
        /// Folder to take media from.
        src: PathBuf,
        /// Library to file it into.
        dest: PathBuf,
        /// Copy instead of move.
        #[serde(default)]
        copy: bool,
        /// Touch nothing, report what would happen.
        #[serde(default)]
        dry_run: bool,
        /// Folder template.
        layout: String,
        /// Folder template for files whose only date is their mtime
        /// (`layout_undated`; a client that does not send it gets the default).
        #[serde(default = "default_undated")]
        layout_undated: String,
        /// Duplicate rules.
        group: GroupOptions,
    },
    /// `cbctl dedup DIR...`.
    Dedup {
        /// Folders to look in.
        dirs: Vec<PathBuf>,
        /// What to do with duplicates.
        action: DedupAction,
        /// Where move/copy put them.
        #[serde(default)]
        to: Option<PathBuf>,
        /// The library root (its trash is used for folders inside it).
        #[serde(default)]
        library: Option<PathBuf>,
        /// Duplicate rules.
        group: GroupOptions,
        /// Only the groups these files keep (empty: all).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        keepers: Vec<PathBuf>,
        /// With `keepers`: only these of their duplicates are acted on.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        members: Vec<PathBuf>,
        /// Also tell of every file dated by its mtime only.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        undated: bool,
        /// Exact copies only, nothing decoded: by size, head and tail, then
        /// the whole content (`--exact`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        exact: bool,
        /// With `exact`: every regular file counts, not only media (`--all-files`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        all_files: bool,
    },
    /// `cbctl compress SRC DEST`.
    Compress(CompressOptions),
}

impl JobSpec {
    /// `organize` or `dedup`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Organize { .. } => "organize",
            JobSpec::Dedup { .. } => "dedup",
            JobSpec::Compress(_) => "compress",
        }
    }

    /// The folders the job reads, and those it writes into (a destination,
    /// dedup's `--to`), as given.
    pub fn folders(&self) -> (Vec<PathBuf>, Vec<PathBuf>) {
        match self {
            JobSpec::Organize { src, dest, dry_run, .. } => {
                (vec![src.clone()], if *dry_run { vec![] } else { vec![dest.clone()] })
            }
            JobSpec::Dedup { dirs, action, to, .. } => {
                let writes = match action {
                    DedupAction::Move | DedupAction::Copy => to.iter().cloned().collect(),
                    _ => vec![],
                };
                (dirs.clone(), writes)
            }
            JobSpec::Compress(o) => (vec![o.src.clone()], vec![o.dest.clone()]),
        }
    }

    /// True when the job moves or deletes files in the folders it reads.
    pub fn changes_sources(&self) -> bool {
        match self {
            JobSpec::Organize { copy, dry_run, .. } => !copy && !dry_run,
            JobSpec::Dedup { action, .. } => matches!(action, DedupAction::Move | DedupAction::Delete),
            JobSpec::Compress(_) => false,
        }
    }

    /// The folders the job reads, which must exist where it runs.
    pub fn sources(&self) -> Vec<&Path> {
        match self {
            JobSpec::Organize { src, .. } => vec![src.as_path()],
            JobSpec::Dedup { dirs, .. } => dirs.iter().map(PathBuf::as_path).collect(),
            JobSpec::Compress(o) => vec![o.src.as_path()],
        }
    }
}

/// A job's progress, as the job worker streams it and `cbctl --json` prints
/// it: one object per event, its kind in `"event"`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum JobEvent {
    /// The scan found this many files to handle.
    Found {
        /// Count of per-file events to come.
        total: u64,
    },
    /// Reading files into the index: `done` of `total` (in `dir`, for dedup).
    Indexing {
        /// The folder being indexed (dedup, one folder at a time).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dir: Option<String>,
        /// Files read so far.
        done: u64,
        /// Files to read.
        total: u64,
    },
    /// One file was filed, moved, skipped or failed (organize, dedup).
    File(FileEvent),
    /// One group of duplicates (dedup).
    Group(GroupReport),
    /// One file was compressed, converted, kept or failed (compress).
    Compressed(CompressEvent),
    /// A file could not be read at all (dedup's index).
    Error {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// A file with no capture date of its own: dated by its mtime only
    /// (dedup, when asked for them).
    Undated {
        /// The file.
        path: String,
        /// Its pixels, format and size.
        file: crate::engine::dedup::FileFacts,
    },
}

impl JobEvent {
    /// True for an event that stands for one file handled (the bar moves on).
    pub fn is_file(&self) -> bool {
        matches!(self, JobEvent::File(_) | JobEvent::Compressed(_) | JobEvent::Error { .. })
    }
}

impl From<&Event> for JobEvent {
    fn from(ev: &Event) -> JobEvent {
        match ev {
            Event::Found { total } => JobEvent::Found { total: *total },
            Event::Indexing { done, total } => JobEvent::Indexing { dir: None, done: *done, total: *total },
            Event::File(f) => JobEvent::File(f.clone()),
        }
    }
}

impl From<&CompressProgress> for JobEvent {
    fn from(ev: &CompressProgress) -> JobEvent {
        match ev {
            CompressProgress::Found { total } => JobEvent::Found { total: *total },
            CompressProgress::File(f) => JobEvent::Compressed(f.clone()),
        }
    }
}

impl From<&DedupEvent> for JobEvent {
    fn from(ev: &DedupEvent) -> JobEvent {
        match ev {
            DedupEvent::Indexing { dir, done, total } => {
                JobEvent::Indexing { dir: Some(dir.to_string_lossy().into_owned()), done: *done, total: *total }
            }
            DedupEvent::Error { path, reason } => {
                JobEvent::Error { path: path.to_string_lossy().into_owned(), reason: reason.clone() }
            }
            DedupEvent::Group(g) => JobEvent::Group(g.clone()),
            DedupEvent::File(f) => JobEvent::File(f.clone()),
            DedupEvent::Undated { path, file } => {
                JobEvent::Undated { path: path.to_string_lossy().into_owned(), file: file.clone() }
            }
        }
    }
}

/// What a job ends with: its kind's summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum JobSummary {
    /// `organize`.
    Organize(Summary),
    /// `dedup`.
    Dedup(DedupSummary),
    /// `compress`.
    Compress(CompressSummary),
}

impl JobSummary {
    /// The journal session the job wrote, if it changed anything.
    pub fn session(&self) -> Option<i64> {
        match self {
            JobSummary::Organize(s) => s.session,
            JobSummary::Dedup(s) => s.session,
            JobSummary::Compress(_) => None,
        }
    }

    /// Files that failed.
    pub fn errors(&self) -> u64 {
        match self {
            JobSummary::Organize(s) => s.errors,
            JobSummary::Dedup(s) => s.errors,
            JobSummary::Compress(s) => s.errors,
        }
    }

    /// The summary in words, for a log line.
    pub fn describe(&self) -> String {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        let (what, session) = match self {
            JobSummary::Organize(s) => {
                (format!("{} filed of {} scanned", plural(s.filed, "file"), s.scanned), s.session)
            }
            JobSummary::Dedup(s) => (
                format!("{} of {}, {} handled", plural(s.duplicates, "duplicate"), plural(s.files, "file"), s.handled),
                s.session,
            ),
            JobSummary::Compress(s) => {
                (format!("{} compressed of {}", s.compressed, plural(s.processed, "file")), None)
            }
        };
        let session = session.map(|id| format!(" (session {id})")).unwrap_or_default();
        format!("{what}, {} failed{session}", self.errors())
    }

    /// Reads the summary of a job of `spec`'s kind back from its JSON.
    pub fn decode(spec: &JobSpec, v: Value) -> Result<JobSummary, serde_json::Error> {
        Ok(match spec {
            JobSpec::Organize { .. } => JobSummary::Organize(serde_json::from_value(v)?),
            JobSpec::Dedup { .. } => JobSummary::Dedup(serde_json::from_value(v)?),
            JobSpec::Compress(_) => JobSummary::Compress(serde_json::from_value(v)?),
        })
    }
}

/// Passes events on, but "indexing" ones at most every 100 ms (and always
/// the first and last), so a job over 100k unchanged files does not send
/// 100k progress lines.
struct Throttle<'a> {
    out: &'a mut (dyn FnMut(JobEvent) + Send),
    last: Option<Instant>,
}

impl Throttle<'_> {
    fn send(&mut self, ev: JobEvent) {
        if let JobEvent::Indexing { done, total, .. } = ev {
            let ends = done == total || done == 0;
            if !ends && self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            self.last = Some(Instant::now());
        }
        (self.out)(ev);
    }
}

/// Runs a job, reporting each event; returns its summary.
pub fn run(
    journal: &mut Journal,
    spec: &JobSpec,
    on_event: &mut (dyn FnMut(JobEvent) + Send),
) -> Result<JobSummary, EngineError> {
    run_as(journal, spec, None, on_event)
}

/// [`run`] for a caller whose rights are `access` (`None`: this process's
/// own): files and folders it may not read, or not change when the job
/// would, are reported and left alone.
pub fn run_as(
    journal: &mut Journal,
    spec: &JobSpec,
    access: Option<&Access>,
    on_event: &mut (dyn FnMut(JobEvent) + Send),
) -> Result<JobSummary, EngineError> {
    let mut out = Throttle { out: on_event, last: None };
    let summary = match spec {
        JobSpec::Organize { src, dest, copy, dry_run, layout, layout_undated, group } => {
            let opts = OrganizeOptions {
                src: src.clone(),
                dest: dest.clone(),
                mode: if *copy { Mode::Copy } else { Mode::Move },
                dry_run: *dry_run,
                layout: Layout::parse(layout)?.with_undated(layout_undated)?,
                session_kind: "organize",
                // Set aside as `dedup.on_duplicate` / `on_similar` say; a copy never changes SRC.
                quarantine: (!*copy).then(|| dest.join(super::organize::QUARANTINE_DIR)),
                compress: None,
                dedup: group.clone(),
                access: access.cloned(),
                keep: false,
                wait_for: Default::default(),
            };
            JobSummary::Organize(organize(journal, &opts, &mut |ev| out.send(ev.into()))?)
        }
        JobSpec::Dedup { dirs, action, to, library, group, keepers, members, undated, exact, all_files } => {
            let opts = DedupOptions {
                dirs: dirs.clone(),
                action: *action,
                to: to.clone(),
                group: group.clone(),
                library: library.clone(),
                access: access.cloned(),
                keepers: keepers.clone(),
                members: members.clone(),
                undated: *undated,
                exact: *exact,
                all_files: *all_files,
            };
            JobSummary::Dedup(dedup(journal, &opts, &mut |ev| out.send(ev.into()))?)
        }
        // Writes only new files under DEST: nothing to journal.
        JobSpec::Compress(opts) => {
            let opts = CompressOptions { access: access.cloned(), ..opts.clone() };
            JobSummary::Compress(compress(&opts, &mut |ev| out.send(ev.into()))?)
        }
    };
    Ok(summary)
}
