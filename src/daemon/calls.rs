//! Control requests, answered by the main loop between inboxes and while it
//! sleeps, through the one [`Service`]: this file only lends it the
//! daemon's state ([`Daemon`]) and sends jobs to the job worker.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{jobs, park, Seen, State};
use crate::access::Caller;
use crate::config::{self, Config};
use crate::control::api::UndoneFile;
use crate::control::service::{authorize, Daemon, Journaled, Service};
use crate::control::{self, Call, InboxStatus, Request, Status};
use crate::journal::Journal;
use crate::store::{FileRow, ParkedRow};

/// What a control request may read and change: the main loop's own state,
/// lent for the time of one answer.
pub(super) struct Ctx<'a> {
    pub(super) journal: &'a mut Journal,
    pub(super) cfg: &'a Config,
    pub(super) config_path: Option<&'a Path>,
    pub(super) seen: &'a mut HashMap<PathBuf, Seen>,
    pub(super) state: &'a mut State,
    pub(super) reload: &'a AtomicBool,
    pub(super) jobs: &'a mut jobs::Jobs,
}

/// Control requests answered per turn of the main loop at most: a client
/// flooding the socket delays other answers, never filing.
const CALLS_PER_TURN: usize = 16;

/// Answers the control requests waiting (at most [`CALLS_PER_TURN`]),
/// waiting up to `wait` for the first one (zero: not at all). Jobs go to
/// the job worker, which answers them itself.
pub(super) fn answer_calls(calls: &mpsc::Receiver<Call>, wait: Duration, ctx: &mut Ctx<'_>) {
    for n in 0..CALLS_PER_TURN {
        let next = match (n, wait.is_zero()) {
            (0, false) => match calls.recv_timeout(wait) {
                Ok(call) => Some(call),
                Err(mpsc::RecvTimeoutError::Timeout) => None,
                // No transport is left to send calls (never expected): still wait, never spin.
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wait);
                    None
                }
            },
            _ => calls.try_recv().ok(),
        };
        let Some(call) = next else { return };
        if let Request::Submit { spec, stream } = call.request.clone() {
            // Jobs skip the service (the worker runs them): checked here.
            if let Err(e) = authorize(&call.request, &call.caller, ctx.cfg) {
                log_refusal(&call, &e);
                call.respond(Err(e));
                continue;
            }
            match jobs::check_job(&spec, &call.caller, ctx.cfg) {
                Ok(access) => ctx.jobs.submit(call, spec, stream, access),
                Err(e) => call.respond(Err(e)),
            }
            continue;
        }
        let Call { request, caller, .. } = &call;
        let mut side =
            Side { cfg: ctx.cfg, seen: &mut *ctx.seen, state: &mut *ctx.state, reload: ctx.reload, jobs: &*ctx.jobs };
        let mut service = Service {
            journal: Journaled::Open(&mut *ctx.journal),
            cfg: Some(ctx.cfg),
            config_path: ctx.config_path,
            daemon: Some(&mut side),
        };
        let answer = service.answer(caller, request.clone(), &mut |_| {});
        if let Err(e) = &answer {
            if e.kind == crate::control::ErrorKind::Denied {
                log_refusal(&call, e);
            }
        }
        call.respond(answer);
    }
}

/// A refused call is logged with who asked.
fn log_refusal(call: &Call, e: &crate::control::ApiError) {
    let pid = call.caller.pid.map_or("?".to_string(), |p| p.to_string());
    tracing::warn!(uid = call.caller.uid, %pid, method = call.request.method(), "refused: {e}");
}

/// The daemon's side of a request: its state, lent to the service.
struct Side<'a> {
    cfg: &'a Config,
    seen: &'a mut HashMap<PathBuf, Seen>,
    state: &'a mut State,
    reload: &'a AtomicBool,
    jobs: &'a jobs::Jobs,
}

impl Daemon for Side<'_> {
    fn status(&self, journal: &Journal) -> Status {
        let (cfg, state) = (self.cfg, &*self.state);
        let (job, jobs_queued) = self.jobs.status();
        Status {
            job,
            jobs_queued,
            version: control::VERSION,
            pid: std::process::id(),
            uptime_seconds: state.started.elapsed().as_secs(),
            paused: state.paused,
            library: cfg.library.to_string_lossy().into_owned(),
            library_available: state.library_available,
            library_problem: state.problem(),
            inboxes: cfg
                .inbox
                .iter()
                .map(|i| InboxStatus {
                    path: i.path.to_string_lossy().into_owned(),
                    mode: if i.mode == config::Mode::Copy { "copy" } else { "move" }.to_string(),
                    available: !state.missing_inboxes.contains(&i.path),
                })
                .collect(),
            queue: self.seen.values().filter(|s| !s.parked).count() as u64,
            today: state.today.clone(),
            total: state.total.clone(),
            index_files: journal.store().count_under(&cfg.library).unwrap_or(0),
            last_error: state.last_error.clone(),
            library_check: state
                .kept
                .progress()
                .map(|(done, total, took)| control::LibraryCheck::new(done, total, took, !state.kept.ready(cfg))),
        }
    }

    fn set_paused(&mut self, paused: bool, caller: &Caller) {
        self.state.paused = paused;
        let what = if paused { "paused" } else { "resumed" };
        tracing::info!(uid = caller.uid, "{what} by request");
    }

    fn rescan(&mut self, undone: bool) {
        // Files left alone (errors, duplicates) get another look, and every
        // inbox is scanned; files an undo put back stay where the user
        // wanted them, unless asked (`cbctl rescan --undone`).
        self.seen.values_mut().filter(|s| undone || !s.undone).for_each(|s| s.parked = false);
        self.state.rescan_requested = true;
        self.state.kept.want_check();
    }

    fn library_adopted(&mut self) {
        self.state.library_problem = None;
        self.state.library_available = true;
    }

    fn library_changed(&mut self) {
        self.state.kept.want_check();
    }

    fn put_back(&mut self, journal: &mut Journal, files: &[UndoneFile]) {
        // Files put back into an inbox stay there: parked as undone, until
        // they change; `cbctl rescan` and restarts leave them alone too.
        let now = Instant::now();
        for f in files {
            let to = PathBuf::from(&f.to);
            if let (true, Ok(meta)) =
                (self.cfg.inbox.iter().any(|i| to.starts_with(&i.path)), std::fs::symlink_metadata(&to))
            {
                let (size, mtime_ns, _) = FileRow::stat_key(&meta);
                let row = ParkedRow { path: to, size, mtime_ns, outcome: "undone".into(), reason: None };
                park(journal, self.seen, row, now);
            }
        }
    }

    fn config_changed(&mut self) {
        self.reload.store(true, Ordering::Relaxed);
    }
}
