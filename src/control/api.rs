//! The control API as types: every request, its reply and the error, once.
//!
//! The socket carries them as JSON lines ([`super::wire`]), D-Bus as method
//! calls ([`super::dbus`]), and `cbctl --local` not at all: it hands the same
//! [`Request`] to the same [`super::service::Service`] in-process.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::engine::job::{JobEvent, JobSpec, JobSummary};
use crate::engine::verdicts::{Corrected, SetAside};
use crate::engine::why::Why;
use crate::journal::{PruneReport, UndoReport};
use crate::store::SessionRow;

/// A request, tagged by its method name (`"method"`, with its arguments in
/// `"params"`): the one list of methods the socket, D-Bus and `cbctl` share.
/// A field that is missing, of the wrong type or unknown is refused by
/// serde; [`Request::check`] refuses values out of range. Either way nothing
/// acts on it (a prune with a bad time must never prune).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", content = "params", deny_unknown_fields)]
pub enum Request {
    /// What the daemon is doing.
    #[serde(rename = "status")]
    Status {},
    /// Stop filing until `resume`.
    #[serde(rename = "pause")]
    Pause {},
    /// Resume filing.
    #[serde(rename = "resume")]
    Resume {},
    /// Look at every inbox file again and catch the library index up.
    #[serde(rename = "rescan")]
    Rescan {
        /// Also look again at files an undo put back (left alone otherwise).
        #[serde(default)]
        undone: bool,
    },
    /// Past sessions, newest first.
    #[serde(rename = "history")]
    History {
        /// Sessions to list, 1 to 10,000.
        #[serde(default = "default_limit")]
        limit: i64,
    },
    /// Put back what a session did: `{session: N}` or `{last: true}`.
    #[serde(rename = "undo")]
    Undo {
        /// The session.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session: Option<i64>,
        /// The newest session with files still in place.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        last: bool,
    },
    /// Empty the trash of sessions finished before a time.
    #[serde(rename = "prune")]
    Prune {
        /// The cutoff (RFC 3339).
        before: chrono::DateTime<chrono::FixedOffset>,
        /// List what would go, remove nothing.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        dry_run: bool,
    },
    /// What became of a file, and why.
    #[serde(rename = "why")]
    Why {
        /// The file asked about (absolute, as the journal has it).
        path: PathBuf,
    },
    /// Every file a session set aside, with its keeper and the command that files it.
    #[serde(rename = "skipped")]
    Skipped {},
    /// File a set-aside file after all, and never call it a duplicate of its keeper again.
    #[serde(rename = "keep")]
    Keep {
        /// The file (absolute): where it was left, or where it was moved to.
        path: PathBuf,
    },
    /// Two files are never duplicates of each other (kept by content).
    #[serde(rename = "not_duplicate")]
    NotDuplicate {
        /// One file (absolute).
        a: PathBuf,
        /// The other (absolute).
        b: PathBuf,
    },
    /// Keep this file over its duplicates from now on (kept by content):
    /// dedup and filing pick it as the keeper of its group. Journaled:
    /// `undo` takes it back.
    #[serde(rename = "prefer")]
    Prefer {
        /// The file (absolute).
        path: PathBuf,
    },
    /// Lift a remembered deletion of a file's content.
    #[serde(rename = "forget")]
    Forget {
        /// The file (absolute).
        path: PathBuf,
    },
    /// A config value, or the whole resolved config.
    #[serde(rename = "config.get")]
    ConfigGet {
        /// The dotted key; `None`: everything.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<String>,
    },
    /// Set a key in the config file (comments kept) and apply it.
    #[serde(rename = "config.set")]
    ConfigSet {
        /// The dotted key.
        key: String,
        /// The new value (TOML, or a bare string).
        value: String,
        /// The file the client means; refused when it is not the daemon's.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        file: Option<PathBuf>,
    },
    /// Run a one-shot job (organize, dedup, compress) on the job worker.
    #[serde(rename = "job.submit")]
    Submit {
        /// The job, every option resolved by the client.
        spec: JobSpec,
        /// Stream progress before the answer (else answer `{job}` at once).
        #[serde(default)]
        stream: bool,
    },
}

fn default_limit() -> i64 {
    20
}

