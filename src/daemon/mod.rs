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
//!
//! This file is the run loop. `settle` decides, without touching the disk
//! or the clock, which files have settled; `ingest` scans an inbox and files
//! the settled batch; `state` holds what `status` reports; `calls` answers
//! control requests; `jobs` runs cbctl's jobs on a worker thread.

mod calls;
pub mod cli;
mod ingest;
mod jobs;
mod library;
pub mod logging;
mod notify_systemd;
mod settle;
mod state;
mod watch;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use crate::config::{self, Config, ConfigError};
use crate::control::{self, Call, Emitter, Server};
use crate::journal::{Journal, JournalError};
use crate::layout::{Layout, LayoutError};
// Reached by `calls` as `super::...`.
use ingest::park;
use settle::{Seen, Settle};
use state::State;

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
    Overlap {
        /// The inbox folder (resolved).
        inbox: PathBuf,
        /// The library folder (resolved).
        library: PathBuf,
    },
    /// The library is marked by a state that is not this one, and this one
    /// knows nothing of it: the journal that filed it was deleted or emptied.
    #[error(
        "library {library} was filed by the journal {old_state} (state id {old_id}), which is gone or was \
         emptied: its history, and every undo, would be lost. {restore}To accept the loss and start a new \
         journal, run `clean-backupd --new-state` once"
    )]
    StateGone {
        /// The library folder.
        library: PathBuf,
        /// The state folder the marker names, where that journal lived.
        old_state: PathBuf,
        /// The state id the marker names.
        old_id: String,
        /// The sentence telling how to restore the newest journal backup
        /// (ending in a space), or empty when there is none.
        restore: String,
    },
    /// The library marker could not be read or written.
    #[error("library marker: {0}")]
    Marker(#[from] crate::marker::MarkerError),
    /// The control socket could not be opened.
    #[error("control socket {path}: {source}")]
    Control {
        /// The socket's path in the state folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
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
    crate::fsops::set_read_back_copies(cfg.read_back_copies);
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
    // Absolute, so that a `config set` sent later, a reload and the
    // advertisement all name the same file whatever the daemon's cwd.
    let config_path = config_path.map(|p| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf()));
    let config_path = config_path.as_deref();
    let load = || load_config(config_path, state_override);
    let (mut cfg, mut layout) = load()?;
    let (mut journal, report) = Journal::open(&cfg.state_dir)?;
    log_recovery(&report);
    refuse_if_state_gone(&journal, &cfg, new_state)?;
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
    let _advert = advertise(&socket, &cfg);
    log_start(&cfg);
    let mut state = State::new(Arc::clone(&emit));
    let mut settle = Settle::new(Duration::from_secs(cfg.settle_seconds));
    ingest::load_parked(&mut journal, &cfg, &mut settle);
    let mut watch = watch_inboxes(&cfg);
    // Scan everything at start: files that arrived while the daemon was down.
    let mut last_full_scan: Option<Instant> = None;
    let mut dirty = true;
    let poll = Duration::from_millis(500).min(Duration::from_secs(cfg.settle_seconds.max(1)));
    // Control requests are answered between inboxes and while sleeping.
    macro_rules! answer {
        ($wait:expr) => {
            calls::answer_calls(
                &calls,
                $wait,
                &mut calls::Ctx {
                    journal: &mut journal,
                    cfg: &cfg,
                    config_path,
                    seen: &mut settle.files,
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
                    settle.set_settle(Duration::from_secs(cfg.settle_seconds));
                    state.kept.forget();
                    tracing::info!("config reloaded");
                    log_start(&cfg);
                    watch = watch_inboxes(&cfg);
                    last_full_scan = None;
                }
                Ok(_) => state.error("config reload: state_dir cannot change while running; restart the daemon".into()),
                Err(e) => state.error(format!("config reload failed, keeping the old config: {e}")),
            }
        }
        absorb(&watch, &mut settle, &mut dirty);
        if state.library_available {
            // Takes a finished check's library, starts one when due; never waits for one.
            dirty |= state.kept.tick(&cfg, journal.store());
        }
        let now = Instant::now();
        dirty |= std::mem::take(&mut state.rescan_requested);
        // Scan when something happened, something is settling, a folder is
        // not watched, the library is away, or as a safety net every SAFETY_SCAN.
        let due = dirty
            || last_full_scan.is_none_or(|t| t.elapsed() >= SAFETY_SCAN)
            || settle.queue() > 0
            || !watch.unwatched.is_empty()
            // A missing library is looked for on every poll, a library being read until it is.
            || !state.library_available
            || !state.kept.ready(&cfg);
        if !state.paused && due && !state.backing_off() {
            dirty = false;
            last_full_scan = Some(now);
            settle.expire_events(now);
            check_library(&journal, &cfg, &mut state);
            let jobs_done = jobs.finished();
            if state.library_jobs != jobs_done {
                state.kept.want_check();
                state.library_jobs = jobs_done;
            }
            for inbox in &cfg.inbox {
                if signals.stop.load(Ordering::Relaxed) {
                    break;
                }
                if !state.library_available || !state.kept.ready(&cfg) {
                    // Nothing is filed (the library is away, or still being
                    // read), but a missing inbox is still said.
                    ingest::inbox_present(inbox, &mut state);
                    continue;
                }
                ingest::poll_inbox(&mut journal, &cfg, &layout, inbox, &mut settle, &mut state);
                answer!(Duration::ZERO);
            }
        }
        // Sleep until the next poll, or until the first settling file is due.
        let next_due = settle.next_due();
        let now = Instant::now();
        let mut end = next_due.map_or(now + poll, |d| d.min(now + poll));
        if state.backing_off() || state.paused || !state.library_available {
            // Files waiting to be filed are not due while filing waits: never spin on them.
            end = now + poll;
        }
        // And at least one short sleep a turn, whatever is due.
        end = end.max(now + Duration::from_millis(20));
        while Instant::now() < end && !signals.stop.load(Ordering::Relaxed) {
            // Waits for a request at most 20 ms: one is answered as it comes, not at the next tick.
            answer!(Duration::from_millis(20));
            // Events are timestamped as they come, so settle clocks start at the real last write.
            absorb(&watch, &mut settle, &mut dirty);
        }
    }
    notify_systemd::notify("STOPPING=1");
    tracing::info!("stopping: journal closed cleanly");
    Ok(())
}

