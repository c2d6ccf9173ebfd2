//! The daemon's kept library index and its check in the background.
//!
//! Filing matches each new file against the library the daemon keeps
//! ([`Library`]: the pHash multi-index in memory, the rest in SQLite), and
//! adds what it files. What else may change the library (a job, an undo, a
//! prune, a rescan, files copied in behind the daemon's back) is caught up
//! by a check that walks the library on a thread of its own, with a store
//! of its own, while filing goes on with the library it has; when the check
//! is done its library takes over, with what was filed meanwhile. Only the
//! first read (no library yet, or a config that names another one) makes
//! filing wait.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::engine::organize::Library;
use crate::engine::EngineError;
use crate::store::Store;

/// How often the library is checked when nothing asked for it: files
/// added or removed behind the daemon's back are caught up this late.
pub(super) const CHECK_EVERY: Duration = Duration::from_secs(600);

/// A check running on its thread.
struct Running {
    /// Files looked at, and how many there are (0 until counted).
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    result: mpsc::Receiver<Result<Library, EngineError>>,
    dest: PathBuf,
    perceptual: bool,
    /// Filing waited for it.
    first: bool,
    /// When it began (for the ETA `cbctl status` shows).
    started: Instant,
}

/// The kept library and its background check.
#[derive(Default)]
pub(super) struct Kept {
    /// The library filing uses.
    pub(super) library: Option<Library>,
    running: Option<Running>,
    /// Something may have changed the library: a check is due.
    wanted: bool,
    /// When the last check began.
    last: Option<Instant>,
    /// The kept library is to be read again from the index.
    reread: bool,
}

impl Kept {
    /// Something may have changed the library behind the daemon's back
    /// (a job, an undo, a prune, a rescan, `cbctl keep`): before the next
    /// batch, the kept library is read again from the index (SQLite only,
    /// which those wrote to; no walk), and a check walks it in the background.
    pub(super) fn want_check(&mut self) {
        self.wanted = true;
        self.reread = true;
    }

    /// The config changed: the library kept may not be the one to file
    /// into, so filing waits for a fresh read.
    pub(super) fn forget(&mut self) {
        self.library = None;
        self.wanted = true;
    }

    /// The library is read and is the one `cfg` names: files may be filed.
    pub(super) fn ready(&self, cfg: &Config) -> bool {
        self.library.as_ref().is_some_and(|l| l.is_for(&l_dest(cfg), cfg.dedup_perceptual))
    }

    /// While a check runs: files looked at, of how many, and for how long.
    pub(super) fn progress(&self) -> Option<(u64, u64, Duration)> {
        self.running
            .as_ref()
            .map(|r| (r.done.load(Ordering::Relaxed), r.total.load(Ordering::Relaxed), r.started.elapsed()))
    }

    /// Takes the result of a finished check, and starts one when it is due:
    /// asked for, no library yet, or [`CHECK_EVERY`] since the last. True
    /// when filing may start that had to wait for the library (the inboxes
    /// are to be looked at now).
    pub(super) fn tick(&mut self, cfg: &Config, store: &Store) -> bool {
        let waited = !self.ready(cfg);
        self.finish();
        if std::mem::take(&mut self.reread) {
            if let Some(old) = self.library.take_if(|l| l.is_for(&l_dest(cfg), cfg.dedup_perceptual)) {
                match Library::from_index(store, &cfg.library, cfg.dedup_perceptual) {
                    Ok(mut fresh) => {
                        fresh.take_over(&old);
                        self.library = Some(fresh);
                    }
                    Err(e) => {
                        tracing::warn!("library {} could not be read from the index: {e}", cfg.library.display());
                        self.library = Some(old);
                    }
                }
            }
        }
        let now_ready = waited && self.ready(cfg);
        if self.running.is_none() {
            let due = self.wanted || !self.ready(cfg) || self.last.is_none_or(|t| t.elapsed() >= CHECK_EVERY);
            if due {
                self.start(cfg);
            }
        }
        now_ready
    }

    fn finish(&mut self) {
        let Some(r) = &self.running else { return };
        let outcome = match r.result.try_recv() {
            Ok(outcome) => outcome,
            Err(mpsc::TryRecvError::Empty) => return,
            Err(mpsc::TryRecvError::Disconnected) => {
                tracing::warn!("the library check of {} stopped without a result", r.dest.display());
                self.running = None;
                return;
            }
        };
        let (dest, perceptual, first) = (r.dest.clone(), r.perceptual, r.first);
        self.running = None;
        match outcome {
            Ok(mut fresh) => {
                if let Some(old) = &self.library {
                    fresh.take_over(old);
                }
                let matching = if perceptual { fresh.len().to_string() } else { "no".to_string() };
                if first {
                    tracing::info!("library {} read: {matching} pictures kept for matching", dest.display());
                } else {
                    tracing::debug!("library {} checked: {matching} pictures kept for matching", dest.display());
                }
                self.library = Some(fresh);
            }
            // The library kept (if any) goes on being used; the next check is at the usual time.
            Err(e) => tracing::warn!("library {} could not be checked: {e}", dest.display()),
        }
    }

    fn start(&mut self, cfg: &Config) {
        self.wanted = false;
        self.last = Some(Instant::now());
        let (done, total) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (tx, rx) = mpsc::channel();
        let (state_dir, dest, perceptual) = (cfg.state_dir.clone(), cfg.library.clone(), cfg.dedup_perceptual);
        let (d, t) = (Arc::clone(&done), Arc::clone(&total));
        let first = self.library.is_none();
        let spawned = std::thread::Builder::new().name("library-check".into()).spawn(move || {
            let progress = |n: u64, of: u64| {
                d.store(n, Ordering::Relaxed);
                t.store(of, Ordering::Relaxed);
            };
            let started = Instant::now();
            let outcome = Store::open(&state_dir)
                .map_err(EngineError::from)
                .and_then(|mut store| Library::refreshed(&mut store, &dest, perceptual, &progress));
            if first {
                tracing::info!(
                    "library {} indexed in {:.1} s ({} files)",
                    dest.display(),
                    started.elapsed().as_secs_f64(),
                    t.load(Ordering::Relaxed)
                );
            }
            // The daemon may be stopping: nobody to tell.
            let _ = tx.send(outcome);
        });
        match spawned {
            Ok(_) => {
                self.running = Some(Running {
                    done,
                    total,
                    result: rx,
                    dest: cfg.library.clone(),
                    perceptual,
                    first,
                    started: Instant::now(),
                })
            }
            Err(e) => tracing::warn!("could not start the library check: {e}"),
        }
    }
}

/// The library folder `cfg` names, as a kept library has it (resolved).
fn l_dest(cfg: &Config) -> PathBuf {
    crate::fsops::canonical_lenient(&cfg.library).unwrap_or_else(|_| cfg.library.clone())
}
