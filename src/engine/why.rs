//! `cbctl why FILE`: what clean-backup decided for a file and why, from the
//! journal (the session's decision and the ops that moved it) and the index
//! (the date it was filed by and the library file it duplicates).

use std::path::Path;

use crate::store::{Action, DecisionRow, OpRow, OpState, Store, StoreError};

/// Everything known about one file, newest decision first.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Why {
    /// The file asked about (absolute).
    pub path: String,
    /// What happened to it, in one phrase: what `cbctl why` prints after the
    /// path on its first line ("filed (moved into the library)", "filed, then
    /// undone by session 4: back at /inbox/a.jpg", "unknown to clean-backup").
    #[serde(default)]
    pub headline: String,
    /// `filed`, `skipped` or `failed` (organize, ingest), `set aside` (a duplicate
    /// `cbctl dedup` moved, copied or trashed); `None` when no session decided on it.
    pub decision: Option<String>,
    /// The detailed outcome: moved, copied, quarantined, duplicate, skipped, non-media, error.
    pub outcome: Option<String>,
    /// The session that decided.
    pub session: Option<SessionInfo>,
    /// The file as found (an inbox path), when asked about where it went.
    pub found_at: Option<String>,
    /// Where it went, when it was filed or quarantined.
    pub dest: Option<String>,
    /// The library file it duplicates, where it was when this was decided.
    pub duplicate_of: Option<String>,
    /// Where that library file is now, following the journal's moves of it
    /// since (filed from an inbox, moved by another organize, quarantined,
    /// trashed); the same as `duplicate_of` when nothing moved it. `None`
    /// when it was removed since (see `duplicate_note`).
    #[serde(default)]
    pub duplicate_now: Option<String>,
    /// How `duplicate_now` differs from `duplicate_of`: "moved by session 7
    /// (organize)", "removed by session 9 (prune)"; `None` when it did not move.
    #[serde(default)]
    pub duplicate_note: Option<String>,
    /// `exact` (same bytes) or `similar` (same picture).
    #[serde(rename = "match")]
    pub how: Option<String>,
    /// pHash distance to `duplicate_of`.
    pub distance: Option<u32>,
    /// The capture date it was filed by (RFC 3339).
    pub taken: Option<String>,
    /// Where that date came from (exif, xmp, quicktime, file name, mtime, ...).
    pub date_source: Option<String>,
    /// The session's reason, for a file left alone or a note.
    pub reason: Option<String>,
    /// When it was decided.
    pub decided_at: Option<String>,
    /// The undo session that reverted what the decision did, if one did.
    #[serde(default)]
    pub undone_by: Option<i64>,
    /// How many older decisions there are about this path.
    pub earlier_decisions: usize,
    /// Every journaled move of this file, oldest first.
    pub history: Vec<Step>,
    /// The daemon left it alone in its inbox: until when it will stay so.
    pub left_alone: Option<LeftAlone>,
    /// The index's record of the file at this path (a library file).
    pub indexed: Option<Indexed>,
    /// The file is a motion photo (a JPEG or HEIC with a video inside), in
    /// words: "a motion photo (Google, 7.4 kB video inside), kept whole: ...".
    /// Read from the file itself where it is now, for a file a session
    /// decided on or the index holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub motion: Option<String>,
    /// Where the file is now and what happens next, in a sentence.
    pub now: String,
}

/// The session behind a decision.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    /// Session id (what `cbctl undo ID` takes).
    pub id: i64,
    /// Its kind: ingest, organize, dedup, compress, undo or prune.
    pub kind: String,
    /// When it started (RFC 3339 UTC).
    pub started_at: String,
    /// Where it stands: running, done, interrupted, undone or partly-undone.
    pub state: String,
}

