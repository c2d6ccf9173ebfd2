//! Motion photos: Google (MicroVideo, and the MotionPhoto container
//! directory) and Samsung (SEF trailer, bare `MotionPhoto_Data` marker,
//! HEIC `mpvd` box) files built here from corpus photos and a real MP4
//! made by ffmpeg. `cbctl date` finds the video where exiftool does; the
//! daemon, compressing as it files, files them byte for byte with the
//! same pHash as the plain photo, and `cbctl why` says they are motion
//! photos kept whole; `cbctl compress` copies them unchanged, HEIC ones
//! even with `--to-jpeg`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::variants::PHOTOS;
use common::*;

/// ffmpeg and exiftool, or `false` (with a message) when one is missing outside CI.
fn tools() -> bool {
    let ok = ["ffmpeg", "exiftool"]
        .iter()
        .all(|t| Command::new(t).arg(if *t == "ffmpeg" { "-version" } else { "-ver" }).output().is_ok());
    if !ok {
        assert_ne!(std::env::var("CI").as_deref(), Ok("true"), "CI must have ffmpeg and exiftool");
        eprintln!("SKIP: these tests need ffmpeg and exiftool");
    }
    ok
}

fn ok(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().expect("run the tool");
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// A real 1 s 320x240 H.264 MP4.
fn make_mp4(dir: &Path) -> Vec<u8> {
    let mp4 = dir.join("clip.mp4");
    ok(Command::new("ffmpeg")
        .args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=320x240:rate=10"])
        .args(["-pix_fmt", "yuv420p"])
        .arg(&mp4));
    let bytes = std::fs::read(&mp4).unwrap();
    assert_eq!(&bytes[4..8], b"ftyp");
    bytes
}

/// A writable copy of a corpus file.
fn copy_out(corpus: &Path, rel: &str, to: &Path) -> PathBuf {
    let bytes = std::fs::read(corpus.join(rel)).unwrap();
    std::fs::write(to, bytes).unwrap();
    to.to_path_buf()
}

fn append(path: &Path, tail: &[u8]) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes.extend_from_slice(tail);
    std::fs::write(path, bytes).unwrap();
}

/// The Google container XMP: a primary item and the motion photo's video.
fn container_xmp(mime: &str, video_len: usize) -> String {
    format!(
        r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:Camera="http://ns.google.com/photos/1.0/camera/"
 xmlns:Container="http://ns.google.com/photos/1.0/container/"
 xmlns:Item="http://ns.google.com/photos/1.0/container/item/"
 Camera:MotionPhoto="1" Camera:MotionPhotoVersion="1" Camera:MotionPhotoPresentationTimestampUs="0">
<Container:Directory><rdf:Seq>
<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="{mime}" Item:Semantic="Primary" Item:Length="0" Item:Padding="0"/></rdf:li>
<rdf:li rdf:parseType="Resource"><Container:Item Item:Mime="video/mp4" Item:Semantic="MotionPhoto" Item:Length="{video_len}" Item:Padding="0"/></rdf:li>
</rdf:Seq></Container:Directory>
</rdf:Description></rdf:RDF></x:xmpmeta>"#
    )
}

/// Samsung's trailer: a `MotionPhoto_Data` block holding the video, then
/// the SEFH directory listing it, its length and `SEFT`.
fn sef_trailer(video: &[u8]) -> Vec<u8> {
    let name = b"MotionPhoto_Data";
    let block = [&[0, 0, 0x30, 0x0A][..], &(name.len() as u32).to_le_bytes(), name, video].concat();
    let n = block.len() as u32;
    let dir = [
        &b"SEFH"[..],
        &101u32.to_le_bytes(),
        &1u32.to_le_bytes(),
        &[0, 0, 0x30, 0x0A],
        &n.to_le_bytes(),
        &n.to_le_bytes(),
    ]
    .concat();
    [block.as_slice(), &dir, &(dir.len() as u32).to_le_bytes(), b"SEFT"].concat()
}

