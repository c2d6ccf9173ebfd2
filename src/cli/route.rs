//! Who answers cbctl: the running daemon (found through its runtime
//! advertisement or the config's `state_dir`), or this process on the
//! journal itself. Chosen here, once; commands only see a [`Control`].

use std::path::PathBuf;

use super::{render, Failure};
use crate::access::Caller;
use crate::config::Config;
use crate::control::api::{ApiError, ErrorKind, OnEvent, Reply, Request};
use crate::control::service::{Journaled, Service};
use crate::control::{discovery, socket_path, Control, Remote};

/// Where cbctl's settings come from.
pub struct Setup {
    /// The config in force (`None` when it cannot be read: `config set` may fix it).
    pub cfg: Result<Config, Failure>,
    /// The config file meant, when one was named or found.
    pub config_path: Option<PathBuf>,
    /// The daemon's socket to try.
    pub socket: PathBuf,
}

impl Setup {
    /// Reads the settings: `--config`, `--state-dir` and CLEAN_BACKUP_CONFIG
    /// win; without them, a running daemon's advertisement names the socket
    /// and its config, before the user's own config.
    pub fn new(config: Option<&std::path::Path>, state_dir: Option<&std::path::Path>) -> Setup {
        let explicit = config.is_some()
            || state_dir.is_some()
            || std::env::var_os("CLEAN_BACKUP_CONFIG").is_some_and(|v| !v.is_empty());
        let advert = if explicit { None } else { discovery::find() };
        let config_path = match (config, &advert) {
            (Some(c), _) => Some(std::path::absolute(c).unwrap_or_else(|_| c.to_path_buf())),
            (None, Some(a)) if Config::locate(None).is_none() => a.config.clone().filter(|c| c.is_file()),
            _ => Config::locate(None),
        };
        let cfg = Config::load_or_default(config_path.as_deref()).map_err(Failure::from).map(|mut cfg| {
            if let Some(dir) = state_dir {
                cfg.state_dir = dir.to_path_buf();
            }
            // Copies made here (`--local`) are checked as the config says.
            crate::fsops::set_read_back_copies(cfg.read_back_copies);
            cfg
        });
        let socket = match (&advert, &cfg) {
            (Some(a), _) => a.socket.clone(),
            (None, Ok(cfg)) => socket_path(&cfg.state_dir),
            (None, Err(_)) => socket_path(&Config::defaults().state_dir),
        };
        Setup { cfg, config_path, socket }
    }

    /// The config, or why it cannot be read.
    pub fn config(&self) -> Result<&Config, Failure> {
        self.cfg.as_ref().map_err(Failure::clone)
    }
}

/// Asks the daemon, and when none runs does the work here (unless the
/// request needs the daemon); `--local` goes straight to the journal.
pub struct Route<'a> {
    setup: &'a Setup,
    local_only: bool,
    json: bool,
    journal: Option<Journaled<'static>>,
}

impl<'a> Route<'a> {
    /// The route for these settings.
    pub fn new(setup: &'a Setup, local_only: bool, json: bool) -> Route<'a> {
        Route { setup, local_only, json, journal: None }
    }

    fn local(&mut self, request: Request, on_event: OnEvent<'_>) -> Result<Reply, ApiError> {
        if request.needs_daemon() {
            let what = request.method();
            return Err(if self.local_only {
                ApiError::usage(format!("`{what}` asks the running daemon, which --local leaves out"))
                    .hint(format!("drop --local: `cbctl {what}`"))
            } else {
                not_running(&self.setup.socket, what)
            });
        }
        let cfg = self.setup.cfg.as_ref().ok();
        let state_dir = cfg.map_or_else(|| Config::defaults().state_dir, |c| c.state_dir.clone());
        if !self.local_only && !self.json && self.journal.is_none() && request.uses_journal() {
            // Said once: the answer comes from this journal, not from a daemon.
            eprintln!("cbctl: clean-backupd is not running; using the journal in {} directly", state_dir.display());
        }
        let journal = self.journal.take().unwrap_or(Journaled::Lazy { state_dir, journal: None, recovery: None });
        let mut service = Service { journal, cfg, config_path: self.setup.config_path.as_deref(), daemon: None };
        let answer = service.answer(&Caller::this_process(), request, on_event);
        if let Some(r) = service.take_recovery() {
            render::recovery(self.json, &r);
        }
        if let Journaled::Lazy { state_dir, journal, .. } = service.journal {
            self.journal = Some(Journaled::Lazy { state_dir, journal, recovery: None });
        }
        answer
    }
}

/// No daemon answers a request only it can answer.
fn not_running(socket: &std::path::Path, what: &str) -> ApiError {
    ApiError::new(
        ErrorKind::Unreachable,
        format!("clean-backupd is not running (no answer on {}), and only it can {what}", socket.display()),
    )
    .hint(
        "start it: `systemctl --user start clean-backupd`, `sudo systemctl start clean-backupd`, or \
         `clean-backupd --config FILE`; if it runs with another config, give cbctl the same --config",
    )
}

impl Control for Route<'_> {
    fn release(&mut self) {
        self.journal = None;
    }

    fn call(&mut self, request: Request, on_event: OnEvent<'_>) -> Result<Reply, ApiError> {
        // A path that is not UTF-8 cannot travel as JSON: such a request is answered here.
        if self.local_only || serde_json::to_vec(&request).is_err() {
            return self.local(request, on_event);
        }
        match Remote::new(&self.setup.socket).call(request.clone(), on_event) {
            Err(e) if e.kind == ErrorKind::Unreachable => self.local(request, on_event),
            Err(e) if e.kind == ErrorKind::NoSuchFolder => Err(hidden_from_daemon(e)),
            other => other,
        }
    }
}

/// A job folder the daemon says is missing while it is there for the user:
/// the daemon runs somewhere that cannot see it (a sandboxed system service).
fn hidden_from_daemon(e: ApiError) -> ApiError {
    match e.path.clone().filter(|p| p.is_dir()) {
        Some(folder) => ApiError::usage(format!(
            "clean-backupd cannot see {}, though it is there for you: the service's sandbox hides it (a system \
             service sees only its own folders and those in ReadWritePaths=)",
            folder.display()
        ))
        .hint(format!(
            "open it to the service with `sudo systemctl edit clean-backupd` (ReadWritePaths={}, and \
             ProtectHome=read-only for a folder under /home), or run the job yourself with --local",
            folder.display()
        ))
        .at(folder),
        None => e,
    }
}
