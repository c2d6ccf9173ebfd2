//! The D-Bus face of the control protocol: `org.cleanbackup.Daemon1` at
//! `/org/cleanbackup/Daemon1` on the session or system bus (zbus). Each
//! method is the socket method of the same name, answered by the same
//! main loop; results that are records (history, undo report, job
//! summary) travel as JSON strings in the socket schema, so scripts parse
//! one format whichever way they call. Signals announce what the daemon
//! does: FileFiled, DuplicateSkipped, JobProgress.

use std::collections::HashMap;
use std::sync::mpsc;

use zbus::object_server::SignalEmitter;
use zbus::zvariant::Value;
use zbus::{fdo, interface};

use super::api::{ApiError, ErrorKind, Reply, Request};
use super::{Call, Signal, ToCaller};
use crate::access::Caller;
use zbus::message::Header;

/// The well-known bus name.
pub const BUS_NAME: &str = "org.cleanbackup.Daemon1";
/// The object path.
pub const OBJECT_PATH: &str = "/org/cleanbackup/Daemon1";

/// Which bus to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bus {
    /// The user's session bus (`$DBUS_SESSION_BUS_ADDRESS`).
    Session,
    /// The system bus (needs the policy file from `packaging/`).
    System,
}

/// Why D-Bus could not be served.
#[derive(Debug, thiserror::Error)]
#[error("D-Bus ({bus}): {source}")]
pub struct DbusError {
    bus: &'static str,
    #[source]
    source: Box<zbus::Error>,
}

/// A connection serving the interface; dropping it leaves the bus.
pub struct DbusServer {
    conn: zbus::blocking::Connection,
}

impl DbusServer {
    /// Connects to `bus`, serves the interface, and takes the bus name.
    /// Method calls are handed to `calls`, like socket requests.
    pub fn start(bus: Bus, calls: mpsc::Sender<Call>) -> Result<DbusServer, DbusError> {
        let name = if bus == Bus::Session { "session bus" } else { "system bus" };
        let err = |source| DbusError { bus: name, source: Box::new(source) };
        let builder = match bus {
            Bus::Session => zbus::blocking::connection::Builder::session(),
            Bus::System => zbus::blocking::connection::Builder::system(),
        }
        .map_err(err)?;
        let conn = builder
            .serve_at(OBJECT_PATH, Daemon1 { calls: std::sync::Mutex::new(calls) })
            .map_err(err)?
            .name(BUS_NAME)
            .map_err(err)?
            .build()
            .map_err(err)?;
        Ok(DbusServer { conn })
    }

    /// Sends a signal (errors are logged: listeners are optional).
    pub fn emit(&self, signal: &Signal) {
        let result = match signal {
            Signal::FileFiled { from, to, session } => self.send("FileFiled", &(from, to, *session)),
            Signal::DuplicateSkipped { path, duplicate_of, reason } => {
                self.send("DuplicateSkipped", &(path, duplicate_of, reason))
            }
            Signal::JobProgress { job, state, done, total, detail } => {
                self.send("JobProgress", &(*job, state, *done, *total, detail))
            }
        };
        if let Err(e) = result {
            tracing::warn!("D-Bus signal not sent: {e}");
        }
    }

    fn send<B>(&self, member: &str, body: &B) -> zbus::Result<()>
    where
        B: serde::Serialize + zbus::zvariant::DynamicType,
    {
        self.conn.emit_signal(None::<()>, OBJECT_PATH, BUS_NAME, member, body)
    }
}

struct Daemon1 {
    calls: std::sync::Mutex<mpsc::Sender<Call>>,
}

/// Who sent a method call, as the bus daemon says (`GetConnectionCredentials`):
/// the same uid and gid the socket reads with `SO_PEERCRED`.
async fn caller_of(conn: &zbus::Connection, hdr: &Header<'_>) -> fdo::Result<Caller> {
    let sender = hdr.sender().ok_or_else(|| fdo::Error::AccessDenied("a call without a sender".into()))?;
    let proxy = fdo::DBusProxy::new(conn).await.map_err(|e| fdo::Error::Failed(e.to_string()))?;
    let creds = proxy.get_connection_credentials(sender.clone().into()).await?;
    let uid = creds.unix_user_id().ok_or_else(|| fdo::Error::AccessDenied("the bus gave no user id".into()))?;
    let gid = creds.unix_group_ids().and_then(|g| g.first().copied()).unwrap_or(u32::MAX);
    Ok(Caller { uid, gid, pid: creds.process_id() })
}