/// One fixture: its file, the photo it was made from, who wrote it, and
/// the exiftool tag that extracts its video (when exiftool knows the form).
struct Fixture {
    file: PathBuf,
    base: PathBuf,
    vendor: &'static str,
    exiftool: Option<&'static [&'static str]>,
}

/// Builds every form in `dir` (a fresh `clip` MP4 inside each); returns
/// them and the MP4's bytes.
fn fixtures(corpus: &Path, dir: &Path) -> (Vec<Fixture>, Vec<u8>) {
    let mp4 = make_mp4(dir);
    let stage = dir.join("bases");
    std::fs::create_dir_all(&stage).unwrap();
    let base = |rel: &str, name: &str| copy_out(corpus, rel, &stage.join(name));
    let mut out = Vec::new();

    // Google MicroVideo: the XMP written first, then the MP4 appended.
    let b = base(PHOTOS[0], "micro.jpg");
    let f = dir.join("MVIMG_20110113_143339.jpg");
    std::fs::copy(&b, &f).unwrap();
    ok(Command::new("exiftool")
        .args(["-q", "-overwrite_original", "-XMP-GCamera:MicroVideo=1", "-XMP-GCamera:MicroVideoVersion=1"])
        .arg(format!("-XMP-GCamera:MicroVideoOffset={}", mp4.len()))
        .arg(&f));
    append(&f, &mp4);
    out.push(Fixture { file: f, base: b, vendor: "Google", exiftool: Some(&["-ee", "-EmbeddedVideo"]) });

    // Google MotionPhoto with its container directory, JPEG.
    let b = base(PHOTOS[2], "container.jpg");
    let f = dir.join("PXL_20120101_000000000.MP.jpg");
    std::fs::copy(&b, &f).unwrap();
    let xmp = dir.join("container.xmp");
    std::fs::write(&xmp, container_xmp("image/jpeg", mp4.len())).unwrap();
    ok(Command::new("exiftool").args(["-q", "-overwrite_original"]).arg(format!("-xmp<={}", xmp.display())).arg(&f));
    append(&f, &mp4);
    out.push(Fixture { file: f, base: b, vendor: "Google", exiftool: Some(&["-ee", "-EmbeddedVideo"]) });

    // Samsung: the SEF trailer after the JPEG's end.
    let b = base(PHOTOS[3], "sef.jpg");
    let f = dir.join("20130101_000000.jpg");
    std::fs::copy(&b, &f).unwrap();
    append(&f, &sef_trailer(&mp4));
    out.push(Fixture { file: f, base: b, vendor: "Samsung", exiftool: Some(&["-EmbeddedVideoFile"]) });

    // Samsung: the marker and the MP4 alone (no directory; exiftool does not read it).
    let b = base(PHOTOS[4], "bare.jpg");
    let f = dir.join("samsung-bare.jpg");
    std::fs::copy(&b, &f).unwrap();
    append(&f, &[&b"MotionPhoto_Data"[..], &mp4].concat());
    out.push(Fixture { file: f, base: b, vendor: "Samsung", exiftool: None });

    // Samsung HEIC: a top-level mpvd box holding the MP4.
    let b = base("exif-samples/heic/samplefilehub.heif", "mpvd.heic");
    let f = dir.join("samsung.heic");
    std::fs::copy(&b, &f).unwrap();
    append(&f, &[&((mp4.len() + 8) as u32).to_be_bytes()[..], b"mpvd", &mp4].concat());
    out.push(Fixture { file: f, base: b, vendor: "Samsung", exiftool: Some(&["-MotionPhotoVideo"]) });

    // Google HEIC: the container XMP, the MP4 after the HEIC's boxes
    // (exiftool reads the MP4's boxes as the HEIC's own, extracts nothing).
    let b = base("exif-samples/heic/IMG_5195.HEIC", "google.heic");
    let f = dir.join("PXL_20210411_154753000.MP.heic");
    std::fs::copy(&b, &f).unwrap();
    let xmp = dir.join("heic.xmp");
    std::fs::write(&xmp, container_xmp("image/heic", mp4.len())).unwrap();
    ok(Command::new("exiftool").args(["-q", "-overwrite_original"]).arg(format!("-xmp<={}", xmp.display())).arg(&f));
    append(&f, &mp4);
    out.push(Fixture { file: f, base: b, vendor: "Google", exiftool: None });
    (out, mp4)
}

