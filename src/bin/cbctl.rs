//! `cbctl`: the small client people type. Thin: parse, call the library, print.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use clean_backup::media;

/// Exit codes of the CLI contract.
const EXIT_FAILED_FILES: u8 = 1;
const EXIT_USAGE: u8 = 2;

#[derive(Parser, Debug)]
#[command(name = "cbctl", version, about = "Control clean-backup: organize, undo, inspect")]
struct Cli {
    /// Config file (default: $XDG_CONFIG_HOME/clean-backup/config.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// State directory (journal database, lock); overrides the config.
    #[arg(long, global = true)]
    state_dir: Option<PathBuf>,
    /// Run the engine in this process instead of asking the daemon.
    #[arg(long, global = true)]
    local: bool,
    /// Print JSON lines only: one object per file or event, then a summary.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print each file's capture date and the source that gave it.
    Date {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Date { ref files } => cmd_date(&cli, files),
    }
}

fn cmd_date(cli: &Cli, files: &[PathBuf]) -> ExitCode {
    let mut failed = 0usize;
    for path in files {
        match media::probe(path) {
            Ok(info) => {
                if cli.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "path": path.to_string_lossy(),
                            "taken": info.taken.to_rfc3339(),
                            "source": info.taken.source.as_str(),
                            "kind": info.kind.name(),
                        })
                    );
                } else {
                    println!("{}\t{}\t{}", path.display(), info.taken.to_rfc3339(), info.taken.source.as_str());
                }
            }
            Err(e) => {
                failed += 1;
                if cli.json {
                    println!("{}", serde_json::json!({"path": path.to_string_lossy(), "error": e.to_string()}));
                } else {
                    eprintln!("cbctl: {e}");
                }
            }
        }
    }
    if cli.json {
        println!("{}", serde_json::json!({"summary": true, "files": files.len(), "errors": failed}));
    }
    if failed > 0 {
        ExitCode::from(EXIT_FAILED_FILES)
    } else {
        ExitCode::SUCCESS
    }
}
