//! Control requests, answered by the main loop between inboxes and while it sleeps.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use super::{jobs, park, Seen, State};
use crate::config::{self, Config};
use crate::control::{self, Call, InboxStatus, Response, Status};
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
/// without blocking. Jobs go to the job worker, which answers them itself.
pub(super) fn answer_calls(calls: &mpsc::Receiver<Call>, ctx: &mut Ctx<'_>) {
    for _ in 0..CALLS_PER_TURN {
        let Ok(call) = calls.try_recv() else { return };
        let id = call.request.id;
        let method = match control::Method::parse(&call.request.method, &call.request.params) {
            Ok(m) => m,
            Err(e) => {
                call.respond(Response::usage(id, e));
                continue;
            }
        };
        if let Err(e) = authorize(&call.request.method, &call.caller, ctx.cfg) {
            tracing::warn!(uid = call.caller.uid, pid = ?call.caller.pid, method = %call.request.method, "refused: {e}");
            call.respond(Response::denied(id, e));
            continue;
        }
        if let control::Method::JobSubmit { spec, stream } = method {
            match jobs::check_job(&spec, &call.caller, ctx.cfg) {
                Ok(access) => ctx.jobs.submit(call, spec, stream, access),
                Err(e) => call.respond(e.response(id)),
            }
            continue;
        }
        let response = match handle(method, &call.caller, ctx) {
            Ok(v) => Response::ok(id, v),
            Err(Fail::Work(e)) => Response::err(id, e),
            Err(Fail::Usage(e)) => Response::usage(id, e),
        };
        call.respond(response);
    }
}

/// May `caller` call `method`? Anyone who reaches the daemon may ask what
/// it is doing ([`control::OPEN_METHODS`]); everything else is for root,
/// the daemon's own user, and `control.allow_users` / `allow_groups`.
fn authorize(method: &str, caller: &crate::access::Caller, cfg: &Config) -> Result<(), String> {
    use crate::access;
    if control::OPEN_METHODS.contains(&method) || caller.is_daemon_peer() {
        return Ok(());
    }
    if cfg.allow_users.iter().any(|u| access::uid_of(u) == Some(caller.uid)) {
        return Ok(());
    }
    if cfg.allow_groups.iter().filter_map(|g| access::gid_of(g)).any(|g| caller.in_group(g)) {
        return Ok(());
    }
    let who = caller.user_name().unwrap_or_else(|| format!("uid {}", caller.uid));
    let me = access::user_name(rustix::process::geteuid().as_raw()).unwrap_or_else(|| "its own user".into());
    Err(format!(
        "{who} may not call {method}: only root, the daemon's user ({me}) and the users and groups in \
         control.allow_users / control.allow_groups may; anyone may ask for status, history and why"
    ))
}

/// An undo that cannot start is the request's fault (no such session,
/// nothing left to undo); one that fails on the way is the work's.
fn undo_failure(e: crate::journal::JournalError) -> Fail {
    use crate::journal::JournalError as J;
    match e {
        J::NoSuchSession(_) | J::NothingToUndo | J::UndoOfUndo(_) | J::PruneIsFinal(_) => Fail::Usage(e.to_string()),
        e => Fail::Work(e.to_string()),
    }
}

/// Why a control request failed: the work (exit 1 in cbctl), or the request
/// itself (a bad config value, the wrong config file: exit 2).
enum Fail {
    Work(String),
    Usage(String),
}

impl From<String> for Fail {
    fn from(e: String) -> Fail {
        Fail::Work(e)
    }
}

