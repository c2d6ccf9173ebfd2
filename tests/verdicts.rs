//! Verdicts (issue 14): exact copies (same bytes or same pixels) and
//! similar copies of one capture are told apart; shots of a burst, a
//! bracket or an HDR pair are never duplicates of each other, while copies
//! of one shot that keep its metadata still are; content deleted before
//! is set aside when it arrives again. All through the real cbctl, on
//! copies of corpus files.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

const CANON: &str = "exif-samples/jpg/Canon_40D.jpg";

/// A config for `cbctl organize` runs in `dir`, with `extra` appended to its `[dedup]` table.
fn organize_config(dir: &Path, extra: &str) -> PathBuf {
    let config = daemon_config(dir, 1);
    let text = std::fs::read_to_string(&config).unwrap() + "[dedup]\n" + extra;
    std::fs::write(&config, text).unwrap();
    config
}

fn organize(config: &Path, src: &Path, lib: &Path, dry_run: bool) -> Vec<serde_json::Value> {
    let mut cmd = ctl(config);
    cmd.args(["--json", "organize"]);
    if dry_run {
        cmd.arg("--dry-run");
    }
    let out = run(cmd.arg(src).arg(lib));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    json_lines(&out)
}

fn event_of<'a>(lines: &'a [serde_json::Value], path: &Path) -> &'a serde_json::Value {
    lines.iter().find(|l| l["path"] == path.to_str().unwrap()).unwrap_or_else(|| panic!("{path:?} in {lines:?}"))
}

fn exiftool(args: &[&str], file: &Path) {
    let out = Command::new("exiftool").args(["-q", "-overwrite_original"]).args(args).arg(file).output().unwrap();
    assert!(out.status.success(), "exiftool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A lossless PNG re-save of a camera JPEG (decoded with libjpeg-turbo, as
/// Pillow does) is the same pixels: an exact duplicate, not a similar one,
/// and the camera original is the copy filed, under its own capture month.
#[test]
fn a_png_re_save_of_a_camera_jpeg_is_an_exact_duplicate_and_the_jpeg_is_filed_by_its_date() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    let jpeg = src.join("IMG_0001.jpg");
    std::fs::copy(corpus.join(CANON), &jpeg).unwrap();
    let png = src.join("IMG_0001.png");
    let data = std::fs::read(&jpeg).unwrap();
    let rgb = turbojpeg::decompress(&data, turbojpeg::PixelFormat::RGB).unwrap();
    image::RgbImage::from_raw(rgb.width as u32, rgb.height as u32, rgb.pixels).unwrap().save(&png).unwrap();

    let lines = organize(&config, &src, &lib, true);
    assert_eq!(event_of(&lines, &jpeg)["outcome"], "planned");
    assert!(event_of(&lines, &jpeg)["dest"].as_str().unwrap().ends_with("2008/05/IMG_0001.jpg"), "{lines:?}");
    let p = event_of(&lines, &png);
    assert_eq!((&p["outcome"], &p["match"]), (&"duplicate".into(), &"exact".into()), "{p}");
    let reason = p["reason"].as_str().unwrap();
    assert!(reason.contains("the same pixels as"), "{reason}");
    assert!(reason.contains("capture date from the camera"), "why the JPEG was kept: {reason}");
}

/// The two frames an iPhone saves with "Keep Normal Photo" are 4 bits
/// apart, but SubSecTimeOriginal and CustomRendered say they are two
/// captures: both are filed.
#[test]
fn the_two_frames_of_an_iphone_hdr_pair_are_both_filed() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "threshold = 10\n");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    copy_corpus(&corpus, &["exif-samples/jpg/hdr/iphone_hdr_NO.jpg", "exif-samples/jpg/hdr/iphone_hdr_YES.jpg"], &src);
    let before = contents(&src);
    let lines = organize(&config, &src, &lib, false);
    let s = summary(&lines);
    assert_eq!((s["filed"].as_u64(), s["similar"].as_u64()), (Some(2), Some(0)), "{lines:?}");
    assert_eq!(contents(&lib), before, "both frames are in the library, byte for byte");
}

