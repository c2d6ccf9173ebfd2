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
    /// Validate the config and print the resolved settings (paths, inboxes,
    /// threshold, ...) without starting; exit 2 if it is not valid.
    #[arg(long)]
    check_config: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.check_config {
        return match clean_backup::daemon::check_config(args.config.as_deref(), args.state_dir.as_deref()) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("clean-backupd: {e}");
                ExitCode::from(2)
            }
        };
    }
    let log = clean_backup::daemon::logging::init();
    tracing::debug!(to = log, "logging");
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
