//! `clean-backupd`: watches the inboxes and files media once it has settled.
//!
//! This first daemon polls: every `poll` it scans each inbox, and a file whose
//! size and mtime have not changed for `settle_seconds` is filed into the
//! library through the same journaled engine as `cbctl organize`. Each batch
//! of settled files is one session, so `cbctl undo --last` undoes the last
//! import. SIGTERM/SIGINT stop it between batches; SIGHUP reloads the config.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::config::{Config, ConfigError, Inbox};
use crate::engine::group::GroupOptions;
use crate::engine::scan::{scan, Found};
use crate::engine::{organize_found, EngineError, Event, OrganizeOptions, Outcome};
use crate::journal::{Journal, JournalError};
use crate::layout::{Layout, LayoutError};

/// Errors that stop the daemon.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// Config could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The layout template is bad.
    #[error(transparent)]
    Layout(#[from] LayoutError),
    /// The journal could not be opened (locked, unwritable).
    #[error(transparent)]
    Journal(#[from] JournalError),
    /// Signal handlers could not be installed.
    #[error("installing signal handlers: {0}")]
    Signals(std::io::Error),
}

/// What the daemon remembers of a file it has seen but not filed yet.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    size: u64,
    mtime: Option<SystemTime>,
    /// When it last changed.
    since: Instant,
    /// Handled without being filed (error, duplicate): left alone until it changes.
    parked: bool,
}

/// The daemon's flags, set from signal handlers.
#[derive(Debug, Clone, Default)]
pub struct Signals {
    /// SIGTERM / SIGINT: finish the batch in hand and exit.
    pub stop: Arc<AtomicBool>,
    /// SIGHUP: reload the config.
    pub reload: Arc<AtomicBool>,
}

impl Signals {
    /// Registers SIGTERM, SIGINT and SIGHUP.
    pub fn install() -> Result<Signals, DaemonError> {
        let s = Signals::default();
        for sig in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
            signal_hook::flag::register(sig, Arc::clone(&s.stop)).map_err(DaemonError::Signals)?;
        }
        signal_hook::flag::register(signal_hook::consts::SIGHUP, Arc::clone(&s.reload))
            .map_err(DaemonError::Signals)?;
        Ok(s)
    }
}

/// Runs the daemon until a stop signal. `config_path` is re-read on SIGHUP.
pub fn run(config_path: Option<&Path>, state_override: Option<&Path>, signals: &Signals) -> Result<(), DaemonError> {
    let load = || -> Result<(Config, Layout), DaemonError> {
        let mut cfg = Config::load_or_default(config_path)?;
        if let Some(s) = state_override {
            cfg.state_dir = s.to_path_buf();
        }
        let layout = Layout::parse(&cfg.layout)?;
        Ok((cfg, layout))
    };
    let (mut cfg, mut layout) = load()?;
    let (mut journal, report) = Journal::open(&cfg.state_dir)?;
    if report.completed + report.rolled_back > 0 {
        tracing::warn!(?report, "repaired an interrupted run before watching");
    }
    log_start(&cfg);
    create_missing_inboxes(&cfg);
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    let poll = Duration::from_millis(500).min(Duration::from_secs(cfg.settle_seconds.max(1)));
    while !signals.stop.load(Ordering::Relaxed) {
        if signals.reload.swap(false, Ordering::Relaxed) {
            match load() {
                Ok((c, l)) if c.state_dir == cfg.state_dir => {
                    cfg = c;
                    layout = l;
                    tracing::info!("config reloaded");
                    log_start(&cfg);
                    create_missing_inboxes(&cfg);
                }
                Ok(_) => tracing::error!("config reload: state_dir cannot change while running; restart the daemon"),
                Err(e) => tracing::error!("config reload failed, keeping the old config: {e}"),
            }
        }
        for inbox in &cfg.inbox {
            if signals.stop.load(Ordering::Relaxed) {
                break;
            }
            poll_inbox(&mut journal, &cfg, &layout, inbox, &mut seen);
        }
        sleep_unless_stopped(poll, &signals.stop);
    }
    tracing::info!("stopping: journal closed cleanly");
    Ok(())
}

