//! The job worker: one-shot jobs submitted over the control socket or
//! D-Bus run here, one at a time, on their own journal connection, so the
//! inboxes keep being watched and filed while a long dedup runs.

use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use crate::control::{Call, Emitter, JobStatus, Reply, Response, Signal};
use crate::engine::job::{self, JobSpec};
use crate::journal::Journal;

struct Queued {
    id: u64,
    spec: JobSpec,
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

    /// Takes a `job.submit` call: queues it, or answers with what is wrong with it.
    pub(super) fn submit(&mut self, call: Call) {
        let id = call.request.id;
        let params = &call.request.params;
        let stream = params.get("stream").and_then(serde_json::Value::as_bool).unwrap_or(false);
        let spec: JobSpec = match params.get("spec").map(|s| serde_json::from_value(s.clone())) {
            Some(Ok(spec)) => spec,
            Some(Err(e)) => return call.respond(usage(id, format!("bad job spec: {e}"))),
            None => return call.respond(usage(id, "job.submit needs {\"spec\": {\"kind\": ...}}".into())),
        };
        let job = self.next_id;
        self.next_id += 1;
        tracing::info!(job, kind = spec.kind(), "job queued");
        self.lock().queued += 1;
        // Unstreamed: answered now with the job id; progress goes out as signals.
        let (reply, now) = if stream { (Some(call.reply), None) } else { (None, Some(call)) };
        if self.queue.send(Queued { id: job, spec, request_id: id, stream: reply }).is_err() {
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

fn usage(id: u64, msg: String) -> Response {
    Response { usage: true, ..Response::err(id, msg) }
}

fn worker(mut journal: Journal, rx: &mpsc::Receiver<Queued>, shared: &Mutex<Shared>, emit: &Emitter) {
    let lock = || shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    for Queued { id: job, spec, request_id, mut stream } in rx.iter() {
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
        let result = job::run(&mut journal, &spec, &mut |ev| {
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
