//! Scanning an inbox and filing what has settled: each scan tells the
//! settle machine ([`super::settle`]) what it saw, and the settled files go
//! through the journaled engine as one session. Files handled but left in
//! their inbox are parked, in memory and in the store, so a restart does
//! not report them again.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::notify_systemd;
use super::settle::{park_in, Observed, Seen, Settle};
use super::state::{State, Tally};
use crate::config::{self, Config, Inbox};
use crate::control::Signal;
use crate::engine::group::GroupOptions;
use crate::engine::organize::QUARANTINE_DIR;
use crate::engine::scan::{scan, Found};
use crate::engine::{organize_found_with, EngineError, Event, FileEvent, OrganizeOptions, Outcome, Summary};
use crate::journal::Journal;
use crate::layout::Layout;
use crate::store::{FileRow, ParkedRow};

/// Whether an inbox folder is there; a missing one (an unmounted disk, a
/// gone share) is said once and waited for, never read as empty.
pub(super) fn inbox_present(inbox: &Inbox, state: &mut State) -> bool {
    if !inbox.path.is_dir() {
        if state.missing_inboxes.insert(inbox.path.clone()) {
            state.error(format!(
                "inbox {} is missing (a disk not mounted?); waiting for it. clean-backup never creates it: if it \
                 is new, create it with `mkdir -p {}`",
                inbox.path.display(),
                inbox.path.display()
            ));
        }
        return false;
    }
    if state.missing_inboxes.remove(&inbox.path) {
        tracing::info!("inbox {} is back", inbox.path.display());
        let gone = format!("inbox {} is missing", inbox.path.display());
        if state.last_error.as_deref().is_some_and(|e| e.starts_with(&gone)) {
            state.last_error = None;
        }
    }
    true
}

