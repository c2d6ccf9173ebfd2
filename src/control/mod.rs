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
        Response { v: VERSION, id, result: Some(result), error: None, usage: false }
    }
    /// A failure.
    pub fn err(id: u64, error: impl Into<String>) -> Response {
        Response { v: VERSION, id, result: None, error: Some(error.into()), usage: false }
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
