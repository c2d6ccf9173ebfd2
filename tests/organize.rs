//! `cbctl organize`, `history` and `undo` on copies of the real corpus.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;

/// Corpus files with a DateTimeOriginal, and the folder each must land in.
fn dated(corpus: &Path) -> Vec<(String, String)> {
    manifest(corpus)
        .into_iter()
        .filter(|e| !PROPRIETARY_ONLY.iter().any(|(p, _)| *p == e.path))
        .filter_map(|e| {
            let dto = e.date_time_original?;
            // "2021:04:11 15:47:53" -> "2021/04"
            Some((e.path, format!("{}/{}", &dto[0..4], &dto[5..7])))
        })
        .collect()
}

fn organize(state: &Path, src: &Path, dest: &Path, extra: &[&str]) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = run(cbctl(state).arg("--json").arg("organize").arg(src).arg(dest).args(extra));
    let lines = json_lines(&out);
    (out, lines)
}

/// Maps each source path to the event reported for it.
fn by_path(lines: &[serde_json::Value]) -> BTreeMap<PathBuf, serde_json::Value> {
    lines
        .iter()
        .filter(|l| l.get("path").is_some())
        .map(|l| (PathBuf::from(l["path"].as_str().unwrap()), l.clone()))
        .collect()
}

#[test]
fn every_corpus_file_with_a_date_original_lands_in_its_month_with_bytes_unchanged() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    let files = dated(&corpus);
    let rels: Vec<&str> = files.iter().map(|(p, _)| p.as_str()).collect();
    copy_corpus(&corpus, &rels, &src);
    let src = src.canonicalize().unwrap();
    let before: BTreeMap<String, String> = rels.iter().map(|r| (r.to_string(), b3(&src.join(r)))).collect();

    // Exact matching only: some corpus files are the same picture (exiftool's
    // placeholder images; an iPhone's HDR and normal exposure), and this test
    // is about dates. tests/dedup.rs covers perceptual matching in organize.
    let (out, lines) = organize(&state, &src, &dest, &["--no-phash"]);
    let events = by_path(&lines);
    let mut wrong = Vec::new();
    for (rel, month) in &files {
        let ev = &events[&src.join(rel)];
        if ev["outcome"] != "moved" {
            wrong.push(format!("{rel}: {ev}"));
            continue;
        }
        let landed = PathBuf::from(ev["dest"].as_str().unwrap());
        let folder = landed.parent().unwrap().strip_prefix(dest.canonicalize().unwrap()).unwrap();
        if folder != Path::new(month) {
            wrong.push(format!("{rel}: in {} not {month} ({})", folder.display(), ev["taken"]));
        }
        assert_eq!(b3(&landed), before[rel.as_str()], "{rel} changed bytes");
        assert!(!src.join(rel).exists(), "{rel} still at source after a move");
    }
    assert!(wrong.is_empty(), "misfiled:\n{}", wrong.join("\n"));
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!(s["filed"], files.len() as u64);
    assert_eq!(s["errors"], 0);
}

#[test]
fn undo_restores_the_original_tree_exactly_and_leaves_no_empty_folders() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    let all: Vec<String> = manifest(&corpus).into_iter().map(|e| e.path).collect();
    let rels: Vec<&str> = all.iter().map(String::as_str).collect();
    copy_corpus(&corpus, &rels, &src);
    let before = tree(&src);

    let (_, lines) = organize(&state, &src, &dest, &["--move"]);
    let s = summary(&lines);
    assert!(s["filed"].as_u64().unwrap() > 100, "{s}");
    assert!(s["non_media"].as_u64().unwrap() >= 5, "READMEs are non-media: {s}");
    assert_ne!(tree(&src), before);
    let session = s["session"].as_i64().unwrap();

    let out = run(cbctl(&state).args(["--json", "undo", "--last"]));
    assert_eq!(out.status.code(), Some(0));
    let u = summary(&json_lines(&out));
    assert_eq!(u["session"], session);
    // Filed files and the similar copies set aside into the duplicates folder.
    let moved = s["filed"].as_u64().unwrap() + s["quarantined"].as_u64().unwrap();
    assert_eq!(u["reverted"].as_u64(), Some(moved), "{u}");
    assert_eq!(tree(&src), before, "undo must restore every path and byte");
    assert!(!dest.exists(), "the library folders the session created are removed: {:?}", tree(&dest));

    // History shows both sessions and their counts.
    let out = run(cbctl(&state).args(["--json", "history"]));
    let h = json_lines(&out);
    assert_eq!(h[0]["kind"], "undo");
    assert_eq!(h[1]["id"], session);
    assert_eq!(h[1]["state"], "undone");
    assert_eq!(h[1]["ops_undone"].as_u64(), Some(moved));
}