impl Daemon1 {
    /// Hands a request to the main loop and waits (without blocking the bus)
    /// for its answer; an error keeps its kind as the D-Bus error name.
    async fn ask(&self, caller: Caller, request: Request) -> fdo::Result<Reply> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut tx = Some(tx);
        let call = Call {
            request,
            caller,
            reply: Box::new(move |r| {
                if let (ToCaller::Done(answer), Some(tx)) = (r, tx.take()) {
                    let _ = tx.send(answer);
                }
            }),
        };
        let stopping = || fdo::Error::Failed("clean-backupd is stopping".into());
        self.calls.lock().map_err(|_| stopping())?.send(call).map_err(|_| stopping())?;
        rx.await.map_err(|_| stopping())?.map_err(bus_error)
    }
}

/// An [`ApiError`] as a D-Bus error: denied as AccessDenied, the request's
/// fault as InvalidArgs, the rest as Failed; the hint follows the message.
fn bus_error(e: ApiError) -> fdo::Error {
    let text = match &e.hint {
        Some(h) => format!("{}; {h}", e.message),
        None => e.message.clone(),
    };
    match e.kind {
        ErrorKind::Denied => fdo::Error::AccessDenied(text),
        _ if e.is_usage() => fdo::Error::InvalidArgs(text),
        _ => fdo::Error::Failed(text),
    }
}

/// A record reply as the JSON string of the socket's result.
fn text(r: &Reply) -> fdo::Result<String> {
    r.to_json().map(|v| v.to_string()).map_err(|e| fdo::Error::Failed(e.to_string()))
}

fn unexpected(r: &Reply) -> fdo::Error {
    fdo::Error::Failed(format!("unexpected answer {r:?}"))
}

#[interface(name = "org.cleanbackup.Daemon1")]
impl Daemon1 {
    /// The daemon's state: uptime_seconds, paused, library, library_available,
    /// queue, index_files, {filed,skipped,failed}_{today,total}, last_error,
    /// inboxes (path, mode, available), job (id, kind, done, total), jobs_queued,
    /// library_check (done, total, filing_waits; all 0 when none runs),
    /// library_check_eta_seconds (0 when unknown or none runs).
    async fn status(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<HashMap<String, Value<'static>>> {
        let s = match self.ask(caller_of(conn, &hdr).await?, Request::Status {}).await? {
            Reply::Status(s) => *s,
            r => return Err(unexpected(&r)),
        };
        let mut m: HashMap<String, Value<'static>> = HashMap::new();
        m.insert("version".into(), s.version.into());
        m.insert("pid".into(), s.pid.into());
        m.insert("uptime_seconds".into(), s.uptime_seconds.into());
        m.insert("paused".into(), s.paused.into());
        m.insert("library".into(), s.library.into());
        m.insert("library_available".into(), s.library_available.into());
        m.insert("queue".into(), s.queue.into());
        m.insert("index_files".into(), s.index_files.into());
        for (when, c) in [("today", &s.today), ("total", &s.total)] {
            m.insert(format!("filed_{when}"), c.filed.into());
            m.insert(format!("skipped_{when}"), c.skipped.into());
            m.insert(format!("failed_{when}"), c.failed.into());
        }
        m.insert("last_error".into(), s.last_error.unwrap_or_default().into());
        let inboxes: Vec<(String, String, bool)> =
            s.inboxes.into_iter().map(|i| (i.path, i.mode, i.available)).collect();
        m.insert("inboxes".into(), inboxes.into());
        let job = s.job.map_or((0, String::new(), 0, 0), |j| (j.id, j.kind, j.done, j.total));
        m.insert("job".into(), job.into());
        m.insert("jobs_queued".into(), s.jobs_queued.into());
        let eta = s.library_check.as_ref().and_then(|c| c.eta_seconds).unwrap_or(0);
        let check = s.library_check.map_or((0, 0, false), |c| (c.done, c.total, c.filing_waits));
        m.insert("library_check".into(), check.into());
        m.insert("library_check_eta_seconds".into(), eta.into());
        Ok(m)
    }

    /// Stop filing until Resume.
    async fn pause(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.ask(caller_of(conn, &hdr).await?, Request::Pause {}).await.map(drop)
    }