impl Request {
    /// Every method name, as on the wire.
    pub const METHODS: &'static [&'static str] = &[
        "status",
        "pause",
        "resume",
        "rescan",
        "history",
        "undo",
        "prune",
        "why",
        "skipped",
        "keep",
        "not_duplicate",
        "prefer",
        "forget",
        "config.get",
        "config.set",
        "job.submit",
    ];

    /// The method name, as on the wire.
    pub fn method(&self) -> &'static str {
        match self {
            Request::Status {} => "status",
            Request::Pause {} => "pause",
            Request::Resume {} => "resume",
            Request::Rescan { .. } => "rescan",
            Request::History { .. } => "history",
            Request::Undo { .. } => "undo",
            Request::Prune { .. } => "prune",
            Request::Why { .. } => "why",
            Request::Skipped {} => "skipped",
            Request::Keep { .. } => "keep",
            Request::NotDuplicate { .. } => "not_duplicate",
            Request::Prefer { .. } => "prefer",
            Request::Forget { .. } => "forget",
            Request::ConfigGet { .. } => "config.get",
            Request::ConfigSet { .. } => "config.set",
            Request::Submit { .. } => "job.submit",
        }
    }

    /// Anyone who can reach the daemon may ask this: it changes nothing.
    pub fn is_open(&self) -> bool {
        matches!(self, Request::Status {} | Request::History { .. } | Request::Why { .. } | Request::Skipped {})
    }

    /// Only a running daemon can answer this (its state, its inboxes).
    pub fn needs_daemon(&self) -> bool {
        matches!(self, Request::Status {} | Request::Pause {} | Request::Resume {} | Request::Rescan { .. })
    }

    /// Answered from the journal (history, why, undo, prune, jobs), not the config alone.
    pub fn uses_journal(&self) -> bool {
        !matches!(self, Request::ConfigGet { .. } | Request::ConfigSet { .. }) && !self.needs_daemon()
    }

    /// Refuses values serde lets through but that make no sense.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Request::History { limit } if !(1..=10_000).contains(limit) => {
                Err(format!("bad params for history: limit {limit} is not 1 to 10000"))
            }
            Request::Undo { session: Some(s), last: false } if *s > 0 => Ok(()),
            Request::Undo { session: None, last: true } => Ok(()),
            Request::Undo { .. } => {
                Err("bad params for undo: give {\"session\": N} (N > 0) or {\"last\": true}".into())
            }
            Request::Why { path } if path.as_os_str().is_empty() => {
                Err("bad params for why: path must be a non-empty path".into())
            }
            Request::Keep { path } | Request::Forget { path } | Request::Prefer { path } if !path.is_absolute() => {
                Err(format!("bad params for {}: path must be an absolute path", self.method()))
            }
            Request::NotDuplicate { a, b } if !a.is_absolute() || !b.is_absolute() => {
                Err("bad params for not_duplicate: a and b must be absolute paths".into())
            }
            _ => Ok(()),
        }
    }
}

/// What kind of failure an [`ApiError`] is: it decides cbctl's exit code
/// and D-Bus's error name, so it survives every transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The request was at fault (a bad key, no such session, nothing to undo): nothing changed.
    Usage,
    /// A folder the request names is not there (where the daemon runs).
    NoSuchFolder,
    /// The caller may not do this.
    Denied,
    /// Another protocol version.
    Version,
    /// The request line could not be read.
    Malformed,
    /// The work failed (a file, the disk, the journal).
    Failed,
    /// No daemon answers (client side only).
    Unreachable,
    /// The daemon's answer broke off or could not be read (client side only).
    Protocol,
}

/// A failed request: its kind, a message for the person at the terminal,
/// and, when there is one, what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// The folder or file it is about, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
}

impl ApiError {
    /// An error of `kind`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into(), hint: None, path: None }
    }
    /// The request's fault.
    pub fn usage(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Usage, message)
    }
    /// The work's fault.
    pub fn failed(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Failed, message)
    }
    /// The caller may not.
    pub fn denied(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Denied, message)
    }
    /// With what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> ApiError {
        self.hint = Some(hint.into());
        self
    }
    /// About this path.
    pub fn at(mut self, path: impl Into<PathBuf>) -> ApiError {
        self.path = Some(path.into());
        self
    }
    /// True when nothing was done because the request was wrong (exit 2).
    pub fn is_usage(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Usage | ErrorKind::NoSuchFolder | ErrorKind::Denied | ErrorKind::Version | ErrorKind::Malformed
        )
    }
}

