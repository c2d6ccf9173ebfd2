//! How `cbctl` talks to `clean-backupd`: newline-delimited JSON over a Unix
//! socket in `state_dir` (mode 0600, so only the daemon's user can connect).
//!
//! One request per line, `{"v":1,"id":7,"method":"status","params":{}}`;
//! one response line per request, `{"v":1,"id":7,"result":{...}}` or
//! `{"v":1,"id":7,"error":"..."}`. `v` is the protocol version: a daemon
//! answers a request of another major version with an error naming both.
//! A line longer than [`MAX_REQUEST`] bytes, or one that is not a request,
//! gets an error response; the connection is then closed. Nothing a client
//! sends can stop the daemon.
//!
//! Methods (params → result):
//! - `status` → [`Status`]
//! - `pause`, `resume`, `rescan` → `{}`
//! - `history` `{limit}` → `[session rows]`
//! - `undo` `{session}` or `{last: true}` → undo report
//! - `prune` `{before}` (RFC 3339) → `{report, files: [{path, error}]}`
//! - `config.get` `{key?}` → `{value}`; `config.set` `{key, value}` → `{}` (applied at once)
//! - `job.submit` `{spec: JobSpec, stream: bool}`: runs a one-shot job
//!   ([`crate::engine::job::JobSpec`], organize or dedup) on the daemon's job
//!   worker, one at a time in order of submission. With `stream`, progress
//!   lines `{"v":1,"id":7,"event":{...}}` (the objects `cbctl --json`
//!   prints) come before the response, whose result is the job's summary;
//!   without, the response `{job}` comes at once and progress goes to D-Bus.
//!   A failed job's error response has `"usage": true` when the request was
//!   at fault (a missing folder) rather than the work.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod client;
pub mod dbus;
mod server;

pub use client::{call, call_streaming, ControlError};
pub use server::{Call, Reply, Server};

/// The protocol version this build speaks.
pub const VERSION: u32 = 1;

/// File name of the socket inside `state_dir`.
pub const SOCKET_FILE: &str = "clean-backupd.sock";

/// Largest request line accepted, in bytes.
pub const MAX_REQUEST: usize = 64 * 1024;

/// The socket path for a state directory.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join(SOCKET_FILE)
}

/// A request line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// Protocol version.
    pub v: u32,
    /// Echoed in the response.
    #[serde(default)]
    pub id: u64,
    /// What to do.
    pub method: String,
    /// Its arguments.
    #[serde(default)]
    pub params: serde_json::Value,
}

/// Why a request line was refused before it reached the daemon's loop.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Longer than [`MAX_REQUEST`].
    #[error("request longer than {MAX_REQUEST} bytes")]
    TooLong,
    /// Not JSON, or not a request object.
    #[error("malformed request: {0}")]
    Malformed(String),
    /// Another protocol version.
    #[error("protocol version {0} not supported; this daemon speaks {VERSION}")]
    Version(u32, u64),
    /// The params do not fit the method (or the method is unknown).
    #[error("{0}")]
    Params(String, u64),
}

impl RequestError {
    /// The request id to answer with, when the line got that far.
    pub fn id(&self) -> u64 {
        match self {
            RequestError::Version(_, id) | RequestError::Params(_, id) => *id,
            _ => 0,
        }
    }
}

/// A request's method with its arguments, each checked: the one list of
/// methods the socket, D-Bus and `cbctl` share. A field that is missing,
/// of the wrong type, out of range or unknown is refused before anything
/// acts on it (a prune with a bad time must never prune).
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// `status`.
    Status,
    /// `pause`.
    Pause,
    /// `resume`.
    Resume,
    /// `rescan {undone?}`.
    Rescan {
        /// Also look again at files an undo put back (left alone otherwise).
        undone: bool,
    },
    /// `history {limit?}`.
    History {
        /// Sessions to list, 1 to 10,000 (20 when absent).
        limit: i64,
    },
    /// `undo {session}` or `undo {last: true}`.
    Undo {
        /// The session; `None`: the last one with files in place.
        session: Option<i64>,
    },
    /// `prune {before}`.
    Prune {
        /// Trash emptied of sessions finished before this time.
        before: chrono::DateTime<chrono::FixedOffset>,
    },
    /// `why {path}`.
    Why {
        /// The file asked about.
        path: PathBuf,
    },
    /// `config.get {key?}`.
    ConfigGet {
        /// The key; `None`: the whole config.
        key: Option<String>,
    },
    /// `config.set {key, value, file?}`.
    ConfigSet {
        /// Dotted key.
        key: String,
        /// New value (TOML, or a bare string).
        value: String,
        /// The config file the client means; refused when it is not the daemon's.
        file: Option<PathBuf>,
    },
    /// `job.submit {spec, stream?}`.
    JobSubmit {
        /// The job.
        spec: crate::engine::job::JobSpec,
        /// Stream progress lines before the answer.
        stream: bool,
    },
}

