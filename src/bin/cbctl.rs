//! `cbctl`: the small client people type. Thin: parse, call the library, print.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};
use clean_backup::config::{self, Config};
use clean_backup::control::{self, ControlError};
use clean_backup::docs;
use clean_backup::engine::compress::{compress, CompressOptions};
use clean_backup::engine::dedup::{DedupAction, DedupSummary};
use clean_backup::engine::group::GroupOptions;
use clean_backup::engine::job::{self, JobSpec};
use clean_backup::engine::why::{self, Why};
use clean_backup::engine::{EngineError, Summary};
use clean_backup::fsops;
use clean_backup::journal::{Journal, JournalError, PruneReport, RecoveryReport, UndoReport};
use clean_backup::layout::Layout;
use clean_backup::media;
use clean_backup::media::compress::Level;
use clean_backup::store::{SessionRow, StoreError};

/// Exit codes of the CLI contract.
const EXIT_FAILED_FILES: u8 = 1;
const EXIT_USAGE: u8 = 2;
const EXIT_UNREACHABLE: u8 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "cbctl",
    version,
    about = "Control clean-backup: organize a photo library, undo, inspect",
    long_about = "Control clean-backup: organize a photo library, undo, inspect.\n\n\
        Commands that change files (organize, dedup, compress, undo, prune) run on the daemon when one is \
        running, with their progress streamed back, else here on the same journal. Every file move is \
        journaled first: `cbctl undo` puts a session's files back and a crash is repaired on the next start. \
        --json prints one JSON object per file or event, then a summary object with \"summary\": true.",
    after_long_help = "Exit status: 0 success; 1 some files failed (each named on stderr, the rest were done); \
        2 usage or config error (nothing was changed); 3 the daemon is not running (status, pause, resume, rescan).\n\n\
        Files: $XDG_CONFIG_HOME/clean-backup/config.toml (the config; see clean-backup.toml(5)); \
        $XDG_STATE_HOME/clean-backup/ (journal database, lock, the daemon's control socket).\n\n\
        Environment: CLEAN_BACKUP_CONFIG names the config file; CLEAN_BACKUP_LOG sets the log filter (e.g. debug).\n\n\
        See also: clean-backupd(8), clean-backup.toml(5)."
)]
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
    /// File every media file under SRC into DEST/{year}/{month} by capture date.
    Organize(OrganizeArgs),
    /// The daemon's state: inboxes, queue, files filed/skipped/failed today and in total.
    Status,
    /// Stop filing until `cbctl resume` (the daemon keeps running).
    Pause,
    /// Resume filing after `cbctl pause`.
    Resume,
    /// Look at every inbox file again, including ones left alone before
    /// (but not those an undo put back, unless --undone), and catch the
    /// library index up; a library folder without its marker is adopted.
    Rescan {
        /// Also file again what an undo put back into the inboxes.
        #[arg(long)]
        undone: bool,
    },
    /// List past sessions (id, kind, time, counts).
    History {
        /// How many sessions to show.
        #[arg(long, default_value_t = 20)]
        limit: i64,
    },
    /// Put back the files a session moved (or remove the copies it made).
    Undo {
        /// Session id from `cbctl history`.
        #[arg(conflicts_with = "last", required_unless_present = "last")]
        session: Option<i64>,
        /// Undo the newest session that still has files in place.
        #[arg(long)]
        last: bool,
    },
    /// Print each file's capture date and the source that gave it.
    Date {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print each image's perceptual hash (16 hex digits, imagehash's order).
    Hash {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Find duplicate photos and videos: exact copies and the same picture resized, re-encoded or converted.
    Dedup(DedupArgs),
    /// Write compressed copies of the images and videos under SRC into DEST (same relative paths; originals untouched).
    Compress(CompressArgs),
    /// Explain what clean-backup did with a file and why.
    ///
    /// Tells, from the journal and the index: the session, the decision (filed, skipped,
    /// failed, or set aside by dedup), the library file it duplicates and how close, the
    /// date it was filed by and where that date came from, and every journaled move since.
    /// Give the inbox path or the library path. Exit code 1 when nothing is known about a file.
    Why {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Empty the trash: remove for good the files `dedup --action delete` put there.
    Prune {
        /// Only files trashed more than this many days ago.
        #[arg(long, default_value_t = 0)]
        older_than: u32,
    },
    /// Read or edit the config file (comments are kept).
    #[command(subcommand)]
    Config(ConfigCmd),
    /// Print a shell completion script: `cbctl completions bash > ~/.local/share/bash-completion/completions/cbctl`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (man/) and completion scripts (completions/) into DIR, for packaging.
    #[command(hide = true)]
    GenerateDocs { dir: PathBuf },
}

#[derive(Args, Debug)]
struct CompressArgs {
    /// Folder to read (recursively); nothing in it is changed.
    src: PathBuf,
    /// Folder to write the compressed copies into.
    dest: PathBuf,
    /// 1 high quality (JPEG q95, CRF 18), 2 balanced (q85, CRF 23), 3 maximum (q75, CRF 28).
    /// Default: `compress.level` from the config, else 2.
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=3))]
    level: Option<u8>,
    /// Only images (both kinds when neither --images nor --videos is given).
    #[arg(long)]
    images: bool,
    /// Only videos.
    #[arg(long)]
    videos: bool,
    /// Re-encode JPEGs that are already at or below the target quality.
    #[arg(long)]
    force: bool,
    /// Convert BMP and TIFF losslessly to PNG (otherwise they are copied as they are).
    #[arg(long)]
    convert: bool,
    /// Convert HEIC/HEIF (metadata kept) and still GIFs to JPEG at the level's quality.
    /// RAW files and animated GIFs are always copied as they are.
    #[arg(long)]
    to_jpeg: bool,
    /// Parallel image workers (default: all cores); videos use half as many ffmpeg processes.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    jobs: Option<u64>,
}

