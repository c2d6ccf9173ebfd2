//! Each cbctl command, written once against a [`Control`]: the daemon or
//! this process answers, the command does not care which.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use clap::CommandFactory;

use super::args::{ActionArg, Cli, Command, CompressArgs, ConfigCmd, DedupArgs, OrganizeArgs, ReportArg};
use super::render::{self, count, human_bytes, json_line, json_summary, Printer};
use super::route::{Route, Setup};
use super::{Failure, EXIT_FAILED_FILES};
use crate::control::api::{ConfigValue, Pruned, Reply, Request, Undone};
use crate::control::Control;
use crate::docs;
use crate::engine::compress::{compress, CompressOptions};
use crate::engine::dedup::{trash_base, DedupAction, TRASH_DIR};
use crate::engine::job::{JobEvent, JobSpec, JobSummary};
use crate::fsops;
use crate::media;
use crate::media::compress::Level;

/// Runs the command; the exit code, or the failure to report.
pub fn run(cli: &Cli) -> Result<u8, Failure> {
    let setup = Setup::new(cli.config.as_deref(), cli.state_dir.as_deref());
    let mut route = Route::new(&setup, cli.local, cli.json);
    let c = &mut route;
    match &cli.command {
        Command::Date { files } => Ok(date(cli, files)),
        Command::Hash { files } => Ok(hash(cli, files)),
        Command::Config(cmd) => config(cli, c, cmd),
        Command::Organize(args) => organize(cli, &setup, c, args),
        Command::History { limit } => history(cli, c, *limit),
        Command::Status => status(cli, c),
        Command::Pause => simple(cli, c, Request::Pause {}, "paused: files stay in the inboxes until `cbctl resume`"),
        Command::Resume => simple(cli, c, Request::Resume {}, "resumed: filing again"),
        Command::Rescan { undone } => simple(
            cli,
            c,
            Request::Rescan { undone: *undone },
            "rescanning the inboxes; the library index is up to date",
        ),
        Command::Undo { session, last } => undo(cli, c, *session, *last),
        Command::Dedup(args) => dedup(cli, &setup, c, args),
        Command::Compress(args) => compress_cmd(cli, &setup, args),
        Command::Prune { older_than, dry_run, yes } => prune(cli, c, *older_than, *dry_run, *yes),
        Command::Why { files } => why_cmd(cli, c, files),
        Command::Review(args) => super::review::review(cli, &setup, args),
        Command::Skipped => skipped(cli, c),
        Command::Keep { files } => keep(cli, c, files),
        Command::NotDuplicate { a, b } => not_duplicate(cli, c, a, b),
        Command::Prefer { file } => prefer(cli, c, file),
        Command::Forget { file } => forget(cli, c, file),
        Command::Completions { shell } => {
            std::io::Write::write_all(&mut std::io::stdout(), &docs::completion(*shell, &mut Cli::command()))?;
            Ok(0)
        }
        Command::GenerateDocs { dir } => generate_docs(dir),
    }
}

/// A call that is not a job (no progress to show).
fn ask(c: &mut dyn Control, request: Request) -> Result<Reply, Failure> {
    Ok(c.call(request, &mut |_| {})?)
}

fn unexpected(what: &str, r: &Reply) -> Failure {
    Failure::failed(format!("unexpected answer to {what}: {r:?}"))
}

fn simple(cli: &Cli, c: &mut dyn Control, request: Request, done: &str) -> Result<u8, Failure> {
    let method = request.method();
    let reply = ask(c, request)?;
    if cli.json {
        let result = reply.to_json().unwrap_or_default();
        json_line(&serde_json::json!({"summary": true, "ok": true, "method": method, "result": result}));
    } else {
        println!("{done}");
    }
    Ok(0)
}

fn status(cli: &Cli, c: &mut dyn Control) -> Result<u8, Failure> {
    let s = match ask(c, Request::Status {})? {
        Reply::Status(s) => s,
        r => return Err(unexpected("status", &r)),
    };
    if cli.json {
        json_summary(&*s);
    } else {
        render::status(&s);
    }
    Ok(0)
}