/// One journaled operation on the file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Step {
    /// The session the op belongs to.
    pub session: i64,
    /// What the op does: move, copy, unlink or trash.
    pub action: String,
    /// Where the file was (the op's source).
    pub from: String,
    /// Where it went (the op's destination; for an unlink, the original's place).
    pub to: String,
    /// Where the op stands: planned, done, failed, undone or pruned.
    pub state: String,
}

/// A parked inbox file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LeftAlone {
    /// What happened to it, in a word: "duplicate", "error", ...
    pub outcome: String,
    /// The reason in words, when one was recorded.
    pub reason: Option<String>,
    /// When it was parked (RFC 3339 UTC).
    pub since: String,
}

/// An index row, as far as `why` tells it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Indexed {
    /// Media kind name (`jpeg`, `heic`, `mp4`, ...).
    pub kind: String,
    /// Capture date (RFC 3339), when one was found.
    pub taken: Option<String>,
    /// Where that date came from (exif, quicktime, file name, mtime, ...).
    pub date_source: Option<String>,
    /// blake3 of the content, hex.
    pub blake3: String,
    /// Perceptual hash as 16 hex digits, for images that could be decoded.
    pub phash: Option<String>,
}

impl Why {
    /// The outcome in words, for a decision: "duplicate, left in the inbox", ...
    pub fn outcome_word(&self) -> Option<&'static str> {
        let dedup = self.session.as_ref().is_some_and(|s| s.kind == "dedup");
        Some(match self.outcome.as_deref()? {
            "moved" if dedup => "a duplicate, moved aside by cbctl dedup",
            "copied" if dedup => "a duplicate, copied aside by cbctl dedup",
            "trashed" => "a duplicate, moved to the trash by cbctl dedup",
            "moved" => "moved into the library",
            "copied" => "copied into the library",
            "quarantined" => "duplicate, moved to the duplicates folder",
            "duplicate" => "duplicate, left where it was",
            "non-media" => "not a photo or video",
            "skipped" => "hidden, a sync tool's temp file, or a link",
            "error" => "could not be read or filed",
            "waiting" => "for the file that belongs with it, up to watch.pair_seconds",
            _ => return None,
        })
    }
}

