//! `cbctl dedup` and the duplicate checks of `cbctl organize`, on corpus
//! photos and copies of them made here (resized, re-encoded, converted,
//! rotated), with the real binary and a real SQLite index.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use common::variants::{self, PHOTOS};
use common::*;

fn dedup(state: &Path, args: &[&str], dirs: &[&Path]) -> (std::process::Output, Vec<serde_json::Value>) {
    let out = run(cbctl(state).arg("--json").arg("dedup").args(args).args(dirs));
    let lines = json_lines(&out);
    (out, lines)
}

/// Each group as the set of its files (keeper and members).
fn groups(lines: &[serde_json::Value]) -> Vec<BTreeSet<PathBuf>> {
    lines
        .iter()
        .filter(|l| l.get("group").is_some())
        .map(|g| {
            let mut set: BTreeSet<PathBuf> =
                g["members"].as_array().unwrap().iter().map(|m| PathBuf::from(m["path"].as_str().unwrap())).collect();
            set.insert(PathBuf::from(g["keeper"].as_str().unwrap()));
            set
        })
        .collect()
}

/// Originals of PHOTOS in `dir/{i}/original.jpg` with their five variants beside them.
fn photo_set(corpus: &Path, dir: &Path) -> Vec<BTreeSet<PathBuf>> {
    let dir = {
        std::fs::create_dir_all(dir).unwrap();
        dir.canonicalize().unwrap()
    };
    PHOTOS
        .iter()
        .enumerate()
        .map(|(i, rel)| {
            let sub = dir.join(i.to_string());
            std::fs::create_dir_all(&sub).unwrap();
            let original = sub.join("original.jpg");
            std::fs::copy(corpus.join(rel), &original).unwrap();
            let mut set: BTreeSet<PathBuf> = variants::write_variants(&original, &sub, "copy").into_iter().collect();
            set.insert(original);
            set
        })
        .collect()
}

#[test]
fn resized_reencoded_converted_and_rotated_copies_are_grouped_with_their_original_only() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("photos");
    let expected = photo_set(&corpus, &dir);
    let (out, lines) = dedup(&t.path().join("state"), &["--threshold", "6"], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    let mut found = groups(&lines);
    found.sort();
    let mut expected = expected;
    expected.sort();
    assert_eq!(found, expected);
    // The keeper is never a reduced copy.
    for g in lines.iter().filter(|l| l.get("group").is_some()) {
        let keeper = g["keeper"].as_str().unwrap();
        assert!(!keeper.ends_with("half.jpg") && !keeper.ends_with("quarter.jpg"), "{keeper}");
    }
    let s = summary(&lines);
    assert_eq!((s["groups"].as_u64(), s["duplicates"].as_u64()), (Some(8), Some(40)), "{s}");
}

#[test]
fn different_corpus_photos_are_never_grouped() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    // Report only: reads the corpus in place, writes nothing there.
    let (out, lines) = dedup(&t.path().join("state"), &[], &[&corpus]);
    assert_eq!(out.status.code(), Some(0));
    let rel = |p: &PathBuf| p.strip_prefix(corpus.canonicalize().unwrap()).unwrap().to_string_lossy().into_owned();
    let found: BTreeSet<BTreeSet<String>> = groups(&lines).iter().map(|g| g.iter().map(rel).collect()).collect();
    // The only groups are one picture stored several ways: exif-samples'
    // orientation set (one photo saved with each EXIF orientation, pixels
    // turned to match) and metadata-extractor's exif-at-eof.heic, which is
    // IMG_2927.HEIC with its EXIF moved to the end (same capture second,
    // same pixels). An iPhone's HDR and normal exposure of one shot, 4 bits
    // apart, are two captures (SubSecTimeOriginal and CustomRendered differ).
    // Blank placeholder images (exiftool's samples) are matched by exact content only.
    let set = |prefix: &str, n: usize| (1..=n).map(|i| format!("{prefix}_{i}.jpg")).collect::<BTreeSet<_>>();
    let expected: BTreeSet<BTreeSet<String>> = [
        set("exif-samples/jpg/orientation/landscape", 8),
        set("exif-samples/jpg/orientation/portrait", 8),
        ["metadata-extractor/heic/IMG_2927.HEIC".to_string(), "metadata-extractor/heic/exif-at-eof.heic".to_string()]
            .into(),
    ]
    .into();
    assert_eq!(found, expected);
}

