//! Files that belong together (issue 15): a photo and its sidecars, its
//! Live Photo video and its edits are filed as one unit, into one folder,
//! under one base name, and undone together. Made from corpus files copied
//! under the names a phone gives them; sidecars are written by the test
//! (an XMP packet, an iOS .aae plist, a Takeout .json). The stills are
//! real iPhone Live Photos from the corpus (their maker note holds the
//! ContentIdentifier); their videos are made with ffmpeg, carrying the
//! same identifier in the `com.apple.quicktime.content.identifier` key
//! (`-movflags use_metadata_tags`), as an iPhone's MOV does.

mod common;

use std::path::{Path, PathBuf};

use common::*;

/// A Live Photo still, with its ContentIdentifier.
const HEIC: &str = "exif-samples/heic/IMG_5195.HEIC";
const HEIC_ID: &str = "570F1469-09C7-4E50-9875-05F21D5BD166";
/// Two more, taken 2020-05-04 at 18:39 and 18:44 (-04:00).
const HEIC_2927: (&str, &str) = ("metadata-extractor/heic/IMG_2927.HEIC", "1745E022-9712-43C7-B024-F308EC6413CB");
const HEIC_2929: (&str, &str) = ("metadata-extractor/heic/IMG_2929.HEIC", "ED69AFC7-A2EB-4FE9-88A0-54293FC2478F");
/// A video without an identifier.
const MOV: &str = "metadata-extractor/mov/with-gps.mov";

/// A Live Photo's video, made by ffmpeg at `path`: one second, recorded
/// at `utc`, with the ContentIdentifier `id` (none when `None`).
fn live_mov(path: &Path, utc: &str, id: Option<&str>) {
    let mut cmd = std::process::Command::new("ffmpeg");
    cmd.args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10"]).args([
        "-pix_fmt",
        "yuv420p",
        "-metadata",
        &format!("creation_time={utc}"),
    ]);
    if let Some(id) = id {
        cmd.args(["-metadata", &format!("com.apple.quicktime.content.identifier={id}")]);
        cmd.args(["-movflags", "use_metadata_tags"]);
    }
    let status = cmd.arg(path).status().expect("ffmpeg (apt-get install ffmpeg)");
    assert!(status.success(), "ffmpeg failed for {}", path.display());
}

