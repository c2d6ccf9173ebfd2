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
//! - `config.get` `{key?}` → `{value}`; `config.set` `{key, value}` → `{}` (applied at once)

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

mod client;
mod server;

pub use client::{call, ControlError};
pub use server::{Call, Server};

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
}

impl Response {
    /// A success.
    pub fn ok(id: u64, result: serde_json::Value) -> Response {
        Response { v: VERSION, id, result: Some(result), error: None }
    }
    /// A failure.
    pub fn err(id: u64, error: impl Into<String>) -> Response {
        Response { v: VERSION, id, result: None, error: Some(error.into()) }
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
}