/// The library's marker must name this state (or none yet): a journal that
/// was deleted or emptied is not silently replaced by a blank one.
fn refuse_if_state_gone(journal: &Journal, cfg: &Config, new_state: bool) -> Result<(), DaemonError> {
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
    Ok(())
}

/// Says where the socket is in the runtime folder, so cbctl finds this
/// daemon with no flags; removed again when dropped.
fn advertise(socket: &Path, cfg: &Config) -> Option<control::discovery::Advertised> {
    match control::discovery::advertise(socket, &cfg.state_dir, cfg.source.as_deref()) {
        Ok(a) => {
            tracing::info!(advert = %a.path().display(), "cbctl finds this daemon with no flags");
            Some(a)
        }
        Err(e) => {
            let config = cfg.source.as_deref().map_or("FILE".into(), |p| p.display().to_string());
            tracing::info!("not advertised ({e}): cbctl needs --config {config}");
            None
        }
    }
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

/// Serves the control methods on D-Bus as `control.dbus` says. No session
/// bus at all (a headless box, a system service, a first run over ssh) is
/// normal: said once at info level, and cbctl uses the socket. A bus that
/// is there but refuses us is a warning, not fatal: the socket still works.
fn start_dbus(cfg: &Config, calls: &mpsc::Sender<Call>) -> Option<control::dbus::DbusServer> {
    let (bus, name) = match cfg.dbus {
        config::DbusMode::Off => return None,
        config::DbusMode::Session => (control::dbus::Bus::Session, "session"),
        config::DbusMode::System => (control::dbus::Bus::System, "system"),
    };
    if bus == control::dbus::Bus::Session
        && !session_bus_present(|k| std::env::var_os(k), rustix::process::geteuid().as_raw())
    {
        tracing::info!("no D-Bus session bus: serving cbctl on the socket only");
        return None;
    }
    match control::dbus::DbusServer::start(bus, calls.clone()) {
        Ok(server) => {
            tracing::info!("serving cbctl on the D-Bus {name} bus too, as {}", control::dbus::BUS_NAME);
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

/// Whether a session bus may be there to connect to: its address is set
/// (`DBUS_SESSION_BUS_ADDRESS`), or its usual socket exists
/// (`$XDG_RUNTIME_DIR/bus`, else `/run/user/UID/bus`), as zbus looks for it.
fn session_bus_present(env: impl Fn(&str) -> Option<std::ffi::OsString>, uid: u32) -> bool {
    if env("DBUS_SESSION_BUS_ADDRESS").is_some_and(|a| !a.is_empty()) {
        return true;
    }
    let runtime = env("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from(format!("/run/user/{uid}")), PathBuf::from);
    std::fs::symlink_metadata(runtime.join("bus")).is_ok()
}

/// One line for systemd's STATUS= (what `systemctl status` shows).
fn status_line(cfg: &Config, state: &State) -> String {
    if let Some(p) = state.problem() {
        return format!("waiting: {p}");
    }
    if let (Some((done, total, took)), false) = (state.kept.progress(), state.kept.ready(cfg)) {
        let eta = crate::control::LibraryCheck::new(done, total, took, true).eta_seconds;
        let left = eta.map(|s| format!(", about {} min left", s.div_ceil(60))).unwrap_or_default();
        return format!("indexing the library: {done}/{total} files{left}");
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
fn absorb(watch: &watch::Watch, settle: &mut Settle, dirty: &mut bool) {
    let activity = watch.drain();
    let now = Instant::now();
    *dirty |= activity.rescan || !activity.paths.is_empty();
    for p in activity.paths {
        settle.event(p, now);
    }
}

/// How often the inboxes are scanned when the watcher reports nothing: a
/// safety net against events lost without an overflow notice.
const SAFETY_SCAN: Duration = Duration::from_secs(30);

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
        let mode = match inbox.mode {
            config::Mode::Move => "its files are moved into the library",
            config::Mode::Copy => "copy mode: its files are copied and stay there",
        };
        tracing::info!("inbox {} ({mode})", inbox.path.display());
    }
}

/// Says what start-up recovery repaired after a crash, in words.
fn log_recovery(report: &crate::journal::RecoveryReport) {
    if report.completed + report.rolled_back > 0 {
        tracing::warn!(
            "repaired an interrupted run before watching: {} operation(s) had happened and were recorded, {} had \
             not and were rolled back (those files are where they were), in {} interrupted session(s)",
            report.completed,
            report.rolled_back,
            report.interrupted_sessions
        );
    }
    for problem in &report.problems {
        tracing::warn!("needs a look after the interrupted run: {problem}");
    }
}