/// A constructed burst: one scene, three frames 0.2 s apart (the same
/// camera, the same second, SubSecTimeOriginal 100/300/500), each a
/// slightly different exposure of the picture. None is a duplicate of
/// another. A resized copy of one frame that kept its metadata is still
/// a similar copy of that frame, and one that lost it too.
#[test]
fn frames_of_a_burst_are_all_filed_and_a_copy_of_one_frame_is_still_set_aside() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "threshold = 10\non_similar = \"skip\"\n");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    let picture = image::open(corpus.join(CANON)).unwrap().to_rgb8();
    let mut frames = Vec::new();
    for (i, subsec) in ["100", "300", "500"].iter().enumerate() {
        // The scene moves a little: brightness shifts by a level or two per frame.
        let mut img = picture.clone();
        img.pixels_mut().for_each(|p| p.0.iter_mut().for_each(|c| *c = c.saturating_add(i as u8 * 2)));
        let path = src.join(format!("burst_{i}.jpg"));
        img.save(&path).unwrap();
        exiftool(
            &[
                "-Make=Apple",
                "-Model=iPhone 12",
                "-DateTimeOriginal=2023:07:14 16:02:11",
                &format!("-SubSecTimeOriginal={subsec}"),
            ],
            &path,
        );
        frames.push(path);
    }
    // Smaller copies of frame 1: one with its metadata, one re-encoded without.
    let frame = image::open(&frames[1]).unwrap().to_rgb8();
    let (w, h) = (frame.width() * 3 / 4, frame.height() * 3 / 4);
    let smaller = image::imageops::resize(&frame, w, h, image::imageops::Lanczos3);
    let (kept, lost) = (src.join("copy_with_exif.jpg"), src.join("copy_without_exif.jpg"));
    smaller.save(&kept).unwrap();
    // (a different encoding: not the same pixels as the other copy)
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 60).encode_image(&smaller).unwrap();
    std::fs::write(&lost, jpeg).unwrap();
    exiftool(&["-TagsFromFile", frames[1].to_str().unwrap(), "-all:all"], &kept);

    let lines = organize(&config, &src, &lib, false);
    for f in &frames {
        assert_eq!(event_of(&lines, f)["outcome"], "moved", "{lines:?}");
    }
    // The copy that kept its metadata is a copy of frame 1 itself; the one
    // that lost it is a copy of the burst's picture, set aside against a frame.
    let e = event_of(&lines, &kept);
    assert_eq!((&e["outcome"], &e["match"]), (&"duplicate".into(), &"similar".into()), "{e}");
    assert_eq!(e["duplicate_of"], frames[1].to_str().unwrap(), "{e}");
    let e = event_of(&lines, &lost);
    assert_eq!((&e["outcome"], &e["match"]), (&"duplicate".into(), &"similar".into()), "{e}");
    assert!(e["duplicate_of"].as_str().unwrap().contains("/burst_"), "{e}");
    // `dedup` agrees: no group holds two frames.
    let out = run(ctl(&config).args(["--json", "dedup"]).arg(&lib).arg(&src));
    let groups: Vec<_> = json_lines(&out).into_iter().filter(|l| l.get("group").is_some()).collect();
    let members: usize = groups.iter().map(|g| g["members"].as_array().unwrap().len()).sum();
    assert_eq!(members, 2, "the two copies, and no frame: {groups:?}");
    for g in &groups {
        for m in g["members"].as_array().unwrap() {
            assert!(m["path"].as_str().unwrap().contains("/copy_with"), "{groups:?}");
        }
    }
}