#[derive(Args, Debug)]
struct OrganizeArgs {
    /// Folder to take media from (recursively).
    src: PathBuf,
    /// Library folder to file it into.
    dest: PathBuf,
    /// Copy files, leaving the originals in place.
    #[arg(long, conflicts_with = "move_")]
    copy: bool,
    /// Move files (the default).
    #[arg(long = "move")]
    move_: bool,
    /// Show what would happen without touching anything.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    dup: DupArgs,
}

/// How duplicates are recognised (defaults from `[dedup]` in the config).
#[derive(Args, Debug)]
struct DupArgs {
    /// Exact copies (same bytes) only: no perceptual hash.
    #[arg(long)]
    no_phash: bool,
    /// Use OS copy names ("IMG (1).jpg", "x - Copy.jpg") to pick keepers.
    #[arg(long)]
    names: bool,
    /// Maximum pHash distance for "the same picture": 0-32, or exact (2), standard (6), aggressive (10).
    #[arg(long, value_parser = config::parse_threshold)]
    threshold: Option<u32>,
}

impl DupArgs {
    fn options(&self, cfg: &Config) -> GroupOptions {
        let mut g = GroupOptions::from_config(cfg);
        if self.no_phash {
            g.perceptual = false;
        }
        if self.names {
            g.names = true;
        }
        if let Some(t) = self.threshold {
            g.threshold = t;
        }
        g
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum ActionArg {
    Report,
    Move,
    Copy,
    Delete,
}

#[derive(Args, Debug)]
struct DedupArgs {
    /// Folders to look in (recursively).
    #[arg(required = true)]
    dirs: Vec<PathBuf>,
    /// What to do with every copy but the best: report only (default), move or copy them under --to, or delete (to the trash; `cbctl undo` brings them back, `cbctl prune` empties it).
    #[arg(long, value_enum, default_value = "report")]
    action: ActionArg,
    /// Where move and copy put the duplicates (paths relative to each DIR are kept).
    #[arg(long, required_if_eq_any = [("action", "move"), ("action", "copy")])]
    to: Option<PathBuf>,
    #[command(flatten)]
    dup: DupArgs,
}

#[derive(Subcommand, Debug)]
enum ConfigCmd {
    /// Print a key's resolved value, or the whole resolved config.
    Get { key: Option<String> },
    /// Set a key in the config file, keeping its comments.
    Set { key: String, value: String },
}

/// An error with the exit code it maps to.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl<E: Into<anyhow::Error>> From<E> for Failure {
    fn from(e: E) -> Self {
        let error = e.into();
        let code = if is_usage(&error) { EXIT_USAGE } else { EXIT_FAILED_FILES };
        Failure { code, error }
    }
}

fn is_usage(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.is::<config::ConfigError>()
            || c.is::<clean_backup::layout::LayoutError>()
            || c.downcast_ref::<EngineError>().is_some_and(EngineError::is_usage)
            || matches!(
                c.downcast_ref::<JournalError>(),
                Some(JournalError::NoSuchSession(_) | JournalError::NothingToUndo | JournalError::UndoOfUndo(_))
            )
            || matches!(c.downcast_ref::<StoreError>(), Some(StoreError::Locked { .. }))
            || matches!(c.downcast_ref::<ControlError>(), Some(ControlError::Remote { usage: true, .. }))
    })
}

fn main() -> ExitCode {
    // `cbctl status | head`: a closed pipe ends cbctl quietly, as for any Unix tool.
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
    match run(&cli) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            let msg = message(&f.error);
            if cli.json {
                println!("{}", serde_json::json!({"error": msg, "summary": true}));
            } else {
                eprintln!("cbctl: {msg}");
            }
            ExitCode::from(f.code)
        }
    }
}

