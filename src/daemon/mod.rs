//! `clean-backupd`: watches the inboxes and files media once it has settled.
//!
//! The inboxes are watched (`watch`, notify): an event marks a path and asks
//! for a scan. A file whose size and mtime have not changed, and that had no
//! event, for `settle_seconds` is filed into the library through the same
//! journaled engine as `cbctl organize`. Each batch of settled files is one
//! session, so `cbctl undo --last` undoes the last import. Control requests
//! (`src/control`) arrive on a socket and are answered by this loop, which
//! alone owns the journal. SIGTERM/SIGINT stop it between batches; SIGHUP
//! reloads the config.

mod calls;
pub mod cli;
mod jobs;
pub mod logging;
mod notify_systemd;
mod watch;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::config::{self, Config, ConfigError, Inbox};
use crate::control::{self, Call, Counts, Emitter, Server, Signal};
use crate::engine::group::GroupOptions;
use crate::engine::organize::QUARANTINE_DIR;
use crate::engine::scan::{scan, Found};
use crate::engine::{organize_found_with, EngineError, Event, Library, OrganizeOptions, Outcome};
use crate::journal::{Journal, JournalError};
use crate::layout::{Layout, LayoutError};
use crate::store::{FileRow, ParkedRow};

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
    /// The job worker thread could not be started.
    #[error("starting the job worker: {0}")]
    Jobs(std::io::Error),
    /// An inbox and the library contain one another.
    #[error("inbox {inbox} and library {library} overlap: filed files would be found again; keep them apart")]
    Overlap { inbox: PathBuf, library: PathBuf },
    /// The library is marked by a state that is not this one, and this one
    /// knows nothing of it: the journal that filed it was deleted or emptied.
    #[error(
        "library {library} was filed by the journal {old_state} (state id {old_id}), which is gone or was \
         emptied: its history, and every undo, would be lost. {restore}To accept the loss and start a new \
         journal, run `clean-backupd --new-state` once"
    )]
    StateGone { library: PathBuf, old_state: PathBuf, old_id: String, restore: String },
    /// The library marker could not be read or written.
    #[error("library marker: {0}")]
    Marker(#[from] crate::marker::MarkerError),
    /// The control socket could not be opened.
    #[error("control socket {path}: {source}")]
    Control {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What the daemon reports in `status`, kept up to date by the main loop.
struct State {
    started: Instant,
    paused: bool,
    library_available: bool,
    /// Why the library cannot be filed into, while it cannot.
    library_problem: Option<String>,
    missing_inboxes: HashSet<PathBuf>,
    today: Counts,
    today_date: chrono::NaiveDate,
    total: Counts,
    last_error: Option<String>,
    rescan_requested: bool,
    /// The library index as of the last batch, with what the daemon filed
    /// since: a batch need not walk the whole library. Dropped (read again
    /// at the next batch) when anything else may have changed the library:
    /// a job, an undo, a prune, a rescan, a reload, or [`LIBRARY_MAX_AGE`].
    library: Option<Library>,
    /// `Jobs::finished` when `library` was kept.
    library_jobs: u64,
    /// Where FileFiled / DuplicateSkipped go (D-Bus).
    emit: Emitter,
    /// The day of the last journal backup.
    last_backup: Option<chrono::NaiveDate>,
    /// Filing waits until then (a full disk, a journal that cannot be
    /// written), with the wait that follows if it fails again, and why.
    backoff: Option<(Instant, Duration, String)>,
    /// Inbox entries that are never filed (links, FIFOs, devices) already logged.
    skipped_logged: HashSet<PathBuf>,
}

impl State {
    fn new(emit: Emitter) -> State {
        State {
            emit,
            started: Instant::now(),
            paused: false,
            library_available: true,
            library_problem: None,
            missing_inboxes: HashSet::new(),
            today: Counts::default(),
            today_date: chrono::Local::now().date_naive(),
            total: Counts::default(),
            last_error: None,
            rescan_requested: false,
            library: None,
            library_jobs: 0,
            last_backup: None,
            backoff: None,
            skipped_logged: HashSet::new(),
        }
    }

    /// Counts one outcome, today and in total.
    fn count(&mut self, f: impl Fn(&mut Counts)) {
        let date = chrono::Local::now().date_naive();
        if date != self.today_date {
            self.today = Counts::default();
            self.today_date = date;
        }
        f(&mut self.today);
        f(&mut self.total);
    }

    fn error(&mut self, msg: String) {
        tracing::error!("{msg}");
        self.last_error = Some(msg);
    }

    /// Filing failed in a way another try soon would repeat (no space, the
    /// journal unwritable): wait, twice as long each time up to a minute,
    /// and say so once per wait.
    fn back_off(&mut self, why: String) {
        let step = self.backoff.as_ref().map_or(BACKOFF_FIRST, |(_, s, _)| (*s * 2).min(BACKOFF_MAX));
        let msg = format!("{why}; filing paused, next try in {} s", step.as_secs());
        self.error(msg.clone());
        self.backoff = Some((Instant::now() + step, step, msg));
    }

    /// A batch went through: any wait is over.
    fn recovered(&mut self) {
        if let Some((_, _, why)) = self.backoff.take() {
            tracing::info!(was = %why, "filing resumes");
            self.clear_error(Some(why));
        }
    }

    /// A problem is over: it is no longer the last error to show.
    fn clear_error(&mut self, was: Option<String>) {
        if was.is_some() && self.last_error == was {
            self.last_error = None;
        }
    }

    /// Filing is waiting out a back-off.
    fn backing_off(&self) -> bool {
        self.backoff.as_ref().is_some_and(|(until, _, _)| Instant::now() < *until)
    }

    /// Why filing is paused, if it is: the library away, or a back-off.
    fn problem(&self) -> Option<String> {
        self.library_problem.clone().or_else(|| self.backoff.as_ref().map(|(_, _, why)| why.clone()))
    }
}

/// What the daemon remembers of a file it has seen but not filed yet.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Seen {
    size: u64,
    /// mtime in ns since the epoch.
    mtime_ns: i64,
    /// When it last changed.
    since: Instant,
    /// Handled without being filed (error, duplicate): left alone until it changes.
    parked: bool,
    /// Put back by an undo: left alone until it changes, even by a rescan.
    undone: bool,
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

/// `clean-backupd --check-config`: loads and validates the config as the
/// daemon would (keys, values, layout template, library and inboxes apart),
/// and returns the resolved settings as TOML, headed by where they came from.
pub fn check_config(config_path: Option<&Path>, state_override: Option<&Path>) -> Result<String, DaemonError> {
    let (cfg, _) = load_config(config_path, state_override)?;
    for inbox in &cfg.inbox {
        if cfg.library.starts_with(&inbox.path) || inbox.path.starts_with(&cfg.library) {
            return Err(DaemonError::Overlap { inbox: inbox.path.clone(), library: cfg.library.clone() });
        }
    }
    let source =
        cfg.source.as_ref().map_or("built-in defaults (no config file)".to_string(), |p| p.display().to_string());
    let mut warnings = String::new();
    if !crate::fsops::is_dir(&cfg.library) {
        warnings.push_str(&format!(
            "# WARNING: library {} does not exist (a disk not mounted?): the daemon will wait for it and never \
             create it; create it with `mkdir -p {}` if it is new\n",
            cfg.library.display(),
            cfg.library.display()
        ));
    }
    for inbox in cfg.inbox.iter().filter(|i| !crate::fsops::is_dir(&i.path)) {
        warnings.push_str(&format!(
            "# WARNING: inbox {} does not exist: the daemon will wait for it and never create it\n",
            inbox.path.display()
        ));
    }
    Ok(format!("# config OK: {source}\n{warnings}# resolved settings:\n{}", cfg.to_toml()))
}

/// The config as the daemon uses it (the state folder overridden if asked), and its parsed layout.
fn load_config(config_path: Option<&Path>, state_override: Option<&Path>) -> Result<(Config, Layout), DaemonError> {
    let mut cfg = Config::load_or_default(config_path)?;
    if let Some(s) = state_override {
        cfg.state_dir = s.to_path_buf();
    }
    // The roots are resolved once, through the administrator's links; below
    // them nothing is followed (fsops), so the paths acted on are these.
    let canonical = |p: &Path| crate::fsops::canonical_lenient(p).unwrap_or_else(|_| p.to_path_buf());
    cfg.library = canonical(&cfg.library);
    for inbox in &mut cfg.inbox {
        inbox.path = canonical(&inbox.path);
    }
    let layout = cfg.layouts()?;
    Ok((cfg, layout))
}

/// Runs the daemon until a stop signal. `config_path` is re-read on SIGHUP.
/// `new_state` accepts that the journal of record of the library is gone
/// (`clean-backupd --new-state`): this state takes the library over.
pub fn run(
    config_path: Option<&Path>,
    state_override: Option<&Path>,
    new_state: bool,
    signals: &Signals,
) -> Result<(), DaemonError> {
    let load = || load_config(config_path, state_override);
    let (mut cfg, mut layout) = load()?;
    let (mut journal, report) = Journal::open(&cfg.state_dir)?;
    if report.completed + report.rolled_back > 0 {
        tracing::warn!(?report, "repaired an interrupted run before watching");
    }
    // The library's marker must name this state (or none yet): a journal
    // that was deleted or emptied is not silently replaced by a blank one.
    if let crate::marker::Standing::OtherState(m) =
        crate::marker::standing(journal.store(), &cfg.library, &cfg.state_dir, new_state)?
    {
        let restore = match crate::marker::latest_backup(&cfg.library) {
            Some(b) => format!(
                "To restore the newest backup of it, stop here and run `cp {} {}/clean-backup.db` (after \
                 removing clean-backup.db-wal and -shm there), then start again. ",
                b.display(),
                cfg.state_dir.display()
            ),
            None => String::new(),
        };
        return Err(DaemonError::StateGone {
            library: cfg.library.clone(),
            old_state: m.state_dir,
            old_id: m.state_id,
            restore,
        });
    }
    journal.sweep_temp_files();
    let (tx, calls) = mpsc::channel::<Call>();
    let dbus = start_dbus(&cfg, &tx).map(Arc::new);
    let emit: Emitter = match &dbus {
        Some(d) => {
            let d = Arc::clone(d);
            Arc::new(move |s| d.emit(&s))
        }
        None => Arc::new(|_| {}),
    };
    let mut jobs = jobs::Jobs::start(journal.sibling()?, Arc::clone(&emit)).map_err(DaemonError::Jobs)?;
    let socket = control::socket_path(&cfg.state_dir);
    open_state_dir_to_callers(&cfg);
    let _server = Server::start(&socket, socket_mode(&cfg), tx)
        .map_err(|source| DaemonError::Control { path: socket.clone(), source })?;
    log_start(&cfg);
    let mut state = State::new(Arc::clone(&emit));
    let mut seen = load_parked(&mut journal, &cfg);
    let mut watch = watch_inboxes(&cfg);
    let mut events: HashMap<PathBuf, Instant> = HashMap::new();
    // Scan everything at start: files that arrived while the daemon was down.
    let mut last_full_scan: Option<Instant> = None;
    let mut dirty = true;
    let poll = Duration::from_millis(500).min(Duration::from_secs(cfg.settle_seconds.max(1)));
    // Control requests are answered between inboxes and while sleeping.
    macro_rules! answer {
        () => {
            calls::answer_calls(
                &calls,
                &mut calls::Ctx {
                    journal: &mut journal,
                    cfg: &cfg,
                    config_path,
                    seen: &mut seen,
                    state: &mut state,
                    reload: &signals.reload,
                    jobs: &mut jobs,
                },
            )
        };
    }
    notify_systemd::notify(&format!("READY=1\nSTATUS={}", status_line(&cfg, &state)));
    while !signals.stop.load(Ordering::Relaxed) {
        notify_systemd::keepalive(|| status_line(&cfg, &state));
        if signals.reload.swap(false, Ordering::Relaxed) {
            match load() {
                Ok((c, l)) if c.state_dir == cfg.state_dir => {
                    if c.dbus != cfg.dbus {
                        tracing::warn!("control.dbus changed: takes effect at the next restart");
                    }
                    cfg = c;
                    layout = l;
                    state.library = None;
                    tracing::info!("config reloaded");
                    log_start(&cfg);
                    watch = watch_inboxes(&cfg);
                    last_full_scan = None;
                }
                Ok(_) => state.error("config reload: state_dir cannot change while running; restart the daemon".into()),
                Err(e) => state.error(format!("config reload failed, keeping the old config: {e}")),
            }
        }
        absorb(&watch, &mut events, &mut dirty);
        let now = Instant::now();
        dirty |= std::mem::take(&mut state.rescan_requested);
        // Scan when something happened, something is settling, a folder is
        // not watched, the library is away, or as a safety net every SAFETY_SCAN.
        let due = dirty
            || last_full_scan.is_none_or(|t| t.elapsed() >= SAFETY_SCAN)
            || seen.values().any(|s| !s.parked)
            || !watch.unwatched.is_empty()
            // A missing library is looked for on every poll.
            || !state.library_available;
        if !state.paused && due && !state.backing_off() {
            dirty = false;
            last_full_scan = Some(now);
            events.retain(|_, t| now.duration_since(*t) < Duration::from_secs(cfg.settle_seconds + 60));
            check_library(&journal, &cfg, &mut state);
            let jobs_done = jobs.finished();
            if state.library_jobs != jobs_done || state.library.as_ref().is_some_and(|l| l.age() > LIBRARY_MAX_AGE) {
                state.library = None;
                state.library_jobs = jobs_done;
            }
            for inbox in &cfg.inbox {
                if signals.stop.load(Ordering::Relaxed) {
                    break;
                }
                if !state.library_available {
                    // Nothing is filed, but a missing inbox is still said.
                    inbox_present(inbox, &mut state);
                    continue;
                }
                poll_inbox(&mut journal, &cfg, &layout, inbox, &mut seen, &events, &mut state);
                answer!();
            }
        }
        // Sleep until the next poll, or until the first settling file is due.
        let settle = Duration::from_secs(cfg.settle_seconds);
        let next_due = seen
            .iter()
            .filter(|(_, s)| !s.parked)
            .map(|(p, s)| events.get(p).map_or(s.since, |&e| e.max(s.since)) + settle)
            .min();
        let now = Instant::now();
        let mut end = next_due.map_or(now + poll, |d| d.min(now + poll));
        if state.backing_off() || state.paused || !state.library_available {
            // Files waiting to be filed are not due while filing waits: never spin on them.
            end = now + poll;
        }
        // And at least one short sleep a turn, whatever is due.
        end = end.max(now + Duration::from_millis(20));
        while Instant::now() < end && !signals.stop.load(Ordering::Relaxed) {
            answer!();
            // Events are timestamped as they come, so settle clocks start at the real last write.
            absorb(&watch, &mut events, &mut dirty);
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    notify_systemd::notify("STOPPING=1");
    tracing::info!("stopping: journal closed cleanly");
    Ok(())
}

/// The control socket's mode: 0600 (the daemon's user; root passes any
/// mode), 0660 when `control.allow_groups` names groups (with the state
/// folder's group), 0666 when `control.allow_users` names users. Who may do
/// what is decided per call from the peer's credentials, not by the mode.
fn socket_mode(cfg: &Config) -> u32 {
    if !cfg.allow_users.is_empty() {
        0o666
    } else if !cfg.allow_groups.is_empty() {
        0o660
    } else {
        0o600
    }
}

/// Lets the users of `control.allow_users` reach the socket: the state
/// folder gets search (not read) permission for others. Its files stay 0600.
fn open_state_dir_to_callers(cfg: &Config) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if !cfg.allow_users.is_empty() {
        0o711
    } else if !cfg.allow_groups.is_empty() {
        0o710
    } else {
        return;
    };
    if let Err(e) = std::fs::set_permissions(&cfg.state_dir, std::fs::Permissions::from_mode(mode)) {
        tracing::warn!(state = %cfg.state_dir.display(), "cannot let allowed users reach the socket: {e}");
    }
}

/// Serves the control methods on D-Bus as `control.dbus` says. A bus that
/// is not there (no session bus under a system service, a headless box)
/// is logged, not fatal: the socket still works.
fn start_dbus(cfg: &Config, calls: &mpsc::Sender<Call>) -> Option<control::dbus::DbusServer> {
    let bus = match cfg.dbus {
        config::DbusMode::Off => return None,
        config::DbusMode::Session => control::dbus::Bus::Session,
        config::DbusMode::System => control::dbus::Bus::System,
    };
    match control::dbus::DbusServer::start(bus, calls.clone()) {
        Ok(server) => {
            tracing::info!(name = control::dbus::BUS_NAME, ?bus, "serving on D-Bus");
            Some(server)
        }
        Err(e) => {
            tracing::warn!(
                "not on D-Bus: {e}; `cbctl` still works over the socket (set control.dbus = \"off\" to silence this)"
            );
            None
        }
    }
}

/// One line for systemd's STATUS= (what `systemctl status` shows).
fn status_line(cfg: &Config, state: &State) -> String {
    if let Some(p) = state.problem() {
        return format!("waiting: {p}");
    }
    let what = if state.paused { "paused" } else { "watching" };
    format!(
        "{what} {} inbox(es); {} filed, {} skipped, {} failed since start",
        cfg.inbox.len(),
        state.total.filed,
        state.total.skipped,
        state.total.failed
    )
}

/// Takes the watcher's news: each path's last event time, and whether a scan is needed.
fn absorb(watch: &watch::Watch, events: &mut HashMap<PathBuf, Instant>, dirty: &mut bool) {
    let activity = watch.drain();
    let now = Instant::now();
    *dirty |= activity.rescan || !activity.paths.is_empty();
    for p in activity.paths {
        events.insert(p, now);
    }
}

/// The first wait after a failure that would repeat (no space left).
const BACKOFF_FIRST: Duration = Duration::from_secs(5);
/// The longest wait: space that comes back is noticed within a minute.
const BACKOFF_MAX: Duration = Duration::from_secs(60);

/// How often the inboxes are scanned when the watcher reports nothing: a
/// safety net against events lost without an overflow notice.
const SAFETY_SCAN: Duration = Duration::from_secs(30);

/// How long the daemon files against the library index it keeps before it
/// reads the library again, to notice files put there by hand (it notices
/// its own, and jobs', at once). A match with a file deleted or changed
/// since it was indexed is never used (`Library::find` checks each).
const LIBRARY_MAX_AGE: Duration = Duration::from_secs(600);

fn watch_inboxes(cfg: &Config) -> watch::Watch {
    // A missing inbox cannot be watched: it lands in `unwatched` and is looked at every poll.
    let dirs: Vec<&Path> = cfg.inbox.iter().map(|i| i.path.as_path()).collect();
    watch::Watch::new(&dirs)
}

/// The library must be there to file into, and be the library this state
/// filed into: a folder that is missing, or there without its marker (the
/// empty mount point of a disk that is not mounted), pauses filing until it
/// is back. Nothing is created. Once a day, while it is there, a copy of
/// the journal is kept beside the marker.
fn check_library(journal: &Journal, cfg: &Config, state: &mut State) {
    use crate::marker::Standing;
    let problem = match crate::marker::standing(journal.store(), &cfg.library, &cfg.state_dir, false) {
        Ok(Standing::Ready) => None,
        Ok(Standing::Away(why)) => Some(why),
        Ok(Standing::OtherState(m)) => Some(format!(
            "library {} is marked by another journal ({}, state id {}); filing is paused. Is the right disk \
             mounted? If this state should take it over, run `cbctl rescan`",
            cfg.library.display(),
            m.state_dir.display(),
            m.state_id
        )),
        Err(e) => Some(format!("library {}: {e}; filing is paused", cfg.library.display())),
    };
    if problem != state.library_problem {
        match &problem {
            None => {
                tracing::info!(library = %cfg.library.display(), "library is there; filing resumes");
                state.clear_error(state.library_problem.clone());
            }
            Some(p) => state.error(p.clone()),
        }
        state.library_available = problem.is_none();
        state.library_problem = problem;
    }
    let today = chrono::Utc::now().date_naive();
    if state.library_available && state.last_backup != Some(today) {
        state.last_backup = Some(today);
        match crate::marker::backup_journal(journal.store(), &cfg.library) {
            Ok(Some(p)) => tracing::info!(path = %p.display(), "journal backed up"),
            Ok(None) => {}
            Err(e) => tracing::warn!("journal backup not written: {e}"),
        }
    }
}

fn log_start(cfg: &Config) {
    tracing::info!(library = %cfg.library.display(), state = %cfg.state_dir.display(), inboxes = cfg.inbox.len(), "clean-backupd watching");
    for inbox in &cfg.inbox {
        tracing::info!(path = %inbox.path.display(), mode = ?inbox.mode, "inbox");
    }
}

/// Whether an inbox folder is there; a missing one (an unmounted disk, a
/// gone share) is said once and waited for, never read as empty.
fn inbox_present(inbox: &Inbox, state: &mut State) -> bool {
    if !inbox.path.is_dir() {
        if state.missing_inboxes.insert(inbox.path.clone()) {
            state.error(format!(
                "inbox {} is missing (a disk not mounted?); waiting for it. clean-backup never creates it: if it \
                 is new, create it with `mkdir -p {}`",
                inbox.path.display(),
                inbox.path.display()
            ));
        }
        return false;
    }
    if state.missing_inboxes.remove(&inbox.path) {
        tracing::info!(path = %inbox.path.display(), "inbox is back");
        let gone = format!("inbox {} is missing", inbox.path.display());
        if state.last_error.as_deref().is_some_and(|e| e.starts_with(&gone)) {
            state.last_error = None;
        }
    }
    true
}

/// Scans one inbox, updates what has settled, and files the settled batch.
fn poll_inbox(
    journal: &mut Journal,
    cfg: &Config,
    layout: &Layout,
    inbox: &Inbox,
    seen: &mut HashMap<PathBuf, Seen>,
    events: &HashMap<PathBuf, Instant>,
    state: &mut State,
) {
    let emit = Arc::clone(&state.emit);
    if !inbox_present(inbox, state) {
        return;
    }
    let settle = Duration::from_secs(cfg.settle_seconds);
    let now = Instant::now();
    let mut batch = Vec::new();
    let mut present = std::collections::HashSet::new();
    let found = scan(&inbox.path);
    let skipped: HashSet<&Path> = found
        .iter()
        .filter_map(|f| match f {
            Found::Skipped(p, why) if !why.contains("hidden") && !why.contains("temp") => Some((p, *why)),
            _ => None,
        })
        .map(|(p, why)| {
            if !state.skipped_logged.contains(p) {
                tracing::info!(path = %p.display(), "left alone: {why}");
                state.skipped_logged.insert(p.clone());
            }
            p.as_path()
        })
        .collect();
    state.skipped_logged.retain(|p| !p.starts_with(&inbox.path) || skipped.contains(p.as_path()));
    for f in found {
        let Found::File(path) = f else { continue };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let (size, mtime_ns, _) = FileRow::stat_key(&meta);
        present.insert(path.clone());
        match seen.get(&path) {
            Some(prev) if prev.size == size && prev.mtime_ns == mtime_ns => {
                // Quiet since its last change on disk and its last event (a close, a rename).
                let quiet = events.get(&path).map_or(prev.since, |&e| e.max(prev.since));
                if !prev.parked && now.duration_since(quiet) >= settle {
                    tracing::debug!(path = %path.display(), quiet_for = ?now.duration_since(quiet), "settled");
                    batch.push(Found::File(path));
                }
            }
            // New, or changed since last look: (re)start its settle clock, from
            // the watcher's last event for it (its last write or close) when there is one.
            prev => {
                if prev.is_some_and(|p| p.parked) {
                    forget_parked(journal, &[&path]);
                }
                let since = events.get(&path).copied().filter(|&e| e <= now).unwrap_or(now);
                seen.insert(path, Seen { size, mtime_ns, since, parked: false, undone: false });
            }
        }
    }
    let gone: Vec<PathBuf> = seen
        .iter()
        .filter(|(p, s)| s.parked && p.starts_with(&inbox.path) && !present.contains(*p))
        .map(|(p, _)| p.clone())
        .collect();
    forget_parked(journal, &gone.iter().map(PathBuf::as_path).collect::<Vec<_>>());
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
        // A copy-mode inbox is never changed, so its duplicates stay where they are.
        quarantine: (cfg.on_duplicate == config::OnDuplicate::Quarantine && inbox.mode == config::Mode::Move)
            .then(|| cfg.library.join(QUARANTINE_DIR)),
        // Photos (JPEG, PNG) only: a video's ffmpeg run would hold up filing for minutes.
        compress: cfg
            .compress_enabled
            .then(|| crate::media::compress::Level::new(cfg.compress_level).unwrap_or_default()),
        access: None,
    };
    let mut library = state.library.take();
    // Announced once the batch's session is known.
    let mut filed: Vec<(String, String)> = Vec::new();
    // Files handled but left in the inbox: remembered (across restarts) until they change.
    let mut parked: Vec<(PathBuf, &'static str, Option<String>)> = Vec::new();
    // A file that did not fit: the whole batch waits for space.
    let mut out_of_space: Option<String> = None;
    let mut on_event = |ev: &Event| {
        // Progress is life: a first index of a big library must not trip the watchdog.
        notify_systemd::keepalive(|| match ev {
            Event::Indexing { done, total } => format!("indexing the library: {done}/{total} files"),
            _ => "filing".to_string(),
        });
        let Event::File(f) = ev else { return };
        let reason = f.reason.as_deref().unwrap_or("");
        let duplicate_of = || f.duplicate_of.as_deref().unwrap_or(Path::new("")).to_string_lossy().into_owned();
        match f.outcome {
            Outcome::Moved | Outcome::Copied | Outcome::Trashed => {
                let to = f.dest.as_deref().unwrap_or(Path::new(""));
                tracing::info!(from = %f.path.display(), to = %to.display(), "filed");
                filed.push((f.path.to_string_lossy().into_owned(), to.to_string_lossy().into_owned()));
                state.count(|c| c.filed += 1);
                if f.outcome == Outcome::Copied {
                    // A copy-mode inbox keeps its files: done with, not to be looked at again.
                    parked.push((f.path.clone(), "copied", None));
                } else {
                    seen.remove(&f.path);
                }
            }
            Outcome::Quarantined => {
                let to = f.dest.as_deref().unwrap_or(Path::new(""));
                tracing::warn!(path = %f.path.display(), to = %to.display(), reason, "duplicate quarantined");
                seen.remove(&f.path);
                state.count(|c| c.skipped += 1);
                emit(Signal::DuplicateSkipped {
                    path: f.path.to_string_lossy().into_owned(),
                    duplicate_of: duplicate_of(),
                    reason: reason.to_string(),
                });
            }
            Outcome::Duplicate => {
                tracing::warn!(path = %f.path.display(), reason, "duplicate left in inbox");
                state.count(|c| c.skipped += 1);
                emit(Signal::DuplicateSkipped {
                    path: f.path.to_string_lossy().into_owned(),
                    duplicate_of: duplicate_of(),
                    reason: reason.to_string(),
                });
                parked.push((f.path.clone(), "duplicate", f.reason.clone()));
            }
            Outcome::Error if f.no_space => {
                // Not the file's fault: tried again once there is room, not parked.
                tracing::warn!(path = %f.path.display(), reason, "not filed: no space left");
                out_of_space = Some(reason.to_string());
            }
            Outcome::Error => {
                tracing::warn!(path = %f.path.display(), reason, "failed; left in inbox until it changes");
                state.count(|c| c.failed += 1);
                let name = f.path.to_string_lossy();
                state.last_error =
                    Some(if reason.contains(&*name) { reason.to_string() } else { format!("{name}: {reason}") });
                parked.push((f.path.clone(), "error", f.reason.clone()));
            }
            Outcome::NonMedia | Outcome::Skipped => {
                tracing::info!(path = %f.path.display(), outcome = ?f.outcome, reason, "left in inbox");
                parked.push((f.path.clone(), "ignored", f.reason.clone()));
            }
            Outcome::Planned => {}
        }
    };
    let result = organize_found_with(journal, &opts, batch, &mut library, &mut on_event);
    state.library = library;
    let now = Instant::now();
    for (path, outcome, reason) in parked {
        let Some(&Seen { size, mtime_ns, .. }) = seen.get(&path) else { continue };
        park(journal, seen, ParkedRow { path, size, mtime_ns, outcome: outcome.into(), reason }, now);
    }
    match result {
        Ok(summary) => {
            tracing::info!(?summary, "batch filed");
            for (from, to) in filed {
                emit(Signal::FileFiled { from, to, session: summary.session.unwrap_or(0) });
            }
            match out_of_space {
                Some(why) => state.back_off(format!("no space left in the library {} ({why})", cfg.library.display())),
                None => state.recovered(),
            }
        }
        Err(EngineError::DestInsideSource { .. }) => {
            state.error(format!("library is inside inbox {}; fix the config", inbox.path.display()))
        }
        // The journal (or the index) could not be written: a full state
        // disk, a read-only one. Another try at once would fail the same way.
        Err(e) => state.back_off(format!("inbox {}: {e}", inbox.path.display())),
    }
}

/// Marks a file handled-but-left-alone, in memory and in the store, so it
/// is not retried (or reported again) until it changes, even after a restart.
fn park(journal: &mut Journal, seen: &mut HashMap<PathBuf, Seen>, row: ParkedRow, now: Instant) {
    if let Err(e) = journal.store().park(&row) {
        tracing::warn!(path = %row.path.display(), "cannot remember a left-alone file across restarts: {e}");
    }
    let undone = row.outcome == "undone";
    let entry = seen.entry(row.path).or_insert(Seen {
        size: row.size,
        mtime_ns: row.mtime_ns,
        since: now,
        parked: true,
        undone,
    });
    (entry.size, entry.mtime_ns, entry.parked, entry.undone) = (row.size, row.mtime_ns, true, undone);
}

/// Forgets parked files that changed or left their inbox.
fn forget_parked(journal: &mut Journal, paths: &[&Path]) {
    if let Err(e) = journal.store_mut().unpark(paths) {
        tracing::warn!("cannot forget left-alone files: {e}");
    }
}

/// The files left alone before the last stop, still parked as they were:
/// a duplicate skipped yesterday is not reported again today unless it
/// changed. Rows outside every inbox (one removed from the config) are dropped.
fn load_parked(journal: &mut Journal, cfg: &Config) -> HashMap<PathBuf, Seen> {
    let rows = journal.store().parked().unwrap_or_else(|e| {
        tracing::warn!("cannot read the files left alone before: {e}; they will be looked at again");
        Vec::new()
    });
    let now = Instant::now();
    let (mine, stale): (Vec<ParkedRow>, Vec<ParkedRow>) =
        rows.into_iter().partition(|r| cfg.inbox.iter().any(|i| r.path.starts_with(&i.path)));
    forget_parked(journal, &stale.iter().map(|r| r.path.as_path()).collect::<Vec<_>>());
    if !mine.is_empty() {
        tracing::info!(
            files = mine.len(),
            "files left alone before stay alone until they change (`cbctl rescan` retries them)"
        );
    }
    mine.into_iter()
        .map(|r| {
            let undone = r.outcome == "undone";
            (r.path, Seen { size: r.size, mtime_ns: r.mtime_ns, since: now, parked: true, undone })
        })
        .collect()
}