#[test]
fn copy_keeps_sources_and_undo_removes_only_the_copies_and_their_folders() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    let files = dated(&corpus);
    let rels: Vec<&str> = files.iter().take(25).map(|(p, _)| p.as_str()).collect();
    copy_corpus(&corpus, &rels, &src);
    std::fs::create_dir_all(dest.join("2001")).unwrap();
    std::fs::write(dest.join("2001/keep.txt"), b"the user's own file").unwrap();
    let before_src = tree(&src);
    let before_dest = tree(&dest);

    let (out, lines) = organize(&state, &src, &dest, &["--copy"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(tree(&src), before_src, "copy leaves the source untouched");
    for ev in lines.iter().filter(|l| l["outcome"] == "copied") {
        assert_eq!(b3(Path::new(ev["dest"].as_str().unwrap())), b3(Path::new(ev["path"].as_str().unwrap())));
    }
    assert_eq!(summary(&lines)["filed"], 25);

    // The same files again are exact duplicates: reported, skipped, source kept.
    let (out, lines) = organize(&state, &src, &dest, &[]);
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!((s["duplicates"].as_u64(), s["filed"].as_u64()), (Some(25), Some(0)), "{s}");
    assert!(lines.iter().filter(|l| l.get("outcome").is_some()).all(|l| l["outcome"] == "duplicate"));
    assert_eq!(tree(&src), before_src);

    let out = run(cbctl(&state).args(["--json", "undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "the duplicate-only session has nothing to undo, so --last is the copy");
    assert_eq!(tree(&src), before_src);
    assert_eq!(tree(&dest), before_dest, "only the copies and the folders they needed are gone");
}

#[test]
fn dry_run_touches_nothing_and_reports_the_plan() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg", "exif-samples/heic/IMG_5195.HEIC"], &src);
    let before = tree(&src);
    let (out, lines) = organize(&state, &src, &dest, &["--dry-run"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(tree(&src), before);
    assert!(!dest.exists());
    let planned: Vec<String> =
        lines.iter().filter(|l| l["outcome"] == "planned").map(|l| l["dest"].as_str().unwrap().to_string()).collect();
    assert_eq!(planned.len(), 2);
    assert!(planned.iter().any(|d| d.ends_with("2008/05/Canon_40D.jpg")), "{planned:?}");
    assert!(planned.iter().any(|d| d.ends_with("2021/04/IMG_5195.HEIC")), "{planned:?}");
    assert_eq!(summary(&lines)["session"], serde_json::Value::Null);
}

#[test]
fn a_name_clash_with_other_content_gets_a_number_and_nothing_is_overwritten() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &src);
    // Same name, same month, different bytes already in the library.
    std::fs::create_dir_all(dest.join("2008/05")).unwrap();
    let mut other = std::fs::read(corpus.join("exif-samples/jpg/Canon_40D.jpg")).unwrap();
    other.extend_from_slice(b"trailing bytes make it different");
    std::fs::write(dest.join("2008/05/Canon_40D.jpg"), &other).unwrap();
    // The same picture, so exact matching only: the clash is the point here.
    let (_, lines) = organize(&state, &src, &dest, &["--no-phash"]);
    let ev = lines.iter().find(|l| l["outcome"] == "moved").expect("moved");
    assert!(ev["dest"].as_str().unwrap().ends_with("2008/05/Canon_40D (1).jpg"), "{ev}");
    assert_eq!(std::fs::read(dest.join("2008/05/Canon_40D.jpg")).unwrap(), other);
}

#[test]
fn undo_never_overwrites_what_is_now_at_the_original_path_and_checks_the_hash() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    copy_corpus(
        &corpus,
        &["exif-samples/jpg/Canon_40D.jpg", "exif-samples/jpg/Nikon_D70.jpg", "exif-samples/jpg/Pentax_K10D.jpg"],
        &src,
    );
    let (_, lines) = organize(&state, &src, &dest, &[]);
    let session = summary(&lines)["session"].as_i64().unwrap();
    // Something new now sits at one original path; another filed file was edited.
    std::fs::write(src.join("exif-samples/jpg/Canon_40D.jpg"), b"a new file the user made").unwrap();
    let edited = dest.join("2008/03/Nikon_D70.jpg");
    std::fs::write(&edited, b"edited in the library").unwrap();

    let out = run(cbctl(&state).args(["--json", "undo", &session.to_string()]));
    assert_eq!(out.status.code(), Some(1), "conflicts make undo exit 1");
    let lines = json_lines(&out);
    let u = summary(&lines);
    assert_eq!(u["reverted"], 1);
    assert_eq!(u["conflicts"].as_array().unwrap().len(), 2);
    assert_eq!(std::fs::read(src.join("exif-samples/jpg/Canon_40D.jpg")).unwrap(), b"a new file the user made");
    assert!(dest.join("2008/05/Canon_40D.jpg").exists(), "the conflicting file stays in the library");
    assert_eq!(std::fs::read(&edited).unwrap(), b"edited in the library");
    assert!(src.join("exif-samples/jpg/Pentax_K10D.jpg").exists(), "the clean one went back");
    assert!(!dest.join("2008/05/Pentax_K10D.jpg").exists());
}

#[test]
fn hidden_temp_and_symlinked_entries_are_left_alone_and_counted() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    let outside = t.path().join("outside");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &outside);
    std::fs::create_dir_all(&src).unwrap();
    let jpg = outside.join("exif-samples/jpg/Canon_40D.jpg");
    for name in [".syncthing.a.jpg.tmp", "b.jpg.part", "c.jpg.crdownload", "~$d.jpg", ".hidden.jpg"] {
        std::fs::copy(&jpg, src.join(name)).unwrap();
    }
    std::os::unix::fs::symlink(&outside, src.join("link-out")).unwrap();
    std::os::unix::fs::symlink(&jpg, src.join("link.jpg")).unwrap();
    std::fs::write(src.join("notes.txt"), b"not media").unwrap();
    let before = tree(&src);
    let (out, lines) = organize(&state, &src, &dest, &[]);
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!(
        (s["filed"].as_u64(), s["skipped"].as_u64(), s["non_media"].as_u64()),
        (Some(0), Some(7), Some(1)),
        "{s}"
    );
    assert_eq!(tree(&src), before);
    assert!(outside.join("exif-samples/jpg/Canon_40D.jpg").exists());
}