impl From<crate::engine::EngineError> for ApiError {
    fn from(e: crate::engine::EngineError) -> ApiError {
        use crate::engine::EngineError as E;
        match &e {
            E::MissingSource(p) => ApiError::new(ErrorKind::NoSuchFolder, e.to_string()).at(p.clone()),
            _ if e.is_usage() => ApiError::usage(e.to_string()),
            _ => ApiError::failed(e.to_string()),
        }
    }
}

impl From<crate::journal::JournalError> for ApiError {
    fn from(e: crate::journal::JournalError) -> ApiError {
        use crate::journal::JournalError as J;
        match e {
            e if e.is_usage() => ApiError::usage(e.to_string()),
            J::Store(crate::store::StoreError::Locked { .. }) => ApiError::usage(e.to_string()),
            e => ApiError::failed(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> ApiError {
        match e {
            crate::store::StoreError::Locked { .. } => ApiError::usage(e.to_string()),
            e => ApiError::failed(e.to_string()),
        }
    }
}

impl From<crate::engine::verdicts::CorrectionError> for ApiError {
    fn from(e: crate::engine::verdicts::CorrectionError) -> ApiError {
        use crate::engine::verdicts::CorrectionError as C;
        match e {
            C::NotSetAside(p) => ApiError::usage(C::NotSetAside(p.clone()).to_string())
                .hint("see `cbctl skipped` for the files that are")
                .at(p),
            C::NotRemembered(p) => ApiError::usage(C::NotRemembered(p.clone()).to_string())
                .hint("`cbctl skipped` lists the files set aside as deleted before")
                .at(p),
            C::Missing(p) => ApiError::usage(C::Missing(p.clone()).to_string()).at(p),
            C::Engine(e) => e.into(),
            C::Store(e) => e.into(),
            e if e.is_usage() => ApiError::usage(e.to_string()),
            e => ApiError::failed(e.to_string()),
        }
    }
}

impl From<crate::config::ConfigError> for ApiError {
    fn from(e: crate::config::ConfigError) -> ApiError {
        use crate::config::ConfigError as C;
        match e {
            C::NotWritable { .. } | C::Io { .. } => ApiError::failed(e.to_string()),
            e => ApiError::usage(e.to_string()),
        }
    }
}

/// One file an undo put back (or could not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndoneFile {
    /// Where it was.
    pub from: String,
    /// Where it is now.
    pub to: String,
    /// Why it was left in place, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
}

/// What an undo did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Undone {
    /// The counts.
    pub report: UndoReport,
    /// Each file.
    pub files: Vec<UndoneFile>,
}

/// One file a prune removed (or would remove, or could not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrunedFile {
    /// The file in the trash.
    pub path: String,
    /// Where it was before it was trashed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original: Option<String>,
    /// Its size.
    #[serde(default)]
    pub bytes: u64,
    /// Why it could not be removed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What a prune did (or, for a dry run, would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pruned {
    /// The counts (for a dry run: what would be removed).
    pub report: PruneReport,
    /// Each file.
    pub files: Vec<PrunedFile>,
    /// Nothing was removed: this is what a prune would remove.
    #[serde(default)]
    pub dry_run: bool,
}

/// A config value, or a changed key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigValue {
    /// The config file.
    pub file: String,
    /// The value (TOML), for `config.get`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Things the user should know about the edit (the file is under version control...).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// The answer to a [`Request`], one variant per method.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `status`.
    Status(Box<super::Status>),
    /// `pause`, `resume`, and a `rescan` with no library to index.
    Done,
    /// `rescan`: what the library index caught up with.
    Rescanned(crate::engine::index::RefreshReport),
    /// `history`.
    History(Vec<SessionRow>),
    /// `undo`.
    Undone(Undone),
    /// `prune`.
    Pruned(Pruned),
    /// `why`.
    Why(Box<Why>),
    /// `skipped`: the files set aside, newest first.
    Skipped(Vec<SetAside>),
    /// `keep`, `not_duplicate`, `prefer`, `forget`.
    Corrected(Box<Corrected>),
    /// `config.get` / `config.set`.
    Config(ConfigValue),
    /// `job.submit` with `stream`: the job's summary.
    Job(JobSummary),
    /// `job.submit` without `stream`: queued as this job.
    Queued {
        /// The job id (in its D-Bus JobProgress signals).
        job: u64,
    },
}