fn history(cli: &Cli, c: &mut dyn Control, limit: i64) -> Result<u8, Failure> {
    let sessions = match ask(c, Request::History { limit })? {
        Reply::History(h) => h,
        r => return Err(unexpected("history", &r)),
    };
    if cli.json {
        for s in &sessions {
            json_line(s);
        }
        json_line(&serde_json::json!({"summary": true, "sessions": sessions.len()}));
    } else if sessions.is_empty() {
        println!("no sessions yet");
    } else {
        render::history(&sessions);
    }
    Ok(0)
}

fn undo(cli: &Cli, c: &mut dyn Control, session: Option<i64>, last: bool) -> Result<u8, Failure> {
    if session.is_none() && !last {
        return Err(Failure::usage("which session? give its id from `cbctl history`")
            .hint("`cbctl undo --last` undoes the newest session that still has files in place"));
    }
    let Undone { report, files } = match ask(c, Request::Undo { session, last })? {
        Reply::Undone(u) => u,
        r => return Err(unexpected("undo", &r)),
    };
    for f in &files {
        if cli.json {
            json_line(&serde_json::json!({
                "path": f.from,
                "restored_to": f.to,
                "outcome": if f.conflict.is_some() { "conflict" } else { "restored" },
                "reason": f.conflict,
            }));
        } else if let Some(conflict) = &f.conflict {
            eprintln!("conflict: {conflict}");
        }
    }
    if cli.json {
        json_summary(&report);
    } else if let Some(lifted) = &report.lifted {
        println!("{}", render::lifted(report.session, lifted));
    } else {
        println!(
            "undid session {}: {} put back, {} left in place, {} removed",
            report.session,
            count(report.reverted as u64, "file"),
            count(report.conflicts.len() as u64, "conflict"),
            count(report.dirs_removed as u64, "empty folder"),
        );
    }
    Ok(if report.conflicts.is_empty() { 0 } else { EXIT_FAILED_FILES })
}

fn why_cmd(cli: &Cli, c: &mut dyn Control, files: &[PathBuf]) -> Result<u8, Failure> {
    let mut unknown = 0usize;
    for file in files {
        // The path as the journal has it: absolute, with symlinks resolved.
        let path = fsops::canonical_lenient(file)?;
        let w = match ask(c, Request::Why { path })? {
            Reply::Why(w) => w,
            r => return Err(unexpected("why", &r)),
        };
        if w.decision.is_none() && w.indexed.is_none() {
            unknown += 1;
        }
        if cli.json {
            json_line(&w);
        } else {
            print!("{}", crate::engine::why::render(&w));
        }
    }
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "files": files.len(), "unknown": unknown}));
    }
    Ok(if unknown > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn skipped(cli: &Cli, c: &mut dyn Control) -> Result<u8, Failure> {
    let list = match ask(c, Request::Skipped {})? {
        Reply::Skipped(s) => s,
        r => return Err(unexpected("skipped", &r)),
    };
    if cli.json {
        for s in &list {
            json_line(s);
        }
        json_line(&serde_json::json!({"summary": true, "set_aside": list.len()}));
    } else if list.is_empty() {
        println!("nothing set aside");
    } else {
        render::skipped(&list);
    }
    Ok(0)
}

/// Says what went wrong with one of several files, and goes on with the next.
fn report_file_failure(cli: &Cli, path: &Path, f: &Failure) {
    if cli.json {
        json_line(&serde_json::json!({"path": path.to_string_lossy(), "error": f.message, "hint": f.hint}));
    } else {
        eprintln!("cbctl: {}", f.message);
        if let Some(h) = &f.hint {
            eprintln!("cbctl: hint: {h}");
        }
    }
}

fn keep(cli: &Cli, c: &mut dyn Control, files: &[PathBuf]) -> Result<u8, Failure> {
    let (mut code, mut kept) = (0u8, 0usize);
    for file in files {
        let path = fsops::canonical_lenient(file)?;
        let k = match ask(c, Request::Keep { path: path.clone() }) {
            Ok(Reply::Corrected(k)) => k,
            Ok(r) => return Err(unexpected("keep", &r)),
            Err(f) if files.len() == 1 => return Err(f),
            Err(f) => {
                report_file_failure(cli, &path, &f);
                code = code.max(f.code);
                continue;
            }
        };
        let session = k.filed.as_ref().and_then(|s| s.session);
        if k.problem.is_some() {
            code = code.max(EXIT_FAILED_FILES);
        } else {
            kept += 1;
        }
        if cli.json {
            let mut v = serde_json::to_value(&*k).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("path".into(), path.to_string_lossy().into());
            }
            json_line(&v);
            continue;
        }
        match (&k.filed_to, &k.problem) {
            (Some(to), _) => {
                println!("filed {} -> {}", path.display(), to.display());
                if let Some(s) = session {
                    println!("  session {s}: `cbctl undo {s}` puts it back");
                }
                if !k.apart.is_empty() {
                    println!("  it will not be set aside as a duplicate of its keeper again");
                }
            }
            (None, Some(p)) => eprintln!("cbctl: {}: not filed: {p}", path.display()),
            (None, None) => eprintln!("cbctl: {}: not filed", path.display()),
        }
    }
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "files": files.len(), "kept": kept}));
    }
    Ok(code)
}