#[test]
fn a_live_photo_video_with_only_a_utc_time_is_filed_on_its_photos_local_day() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    // The photo: 2021-04-11 15:47:53 -05:00 (exiftool's reading of IMG_5195.HEIC).
    std::fs::copy(corpus.join("exif-samples/heic/IMG_5195.HEIC"), src.join("IMG_5195.HEIC")).unwrap();
    // Its video, with only an mvhd time, late enough that UTC is the next day.
    for (name, size) in [("IMG_5195.MOV", "64x64"), ("LONE_VIDEO.MOV", "48x48")] {
        let status = std::process::Command::new("ffmpeg")
            .args(["-loglevel", "error", "-f", "lavfi", "-i", &format!("testsrc=duration=1:size={size}:rate=5")])
            .arg("-metadata")
            .arg("creation_time=2021-04-12T02:00:00Z")
            .arg(src.join(name))
            .status()
            .expect("ffmpeg must be installed (scripts/setup.sh installs it)");
        assert!(status.success());
    }
    let config = t.path().join("config.toml");
    std::fs::write(&config, "layout = \"{year}/{month:02}/{day:02}\"\n").unwrap();
    let out = run(cbctl(&state).arg("--config").arg(&config).arg("--json").arg("organize").arg(&src).arg(&dest));
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    let dest_of = |name: &str| {
        let ev = lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name))).unwrap();
        PathBuf::from(ev["dest"].as_str().unwrap())
            .parent()
            .unwrap()
            .strip_prefix(dest.canonicalize().unwrap())
            .unwrap()
            .to_path_buf()
    };
    assert_eq!(dest_of("IMG_5195.HEIC"), Path::new("2021/04/11"));
    assert_eq!(dest_of("IMG_5195.MOV"), Path::new("2021/04/11"), "the video joins its photo's local day");
    assert_eq!(dest_of("LONE_VIDEO.MOV"), Path::new("2021/04/12"), "a video without a sibling is filed by UTC");
    let lone = lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("LONE_VIDEO.MOV"))).unwrap();
    assert_eq!(lone["taken"], "2021-04-12T02:00:00Z");
    assert_eq!(lone["source"], "mvhd");
}

#[test]
fn on_a_terminal_a_progress_bar_is_drawn_and_the_summary_printed() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    let files = dated(&corpus);
    let rels: Vec<&str> = files.iter().take(40).map(|(p, _)| p.as_str()).collect();
    copy_corpus(&corpus, &rels, &src);
    // `script` gives the child a pseudo-terminal, as a person's shell would.
    let cmdline = format!(
        "{} --state-dir '{}' organize '{}' '{}'",
        env!("CARGO_BIN_EXE_cbctl"),
        state.display(),
        src.display(),
        dest.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qefc", &cmdline, "/dev/null"])
        .env("XDG_CONFIG_HOME", state.join("no-config"))
        .output()
        .expect("script (util-linux) runs");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    assert!(screen.contains("/40 files"), "a progress bar counting the 40 files: {screen:?}");
    assert!(screen.contains("40 files scanned: 40 moved"), "summary: {screen:?}");
}

