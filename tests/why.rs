//! `cbctl why FILE`: the daemon files a photo and skips an identical copy
//! and a half-size re-encode of it; `why` explains each from the journal
//! and index (session, decision, the library file it duplicates and how
//! close, the date and its source), through the daemon and locally, and
//! after an undo; a file nobody looked at is "unknown", exit 1.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::Duration;

use common::variants::{self, PHOTOS};
use common::*;

fn why(config: &Path, file: &Path, local: bool) -> (Output, serde_json::Value) {
    let mut cmd = ctl(config);
    if local {
        cmd.arg("--local");
    }
    let out = run(cmd.arg("--json").arg("why").arg(file));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "one explanation and the summary");
    (out, lines[0].clone())
}

fn text(config: &Path, file: &Path) -> String {
    let out = run(ctl(config).arg("why").arg(file));
    assert_eq!(out.status.code(), Some(0));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn why_explains_a_filed_photo_and_the_duplicates_skipped_beside_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let config = daemon_config(&root, 1);
    let daemon = start_daemon(&config);
    let (inbox, lib) = (root.join("inbox"), root.join("lib"));
    wait_for("the control socket", Duration::from_secs(20), || root.join("state/clean-backupd.sock").exists());

    // PHOTOS[0] is an iPhone 4 photo taken 2011-01-13 14:33:39 (EXIF DateTimeOriginal).
    let original = corpus.join(PHOTOS[0]);
    std::fs::copy(&original, inbox.join("photo.jpg")).unwrap();
    wait_for("the photo to be filed", Duration::from_secs(20), || status(&config)["total"]["filed"] == 1);
    let filed = lib.join("2011/01/photo.jpg");
    assert_eq!(b3(&filed), b3(&original));

    // The same bytes under another name, and a half-size re-encode: both skipped.
    std::fs::copy(&original, inbox.join("again.jpg")).unwrap();
    let stage = root.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    let half = variants::write_variants(&original, &stage, "v").remove(0);
    std::fs::rename(&half, inbox.join("half.jpg")).unwrap();
    wait_for("both duplicates to be skipped", Duration::from_secs(20), || status(&config)["total"]["skipped"] == 2);

    // The filed photo, asked about by its library path (through the daemon).
    let (out, w) = why(&config, &filed, false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w["decision"], "filed", "{w}");
    assert_eq!(w["outcome"], "moved");
    assert_eq!(w["session"]["kind"], "ingest");
    let filing = w["session"]["id"].as_i64().unwrap();
    assert_eq!(w["found_at"], inbox.join("photo.jpg").to_str().unwrap());
    assert_eq!(w["dest"], filed.to_str().unwrap());
    assert!(w["taken"].as_str().unwrap().starts_with("2011-01-13T14:33:39"), "{w}");
    assert_eq!(w["date_source"], "exif");
    assert_eq!(w["indexed"]["blake3"], b3(&filed));
    assert_eq!(w["history"][0]["action"], "move");
    assert_eq!(w["history"][0]["state"], "done");
    assert!(w["now"].as_str().unwrap().starts_with("in the library"), "{w}");
    // ... and by its inbox path: the same decision.
    let (_, by_src) = why(&config, &inbox.join("photo.jpg"), false);
    assert_eq!((by_src["decision"].clone(), by_src["dest"].clone()), (w["decision"].clone(), w["dest"].clone()));

    // The identical copy: skipped, same bytes as the library file.
    let (out, w) = why(&config, &inbox.join("again.jpg"), false);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(w["decision"], "skipped", "{w}");
    assert_eq!(w["outcome"], "duplicate");
    assert_eq!(w["duplicate_of"], filed.to_str().unwrap());
    assert_eq!(w["match"], "exact");
    assert_eq!(w["session"]["kind"], "ingest");
    assert!(w["session"]["id"].as_i64().unwrap() > filing);
    assert_eq!(w["left_alone"]["outcome"], "duplicate");
    assert_eq!(w["date_source"], "exif");
    assert!(w["now"].as_str().unwrap().contains("cbctl rescan"), "{w}");

    // The half-size copy: skipped, the same picture at a small pHash distance.
    // (set aside into the duplicates folder, as `dedup.on_similar` = "quarantine" says)
    let (_, w) = why(&config, &inbox.join("half.jpg"), false);
    assert_eq!(w["decision"], "set aside", "{w}");
    assert_eq!(w["outcome"], "quarantined", "{w}");
    assert_eq!(w["duplicate_of"], filed.to_str().unwrap());
    assert_eq!(w["match"], "similar");
    let d = w["distance"].as_u64().unwrap();
    assert!(d <= 6, "within the default threshold: {w}");
    let said = text(&config, &inbox.join("half.jpg"));
    assert!(said.contains("half.jpg: set aside (duplicate, moved to the duplicates folder)"), "{said}");
    assert!(said.contains("a copy of the same capture as"), "the verdict in one sentence: {said}");
    assert!(
        said.contains(&format!("same as     {} (a copy of the same capture, pHash distance {d})", filed.display())),
        "{said}"
    );
    let said = text(&config, &inbox.join("again.jpg"));
    assert!(said.contains(&format!("same as     {} (identical bytes)", filed.display())), "{said}");
    assert!(said.contains("taken       2011-01-13T14:33:39"), "{said}");
    assert!(said.contains("(date from exif)"), "{said}");

    // A file no session looked at: unknown, exit 1, and the hint.
    let stranger = root.join("stranger.jpg");
    std::fs::copy(&original, &stranger).unwrap();
    let (out, w) = why(&config, &stranger, false);
    assert_eq!(out.status.code(), Some(1));
    assert!(w["decision"].is_null());
    assert!(w["now"].as_str().unwrap().starts_with("no record"), "{w}");

    // Without the daemon, read locally: the same answers. After an undo, the filing says so.
    drop(daemon);
    let (_, local) = why(&config, &inbox.join("half.jpg"), true);
    assert_eq!(local["distance"], d);
    let out = run(ctl(&config).arg("--local").arg("undo").arg(filing.to_string()));
    assert_eq!(out.status.code(), Some(0));
    let (_, w) = why(&config, &inbox.join("photo.jpg"), true);
    assert_eq!(w["decision"], "filed");
    assert_eq!(w["history"][0]["state"], "undone", "{w}");
    assert!(w["now"].as_str().unwrap().starts_with("undone by session"), "{w}");
    assert_eq!(b3(&inbox.join("photo.jpg")), b3(&original));
}