fn date_json(state: &Path, file: &Path) -> serde_json::Value {
    let out = run(cbctl(state).args(["--json", "date"]).arg(file));
    assert_eq!(out.status.code(), Some(0), "{}", file.display());
    json_lines(&out).remove(0)
}

fn phash(state: &Path, file: &Path) -> String {
    let out = run(cbctl(state).args(["--json", "hash"]).arg(file));
    assert_eq!(out.status.code(), Some(0), "{}", file.display());
    json_lines(&out)[0]["phash"].as_str().unwrap().to_string()
}

#[test]
fn cbctl_date_finds_each_motion_photos_video_where_exiftool_does() {
    let Some(corpus) = corpus() else { return };
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let (fixtures, mp4) = fixtures(&corpus, t.path());
    let state = t.path().join("state");
    for fx in &fixtures {
        let v = date_json(&state, &fx.file);
        let m = &v["motion"];
        assert_eq!(m["vendor"], fx.vendor, "{}: {v}", fx.file.display());
        assert_eq!(m["video_bytes"].as_u64(), Some(mp4.len() as u64), "{v}");
        let bytes = std::fs::read(&fx.file).unwrap();
        let off = m["video_offset"].as_u64().unwrap() as usize;
        assert_eq!(&bytes[off..off + mp4.len()], mp4.as_slice(), "the video is where it says: {v}");
        if let Some(tag) = fx.exiftool {
            let extracted = ok(Command::new("exiftool").arg("-b").args(tag).arg(&fx.file));
            assert_eq!(extracted, mp4, "exiftool {tag:?} extracts the same video from {}", fx.file.display());
        }
        // The photo's own date is still read (the base's, from EXIF where it has one).
        assert_eq!(v["taken"], date_json(&state, &fx.base)["taken"], "{v}");
        // The plain photo is no motion photo.
        assert!(date_json(&state, &fx.base).get("motion").is_none());
    }
    // Text mode.
    let out = run(cbctl(&state).arg("date").arg(&fixtures[0].file));
    let line = String::from_utf8_lossy(&out.stdout).into_owned();
    let want = format!(", motion photo (Google, {:.1} kB video inside)", mp4.len() as f64 / 1e3);
    assert!(line.trim_end().ends_with(&want), "{line:?} ends with {want:?}");

    // A claim that does not hold (the offset one byte off) is no motion photo, and no error.
    let bad = t.path().join("bad.jpg");
    let mut bytes = std::fs::read(&fixtures[0].base).unwrap();
    std::fs::write(&bad, &bytes).unwrap();
    ok(Command::new("exiftool")
        .args(["-q", "-overwrite_original", "-XMP-GCamera:MicroVideo=1"])
        .arg(format!("-XMP-GCamera:MicroVideoOffset={}", mp4.len() + 1))
        .arg(&bad));
    bytes = std::fs::read(&bad).unwrap();
    bytes.extend_from_slice(&mp4);
    std::fs::write(&bad, &bytes).unwrap();
    assert!(date_json(&state, &bad).get("motion").is_none());
}