fn handle(
    method: control::Method,
    caller: &crate::access::Caller,
    ctx: &mut Ctx<'_>,
) -> Result<serde_json::Value, Fail> {
    use control::Method as M;
    let (journal, cfg, config_path, seen, state, reload) =
        (&mut *ctx.journal, ctx.cfg, ctx.config_path, &mut *ctx.seen, &mut *ctx.state, ctx.reload);
    fn to_json(v: impl serde::Serialize) -> Result<serde_json::Value, Fail> {
        serde_json::to_value(v).map_err(|e| Fail::Work(e.to_string()))
    }
    match method {
        M::Status => {
            let (job, jobs_queued) = ctx.jobs.status();
            let status = Status {
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
                queue: seen.values().filter(|s| !s.parked).count() as u64,
                today: state.today.clone(),
                total: state.total.clone(),
                index_files: journal.store().count_under(&cfg.library).unwrap_or(0),
                last_error: state.last_error.clone(),
            };
            to_json(&status)
        }
        M::Pause => {
            state.paused = true;
            tracing::info!(uid = caller.uid, "paused by request");
            Ok(serde_json::json!({}))
        }
        M::Resume => {
            state.paused = false;
            tracing::info!(uid = caller.uid, "resumed by request");
            Ok(serde_json::json!({}))
        }
        M::Rescan { undone } => {
            // Files left alone (errors, duplicates) get another look, and every
            // inbox is scanned; files an undo put back stay where the user
            // wanted them, unless asked (`cbctl rescan --undone`).
            seen.values_mut().filter(|s| undone || !s.undone).for_each(|s| s.parked = false);
            if undone {
                journal.store().unpark_all().map_err(|e| e.to_string())?;
            } else {
                journal.store().unpark_all_but_undone().map_err(|e| e.to_string())?;
            }
            state.rescan_requested = true;
            state.library = None;
            // A library folder without its marker is the library now: the user says so.
            if crate::fsops::is_dir(&cfg.library) {
                crate::marker::standing(journal.store(), &cfg.library, &cfg.state_dir, true)
                    .map_err(|e| e.to_string())?;
                state.library_problem = None;
                state.library_available = true;
            }
            // And the library index catches up with files added, moved or deleted behind our back.
            if crate::fsops::is_dir(&cfg.library) {
                let (_, report) = crate::engine::index::refresh(
                    journal.store_mut(),
                    &cfg.library,
                    cfg.dedup_perceptual,
                    &|_, _| {},
                    &mut |p, e| tracing::warn!(path = %p.display(), "library file not indexed: {e}"),
                )
                .map_err(|e| e.to_string())?;
                return to_json(&report);
            }
            Ok(serde_json::json!({}))
        }
        M::History { limit } => to_json(&journal.history(limit).map_err(|e| e.to_string())?),
        M::Prune { before } => {
            state.library = None;
            let before = before.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            let mut files = Vec::new();
            let report = journal
                .prune(&before, |path, problem| {
                    files.push(serde_json::json!({"path": path.to_string_lossy(), "error": problem}));
                })
                .map_err(|e| e.to_string())?;
            Ok(serde_json::json!({ "report": report, "files": files }))
        }
        M::Why { path } => to_json(&crate::engine::why::why(journal.store(), &path).map_err(|e| e.to_string())?),
        M::Undo { session } => {
            state.library = None;
            let session = match session {
                Some(s) => s,
                None => journal.last_undoable().map_err(undo_failure)?,
            };
            let mut files = Vec::new();
            let report = journal
                .undo(session, |ev| {
                    files.push(serde_json::json!({
                        "from": ev.from.to_string_lossy(),
                        "to": ev.to.to_string_lossy(),
                        "conflict": ev.conflict,
                    }))
                })
                .map_err(undo_failure)?;
            // Files put back into an inbox stay there: parked as undone, until
            // they change; `cbctl rescan` and restarts leave them alone too.
            let now = Instant::now();
            for f in &files {
                let Some(to) = f["to"].as_str().map(PathBuf::from) else { continue };
                if let (true, Ok(meta)) =
                    (cfg.inbox.iter().any(|i| to.starts_with(&i.path)), std::fs::symlink_metadata(&to))
                {
                    let (size, mtime_ns, _) = FileRow::stat_key(&meta);
                    let row = ParkedRow { path: to, size, mtime_ns, outcome: "undone".into(), reason: None };
                    park(journal, seen, row, now);
                }
            }
            Ok(serde_json::json!({ "report": report, "files": files }))
        }
        M::ConfigGet { key } => {
            let path = Config::locate(config_path).unwrap_or_else(config::user_config_path);
            config::get(&path, key.as_deref())
                .map(|v| serde_json::json!({ "value": v }))
                .map_err(|e| Fail::Usage(e.to_string()))
        }
        M::ConfigSet { key, value, file } => {
            let path = Config::locate(config_path).unwrap_or_else(config::user_config_path);
            if let Some(named) = file {
                let same = |p: &Path| crate::fsops::canonical_lenient(p).unwrap_or_else(|_| p.to_path_buf());
                if same(&named) != same(&path) {
                    return Err(Fail::Usage(format!(
                        "this daemon's config is {}, not {}: nothing was changed. Edit {} with `cbctl --local \
                         --config {} config set ...`, or point --config at the daemon's file",
                        path.display(),
                        named.display(),
                        named.display(),
                        named.display()
                    )));
                }
            }
            config::set_checked(&path, &key, &value, Some(&cfg.state_dir)).map_err(|e| match e {
                config::ConfigError::NotWritable { .. } | config::ConfigError::Io { .. } => Fail::Work(e.to_string()),
                _ => Fail::Usage(e.to_string()),
            })?;
            tracing::info!(uid = caller.uid, %key, %value, file = %path.display(), "config changed by request");
            reload.store(true, Ordering::Relaxed);
            Ok(serde_json::json!({ "file": path.to_string_lossy() }))
        }
        M::JobSubmit { .. } => Err(Fail::Work("job.submit goes to the job worker".into())),
    }
}