/// The error and its causes, each said once (our errors already include
/// their source's text, so anyhow's `{:#}` would repeat it).
fn message(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    out
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CLEAN_BACKUP_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

fn run(cli: &Cli) -> Result<u8, Failure> {
    match &cli.command {
        Command::Date { files } => Ok(cmd_date(cli, files)),
        Command::Hash { files } => Ok(cmd_hash(cli, files)),
        Command::Config(cmd) => cmd_config(cli, cmd),
        Command::Organize(args) => cmd_organize(cli, args),
        Command::History { limit } => cmd_history(cli, *limit),
        Command::Status => cmd_status(cli),
        Command::Pause => cmd_simple(cli, "pause", "paused: files are left in the inboxes until `cbctl resume`"),
        Command::Resume => cmd_simple(cli, "resume", "resumed"),
        Command::Rescan { undone } => {
            cmd_call(cli, "rescan", serde_json::json!({ "undone": undone }), "rescanning the inboxes")
        }
        Command::Undo { session, last } => cmd_undo(cli, *session, *last),
        Command::Dedup(args) => cmd_dedup(cli, args),
        Command::Compress(args) => cmd_compress(cli, args),
        Command::Prune { older_than } => cmd_prune(cli, *older_than),
        Command::Why { files } => cmd_why(cli, files),
        Command::Completions { shell } => {
            std::io::Write::write_all(&mut std::io::stdout(), &docs::completion(*shell, &mut Cli::command()))
                .context("writing the completion script")?;
            Ok(0)
        }
        Command::GenerateDocs { dir } => cmd_generate_docs(dir),
    }
}

fn load_config(cli: &Cli) -> Result<Config, Failure> {
    let mut cfg = Config::load_or_default(cli.config.as_deref())?;
    if let Some(dir) = &cli.state_dir {
        cfg.state_dir = dir.clone();
    }
    Ok(cfg)
}

fn open_journal(cli: &Cli, cfg: &Config) -> Result<Journal, Failure> {
    let (journal, report) = Journal::open(&cfg.state_dir)?;
    print_recovery(cli, &report);
    Ok(journal)
}

fn print_recovery(cli: &Cli, r: &RecoveryReport) {
    if r.completed + r.rolled_back + r.interrupted_sessions + r.problems.len() == 0 {
        return;
    }
    if cli.json {
        println!("{}", serde_json::json!({"event": "recovery", "report": r}));
    } else {
        eprintln!(
            "cbctl: repaired an interrupted run: {} operation(s) completed, {} rolled back (files left at their source), {} session(s) marked interrupted",
            r.completed, r.rolled_back, r.interrupted_sessions
        );
        for p in &r.problems {
            eprintln!("cbctl: needs attention: {p}");
        }
    }
}

/// Prints the summary object of a `--json` run: the value with `"summary": true`.
fn json_summary(v: impl serde::Serialize) {
    let mut v = serde_json::to_value(v).unwrap_or_default();
    v["summary"] = serde_json::Value::Bool(true);
    json_line(&v);
}

fn json_line(v: &impl serde::Serialize) {
    match serde_json::to_string(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("cbctl: cannot encode output: {e}"),
    }
}

fn cmd_date(cli: &Cli, files: &[PathBuf]) -> u8 {
    let results = files.iter().map(|p| (p.as_path(), media::probe(&fsops::resolve_named(p)))).collect();
    report_each(
        cli,
        results,
        |path, info| {
            serde_json::json!({
                "path": path.to_string_lossy(),
                "taken": info.taken.to_rfc3339(),
                "source": info.taken.source.as_str(),
                "kind": info.kind.name(),
            })
        },
        |path, info| format!("{}\t{}\t{}", path.display(), info.taken.to_rfc3339(), info.taken.source.describe()),
    )
}

fn cmd_hash(cli: &Cli, files: &[PathBuf]) -> u8 {
    use rayon::prelude::*;
    let results = files.par_iter().map(|p| (p.as_path(), media::perceptual_hash(&fsops::resolve_named(p)))).collect();
    report_each(
        cli,
        results,
        |path, h| serde_json::json!({"path": path.to_string_lossy(), "phash": h.to_string()}),
        |path, h| format!("{h}\t{}", path.display()),
    )
}

/// Prints one line per file (its result, or its error on stderr / as JSON),
/// then the JSON summary; the exit code says whether any failed.
fn report_each<T>(
    cli: &Cli,
    results: Vec<(&Path, Result<T, media::MediaError>)>,
    json: impl Fn(&Path, &T) -> serde_json::Value,
    text: impl Fn(&Path, &T) -> String,
) -> u8 {
    let total = results.len();
    let mut failed = 0usize;
    for (path, result) in results {
        match result {
            Ok(v) if cli.json => json_line(&json(path, &v)),
            Ok(v) => println!("{}", text(path, &v)),
            Err(e) => {
                failed += 1;
                if cli.json {
                    json_line(&serde_json::json!({"path": path.to_string_lossy(), "error": e.to_string()}));
                } else {
                    eprintln!("cbctl: {e}");
                }
            }
        }
    }
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "files": total, "errors": failed}));
    }
    if failed > 0 {
        EXIT_FAILED_FILES
    } else {
        0
    }
}