/// A duplicate set aside and pruned is remembered: the same bytes arriving
/// again (the phone re-syncs) are set aside as "deleted before", and `cbctl
/// why` says so. The same for a library file deleted through `dedup
/// --action delete` and pruned.
#[test]
fn a_pruned_duplicate_arriving_again_is_set_aside_as_deleted_before() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(CANON), src.join("a.jpg")).unwrap();
    organize(&config, &src, &lib, false);
    // The phone sends a smaller copy: set aside into the duplicates folder, then pruned.
    let small = t.path().join("small.jpg");
    image::open(corpus.join(CANON)).unwrap().thumbnail(300, 300).save(&small).unwrap();
    std::fs::copy(&small, src.join("small.jpg")).unwrap();
    let lines = organize(&config, &src, &lib, false);
    assert_eq!(event_of(&lines, &src.join("small.jpg"))["outcome"], "quarantined", "{lines:?}");
    let out = run(ctl(&config).args(["--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["removed"], 1, "{}", String::from_utf8_lossy(&out.stdout));
    let prune_session = summary(&json_lines(&out))["session"].as_i64();
    assert!(prune_session.is_some());

    // It arrives again: set aside (left in place, as on_duplicate = "skip" says), not filed.
    let again = src.join("IMG_resync.jpg");
    std::fs::copy(&small, &again).unwrap();
    let lines = organize(&config, &src, &lib, false);
    let e = event_of(&lines, &again);
    assert_eq!((&e["outcome"], &e["match"]), (&"duplicate".into(), &"deleted".into()), "{e}");
    let reason = e["reason"].as_str().unwrap();
    assert!(reason.contains("deleted before on ") && reason.contains("session "), "{reason}");
    assert!(reason.contains("cbctl forget"), "{reason}");
    assert_eq!(b3(&again), b3(&small), "left as it was");
    let why = String::from_utf8_lossy(&run(ctl(&config).arg("why").arg(&again)).stdout).into_owned();
    assert!(why.contains("deleted before on "), "{why}");

    // A library file deleted through dedup, then pruned, is remembered too.
    std::fs::remove_file(&again).unwrap();
    let second = t.path().join("second.jpg");
    image::open(corpus.join(CANON)).unwrap().thumbnail(500, 500).save(&second).unwrap();
    let keep = t.path().join("keep");
    std::fs::create_dir_all(&keep).unwrap();
    std::fs::copy(&second, keep.join("second.jpg")).unwrap();
    let lines = json_lines(&run(ctl(&config).args(["--json", "organize", "--no-phash"]).arg(&keep).arg(&lib)));
    assert_eq!(summary(&lines)["filed"], 1, "{lines:?}");
    let out = run(ctl(&config).args(["--json", "dedup", "--action", "delete"]).arg(&lib));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["handled"], 1, "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(ctl(&config).args(["--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(summary(&json_lines(&out))["removed"], 1, "{}", String::from_utf8_lossy(&out.stdout));
    std::fs::copy(&second, src.join("second.jpg")).unwrap();
    let lines = organize(&config, &src, &lib, false);
    assert_eq!(event_of(&lines, &src.join("second.jpg"))["match"], "deleted", "{lines:?}");
}

/// `cbctl why` explains each verdict in one sentence.
#[test]
fn why_explains_an_exact_and_a_similar_verdict_and_how_to_take_it_back() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "on_similar = \"skip\"\n");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(CANON), src.join("a.jpg")).unwrap();
    organize(&config, &src, &lib, false);
    std::fs::copy(corpus.join(CANON), src.join("same.jpg")).unwrap();
    let small = image::open(corpus.join(CANON)).unwrap().thumbnail(200, 200);
    small.save(src.join("small.jpg")).unwrap();
    organize(&config, &src, &lib, false);
    let why = |p: &Path| {
        let out = run(ctl(&config).arg("why").arg(p));
        assert_eq!(out.status.code(), Some(0));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let exact = why(&src.join("same.jpg"));
    assert!(exact.contains("identical to") && exact.contains("a.jpg"), "{exact}");
    assert!(exact.contains(&format!("cbctl keep {}", src.join("same.jpg").display())), "{exact}");
    let similar = why(&src.join("small.jpg"));
    assert!(similar.contains("a copy of the same capture as"), "{similar}");
    assert!(similar.contains("pHash distance"), "{similar}");
}

