//! Every control request, implemented once against the journal and the
//! engine. The daemon answers socket and D-Bus calls with it (passing
//! itself as the [`Daemon`] for what only it knows: its status, its
//! inboxes); `cbctl --local` calls it in-process with no daemon.

use std::path::{Path, PathBuf};

use super::api::{ApiError, ConfigValue, ErrorKind, OnEvent, Pruned, PrunedFile, Reply, Request, Undone, UndoneFile};
use super::Status;
use crate::access::{Access, Caller};
use crate::config::{self, Config};
use crate::engine::job::{self, JobSpec, JobSummary};
use crate::journal::{Journal, RecoveryReport};

/// What only a running daemon can answer or must hear about.
pub trait Daemon {
    /// Its state.
    fn status(&self, journal: &Journal) -> Status;
    /// `pause` (true) or `resume` (false), asked by `caller`.
    fn set_paused(&mut self, paused: bool, caller: &Caller);
    /// Every inbox file gets another look (those an undo put back only with `undone`).
    fn rescan(&mut self, undone: bool);
    /// The library folder is the library now (its marker was written).
    fn library_adopted(&mut self);
    /// The library changed behind the daemon's back (undo, prune, rescan): read it again.
    fn library_changed(&mut self);
    /// An undo put these files back: those now in an inbox stay there until they change.
    fn put_back(&mut self, journal: &mut Journal, files: &[UndoneFile]);
    /// The config file was changed: reload it.
    fn config_changed(&mut self);
}

/// The journal, open (the daemon's) or opened on first use (`cbctl --local`,
/// which must not take the lock for `config get`).
pub enum Journaled<'a> {
    /// Already open.
    Open(&'a mut Journal),
    /// Opened from this state folder when a request needs it.
    Lazy {
        /// The state folder.
        state_dir: PathBuf,
        /// The journal, once opened.
        journal: Option<Box<Journal>>,
        /// What opening it repaired (an interrupted run), to tell the user.
        recovery: Option<RecoveryReport>,
    },
}

impl Journaled<'_> {
    /// The journal, opening it if need be.
    pub fn get(&mut self) -> Result<&mut Journal, ApiError> {
        match self {
            Journaled::Open(j) => Ok(j),
            Journaled::Lazy { state_dir, journal, recovery } => {
                if journal.is_none() {
                    let (j, report) = Journal::open(state_dir).map_err(local_open_error)?;
                    *recovery = Some(report);
                    *journal = Some(Box::new(j));
                }
                journal.as_deref_mut().ok_or_else(|| ApiError::failed("the journal could not be opened"))
            }
        }
    }
}

/// Opening the journal here failed: when the daemon holds it, say to ask the daemon.
fn local_open_error(e: crate::journal::JournalError) -> ApiError {
    use crate::journal::JournalError as J;
    if let J::Store(crate::store::StoreError::Locked { path, pid }) = &e {
        // Name the holder: the daemon, or another cbctl (a `cbctl review` page left open).
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).map(|c| c.trim().to_string()).ok();
        let who = comm.filter(|c| !c.is_empty()).unwrap_or_else(|| "clean-backupd".to_string());
        let hint = if who == "cbctl" {
            "wait for that cbctl to finish (a `cbctl review` page holds it only while it acts), then try again"
        } else {
            "drop --local: the running daemon answers this itself"
        };
        return ApiError::usage(format!("the journal {} is in use by {who} (pid {pid})", path.display())).hint(hint);
    }
    e.into()
}

/// Answers requests.
pub struct Service<'a> {
    /// The journal.
    pub journal: Journaled<'a>,
    /// The config in force (`None`: it could not be read; only `config` requests work then).
    pub cfg: Option<&'a Config>,
    /// The config file named on the command line, if any.
    pub config_path: Option<&'a Path>,
    /// The daemon, when this runs in it.
    pub daemon: Option<&'a mut dyn Daemon>,
}