fn not_duplicate(cli: &Cli, c: &mut dyn Control, a: &Path, b: &Path) -> Result<u8, Failure> {
    let (a, b) = (fsops::canonical_lenient(a)?, fsops::canonical_lenient(b)?);
    let k = match ask(c, Request::NotDuplicate { a: a.clone(), b: b.clone() })? {
        Reply::Corrected(k) => k,
        r => return Err(unexpected("not-duplicate", &r)),
    };
    if cli.json {
        json_line(&serde_json::json!({
            "summary": true, "a": a.to_string_lossy(), "b": b.to_string_lossy(), "apart": k.apart,
            "session": k.session,
        }));
    } else {
        println!("{}\n{}", a.display(), b.display());
        println!("they will not be grouped or set aside as duplicates of each other again");
        match k.session {
            Some(s) => println!("  session {s}: `cbctl undo {s}` takes it back"),
            None => println!("  (they were kept apart already)"),
        }
    }
    Ok(0)
}

fn prefer(cli: &Cli, c: &mut dyn Control, file: &Path) -> Result<u8, Failure> {
    let path = fsops::canonical_lenient(file)?;
    let k = match ask(c, Request::Prefer { path: path.clone() })? {
        Reply::Corrected(k) => k,
        r => return Err(unexpected("prefer", &r)),
    };
    if cli.json {
        json_line(&serde_json::json!({
            "summary": true, "path": path.to_string_lossy(), "chosen": k.chosen, "session": k.session,
        }));
    } else {
        println!("{}: kept over its duplicates from now on (dedup and filing pick it as the keeper)", path.display());
        match k.session {
            Some(s) => println!("  session {s}: `cbctl undo {s}` takes it back"),
            None => println!("  (it was chosen already)"),
        }
    }
    Ok(0)
}

fn forget(cli: &Cli, c: &mut dyn Control, file: &Path) -> Result<u8, Failure> {
    let path = fsops::canonical_lenient(file)?;
    let k = match ask(c, Request::Forget { path: path.clone() })? {
        Reply::Corrected(k) => k,
        r => return Err(unexpected("forget", &r)),
    };
    if cli.json {
        json_line(&serde_json::json!({"summary": true, "path": path.to_string_lossy(), "forgotten": k.forgotten}));
    } else {
        println!("{}: its earlier deletion is forgotten; it is filed (or set aside) like any new file", path.display());
    }
    Ok(0)
}

