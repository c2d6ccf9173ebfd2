//! What cbctl prints: results on stdout, progress, warnings and errors on
//! stderr; with `--json`, JSON lines only on stdout.

use std::io::IsTerminal;
use std::time::Instant;

use crate::control::Status;
use crate::engine::dedup::DedupSummary;
use crate::engine::job::JobEvent;
use crate::engine::Summary;
use crate::journal::RecoveryReport;
use crate::store::SessionRow;

/// `n` and the noun, plural when `n` is not 1: "1 file", "2 files".
pub fn count(n: u64, noun: &str) -> String {
    match (n, noun) {
        (1, _) => format!("1 {noun}"),
        (_, n_) if n_.ends_with('y') && !["ay", "ey", "oy", "uy"].iter().any(|e| n_.ends_with(e)) => {
            format!("{n} {}ies", &noun[..noun.len() - 1])
        }
        (_, n_) if ["s", "x", "ch", "sh"].iter().any(|e| n_.ends_with(e)) => format!("{n} {noun}es"),
        _ => format!("{n} {noun}s"),
    }
}

/// Bytes for people: "512 B", "1.5 MiB".
pub fn human_bytes(n: u64) -> String {
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

/// One JSON line on stdout.
pub fn json_line(v: &impl serde::Serialize) {
    match serde_json::to_string(v) {
        Ok(s) => println!("{s}"),
        Err(e) => eprintln!("cbctl: cannot encode output: {e}"),
    }
}

/// The summary object of a `--json` run: the value with `"summary": true`.
pub fn json_summary(v: impl serde::Serialize) {
    let mut v = serde_json::to_value(v).unwrap_or_default();
    if !v.is_object() {
        v = serde_json::json!({ "result": v });
    }
    v["summary"] = serde_json::Value::Bool(true);
    json_line(&v);
}

/// What opening the journal here repaired (an interrupted run), if anything.
pub fn recovery(json: bool, r: &RecoveryReport) {
    if r.completed + r.rolled_back + r.interrupted_sessions + r.problems.len() == 0 {
        return;
    }
    if json {
        json_line(&serde_json::json!({"event": "recovery", "report": r}));
        return;
    }
    eprintln!(
        "cbctl: repaired an interrupted run: {} completed, {} rolled back (files left at their source), {} marked interrupted",
        count(r.completed as u64, "operation"),
        r.rolled_back,
        count(r.interrupted_sessions as u64, "session"),
    );
    for p in &r.problems {
        eprintln!("cbctl: needs attention: {p}");
    }
}

/// Renders a job's progress: JSON lines, or on a terminal a bar (on
/// stderr) with one line per file that needs attention (stderr) and, as
/// results (stdout), the plan of a dry run and dedup's groups.
pub struct Printer {
    json: bool,
    bar: Option<Bar>,
    dry_run: bool,
    /// What the indexing bar counts.
    indexing: &'static str,
}

impl Printer {
    /// A printer; `indexing` names what the index bar counts.
    pub fn new(json: bool, dry_run: bool, indexing: &'static str) -> Printer {
        Printer { json, bar: None, dry_run, indexing }
    }

    /// Shows one event.
    pub fn on_event(&mut self, ev: &JobEvent) {
        if self.json {
            match ev {
                JobEvent::Indexing { done, total, dir: None } if done == total => {
                    json_line(&serde_json::json!({"event": "indexed", "files": total}))
                }
                JobEvent::Indexing { .. } | JobEvent::Found { .. } => {}
                ev => json_line(ev),
            }
            return;
        }
        match ev {
            JobEvent::Indexing { done, total, .. } => Bar::show(&mut self.bar, self.indexing, *done, *total),
            JobEvent::Found { total } => {
                self.finish();
                Bar::show(&mut self.bar, "files", 0, *total);
            }
            JobEvent::Group(g) => {
                self.above_bar(|| {
                    let mut text = format!("group {}: keep {}", g.group, g.keeper.display());
                    for m in &g.members {
                        let how = match m.how {
                            crate::engine::group::Match::Exact => "identical".to_string(),
                            _ => format!("similar, distance {}", m.distance),
                        };
                        let with = if m.with.is_empty() {
                            String::new()
                        } else {
                            let names: Vec<&str> = m
                                .with
                                .iter()
                                .map(|p| std::path::Path::new(p).file_name().and_then(|n| n.to_str()).unwrap_or(p))
                                .collect();
                            format!(", with {}", names.join(", "))
                        };
                        text.push_str(&format!("\n  {} ({how}, {}{with})", m.path.display(), human_bytes(m.bytes)));
                        if !m.why_not_kept.is_empty() {
                            text.push_str(&format!(": {}", m.why_not_kept));
                        }
                    }
                    println!("{text}");
                });
            }
            JobEvent::File(f) => {
                use crate::engine::Outcome;
                let reason = f.reason.as_deref().unwrap_or("");
                match f.outcome {
                    Outcome::Error => self.note(format!("error: {reason}")),
                    Outcome::Duplicate => self.note(format!("duplicate: {}: {reason}", f.path.display())),
                    Outcome::Planned if self.dry_run => {
                        let dest = f.dest.as_deref().map(|d| d.display().to_string()).unwrap_or_default();
                        let line = format!("would file {} -> {dest}", f.path.display());
                        self.above_bar(|| println!("{line}"));
                    }
                    _ => {}
                }
                self.tick();
            }
            JobEvent::Compressed(c) => {
                if c.outcome == crate::engine::compress::CompressOutcome::Error {
                    self.note(format!("error: {}: {}", c.path.display(), c.reason.as_deref().unwrap_or("")));
                }
                self.tick();
            }
            JobEvent::Error { path, reason } => {
                self.note(format!("error: {path}: {reason}"));
                self.tick();
            }
            JobEvent::Undated { .. } => {}
        }
    }

    /// A line for the user's attention, on stderr above the bar.
    fn note(&self, line: String) {
        match &self.bar {
            Some(b) => b.bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }

    /// Prints results with the bar out of the way.
    fn above_bar(&self, f: impl FnOnce()) {
        match &self.bar {
            Some(b) => b.bar.suspend(f),
            None => f(),
        }
    }

    fn tick(&mut self) {
        if let Some(b) = &mut self.bar {
            let done = b.bar.position() + 1;
            b.set(done);
        }
    }

    /// Clears the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.bar.finish_and_clear();
        }
    }
}