fn log_start(cfg: &Config) {
    tracing::info!(library = %cfg.library.display(), state = %cfg.state_dir.display(), inboxes = cfg.inbox.len(), "clean-backupd watching");
    for inbox in &cfg.inbox {
        tracing::info!(path = %inbox.path.display(), mode = ?inbox.mode, "inbox");
    }
}

/// At start (and reload) an inbox that does not exist yet is created, so a
/// first run on a fresh machine has somewhere to drop files. One that
/// disappears later is waited for, not re-created.
fn create_missing_inboxes(cfg: &Config) {
    for inbox in &cfg.inbox {
        if !inbox.path.exists() {
            match crate::fsops::create_dirs(&inbox.path) {
                Ok(()) => tracing::info!(path = %inbox.path.display(), "created inbox"),
                Err(e) => tracing::warn!(path = %inbox.path.display(), "cannot create inbox: {e}"),
            }
        }
    }
}

fn sleep_unless_stopped(total: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(50);
    let end = Instant::now() + total;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        std::thread::sleep(step);
    }
}

/// Scans one inbox, updates what has settled, and files the settled batch.
fn poll_inbox(journal: &mut Journal, cfg: &Config, layout: &Layout, inbox: &Inbox, seen: &mut HashMap<PathBuf, Seen>) {
    if !inbox.path.is_dir() {
        // An unmounted disk or a gone share: wait for it, never read it as empty.
        tracing::debug!(path = %inbox.path.display(), "inbox is missing; waiting for it");
        return;
    }
    let settle = Duration::from_secs(cfg.settle_seconds);
    let now = Instant::now();
    let mut batch = Vec::new();
    let mut present = std::collections::HashSet::new();
    for f in scan(&inbox.path) {
        let Found::File(path) = f else { continue };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let (size, mtime) = (meta.len(), meta.modified().ok());
        present.insert(path.clone());
        match seen.get(&path) {
            Some(prev) if prev.size == size && prev.mtime == mtime => {
                if !prev.parked && now.duration_since(prev.since) >= settle {
                    batch.push(Found::File(path));
                }
            }
            // New, or changed since last look: (re)start its settle clock.
            _ => {
                seen.insert(path, Seen { size, mtime, since: now, parked: false });
            }
        }
    }
    seen.retain(|p, _| !p.starts_with(&inbox.path) || present.contains(p));
    if batch.is_empty() {
        return;
    }
    let opts = OrganizeOptions {
        src: inbox.path.clone(),
        dest: cfg.library.clone(),
        mode: inbox.mode,
        dry_run: false,
        layout: layout.clone(),
        session_kind: "ingest",
        dedup: GroupOptions::from_config(cfg),
    };
    let mut on_event = |ev: &Event| {
        if let Event::File(f) = ev {
            match f.outcome {
                Outcome::Moved | Outcome::Copied | Outcome::Trashed => {
                    tracing::info!(from = %f.path.display(), to = %f.dest.as_deref().unwrap_or(Path::new("")).display(), "filed");
                    seen.remove(&f.path);
                }
                Outcome::Error | Outcome::Duplicate | Outcome::NonMedia | Outcome::Skipped => {
                    let reason = f.reason.as_deref().unwrap_or("");
                    if matches!(f.outcome, Outcome::Error | Outcome::Duplicate) {
                        tracing::warn!(path = %f.path.display(), outcome = ?f.outcome, reason, "left in inbox");
                    } else {
                        tracing::info!(path = %f.path.display(), outcome = ?f.outcome, reason, "left in inbox");
                    }
                    // Remembered until it changes, so it is reported once, not every poll.
                    if let Some(s) = seen.get_mut(&f.path) {
                        s.parked = true;
                    }
                }
                Outcome::Planned => {}
            }
        }
    };
    match organize_found(journal, &opts, batch, &mut on_event) {
        Ok(summary) => tracing::info!(?summary, "batch filed"),
        Err(EngineError::DestInsideSource { .. }) => {
            tracing::error!("library is inside inbox {}; fix the config", inbox.path.display())
        }
        Err(e) => tracing::error!("inbox {}: {e}", inbox.path.display()),
    }
}
