//! The job worker: one-shot jobs submitted over the control socket or
//! D-Bus run here, one at a time, on their own journal connection, so the
//! inboxes keep being watched and filed while a long dedup runs.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use crate::access::{Access, Caller, Want};
use crate::config::Config;
use crate::control::api::{ApiError, Reply};
use crate::control::service::run_job;
use crate::control::{Call, Emitter, JobStatus, Signal, ToCaller};
use crate::engine::job::{JobEvent, JobSpec, JobSummary};
use crate::journal::Journal;

/// Checks a job's folders before it is queued: each, resolved, lies under a
/// root the daemon is configured with (the library, an inbox, or
/// `control.job_roots`), and a caller who is not the daemon's user may read
/// it (and, for a job that moves or deletes, change it) as itself. Returns
/// the rights the job's scan must then hold every file to.
pub(super) fn check_job(spec: &JobSpec, caller: &Caller, cfg: &Config) -> Result<Option<Access>, ApiError> {
    let roots: Vec<PathBuf> = std::iter::once(&cfg.library)
        .chain(cfg.inbox.iter().map(|i| &i.path))
        .chain(cfg.job_roots.iter())
        .map(|r| crate::fsops::canonical_lenient(r).unwrap_or_else(|_| r.clone()))
        .collect();
    let (reads, writes) = spec.folders();
    let access = caller.access(spec.changes_sources());
    for path in &reads {
        // A folder that is not there is said so first, as the job itself would.
        if !path.is_dir() {
            let e = if path.exists() {
                crate::engine::EngineError::SourceNotDir(path.clone())
            } else {
                crate::engine::EngineError::MissingSource(path.clone())
            };
            return Err(e.into());
        }
    }
    for (path, want) in reads.iter().map(|p| (p, false)).chain(writes.iter().map(|p| (p, true))) {
        let resolved = crate::fsops::canonical_lenient(path).map_err(|e| ApiError::usage(e.to_string()))?;
        if !roots.iter().any(|r| resolved.starts_with(r)) {
            let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(ApiError::usage(format!(
                "{}: not under a folder this daemon works in ({})",
                path.display(),
                list.join(", ")
            ))
            .hint(
                "add it to control.job_roots in the daemon's config (`cbctl config set control.job_roots` applies \
                 it at once), or stop the daemon and run the job yourself with --local",
            ));
        }
        let Some(a) = &access else { continue };
        // A folder that does not exist yet (a destination) is checked where it would be made.
        let existing = existing_ancestor(&resolved);
        let changes = want || spec.changes_sources();
        a.check(&existing, if changes { Want::Change } else { Want::List }).map_err(ApiError::denied)?;
        if !want {
            a.check(&existing, Want::List).map_err(ApiError::denied)?;
        }
    }
    Ok(access)
}

/// `path`, or its nearest ancestor that exists.
fn existing_ancestor(path: &Path) -> PathBuf {
    let mut p = path;
    while !p.exists() {
        match p.parent() {
            Some(parent) => p = parent,
            None => break,
        }
    }
    p.to_path_buf()
}

/// What a job made for a caller who is not the daemon's user (copies, and
/// the folders made for them and for moved files) belongs to that caller,
/// as if it had done the work itself. Moved files keep their owner.
fn give_to_caller(journal: &Journal, summary: &JobSummary, a: &Access) {
    let Some(session) = summary.session() else { return };
    let Ok(ops) = journal.store().ops_of_session(session) else { return };
    for op in ops.iter().filter(|o| o.state == crate::store::OpState::Done) {
        let made = (op.action == crate::store::Action::Copy).then_some(&op.dst);
        for p in op.dirs_created.iter().chain(made) {
            if let Err(e) = crate::fsops::give_to(p, a.uid, a.gid) {
                tracing::warn!("{e}");
            }
        }
    }
}

struct Queued {
    id: u64,
    spec: JobSpec,
    /// The rights of the caller the job runs for (`None`: the daemon's own).
    access: Option<Access>,
    /// Where its progress and answer go when streamed.
    stream: Option<Box<dyn FnMut(ToCaller) + Send>>,
}

#[derive(Default)]
struct Shared {
    running: Option<JobStatus>,
    queued: u64,
    /// Jobs finished since the start (any of them may have changed the library).
    finished: u64,
}