fn cmd_config(cli: &Cli, cmd: &ConfigCmd) -> Result<u8, Failure> {
    let path = Config::locate(cli.config.as_deref()).unwrap_or_else(config::user_config_path);
    match cmd {
        ConfigCmd::Get { key } => {
            let value = config::get(&path, key.as_deref())?;
            if cli.json {
                json_line(
                    &serde_json::json!({"key": key, "value": value, "file": path.to_string_lossy(), "summary": true}),
                );
            } else {
                println!("{}", value.trim_end());
            }
        }
        ConfigCmd::Set { key, value } => {
            // A running daemon writes it and applies it at once; else (or when
            // the config cannot be read, so this command can fix it) edit the file here.
            // The daemon is told which file is meant, and refuses when it is not its own.
            let params = serde_json::json!({ "key": key, "value": value, "file": path.to_string_lossy() });
            // Looked at before the edit: the owner the file had, not the one a rewrite gives it.
            let warnings = config::edit_warnings(&path);
            let by_daemon = match load_config(cli) {
                Ok(cfg) => via_daemon(cli, &cfg, "config.set", params)?,
                Err(_) => None,
            };
            let path = match by_daemon.as_ref().and_then(|r| r["file"].as_str()) {
                Some(changed) => PathBuf::from(changed),
                None => {
                    config::set(&path, key, value)?;
                    path
                }
            };
            if cli.json {
                json_line(&serde_json::json!({
                    "key": key, "value": value, "file": path.to_string_lossy(), "warnings": warnings, "summary": true
                }));
            } else {
                for w in &warnings {
                    eprintln!("cbctl: warning: {w}");
                }
                eprintln!("cbctl: set {key} in {}", path.display());
            }
        }
    }
    Ok(0)
}

/// Renders a job's progress events (the JSON objects of
/// `clean_backup::engine::job`, whether the job runs here or in the
/// daemon): as JSON lines, or as a bar on a terminal plus one line per file
/// that needs the user's attention and, for dedup, each group.
struct Printer {
    json: bool,
    bar: Option<indicatif::ProgressBar>,
    dry_run: bool,
    /// What the indexing bar counts.
    indexing: &'static str,
}

impl Printer {
    fn new(json: bool, dry_run: bool, indexing: &'static str) -> Printer {
        Printer { json, bar: None, dry_run, indexing }
    }

