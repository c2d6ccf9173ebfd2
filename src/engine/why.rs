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
    /// The library file it duplicates.
    pub duplicate_of: Option<String>,
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
    /// How many older decisions there are about this path.
    pub earlier_decisions: usize,
    /// Every journaled move of this file, oldest first.
    pub history: Vec<Step>,
    /// The daemon left it alone in its inbox: until when it will stay so.
    pub left_alone: Option<LeftAlone>,
    /// The index's record of the file at this path (a library file).
    pub indexed: Option<Indexed>,
    /// Where the file is now and what happens next, in a sentence.
    pub now: String,
}

/// The session behind a decision.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct SessionInfo {
    pub id: i64,
    pub kind: String,
    pub started_at: String,
    pub state: String,
}

/// One journaled operation on the file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Step {
    pub session: i64,
    pub action: String,
    pub from: String,
    pub to: String,
    pub state: String,
}

/// A parked inbox file.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct LeftAlone {
    pub outcome: String,
    pub reason: Option<String>,
    pub since: String,
}

/// An index row, as far as `why` tells it.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Indexed {
    pub kind: String,
    pub taken: Option<String>,
    pub date_source: Option<String>,
    pub blake3: String,
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
            "quarantined" => "duplicate, moved aside",
            "duplicate" => "duplicate, left where it was",
            "non-media" => "not a photo or video",
            "skipped" => "hidden, a sync tool's temp file, or a link",
            "error" => "could not be read or filed",
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
    Ok(w)
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
            "moved" | "copied" => "filed",
            "error" => "failed",
            _ => "skipped",
        }
        .to_string(),
    );
    if d.path != path {
        w.found_at = Some(lossy(&d.path));
    }
    w.dest = d.dest.as_deref().map(lossy);
    w.duplicate_of = d.duplicate_of.as_deref().map(lossy);
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
        ("quarantined", None) => format!("moved aside to {}; `cbctl undo {}` puts it back", to, d.session),
        ("error", _) => "left where it was; the daemon tries again when the file changes, or on `cbctl rescan`".into(),
        _ if w.left_alone.is_some() => {
            "left in the inbox; looked at again when it changes, or on `cbctl rescan`".into()
        }
        _ => "left where it was".into(),
    };
    Ok(())
}
