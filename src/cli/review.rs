//! `cbctl review` (the live page) and `cbctl dedup --report html` (the
//! same view as one static file): cbctl's side of [`crate::review`].

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::args::{Cli, ReviewArgs};
use super::render::{human_bytes, json_line, Printer};
use super::route::{Route, Setup};
use super::Failure;
use crate::control::api::ApiError;
use crate::engine::job::JobEvent;
use crate::engine::thumbs::ThumbCache;
use crate::review::server::{self, ServeOptions, Stopped};
use crate::review::view::{Review, Source, View};

/// The thumbnails of a static report (long side, pixels): small, as they are embedded.
pub const REPORT_SIDE: u32 = 200;

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// `--idle`: minutes (`30`, `30m`), or seconds (`90s`); 0 never stops.
pub fn parse_idle(s: &str) -> Result<Duration, String> {
    let bad = || format!("{s:?} is not a time: give minutes (30) or seconds (90s)");
    let (n, unit) = match s.strip_suffix('s') {
        Some(n) => (n, 1),
        None => (s.strip_suffix('m').unwrap_or(s), 60),
    };
    let n: u64 = n.trim().parse().map_err(|_| bad())?;
    Ok(if n == 0 { Duration::MAX } else { Duration::from_secs(n.saturating_mul(unit)) })
}

fn describe(view: &View) -> String {
    let dups: usize = view.rows.iter().map(|r| r.members.len()).sum();
    let bytes: u64 = view.rows.iter().map(|r| r.bytes).sum();
    let mut s = format!("{} group(s), {dups} duplicate(s), {} to free", view.rows.len(), human_bytes(bytes));
    if !view.undated.is_empty() {
        s.push_str(&format!("; {} undated", view.undated.len()));
    }
    if !view.failed.is_empty() {
        s.push_str(&format!("; {} could not be read", view.failed.len()));
    }
    s
}

/// `cbctl review [DIR]`.
pub fn review(cli: &Cli, setup: &Setup, args: &ReviewArgs) -> Result<u8, Failure> {
    let cfg = setup.config()?.clone();
    let dir = match &args.dir {
        Some(d) if !d.is_dir() => {
            return Err(Failure::usage(format!("{}: no such folder", d.display()))
                .hint("give the folder whose duplicates to review, e.g. `cbctl review ~/Pictures`"))
        }
        d => d.as_deref().map(absolute),
    };
    let source = Source { dir, group: args.dup.options(&cfg), library: Some(cfg.library.clone()) };
    let (work_tx, work_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel::<Result<(View, Vec<PathBuf>), ApiError>>();
    let (config, state_dir, local, json) = (cli.config.clone(), cli.state_dir.clone(), cli.local, cli.json);
    let worker = std::thread::spawn(move || {
        let setup = Setup::new(config.as_deref(), state_dir.as_deref());
        let mut route = Route::new(&setup, local, json);
        let mut review = Review::new(source);
        let mut printer = Printer::new(false, false, "files hashed");
        let loaded = review.load(&mut route, &mut |ev: &JobEvent| {
            if !json && matches!(ev, JobEvent::Indexing { .. }) {
                printer.on_event(ev);
            }
        });
        printer.finish();
        let ok = loaded.is_ok();
        let _ = ready_tx.send(loaded.map(|()| (review.view.clone(), review.files.all().to_vec())));
        if ok {
            server::work(review, &mut route, work_rx);
        }
    });
    let (view, files) = match ready_rx.recv() {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return Err(e.into()),
        Err(_) => return Err(Failure::failed("the review page's worker stopped before it was ready")),
    };
    let opts = ServeOptions { port: args.port, idle: args.idle, state_dir: cfg.state_dir.clone() };
    let started = server::start(&opts, work_tx, files).map_err(|e| {
        Failure::usage(e.to_string()).hint("pick another port with --port N, or leave it out for a free one")
    })?;
    if json {
        json_line(&serde_json::json!({
            "event": "listening", "url": started.url, "port": started.port,
            "groups": view.rows.len(), "undated": view.undated.len(), "failed": view.failed.len(),
        }));
    } else {
        println!("review page: {}", started.url);
        eprintln!("  {}", describe(&view));
        let idle = if args.idle == Duration::MAX {
            String::new()
        } else {
            format!("; it stops by itself after {} without a request", human_duration(args.idle))
        };
        eprintln!("  open it in a browser on this machine; Ctrl-C stops it{idle}");
    }
    if args.open {
        if let Err(e) = std::process::Command::new("xdg-open")
            .arg(&started.url)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
        {
            eprintln!("cbctl: could not open a browser (xdg-open: {e}); open the address above");
        }
    }
    let why = started.run(args.idle);
    let _ = worker.join();
    let said = match why {
        Stopped::Interrupted => "interrupted",
        Stopped::Idle => "idle",
    };
    if json {
        json_line(&serde_json::json!({"summary": true, "stopped": said}));
    } else if why == Stopped::Idle {
        eprintln!("cbctl: review page stopped: no request for {}", human_duration(args.idle));
    } else {
        eprintln!("cbctl: review page stopped");
    }
    Ok(0)
}

fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s % 60 == 0 {
        format!("{} min", s / 60)
    } else {
        format!("{s} s")
    }
}

/// `cbctl dedup DIR --report html --out FILE`: the groups, undated and
/// unreadable files of a dedup job as one static, read-only page.
pub fn html_report(
    out: &Path,
    dirs: &[PathBuf],
    group: crate::engine::group::GroupOptions,
    library: Option<PathBuf>,
    state_dir: &Path,
    files: u64,
    events: Vec<JobEvent>,
) -> Result<usize, Failure> {
    let source = Source { dir: dirs.first().cloned(), group, library };
    let mut review = Review::new(source);
    let dir = dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ");
    let mut view = View { dir: Some(dir.clone()), files, read_only: true, ..View::default() };
    review.add_events(&mut view, events);
    let cache = ThumbCache::new(state_dir);
    let thumbs: Vec<Option<String>> = cache
        .get_many(review.files.all(), REPORT_SIDE)
        .into_iter()
        .map(|t| t.ok().map(|jpeg| crate::review::html::data_uri(&jpeg)))
        .collect();
    let value = serde_json::to_value(&view).map_err(|e| Failure::failed(e.to_string()))?;
    let page = crate::review::html::static_page(&format!("clean-backup: duplicates in {dir}"), &value, &thumbs);
    crate::fsops::write_atomic_mode(out, page.as_bytes(), Some(0o644))?;
    Ok(view.rows.len())
}