    fn on_event(&mut self, ev: &serde_json::Value) {
        let u = |k: &str| ev[k].as_u64().unwrap_or(0);
        let s = |k: &str| ev[k].as_str().unwrap_or("").to_string();
        match ev["event"].as_str() {
            Some("indexing") => {
                if !self.json {
                    progress(&mut self.bar, self.indexing, u("done"), u("total"));
                } else if u("done") == u("total") && ev.get("dir").is_none() {
                    json_line(&serde_json::json!({"event": "indexed", "files": u("total")}));
                }
            }
            Some("found") => {
                self.finish();
                if !self.json {
                    progress(&mut self.bar, "files", 0, u("total"));
                }
            }
            Some(_) => {}
            None if self.json => json_line(ev),
            None if ev.get("keeper").is_some() => {
                self.finish();
                println!("group {}: keep {}", u("group"), s("keeper"));
                for m in ev["members"].as_array().into_iter().flatten() {
                    let how = match m["match"].as_str() {
                        Some("exact") => "identical".to_string(),
                        _ => format!("similar, distance {}", m["distance"].as_u64().unwrap_or(0)),
                    };
                    let bytes = human_bytes(m["bytes"].as_u64().unwrap_or(0));
                    println!("  {} ({how}, {bytes})", m["path"].as_str().unwrap_or(""));
                }
            }
            None => {
                let line = match ev["outcome"].as_str() {
                    Some("error") => format!("error: {}", s("reason")),
                    Some("duplicate") => format!("duplicate: {}: {}", s("path"), s("reason")),
                    Some("planned") if self.dry_run => format!("would file {} -> {}", s("path"), s("dest")),
                    None if ev.get("error").is_some() => format!("error: {}", s("error")),
                    _ => String::new(),
                };
                if !line.is_empty() {
                    match &self.bar {
                        Some(bar) => bar.println(line),
                        None => eprintln!("{line}"),
                    }
                }
                if let (Some(bar), true) = (&self.bar, ev.get("outcome").is_some()) {
                    bar.inc(1);
                }
            }
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// Runs a one-shot job on the daemon when one answers (its progress
/// streamed back), else here on the state directly; returns the summary.
fn run_job(cli: &Cli, cfg: &Config, spec: &JobSpec, printer: &mut Printer) -> Result<serde_json::Value, Failure> {
    if !cli.local {
        // A path that is not UTF-8 cannot travel as JSON: such jobs run here.
        if let Ok(spec_json) = serde_json::to_value(spec) {
            let params = serde_json::json!({"spec": spec_json, "stream": true});
            match control::call_streaming(&cfg.state_dir, "job.submit", params, &mut |ev| printer.on_event(&ev)) {
                Ok(summary) => return Ok(summary),
                Err(ControlError::Unreachable(_)) => {}
                Err(ControlError::Remote { message, usage: true }) => {
                    let error = match hidden_from_daemon(spec, &message) {
                        Some(folder) => anyhow::anyhow!(
                            "clean-backupd cannot see {folder}, though it is there for you: the service's sandbox \
                             hides it (a system service sees only its own folders and those in ReadWritePaths=). \
                             Open it to the service with `sudo systemctl edit clean-backupd` (ReadWritePaths={folder}, \
                             and ProtectHome=read-only for a folder under /home), or run the job yourself with --local",
                            folder = folder.display()
                        ),
                        None => ControlError::Remote { message, usage: true }.into(),
                    };
                    return Err(Failure { code: EXIT_USAGE, error });
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
    let mut journal = open_journal(cli, cfg)?;
    Ok(job::run(&mut journal, spec, &mut |ev| printer.on_event(&ev))?)
}

/// The job folder the daemon said is missing while it exists here: the
/// daemon runs somewhere that cannot see it (a sandboxed system service).
fn hidden_from_daemon<'a>(spec: &'a JobSpec, message: &str) -> Option<&'a Path> {
    let missing = message.strip_suffix(": no such folder")?;
    spec.sources().into_iter().find(|p| p.to_string_lossy() == missing && p.is_dir())
}

/// Shows `done` of `total` on a progress bar on stderr when it is a terminal.
fn progress(bar: &mut Option<indicatif::ProgressBar>, what: &str, done: u64, total: u64) {
    if !std::io::stderr().is_terminal() {
        return;
    }
    let bar = bar.get_or_insert_with(|| {
        let bar = indicatif::ProgressBar::new(total);
        let template =
            format!("{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what} ({{per_sec}}, eta {{eta}})");
        if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
            bar.set_style(style);
        }
        bar
    });
    bar.set_length(total);
    bar.set_position(done);
}

fn print_summary(json: bool, verb: &str, s: &Summary) {
    if json {
        json_summary(s);
    } else {
        let session =
            s.session.map(|id| format!(" (session {id}; `cbctl undo {id}` puts them back)")).unwrap_or_default();
        eprintln!(
            "{} files scanned: {} {verb}, {} exact duplicates and {} similar pictures skipped, {} non-media left alone, {} skipped, {} errors; {} moved{session}",
            s.scanned,
            s.filed,
            s.duplicates,
            s.similar,
            s.non_media,
            s.skipped,
            s.errors,
            human_bytes(s.bytes)
        );
    }
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[i])
    }
}

fn cmd_organize(cli: &Cli, args: &OrganizeArgs) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    Layout::parse(&cfg.layout)?;
    let spec = JobSpec::Organize {
        src: std::path::absolute(&args.src).unwrap_or_else(|_| args.src.clone()),
        dest: std::path::absolute(&args.dest).unwrap_or_else(|_| args.dest.clone()),
        copy: args.copy,
        dry_run: args.dry_run,
        layout: cfg.layout.clone(),
        layout_undated: cfg.layout_undated.clone(),
        group: args.dup.options(&cfg),
    };
    let mut printer = Printer::new(cli.json, args.dry_run, "indexing library");
    let result = run_job(cli, &cfg, &spec, &mut printer);
    printer.finish();
    let summary: Summary = serde_json::from_value(result?).context("reading the job's summary")?;
    let verb = match (args.dry_run, args.copy) {
        (true, _) => "would be filed",
        (false, true) => "copied",
        (false, false) => "moved",
    };
    print_summary(cli.json, verb, &summary);
    Ok(if summary.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

/// Asks the running daemon, unless `--local`; `None` when no daemon answers
/// (then the caller works on the state directly, holding its lock).
fn via_daemon(
    cli: &Cli,
    cfg: &Config,
    method: &str,
    params: serde_json::Value,
) -> Result<Option<serde_json::Value>, Failure> {
    if cli.local {
        return Ok(None);
    }
    match control::call(&cfg.state_dir, method, params) {
        Ok(v) => Ok(Some(v)),
        Err(ControlError::Unreachable(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A call only the daemon can answer: exit 3 when it is not running.
fn daemon_only(cli: &Cli, method: &str, params: serde_json::Value) -> Result<serde_json::Value, Failure> {
    let cfg = load_config(cli)?;
    control::call(&cfg.state_dir, method, params).map_err(|e| {
        let code = if matches!(e, ControlError::Unreachable(_)) { EXIT_UNREACHABLE } else { EXIT_FAILED_FILES };
        Failure { code, error: e.into() }
    })
}

fn cmd_simple(cli: &Cli, method: &str, done: &str) -> Result<u8, Failure> {
    cmd_call(cli, method, serde_json::json!({}), done)
}

fn cmd_call(cli: &Cli, method: &str, params: serde_json::Value, done: &str) -> Result<u8, Failure> {
    let result = daemon_only(cli, method, params)?;
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "ok": true, "method": method, "result": result}));
    } else {
        eprintln!("{done}");
    }
    Ok(0)
}

fn cmd_status(cli: &Cli) -> Result<u8, Failure> {
    let v = daemon_only(cli, "status", serde_json::json!({}))?;
    if cli.json {
        let mut v = v;
        v["summary"] = serde_json::Value::Bool(true);
        json_line(&v);
        return Ok(0);
    }
    let s: control::Status = serde_json::from_value(v).context("reading the daemon's status")?;
    let state = if s.paused {
        "paused"
    } else if !s.library_available {
        "waiting for the library"
    } else if s.library_problem.is_some() {
        "waiting"
    } else {
        "running"
    };
    println!("clean-backupd {state} (pid {}, up {} s)", s.pid, s.uptime_seconds);
    println!("library: {}{}", s.library, if s.library_available { "" } else { " (not there)" });
    if let Some(p) = &s.library_problem {
        println!("waiting: {p}");
    }
    for i in &s.inboxes {
        println!("inbox:   {} ({}){}", i.path, i.mode, if i.available { "" } else { " (missing)" });
    }
    println!("queue:   {} file(s) settling or waiting", s.queue);
    println!("today:   {} filed, {} skipped as duplicates, {} failed", s.today.filed, s.today.skipped, s.today.failed);
    println!("total:   {} filed, {} skipped as duplicates, {} failed", s.total.filed, s.total.skipped, s.total.failed);
    println!("index:   {} files", s.index_files);
    if let Some(e) = &s.last_error {
        println!("last error: {e}");
    }
    Ok(0)
}

fn cmd_history(cli: &Cli, limit: i64) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let sessions: Vec<SessionRow> = match via_daemon(cli, &cfg, "history", serde_json::json!({ "limit": limit }))? {
        Some(v) => serde_json::from_value(v).context("reading the daemon's history")?,
        None => open_journal(cli, &cfg)?.history(limit)?,
    };
    if cli.json {
        for s in &sessions {
            json_line(s);
        }
        json_line(&serde_json::json!({"summary": true, "sessions": sessions.len()}));
        return Ok(0);
    }
    if sessions.is_empty() {
        eprintln!("no sessions yet");
        return Ok(0);
    }
    println!(
        "{:>5}  {:<14} {:<24} {:<14} {:>6} {:>6} {:>6} {:>10}",
        "ID", "KIND", "STARTED (UTC)", "STATE", "DONE", "UNDONE", "FAILED", "BYTES"
    );
    for s in &sessions {
        println!(
            "{:>5}  {:<14} {:<24} {:<14} {:>6} {:>6} {:>6} {:>10}",
            s.id,
            s.kind,
            s.started_at,
            s.state,
            s.ops_done,
            s.ops_undone,
            s.ops_failed,
            human_bytes(s.bytes.max(0) as u64)
        );
    }
    Ok(0)
}

/// Writes DIR/man/*.{1,5,8} and DIR/completions/{cbctl.bash,_cbctl,cbctl.fish}.
fn cmd_generate_docs(dir: &Path) -> Result<u8, Failure> {
    let (man, completions) = (dir.join("man"), dir.join("completions"));
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    let daemon = <clean_backup::daemon::cli::Args as clap::CommandFactory>::command();
    for (name, page) in docs::man_pages(Cli::command(), daemon) {
        write(man.join(name), &page)?;
    }
    for (shell, name) in [
        (clap_complete::Shell::Bash, "cbctl.bash"),
        (clap_complete::Shell::Zsh, "_cbctl"),
        (clap_complete::Shell::Fish, "cbctl.fish"),
    ] {
        write(completions.join(name), &docs::completion(shell, &mut Cli::command()))?;
    }
    eprintln!("cbctl: wrote man pages to {} and completions to {}", man.display(), completions.display());
    Ok(0)
}

fn cmd_why(cli: &Cli, files: &[PathBuf]) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let mut local: Option<Journal> = None;
    let mut unknown = 0usize;
    for file in files {
        // The path as the journal has it: absolute, with symlinks resolved.
        let path = clean_backup::fsops::canonical_lenient(file)?;
        let asked = match path.to_str() {
            Some(p) => via_daemon(cli, &cfg, "why", serde_json::json!({ "path": p }))?,
            None => None,
        };
        let w: Why = match asked {
            Some(v) => serde_json::from_value(v).context("reading the daemon's answer")?,
            None => {
                if local.is_none() {
                    local = Some(open_journal(cli, &cfg)?);
                }
                match &local {
                    Some(j) => why::why(j.store(), &path)?,
                    None => continue,
                }
            }
        };
        if w.decision.is_none() && w.indexed.is_none() {
            unknown += 1;
        }
        if cli.json {
            json_line(&w);
        } else {
            print_why(&w);
        }
    }
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "files": files.len(), "unknown": unknown}));
    }
    Ok(if unknown > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn print_why(w: &Why) {
    let what = match (w.decision.as_deref(), w.outcome_word()) {
        (Some(d), Some(o)) => format!("{d} ({o})"),
        (Some(d), None) => d.to_string(),
        (None, _) if w.indexed.is_some() => "in the library index".to_string(),
        (None, _) => "unknown to clean-backup".to_string(),
    };
    println!("{}: {what}", w.path);
    let row = |k: &str, v: &str| println!("  {k:<11} {v}");
    if let Some(s) = &w.session {
        row("session", &format!("{} ({}, started {}, {})", s.id, s.kind, s.started_at, s.state));
    }
    if let Some(f) = &w.found_at {
        row("found at", f);
    }
    if let Some(d) = w.dest.as_deref().filter(|_| w.duplicate_of.is_none()) {
        row("filed to", d);
    }
    if let Some(k) = &w.duplicate_of {
        let how = match (w.how.as_deref(), w.distance) {
            (Some("exact"), _) => "identical bytes".to_string(),
            (_, Some(d)) => format!("the same picture, pHash distance {d}"),
            _ => "duplicate".to_string(),
        };
        row("same as", &format!("{k} ({how})"));
    }
    if let Some(t) = &w.taken {
        row("taken", &format!("{t} (date from {})", w.date_source.as_deref().unwrap_or("unknown")));
    }
    if let Some(r) = &w.reason {
        row("reason", r);
    }
    if let Some(p) = &w.left_alone {
        row("left alone", &format!("since {} ({})", p.since, p.outcome));
    }
    for step in &w.history {
        row(
            "journal",
            &format!("session {}: {} {} -> {} ({})", step.session, step.action, step.from, step.to, step.state),
        );
    }
    if w.earlier_decisions > 0 {
        row("earlier", &format!("{} older decision(s) about this path", w.earlier_decisions));
    }
    row("now", &w.now);
}

fn cmd_undo(cli: &Cli, session: Option<i64>, last: bool) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let json = cli.json;
    let print_file = |from: &str, to: &str, conflict: Option<&str>| {
        if json {
            json_line(&serde_json::json!({
                "path": from,
                "restored_to": to,
                "outcome": if conflict.is_some() { "conflict" } else { "restored" },
                "reason": conflict,
            }));
        } else if let Some(c) = conflict {
            eprintln!("conflict: {c}");
        }
    };
    let params = match session {
        Some(id) => serde_json::json!({ "session": id }),
        None => serde_json::json!({ "last": last }),
    };
    let report: UndoReport = match via_daemon(cli, &cfg, "undo", params)? {
        Some(v) => {
            for f in v["files"].as_array().into_iter().flatten() {
                let s = |k: &str| f[k].as_str().unwrap_or_default().to_string();
                print_file(&s("from"), &s("to"), f["conflict"].as_str());
            }
            serde_json::from_value(v["report"].clone()).context("reading the daemon's undo report")?
        }
        None => {
            let mut journal = open_journal(cli, &cfg)?;
            let id = match session {
                Some(id) => id,
                None => journal.last_undoable().context("undo --last")?,
            };
            journal.undo(id, |ev| {
                print_file(&ev.from.to_string_lossy(), &ev.to.to_string_lossy(), ev.conflict.as_deref())
            })?
        }
    };
    if json {
        json_summary(&report);
    } else {
        eprintln!(
            "undid session {}: {} files put back, {} conflicts left in place, {} empty folders removed",
            report.session,
            report.reverted,
            report.conflicts.len(),
            report.dirs_removed
        );
    }
    Ok(if report.conflicts.is_empty() { 0 } else { EXIT_FAILED_FILES })
}