/// `IMG_1234.HEIC` with its Live Photo video, an XMP sidecar, an iOS edit
/// file and a Takeout JSON, in `src`.
fn live_photo(corpus: &Path, src: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(src).unwrap();
    let video = src.join("video.tmp.mov");
    live_mov(&video, "2021-04-11T20:47:54Z", Some(HEIC_ID));
    let video_bytes = std::fs::read(&video).unwrap();
    std::fs::remove_file(&video).unwrap();
    let files = [
        ("IMG_1234.HEIC", std::fs::read(corpus.join(HEIC)).unwrap()),
        ("IMG_1234.MOV", video_bytes),
        ("IMG_1234.HEIC.xmp", b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF/></x:xmpmeta>\n".to_vec()),
        ("IMG_O1234.AAE", b"<?xml version=\"1.0\"?><plist version=\"1.0\"><dict/></plist>\n".to_vec()),
        ("IMG_1234.HEIC.supplemental-metadata.json", b"{\"title\": \"IMG_1234.HEIC\"}\n".to_vec()),
    ];
    files
        .into_iter()
        .map(|(name, bytes)| {
            let p = src.join(name);
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

fn organize(state: &Path, src: &Path, lib: &Path) -> Vec<serde_json::Value> {
    let out = run(cbctl(state).args(["--json", "organize"]).arg(src).arg(lib));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    json_lines(&out)
}

fn dest_of(lines: &[serde_json::Value], path: &Path) -> PathBuf {
    let e = lines.iter().find(|l| l["path"] == path.to_str().unwrap()).unwrap_or_else(|| panic!("{path:?}: {lines:?}"));
    assert_eq!(e["outcome"], "moved", "{e}");
    PathBuf::from(e["dest"].as_str().unwrap())
}

#[test]
fn a_photo_its_video_and_its_sidecars_are_filed_together_and_undone_together() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    let files = live_photo(&corpus, &src);
    let before = tree(&src);
    let lines = organize(&state, &src, &lib);
    let photo = dest_of(&lines, &files[0]);
    assert!(photo.ends_with("2021/04/IMG_1234.HEIC"), "{}", photo.display());
    let folder = photo.parent().unwrap();
    for (f, name) in files.iter().zip([
        "IMG_1234.HEIC",
        "IMG_1234.MOV",
        "IMG_1234.HEIC.xmp",
        "IMG_O1234.AAE",
        "IMG_1234.HEIC.supplemental-metadata.json",
    ]) {
        let to = dest_of(&lines, f);
        assert_eq!(to, folder.join(name), "{lines:?}");
        assert_eq!(b3(&to), before[Path::new(name)], "{name} unchanged");
    }
    assert_eq!(summary(&lines)["non_media"], 0, "no sidecar left behind as non-media: {lines:?}");

    // Undo puts every one of them back.
    let out = run(cbctl(&state).args(["--json", "undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["reverted"], 5);
    assert_eq!(tree(&src), before);
}

#[test]
fn a_name_clash_renames_the_whole_group() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    // The library already has another photo named IMG_1234.HEIC in that month.
    let taken = lib.join("2021/04");
    std::fs::create_dir_all(&taken).unwrap();
    std::fs::write(taken.join("IMG_1234.HEIC"), b"another photo of that name").unwrap();
    let files = live_photo(&corpus, &src);
    let lines = organize(&state, &src, &lib);
    let folder = lib.canonicalize().unwrap().join("2021/04");
    for (f, name) in files.iter().zip([
        "IMG_1234 (1).HEIC",
        "IMG_1234 (1).MOV",
        "IMG_1234 (1).HEIC.xmp",
        "IMG_O1234 (1).AAE",
        "IMG_1234 (1).HEIC.supplemental-metadata.json",
    ]) {
        assert_eq!(dest_of(&lines, f), folder.join(name), "{lines:?}");
    }
    assert_eq!(std::fs::read(taken.join("IMG_1234.HEIC")).unwrap(), b"another photo of that name");
}

/// A RAW+JPEG pair: the same stem in one folder, shot within a second. The
/// corpus NEF's own previews are stripped (29 bytes), so the JPEG is a
/// corpus camera JPEG given the NEF's capture time with exiftool; it would
/// be filed by its own date (2008/05) were it not paired.
#[test]
fn a_raw_and_its_jpeg_land_together() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    let raw = src.join("DSC_0001.NEF");
    std::fs::copy(corpus.join("exiftool-samples/Nikon.nef"), &raw).unwrap();
    let jpeg = src.join("DSC_0001.JPG");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), &jpeg).unwrap();
    let lines = organize(&state, &src, &lib);
    assert_ne!(dest_of(&lines, &raw).parent(), dest_of(&lines, &jpeg).parent(), "shot years apart: no pair");
    assert_eq!(run(cbctl(&state).args(["undo", "--last"])).status.code(), Some(0));
    let status = std::process::Command::new("exiftool")
        .args(["-q", "-overwrite_original", "-DateTimeOriginal=2004:06:09 16:02:36"])
        .arg(&jpeg)
        .status()
        .unwrap();
    assert!(status.success());
    let lines = organize(&state, &src, &lib);
    let (r, j) = (dest_of(&lines, &raw), dest_of(&lines, &jpeg));
    assert!(r.ends_with("2004/06/DSC_0001.NEF"), "{}", r.display());
    assert_eq!(j, r.with_file_name("DSC_0001.JPG"), "{lines:?}");
    let e = lines.iter().find(|l| l["path"] == jpeg.to_str().unwrap()).unwrap();
    assert!(e["reason"].as_str().unwrap().contains("RAW+JPEG"), "{e}");
}

#[test]
fn a_sidecar_whose_photo_is_set_aside_goes_with_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(HEIC), src.join("a.heic")).unwrap();
    organize(&state, &src, &lib);
    // The same photo again, with a sidecar: both stay where they are (dedup.on_duplicate = skip).
    std::fs::copy(corpus.join(HEIC), src.join("IMG_9.HEIC")).unwrap();
    std::fs::write(src.join("IMG_9.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    let lines = organize(&state, &src, &lib);
    let of = |n: &str| lines.iter().find(|l| l["path"] == src.join(n).to_str().unwrap()).cloned().unwrap();
    assert_eq!(of("IMG_9.HEIC")["outcome"], "duplicate", "{lines:?}");
    let side = of("IMG_9.xmp");
    assert_eq!(side["outcome"], "skipped", "{side}");
    assert!(side["reason"].as_str().unwrap().contains("IMG_9.HEIC"), "{side}");
    assert!(src.join("IMG_9.xmp").exists());
}

/// Through the daemon: a photo and its sidecar dropped together are filed
/// together; a sidecar that comes later, alone, is filed beside the library
/// file it names; one that names no library file stays, with a reason.
#[test]
fn the_daemon_files_a_sidecar_with_its_photo_and_a_late_one_beside_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let inbox = t.path().join("inbox");
    let _daemon = start_daemon(&config);
    wait_for("the daemon", std::time::Duration::from_secs(30), || {
        ctl(&config).args(["--json", "status"]).output().is_ok_and(|o| o.status.success())
    });
    let stage = t.path().join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(corpus.join(HEIC), stage.join("IMG_1234.HEIC")).unwrap();
    std::fs::write(stage.join("IMG_1234.HEIC.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    for n in ["IMG_1234.HEIC", "IMG_1234.HEIC.xmp"] {
        std::fs::rename(stage.join(n), inbox.join(n)).unwrap();
    }
    let folder = t.path().join("lib/2021/04");
    wait_for("both filed", std::time::Duration::from_secs(30), || {
        folder.join("IMG_1234.HEIC").exists() && folder.join("IMG_1234.HEIC.xmp").exists()
    });
    // Later, the phone sends the edit file and a Takeout JSON for the same photo.
    std::fs::write(inbox.join("IMG_1234.AAE"), b"<plist/>").unwrap();
    std::fs::write(inbox.join("IMG_1234.HEIC.json"), b"{}").unwrap();
    std::fs::write(inbox.join("IMG_7777.xmp"), b"<x:xmpmeta/>").unwrap();
    wait_for("the late sidecars filed beside it", std::time::Duration::from_secs(30), || {
        folder.join("IMG_1234.AAE").exists() && folder.join("IMG_1234.HEIC.json").exists()
    });
    assert!(inbox.join("IMG_7777.xmp").exists(), "a sidecar of no library file stays");
    let why =
        String::from_utf8_lossy(&run(ctl(&config).arg("why").arg(inbox.join("IMG_7777.xmp"))).stdout).into_owned();
    assert!(why.contains("without its photo"), "{why}");
}

/// `cbctl dedup --action delete` compares Live Photos by their still and
/// trashes a duplicate with its video and its sidecars (.xmp, .aae,
/// Takeout .json); undo brings them all back.
#[test]
fn deleting_a_duplicate_trashes_its_video_and_sidecars_with_it_and_undo_restores_them() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (dir, _, state) = work_dirs(t.path());
    std::fs::create_dir_all(&dir).unwrap();
    // The older copy is the keeper; the newer one, with its sidecar, is the duplicate.
    std::fs::copy(corpus.join(HEIC), dir.join("a.HEIC")).unwrap();
    let old = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000);
    std::fs::File::options().write(true).open(dir.join("a.HEIC")).unwrap().set_modified(old).unwrap();
    std::fs::copy(corpus.join(HEIC), dir.join("b.HEIC")).unwrap();
    std::fs::write(dir.join("b.HEIC.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    std::fs::write(dir.join("a.HEIC.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><a/></x:xmpmeta>").unwrap();
    std::fs::write(dir.join("b.AAE"), b"<plist/>").unwrap();
    std::fs::write(dir.join("b.HEIC.json"), b"{\"photoTakenTime\": {\"timestamp\": \"1618174073\"}}").unwrap();
    // Both copies have their Live Photo video: the same one, never compared on its own.
    live_mov(&dir.join("a.MOV"), "2021-04-11T20:47:54Z", Some(HEIC_ID));
    std::fs::copy(dir.join("a.MOV"), dir.join("b.MOV")).unwrap();
    let before = tree(&dir);
    let out = run(cbctl(&state).args(["--json", "dedup", "--action", "delete"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let left: Vec<String> = tree(&dir)
        .keys()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| !p.starts_with(".clean-backup"))
        .collect();
    assert_eq!(left, ["a.HEIC", "a.HEIC.xmp", "a.MOV"], "the keeper keeps its video and sidecar");
    let lines = json_lines(&out);
    for n in ["b.HEIC", "b.HEIC.xmp", "b.AAE", "b.HEIC.json", "b.MOV"] {
        assert_eq!(outcome_of(&lines, &dir.join(n))["outcome"], "trashed", "{n}: {lines:?}");
    }
    let groups: Vec<&serde_json::Value> = lines.iter().filter(|l| l.get("members").is_some()).collect();
    assert_eq!(groups.len(), 1, "one group, of the stills: {groups:?}");
    // The report says what goes with the duplicate, and counts its bytes.
    let member = &groups[0]["members"][0];
    let mut with: Vec<String> = member["with"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().into()).collect();
    with.sort();
    let names = ["b.AAE", "b.HEIC.json", "b.HEIC.xmp", "b.MOV"];
    assert_eq!(with, names.map(|n| dir.join(n).to_string_lossy().into_owned()), "{member}");
    let trashed = |n: &str| std::fs::metadata(dir.join(".clean-backup-trash/1").join(n)).unwrap().len();
    let riders: u64 = names.iter().map(|n| trashed(n)).sum();
    assert_eq!(member["bytes"].as_u64().unwrap(), std::fs::metadata(dir.join("a.HEIC")).unwrap().len() + riders);
    let out = run(cbctl(&state).args(["undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree(&dir), before);
}

fn outcome_of<'a>(lines: &'a [serde_json::Value], path: &Path) -> &'a serde_json::Value {
    lines.iter().find(|l| l["path"] == path.to_str().unwrap()).unwrap_or_else(|| panic!("{path:?}: {lines:?}"))
}

/// A Live Photo's still and video are paired by the ContentIdentifier they
/// share, not by name: the video, named otherwise, lands beside the still
/// under its base name, while a video of the still's name but without the
/// identifier is filed on its own. iCloud's `_HEVC` suffix pairs by name.
#[test]
fn a_live_photo_pairs_by_content_identifier_whatever_the_names_and_undoes_together() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    std::fs::create_dir_all(src.join("DCIM")).unwrap();
    let still = src.join("DCIM/IMG_5195.HEIC");
    std::fs::copy(corpus.join(HEIC), &still).unwrap();
    // PhotoSync-style name for the video, in another folder of the same inbox.
    let video = src.join("20210411_154754.mov");
    live_mov(&video, "2021-04-11T20:47:54Z", Some(HEIC_ID));
    // Same stem as the still, no identifier: not its video.
    let stranger = src.join("DCIM/IMG_5195.MOV");
    std::fs::copy(corpus.join(MOV), &stranger).unwrap();
    // A JPEG and iCloud's `IMG_0042_HEVC.MOV`: neither has an identifier, so by name.
    let jpeg = src.join("DCIM/IMG_0042.JPG");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_40D.jpg"), &jpeg).unwrap();
    let hevc = src.join("DCIM/IMG_0042_HEVC.MOV");
    live_mov(&hevc, "2019-07-24T08:25:57Z", None);
    let date = run(cbctl(&state).args(["--json", "date"]).arg(&video).arg(&still));
    let dates = json_lines(&date);
    assert_eq!(dates[0]["live_photo"], HEIC_ID, "{dates:?}");
    assert_eq!(dates[1]["live_photo"], HEIC_ID, "{dates:?}");
    let text = String::from_utf8_lossy(&run(cbctl(&state).arg("date").arg(&video)).stdout).into_owned();
    assert!(text.contains(&format!("Live Photo {HEIC_ID}")), "{text}");

    let before = tree(&src);
    let lines = organize(&state, &src, &lib);
    let s = dest_of(&lines, &still);
    assert!(s.ends_with("2021/04/IMG_5195.HEIC"), "{}", s.display());
    let v = dest_of(&lines, &video);
    assert_eq!(v, s.with_file_name("IMG_5195.mov"), "the video takes the still's base name");
    assert!(outcome_of(&lines, &video)["reason"].as_str().unwrap().contains("Live Photo"), "{lines:?}");
    assert_eq!(b3(&v), before[Path::new("20210411_154754.mov")]);
    let other = dest_of(&lines, &stranger);
    assert!(other.ends_with("2019/07/IMG_5195.MOV"), "filed by its own date: {}", other.display());
    let j = dest_of(&lines, &jpeg);
    assert!(j.ends_with("2008/05/IMG_0042.JPG"), "{}", j.display());
    assert_eq!(dest_of(&lines, &hevc), j.with_file_name("IMG_0042.MOV"), "{lines:?}");

    let out = run(cbctl(&state).args(["--json", "undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["reverted"], 5);
    assert_eq!(tree(&src), before);
}

/// Through the daemon, with `watch.pair_seconds = 8`: a Live Photo's still
/// waits for its video, which comes a few seconds later under another name,
/// and the two are filed together; a still whose video is later than that
/// is filed alone when the wait runs out, and its video, when it comes, is
/// filed beside it. Undo takes the late video back.
#[test]
fn the_daemon_waits_for_a_late_live_photo_video_and_files_a_later_one_beside_its_still() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("pair_seconds = 2", "pair_seconds = 8");
    std::fs::write(&config, text).unwrap();
    let (inbox, stage, log) = (t.path().join("inbox"), t.path().join("stage"), t.path().join("daemon.log"));
    std::fs::create_dir_all(&stage).unwrap();
    let _daemon = start_daemon_logged(&config, &log);
    let drop_in = |from: &Path, name: &str| std::fs::rename(from, inbox.join(name)).unwrap();
    let folder = t.path().join("lib/2020/05");

    std::fs::copy(corpus.join(HEIC_2927.0), stage.join("a")).unwrap();
    live_mov(&stage.join("a.mov"), "2020-05-04T22:39:12Z", Some(HEIC_2927.1));
    let started = std::time::Instant::now();
    drop_in(&stage.join("a"), "IMG_2927.HEIC");
    // Settled after 1 s, it waits: still in the inbox after 4 s.
    std::thread::sleep(std::time::Duration::from_secs(4));
    assert!(inbox.join("IMG_2927.HEIC").exists(), "filed without waiting for its video");
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(logged.contains("waiting for its Live Photo video"), "{logged}");
    let why = run(ctl(&config).arg("why").arg(inbox.join("IMG_2927.HEIC")));
    let why = String::from_utf8_lossy(&why.stdout).into_owned();
    assert!(why.contains("waiting (") && why.contains("watch.pair_seconds"), "{why}");
    drop_in(&stage.join("a.mov"), "clip-0001.mov");
    wait_for("the pair filed", std::time::Duration::from_secs(30), || {
        folder.join("IMG_2927.HEIC").exists() && folder.join("IMG_2927.mov").exists()
    });
    assert!(started.elapsed() < std::time::Duration::from_secs(9), "filed together before the wait ran out");

    // A still whose video comes too late: filed alone, then the video beside it.
    std::fs::copy(corpus.join(HEIC_2929.0), stage.join("b")).unwrap();
    live_mov(&stage.join("b.mov"), "2020-05-04T22:44:07Z", Some(HEIC_2929.1));
    drop_in(&stage.join("b"), "IMG_2929.HEIC");
    wait_for("the still filed alone", std::time::Duration::from_secs(30), || folder.join("IMG_2929.HEIC").exists());
    let video_bytes = b3(&stage.join("b.mov"));
    drop_in(&stage.join("b.mov"), "late.mov");
    wait_for("its video beside it", std::time::Duration::from_secs(30), || folder.join("IMG_2929.mov").exists());
    assert_eq!(b3(&folder.join("IMG_2929.mov")), video_bytes);
    // Logged once its batch is journaled, a moment after the move.
    wait_for("the late video's log line", std::time::Duration::from_secs(10), || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.contains("IMG_2929.HEIC (its Live Photo video), filed earlier"))
    });
    let out = run(ctl(&config).args(["undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(inbox.join("late.mov").exists() && !folder.join("IMG_2929.mov").exists());
    assert!(folder.join("IMG_2929.HEIC").exists(), "the still's own filing is another session");
}

/// `cbctl compress` copies a photo's sidecars beside its copy, under the
/// copy's name when it changes (a HEIC converted to JPEG), and a video
/// member as it goes: the group stays whole in DEST.
#[test]
fn compress_copies_sidecars_beside_their_photo_s_copy_under_its_new_name() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(corpus.join(HEIC), src.join("IMG_1.HEIC")).unwrap();
    std::fs::write(src.join("IMG_1.HEIC.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    std::fs::write(src.join("IMG_O1.AAE"), b"<plist/>").unwrap();
    std::fs::write(src.join("lonely.xmp"), b"<x:xmpmeta/>").unwrap();
    std::fs::write(src.join("notes.txt"), b"not a sidecar").unwrap();
    let before = tree(&src);
    let out = run(cbctl(&state).args(["--json", "compress", "--to-jpeg"]).arg(&src).arg(&dest));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let photo = PathBuf::from(outcome_of(&lines, &src.join("IMG_1.HEIC"))["dest"].as_str().unwrap());
    assert_eq!(photo.file_name().unwrap(), "IMG_1.jpg", "{lines:?}");
    let got: Vec<String> = tree(&dest).keys().map(|p| p.to_string_lossy().into_owned()).collect();
    assert_eq!(got, ["IMG_1.jpg", "IMG_1.jpg.xmp", "IMG_O1.AAE", "lonely.xmp"], "{lines:?}");
    assert_eq!(b3(&dest.join("IMG_1.jpg.xmp")), before[Path::new("IMG_1.HEIC.xmp")]);
    assert_eq!(summary(&lines)["sidecars"], 3, "{lines:?}");
    assert_eq!(tree(&src), before, "the originals are only read");
}

/// A daemon compressing as it files: the photo's smaller copy is filed with
/// its sidecar beside it, and undo brings back the original bytes and the
/// sidecar together.
#[test]
fn compress_on_ingest_files_the_sidecar_with_the_smaller_copy_and_undo_restores_both() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[compress]\nenabled = true\nlevel = 2\n");
    std::fs::write(&config, text).unwrap();
    let _daemon = start_daemon(&config);
    wait_for("the daemon", std::time::Duration::from_secs(30), || {
        ctl(&config).args(["--json", "status"]).output().is_ok_and(|o| o.status.success())
    });
    let (inbox, stage) = (t.path().join("inbox"), t.path().join("stage"));
    std::fs::create_dir_all(&stage).unwrap();
    std::fs::copy(corpus.join("metadata-extractor/jpg/Canon EOS 5D.jpg"), stage.join("IMG_0001.JPG")).unwrap();
    std::fs::write(stage.join("IMG_0001.JPG.xmp"), b"<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"/>").unwrap();
    let before = tree(&stage);
    for n in ["IMG_0001.JPG", "IMG_0001.JPG.xmp"] {
        std::fs::rename(stage.join(n), inbox.join(n)).unwrap();
    }
    let lib = t.path().join("lib");
    let find = |name: &str| {
        walkdir::WalkDir::new(&lib)
            .into_iter()
            .filter_map(Result::ok)
            .find(|e| e.file_name() == name && !e.path().to_string_lossy().contains("/.clean-backup"))
            .map(|e| e.into_path())
    };
    wait_for("both filed", std::time::Duration::from_secs(30), || {
        find("IMG_0001.JPG").is_some() && find("IMG_0001.JPG.xmp").is_some()
    });
    let (photo, side) = (find("IMG_0001.JPG").unwrap(), find("IMG_0001.JPG.xmp").unwrap());
    assert_eq!(side, photo.with_file_name("IMG_0001.JPG.xmp"), "beside its photo");
    assert_ne!(b3(&photo), before[Path::new("IMG_0001.JPG")], "the smaller copy is filed");
    assert_eq!(b3(&side), before[Path::new("IMG_0001.JPG.xmp")]);
    let out = run(ctl(&config).args(["undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree(&inbox), before, "the original bytes and the sidecar are back");
}