/// A progress bar on stderr (only when it is a terminal), its ETA from
/// the throughput seen so far in this phase, redrawn at every file.
struct Bar {
    bar: indicatif::ProgressBar,
    started: Instant,
}

impl Bar {
    fn show(slot: &mut Option<Bar>, what: &str, done: u64, total: u64) {
        if !std::io::stderr().is_terminal() {
            return;
        }
        let b = slot.get_or_insert_with(|| {
            let bar = indicatif::ProgressBar::new(total);
            let template = format!("{{spinner}} [{{elapsed_precise}}] {{wide_bar}} {{pos}}/{{len}} {what} {{msg}}");
            if let Ok(style) = indicatif::ProgressStyle::with_template(&template) {
                bar.set_style(style);
            }
            Bar { bar, started: Instant::now() }
        });
        b.bar.set_length(total);
        b.set(done);
    }

    fn set(&mut self, done: u64) {
        self.bar.set_position(done);
        let total = self.bar.length().unwrap_or(0);
        let secs = self.started.elapsed().as_secs_f64();
        self.bar.set_message(eta(done, total, secs));
    }
}

/// "(12.0/s, eta 3s)" from `done` of `total` in `secs`: the rate seen so
/// far, not a guess from the first tick.
pub fn eta(done: u64, total: u64, secs: f64) -> String {
    if done == 0 || secs <= 0.0 {
        return String::new();
    }
    let rate = done as f64 / secs;
    let left = total.saturating_sub(done) as f64 / rate;
    let left = if left >= 3600.0 {
        format!("{}h{:02}m", (left / 3600.0) as u64, ((left % 3600.0) / 60.0) as u64)
    } else if left >= 60.0 {
        format!("{}m{:02}s", (left / 60.0) as u64, (left % 60.0) as u64)
    } else {
        format!("{}s", left.ceil() as u64)
    };
    format!("({rate:.1}/s, eta {left})")
}

