//! `cbctl`, the small client people type, as a library module: the
//! binary is only `main`. [`args`] defines the command line (and so the
//! man pages and completions), [`route`] picks who answers (the daemon, or
//! this process on the journal), [`commands`] runs each command against a
//! [`crate::control::Control`], [`render`] prints.
//!
//! The exit status is the CLI contract of DESIGN.md: 0 ok, 1 some files
//! failed (each reported), 2 usage or config error (nothing changed), 3 the
//! daemon is unreachable for a command only it can answer.

pub mod args;
mod commands;
pub mod render;
mod review;
pub mod route;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;

use crate::control::api::{ApiError, ErrorKind};

/// Some files failed; the rest were done.
pub const EXIT_FAILED_FILES: u8 = 1;
/// A usage or config error: nothing was changed.
pub const EXIT_USAGE: u8 = 2;
/// The daemon is not running (or not reachable) for a command only it can answer.
pub const EXIT_UNREACHABLE: u8 = 3;

/// A failed command: what to say, what to do about it, and the exit code.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The exit code.
    pub code: u8,
    /// What went wrong.
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

impl Failure {
    /// A usage error (exit 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_USAGE, message: message.into(), hint: None }
    }

    /// A failure of the work (exit 1).
    pub fn failed(message: impl Into<String>) -> Failure {
        Failure { code: EXIT_FAILED_FILES, message: message.into(), hint: None }
    }

    /// With what to do about it.
    pub fn hint(mut self, hint: impl Into<String>) -> Failure {
        self.hint = Some(hint.into());
        self
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Failure {
        let code = match e.kind {
            ErrorKind::Unreachable => EXIT_UNREACHABLE,
            _ if e.is_usage() => EXIT_USAGE,
            _ => EXIT_FAILED_FILES,
        };
        Failure { code, message: e.message, hint: e.hint }
    }
}

macro_rules! failure_from {
    ($($t:ty => $usage:expr),* $(,)?) => {$(
        impl From<$t> for Failure {
            fn from(e: $t) -> Failure {
                #[allow(clippy::redundant_closure_call)]
                let code = if ($usage)(&e) { EXIT_USAGE } else { EXIT_FAILED_FILES };
                Failure { code, message: e.to_string(), hint: None }
            }
        }
    )*};
}

failure_from! {
    crate::config::ConfigError => |_: &crate::config::ConfigError| true,
    crate::layout::LayoutError => |_: &crate::layout::LayoutError| true,
    crate::engine::EngineError => crate::engine::EngineError::is_usage,
    crate::fsops::FsError => |_: &crate::fsops::FsError| false,
    std::io::Error => |_: &std::io::Error| false,
}

/// cbctl's `main`: parses the command line, runs the command, prints the
/// error (as JSON with `--json`) and returns the exit code.
pub fn main() -> ExitCode {
    // `cbctl history | head -1`: a closed pipe ends cbctl quietly, as for any Unix tool.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    init_logging();
    match commands::run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if cli.json {
                render::json_line(&serde_json::json!({"error": f.message, "hint": f.hint, "summary": true}));
            } else {
                eprintln!("cbctl: {}", f.message);
                if let Some(h) = &f.hint {
                    eprintln!("cbctl: hint: {h}");
                }
            }
            ExitCode::from(f.code)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLEAN_BACKUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}