impl Reply {
    /// The result object on the wire.
    pub fn to_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        use serde_json::to_value;
        match self {
            Reply::Status(s) => to_value(s),
            Reply::Done => Ok(serde_json::json!({})),
            Reply::Rescanned(r) => to_value(r),
            Reply::History(h) => to_value(h),
            Reply::Undone(u) => to_value(u),
            Reply::Pruned(p) => to_value(p),
            Reply::Why(w) => to_value(w),
            Reply::Skipped(s) => to_value(s),
            Reply::Corrected(c) => to_value(c),
            Reply::Config(c) => to_value(c),
            Reply::Job(j) => to_value(j),
            Reply::Queued { job } => Ok(serde_json::json!({ "job": job })),
        }
    }

    /// Reads the result of `request` back from the wire.
    pub fn from_json(request: &Request, v: serde_json::Value) -> Result<Reply, serde_json::Error> {
        use serde_json::from_value;
        Ok(match request {
            Request::Status {} => Reply::Status(Box::new(from_value(v)?)),
            Request::Pause {} | Request::Resume {} => Reply::Done,
            Request::Rescan { .. } if v.as_object().is_some_and(|o| o.is_empty()) => Reply::Done,
            Request::Rescan { .. } => Reply::Rescanned(from_value(v)?),
            Request::History { .. } => Reply::History(from_value(v)?),
            Request::Undo { .. } => Reply::Undone(from_value(v)?),
            Request::Prune { .. } => Reply::Pruned(from_value(v)?),
            Request::Why { .. } => Reply::Why(Box::new(from_value(v)?)),
            Request::Skipped {} => Reply::Skipped(from_value(v)?),
            Request::Keep { .. } | Request::NotDuplicate { .. } | Request::Prefer { .. } | Request::Forget { .. } => {
                Reply::Corrected(Box::new(from_value(v)?))
            }
            Request::ConfigGet { .. } | Request::ConfigSet { .. } => Reply::Config(from_value(v)?),
            Request::Submit { stream: false, .. } => {
                #[derive(Deserialize)]
                struct Q {
                    job: u64,
                }
                Reply::Queued { job: from_value::<Q>(v)?.job }
            }
            Request::Submit { spec, stream: true } => Reply::Job(JobSummary::decode(spec, v)?),
        })
    }
}

/// Where the progress of a streamed job goes.
pub type OnEvent<'a> = &'a mut (dyn FnMut(JobEvent) + Send);