/// The end of an organize, on stdout.
pub fn organize_summary(json: bool, dry_run: bool, copy: bool, s: &Summary) {
    if json {
        json_summary(s);
        return;
    }
    let verb = match (dry_run, copy) {
        (true, _) => "would be filed",
        (false, true) => "copied",
        (false, false) => "moved",
    };
    let bytes_verb = if dry_run { "to file" } else { verb };
    let session = s.session.map(|id| format!(" (session {id}; `cbctl undo {id}` puts them back)")).unwrap_or_default();
    println!(
        "{} scanned: {} {verb}, {} and {} skipped, {} left alone, {} skipped, {}; {} {bytes_verb}{session}",
        count(s.scanned, "file"),
        s.filed,
        count(s.duplicates, "exact duplicate"),
        count(s.similar, "similar picture"),
        count(s.non_media, "non-media file"),
        s.skipped,
        count(s.errors, "error"),
        human_bytes(s.bytes)
    );
}

/// The end of a dedup, on stdout; `trash` is where deleted duplicates went.
pub fn dedup_summary(json: bool, done: &str, trash: &[String], s: &DedupSummary) {
    if json {
        let mut v = serde_json::to_value(s).unwrap_or_default();
        if !trash.is_empty() {
            v["trash"] = serde_json::json!(trash);
        }
        json_summary(v);
        return;
    }
    let session = s.session.map(|id| format!(" (session {id}; `cbctl undo {id}` puts them back)")).unwrap_or_default();
    println!(
        "{} ({} read, {} unchanged since the last run): {}, {}, {} recoverable{done}, {}{session}",
        count(s.files, "file"),
        s.index.added + s.index.changed,
        s.index.unchanged,
        count(s.groups, "group"),
        count(s.duplicates, "duplicate"),
        human_bytes(s.bytes),
        count(s.errors, "error"),
    );
    for t in trash {
        println!("trash: {t} (`cbctl prune` empties it for good)");
    }
}

/// `cbctl status` as text.
pub fn status(s: &Status) {
    let state = if s.paused {
        "paused"
    } else if !s.library_available {
        "waiting for the library"
    } else if s.library_problem.is_some() {
        "waiting"
    } else {
        "running"
    };
    println!("clean-backupd {state} (pid {}, up {})", s.pid, uptime(s.uptime_seconds));
    println!("library: {}{}", s.library, if s.library_available { "" } else { " (not there)" });
    if let Some(p) = &s.library_problem {
        println!("waiting: {p}");
    }
    for i in &s.inboxes {
        println!("inbox:   {} ({}){}", i.path, i.mode, if i.available { "" } else { " (missing)" });
    }
    println!("queue:   {} settling or waiting", count(s.queue, "file"));
    for (when, c) in [("today", &s.today), ("total", &s.total)] {
        println!(
            "{:<8} {} filed, {} skipped as duplicates, {} failed",
            format!("{when}:"),
            count(c.filed, "file"),
            c.skipped,
            c.failed
        );
    }
    println!("index:   {} in the library", count(s.index_files, "file"));
    if let Some(c) = &s.library_check {
        let of = if c.total > 0 {
            let pace = eta(c.done, c.total, c.millis as f64 / 1000.0);
            format!("{}/{} files {pace}", c.done, c.total).trim_end().to_string()
        } else {
            "counting files".to_string()
        };
        let what = if c.filing_waits { "reading the library, filing waits" } else { "checking the library" };
        println!("index:   {what}: {of}");
    }
    if let Some(j) = &s.job {
        println!("job:     {} {} ({}/{}), {} queued", j.kind, j.id, j.done, j.total, s.jobs_queued);
    }
    if let Some(e) = &s.last_error {
        println!("last error: {e}");
    }
}

