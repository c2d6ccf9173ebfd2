//! The job worker: one-shot jobs submitted over the control socket or
//! D-Bus run here, one at a time, on their own journal connection, so the
//! inboxes keep being watched and filed while a long dedup runs.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use std::path::{Path, PathBuf};

use crate::access::{Access, Caller, Want};
use crate::config::Config;
use crate::control::{Call, Emitter, JobStatus, Reply, Response, Signal};
use crate::engine::job::{self, JobSpec};
use crate::journal::Journal;

/// Why a job was refused before it was queued.
#[derive(Debug)]
pub(super) enum Refusal {
    /// The request is at fault (a folder outside every root, missing).
    Usage(String),
    /// The caller may not touch a folder the job names.
    Denied(String),
}

impl Refusal {
    /// The error response.
    pub(super) fn response(self, id: u64) -> Response {
        match self {
            Refusal::Usage(e) => Response::usage(id, e),
            // A usage error too: the request asked for what it may not have (exit 2).
            Refusal::Denied(e) => Response { usage: true, ..Response::denied(id, e) },
        }
    }
}

/// Checks a job's folders before it is queued: each, resolved, lies under a
/// root the daemon is configured with (the library, an inbox, or
/// `control.job_roots`), and a caller who is not the daemon's user may read
/// it (and, for a job that moves or deletes, change it) as itself. Returns
/// the rights the job's scan must then hold every file to.
pub(super) fn check_job(spec: &JobSpec, caller: &Caller, cfg: &Config) -> Result<Option<Access>, Refusal> {
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
            return Err(Refusal::Usage(e.to_string()));
        }
    }
    for (path, want) in reads.iter().map(|p| (p, false)).chain(writes.iter().map(|p| (p, true))) {
        let resolved = crate::fsops::canonical_lenient(path).map_err(|e| Refusal::Usage(e.to_string()))?;
        if !roots.iter().any(|r| resolved.starts_with(r)) {
            let list: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
            return Err(Refusal::Usage(format!(
                "{}: not under a folder this daemon works in ({}); add it to control.job_roots, or run the job \
                 yourself with --local",
                path.display(),
                list.join(", ")
            )));
        }
        let Some(a) = &access else { continue };
        // A folder that does not exist yet (a destination) is checked where it would be made.
        let existing = existing_ancestor(&resolved);
        let changes = want || spec.changes_sources();
        a.check(&existing, if changes { Want::Change } else { Want::List }).map_err(Refusal::Denied)?;
        if !want {
            a.check(&existing, Want::List).map_err(Refusal::Denied)?;
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
fn give_to_caller(journal: &Journal, summary: &serde_json::Value, a: &Access) {
    let Some(session) = summary["session"].as_i64() else { return };
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
    /// The request id, and where its progress and response go when streamed.
    request_id: u64,
    stream: Option<Box<dyn FnMut(Reply) + Send>>,
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
        let id = call.request.id;
        let job = self.next_id;
        self.next_id += 1;
        tracing::info!(job, kind = spec.kind(), uid = call.caller.uid, "job queued");
        self.lock().queued += 1;
        // Unstreamed: answered now with the job id; progress goes out as signals.
        let (reply, now) = if stream { (Some(call.reply), None) } else { (None, Some(call)) };
        if self.queue.send(Queued { id: job, spec, access, request_id: id, stream: reply }).is_err() {
            self.lock().queued -= 1;
            if let Some(call) = now {
                call.respond(Response::err(id, "the job worker has stopped; restart the daemon"));
            }
            return;
        }
        if let Some(call) = now {
            call.respond(Response::ok(id, serde_json::json!({ "job": job })));
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
    for Queued { id: job, spec, access, request_id, mut stream } in rx.iter() {
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
        let result = job::run_as(&mut journal, &spec, access.as_ref(), &mut |ev| {
            let (done, total) = {
                let mut s = lock();
                let Some(r) = s.running.as_mut() else { return };
                if ev["event"] == "found" || ev["event"] == "indexing" {
                    r.total = ev["total"].as_u64().unwrap_or(r.total);
                    r.done = ev["done"].as_u64().unwrap_or(0);
                } else if ev.get("outcome").is_some() || ev.get("error").is_some() {
                    r.done += 1;
                }
                (r.done, r.total)
            };
            if last_signal.elapsed() >= Duration::from_millis(250) {
                last_signal = Instant::now();
                progress("running", done, total, String::new());
            }
            if let Some(reply) = stream.as_mut() {
                reply(Reply::Event(ev));
            }
        });
        let (done, total) = lock().running.as_ref().map_or((0, 0), |r| (r.done, r.total));
        if let (Ok(summary), Some(a)) = (&result, &access) {
            give_to_caller(&journal, summary, a);
        }
        match result {
            Ok(summary) => {
                tracing::info!(job, %summary, "job done");
                progress("done", done, total, summary.to_string());
                if let Some(reply) = stream.as_mut() {
                    reply(Reply::Done(Response::ok(request_id, summary)));
                }
            }
            Err(e) => {
                tracing::error!(job, "job failed: {e}");
                progress("failed", done, total, e.to_string());
                if let Some(reply) = stream.as_mut() {
                    reply(Reply::Done(Response { usage: e.is_usage(), ..Response::err(request_id, e.to_string()) }));
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
