//! The journal as `cbctl` shows it: `undo` of a session already undone is
//! refused (exit 2, no new session), `history` counts the files that failed,
//! and the trash can be listed before `prune` empties it.

mod common;

use std::path::{Path, PathBuf};

use clean_backup::journal::{Journal, JournalError};
use common::*;

const PHOTO: &str = "exif-samples/jpg/Canon_40D.jpg";
const OTHER: &str = "metadata-extractor/jpg/Canon EOS 5D.jpg";

fn sessions(state: &Path) -> Vec<serde_json::Value> {
    let out = run(cbctl(state).args(["--local", "--json", "history"]));
    assert_eq!(out.status.code(), Some(0));
    let mut lines = json_lines(&out);
    assert_eq!(lines.pop().unwrap()["summary"], true);
    lines
}

#[test]
fn undo_of_a_session_already_undone_is_refused_and_makes_no_session() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    copy_corpus(&corpus, &[PHOTO], &src);
    let out = run(cbctl(&state).args(["--local", "--json", "organize"]).arg(&src).arg(&lib));
    assert_eq!(out.status.code(), Some(0));
    let organized = summary(&json_lines(&out))["session"].as_i64().unwrap();

    let out = run(cbctl(&state).args(["--local", "undo"]).arg(organized.to_string()));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(b3(&src.join(PHOTO)), b3(&corpus.join(PHOTO)), "put back");
    let before = sessions(&state);
    let undo = before[0]["id"].as_i64().unwrap();
    assert_eq!(before[0]["kind"], "undo");

    let out = run(cbctl(&state).args(["--local", "undo"]).arg(organized.to_string()));
    assert_eq!(out.status.code(), Some(2), "a usage error: nothing to do");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("session {organized} was already undone (by session {undo}); nothing to put back")),
        "{err}"
    );
    let after = sessions(&state);
    assert_eq!(after.len(), before.len(), "no new session: {after:?}");
    assert_eq!(after[0]["id"], undo);
    assert_eq!(b3(&src.join(PHOTO)), b3(&corpus.join(PHOTO)), "nothing moved");
}

#[test]
fn undo_of_a_session_that_moved_nothing_says_why_and_makes_no_session() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    copy_corpus(&corpus, &[PHOTO], &src);
    let out = run(cbctl(&state).args(["--local", "organize"]).arg(&src).arg(&lib));
    assert_eq!(out.status.code(), Some(0));
    // The same photo again: a duplicate, left where it is, so the session moved nothing.
    let again = t.path().join("again");
    copy_corpus(&corpus, &[PHOTO], &again);
    let out = run(cbctl(&state).args(["--local", "--json", "organize"]).arg(&again).arg(&lib));
    assert_eq!(out.status.code(), Some(0));
    let nothing = summary(&json_lines(&out))["session"].as_i64().unwrap();
    let before = sessions(&state);

    let out = run(cbctl(&state).args(["--local", "undo"]).arg(nothing.to_string()));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("session {nothing} has nothing to put back")), "{err}");
    assert!(err.contains("moved, copied or trashed no file"), "{err}");
    assert_eq!(sessions(&state).len(), before.len(), "no new session");
    assert!(again.join(PHOTO).exists());
}

#[test]
fn history_counts_the_files_that_failed_in_a_session() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    copy_corpus(&corpus, &[PHOTO], &src);
    // Two corpus photos cut short, as by a failed transfer: they cannot be read.
    let other = std::fs::read(corpus.join(OTHER)).unwrap();
    std::fs::write(src.join("half.jpg"), &other[..other.len() / 2]).unwrap();
    std::fs::write(src.join("header.jpg"), &other[..64]).unwrap();

    let out = run(cbctl(&state).args(["--local", "--json", "organize"]).arg(&src).arg(&lib));
    assert_eq!(out.status.code(), Some(1), "some files failed");
    let s = summary(&json_lines(&out));
    assert_eq!((s["filed"].as_u64(), s["errors"].as_u64()), (Some(1), Some(2)), "{s}");
    let id = s["session"].as_i64().unwrap();

    let rows = sessions(&state);
    let row = rows.iter().find(|r| r["id"] == id).unwrap();
    assert_eq!(row["failed"], 2, "{row}");
    assert_eq!(row["ops_done"], 1, "{row}");
    let out = run(cbctl(&state).args(["--local", "history"]));
    let table = String::from_utf8_lossy(&out.stdout);
    let line = table.lines().find(|l| l.trim_start().starts_with(&format!("{id} "))).unwrap();
    let cols: Vec<&str> = line.split_whitespace().collect();
    // ID KIND STARTED STATE DONE UNDONE FAILED BYTES
    assert_eq!((cols[4], cols[5], cols[6]), ("1", "0", "2"), "{table}");
}