fn uptime(secs: u64) -> String {
    match secs {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

/// `cbctl skipped`: one block per file set aside, newest first.
pub fn skipped(list: &[crate::engine::verdicts::SetAside]) {
    for s in list {
        let how = match s.verdict.as_str() {
            "exact" => "exact copy",
            "similar" => "similar copy",
            "deleted" => "deleted before",
            other => other,
        };
        println!("{how}: {}", s.path.display());
        match (&s.keeper, s.verdict.as_str()) {
            (Some(k), "similar") => {
                let d = s.distance.map(|d| format!(" (pHash distance {d})")).unwrap_or_default();
                println!("  keeper:  {}{d}", k.display());
            }
            (Some(k), _) => println!("  keeper:  {}", k.display()),
            (None, "deleted") => {}
            (None, _) => println!("  keeper:  gone since"),
        }
        if s.verdict == "deleted" {
            if let Some(r) = &s.reason {
                // The reason ends with the `cbctl forget` hint; keep the part that says when.
                let r = r.split("; `cbctl forget").next().unwrap_or(r);
                println!("  why:     {r}");
            }
        }
        if let Some(f) = &s.found_at {
            println!("  found:   {} (moved to the duplicates folder)", f.display());
        }
        let day = s.at.get(..16).map(|t| t.replacen('T', " ", 1)).unwrap_or_else(|| s.at.clone());
        println!("  session: {} ({day} UTC)", s.session);
        println!("  file it: {}", s.undo);
        if s.verdict == "deleted" {
            println!("  or:      cbctl forget {}", crate::engine::verdicts::shell_quote(&s.path.to_string_lossy()));
        }
    }
    println!("{} set aside", count(list.len() as u64, "file"));
}

/// `cbctl history` as a table.
pub fn history(sessions: &[SessionRow]) {
    println!(
        "{:>5}  {:<14} {:<24} {:<14} {:>6} {:>6} {:>6} {:>10}",
        "ID", "KIND", "STARTED (UTC)", "STATE", "DONE", "UNDONE", "FAILED", "BYTES"
    );
    for s in sessions {
        println!(
            "{:>5}  {:<14} {:<24} {:<14} {:>6} {:>6} {:>6} {:>10}",
            s.id,
            s.kind,
            s.started_at,
            s.state,
            s.ops_done,
            s.ops_undone,
            s.failed,
            human_bytes(s.bytes.max(0) as u64)
        );
    }
}

/// What undoing a verdict session (`not-duplicate`, `prefer`) did, in one line.
pub fn lifted(session: i64, l: &crate::journal::Lifted) -> String {
    let name = |i: usize| l.paths.get(i).map(String::as_str).unwrap_or("the file");
    match l.kind.as_str() {
        "not-duplicate" => {
            format!("session {session} undone: {} and {} may be grouped as duplicates again", name(0), name(1))
        }
        "prefer" => format!(
            "session {session} undone: {} is no longer chosen as the keeper; the usual rules pick it again",
            name(0)
        ),
        _ => format!("session {session} undone: {} lifted", count(l.verdicts as u64, "verdict")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_undone_verdict_says_what_may_happen_again() {
        let l = crate::journal::Lifted {
            kind: "not-duplicate".into(),
            paths: vec!["/a.jpg".into(), "/b.jpg".into()],
            verdicts: 1,
        };
        assert_eq!(lifted(7, &l), "session 7 undone: /a.jpg and /b.jpg may be grouped as duplicates again");
        let l = crate::journal::Lifted { kind: "prefer".into(), paths: vec!["/a.jpg".into()], verdicts: 1 };
        assert!(lifted(8, &l).starts_with("session 8 undone: /a.jpg is no longer chosen as the keeper"));
    }

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(1, "file"), "1 file");
        assert_eq!(count(2, "file"), "2 files");
        assert_eq!(count(0, "file"), "0 files");
        assert_eq!(count(3, "copy"), "3 copies");
        assert_eq!(count(30, "day"), "30 days");
        assert_eq!(count(2, "match"), "2 matches");
    }

    #[test]
    fn eta_follows_the_rate_seen() {
        // 34 of 100 files in 3.4 s: 10/s, 66 left, 7 s, not minutes.
        assert_eq!(eta(34, 100, 3.4), "(10.0/s, eta 7s)");
        assert_eq!(eta(1, 1000, 1.0), "(1.0/s, eta 16m39s)");
        assert_eq!(eta(0, 10, 1.0), "");
    }
}