fn cmd_dedup(cli: &Cli, args: &DedupArgs) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let absolute = |p: &PathBuf| std::path::absolute(p).unwrap_or_else(|_| p.clone());
    let spec = JobSpec::Dedup {
        dirs: args.dirs.iter().map(absolute).collect(),
        action: match args.action {
            ActionArg::Report => DedupAction::Report,
            ActionArg::Move => DedupAction::Move,
            ActionArg::Copy => DedupAction::Copy,
            ActionArg::Delete => DedupAction::Delete,
        },
        to: args.to.as_ref().map(absolute),
        group: args.dup.options(&cfg),
        library: Some(cfg.library.clone()),
    };
    let mut printer = Printer::new(cli.json, false, "files hashed");
    let result = run_job(cli, &cfg, &spec, &mut printer);
    printer.finish();
    let s: DedupSummary = serde_json::from_value(result?).context("reading the job's summary")?;
    print_dedup_summary(cli.json, args.action, &s);
    Ok(if s.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn print_dedup_summary(json: bool, action: ActionArg, s: &DedupSummary) {
    if json {
        json_summary(s);
        return;
    }
    let done = match action {
        ActionArg::Report => String::new(),
        ActionArg::Move => format!("; {} moved", s.handled),
        ActionArg::Copy => format!("; {} copied", s.handled),
        ActionArg::Delete => format!("; {} moved to the trash", s.handled),
    };
    let session = s.session.map(|id| format!(" (session {id}; `cbctl undo {id}` puts them back)")).unwrap_or_default();
    eprintln!(
        "{} files ({} read, {} unchanged since the last run): {} groups, {} duplicates, {} recoverable{done}, {} errors{session}",
        s.files,
        s.index.added + s.index.changed,
        s.index.unchanged,
        s.groups,
        s.duplicates,
        human_bytes(s.bytes),
        s.errors
    );
}

fn cmd_compress(cli: &Cli, args: &CompressArgs) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let both = !args.images && !args.videos;
    let level = args.level.unwrap_or(cfg.compress_level);
    let opts = CompressOptions {
        src: std::path::absolute(&args.src).unwrap_or_else(|_| args.src.clone()),
        dest: std::path::absolute(&args.dest).unwrap_or_else(|_| args.dest.clone()),
        level: Level::new(level).unwrap_or_default(),
        images: both || args.images,
        videos: both || args.videos,
        force: args.force,
        convert: args.convert,
        to_jpeg: args.to_jpeg,
        jobs: args.jobs.map(|n| n as usize),
        access: None,
    };
    // Only reads SRC and writes new files in DEST: no journal, so it runs here.
    let mut printer = Printer::new(cli.json, false, "files");
    let result = compress(&opts, &mut |ev| printer.on_event(&job::compress_event(ev)));
    printer.finish();
    let s = result?;
    if cli.json {
        json_summary(&s);
    } else {
        eprintln!(
            "{} files processed ({} images, {} videos): {} compressed, {} kept as they were, {} errors; {} -> {}, saved {} ({:.1}%)",
            s.processed,
            s.images,
            s.videos,
            s.compressed,
            s.kept,
            s.errors,
            human_bytes(s.original_bytes),
            human_bytes(s.compressed_bytes),
            human_bytes(s.saved_bytes),
            s.saved_percent
        );
        if !s.kept_kinds.is_empty() {
            let kinds: Vec<String> = s.kept_kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            eprintln!("copied unchanged by kind (not converted): {}", kinds.join(", "));
        }
        if s.ffmpeg_missing {
            eprintln!("videos were copied as they are: ffmpeg is not installed; {}", media::ffmpeg::INSTALL_HINT);
        }
    }
    Ok(if s.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn cmd_prune(cli: &Cli, older_than: u32) -> Result<u8, Failure> {
    let cfg = load_config(cli)?;
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(older_than));
    let before = before.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let json = cli.json;
    let print_file = |path: &str, problem: Option<&str>| {
        if json {
            json_line(&serde_json::json!({"path": path, "removed": problem.is_none(), "error": problem}));
        } else if let Some(p) = problem {
            eprintln!("cbctl: {p}");
        }
    };
    // The daemon holds the journal while it runs: prune through it.
    let report: PruneReport = match via_daemon(cli, &cfg, "prune", serde_json::json!({ "before": before }))? {
        Some(v) => {
            for f in v["files"].as_array().into_iter().flatten() {
                print_file(f["path"].as_str().unwrap_or_default(), f["error"].as_str());
            }
            serde_json::from_value(v["report"].clone()).context("reading the daemon's prune report")?
        }
        None => {
            open_journal(cli, &cfg)?.prune(&before, |path, problem| print_file(&path.to_string_lossy(), problem))?
        }
    };
    if json {
        json_summary(&report);
    } else {
        eprintln!("removed {} file(s) from the trash for good, {} freed", report.removed, human_bytes(report.bytes));
    }
    Ok(if report.problems.is_empty() { 0 } else { EXIT_FAILED_FILES })
}