/// Methods anyone who can reach the daemon may call: they change nothing.
pub const OPEN_METHODS: &[&str] = &["status", "history", "why"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RescanParams {
    undone: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct HistoryParams {
    limit: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UndoParams {
    session: Option<i64>,
    last: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PruneParams {
    before: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WhyParams {
    path: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigGetParams {
    key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigSetParams {
    key: String,
    value: String,
    file: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct JobParams {
    spec: crate::engine::job::JobSpec,
    #[serde(default)]
    stream: bool,
}

impl Method {
    /// Checks a request's params against its method.
    pub fn parse(method: &str, params: &serde_json::Value) -> Result<Method, String> {
        fn args<T: serde::de::DeserializeOwned>(method: &str, params: &serde_json::Value) -> Result<T, String> {
            T::deserialize(params).map_err(|e| format!("bad params for {method}: {e}"))
        }
        Ok(match method {
            "status" | "pause" | "resume" => {
                args::<NoParams>(method, params)?;
                match method {
                    "status" => Method::Status,
                    "pause" => Method::Pause,
                    _ => Method::Resume,
                }
            }
            "rescan" => Method::Rescan { undone: args::<RescanParams>(method, params)?.undone.unwrap_or(false) },
            "history" => {
                let limit = args::<HistoryParams>(method, params)?.limit.unwrap_or(20);
                if !(1..=10_000).contains(&limit) {
                    return Err(format!("bad params for history: limit {limit} is not 1 to 10000"));
                }
                Method::History { limit }
            }
            "undo" => match args::<UndoParams>(method, params)? {
                UndoParams { session: Some(s), last: None | Some(false) } if s > 0 => Method::Undo { session: Some(s) },
                UndoParams { session: None, last: Some(true) } => Method::Undo { session: None },
                _ => return Err("bad params for undo: give {\"session\": N} (N > 0) or {\"last\": true}".into()),
            },
            "prune" => {
                let p = args::<PruneParams>(method, params)?;
                let before = chrono::DateTime::parse_from_rfc3339(&p.before)
                    .map_err(|e| format!("bad params for prune: before {:?} is not an RFC 3339 time: {e}", p.before))?;
                Method::Prune { before }
            }
            "why" => {
                let p = args::<WhyParams>(method, params)?;
                if p.path.is_empty() || p.path.contains('\0') {
                    return Err("bad params for why: path must be a non-empty path".into());
                }
                Method::Why { path: PathBuf::from(p.path) }
            }
            "config.get" => Method::ConfigGet { key: args::<ConfigGetParams>(method, params)?.key },
            "config.set" => {
                let p = args::<ConfigSetParams>(method, params)?;
                Method::ConfigSet { key: p.key, value: p.value, file: p.file.map(PathBuf::from) }
            }
            "job.submit" => {
                let p = args::<JobParams>(method, params)?;
                Method::JobSubmit { spec: p.spec, stream: p.stream }
            }
            other => return Err(format!("unknown method {other:?}")),
        })
    }
}

/// Parses one request line (without or with its trailing newline): the
/// protocol's one parser, which nothing a client sends can make panic.
pub fn parse_request(line: &[u8]) -> Result<Request, RequestError> {
    if line.len() > MAX_REQUEST {
        return Err(RequestError::TooLong);
    }
    let mut request: Request = serde_json::from_slice(line).map_err(|e| RequestError::Malformed(e.to_string()))?;
    if request.v != VERSION {
        return Err(RequestError::Version(request.v, request.id));
    }
    match request.params {
        serde_json::Value::Null => request.params = serde_json::json!({}),
        serde_json::Value::Object(_) => {}
        _ => {
            return Err(RequestError::Params(
                format!("params of {:?} must be a JSON object", request.method),
                request.id,
            ))
        }
    }
    Method::parse(&request.method, &request.params).map_err(|e| RequestError::Params(e, request.id))?;
    Ok(request)
}

/// A response line.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    /// Protocol version.
    pub v: u32,
    /// The request's id.
    pub id: u64,
    /// The answer, on success.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The failure was the request's fault (bad folder, bad option), not the work's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub usage: bool,
    /// The caller may not do this (its credentials, or the folder's permissions).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub denied: bool,
}

/// What the daemon announces to whoever listens (D-Bus signals).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A file from an inbox was filed into the library.
    FileFiled {
        /// Where it was.
        from: String,
        /// Where it is now.
        to: String,
        /// Its journal session (`cbctl undo SESSION`).
        session: i64,
    },
    /// A file was left in its inbox (or quarantined) as a duplicate of a library file.
    DuplicateSkipped {
        /// The file.
        path: String,
        /// The library file it duplicates.
        duplicate_of: String,
        /// Why, in words (exact copy, or the pHash distance).
        reason: String,
    },
    /// A one-shot job moved on: `state` is running, done or failed.
    JobProgress {
        /// The job id.
        job: u64,
        /// running | done | failed.
        state: String,
        /// Files handled so far.
        done: u64,
        /// Files to handle (0 until known).
        total: u64,
        /// The summary (done), the error (failed), else empty.
        detail: String,
    },
}

/// Where the daemon sends its [`Signal`]s.
pub type Emitter = std::sync::Arc<dyn Fn(Signal) + Send + Sync>;

/// A progress line of a streamed call, sent before its response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EventLine {
    /// Protocol version.
    pub v: u32,
    /// The request's id.
    pub id: u64,
    /// The event.
    pub event: serde_json::Value,
}

impl Response {
    /// A success.
    pub fn ok(id: u64, result: serde_json::Value) -> Response {
        Response { v: VERSION, id, result: Some(result), error: None, usage: false, denied: false }
    }
    /// A failure.
    pub fn err(id: u64, error: impl Into<String>) -> Response {
        Response { v: VERSION, id, result: None, error: Some(error.into()), usage: false, denied: false }
    }
    /// A refusal: the caller may not do this.
    pub fn denied(id: u64, error: impl Into<String>) -> Response {
        Response { denied: true, ..Response::err(id, error) }
    }
    /// A bad request: the caller asked for something malformed.
    pub fn usage(id: u64, error: impl Into<String>) -> Response {
        Response { usage: true, ..Response::err(id, error) }
    }
}

/// One inbox in a status report.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InboxStatus {
    /// Its folder.
    pub path: String,
    /// move | copy.
    pub mode: String,
    /// False while the folder is missing (an unmounted disk): it is paused, not read as empty.
    pub available: bool,
}

/// Counts of what happened to files.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Counts {
    /// Filed into the library.
    pub filed: u64,
    /// Left in the inbox as duplicates of library files (or of a better incoming copy).
    pub skipped: u64,
    /// Could not be filed (damaged, unreadable).
    pub failed: u64,
}

/// What `status` answers.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Status {
    /// Protocol version of the daemon.
    pub version: u32,
    /// Daemon process id.
    pub pid: u32,
    /// Seconds since start.
    pub uptime_seconds: u64,
    /// Paused by `cbctl pause`.
    pub paused: bool,
    /// The library folder.
    pub library: String,
    /// False while the library is missing: filing is paused.
    pub library_available: bool,
    /// Why filing is paused, while it is (library not mounted, disk full).
    #[serde(default)]
    pub library_problem: Option<String>,
    /// The inboxes.
    pub inboxes: Vec<InboxStatus>,
    /// Files seen in the inboxes and not yet handled (settling or waiting).
    pub queue: u64,
    /// Since midnight (local time).
    pub today: Counts,
    /// Since the daemon started.
    pub total: Counts,
    /// Files in the library index.
    pub index_files: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
    /// The one-shot job running now, if any.
    #[serde(default)]
    pub job: Option<JobStatus>,
    /// Jobs waiting behind it.
    #[serde(default)]
    pub jobs_queued: u64,
}

/// A one-shot job on the daemon.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct JobStatus {
    /// Its id (also in its D-Bus JobProgress signals).
    pub id: u64,
    /// organize | dedup.
    pub kind: String,
    /// Files handled so far.
    pub done: u64,
    /// Files to handle, once known (0 before).
    pub total: u64,
}