/// The queue in front of the worker thread.
pub(super) struct Jobs {
    queue: mpsc::Sender<Queued>,
    shared: Arc<Mutex<Shared>>,
    next_id: u64,
}

impl Jobs {
    /// Starts the worker with its own connection to the journal.
    pub(super) fn start(journal: Journal, emit: Emitter) -> std::io::Result<Jobs> {
        let (queue, rx) = mpsc::channel::<Queued>();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let worker_shared = Arc::clone(&shared);
        std::thread::Builder::new().name("jobs".into()).spawn(move || worker(journal, &rx, &worker_shared, &emit))?;
        Ok(Jobs { queue, shared, next_id: 1 })
    }

    /// Queues a checked `job.submit` call to run with `access`.
    pub(super) fn submit(&mut self, call: Call, spec: JobSpec, stream: bool, access: Option<Access>) {
        let job = self.next_id;
        self.next_id += 1;
        tracing::info!(job, kind = spec.kind(), uid = call.caller.uid, "job queued");
        self.lock().queued += 1;
        // Unstreamed: answered now with the job id; progress goes out as signals.
        let (reply, now) = if stream { (Some(call.reply), None) } else { (None, Some(call)) };
        if self.queue.send(Queued { id: job, spec, access, stream: reply }).is_err() {
            self.lock().queued -= 1;
            if let Some(call) = now {
                call.respond(Err(ApiError::failed("the job worker has stopped; restart the daemon")));
            }
            return;
        }
        if let Some(call) = now {
            call.respond(Ok(Reply::Queued { job }));
        }
    }

    /// The running job and how many wait, for `status`.
    pub(super) fn status(&self) -> (Option<JobStatus>, u64) {
        let s = self.lock();
        (s.running.clone(), s.queued)
    }

    /// How many jobs have finished, done or failed, since the start.
    pub(super) fn finished(&self) -> u64 {
        self.lock().finished
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn worker(mut journal: Journal, rx: &mpsc::Receiver<Queued>, shared: &Mutex<Shared>, emit: &Emitter) {
    let lock = || shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for Queued { id: job, spec, access, mut stream } in rx.iter() {
        {
            let mut s = lock();
            s.queued = s.queued.saturating_sub(1);
            s.running = Some(JobStatus { id: job, kind: spec.kind().into(), done: 0, total: 0 });
        }
        tracing::info!(job, kind = spec.kind(), "job started");
        let progress = |state: &str, done: u64, total: u64, detail: String| {
            emit(Signal::JobProgress { job, state: state.into(), done, total, detail });
        };
        progress("running", 0, 0, String::new());
        let mut last_signal = Instant::now();
        let result = run_job(&mut journal, &spec, access.as_ref(), &mut |ev| {
            let (done, total) = {
                let mut s = lock();
                let Some(r) = s.running.as_mut() else { return };
                match &ev {
                    JobEvent::Found { total } => (r.done, r.total) = (0, *total),
                    JobEvent::Indexing { done, total, .. } => (r.done, r.total) = (*done, *total),
                    ev if ev.is_file() => r.done += 1,
                    _ => {}
                }
                (r.done, r.total)
            };
            if last_signal.elapsed() >= Duration::from_millis(250) {
                last_signal = Instant::now();
                progress("running", done, total, String::new());
            }
            if let Some(reply) = stream.as_mut() {
                reply(ToCaller::Event(ev));
            }
        });
        let (done, total) = lock().running.as_ref().map_or((0, 0), |r| (r.done, r.total));
        if let (Ok(summary), Some(a)) = (&result, &access) {
            give_to_caller(&journal, summary, a);
        }
        match result {
            Ok(summary) => {
                let detail = serde_json::to_string(&summary).unwrap_or_default();
                tracing::info!(job, kind = spec.kind(), "job done: {}", summary.describe());
                progress("done", done, total, detail);
                if let Some(reply) = stream.as_mut() {
                    reply(ToCaller::Done(Ok(Reply::Job(summary))));
                }
            }
            Err(e) => {
                tracing::error!(job, "job failed: {e}");
                progress("failed", done, total, e.message.clone());
                if let Some(reply) = stream.as_mut() {
                    reply(ToCaller::Done(Err(e)));
                }
            }
        }
        {
            let mut s = lock();
            s.running = None;
            s.finished += 1;
        }
    }
}
