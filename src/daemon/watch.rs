//! Watching the inboxes with `notify` (inotify on Linux, FSEvents on macOS).
//!
//! Events only tell the daemon *where to look and when*: a path with an
//! event restarts its settle clock, and any event makes the next poll scan.
//! What is filed is still decided by scanning (size and mtime unchanged for
//! `settle_seconds`), so a lost event can delay a file but never lose it:
//! when the watcher overflows (`Flag::Rescan`), reports an error, or cannot
//! watch a folder at all (too many watches), the daemon logs it and scans.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use notify::event::{AccessKind, AccessMode, EventKind};
use notify::{RecommendedWatcher, RecursiveMode, Watcher};

/// What happened since the last [`Watch::drain`].
#[derive(Debug, Default)]
pub struct Activity {
    /// Paths with events (created, written, closed, renamed, removed).
    pub paths: Vec<PathBuf>,
    /// The watcher may have missed events: scan everything.
    pub rescan: bool,
}

/// Watches a set of folders recursively.
pub struct Watch {
    _watcher: Option<RecommendedWatcher>,
    rx: mpsc::Receiver<notify::Result<notify::Event>>,
    /// Folders that could not be watched: they are scanned on every poll.
    pub unwatched: Vec<PathBuf>,
}

impl Watch {
    /// Starts watching `dirs`; a folder that cannot be watched is listed in
    /// `unwatched` (and logged), not an error.
    pub fn new(dirs: &[&Path]) -> Watch {
        let (tx, rx) = mpsc::channel();
        let mut unwatched = Vec::new();
        let watcher = match notify::recommended_watcher(tx) {
            Ok(mut w) => {
                for d in dirs {
                    if let Err(e) = w.watch(d, RecursiveMode::Recursive) {
                        // A missing inbox is said (and waited for) by the poll that looks for it.
                        if d.is_dir() {
                            tracing::warn!("cannot watch {} ({e}); scanning it on every poll instead", d.display());
                        } else {
                            tracing::debug!(
                                "not watching {}, which is not there: looked for on every poll",
                                d.display()
                            );
                        }
                        unwatched.push(d.to_path_buf());
                    }
                }
                Some(w)
            }
            Err(e) => {
                tracing::warn!("file watching unavailable ({e}); scanning the inboxes on every poll instead");
                unwatched.extend(dirs.iter().map(|d| d.to_path_buf()));
                None
            }
        };
        Watch { _watcher: watcher, rx, unwatched }
    }

    /// Everything that happened since the last call, without blocking.
    pub fn drain(&self) -> Activity {
        let mut a = Activity::default();
        // Logged once per drain: an overflow comes as a run of such events.
        let mut overflowed = false;
        while let Ok(ev) = self.rx.try_recv() {
            match ev {
                Ok(ev) => {
                    // Reads and opens (our own scans among them) change nothing;
                    // a close after writing does.
                    if let EventKind::Access(kind) = ev.kind {
                        if !matches!(kind, AccessKind::Close(AccessMode::Write)) {
                            continue;
                        }
                    }
                    if ev.need_rescan() && !overflowed {
                        tracing::warn!("the file watcher overflowed and may have missed events; rescanning");
                        overflowed = true;
                    }
                    a.rescan |= overflowed;
                    a.paths.extend(ev.paths);
                }
                Err(e) => {
                    tracing::warn!("file watcher error ({e}); rescanning");
                    a.rescan = true;
                }
            }
        }
        a
    }
}
