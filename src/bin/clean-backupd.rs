//! `clean-backupd`: the service that files new media from the inboxes. Thin:
//! parse arguments, set up logging, run the library's daemon.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;

#[derive(Parser, Debug)]
#[command(
    name = "clean-backupd",
    version,
    about = "Watch inbox folders and file new photos and videos into the library"
)]
struct Args {
    /// Config file (default: $XDG_CONFIG_HOME/clean-backup/config.toml, else built-in defaults).
    #[arg(long)]
    config: Option<PathBuf>,
    /// State directory; overrides the config.
    #[arg(long)]
    state_dir: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLEAN_BACKUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    let result = clean_backup::daemon::Signals::install()
        .and_then(|signals| clean_backup::daemon::run(args.config.as_deref(), args.state_dir.as_deref(), &signals));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clean-backupd: {e}");
            ExitCode::from(2)
        }
    }
}