#[test]
fn delete_moves_copies_to_the_trash_undo_restores_every_byte_and_prune_is_final() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = t.path().join("photos");
    photo_set(&corpus, &dir);
    let before = tree(&dir);

    let (out, lines) = dedup(&state, &["--action", "delete"], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!(s["handled"].as_u64(), Some(40), "{s}");
    let session = s["session"].as_i64().unwrap();
    let trash = dir.join(".clean-backup-trash").join(session.to_string());
    let trashed = tree(&trash).into_iter().filter(|(_, h)| h != "dir").count();
    assert_eq!(trashed, 40);
    let visible: Vec<_> =
        tree(&dir).into_iter().filter(|(p, h)| h != "dir" && !p.starts_with(".clean-backup-trash")).collect();
    assert_eq!(visible.len(), 8, "one keeper per photo: {visible:?}");

    let out = run(cbctl(&state).arg("undo").arg("--last"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(tree(&dir), before, "every file back, byte for byte, and no trash folder left");

    // Again, then empty the trash: gone for good, and undo says so.
    let (_, lines) = dedup(&state, &["--action", "delete"], &[&dir]);
    let session = summary(&lines)["session"].as_i64().unwrap();
    let out = run(cbctl(&state).args(["--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(summary(&json_lines(&out))["removed"].as_u64(), Some(40));
    assert!(!dir.join(".clean-backup-trash").join(session.to_string()).exists());
    let out = run(cbctl(&state).arg("--json").arg("undo").arg(session.to_string()));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("removed for good by `cbctl prune`"), "{text}");
}

#[test]
fn move_and_copy_put_duplicates_under_to_with_their_relative_paths() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = t.path().join("photos");
    let sub = dir.join("2020/trip");
    std::fs::create_dir_all(&sub).unwrap();
    std::fs::copy(corpus.join(PHOTOS[0]), sub.join("a.jpg")).unwrap();
    std::fs::copy(corpus.join(PHOTOS[0]), sub.join("a copy.jpg")).unwrap();
    // Videos take part through exact content.
    std::fs::copy(corpus.join("exiftool-samples/QuickTime.mov"), sub.join("clip.mov")).unwrap();
    std::fs::copy(corpus.join("exiftool-samples/QuickTime.mov"), sub.join("clip (1).mov")).unwrap();
    let to = t.path().join("dupes");

    let (out, lines) = dedup(&state, &["--action", "copy", "--to", to.to_str().unwrap()], &[&dir]);
    assert_eq!(out.status.code(), Some(0), "{lines:?}");
    let copied = to.join("2020/trip/a copy.jpg");
    assert_eq!(b3(&copied), b3(&sub.join("a.jpg")));
    assert!(sub.join("a copy.jpg").exists(), "copy leaves the duplicate in place");
    assert_eq!(b3(&to.join("2020/trip/clip (1).mov")), b3(&sub.join("clip.mov")));
    assert_eq!(summary(&lines)["groups"].as_u64(), Some(2));

    std::fs::remove_dir_all(&to).unwrap();
    let (out, _) = dedup(&state, &["--action", "move", "--to", to.to_str().unwrap()], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    assert!(copied.exists() && !sub.join("a copy.jpg").exists() && sub.join("a.jpg").exists());

    // --to inside a folder being deduplicated is refused before anything happens.
    let out = run(cbctl(&state).arg("dedup").arg("--action").arg("move").arg("--to").arg(dir.join("x")).arg(&dir));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("inside"));
}

#[test]
fn the_index_rereads_only_new_or_changed_files_and_notices_removals() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = t.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    for (i, rel) in PHOTOS[..3].iter().enumerate() {
        std::fs::copy(corpus.join(rel), dir.join(format!("{i}.jpg"))).unwrap();
    }
    let index = |lines: &[serde_json::Value]| {
        let i = &summary(lines)["index"];
        ["added", "changed", "removed", "unchanged"].map(|k| i[k].as_u64().unwrap())
    };
    assert_eq!(index(&dedup(&state, &[], &[&dir]).1), [3, 0, 0, 0]);
    assert_eq!(index(&dedup(&state, &[], &[&dir]).1), [0, 0, 0, 3]);
    let mut bytes = std::fs::read(dir.join("0.jpg")).unwrap();
    bytes.extend_from_slice(b"edited");
    std::fs::write(dir.join("0.jpg"), bytes).unwrap();
    std::fs::remove_file(dir.join("1.jpg")).unwrap();
    std::fs::copy(corpus.join(PHOTOS[4]), dir.join("new.jpg")).unwrap();
    assert_eq!(index(&dedup(&state, &[], &[&dir]).1), [1, 1, 1, 1]);
}

#[test]
fn copy_names_count_only_with_matching_content_and_camera_sequences_are_never_flagged() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = t.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let dir = dir.canonicalize().unwrap();
    let put = |name: &str, rel: &str| std::fs::copy(corpus.join(rel), dir.join(name)).unwrap();
    put("IMG_1234.jpg", PHOTOS[0]);
    put("IMG_1235.jpg", PHOTOS[1]);
    put("IMG_20230514_101010.jpg", PHOTOS[2]);
    put("IMG_20230514_101011.jpg", PHOTOS[3]);
    put("IMG_1235 - Copy.jpg", PHOTOS[4]); // a copy name, but another picture
                                           // An exact copy that is *older* than its original (Explorer keeps mtimes):
                                           // the copy name, not the age, decides which one is kept.
    put("IMG_1234 (1).jpg", PHOTOS[0]);
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(dir.join("IMG_1234 (1).jpg")).unwrap().set_modified(old).unwrap();

    let (out, lines) = dedup(&state, &["--names"], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    let gs: Vec<_> = lines.iter().filter(|l| l.get("group").is_some()).collect();
    assert_eq!(gs.len(), 1, "{gs:?}");
    assert_eq!(gs[0]["keeper"], dir.join("IMG_1234.jpg").to_string_lossy().as_ref());
    let m = &gs[0]["members"][0];
    assert_eq!(
        (m["path"].as_str().unwrap(), &m["copy_name"], &m["match"]),
        (dir.join("IMG_1234 (1).jpg").to_str().unwrap(), &serde_json::json!(true), &serde_json::json!("exact"))
    );
}

#[test]
fn organize_skips_what_the_library_has_and_files_only_the_best_incoming_copy() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    // The library already has photo 0.
    let first = t.path().join("first");
    std::fs::create_dir_all(&first).unwrap();
    std::fs::copy(corpus.join(PHOTOS[0]), first.join("a.jpg")).unwrap();
    assert_eq!(run(cbctl(&state).arg("organize").arg(&first).arg(&lib)).status.code(), Some(0));
    // Incoming: a half-size copy of photo 0; photo 1 and a quarter-size copy of it.
    let made = variants::write_variants(&corpus.join(PHOTOS[0]), &src, "p0");
    std::fs::remove_file(&made[1]).unwrap();
    std::fs::remove_file(&made[2]).unwrap();
    std::fs::remove_file(&made[3]).unwrap();
    std::fs::remove_file(&made[4]).unwrap();
    std::fs::copy(corpus.join(PHOTOS[1]), src.join("b.jpg")).unwrap();
    let made1 = variants::write_variants(&corpus.join(PHOTOS[1]), &src, "p1");
    for p in [&made1[0], &made1[2], &made1[3], &made1[4]] {
        std::fs::remove_file(p).unwrap();
    }
    let before = tree(&src);

    let out = run(cbctl(&state).arg("--json").arg("organize").arg(&src).arg(&lib));
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    let outcome =
        |name: &str| lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name))).cloned().unwrap();
    // Similar copies are set aside into the library's duplicates folder (`dedup.on_similar` = quarantine).
    let dups = lib.canonicalize().unwrap().join(".clean-backup-duplicates");
    let half = outcome("p0-half.jpg");
    assert_eq!(half["outcome"], "quarantined");
    assert_eq!(half["match"], "similar");
    assert!(half["reason"].as_str().unwrap().contains("in the library"), "{half}");
    assert!(half["duplicate_of"].as_str().unwrap().ends_with("a.jpg"), "{half}");
    assert_eq!(half["dest"].as_str().unwrap(), dups.join("p0-half.jpg").to_str().unwrap(), "{half}");
    assert_eq!(outcome("b.jpg")["outcome"], "moved");
    let quarter = outcome("p1-quarter.jpg");
    assert_eq!(quarter["outcome"], "quarantined");
    assert!(quarter["reason"].as_str().unwrap().contains("better copy in this batch"), "{quarter}");
    let s = summary(&lines);
    assert_eq!((s["filed"].as_u64(), s["similar"].as_u64(), s["quarantined"].as_u64()), (Some(1), Some(2), Some(2)));
    assert_eq!(b3(&dups.join("p0-half.jpg")), before[Path::new("p0-half.jpg")], "set aside unchanged");
    assert!(dups.join("p1-quarter.jpg").exists());

    // Undo, then exact matching only: every file is filed.
    assert_eq!(run(cbctl(&state).arg("undo").arg("--last")).status.code(), Some(0));
    assert_eq!(tree(&src), before);
    let out = run(cbctl(&state).arg("--json").arg("organize").arg("--no-phash").arg(&src).arg(&lib));
    assert_eq!(summary(&json_lines(&out))["filed"].as_u64(), Some(3));
}

