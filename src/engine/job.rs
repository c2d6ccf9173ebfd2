//! One-shot jobs as data: what `cbctl organize` / `cbctl dedup` ask for,
//! run in `cbctl` itself or submitted to the daemon over the control
//! socket. Both run them through [`run`], and both see the same progress
//! events: JSON objects, one per event, as `cbctl --json` prints them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::compress::{compress, CompressOptions, CompressProgress};
use super::dedup::{dedup, DedupAction, DedupEvent, DedupOptions};
use super::group::GroupOptions;
use super::{organize, EngineError, Event, OrganizeOptions};
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

/// An organize progress event as JSON.
pub fn organize_event(ev: &Event) -> Value {
    match ev {
        Event::Found { total } => json!({"event": "found", "total": total}),
        Event::Indexing { done, total } => json!({"event": "indexing", "done": done, "total": total}),
        Event::File(f) => serde_json::to_value(f).unwrap_or_default(),
    }
}

/// A compress progress event as JSON.
pub fn compress_event(ev: &CompressProgress) -> Value {
    match ev {
        CompressProgress::Found { total } => json!({"event": "found", "total": total}),
        CompressProgress::File(f) => serde_json::to_value(f).unwrap_or_default(),
    }
}

/// A dedup progress event as JSON.
pub fn dedup_event(ev: &DedupEvent) -> Value {
    match ev {
        DedupEvent::Indexing { dir, done, total } => {
            json!({"event": "indexing", "dir": dir.to_string_lossy(), "done": done, "total": total})
        }
        DedupEvent::Error { path, reason } => json!({"path": path.to_string_lossy(), "error": reason}),
        DedupEvent::Group(g) => serde_json::to_value(g).unwrap_or_default(),
        DedupEvent::File(f) => serde_json::to_value(f).unwrap_or_default(),
    }
}

/// Passes events on, but "indexing" ones at most every 100 ms (and always
/// the first and last), so a job over 100k unchanged files does not send
/// 100k progress lines.
struct Throttle<'a> {
    out: &'a mut (dyn FnMut(Value) + Send),
    last: Option<Instant>,
}

impl Throttle<'_> {
    fn send(&mut self, v: Value) {
        if v["event"] == "indexing" {
            let ends = v["done"] == v["total"] || v["done"] == 0;
            if !ends && self.last.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
                return;
            }
            self.last = Some(Instant::now());
        }
        (self.out)(v);
    }
}

/// Runs a job, reporting each event; returns its summary as JSON.
pub fn run(
    journal: &mut Journal,
    spec: &JobSpec,
    on_event: &mut (dyn FnMut(Value) + Send),
) -> Result<Value, EngineError> {
    run_as(journal, spec, None, on_event)
}

/// [`run`] for a caller whose rights are `access` (`None`: this process's
/// own): files and folders it may not read, or not change when the job
/// would, are reported and left alone.
pub fn run_as(
    journal: &mut Journal,
    spec: &JobSpec,
    access: Option<&Access>,
    on_event: &mut (dyn FnMut(Value) + Send),
) -> Result<Value, EngineError> {
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
                quarantine: None,
                compress: None,
                dedup: *group,
                access: access.cloned(),
            };
            serde_json::to_value(organize(journal, &opts, &mut |ev| out.send(organize_event(ev)))?)
        }
        JobSpec::Dedup { dirs, action, to, library, group } => {
            let opts = DedupOptions {
                dirs: dirs.clone(),
                action: *action,
                to: to.clone(),
                group: *group,
                library: library.clone(),
                access: access.cloned(),
            };
            serde_json::to_value(dedup(journal, &opts, &mut |ev| out.send(dedup_event(ev)))?)
        }
        // Writes only new files under DEST: nothing to journal.
        JobSpec::Compress(opts) => {
            let opts = CompressOptions { access: access.cloned(), ..opts.clone() };
            serde_json::to_value(compress(&opts, &mut |ev| out.send(compress_event(ev)))?)
        }
    };
    Ok(summary.unwrap_or_default())
}
