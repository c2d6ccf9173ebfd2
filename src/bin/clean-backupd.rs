//! `clean-backupd`: the service that files new media from the inboxes. Thin:
//! parse arguments, set up logging, run the library's daemon.

use std::process::ExitCode;

use clap::Parser;
use clean_backup::daemon::{self, cli::Args};

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(file) = &args.check_config {
        let config = file.as_deref().or(args.config.as_deref());
        return match daemon::check_config(config, args.state_dir.as_deref()) {
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
    let log = daemon::logging::init();
    tracing::debug!(to = log, "logging");
    let result = daemon::Signals::install()
        .and_then(|signals| daemon::run(args.config.as_deref(), args.state_dir.as_deref(), args.new_state, &signals));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("clean-backupd: {e}");
            ExitCode::from(2)
        }
    }
}
