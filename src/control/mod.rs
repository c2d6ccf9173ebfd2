//! How `cbctl` talks to `clean-backupd`, typed end to end.
//!
//! - [`api`]: every [`Request`], its [`Reply`] and the [`ApiError`] (a kind,
//!   a message, a hint): the one list of methods.
//! - [`service`]: the one implementation of every request, against the
//!   journal and the engine. The daemon serves it; `cbctl --local` calls it
//!   in-process.
//! - [`wire`]: the socket's JSON lines, `{"v":1,"id":7,"method":"status","params":{}}`
//!   in, `{"v":1,"id":7,"result":{...}}` or `{"v":1,"id":7,"error":{"kind":..,"message":..,"hint":..}}`
//!   out; a streamed job sends `{"v":1,"id":7,"event":{...}}` lines first.
//!   `v` is the protocol version: a request of another gets a clear
//!   version error. A line longer than [`MAX_REQUEST`] bytes, or one that is
//!   not a request, gets an error; the connection is then closed.
//! - [`server`] (the daemon's socket), [`client`] (cbctl's), [`dbus`]: thin
//!   adapters, nothing a client sends can stop the daemon.
//! - [`discovery`]: where a running daemon says its socket is.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub mod api;
pub mod client;
// zbus's `#[interface]` generates a signals trait whose methods lose their docs.
#[allow(missing_docs)]
pub mod dbus;
pub mod discovery;
mod server;
pub mod service;
pub mod wire;

pub use api::{ApiError, Control, ErrorKind, Reply, Request};
pub use client::Remote;
pub use server::{Call, Server, ToCaller};

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
    /// The library being read: at start (filing waits for it), or checked
    /// in the background (filing goes on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_check: Option<LibraryCheck>,
}

/// A read of the library in progress.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LibraryCheck {
    /// Files looked at so far.
    pub done: u64,
    /// Files in the library, once counted (0 before).
    pub total: u64,
    /// Filing waits for it (the first read since start or a config reload).
    pub filing_waits: bool,
    /// Milliseconds since it began.
    #[serde(default)]
    pub millis: u64,
    /// Seconds it still needs at the rate seen so far (none before the
    /// files are counted and the first is looked at).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<u64>,
}

impl LibraryCheck {
    /// `done` of `total` files looked at in `took`.
    pub fn new(done: u64, total: u64, took: std::time::Duration, filing_waits: bool) -> LibraryCheck {
        let secs = took.as_secs_f64();
        let eta_seconds = (done > 0 && total > 0 && secs > 0.0)
            .then(|| (total.saturating_sub(done) as f64 * secs / done as f64).ceil() as u64);
        LibraryCheck { done, total, filing_waits, millis: took.as_millis() as u64, eta_seconds }
    }
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::LibraryCheck;

    #[test]
    fn a_library_check_s_eta_is_the_files_left_at_the_rate_seen_so_far() {
        let c = LibraryCheck::new(2500, 10_000, Duration::from_secs(10), true);
        assert_eq!((c.millis, c.eta_seconds), (10_000, Some(30)));
        // Not counted yet, nothing looked at yet, or no time gone: no guess.
        assert_eq!(LibraryCheck::new(0, 0, Duration::from_secs(3), true).eta_seconds, None);
        assert_eq!(LibraryCheck::new(0, 500, Duration::from_secs(3), true).eta_seconds, None);
        assert_eq!(LibraryCheck::new(5, 500, Duration::ZERO, false).eta_seconds, None);
        // Done (or more seen than counted, as files arrive): nothing left.
        assert_eq!(LibraryCheck::new(500, 500, Duration::from_secs(3), false).eta_seconds, Some(0));
        assert_eq!(LibraryCheck::new(501, 500, Duration::from_secs(3), false).eta_seconds, Some(0));
    }
}
