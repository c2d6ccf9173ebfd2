//! Files that belong together (issue 15): a photo and its sidecars, its
//! Live Photo video and its edits are filed as one unit, into one folder,
//! under one base name, and undone together. Made from corpus files copied
//! under the names a phone gives them; sidecars are written by the test
//! (an XMP packet, an iOS .aae plist, a Takeout .json).

mod common;

use std::path::{Path, PathBuf};

use common::*;

const HEIC: &str = "exif-samples/heic/IMG_5195.HEIC";
const MOV: &str = "metadata-extractor/mov/with-gps.mov";

/// `IMG_1234.HEIC` with its Live Photo video, an XMP sidecar, an iOS edit
/// file and a Takeout JSON, in `src`.
fn live_photo(corpus: &Path, src: &Path) -> Vec<PathBuf> {
    std::fs::create_dir_all(src).unwrap();
    let files = [
        ("IMG_1234.HEIC", std::fs::read(corpus.join(HEIC)).unwrap()),
        ("IMG_1234.MOV", std::fs::read(corpus.join(MOV)).unwrap()),
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

/// `cbctl dedup --action delete` trashes a duplicate with its sidecar, and
/// undo brings both back.
#[test]
fn deleting_a_duplicate_trashes_its_sidecar_with_it_and_undo_restores_both() {
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
    let before = tree(&dir);
    let out = run(cbctl(&state).args(["--json", "dedup", "--action", "delete"]).arg(&dir));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!dir.join("b.HEIC").exists() && !dir.join("b.HEIC.xmp").exists(), "{:?}", tree(&dir));
    assert!(dir.join("a.HEIC").exists() && dir.join("a.HEIC.xmp").exists(), "the keeper keeps its sidecar");
    let lines = json_lines(&out);
    let side = lines.iter().find(|l| l["path"] == dir.join("b.HEIC.xmp").to_str().unwrap()).unwrap();
    assert_eq!(side["outcome"], "trashed", "{side}");
    let out = run(cbctl(&state).args(["undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree(&dir), before);
}