fn config(cli: &Cli, c: &mut dyn Control, cmd: &ConfigCmd) -> Result<u8, Failure> {
    let (request, key, value) = match cmd {
        ConfigCmd::Get { key } => (Request::ConfigGet { key: key.clone() }, key.clone(), None),
        ConfigCmd::Set { key, value } => {
            // The daemon is told which file is meant, and refuses when it is not its own.
            let file = crate::config::Config::locate(cli.config.as_deref());
            let request = Request::ConfigSet { key: key.clone(), value: value.clone(), file };
            (request, Some(key.clone()), Some(value.clone()))
        }
    };
    let ConfigValue { file, value: got, warnings } = match ask(c, request)? {
        Reply::Config(v) => v,
        r => return Err(unexpected("config", &r)),
    };
    if cli.json {
        let shown = got.clone().or(value.clone());
        json_line(
            &serde_json::json!({"key": key, "value": shown, "file": file, "warnings": warnings, "summary": true}),
        );
        return Ok(0);
    }
    for w in &warnings {
        eprintln!("cbctl: warning: {w}");
    }
    match (got, key) {
        (Some(v), _) => println!("{}", v.trim_end()),
        (None, Some(k)) => println!("set {k} in {file}"),
        (None, None) => {}
    }
    Ok(0)
}