impl Service<'_> {
    /// Answers `request` from `caller`, checking first that it may ask.
    /// A job runs here, to its end, handing its progress to `on_event`.
    pub fn answer(&mut self, caller: &Caller, request: Request, on_event: OnEvent<'_>) -> Result<Reply, ApiError> {
        request.check().map_err(ApiError::usage)?;
        if let Some(cfg) = self.cfg {
            authorize(&request, caller, cfg)?;
        }
        match request {
            Request::Status {} => {
                self.daemon()?;
                let Service { journal, daemon, .. } = self;
                match daemon.as_deref() {
                    Some(d) => Ok(Reply::Status(Box::new(d.status(journal.get()?)))),
                    None => Err(no_daemon()),
                }
            }
            Request::Pause {} => {
                self.daemon()?.set_paused(true, caller);
                Ok(Reply::Done)
            }
            Request::Resume {} => {
                self.daemon()?.set_paused(false, caller);
                Ok(Reply::Done)
            }
            Request::Rescan { undone } => self.rescan(undone),
            Request::History { limit } => Ok(Reply::History(self.journal.get()?.history(limit)?)),
            Request::Why { path } => {
                let w = crate::engine::why::why(self.journal.get()?.store(), &path).map_err(ApiError::from)?;
                Ok(Reply::Why(Box::new(w)))
            }
            Request::Skipped {} => Ok(Reply::Skipped(crate::engine::verdicts::skipped(self.journal.get()?.store())?)),
            Request::Keep { path } => self.keep(caller, &path, on_event),
            Request::NotDuplicate { a, b } => self.not_duplicate(caller, &a, &b),
            Request::Prefer { path } => self.prefer(caller, &path),
            Request::Forget { path } => self.forget(caller, &path),
            Request::Undo { session, .. } => self.undo(session),
            Request::Prune { before, dry_run } => self.prune(before, dry_run),
            Request::ConfigGet { key } => {
                let path = self.config_file();
                let value = config::get(&path, key.as_deref())?;
                Ok(Reply::Config(ConfigValue { file: lossy(&path), value: Some(value), warnings: Vec::new() }))
            }
            Request::ConfigSet { key, value, file } => self.config_set(caller, &key, &value, file),
            Request::Submit { spec, .. } => Ok(Reply::Job(run_job(self.journal.get()?, &spec, None, on_event)?)),
        }
    }

    fn daemon(&mut self) -> Result<&mut dyn Daemon, ApiError> {
        match self.daemon.as_deref_mut() {
            Some(d) => Ok(d),
            None => Err(no_daemon()),
        }
    }

    fn config_file(&self) -> PathBuf {
        Config::locate(self.config_path).unwrap_or_else(config::user_config_path)
    }

    /// Files left alone get another look; the library index catches up with
    /// files added, moved or deleted behind the daemon's back, and a library
    /// folder without its marker is adopted: the user says it is the library.
    fn rescan(&mut self, undone: bool) -> Result<Reply, ApiError> {
        let cfg = self.cfg.ok_or_else(|| ApiError::usage("the config could not be read"))?;
        self.daemon()?.rescan(undone);
        let journal = self.journal.get()?;
        if undone {
            journal.store().unpark_all()?;
        } else {
            journal.store().unpark_all_but_undone()?;
        }
        if !crate::fsops::is_dir(&cfg.library) {
            return Ok(Reply::Done);
        }
        crate::marker::standing(journal.store(), &cfg.library, &cfg.state_dir, true)
            .map_err(|e| ApiError::failed(e.to_string()))?;
        let report = crate::engine::index::update(
            journal.store_mut(),
            &cfg.library,
            cfg.dedup_perceptual,
            &|_, _| {},
            &mut |p, e| tracing::warn!(path = %p.display(), "library file not indexed: {e}"),
        )
        .map_err(ApiError::from)?;
        if let Some(d) = self.daemon.as_deref_mut() {
            d.library_adopted();
        }
        Ok(Reply::Rescanned(report))
    }

    /// `cbctl keep FILE`: files a set-aside file where the session that set
    /// it aside would have filed it (the daemon's library, or a job's DEST),
    /// through the journal, with the caller's rights; its keeper and it are
    /// never duplicates again.
    fn keep(&mut self, caller: &Caller, path: &Path, on_event: OnEvent<'_>) -> Result<Reply, ApiError> {
        use crate::engine::organize::QUARANTINE_DIR;
        let cfg = self.cfg.ok_or_else(|| ApiError::usage("the config could not be read"))?;
        let in_daemon = self.daemon.is_some();
        let journal = self.journal.get()?;
        if !crate::fsops::exists(path).unwrap_or(false) {
            return Err(crate::engine::verdicts::CorrectionError::Missing(path.to_path_buf()).into());
        }
        let Some(decision) = journal.store().set_aside_at(path)? else {
            return Err(crate::engine::verdicts::CorrectionError::NotSetAside(path.to_path_buf()).into());
        };
        // Filed where the session that set it aside filed the others.
        let dest = journal
            .store()
            .session(decision.session)?
            .and_then(|s| s.params.get("dest").and_then(|v| v.as_str()).map(PathBuf::from))
            .unwrap_or_else(|| cfg.library.clone());
        let canon = |p: &Path| crate::fsops::canonical_lenient(p).unwrap_or_else(|_| p.to_path_buf());
        let (file, dest_c) = (canon(path), canon(&dest));
        let inbox = cfg.inbox.iter().find(|i| file.starts_with(canon(&i.path)));
        if in_daemon {
            // As for jobs: only files in the folders this daemon works in,
            // filed only into its library or a job root.
            let job_roots: Vec<PathBuf> = cfg.job_roots.iter().map(|r| canon(r)).collect();
            let under_roots = inbox.is_some()
                || file.starts_with(dest_c.join(QUARANTINE_DIR))
                || job_roots.iter().any(|r| file.starts_with(r));
            let dest_ok = dest_c == canon(&cfg.library) || job_roots.iter().any(|r| dest_c.starts_with(r));
            if !under_roots || !dest_ok {
                return Err(ApiError::usage(format!(
                    "{}: not in an inbox, the duplicates folder or control.job_roots of this daemon,                      or it would be filed outside them ({})",
                    path.display(),
                    dest.display()
                ))
                .hint("run it yourself with `cbctl --local keep FILE`")
                .at(path));
            }
        }
        let mode = match inbox {
            Some(i) if i.mode == config::Mode::Copy => config::Mode::Copy,
            _ => config::Mode::Move,
        };
        let access = caller.access(mode == config::Mode::Move);
        if let Some(a) = &access {
            use crate::access::Want;
            a.check(&file, Want::Read).map_err(ApiError::denied)?;
            let meta =
                std::fs::symlink_metadata(&file).map_err(|e| ApiError::failed(format!("{}: {e}", file.display())))?;
            if mode == config::Mode::Move && !a.may_remove(&file, &meta) {
                return Err(ApiError::denied(a.denied(&file, "move")));
            }
        }
        if let crate::marker::Standing::Away(why) =
            crate::marker::standing(journal.store(), &dest_c, journal.state_dir(), false)
                .map_err(|e| ApiError::failed(e.to_string()))?
        {
            return Err(ApiError::failed(why));
        }
        let layout = cfg.layouts().map_err(|e| ApiError::usage(e.to_string()))?;
        let opts = crate::engine::OrganizeOptions {
            src: file.parent().map(Path::to_path_buf).unwrap_or_default(),
            dest: dest_c,
            mode,
            dry_run: false,
            layout,
            session_kind: "keep",
            dedup: crate::engine::group::GroupOptions::from_config(cfg),
            quarantine: None,
            compress: cfg
                .compress_enabled
                .then(|| crate::media::compress::Level::new(cfg.compress_level).unwrap_or_default()),
            access: access.clone(),
            keep: true,
            wait_for: Default::default(),
        };
        let corrected = crate::engine::verdicts::keep(journal, &opts, &file, &mut |ev| on_event(ev.into()))?;
        if let Some(d) = self.daemon.as_deref_mut() {
            d.library_changed();
        }
        Ok(Reply::Corrected(Box::new(corrected)))
    }

    /// `cbctl not-duplicate A B`: the pair is kept apart by content, and the
    /// daemon looks again at the files it left alone.
    fn not_duplicate(&mut self, caller: &Caller, a: &Path, b: &Path) -> Result<Reply, ApiError> {
        may_read(caller, a)?;
        may_read(caller, b)?;
        let journal = self.journal.get()?;
        let corrected = crate::engine::verdicts::not_duplicate(journal, a, b)?;
        self.look_again()?;
        Ok(Reply::Corrected(Box::new(corrected)))
    }

    /// `cbctl prefer FILE`: its content is the keeper of its group from now
    /// on, in a `prefer` session `cbctl undo` takes back.
    fn prefer(&mut self, caller: &Caller, path: &Path) -> Result<Reply, ApiError> {
        may_read(caller, path)?;
        let corrected = crate::engine::verdicts::prefer(self.journal.get()?, path)?;
        Ok(Reply::Corrected(Box::new(corrected)))
    }

    /// `cbctl forget FILE`: a remembered deletion of its content is lifted,
    /// and the daemon looks again at the files it left alone.
    fn forget(&mut self, caller: &Caller, path: &Path) -> Result<Reply, ApiError> {
        may_read(caller, path)?;
        let corrected = crate::engine::verdicts::forget(self.journal.get()?, path)?;
        self.look_again()?;
        Ok(Reply::Corrected(Box::new(corrected)))
    }

    /// After a correction: files left alone get another look (now, by the
    /// daemon; by the next daemon to start, when none runs).
    fn look_again(&mut self) -> Result<(), ApiError> {
        self.journal.get()?.store().unpark_all_but_undone()?;
        if let Some(d) = self.daemon.as_deref_mut() {
            d.rescan(false);
        }
        Ok(())
    }

    fn undo(&mut self, session: Option<i64>) -> Result<Reply, ApiError> {
        if let Some(d) = self.daemon.as_deref_mut() {
            d.library_changed();
        }
        let journal = self.journal.get()?;
        let session = match session {
            Some(s) => s,
            None => journal.last_undoable()?,
        };
        let mut files = Vec::new();
        let report = journal.undo(session, |ev| {
            files.push(UndoneFile { from: lossy(&ev.from), to: lossy(&ev.to), conflict: ev.conflict.clone() })
        })?;
        let Service { journal, daemon, .. } = self;
        if let Some(d) = daemon.as_deref_mut() {
            d.put_back(journal.get()?, &files);
        }
        Ok(Reply::Undone(Undone { report, files }))
    }

    fn prune(&mut self, before: chrono::DateTime<chrono::FixedOffset>, dry_run: bool) -> Result<Reply, ApiError> {
        if let (Some(d), false) = (self.daemon.as_deref_mut(), dry_run) {
            d.library_changed();
        }
        let before = before.with_timezone(&chrono::Utc).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let journal = self.journal.get()?;
        let mut files = Vec::new();
        if dry_run {
            let preview = journal.prune_preview(&before)?;
            let report = crate::journal::PruneReport {
                session: None,
                removed: preview.files.len(),
                bytes: preview.bytes,
                problems: preview.problems,
            };
            let files = preview
                .files
                .into_iter()
                .map(|f| PrunedFile { path: f.trash_path, original: Some(f.original), bytes: f.bytes, error: None })
                .collect();
            return Ok(Reply::Pruned(Pruned { report, files, dry_run }));
        }
        let report = journal.prune(&before, |path, problem| {
            files.push(PrunedFile { path: lossy(path), original: None, bytes: 0, error: problem.map(str::to_string) })
        })?;
        Ok(Reply::Pruned(Pruned { report, files, dry_run }))
    }

    fn config_set(
        &mut self,
        caller: &Caller,
        key: &str,
        value: &str,
        file: Option<PathBuf>,
    ) -> Result<Reply, ApiError> {
        let path = self.config_file();
        if let Some(named) = file {
            let same = |p: &Path| crate::fsops::canonical_lenient(p).unwrap_or_else(|_| p.to_path_buf());
            if same(&named) != same(&path) {
                return Err(ApiError::usage(format!(
                    "this daemon's config is {}, not {}: nothing was changed",
                    path.display(),
                    named.display()
                ))
                .hint(format!(
                    "edit {} with `cbctl --local --config {} config set ...`, or point --config at the daemon's file",
                    named.display(),
                    named.display()
                )));
            }
        }
        // Said before the edit: the atomic rewrite makes the file its writer's.
        let warnings = config::edit_warnings(&path);
        config::set_checked(&path, key, value, self.cfg.map(|c| c.state_dir.as_path()))?;
        if let Some(d) = self.daemon.as_deref_mut() {
            tracing::info!(uid = caller.uid, %key, %value, file = %path.display(), "config changed by request");
            d.config_changed();
        }
        Ok(Reply::Config(ConfigValue { file: lossy(&path), value: None, warnings }))
    }

    /// What opening the journal here repaired, once.
    pub fn take_recovery(&mut self) -> Option<RecoveryReport> {
        match &mut self.journal {
            Journaled::Lazy { recovery, .. } => recovery.take(),
            Journaled::Open(_) => None,
        }
    }
}