#[test]
fn prune_preview_lists_the_trash_prune_would_empty_and_changes_nothing() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let (dir, state) = (root.join("photos"), root.join("state"));
    std::fs::create_dir_all(&dir).unwrap();
    let original = corpus.join(PHOTO);
    for name in ["IMG_0001.jpg", "IMG_0001 (1).jpg", "IMG_0001 (2).jpg"] {
        std::fs::copy(&original, dir.join(name)).unwrap();
    }
    let before_dedup = chrono::Utc::now() - chrono::Duration::seconds(5);
    let out = run(cbctl(&state).args(["--local", "--json", "dedup", "--action", "delete", "--names"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    let session = summary(&lines)["session"].as_i64().unwrap();
    let mut trashed: Vec<(PathBuf, PathBuf)> = lines
        .iter()
        .filter(|l| l["outcome"] == "trashed")
        .map(|l| (PathBuf::from(l["dest"].as_str().unwrap()), PathBuf::from(l["path"].as_str().unwrap())))
        .collect();
    trashed.sort();
    assert_eq!(trashed.len(), 2, "{lines:?}");

    let now = chrono::Utc::now().to_rfc3339();
    {
        let (journal, _) = Journal::open(&state).unwrap();
        let preview = journal.prune_preview(&now).unwrap();
        let mut listed: Vec<(PathBuf, PathBuf)> =
            preview.files.iter().map(|f| (PathBuf::from(&f.trash_path), PathBuf::from(&f.original))).collect();
        listed.sort();
        assert_eq!(listed, trashed, "{preview:?}");
        let size = std::fs::metadata(&original).unwrap().len();
        assert!(preview.files.iter().all(|f| f.bytes == size && f.session == session), "{preview:?}");
        assert_eq!(preview.bytes, 2 * size);
        assert!(preview.problems.is_empty());
        for (in_trash, _) in &trashed {
            assert_eq!(b3(in_trash), b3(&original), "still in the trash after the preview");
        }
        // The cutoff is the trashing session's finish time: before it, nothing.
        let early = journal.prune_preview(&before_dedup.to_rfc3339()).unwrap();
        assert!(early.files.is_empty(), "{early:?}");
        // Any RFC 3339 offset means the same instant; anything else is refused.
        let east = (chrono::Utc::now() + chrono::Duration::seconds(1))
            .with_timezone(&chrono::FixedOffset::east_opt(2 * 3600).unwrap())
            .to_rfc3339();
        assert_eq!(journal.prune_preview(&east).unwrap().files.len(), 2);
        assert!(matches!(journal.prune_preview("last tuesday"), Err(JournalError::BadTime(_))));
    }
    let history = sessions(&state);

    // cbctl shows the same list with --dry-run, and removes nothing.
    let out = run(cbctl(&state).args(["--local", "prune", "--older-than", "0", "--dry-run"]));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    for (in_trash, was) in &trashed {
        assert!(text.contains(&format!("would remove {} (was {})", in_trash.display(), was.display())), "{text}");
    }
    assert!(text.contains("would remove 2 files"), "{text}");
    // Without --yes and nobody at a terminal to ask, nothing is removed: exit 2, and how to go on.
    let out = run(cbctl(&state).args(["--local", "prune", "--older-than", "0"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("add --yes"), "{err}");
    // The default age keeps what was trashed today.
    let out = run(cbctl(&state).args(["--local", "prune", "--yes"]));
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("nothing to prune (trashed more than 30 days ago)"), "{text}");
    assert!(trashed.iter().all(|(p, _)| p.exists()), "nothing was pruned yet");
    assert_eq!(sessions(&state).len(), history.len(), "and no session was made");

    // prune removes exactly what the preview listed.
    let out = run(cbctl(&state).args(["--local", "--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    let mut removed: Vec<PathBuf> =
        lines.iter().filter(|l| l["removed"] == true).map(|l| PathBuf::from(l["path"].as_str().unwrap())).collect();
    removed.sort();
    assert_eq!(removed, trashed.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>());
    assert!(trashed.iter().all(|(p, _)| !p.exists()));
    assert_eq!(b3(&dir.join("IMG_0001.jpg")), b3(&original), "the keeper stays");
    assert_eq!(sessions(&state).len(), history.len() + 1, "one prune session");
}