/// Runs a job through `c`, its progress shown by `printer`.
fn run_job(c: &mut dyn Control, spec: JobSpec, printer: &mut Printer) -> Result<JobSummary, Failure> {
    let mut on_event = |ev: JobEvent| printer.on_event(&ev);
    let reply = c.call(Request::Submit { spec, stream: true }, &mut on_event);
    match reply? {
        Reply::Job(s) => Ok(s),
        r => Err(unexpected("job.submit", &r)),
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

fn organize(cli: &Cli, setup: &Setup, c: &mut dyn Control, args: &OrganizeArgs) -> Result<u8, Failure> {
    let cfg = setup.config()?;
    cfg.layouts()?;
    let spec = JobSpec::Organize {
        src: absolute(&args.src),
        dest: absolute(&args.dest),
        copy: args.copy,
        dry_run: args.dry_run,
        layout: cfg.layout.clone(),
        layout_undated: cfg.layout_undated.clone(),
        group: args.dup.options(cfg),
    };
    let mut printer = Printer::new(cli.json, args.dry_run, "indexing library");
    let result = run_job(c, spec, &mut printer);
    printer.finish();
    let JobSummary::Organize(summary) = result? else {
        return Err(Failure::failed("the daemon answered organize with another job's summary"));
    };
    render::organize_summary(cli.json, args.dry_run, args.copy, &summary);
    Ok(if summary.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn dedup(cli: &Cli, setup: &Setup, c: &mut dyn Control, args: &DedupArgs) -> Result<u8, Failure> {
    let cfg = setup.config()?;
    let dirs: Vec<PathBuf> = args.dirs.iter().map(|d| absolute(d)).collect();
    let action = match args.action {
        ActionArg::Report => DedupAction::Report,
        ActionArg::Move => DedupAction::Move,
        ActionArg::Copy => DedupAction::Copy,
        ActionArg::Delete => DedupAction::Delete,
    };
    let library = Some(cfg.library.clone());
    let trash: Vec<String> = match action {
        DedupAction::Delete => {
            let mut t: Vec<String> =
                dirs.iter().map(|d| trash_base(d, library.as_deref()).join(TRASH_DIR).display().to_string()).collect();
            t.dedup();
            t
        }
        _ => Vec::new(),
    };
    let html = args.report == ReportArg::Html;
    let mut group = args.dup.options(cfg);
    if args.exact {
        group.perceptual = false;
    }
    let spec = JobSpec::Dedup {
        dirs: dirs.clone(),
        action,
        to: args.to.as_deref().map(absolute),
        group: group.clone(),
        library: library.clone(),
        keepers: Vec::new(),
        members: Vec::new(),
        undated: html,
        exact: args.exact,
        all_files: args.all_files,
    };
    let mut printer = Printer::new(cli.json, false, "files hashed");
    // For the page: its groups, undated and unreadable files (errors are still said on stderr).
    let mut kept: Vec<JobEvent> = Vec::new();
    let result = {
        let mut on_event = |ev: JobEvent| {
            if html && matches!(ev, JobEvent::Group(_) | JobEvent::Undated { .. } | JobEvent::Error { .. }) {
                if let JobEvent::Error { .. } = &ev {
                    printer.on_event(&ev);
                }
                kept.push(ev);
            } else {
                printer.on_event(&ev);
            }
        };
        match c.call(Request::Submit { spec, stream: true }, &mut on_event) {
            Ok(Reply::Job(s)) => Ok(s),
            Ok(r) => Err(unexpected("job.submit", &r)),
            Err(e) => Err(Failure::from(e)),
        }
    };
    printer.finish();
    let JobSummary::Dedup(s) = result? else {
        return Err(Failure::failed("the daemon answered dedup with another job's summary"));
    };
    if let (true, Some(out)) = (html, &args.out) {
        let out = absolute(out);
        let groups = super::review::html_report(&out, &dirs, group, library, &cfg.state_dir, s.files, kept)?;
        if cli.json {
            json_line(&serde_json::json!({"event": "report", "path": out.to_string_lossy(), "groups": groups}));
        } else {
            eprintln!("wrote {} ({groups} group(s)); open it in any browser, it needs nothing else", out.display());
        }
    }
    let done = match args.action {
        ActionArg::Report => String::new(),
        ActionArg::Move => format!("; {} moved", s.handled),
        ActionArg::Copy => format!("; {} copied", s.handled),
        ActionArg::Delete => format!("; {} moved to the trash", s.handled),
    };
    let trash = if s.handled > 0 { trash } else { Vec::new() };
    render::dedup_summary(cli.json, &done, &trash, &s);
    Ok(if s.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

/// Compress only reads SRC and writes new files in DEST: no journal, so it
/// runs here, whoever else runs.
fn compress_cmd(cli: &Cli, setup: &Setup, args: &CompressArgs) -> Result<u8, Failure> {
    let cfg = setup.config()?;
    let both = !args.images && !args.videos;
    let opts = CompressOptions {
        src: absolute(&args.src),
        dest: absolute(&args.dest),
        level: Level::new(args.level.unwrap_or(cfg.compress_level)).unwrap_or_default(),
        images: both || args.images,
        videos: both || args.videos,
        force: args.force,
        convert: args.convert,
        to_jpeg: args.to_jpeg,
        jobs: args.jobs.map(|n| n as usize),
        access: None,
    };
    let mut printer = Printer::new(cli.json, false, "files");
    let result = compress(&opts, &mut |ev| printer.on_event(&ev.into()));
    printer.finish();
    let s = result?;
    if cli.json {
        json_summary(&s);
    } else {
        println!(
            "{} processed ({} images, {} videos): {} compressed, {} kept as they were, {}; {} -> {}, saved {} ({:.1}%)",
            count(s.processed, "file"),
            s.images,
            s.videos,
            s.compressed,
            s.kept,
            count(s.errors, "error"),
            human_bytes(s.original_bytes),
            human_bytes(s.compressed_bytes),
            human_bytes(s.saved_bytes),
            s.saved_percent
        );
        if !s.kept_kinds.is_empty() {
            let kinds: Vec<String> = s.kept_kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
            println!("copied unchanged by kind (not converted): {}", kinds.join(", "));
        }
        if s.ffmpeg_missing {
            eprintln!(
                "cbctl: videos were copied as they are: ffmpeg is not installed; {}",
                media::ffmpeg::INSTALL_HINT
            );
        }
    }
    Ok(if s.errors > 0 { EXIT_FAILED_FILES } else { 0 })
}

fn prune(cli: &Cli, c: &mut dyn Control, older_than: u32, dry_run: bool, yes: bool) -> Result<u8, Failure> {
    let before = chrono::Utc::now() - chrono::Duration::days(i64::from(older_than));
    let before = before.fixed_offset();
    let age = if older_than == 0 {
        "everything in the trash".to_string()
    } else {
        format!("trashed more than {} ago", count(u64::from(older_than), "day"))
    };
    let preview = match ask(c, Request::Prune { before, dry_run: true })? {
        Reply::Pruned(p) => p,
        r => return Err(unexpected("prune", &r)),
    };
    if preview.files.is_empty() {
        if cli.json {
            json_summary(&preview);
        } else {
            println!("nothing to prune ({age}): the trash holds no such files");
        }
        return Ok(0);
    }
    if dry_run || !cli.json {
        for f in &preview.files {
            if cli.json {
                json_line(f);
            } else {
                let was = f.original.as_deref().map(|o| format!(" (was {o})")).unwrap_or_default();
                println!("would remove {}{was}, {}", f.path, human_bytes(f.bytes));
            }
        }
    }
    let total = format!("{} ({})", count(preview.files.len() as u64, "file"), human_bytes(preview.report.bytes));
    if dry_run {
        if cli.json {
            json_summary(&preview);
        } else {
            println!("would remove {total} for good; nothing was removed (drop --dry-run to prune)");
        }
        return Ok(0);
    }
    if !yes {
        if cli.json || !std::io::stdin().is_terminal() {
            return Err(Failure::usage(format!("prune would remove {total} for good, and nobody was asked"))
                .hint("add --yes to remove them, or look first with --dry-run"));
        }
        eprint!("remove {total} for good? This cannot be undone. [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes" | "YES" | "Yes") {
            println!("nothing was removed");
            return Ok(0);
        }
    }
    let Pruned { report, files, .. } = match ask(c, Request::Prune { before, dry_run: false })? {
        Reply::Pruned(p) => p,
        r => return Err(unexpected("prune", &r)),
    };
    for f in &files {
        if cli.json {
            json_line(&serde_json::json!({"path": f.path, "removed": f.error.is_none(), "error": f.error}));
        } else if let Some(e) = &f.error {
            eprintln!("cbctl: {e}");
        }
    }
    if cli.json {
        json_summary(&report);
    } else {
        println!(
            "removed {} from the trash for good, {} freed",
            count(report.removed as u64, "file"),
            human_bytes(report.bytes)
        );
    }
    Ok(if report.problems.is_empty() { 0 } else { EXIT_FAILED_FILES })
}

fn date(cli: &Cli, files: &[PathBuf]) -> u8 {
    let results = files.iter().map(|p| (p.as_path(), media::probe(&fsops::resolve_named(p)))).collect();
    report_each(
        cli,
        results,
        |path, info| {
            let mut v = serde_json::json!({
                "path": path.to_string_lossy(),
                "taken": info.taken.to_rfc3339(),
                "source": info.taken.source.as_str(),
                "kind": info.kind.name(),
            });
            if let Some(from) = info.taken.offset_from {
                v["offset_from"] = from.into();
            }
            if let Some(id) = &info.capture.live {
                v["live_photo"] = id.as_str().into();
            }
            if let Some(m) = info.motion {
                v["motion"] = serde_json::json!({
                    "vendor": m.vendor,
                    "video_offset": m.video_offset,
                    "video_bytes": m.video_len,
                });
            }
            v
        },
        |path, info| {
            let from = info.taken.offset_from.map(|f| format!(", offset from {f}")).unwrap_or_default();
            let live = info.capture.live.as_ref().map(|id| format!(", Live Photo {id}")).unwrap_or_default();
            let motion = info.motion.map(|m| format!(", motion photo ({})", m.describe())).unwrap_or_default();
            format!(
                "{}\t{}\t{}{from}{live}{motion}",
                path.display(),
                info.taken.to_rfc3339(),
                info.taken.source.describe()
            )
        },
    )
}

fn hash(cli: &Cli, files: &[PathBuf]) -> u8 {
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

/// Writes DIR/man/*.{1,5,8} and DIR/completions/{cbctl.bash,_cbctl,cbctl.fish}.
fn generate_docs(dir: &Path) -> Result<u8, Failure> {
    let (man, completions) = (dir.join("man"), dir.join("completions"));
    for d in [&man, &completions] {
        std::fs::create_dir_all(d).map_err(|e| Failure::failed(format!("creating {}: {e}", d.display())))?;
    }
    let write = |path: PathBuf, bytes: &[u8]| {
        std::fs::write(&path, bytes).map_err(|e| Failure::failed(format!("writing {}: {e}", path.display())))
    };
    let daemon = <crate::daemon::cli::Args as CommandFactory>::command();
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
