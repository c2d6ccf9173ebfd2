//! Formats of issue 15: JPEG XL, JPEG 2000, the older RAWs (Canon CRW,
//! Minolta MRW, Sigma X3F) and RAWs hashed from their embedded preview.
//!
//! The files in tests/fixtures/formats were made by its make.sh (ffmpeg's
//! libjxl and libopenjpeg encoders, exiftool, and make.py for the old RAW
//! layouts); each test says which it uses. Every test fails without the
//! format's code: the kind is not sniffed (the file is "not media"), or the
//! date falls back to the mtime, or the hash is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use clean_backup::media::{self, DateSource, Kind};
use common::*;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/formats").join(name)
}

/// A fixture copied into a temp dir (as `name`), so nothing reads the tree in place.
fn copied(dir: &Path, fixture_name: &str, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixture(fixture_name), &to).unwrap();
    to
}

fn exiftool(args: &[&str], file: &Path) -> Vec<u8> {
    let out = Command::new("exiftool").args(args).arg(file).output().expect("exiftool is installed (CI installs it)");
    assert!(out.status.success(), "exiftool {args:?} {}: {}", file.display(), String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// exiftool's DateTimeOriginal of a file, as "YYYY-MM-DD HH:MM:SS".
fn exiftool_date(file: &Path) -> String {
    let s = String::from_utf8(exiftool(&["-s3", "-DateTimeOriginal"], file)).unwrap();
    let s = s.trim();
    assert_eq!(s.len(), 19, "exiftool gives no DateTimeOriginal for {}", file.display());
    format!("{} {}", s[..10].replace(':', "-"), &s[11..])
}

fn phash(path: &Path) -> media::ImageHash {
    let kind = media::probe(path).unwrap().kind; // probe, not sniff: it tells a NEF from a TIFF
    media::image_hash(path, kind).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn distance(a: &Path, b: &Path) -> u32 {
    phash(a).phash.distance(phash(b).phash)
}

#[test]
fn jpeg_xl_container_and_codestream_are_dated_from_the_exif_box_and_hashed_like_the_png() {
    // exif.jxl: ffmpeg libjxl of testsrc2.png, wrapped by exiftool with an Exif box.
    // bare.jxl: the same codestream alone (FF 0A), no metadata.
    let t = tempfile::tempdir().unwrap();
    let jxl = copied(t.path(), "exif.jxl", "a.jxl");
    let info = media::probe(&jxl).unwrap();
    assert_eq!(info.kind, Kind::Jxl);
    assert_eq!(info.kind.name(), "jxl");
    assert_eq!(Kind::from_name("jxl"), Some(Kind::Jxl));
    assert_eq!(info.taken.source, DateSource::Exif);
    assert_eq!(info.taken.to_rfc3339(), "2019-03-04T05:06:07+02:00");
    assert_eq!(exiftool_date(&jxl), "2019-03-04 05:06:07");

    let bare = copied(t.path(), "bare.jxl", "b.jxl");
    assert_eq!(media::probe(&bare).unwrap().kind, Kind::Jxl);
    let png = copied(t.path(), "testsrc2.png", "c.png");
    let h = phash(&jxl);
    assert_eq!((h.width, h.height), (320, 240));
    assert!(!h.flat);
    assert!(distance(&jxl, &png) <= 4, "JPEG XL and its PNG source: {} bits apart", distance(&jxl, &png));
    assert_eq!(phash(&bare).phash, h.phash, "container and bare codestream are the same pixels");
    assert_eq!(Kind::Jxl.keeper_rank(), Kind::Heif.keeper_rank());
    assert!(media::looks_like_media_name(Path::new("x.JXL")));
}

#[test]
fn jpeg_xl_and_its_png_are_one_group_for_dedup() {
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("photos");
    std::fs::create_dir_all(&dir).unwrap();
    copied(&dir, "exif.jxl", "a.jxl");
    copied(&dir, "testsrc2.png", "b.png");
    let out = run(cbctl(&t.path().join("state")).arg("--json").arg("dedup").arg(&dir));
    let groups: Vec<_> = json_lines(&out).into_iter().filter(|l| l.get("group").is_some()).collect();
    assert_eq!(groups.len(), 1, "{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn jpeg_2000_is_dated_from_xmp_or_exif_and_said_to_be_matched_by_content_only() {
    // xmp.jp2 / exif.jp2: ffmpeg libopenjpeg of testsrc2.png, exiftool added an
    // XMP uuid box to one and an EXIF uuid box (JpgTiffExif->JP2) to the other.
    let t = tempfile::tempdir().unwrap();
    let xmp = copied(t.path(), "xmp.jp2", "a.jp2");
    let info = media::probe(&xmp).unwrap();
    assert_eq!(info.kind, Kind::Jp2);
    assert_eq!(info.taken.source, DateSource::Xmp);
    assert_eq!(info.taken.local.to_string(), "2018-02-03 04:05:06");
    let exif = copied(t.path(), "exif.jp2", "b.j2k");
    let info = media::probe(&exif).unwrap();
    assert_eq!((info.kind, info.taken.source), (Kind::Jp2, DateSource::Exif));
    assert_eq!(info.taken.local.to_string(), exiftool_date(&exif));

    let err = media::image_hash(&xmp, Kind::Jp2).unwrap_err().to_string();
    assert!(err.contains("JPEG 2000: unsupported for pictures; matched by exact content only"), "{err}");
    let row = clean_backup::engine::index::index_file(&xmp, true).unwrap().unwrap();
    assert_eq!(row.hash_error.as_deref(), Some("JPEG 2000: unsupported for pictures; matched by exact content only"));
    assert_eq!(row.kind, "jp2");
}

#[test]
fn old_raws_are_dated_as_exiftool_says_and_hashed_from_their_preview() {
    // ciff.crw (CIFF heap: JpgFromRaw = preview.jpg, TimeStamp in an ImageProps
    // sub-heap, MakeModel), minolta.mrw (MRM header with a TTW TIFF whose
    // thumbnail is preview.jpg), foveon.x3f (an IMA2 section of format 18 =
    // preview.jpg, and the SECd directory): all from make.py; exiftool reads
    // each as CRW, MRW and X3F.
    let t = tempfile::tempdir().unwrap();
    let preview = copied(t.path(), "preview.jpg", "preview.jpg");
    for (name, kind) in [("ciff.crw", Kind::Crw), ("minolta.mrw", Kind::Mrw), ("foveon.x3f", Kind::X3f)] {
        let file = copied(t.path(), name, &format!("raw.{}", kind.name()));
        let info = media::probe(&file).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(info.kind, kind, "{name}");
        assert!(kind.is_raw() && kind.keeper_rank() == 3);
        assert_eq!(info.taken.source, DateSource::Exif, "{name}");
        // X3F: exiftool tells the date of the embedded preview it extracts.
        let theirs = if kind == Kind::X3f {
            let jpeg = t.path().join("x3f-preview.jpg");
            std::fs::write(&jpeg, exiftool(&["-b", "-PreviewImage"], &file)).unwrap();
            exiftool_date(&jpeg)
        } else {
            exiftool_date(&file)
        };
        assert_eq!(info.taken.local.to_string(), theirs, "{name}");
        let d = distance(&file, &preview);
        assert!(d <= 2, "{name} and its preview: {d} bits apart");
    }
    let crw = copied(t.path(), "ciff.crw", "c.crw");
    assert_eq!(media::probe(&crw).unwrap().camera.as_deref(), Some("Canon PowerShot G5"));
}

/// Corpus RAWs (exiftool's samples, whose own previews are stripped or 8×8)
/// and the tag exiftool writes preview.jpg into to give each a real one.
const RAWS: &[(&str, &str)] = &[
    ("exiftool-samples/Panasonic.rw2", "JpgFromRaw"),
    ("exiftool-samples/CanonRaw.cr2", "PreviewImage"),
    ("exiftool-samples/Nikon.nef", "JpgFromRaw"),
];

#[test]
fn raws_hash_like_their_embedded_preview_and_dedup_groups_raw_with_jpeg() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let preview = fixture("preview.jpg");
    for (i, (rel, tag)) in RAWS.iter().enumerate() {
        let dir = t.path().join(format!("set{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let ext = Path::new(rel).extension().unwrap().to_str().unwrap();
        let raw = dir.join(format!("IMG_{i}.{ext}"));
        let out = Command::new("exiftool")
            .args(["-m", "-q", "-o"])
            .arg(&raw)
            .arg(format!("-{tag}<={}", preview.display()))
            .arg(corpus.join(rel))
            .output()
            .unwrap();
        assert!(out.status.success() && raw.exists(), "{rel}: {}", String::from_utf8_lossy(&out.stderr));
        // The "JPEG export": the preview itself, as exiftool extracts it.
        let jpeg = dir.join(format!("IMG_{i}.jpg"));
        std::fs::write(&jpeg, exiftool(&["-b", &format!("-{tag}")], &raw)).unwrap();
        let d = distance(&raw, &jpeg);
        assert!(d <= 4, "{rel} and its {tag}: {d} bits apart");
        let out = run(cbctl(&t.path().join(format!("state{i}"))).arg("--json").arg("dedup").arg(&dir));
        let groups: Vec<_> = json_lines(&out).into_iter().filter(|l| l.get("group").is_some()).collect();
        assert_eq!(groups.len(), 1, "{rel}: {}", String::from_utf8_lossy(&out.stdout));
        assert_eq!(groups[0]["keeper"].as_str().map(PathBuf::from), Some(raw.canonicalize().unwrap()), "{rel}");
    }
}