/// Scans one inbox, updates what has settled, and files the settled batch.
pub(super) fn poll_inbox(
    journal: &mut Journal,
    cfg: &Config,
    layout: &Layout,
    inbox: &Inbox,
    settle: &mut Settle,
    state: &mut State,
) {
    let emit = Arc::clone(&state.emit);
    if !inbox_present(inbox, state) {
        return;
    }
    let now = Instant::now();
    let mut present = HashSet::new();
    let found = scan(&inbox.path);
    let skipped: HashSet<&Path> = found
        .iter()
        .filter_map(|f| match f {
            Found::Skipped(p, why) if !why.contains("hidden") && !why.contains("temp") => Some((p, *why)),
            _ => None,
        })
        .map(|(p, why)| {
            if !state.skipped_logged.contains(p) {
                tracing::info!("left alone: {} is {why}", p.display());
                state.skipped_logged.insert(p.clone());
            }
            p.as_path()
        })
        .collect();
    state.skipped_logged.retain(|p| !p.starts_with(&inbox.path) || skipped.contains(p.as_path()));
    for f in found {
        let Found::File(path) = f else { continue };
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let (size, mtime_ns, _) = FileRow::stat_key(&meta);
        if settle.observe(&path, size, mtime_ns, now) == (Observed::Changed { was_parked: true }) {
            forget_parked(journal, &[&path]);
        }
        present.insert(path);
    }
    let gone = settle.forget_missing(&inbox.path, &present);
    forget_parked(journal, &gone.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    let pair = std::time::Duration::from_secs(cfg.pair_seconds);
    let settled = settle.settled(&inbox.path, now, pair);
    // Those that may still wait for a file that belongs with them, and until when.
    let deadlines: std::collections::HashMap<PathBuf, Instant> =
        settled.iter().filter_map(|p| Some((p.clone(), settle.pair_deadline(p, now, pair)?))).collect();
    let batch: Vec<Found> = settled
        .into_iter()
        .inspect(|p| {
            let quiet = settle.quiet_for(p, now).unwrap_or_default();
            tracing::debug!("settled after {:.1} s without a change: {}", quiet.as_secs_f64(), p.display());
        })
        .map(Found::File)
        .collect();
    if batch.is_empty() {
        return;
    }
    let opts = OrganizeOptions {
        src: inbox.path.clone(),
        dest: cfg.library.clone(),
        mode: inbox.mode,
        dry_run: false,
        layout: layout.clone(),
        session_kind: "ingest",
        dedup: GroupOptions::from_config(cfg),
        // A copy-mode inbox is never changed, so its duplicates stay where they are.
        quarantine: (inbox.mode == config::Mode::Move).then(|| cfg.library.join(QUARANTINE_DIR)),
        // Photos (JPEG, PNG) only: a video's ffmpeg run would hold up filing for minutes.
        compress: cfg
            .compress_enabled
            .then(|| crate::media::compress::Level::new(cfg.compress_level).unwrap_or_default()),
        access: None,
        keep: false,
        wait_for: deadlines.keys().cloned().collect(),
    };
    let mut library = state.kept.library.take();
    // Announced once the batch's session is known.
    let mut filed: Vec<(String, String)> = Vec::new();
    // Files handled but left in the inbox: remembered (across restarts) until they change.
    let mut parked: Vec<(PathBuf, &'static str, Option<String>)> = Vec::new();
    // Files held back for a partner (`watch.pair_seconds`).
    let mut waiting: Vec<PathBuf> = Vec::new();
    // A file that did not fit: the whole batch waits for space.
    let mut out_of_space: Option<String> = None;
    let mut on_event = |ev: &Event| {
        // Progress is life: a first index of a big library must not trip the watchdog.
        notify_systemd::keepalive(|| match ev {
            Event::Indexing { done, total } => format!("indexing the library: {done}/{total} files"),
            _ => "filing".to_string(),
        });
        let Event::File(f) = ev else { return };
        let reason = f.reason.as_deref().unwrap_or("");
        let duplicate_of = || f.duplicate_of.as_deref().unwrap_or(Path::new("")).to_string_lossy().into_owned();
        // Counted once per file, however often it is looked at while it stays in its inbox.
        let mut count = |settle: &mut Settle, tally: Tally| {
            let counted = state.count(settle.get(&f.path).and_then(|s| s.counted), tally);
            settle.set_counted(&f.path, counted);
        };
        match f.outcome {
            Outcome::Moved | Outcome::Copied | Outcome::Trashed => {
                let to = f.dest.as_deref().unwrap_or(Path::new(""));
                tracing::info!("{}", filed_line(f));
                filed.push((f.path.to_string_lossy().into_owned(), to.to_string_lossy().into_owned()));
                count(settle, Tally::Filed);
                if f.outcome == Outcome::Copied {
                    // A copy-mode inbox keeps its files: done with, not to be looked at again.
                    parked.push((f.path.clone(), "copied", None));
                } else {
                    settle.forget(&f.path);
                }
            }
            Outcome::Quarantined => {
                let to = f.dest.as_deref().unwrap_or(Path::new(""));
                tracing::warn!(
                    "duplicate moved to the duplicates folder: {} -> {}: {reason}",
                    f.path.display(),
                    to.display()
                );
                count(settle, Tally::Skipped);
                settle.forget(&f.path);
                emit(Signal::DuplicateSkipped {
                    path: f.path.to_string_lossy().into_owned(),
                    duplicate_of: duplicate_of(),
                    reason: reason.to_string(),
                });
            }
            Outcome::Duplicate => {
                tracing::warn!("duplicate left in inbox: {}: {reason}", f.path.display());
                count(settle, Tally::Skipped);
                emit(Signal::DuplicateSkipped {
                    path: f.path.to_string_lossy().into_owned(),
                    duplicate_of: duplicate_of(),
                    reason: reason.to_string(),
                });
                parked.push((f.path.clone(), "duplicate", f.reason.clone()));
            }
            Outcome::Error if f.no_space => {
                // Not the file's fault: tried again once there is room, not parked.
                tracing::warn!("not filed, no space left in the library: {}: {reason}", f.path.display());
                out_of_space = Some(reason.to_string());
            }
            Outcome::Error => {
                tracing::warn!(
                    "not filed, left in inbox until it changes: {}: {}",
                    f.path.display(),
                    if reason.is_empty() { "no reason given" } else { reason }
                );
                count(settle, Tally::Failed);
                let name = f.path.to_string_lossy();
                state.last_error =
                    Some(if reason.contains(&*name) { reason.to_string() } else { format!("{name}: {reason}") });
                parked.push((f.path.clone(), "error", f.reason.clone()));
            }
            Outcome::NonMedia | Outcome::Skipped => {
                tracing::info!("{}", left_line(f));
                parked.push((f.path.clone(), "ignored", f.reason.clone()));
            }
            Outcome::Waiting => {
                tracing::info!("{}: {reason} (up to watch.pair_seconds = {})", f.path.display(), cfg.pair_seconds);
                waiting.push(f.path.clone());
            }
            Outcome::Planned => {}
        }
    };
    let result = organize_found_with(journal, &opts, batch, &mut library, &mut on_event);
    state.kept.library = library;
    let now = Instant::now();
    for path in waiting {
        // The member of a waiting group has no deadline of its own: its primary's, or `pair` from now.
        let until = deadlines.values().copied().max().unwrap_or(now + pair);
        settle.hold(&path, deadlines.get(&path).copied().unwrap_or(until));
    }
    for (path, outcome, reason) in parked {
        let Some(&Seen { size, mtime_ns, .. }) = settle.get(&path) else { continue };
        park(journal, &mut settle.files, ParkedRow { path, size, mtime_ns, outcome: outcome.into(), reason }, now);
    }
    match result {
        Ok(summary) => {
            tracing::info!("{}", batch_line(&summary));
            for (from, to) in filed {
                emit(Signal::FileFiled { from, to, session: summary.session.unwrap_or(0) });
            }
            match out_of_space {
                Some(why) => state.back_off(format!("no space left in the library {} ({why})", cfg.library.display())),
                None => state.recovered(),
            }
        }
        Err(EngineError::DestInsideSource { .. }) => {
            state.error(format!("library is inside inbox {}; fix the config", inbox.path.display()))
        }
        // The journal (or the index) could not be written: a full state
        // disk, a read-only one. Another try at once would fail the same way.
        Err(e) => state.back_off(format!("inbox {}: {e}", inbox.path.display())),
    }
}

/// `n thing` or `n things`.
fn count_of(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The log line of a filed file: where from, where to, and the date it
/// was filed by with its source.
fn filed_line(f: &FileEvent) -> String {
    let to = f.dest.as_deref().unwrap_or(Path::new("?"));
    let how = match f.outcome {
        Outcome::Copied => "filed (copied; the inbox keeps its file)",
        _ => "filed",
    };
    let mut line = format!("{how}: {} -> {}", f.path.display(), to.display());
    if let Some(date) = date_words(f.taken.as_deref(), f.source) {
        line.push_str(&format!(" ({date})"));
    }
    if let Some(r) = f.reason.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(&format!("; {r}"));
    }
    line
}

/// `taken 2021-06-01 10:00 from exif`, or for a date that is only the
/// file's mtime, `no date in the file: filed by its mtime, 2021-06-01 10:00`.
fn date_words(taken: Option<&str>, source: Option<&str>) -> Option<String> {
    let taken = taken?;
    // RFC 3339 (`2021-06-01T10:00:00+02:00`) shown to the minute.
    let when = match taken.get(..16) {
        Some(t) if t.as_bytes().get(10) == Some(&b'T') => t.replacen('T', " ", 1),
        _ => taken.to_string(),
    };
    let from = match source {
        Some("mtime") => return Some(format!("no date in the file: filed by its mtime, {when}")),
        Some("exif") => "exif",
        Some("exif-create") => "exif (its digitized date)",
        Some("xmp") => "xmp",
        Some("quicktime") => "quicktime metadata",
        Some("mvhd") => "the movie header",
        Some("container") => "the container's date",
        Some("filename") => "the file name",
        Some(other) => other,
        None => return Some(format!("taken {when}")),
    };
    Some(format!("taken {when} from {from}"))
}

/// The log line of a file left in its inbox without being filed or failing.
fn left_line(f: &FileEvent) -> String {
    let why = match (f.outcome, f.reason.as_deref().filter(|r| !r.is_empty())) {
        (Outcome::NonMedia, None) => "not a media file".to_string(),
        (Outcome::NonMedia, Some(r)) => format!("not a media file ({r})"),
        (_, Some(r)) => r.to_string(),
        (_, None) => "not a file to file".to_string(),
    };
    format!("left in inbox: {why}: {}", f.path.display())
}

/// The log line at the end of a batch: what it did, in words, and how to undo it.
fn batch_line(s: &Summary) -> String {
    let dups = (s.duplicates + s.similar).saturating_sub(s.quarantined);
    let mut parts =
        vec![count_of(s.filed, "file filed", "files filed"), count_of(dups, "duplicate skipped", "duplicates skipped")];
    if s.quarantined > 0 {
        parts.push(count_of(
            s.quarantined,
            "duplicate moved to the duplicates folder",
            "duplicates moved to the duplicates folder",
        ));
    }
    if s.non_media > 0 {
        parts.push(count_of(s.non_media, "file that is not media left alone", "files that are not media left alone"));
    }
    parts.push(format!("{} failed", s.errors));
    let what = parts.join(", ");
    match s.session {
        Some(id) if s.filed + s.quarantined > 0 => {
            format!("batch filed: session {id}: {what} (`cbctl undo {id}` puts them back)")
        }
        Some(id) => format!("batch done: session {id}: {what} (nothing moved, nothing to undo)"),
        None => format!("batch done: {what}"),
    }
}

/// Marks a file handled-but-left-alone, in memory and in the store, so it
/// is not retried (or reported again) until it changes, even after a restart.
pub(super) fn park(
    journal: &mut Journal,
    seen: &mut std::collections::HashMap<PathBuf, Seen>,
    row: ParkedRow,
    now: Instant,
) {
    if let Err(e) = journal.store().park(&row) {
        tracing::warn!(
            "cannot remember that {} is left alone, across restarts: {e}; it may be looked at again after one",
            row.path.display()
        );
    }
    let undone = row.outcome == "undone";
    park_in(seen, row.path, row.size, row.mtime_ns, undone, now);
}

/// Forgets parked files that changed or left their inbox.
pub(super) fn forget_parked(journal: &mut Journal, paths: &[&Path]) {
    if paths.is_empty() {
        return;
    }
    if let Err(e) = journal.store_mut().unpark(paths) {
        tracing::warn!("cannot forget {} file(s) left alone before: {e}", paths.len());
    }
}

/// The files left alone before the last stop, still parked as they were:
/// a duplicate skipped yesterday is not reported again today unless it
/// changed. Rows outside every inbox (one removed from the config) are dropped.
pub(super) fn load_parked(journal: &mut Journal, cfg: &Config, settle: &mut Settle) {
    let rows = journal.store().parked().unwrap_or_else(|e| {
        tracing::warn!("cannot read the files left alone before: {e}; they will be looked at again");
        Vec::new()
    });
    let now = Instant::now();
    let (mine, stale): (Vec<ParkedRow>, Vec<ParkedRow>) =
        rows.into_iter().partition(|r| cfg.inbox.iter().any(|i| r.path.starts_with(&i.path)));
    forget_parked(journal, &stale.iter().map(|r| r.path.as_path()).collect::<Vec<_>>());
    if !mine.is_empty() {
        tracing::info!(
            "{} left alone before stay alone until they change (`cbctl rescan` retries them)",
            count_of(mine.len() as u64, "file", "files")
        );
    }
    for r in mine {
        let undone = r.outcome == "undone";
        settle.park(r.path, r.size, r.mtime_ns, undone, now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(outcome: Outcome, taken: Option<&str>, source: Option<&'static str>) -> FileEvent {
        FileEvent {
            path: PathBuf::from("/inbox/a.jpg"),
            outcome,
            dest: Some(PathBuf::from("/lib/2021/06/a.jpg")),
            duplicate_of: None,
            how: None,
            distance: None,
            taken: taken.map(str::to_string),
            source,
            bytes: 1,
            reason: None,
            no_space: false,
        }
    }

    #[test]
    fn the_filed_line_names_both_paths_the_date_and_its_source() {
        let f = event(Outcome::Moved, Some("2021-06-01T10:00:07+02:00"), Some("exif"));
        assert_eq!(filed_line(&f), "filed: /inbox/a.jpg -> /lib/2021/06/a.jpg (taken 2021-06-01 10:00 from exif)");
        let f = event(Outcome::Copied, Some("2021-06-01T10:00:07"), Some("mtime"));
        assert_eq!(
            filed_line(&f),
            "filed (copied; the inbox keeps its file): /inbox/a.jpg -> /lib/2021/06/a.jpg (no date in the file: \
             filed by its mtime, 2021-06-01 10:00)"
        );
        let f = event(Outcome::Moved, Some("2021-06-01T08:00:00Z"), Some("filename"));
        assert!(filed_line(&f).ends_with("(taken 2021-06-01 08:00 from the file name)"), "{}", filed_line(&f));
    }

    #[test]
    fn a_file_left_alone_says_why_without_an_empty_reason() {
        let mut f = event(Outcome::NonMedia, None, None);
        assert_eq!(left_line(&f), "left in inbox: not a media file: /inbox/a.jpg");
        f.outcome = Outcome::Skipped;
        f.reason = Some("a symbolic link (never followed)".into());
        assert_eq!(left_line(&f), "left in inbox: a symbolic link (never followed): /inbox/a.jpg");
    }

    #[test]
    fn the_batch_line_is_words_with_the_undo_command() {
        let s = Summary { session: Some(3), filed: 2, duplicates: 1, ..Summary::default() };
        assert_eq!(
            batch_line(&s),
            "batch filed: session 3: 2 files filed, 1 duplicate skipped, 0 failed (`cbctl undo 3` puts them back)"
        );
        let s =
            Summary { session: Some(4), non_media: 1, duplicates: 2, similar: 1, quarantined: 1, ..Summary::default() };
        assert_eq!(
            batch_line(&s),
            "batch filed: session 4: 0 files filed, 2 duplicates skipped, 1 duplicate moved to the duplicates \
             folder, 1 file that is not media left alone, 0 failed (`cbctl undo 4` puts them back)"
        );
        let s = Summary { session: Some(5), errors: 1, ..Summary::default() };
        assert_eq!(
            batch_line(&s),
            "batch done: session 5: 0 files filed, 0 duplicates skipped, 1 failed (nothing moved, nothing to undo)"
        );
    }
}