#[test]
fn the_layout_template_can_use_camera_and_english_month_names() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg", "exif-samples/heic/mobile/iphone_13_pro_max.HEIC"], &src);
    let config = t.path().join("config.toml");
    std::fs::write(&config, "layout = \"{camera}/{year}/{month_name}\"\n").unwrap();
    let out = run(cbctl(&state)
        .arg("--config")
        .arg(&config)
        .env("LC_ALL", "fr_FR.UTF-8")
        .arg("organize")
        .arg(&src)
        .arg(&dest));
    assert_eq!(out.status.code(), Some(0));
    assert!(dest.join("Canon EOS 40D/2008/May/Canon_40D.jpg").is_file(), "{:?}", tree(&dest));
    assert!(dest.join("Apple iPhone 13 Pro Max/2022/February/iphone_13_pro_max.HEIC").is_file(), "{:?}", tree(&dest));
}

/// The daemon quarantines a duplicate whose name is already taken in the
/// duplicates folder (here by an earlier copy of the same photo, synced
/// again) under ` (1)`, ` (2)`, ... instead of leaving it in the inbox; a
/// different duplicate under that name too; undo puts each back.
#[test]
fn quarantine_numbers_a_name_already_taken_in_the_duplicates_folder_and_undo_puts_each_back() {
    use std::time::Duration;
    const X: &str = "exif-samples/jpg/Canon_40D.jpg";
    const Y: &str = "exif-samples/jpg/Canon_PowerShot_S40.jpg";
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let config = daemon_config(&root, 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[dedup]\non_duplicate = \"quarantine\"\n");
    std::fs::write(&config, text).unwrap();
    let (inbox, lib) = (root.join("inbox"), root.join("lib"));
    // The library holds both photos.
    let first = root.join("first");
    copy_corpus(&corpus, &[X, Y], &first);
    let out = run(ctl(&config).args(["--local", "organize"]).arg(&first).arg(&lib));
    assert_eq!(out.status.code(), Some(0));

    let daemon = start_daemon_logged(&config, &root.join("daemon.log"));
    let q = lib.join(".clean-backup-duplicates/phone");
    let arriving = inbox.join("phone/IMG_1.jpg");
    std::fs::create_dir_all(arriving.parent().unwrap()).unwrap();
    let wait = Duration::from_secs(30);
    // IMG_1.jpg, a copy of X, three times: X, X again (the phone synced it
    // again), then Y under the same name. Each time the inbox is emptied.
    let mut sessions = Vec::new();
    for (photo, name) in [(X, "IMG_1.jpg"), (X, "IMG_1 (1).jpg"), (Y, "IMG_1 (2).jpg")] {
        std::fs::copy(corpus.join(photo), &arriving).unwrap();
        wait_for(name, wait, || q.join(name).exists() && !arriving.exists());
        assert_eq!(b3(&q.join(name)), b3(&corpus.join(photo)), "{name}: bytes unchanged");
        let out = run(ctl(&config).args(["--json", "history", "--limit", "1"]));
        let last = json_lines(&out)[0].clone();
        assert_eq!((last["kind"].as_str(), last["ops_done"].as_i64()), (Some("ingest"), Some(1)), "{last}");
        sessions.push(last["id"].as_i64().unwrap());
    }
    assert!(tree(&inbox).values().all(|v| v == "dir"), "the inbox is empty: {:?}", tree(&inbox));
    drop(daemon);

    // Undo, newest first: each file back at the inbox path it came from
    // (moved aside in between, as the next one comes back to the same name).
    let kept = root.join("kept");
    std::fs::create_dir_all(&kept).unwrap();
    for (session, photo) in sessions.iter().rev().zip([Y, X, X]) {
        let out = run(ctl(&config).args(["--local", "undo"]).arg(session.to_string()));
        assert_eq!(out.status.code(), Some(0), "undo {session}");
        assert_eq!(b3(&arriving), b3(&corpus.join(photo)));
        std::fs::rename(&arriving, kept.join(format!("{session}.jpg"))).unwrap();
    }
    assert!(!q.exists(), "the duplicates folder emptied, and the folders undo made removed");
    assert_eq!(contents(&kept).len(), 2, "X twice and Y: {:?}", tree(&kept));
}