/// A file the library already has is no keeper for the other incoming
/// files: a smaller copy arriving beside an exact copy of a library photo
/// is set aside against the library's photo, not against the exact copy
/// (which is itself set aside and never filed).
#[test]
fn copies_arriving_beside_an_exact_copy_name_the_library_photo_as_their_keeper() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "");
    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(CANON), src.join("a.jpg")).unwrap();
    let lines = organize(&config, &src, &lib, false);
    let filed = PathBuf::from(event_of(&lines, &src.join("a.jpg"))["dest"].as_str().unwrap());
    std::fs::copy(corpus.join(CANON), src.join("a (1).jpg")).unwrap();
    image::open(corpus.join(CANON)).unwrap().thumbnail(200, 200).save(src.join("small.jpg")).unwrap();
    let lines = organize(&config, &src, &lib, false);
    let exact = event_of(&lines, &src.join("a (1).jpg"));
    assert_eq!((&exact["match"], &exact["duplicate_of"]), (&"exact".into(), &filed.to_str().unwrap().into()));
    let small = event_of(&lines, &src.join("small.jpg"));
    assert_eq!(small["duplicate_of"], filed.to_str().unwrap(), "{small}");
    assert!(small["reason"].as_str().unwrap().contains("in the library"), "{small}");
}

/// Rows indexed by an older version (index format 0: no capture metadata,
/// no second look) are read again once, and then have both.
#[test]
fn rows_of_an_older_index_format_are_read_again_with_their_capture_metadata() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "");
    let lib = t.path().join("lib");
    copy_corpus(&corpus, &["exif-samples/jpg/hdr/iphone_hdr_NO.jpg", CANON], &lib);
    let dedup = || {
        let out = run(ctl(&config).args(["--json", "dedup"]).arg(&lib));
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        summary(&json_lines(&out))["index"].clone()
    };
    assert_eq!(dedup()["added"], 2);
    let db = rusqlite::Connection::open(t.path().join("state/clean-backup.db")).unwrap();
    let capture = |db: &rusqlite::Connection| -> Vec<(Option<String>, Option<i64>, i64)> {
        let mut stmt = db.prepare("SELECT capture, second, format FROM files ORDER BY path").unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?))).unwrap().map(Result::unwrap).collect()
    };
    let fresh = capture(&db);
    assert!(fresh.iter().all(|(c, s, f)| c.is_some() && s.is_some() && *f == 1), "{fresh:?}");
    assert!(fresh.iter().any(|(c, _, _)| c.as_deref().unwrap().contains("\"subsec\":\"016\"")), "{fresh:?}");
    db.execute("UPDATE files SET capture = NULL, second = NULL, format = 0", []).unwrap();
    assert_eq!(dedup()["changed"], 2, "read again");
    assert_eq!(capture(&db), fresh);
    assert_eq!(dedup()["unchanged"], 2, "and only once");
}

/// `dedup.on_similar = "file"` files a similar copy like any photo, while an
/// exact copy is still set aside; `cbctl config set` takes only the three words.
#[test]
fn on_similar_file_files_similar_copies_and_the_key_takes_only_its_three_words() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = organize_config(t.path(), "");
    let set = |v: &str| run(ctl(&config).args(["config", "set", "dedup.on_similar", v]));
    let bad = set("delete");
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("skip") && err.contains("quarantine") && err.contains("file"), "{err}");
    assert_eq!(set("file").status.code(), Some(0));
    let got = run(ctl(&config).args(["config", "get", "dedup.on_similar"]));
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), "file");

    let (src, lib) = (t.path().join("src"), t.path().join("lib"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(CANON), src.join("a.jpg")).unwrap();
    organize(&config, &src, &lib, false);
    std::fs::copy(corpus.join(CANON), src.join("same.jpg")).unwrap();
    image::open(corpus.join(CANON)).unwrap().thumbnail(200, 200).save(src.join("small.jpg")).unwrap();
    let lines = organize(&config, &src, &lib, false);
    assert_eq!(event_of(&lines, &src.join("small.jpg"))["outcome"], "moved", "{lines:?}");
    assert_eq!(event_of(&lines, &src.join("same.jpg"))["outcome"], "duplicate", "{lines:?}");
}