/// A daemon compressing as it files (`[compress] enabled`, level 2).
fn compressing_daemon(t: &Path) -> (PathBuf, Daemon) {
    let config = daemon_config(t, 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[compress]\nenabled = true\nlevel = 2\n");
    std::fs::write(&config, text).unwrap();
    let daemon = start_daemon(&config);
    wait_for("the daemon", Duration::from_secs(30), || {
        ctl(&config).args(["--json", "status"]).output().is_ok_and(|o| o.status.success())
    });
    (config, daemon)
}

fn library_files(lib: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(lib)
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn the_daemon_files_motion_photos_whole_though_it_compresses_and_why_says_so() {
    let Some(corpus) = corpus() else { return };
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let stage = root.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    let (fixtures, _) = fixtures(&corpus, &stage);
    let (config, _daemon) = compressing_daemon(&root);
    // A plain photo beside them, to show compression is on.
    let plain = copy_out(&corpus, PHOTOS[1], &stage.join("plain.jpg"));
    std::fs::copy(&plain, root.join("inbox/plain.jpg")).unwrap();
    for fx in &fixtures {
        std::fs::copy(&fx.file, root.join("inbox").join(fx.file.file_name().unwrap())).unwrap();
    }
    let total = fixtures.len() + 1;
    wait_for("every photo to be filed", Duration::from_secs(60), || {
        status(&config)["total"]["filed"].as_u64() == Some(total as u64)
    });
    let filed = library_files(&root.join("lib"));
    assert_eq!(filed.len(), total, "{filed:?}");
    let by_name = |name: &std::ffi::OsStr| {
        filed.iter().find(|p| p.file_name() == Some(name)).unwrap_or_else(|| panic!("{name:?} not filed: {filed:?}"))
    };
    let small = by_name(plain.file_name().unwrap());
    assert!(
        std::fs::metadata(small).unwrap().len() < std::fs::metadata(&plain).unwrap().len(),
        "the plain photo was filed compressed"
    );
    let state = root.join("state");
    for fx in &fixtures {
        let lib_file = by_name(fx.file.file_name().unwrap());
        assert_eq!(b3(lib_file), b3(&fx.file), "{} filed byte for byte", fx.file.display());
        if fx.file.extension().is_some_and(|e| e == "jpg") {
            assert_eq!(phash(&state, lib_file), phash(&state, &fx.base), "the same picture as the plain photo");
        }
        let out = run(ctl(&config).args(["--json", "why"]).arg(lib_file));
        assert_eq!(out.status.code(), Some(0));
        let w = json_lines(&out).remove(0);
        assert_eq!(w["decision"], "filed", "{w}");
        let motion = w["motion"].as_str().unwrap_or_else(|| panic!("no motion in {w}"));
        assert!(motion.starts_with(&format!("a motion photo ({}, ", fx.vendor)), "{motion}");
        assert!(motion.contains("kept whole"), "{motion}");
        // Asked about by its inbox path too, and in text.
        let inbox = root.join("inbox").join(fx.file.file_name().unwrap());
        let text = String::from_utf8_lossy(&run(ctl(&config).arg("why").arg(&inbox)).stdout).into_owned();
        assert!(text.contains("motion      a motion photo ("), "{text}");
    }
    // The plain photo is no motion photo.
    let w = json_lines(&run(ctl(&config).args(["--json", "why"]).arg(small))).remove(0);
    assert!(w.get("motion").is_none(), "{w}");
}

#[test]
fn cbctl_compress_copies_motion_photos_unchanged_and_says_why() {
    let Some(corpus) = corpus() else { return };
    if !tools() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let (fixtures, mp4) = fixtures(&corpus, &src);
    std::fs::remove_dir_all(src.join("bases")).unwrap();
    for f in ["clip.mp4", "container.xmp", "heic.xmp"] {
        let _ = std::fs::remove_file(src.join(f));
    }
    for args in [&["--images", "--force"][..], &["--images", "--to-jpeg"]] {
        let dest = t.path().join(format!("out{}", args.len() + args[1].len()));
        let out = run(cbctl(&t.path().join("state")).arg("--json").arg("compress").args(args).arg(&src).arg(&dest));
        let lines = json_lines(&out);
        for fx in &fixtures {
            let ev = lines
                .iter()
                .find(|l| l["path"].as_str() == fx.file.to_str())
                .unwrap_or_else(|| panic!("no event for {}: {lines:?}", fx.file.display()));
            assert_eq!(ev["outcome"], "kept", "{args:?}: {ev}");
            assert_eq!(
                ev["reason"].as_str().unwrap(),
                format!("a motion photo ({}, video of {} bytes inside); kept whole", fx.vendor, mp4.len()),
                "{ev}"
            );
            let copy = PathBuf::from(ev["dest"].as_str().unwrap());
            assert_eq!(copy.file_name(), fx.file.file_name(), "not converted: {ev}");
            assert_eq!(b3(&copy), b3(&fx.file), "byte for byte: {ev}");
        }
    }
}