#[test]
fn thresholds_take_presets_by_name_and_refuse_nonsense() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let config = t.path().join("config.toml");
    std::fs::write(&config, "# my settings\n[dedup]\nthreshold = 6\n").unwrap();
    let cfg = |args: &[&str]| run(cbctl(&state).arg("--config").arg(&config).arg("config").args(args));
    assert_eq!(cfg(&["set", "dedup.threshold", "aggressive"]).status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&cfg(&["get", "dedup.threshold"]).stdout).trim(), "10");
    assert!(std::fs::read_to_string(&config).unwrap().contains("# my settings"));
    assert_eq!(cfg(&["set", "dedup.threshold", "12"]).status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&cfg(&["get", "dedup.threshold"]).stdout).trim(), "12");
    let dir = t.path().join("empty");
    std::fs::create_dir_all(&dir).unwrap();
    let out = run(cbctl(&state).arg("dedup").arg("--threshold").arg("exact").arg(&dir));
    assert_eq!(out.status.code(), Some(0));
    let out = run(cbctl(&state).arg("dedup").arg("--threshold").arg("40").arg(&dir));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 to 32"));
}

/// A camera JPEG and a re-save of it as PNG (the same pixels, no EXIF, more
/// bytes): the camera original is kept, by dedup and by organize alike.
#[test]
fn the_camera_original_is_kept_over_a_re_save_that_lost_its_metadata() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (dir, lib, state) = work_dirs(t.path());
    std::fs::create_dir_all(&dir).unwrap();
    let jpeg = dir.join("IMG_0001.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), &jpeg).unwrap();
    let png = dir.join("IMG_0001.png");
    image::open(&jpeg).unwrap().save(&png).unwrap();
    assert!(std::fs::metadata(&png).unwrap().len() > std::fs::metadata(&jpeg).unwrap().len());
    let camera = b3(&jpeg);

    // organize --dry-run files the dated JPEG, and calls the PNG its duplicate.
    let out = run(cbctl(&state).args(["--json", "organize", "--dry-run"]).arg(&dir).arg(&lib));
    let lines = json_lines(&out);
    let of = |p: &Path| lines.iter().find(|l| l["path"] == p.to_str().unwrap()).cloned().unwrap();
    assert_eq!(of(&jpeg)["outcome"], "planned", "{lines:?}");
    assert!(of(&jpeg)["dest"].as_str().unwrap().ends_with("2008/05/IMG_0001.jpg"), "{lines:?}");
    assert_eq!(of(&png)["outcome"], "duplicate", "{lines:?}");
    assert_eq!(of(&png)["duplicate_of"], jpeg.to_str().unwrap(), "{lines:?}");

    // dedup --action delete trashes the re-save, never the original.
    let (out, lines) = dedup(&state, &["--action", "delete"], &[&dir]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let group = lines.iter().find(|l| l.get("keeper").is_some()).expect("one group");
    assert_eq!(group["keeper"], jpeg.to_str().unwrap(), "{group}");
    let why = group["members"][0]["why_not_kept"].as_str().unwrap();
    assert!(why.contains("capture date from the camera, and the camera's make and model"), "{group}");
    assert_eq!(b3(&jpeg), camera, "the camera original is where it was, byte for byte");
    assert!(!png.exists(), "the re-save went to the trash");
}

/// `dedup.protect`: a copy under a protected folder is kept over any other,
/// and one there is never trashed, even when a protected file is its keeper.
#[test]
fn files_under_dedup_protect_are_kept_and_never_set_aside() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (dir, _, state) = work_dirs(t.path());
    let (keep, other) = (dir.join("keep"), dir.join("other"));
    for d in [&keep, &other] {
        std::fs::create_dir_all(d).unwrap();
    }
    let photo = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    // The copy elsewhere is the older one: it would be the keeper without protect.
    std::fs::copy(&photo, other.join("IMG_1.jpg")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::copy(&photo, keep.join("IMG_1.jpg")).unwrap();
    std::fs::copy(&photo, keep.join("IMG_1 again.jpg")).unwrap();
    let config = t.path().join("config.toml");
    std::fs::write(&config, "[dedup]\nprotect = [\"src/keep\"]\n").unwrap();

    let out = run(cbctl(&state).arg("--config").arg(&config).args(["--json", "dedup", "--action", "delete"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let group = lines.iter().find(|l| l.get("keeper").is_some()).expect("one group");
    assert!(group["keeper"].as_str().unwrap().starts_with(keep.to_str().unwrap()), "{group}");
    assert_eq!(group["members"].as_array().unwrap().len(), 2, "{group}");
    assert!(!other.join("IMG_1.jpg").exists(), "the unprotected copy went to the trash");
    assert!(keep.join("IMG_1.jpg").exists() && keep.join("IMG_1 again.jpg").exists(), "both protected copies stay");
    let protected =
        group["members"].as_array().unwrap().iter().find(|m| m["path"].as_str().unwrap().contains("/keep/"));
    assert_eq!(protected.unwrap()["why_not_kept"], "this copy is under dedup.protect: left where it is", "{group}");
    assert_eq!(summary(&lines)["handled"], 1, "{lines:?}");
}

/// The review page trashes one group: the one kept by the keeper it showed,
/// and of its copies only those it showed. A group whose keeper changed
/// since (another copy chosen) is left alone, as is a copy that joined it.
#[test]
fn a_trash_of_one_group_moves_only_the_copies_shown_and_nothing_once_its_keeper_changed() {
    use clean_backup::engine::dedup::{dedup as run_dedup, DedupAction, DedupOptions};
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    let original = dir.join("Canon_40D.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), &original).unwrap();
    let made = variants::write_variants(&original, &dir, "canon");
    let before = tree(&dir);
    let (half, png) = (made[0].clone(), made[4].clone());
    let cfg = clean_backup::config::Config::defaults();
    let opts = |keepers: Vec<PathBuf>, members: Vec<PathBuf>| DedupOptions {
        dirs: vec![dir.clone()],
        action: DedupAction::Delete,
        to: None,
        group: clean_backup::engine::group::GroupOptions::from_config(&cfg),
        library: None,
        access: None,
        keepers,
        members,
        undated: false,
        exact: false,
        all_files: false,
    };
    let (mut journal, _) = clean_backup::journal::Journal::open(&t.path().join("state")).unwrap();
    // The page showed the half-size copy as the keeper: it is not, so nothing moves.
    let s =
        run_dedup(&mut journal, &opts(vec![half.clone()], vec![original.clone(), png.clone()]), &mut |_| {}).unwrap();
    assert_eq!(s.handled, 0, "no group is kept by it");
    assert_eq!(tree(&dir), before, "nothing moved");
    // The original keeps them all; the page showed only the half-size copy.
    let s = run_dedup(&mut journal, &opts(vec![original.clone()], vec![half.clone()]), &mut |_| {}).unwrap();
    assert_eq!(s.handled, 1, "only the copy shown");
    assert!(!half.exists() && png.exists() && original.exists());
    let after = tree(&dir);
    for (rel, hash) in &before {
        if dir.join(rel) != half {
            assert_eq!(after.get(rel), Some(hash), "{} untouched", rel.display());
        }
    }
}

/// Bytes `dedup --exact` reads of each end of a file (`engine::exact::BLOCK`).
const EXACT_BLOCK: u64 = 16 * 1024;

/// A folder for `--exact`: two copies of a corpus photo, a photo and a copy
/// of it with one byte changed in the middle (same size, same head and
/// tail), two same-size photos that differ at once, a pair of small
/// identical files, an empty pair, a hard link, a non-media pair, and one
/// big file of a size nothing else has. Returns the folder and the bytes
/// the search must read: the ends of every file that shares a size, and the
/// whole of those whose ends are alike.
fn exact_set(corpus: &Path, root: &Path) -> (PathBuf, u64) {
    std::fs::create_dir_all(root.join("sub")).unwrap();
    let dir = root.canonicalize().unwrap();
    let a = std::fs::read(corpus.join(PHOTOS[0])).unwrap();
    std::fs::write(dir.join("a.jpg"), &a).unwrap();
    std::fs::write(dir.join("sub/a again.jpg"), &a).unwrap();
    let b = std::fs::read(corpus.join(PHOTOS[1])).unwrap();
    let mut b2 = b.clone();
    let mid = b2.len() / 2;
    b2[mid] ^= 0xff;
    std::fs::write(dir.join("b.jpg"), &b).unwrap();
    std::fs::write(dir.join("b-edited.jpg"), &b2).unwrap();
    std::fs::hard_link(dir.join("b.jpg"), dir.join("b-link.jpg")).unwrap();
    let mut c = std::fs::read(corpus.join(PHOTOS[2])).unwrap();
    std::fs::write(dir.join("c.jpg"), &c).unwrap();
    c[3] ^= 0xff;
    std::fs::write(dir.join("c-head.jpg"), &c).unwrap();
    let small: Vec<u8> = (0..3000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(dir.join("s1.png"), &small).unwrap();
    std::fs::write(dir.join("sub/s2.png"), &small).unwrap();
    std::fs::write(dir.join("empty1.jpg"), b"").unwrap();
    std::fs::write(dir.join("empty2.jpg"), b"").unwrap();
    let notes: Vec<u8> = (0..5000u32).map(|i| (i * 13 % 241) as u8).collect();
    std::fs::write(dir.join("notes.txt"), &notes).unwrap();
    std::fs::write(dir.join("sub/notes.txt"), &notes).unwrap();
    let big: Vec<u8> = (0..3_000_001u32).map(|i| (i % 253) as u8).collect();
    std::fs::write(dir.join("big.jpg"), &big).unwrap();
    let ends = |n: usize| (n as u64).min(2 * EXACT_BLOCK);
    let sampled = 2 * ends(a.len()) + 2 * ends(b.len()) + 2 * ends(c.len()) + 2 * ends(3000) + 2 * ends(5000);
    (dir, sampled + 2 * a.len() as u64 + 2 * b.len() as u64)
}

#[test]
fn exact_finds_only_byte_identical_files_and_reads_no_file_of_a_size_nothing_else_has() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (dir, must_read) = exact_set(&corpus, &t.path().join("photos"));
    let set = |names: &[&str]| names.iter().map(|n| dir.join(n)).collect::<BTreeSet<PathBuf>>();

    let (out, lines) = dedup(&t.path().join("state"), &["--exact"], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    let mut found = groups(&lines);
    found.sort();
    let mut expected = vec![set(&["a.jpg", "sub/a again.jpg"]), set(&["s1.png", "sub/s2.png"])];
    expected.sort();
    assert_eq!(found, expected, "no empty pair, no hard link, no same-size lookalike, no text file");
    let s = summary(&lines);
    assert_eq!(s["index"]["bytes_read"].as_u64(), Some(must_read), "{s}");
    assert_eq!(s["errors"].as_u64(), Some(0), "an empty file is no error here: {s}");

    let (_, lines) = dedup(&t.path().join("state"), &["--exact", "--all-files"], &[&dir]);
    let mut found = groups(&lines);
    found.sort();
    expected.push(set(&["notes.txt", "sub/notes.txt"]));
    expected.sort();
    assert_eq!(found, expected, "--all-files adds the text files");
    assert_eq!(summary(&lines)["index"]["bytes_read"].as_u64(), Some(must_read));
}

#[test]
fn exact_delete_trashes_the_copies_byte_for_byte_and_undo_restores_them() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let (dir, _) = exact_set(&corpus, &t.path().join("photos"));
    let before = tree(&dir);

    let (out, lines) = dedup(&state, &["--exact", "--all-files", "--action", "delete"], &[&dir]);
    assert_eq!(out.status.code(), Some(0));
    let s = summary(&lines);
    assert_eq!(s["handled"].as_u64(), Some(3), "{s}");
    let session = s["session"].as_i64().unwrap();
    let trash = dir.join(".clean-backup-trash").join(session.to_string());
    let trashed: BTreeSet<(PathBuf, String)> = tree(&trash).into_iter().filter(|(_, h)| h != "dir").collect();
    let copies: BTreeSet<(PathBuf, String)> = ["sub/a again.jpg", "sub/s2.png", "sub/notes.txt"]
        .iter()
        .map(|p| (PathBuf::from(p), before[Path::new(p)].clone()))
        .collect();
    assert_eq!(trashed, copies, "the later copies, each with its bytes, under their relative paths");
    for kept in ["a.jpg", "s1.png", "notes.txt", "b.jpg", "b-link.jpg", "empty2.jpg", "big.jpg"] {
        assert!(dir.join(kept).exists(), "{kept} stays");
    }

    let out = run(cbctl(&state).arg("undo").arg("--last"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(tree(&dir), before, "every file back, byte for byte, and no trash folder left");
}

#[test]
fn folders_given_twice_or_inside_one_another_count_each_file_once_and_group_across_them() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (a, b) = (t.path().join("a"), t.path().join("b"));
    std::fs::create_dir_all(a.join("sub")).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let photo = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    std::fs::copy(&photo, a.join("sub/one.jpg")).unwrap();
    std::fs::copy(&photo, b.join("two.jpg")).unwrap();
    std::fs::copy(corpus.join("exif-samples/jpg/Nikon_D70.jpg"), a.join("other.jpg")).unwrap();
    // a, its own subfolder, and b: the file in a/sub is under two of them.
    let (out, lines) = dedup(&t.path().join("state"), &[], &[&a, &a.join("sub"), &b]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let s = summary(&lines);
    assert_eq!(s["files"], 3, "each file once: {s}");
    let g = groups(&lines);
    let canon = |p: PathBuf| p.canonicalize().unwrap();
    assert_eq!(g, vec![[canon(a.join("sub/one.jpg")), canon(b.join("two.jpg"))].into_iter().collect()]);
}