#[test]
fn why_tells_where_cbctl_dedup_put_a_duplicate_and_which_copy_it_kept() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let (dir, state) = (root.join("photos"), root.join("state"));
    std::fs::create_dir_all(&dir).unwrap();
    let original = corpus.join(PHOTOS[0]);
    std::fs::copy(&original, dir.join("IMG_0001.jpg")).unwrap();
    std::fs::copy(&original, dir.join("IMG_0001 (1).jpg")).unwrap();
    let out = run(cbctl(&state).args(["--json", "dedup", "--action", "delete", "--names"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    let trashed = dir.join("IMG_0001 (1).jpg");
    assert!(!trashed.exists() && dir.join("IMG_0001.jpg").exists(), "the copy name went, the original stayed");

    let out = run(cbctl(&state).args(["--json", "why"]).arg(&trashed));
    assert_eq!(out.status.code(), Some(0));
    let w = json_lines(&out)[0].clone();
    assert_eq!(w["decision"], "set aside", "{w}");
    assert_eq!(w["outcome"], "trashed");
    assert_eq!(w["session"]["kind"], "dedup");
    assert_eq!(w["duplicate_of"], dir.join("IMG_0001.jpg").to_str().unwrap());
    assert_eq!(w["match"], "exact");
    assert_eq!(w["history"][0]["action"], "trash");
    let dest = w["dest"].as_str().unwrap().to_string();
    assert_eq!(b3(Path::new(&dest)), b3(&original), "the trashed bytes are where why says");
    assert!(w["now"].as_str().unwrap().starts_with(&format!("in the trash at {dest}")), "{w}");
}

fn organize(state: &Path, src: &Path, lib: &Path) -> i64 {
    let out = run(cbctl(state).args(["--local", "--json", "organize"]).arg(src).arg(lib));
    assert_eq!(out.status.code(), Some(0));
    summary(&json_lines(&out))["session"].as_i64().unwrap()
}

fn why_local(state: &Path, file: &Path) -> (String, serde_json::Value) {
    let out = run(cbctl(state).args(["--local", "why"]).arg(file));
    assert_eq!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let out = run(cbctl(state).args(["--local", "--json", "why"]).arg(file));
    (said, json_lines(&out)[0].clone())
}

#[test]
fn a_file_filed_then_undone_reads_the_same_by_its_inbox_path_and_its_library_path() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let (inbox, lib, state) = (root.join("inbox"), root.join("lib"), root.join("state"));
    std::fs::create_dir_all(&inbox).unwrap();
    let photo = inbox.join("photo.jpg");
    std::fs::copy(corpus.join(PHOTOS[0]), &photo).unwrap();
    let filing = organize(&state, &inbox, &lib);
    let filed = lib.join("2011/01/photo.jpg");
    assert!(filed.exists());
    let out = run(cbctl(&state).args(["--local", "--json", "undo"]).arg(filing.to_string()));
    assert_eq!(out.status.code(), Some(0));
    let undo = summary(&json_lines(&out))["undo_session"].as_i64().unwrap();
    assert!(photo.exists() && !filed.exists());

    let headline = format!("filed, then undone by session {undo}: back at {}", photo.display());
    for asked in [&photo, &filed] {
        let (said, w) = why_local(&state, asked);
        assert_eq!(said.lines().next().unwrap(), format!("{}: {headline}", asked.display()), "{said}");
        assert_eq!(w["headline"], headline.as_str(), "{w}");
        assert_eq!(w["undone_by"], undo);
        assert!(said.ends_with(&format!("  now         undone by session {undo}: back at {}\n", photo.display())));
    }
}

#[test]
fn same_as_names_where_the_library_copy_is_now_after_another_organize_moved_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let (lib, state) = (root.join("lib"), root.join("state"));
    let (first, second) = (root.join("first"), root.join("second"));
    for d in [&first, &second] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::copy(corpus.join(PHOTOS[0]), first.join("photo.jpg")).unwrap();
    organize(&state, &first, &lib);
    let kept = lib.join("2011/01/photo.jpg");
    // The same bytes again: a duplicate of the library file, left where it is.
    let copy = second.join("copy.jpg");
    std::fs::copy(corpus.join(PHOTOS[0]), &copy).unwrap();
    organize(&state, &second, &lib);
    assert!(copy.exists());
    // The library is organized into another folder: the kept copy moves.
    let elsewhere = root.join("archive");
    let moving = organize(&state, &lib, &elsewhere);
    let now = elsewhere.join("2011/01/photo.jpg");
    assert!(now.exists() && !kept.exists());

    let (said, w) = why_local(&state, &copy);
    assert_eq!(w["duplicate_of"], kept.to_str().unwrap(), "as decided: {w}");
    assert_eq!(w["duplicate_now"], now.to_str().unwrap(), "{w}");
    assert_eq!(
        said.lines().find(|l| l.trim_start().starts_with("same as")).unwrap(),
        format!(
            "  same as     {} (identical bytes; at {} when decided, moved since by session {moving} (organize))",
            now.display(),
            kept.display()
        ),
        "{said}"
    );
    assert_eq!(said.lines().next().unwrap(), format!("{}: skipped (duplicate, left where it was)", copy.display()));
}