/// A caller who is not the daemon's user may name only files it may read itself.
fn may_read(caller: &Caller, path: &Path) -> Result<(), ApiError> {
    match caller.access(false) {
        Some(a) if crate::fsops::exists(path).unwrap_or(false) => {
            a.check(path, crate::access::Want::Read).map_err(ApiError::denied)
        }
        _ => Ok(()),
    }
}

fn no_daemon() -> ApiError {
    ApiError::new(ErrorKind::Unreachable, "this needs the running clean-backupd")
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// Runs a job for a caller whose rights are `access` (`None`: this
/// process's own): the one way jobs run, in cbctl and on the daemon's worker.
pub fn run_job(
    journal: &mut Journal,
    spec: &JobSpec,
    access: Option<&Access>,
    on_event: OnEvent<'_>,
) -> Result<JobSummary, ApiError> {
    Ok(job::run_as(journal, spec, access, on_event)?)
}

/// May `caller` make `request`? Anyone who reaches the daemon may ask what
/// it is doing ([`Request::is_open`]); everything else is for root, the
/// daemon's own user, and `control.allow_users` / `allow_groups`.
pub fn authorize(request: &Request, caller: &Caller, cfg: &Config) -> Result<(), ApiError> {
    use crate::access;
    if request.is_open() || caller.is_daemon_peer() {
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
    let method = request.method();
    Err(ApiError::denied(format!(
        "{who} may not call {method}: only root, the daemon's user ({me}) and the users and groups in \
         control.allow_users / control.allow_groups may; anyone may ask for status, history, why and skipped"
    ))
    .hint(format!("ask the administrator to add {who} to control.allow_users, or use sudo")))
}