fn lossy(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// What the journal and index know about `path` (absolute).
pub fn why(store: &Store, path: &Path) -> Result<Why, StoreError> {
    let mut w = Why { path: lossy(path), ..Why::default() };
    let decisions = store.decisions_about(path)?;
    w.earlier_decisions = decisions.len().saturating_sub(1);
    let ops = store.ops_touching(path)?;
    w.history = ops
        .iter()
        .map(|o| Step {
            session: o.session,
            action: o.action.as_str().to_string(),
            from: lossy(&o.src),
            to: lossy(&o.dst),
            state: o.state.as_str().to_string(),
        })
        .collect();
    if let Some((row, since)) = store.parked_at(path)? {
        w.left_alone = Some(LeftAlone { outcome: row.outcome, reason: row.reason, since });
    }
    if let Some(f) = store.file_at(path)? {
        w.indexed = Some(Indexed {
            kind: f.kind,
            taken: f.taken_at,
            date_source: f.taken_source,
            blake3: f.blake3,
            phash: f.phash.map(|h| h.to_string()),
        });
    }
    if let Some(d) = decisions.into_iter().next() {
        explain_decision(store, path, &ops, d, &mut w)?;
    } else if let Some(last) = w.history.last() {
        // Moved by a session that records no decisions (an older version, or an undo).
        w.now = format!("{} by session {} to {} ({})", last.action, last.session, last.to, last.state);
    } else if let Some(i) = &w.indexed {
        w.taken = i.taken.clone();
        w.date_source = i.date_source.clone();
        w.now = "in the index, but no clean-backup session filed it (put there by hand, or before the \
                 journal recorded decisions)"
            .into();
    } else {
        w.now = "no record: no session has looked at this file. If it is in an inbox, the daemon has not \
                 filed it yet; `cbctl status` says whether it is paused, waiting for the library, or failing"
            .into();
    }
    if w.decision.is_some() || w.indexed.is_some() {
        w.motion = motion_of(&w);
    }
    w.headline = headline(&w);
    Ok(w)
}

/// Whether the file, where it is now (the path asked about, else where it
/// was filed), is a motion photo; the index does not record it, so the
/// file is probed.
fn motion_of(w: &Why) -> Option<String> {
    let here = [Some(w.path.as_str()), w.dest.as_deref()]
        .into_iter()
        .flatten()
        .map(Path::new)
        .find(|p| crate::fsops::exists(p).unwrap_or(false))?;
    let m = crate::media::probe(here).ok()?.motion?;
    Some(format!("a motion photo ({}), kept whole: the video is never re-encoded or cut off", m.describe()))
}

/// The first line's phrase: the decision and its outcome, or what became of
/// it when an undo reverted it since.
fn headline(w: &Why) -> String {
    let Some(decision) = w.decision.as_deref() else {
        return if w.indexed.is_some() { "in the library index" } else { "unknown to clean-backup" }.to_string();
    };
    match (w.undone_by, w.outcome.as_deref(), w.found_at.as_deref().unwrap_or(&w.path)) {
        (Some(undo), Some("copied"), found) => {
            format!("{decision}, then undone by session {undo}: the copy was removed; the original is at {found}")
        }
        (Some(undo), _, found) => format!("{decision}, then undone by session {undo}: back at {found}"),
        (None, _, _) => match w.outcome_word() {
            Some(o) => format!("{decision} ({o})"),
            None => decision.to_string(),
        },
    }
}

/// Where the file that was at `path` when session `session` decided is now,
/// following the journal's moves of it from there: `(now, note)`, `now` being
/// `None` when it was removed; `note` is `None` when nothing moved it.
pub(crate) fn whereabouts(
    store: &Store,
    path: &Path,
    session: i64,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let mut at = path.to_path_buf();
    let mut after = 0;
    let mut last: Option<OpRow> = None;
    // Each step is a later op, so this ends; the bound is for a journal edited by hand.
    for _ in 0..10_000 {
        let Some(op) = store.next_op_from(&at, session, after)? else { break };
        after = op.id;
        if op.action == Action::Unlink {
            let kind = store.session(op.session)?.map(|s| s.kind).unwrap_or_default();
            return Ok((None, Some(format!("removed since by session {} ({kind})", op.session))));
        }
        at = op.dst.clone();
        last = Some(op);
    }
    let note = match &last {
        Some(op) if op.dst != path => {
            let kind = store.session(op.session)?.map(|s| s.kind).unwrap_or_default();
            let how = if op.action == Action::Trash { "moved to the trash" } else { "moved" };
            Some(format!("{how} since by session {} ({kind})", op.session))
        }
        _ => None,
    };
    Ok((Some(lossy(&at)), note))
}

/// What `cbctl why` prints for `w`: its first line (the path and the
/// headline), then one indented line per fact, each ending in a newline.
pub fn render(w: &Why) -> String {
    let mut out = String::new();
    // An answer from a daemon that predates `headline` is told the same way.
    let first = if w.headline.is_empty() { headline(w) } else { w.headline.clone() };
    out.push_str(&format!("{}: {first}\n", w.path));
    let mut row = |k: &str, v: &str| out.push_str(&format!("  {k:<11} {v}\n"));
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
            (Some("deleted"), _) => "deleted before".to_string(),
            (_, Some(d)) => format!("a copy of the same capture, pHash distance {d}"),
            _ => "duplicate".to_string(),
        };
        let line = match (w.duplicate_now.as_deref(), w.duplicate_note.as_deref()) {
            (Some(now), Some(note)) => format!("{now} ({how}; at {k} when decided, {note})"),
            (None, Some(note)) => format!("{k} ({how}; {note})"),
            _ => format!("{k} ({how})"),
        };
        row("same as", &line);
    }
    if let Some(m) = &w.motion {
        row("motion", m);
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
    out
}