    /// Resume filing.
    async fn resume(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<()> {
        self.ask(caller_of(conn, &hdr).await?, Request::Resume {}).await.map(drop)
    }

    /// Look at every inbox file again and catch the library index up; returns the refresh report (JSON).
    async fn rescan(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<String> {
        text(&self.ask(caller_of(conn, &hdr).await?, Request::Rescan { undone: false }).await?)
    }

    /// The newest `limit` sessions (JSON array, as `cbctl --json history`).
    async fn history(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        limit: u32,
    ) -> fdo::Result<String> {
        let request = Request::History { limit: i64::from(limit) };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Undo a session; returns the undo report (JSON).
    async fn undo(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        session: i64,
    ) -> fdo::Result<String> {
        let request = Request::Undo { session: Some(session), last: false };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Undo the newest session that still has files in place (the last import).
    async fn undo_last(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<String> {
        text(&self.ask(caller_of(conn, &hdr).await?, Request::Undo { session: None, last: true }).await?)
    }

    /// What was decided for a file and why (JSON, as `cbctl --json why FILE`):
    /// give the absolute inbox or library path.
    async fn why(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        path: &str,
    ) -> fdo::Result<String> {
        let request = Request::Why { path: path.into() };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Every file set aside as a duplicate (JSON array, as the objects of `cbctl --json skipped`).
    async fn skipped(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
    ) -> fdo::Result<String> {
        text(&self.ask(caller_of(conn, &hdr).await?, Request::Skipped {}).await?)
    }

    /// File a set-aside file anyway (give its absolute path); returns the correction (JSON).
    async fn keep(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        path: &str,
    ) -> fdo::Result<String> {
        let request = Request::Keep { path: path.into() };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Two files (absolute paths) are never duplicates of each other; returns the correction (JSON).
    async fn not_duplicate(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        a: &str,
        b: &str,
    ) -> fdo::Result<String> {
        let request = Request::NotDuplicate { a: a.into(), b: b.into() };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Keep this file (absolute path) over its duplicates from now on; returns the correction (JSON).
    async fn prefer(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        path: &str,
    ) -> fdo::Result<String> {
        let request = Request::Prefer { path: path.into() };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// Lift a remembered deletion of the file's content (absolute path); returns the correction (JSON).
    async fn forget(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        path: &str,
    ) -> fdo::Result<String> {
        let request = Request::Forget { path: path.into() };
        request.check().map_err(fdo::Error::InvalidArgs)?;
        text(&self.ask(caller_of(conn, &hdr).await?, request).await?)
    }

    /// A config key's resolved value, or the whole config for "".
    async fn config_get(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        key: &str,
    ) -> fdo::Result<String> {
        let key = (!key.is_empty()).then(|| key.to_string());
        match self.ask(caller_of(conn, &hdr).await?, Request::ConfigGet { key }).await? {
            Reply::Config(c) => Ok(c.value.unwrap_or_default()),
            r => Err(unexpected(&r)),
        }
    }

    /// Set a config key in the file (comments kept); applied at once.
    async fn config_set(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        key: &str,
        value: &str,
    ) -> fdo::Result<()> {
        let request = Request::ConfigSet { key: key.into(), value: value.into(), file: None };
        self.ask(caller_of(conn, &hdr).await?, request).await.map(drop)
    }

    /// Queue a one-shot job (a JobSpec as JSON: {"kind":"organize"|"dedup",...});
    /// returns its id, and its progress follows as JobProgress signals.
    async fn submit_job(
        &self,
        #[zbus(connection)] conn: &zbus::Connection,
        #[zbus(header)] hdr: Header<'_>,
        spec: &str,
    ) -> fdo::Result<u64> {
        let spec = serde_json::from_str(spec)
            .map_err(|e| fdo::Error::InvalidArgs(format!("bad params for job.submit: spec: {e}")))?;
        match self.ask(caller_of(conn, &hdr).await?, Request::Submit { spec, stream: false }).await? {
            Reply::Queued { job } => Ok(job),
            r => Err(unexpected(&r)),
        }
    }

    /// A file was filed from an inbox into the library, in journal session `session`.
    #[zbus(signal)]
    async fn file_filed(emitter: &SignalEmitter<'_>, from: &str, to: &str, session: i64) -> zbus::Result<()>;

    /// A file was left alone as a duplicate of the library file `duplicate_of`.
    #[zbus(signal)]
    async fn duplicate_skipped(
        emitter: &SignalEmitter<'_>,
        path: &str,
        duplicate_of: &str,
        reason: &str,
    ) -> zbus::Result<()>;

    /// A job's progress; `state` is running, done (detail: summary JSON) or failed (detail: the error).
    #[zbus(signal)]
    async fn job_progress(
        emitter: &SignalEmitter<'_>,
        job: u64,
        state: &str,
        done: u64,
        total: u64,
        detail: &str,
    ) -> zbus::Result<()>;
}
