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
use crate::control::{self, Call, Counts, Emitter, InboxStatus, Response, Server, Signal, Status};
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
    Ok(format!("# config OK: {source}\n# resolved settings:\n{}", cfg.to_toml()))
}

/// The config as the daemon uses it (the state folder overridden if asked), and its parsed layout.
fn load_config(config_path: Option<&Path>, state_override: Option<&Path>) -> Result<(Config, Layout), DaemonError> {
    let mut cfg = Config::load_or_default(config_path)?;
    if let Some(s) = state_override {
        cfg.state_dir = s.to_path_buf();
    }
    let layout = Layout::parse(&cfg.layout)?;
    Ok((cfg, layout))
}

/// Runs the daemon until a stop signal. `config_path` is re-read on SIGHUP.
pub fn run(config_path: Option<&Path>, state_override: Option<&Path>, signals: &Signals) -> Result<(), DaemonError> {
    let load = || load_config(config_path, state_override);
    let (mut cfg, mut layout) = load()?;
    let (mut journal, report) = Journal::open(&cfg.state_dir)?;
    if report.completed + report.rolled_back > 0 {
        tracing::warn!(?report, "repaired an interrupted run before watching");
    }
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
    let _server = Server::start(&socket, tx).map_err(|source| DaemonError::Control { path: socket.clone(), source })?;
    log_start(&cfg);
    create_missing_dirs(&cfg);
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
            answer_calls(
                &calls,
                &mut Ctx {
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
                    create_missing_dirs(&cfg);
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
        if !state.paused && due {
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
                if signals.stop.load(Ordering::Relaxed) || !state.library_available {
                    break;
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
        let end = next_due.map_or(Instant::now() + poll, |d| d.min(Instant::now() + poll));
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

/// The library must be there to file into. A missing one (an unmounted
/// disk) pauses filing rather than re-creating it on the mount point; so
/// does an empty one that the index says holds files: the mount point of a
/// disk that is not mounted, never "everything was deleted".
fn check_library(journal: &Journal, cfg: &Config, state: &mut State) {
    let problem = library_problem(journal, &cfg.library);
    if problem != state.library_problem {
        match &problem {
            None => tracing::info!(library = %cfg.library.display(), "library is back; filing resumes"),
            Some(p) => state.error(p.clone()),
        }
        state.library_available = problem.is_none();
        state.library_problem = problem;
    }
}

/// Why the library cannot be filed into right now, if it cannot.
fn library_problem(journal: &Journal, library: &Path) -> Option<String> {
    let Ok(mut entries) = std::fs::read_dir(library) else {
        return Some(format!("library {} is missing (unmounted?); filing paused until it is back", library.display()));
    };
    if entries.next().is_some() {
        return None;
    }
    match journal.store().has_files_under(library) {
        Ok(false) => None,
        Ok(true) => Some(format!(
            "library {} is empty but the index knows files there: is its disk mounted? Filing paused until they \
             are back; if you emptied it on purpose, run `cbctl rescan`",
            library.display()
        )),
        Err(e) => Some(format!("library {}: cannot read the index: {e}", library.display())),
    }
}

/// What a control request may read and change: the main loop's own state,
/// lent for the time of one answer.
struct Ctx<'a> {
    journal: &'a mut Journal,
    cfg: &'a Config,
    config_path: Option<&'a Path>,
    seen: &'a mut HashMap<PathBuf, Seen>,
    state: &'a mut State,
    reload: &'a AtomicBool,
    jobs: &'a mut jobs::Jobs,
}

/// Answers every control request waiting, without blocking. Jobs go to
/// the job worker, which answers them itself.
fn answer_calls(calls: &mpsc::Receiver<Call>, ctx: &mut Ctx<'_>) {
    while let Ok(call) = calls.try_recv() {
        if call.request.method == "job.submit" {
            ctx.jobs.submit(call);
            continue;
        }
        let id = call.request.id;
        let response = match handle(&call.request, ctx) {
            Ok(v) => Response::ok(id, v),
            Err(e) => Response::err(id, e),
        };
        call.respond(response);
    }
}

fn handle(req: &control::Request, ctx: &mut Ctx<'_>) -> Result<serde_json::Value, String> {
    let (journal, cfg, config_path, seen, state, reload) =
        (&mut *ctx.journal, ctx.cfg, ctx.config_path, &mut *ctx.seen, &mut *ctx.state, ctx.reload);
    let p = &req.params;
    fn to_json(v: impl serde::Serialize) -> Result<serde_json::Value, String> {
        serde_json::to_value(v).map_err(|e| e.to_string())
    }
    match req.method.as_str() {
        "status" => {
            let (job, jobs_queued) = ctx.jobs.status();
            let status = Status {
                job,
                jobs_queued,
                version: control::VERSION,
                pid: std::process::id(),
                uptime_seconds: state.started.elapsed().as_secs(),
                paused: state.paused,
                library: cfg.library.to_string_lossy().into_owned(),
                library_available: state.library_available,
                inboxes: cfg
                    .inbox
                    .iter()
                    .map(|i| InboxStatus {
                        path: i.path.to_string_lossy().into_owned(),
                        mode: if i.mode == config::Mode::Copy { "copy" } else { "move" }.to_string(),
                        available: !state.missing_inboxes.contains(&i.path),
                    })
                    .collect(),
                queue: seen.values().filter(|s| !s.parked).count() as u64,
                today: state.today.clone(),
                total: state.total.clone(),
                index_files: journal.store().file_count().unwrap_or(0),
                last_error: state.last_error.clone(),
            };
            to_json(&status)
        }
        "pause" => {
            state.paused = true;
            tracing::info!("paused by request");
            Ok(serde_json::json!({}))
        }
        "resume" => {
            state.paused = false;
            tracing::info!("resumed by request");
            Ok(serde_json::json!({}))
        }
        "rescan" => {
            // Files left alone (errors, duplicates) get another look, and every inbox is scanned.
            seen.values_mut().for_each(|s| s.parked = false);
            journal.store().unpark_all().map_err(|e| e.to_string())?;
            state.rescan_requested = true;
            state.library = None;
            // And the library index catches up with files added, moved or deleted behind our back.
            if cfg.library.is_dir() {
                let (_, report) = crate::engine::index::refresh(
                    journal.store_mut(),
                    &cfg.library,
                    cfg.dedup_perceptual,
                    &|_, _| {},
                    &mut |p, e| tracing::warn!(path = %p.display(), "library file not indexed: {e}"),
                )
                .map_err(|e| e.to_string())?;
                return to_json(&report);
            }
            Ok(serde_json::json!({}))
        }
        "history" => {
            let limit = p.get("limit").and_then(serde_json::Value::as_i64).unwrap_or(20);
            to_json(&journal.history(limit).map_err(|e| e.to_string())?)
        }
        "prune" => {
            state.library = None;
            let Some(before) = p.get("before").and_then(serde_json::Value::as_str) else {
                return Err("prune needs {\"before\": RFC 3339 time}".into());
            };
            let mut files = Vec::new();
            let report = journal
                .prune(before, |path, problem| {
                    files.push(serde_json::json!({"path": path.to_string_lossy(), "error": problem}));
                })
                .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "report": report, "files": files }))
        }
        "why" => {
            let Some(path) = p.get("path").and_then(serde_json::Value::as_str) else {
                return Err("why needs {\"path\": ...}".into());
            };
            to_json(&crate::engine::why::why(journal.store(), Path::new(path)).map_err(|e| e.to_string())?)
        }
        "undo" => {
            state.library = None;
            let session = match p.get("session").and_then(serde_json::Value::as_i64) {
                Some(s) => s,
                None => journal.last_undoable().map_err(|e| e.to_string())?,
            };
            let mut files = Vec::new();
            let report = journal
                .undo(session, |ev| {
                    files.push(serde_json::json!({
                        "from": ev.from.to_string_lossy(),
                        "to": ev.to.to_string_lossy(),
                        "conflict": ev.conflict,
                    }))
                })
                .map_err(|e| e.to_string())?;
            // Files put back into an inbox stay there: parked, as if handled,
            // until they change or `cbctl rescan` asks for another look.
            let now = Instant::now();
            for f in &files {
                let Some(to) = f["to"].as_str().map(PathBuf::from) else { continue };
                if let (true, Ok(meta)) = (cfg.inbox.iter().any(|i| to.starts_with(&i.path)), std::fs::metadata(&to)) {
                    let (size, mtime_ns, _) = FileRow::stat_key(&meta);
                    let row = ParkedRow { path: to, size, mtime_ns, outcome: "undone".into(), reason: None };
                    park(journal, seen, row, now);
                }
            }
            Ok(serde_json::json!({ "report": report, "files": files }))
        }
        "config.get" => {
            let path = Config::locate(config_path).unwrap_or_else(config::user_config_path);
            let key = p.get("key").and_then(serde_json::Value::as_str);
            config::get(&path, key).map(|v| serde_json::json!({ "value": v })).map_err(|e| e.to_string())
        }
        "config.set" => {
            let path = Config::locate(config_path).unwrap_or_else(config::user_config_path);
            let (Some(key), Some(value)) =
                (p.get("key").and_then(serde_json::Value::as_str), p.get("value").and_then(serde_json::Value::as_str))
            else {
                return Err("config.set needs {\"key\": ..., \"value\": ...}".into());
            };
            config::set(&path, key, value).map_err(|e| e.to_string())?;
            reload.store(true, Ordering::Relaxed);
            Ok(serde_json::json!({ "file": path.to_string_lossy() }))
        }
        other => Err(format!("unknown method {other:?}")),
    }
}

fn log_start(cfg: &Config) {
    tracing::info!(library = %cfg.library.display(), state = %cfg.state_dir.display(), inboxes = cfg.inbox.len(), "clean-backupd watching");
    for inbox in &cfg.inbox {
        tracing::info!(path = %inbox.path.display(), mode = ?inbox.mode, "inbox");
    }
}

/// At start (and reload) an inbox or library that does not exist yet is
/// created, so a first run on a fresh machine has somewhere to drop files.
/// One that disappears later is waited for, not re-created.
fn create_missing_dirs(cfg: &Config) {
    for dir in cfg.inbox.iter().map(|i| &i.path).chain([&cfg.library]) {
        if !dir.exists() {
            match crate::fsops::create_dirs(dir) {
                Ok(()) => tracing::info!(path = %dir.display(), "created folder"),
                Err(e) => tracing::warn!(path = %dir.display(), "cannot create folder: {e}"),
            }
        }
    }
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
    if !inbox.path.is_dir() {
        // An unmounted disk or a gone share: wait for it, never read it as empty.
        if state.missing_inboxes.insert(inbox.path.clone()) {
            state.error(format!("inbox {} is missing; waiting for it", inbox.path.display()));
        }
        return;
    }
    if state.missing_inboxes.remove(&inbox.path) {
        tracing::info!(path = %inbox.path.display(), "inbox is back");
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
                seen.insert(path, Seen { size, mtime_ns, since, parked: false });
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
    };
    let mut library = state.library.take();
    // Announced once the batch's session is known.
    let mut filed: Vec<(String, String)> = Vec::new();
    // Files handled but left in the inbox: remembered (across restarts) until they change.
    let mut parked: Vec<(PathBuf, &'static str, Option<String>)> = Vec::new();
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
        }
        Err(EngineError::DestInsideSource { .. }) => {
            state.error(format!("library is inside inbox {}; fix the config", inbox.path.display()))
        }
        Err(e) => state.error(format!("inbox {}: {e}", inbox.path.display())),
    }
}

/// Marks a file handled-but-left-alone, in memory and in the store, so it
/// is not retried (or reported again) until it changes, even after a restart.
fn park(journal: &mut Journal, seen: &mut HashMap<PathBuf, Seen>, row: ParkedRow, now: Instant) {
    if let Err(e) = journal.store().park(&row) {
        tracing::warn!(path = %row.path.display(), "cannot remember a left-alone file across restarts: {e}");
    }
    let entry =
        seen.entry(row.path).or_insert(Seen { size: row.size, mtime_ns: row.mtime_ns, since: now, parked: true });
    (entry.size, entry.mtime_ns, entry.parked) = (row.size, row.mtime_ns, true);
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
    mine.into_iter().map(|r| (r.path, Seen { size: r.size, mtime_ns: r.mtime_ns, since: now, parked: true })).collect()
}