/// Something that answers requests: the daemon over its socket, or this
/// process on the journal itself (`cbctl --local`). cbctl picks one and
/// every command is written once, against this.
pub trait Control {
    /// Answers `request`, handing a job's progress to `on_event` first.
    fn call(&mut self, request: Request, on_event: OnEvent<'_>) -> Result<Reply, ApiError>;

    /// Lets go of what it holds between calls (the journal and its lock,
    /// when it answers here), so that other cbctl commands can run while a
    /// long-lived caller (the review page) waits for its user.
    fn release(&mut self) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(v: serde_json::Value) -> Result<Request, String> {
        let r: Request = serde_json::from_value(v).map_err(|e| e.to_string())?;
        r.check()?;
        Ok(r)
    }

    #[test]
    fn every_request_round_trips_through_json() {
        let spec = JobSpec::Dedup {
            dirs: vec!["/p".into()],
            action: crate::engine::dedup::DedupAction::Report,
            to: None,
            library: None,
            group: crate::engine::group::GroupOptions::from_config(&crate::config::Config::defaults()),
            keepers: vec!["/p/a.jpg".into()],
            members: vec!["/p/b.jpg".into()],
            undated: true,
            exact: false,
            all_files: false,
        };
        let before = chrono::DateTime::parse_from_rfc3339("2026-01-02T03:04:05+01:00").unwrap();
        let all = vec![
            Request::Status {},
            Request::Pause {},
            Request::Resume {},
            Request::Rescan { undone: true },
            Request::History { limit: 7 },
            Request::Undo { session: Some(3), last: false },
            Request::Undo { session: None, last: true },
            Request::Prune { before, dry_run: true },
            Request::Why { path: "/x/y.jpg".into() },
            Request::Skipped {},
            Request::Keep { path: "/x/y.jpg".into() },
            Request::NotDuplicate { a: "/x/y.jpg".into(), b: "/l/z.jpg".into() },
            Request::Prefer { path: "/x/y.jpg".into() },
            Request::Forget { path: "/x/y.jpg".into() },
            Request::ConfigGet { key: Some("layout".into()) },
            Request::ConfigGet { key: None },
            Request::ConfigSet { key: "a".into(), value: "b".into(), file: Some("/c".into()) },
            Request::Submit { spec, stream: true },
        ];
        for r in all {
            let v = serde_json::to_value(&r).unwrap();
            assert_eq!(v["method"], r.method(), "{v}");
            assert!(Request::METHODS.contains(&r.method()));
            assert_eq!(parse(v.clone()), Ok(r.clone()), "{v}");
        }
    }

    #[test]
    fn the_wire_form_is_the_documented_one() {
        let r = parse(serde_json::json!({"method": "undo", "params": {"session": 4}})).unwrap();
        assert_eq!(r, Request::Undo { session: Some(4), last: false });
        let r = parse(serde_json::json!({"method": "history", "params": {}})).unwrap();
        assert_eq!(r, Request::History { limit: 20 });
        let r = parse(serde_json::json!({"method": "status", "params": {}})).unwrap();
        assert_eq!(r, Request::Status {});
    }

    #[test]
    fn bad_requests_are_refused_with_the_reason() {
        let refused = |v: serde_json::Value, says: &str| {
            let e = parse(v.clone()).expect_err(&v.to_string());
            assert!(e.contains(says), "{v}: {e}");
        };
        refused(serde_json::json!({"method": "frobnicate", "params": {}}), "unknown variant");
        refused(serde_json::json!({"method": "status", "params": {"x": 1}}), "unknown field");
        refused(serde_json::json!({"method": "history", "params": {"limit": 0}}), "limit 0");
        refused(serde_json::json!({"method": "history", "params": {"limit": "9"}}), "invalid type");
        refused(serde_json::json!({"method": "undo", "params": {}}), "give {");
        refused(serde_json::json!({"method": "undo", "params": {"session": -1}}), "give {");
        refused(serde_json::json!({"method": "undo", "params": {"session": 1, "last": true}}), "give {");
        refused(serde_json::json!({"method": "prune", "params": {"before": "yesterday"}}), "input contains invalid");
        refused(serde_json::json!({"method": "prune", "params": {}}), "missing field `before`");
        refused(serde_json::json!({"method": "why", "params": {"path": ""}}), "non-empty");
        refused(serde_json::json!({"method": "keep", "params": {"path": "x.jpg"}}), "absolute");
        refused(serde_json::json!({"method": "not_duplicate", "params": {"a": "/x", "b": "y"}}), "absolute");
        refused(serde_json::json!({"method": "keep", "params": {}}), "missing field `path`");
    }

    #[test]
    fn errors_keep_their_kind_across_the_wire() {
        let e = ApiError::new(ErrorKind::NoSuchFolder, "/x: no such folder").at("/x").hint("mount it");
        let back: ApiError = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(back, e);
        assert!(back.is_usage());
        assert!(!ApiError::failed("disk").is_usage());
    }

    #[test]
    fn replies_round_trip_by_their_request() {
        let s = super::super::Status { pid: 9, queue: 2, ..Default::default() };
        let v = Reply::Status(Box::new(s.clone())).to_json().unwrap();
        match Reply::from_json(&Request::Status {}, v).unwrap() {
            Reply::Status(back) => assert_eq!(*back, s),
            other => panic!("{other:?}"),
        }
        let v = Reply::Queued { job: 5 }.to_json().unwrap();
        let spec = JobSpec::Organize {
            src: "/a".into(),
            dest: "/b".into(),
            copy: false,
            dry_run: false,
            layout: "{year}".into(),
            layout_undated: "undated".into(),
            group: crate::engine::group::GroupOptions::from_config(&crate::config::Config::defaults()),
        };
        assert!(matches!(Reply::from_json(&Request::Submit { spec, stream: false }, v), Ok(Reply::Queued { job: 5 })));
    }
}