/// `ops`: the journal ops touching `path`, which include the one this
/// decision made (its source or its destination is `path`).
fn explain_decision(store: &Store, path: &Path, ops: &[OpRow], d: DecisionRow, w: &mut Why) -> Result<(), StoreError> {
    w.outcome = Some(d.outcome.clone());
    if let Some(s) = store.session(d.session)? {
        w.session = Some(SessionInfo { id: s.id, kind: s.kind, started_at: s.started_at, state: s.state });
    }
    let dedup = w.session.as_ref().is_some_and(|s| s.kind == "dedup");
    w.decision = Some(
        match d.outcome.as_str() {
            "moved" | "copied" | "trashed" if dedup => "set aside",
            "quarantined" => "set aside",
            "moved" | "copied" => "filed",
            "error" => "failed",
            "waiting" => "waiting",
            _ => "skipped",
        }
        .to_string(),
    );
    if d.path != path {
        w.found_at = Some(lossy(&d.path));
    }
    w.dest = d.dest.as_deref().map(lossy);
    w.duplicate_of = d.duplicate_of.as_deref().map(lossy);
    if let Some(keeper) = &d.duplicate_of {
        (w.duplicate_now, w.duplicate_note) = whereabouts(store, keeper, d.session)?;
    }
    w.how = d.how;
    w.distance = d.distance;
    w.taken = d.taken_at;
    w.date_source = d.taken_source;
    w.reason = d.reason;
    w.decided_at = Some(d.at);
    let to = d.dest.as_deref().map(|p| p.display().to_string()).unwrap_or_default();
    // The journaled move this decision made, and whether an undo reverted it since.
    let op = ops.iter().find(|o| {
        o.session == d.session && o.src == d.path && matches!(o.action, Action::Move | Action::Copy | Action::Trash)
    });
    let undone_by = match &op {
        Some(o) if o.state == OpState::Undone => store.undo_of(o.id)?,
        _ => None,
    };
    w.undone_by = undone_by;
    w.now = match (d.outcome.as_str(), undone_by) {
        ("moved" | "copied" | "quarantined" | "trashed", Some(undo)) => {
            format!("undone by session {undo}: back at {}", d.path.display())
        }
        ("trashed", None) => format!(
            "in the trash at {}; `cbctl undo {}` brings it back until `cbctl prune` empties the trash",
            to, d.session
        ),
        ("moved", None) if dedup => format!("moved aside to {}; `cbctl undo {}` puts it back", to, d.session),
        ("copied", None) if dedup => format!("copied to {}; this file stays where it is", to),
        ("moved", None) => format!("in the library at {}", to),
        ("copied", None) => format!("copied into the library at {}; the inbox copy stays (copy-mode inbox)", to),
        ("quarantined", None) => format!(
            "moved aside to {}; `cbctl keep {}` files it after all, `cbctl undo {}` puts it back",
            to,
            super::verdicts::shell_quote(&to),
            d.session
        ),
        ("duplicate", None) if w.left_alone.is_some() => format!(
            "left in the inbox; `cbctl keep {}` files it after all; looked at again when it changes, or on \
             `cbctl rescan`",
            super::verdicts::shell_quote(&d.path.to_string_lossy())
        ),
        ("duplicate", None) => format!(
            "left where it was; `cbctl keep {}` files it after all",
            super::verdicts::shell_quote(&d.path.to_string_lossy())
        ),
        ("error", _) => "left where it was; the daemon tries again when the file changes, or on `cbctl rescan`".into(),
        ("waiting", _) => "in the inbox, waiting up to watch.pair_seconds for the file that belongs with it; \
                           then filed with it, or alone"
            .into(),
        _ if w.left_alone.is_some() => {
            "left in the inbox; looked at again when it changes, or on `cbctl rescan`".into()
        }
        _ => "left where it was".into(),
    };
    Ok(())
}
