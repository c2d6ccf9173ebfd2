//! `cbctl date` agrees with exiftool (MANIFEST.tsv) on every corpus file
//! that has a DateTimeOriginal, or a QuickTime CreateDate for video.

mod common;

use std::collections::HashMap;

use chrono::{DateTime, NaiveDateTime};
use common::*;

fn exiftool_time(s: &str) -> NaiveDateTime {
    NaiveDateTime::parse_from_str(s, "%Y:%m:%d %H:%M:%S").unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn cbctl_date_agrees_with_exiftool_on_every_corpus_file_that_has_a_date() {
    let Some(corpus) = corpus() else { return };
    let entries = manifest(&corpus);
    let files: Vec<_> = entries.iter().map(|e| corpus.join(&e.path)).collect();
    let out = run(cbctl(&corpus.join("no-state")).arg("--json").arg("date").args(&files));
    let lines = json_lines(&out);
    let by_path: HashMap<String, &serde_json::Value> =
        lines.iter().filter_map(|l| Some((l.get("path")?.as_str()?.to_string(), l))).collect();
    let mut checked = 0;
    let mut wrong = Vec::new();
    for e in &entries {
        let got = by_path[&corpus.join(&e.path).to_string_lossy().to_string()];
        let taken = got["taken"].as_str().unwrap_or("");
        let source = got["source"].as_str().unwrap_or("");
        if let Some((_, why)) = PROPRIETARY_ONLY.iter().find(|(p, _)| *p == e.path) {
            assert!(matches!(source, "mtime" | "filename" | "exif-create"), "{}: {why}: {got}", e.path);
            continue;
        }
        if let Some(dto) = &e.date_time_original {
            checked += 1;
            let want = exiftool_time(dto).format("%Y-%m-%dT%H:%M:%S").to_string();
            if !taken.starts_with(&want) {
                wrong.push(format!("{}: exiftool {dto}, cbctl {taken} ({source})", e.path));
            }
            if let Some(off) = &e.offset {
                if !taken.ends_with(off.as_str()) {
                    wrong.push(format!("{}: offset {off} expected, cbctl {taken}", e.path));
                }
            }
            if e.mime.starts_with("image/heic") && source != "exif" {
                wrong.push(format!("{}: HEIC date should come from EXIF, got {source}", e.path));
            }
        } else if let (true, Some(create)) = (e.mime.starts_with("video/"), &e.create_date) {
            checked += 1;
            // exiftool reports QuickTime CreateDate as stored: UTC.
            let want = exiftool_time(create).and_utc();
            let Ok(got_instant) = DateTime::parse_from_rfc3339(taken) else {
                wrong.push(format!("{}: {taken} has no offset; a video date must be an instant", e.path));
                continue;
            };
            let diff = (got_instant.to_utc() - want).num_seconds().abs();
            // The Apple creationdate key is when recording started; mvhd is
            // written when it stopped: allow a minute between them.
            let allowed = if source == "quicktime" { 60 } else { 0 };
            if diff > allowed || !matches!(source, "mvhd" | "quicktime") {
                wrong.push(format!("{}: exiftool CreateDate {create}Z, cbctl {taken} ({source})", e.path));
            }
        }
    }
    assert!(wrong.is_empty(), "disagreements with exiftool:\n{}", wrong.join("\n"));
    assert!(checked >= 120, "only {checked} files checked");
    // Dates travel with their offset when the camera recorded one.
    let heic = by_path[&corpus.join("exif-samples/heic/IMG_5195.HEIC").to_string_lossy().to_string()];
    assert_eq!(heic["taken"], "2021-04-11T15:47:53-05:00");
    let mov = by_path[&corpus.join("metadata-extractor/mov/with-gps.mov").to_string_lossy().to_string()];
    assert_eq!((mov["taken"].as_str(), mov["source"].as_str()), (Some("2019-07-24T11:25:40+03:00"), Some("quicktime")));
    let qt = by_path[&corpus.join("exiftool-samples/QuickTime.mov").to_string_lossy().to_string()];
    assert_eq!((qt["taken"].as_str(), qt["source"].as_str()), (Some("2005-08-11T14:03:54Z"), Some("mvhd")));
}

#[test]
fn a_date_in_the_file_name_wins_over_mtime_when_metadata_has_none() {
    let t = tempfile::tempdir().unwrap();
    let Some(corpus) = corpus() else { return };
    // A PNG without any date, under phone-style names.
    let png = std::fs::read(corpus.join("exiftool-samples/PNG.png")).unwrap();
    let names = [
        ("IMG-20230514-WA0001.png", "2023-05-14T00:00:00"),
        ("Screenshot_2023-05-14-12-34-56.png", "2023-05-14T12:34:56"),
        ("PXL_20230514_123456789.png", "2023-05-14T12:34:56"),
    ];
    for (name, _) in names {
        std::fs::write(t.path().join(name), &png).unwrap();
    }
    let out = run(cbctl(t.path()).arg("--json").arg("date").args(names.iter().map(|(n, _)| t.path().join(n))));
    let lines = json_lines(&out);
    for ((_, want), line) in names.iter().zip(&lines) {
        assert_eq!((line["taken"].as_str(), line["source"].as_str()), (Some(*want), Some("filename")), "{line}");
    }
    std::fs::write(t.path().join("plain.png"), &png).unwrap();
    let out = run(cbctl(t.path()).arg("--json").arg("date").arg(t.path().join("plain.png")));
    assert_eq!(json_lines(&out)[0]["source"], "mtime");
    assert_eq!(summary(&json_lines(&out))["errors"], 0);
}

// ---- Dates from every source (issue 15 item 2). Every file below is made
// here: a corpus JPEG stripped of all metadata with `exiftool -all=`, then
// the one date source under test written with exiftool (or, for sidecars,
// written beside it), so nothing else could have given the date.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs exiftool on `file` (in place), failing the test if it fails.
fn exiftool(args: &[&str], file: &Path) {
    let out = Command::new("exiftool")
        .args(["-q", "-q", "-overwrite_original"])
        .args(args)
        .arg(file)
        .output()
        .expect("exiftool must be installed (.ci/run installs libimage-exiftool-perl)");
    assert!(out.status.success(), "exiftool {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A JPEG named `name` in `dir` with no metadata at all (so no date of its own).
fn bare_jpeg(corpus: &Path, dir: &Path, name: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::copy(corpus.join("exif-samples/jpg/gps/DSCN0010.jpg"), &p).unwrap();
    exiftool(&["-all="], &p);
    p
}

/// `cbctl --json date` of one file.
fn date_of(state: &Path, file: &Path) -> serde_json::Value {
    let out = run(cbctl(state).arg("--json").arg("date").arg(file));
    json_lines(&out)[0].clone()
}

fn taken_source(v: &serde_json::Value) -> (&str, &str) {
    (v["taken"].as_str().unwrap_or(""), v["source"].as_str().unwrap_or(""))
}

#[test]
fn a_takeout_only_photo_is_filed_on_the_local_day_of_the_place_it_was_taken() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    // No EXIF; Takeout's JSON says 2023-06-01 03:30:00 UTC (1685590200) in
    // Los Angeles, where it was still 31 May, 20:30 (-07:00).
    let photo = bare_jpeg(&corpus, &src, "photo.jpg");
    std::fs::write(
        src.join("photo.jpg.supplemental-metadata.json"),
        r#"{"title": "photo.jpg", "photoTakenTime": {"timestamp": "1685590200", "formatted": "Jun 1, 2023, 3:30:00 AM UTC"},
           "geoData": {"latitude": 34.0522, "longitude": -118.2437, "altitude": 0.0}}"#,
    )
    .unwrap();
    let v = date_of(&state, &photo);
    assert_eq!(taken_source(&v), ("2023-05-31T20:30:00-07:00", "takeout"), "{v}");
    assert_eq!(v["offset_from"], "gps", "{v}");
    // Filed in May, not in June as the UTC day would have it.
    let out = run(cbctl(&state).arg("--json").arg("organize").arg(&src).arg(&dest).arg("--no-phash"));
    let lines = json_lines(&out);
    let ev = lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with("photo.jpg"))).unwrap();
    let landed = PathBuf::from(ev["dest"].as_str().unwrap());
    assert!(landed.parent().unwrap().ends_with("2023/05"), "{ev}");

    // Takeout's other names: the old `NAME.EXT.json`, and `IMG.JPG(1).json` for `IMG(1).JPG`.
    let json = r#"{"photoTakenTime": {"timestamp": "1685590200"}}"#;
    let old = bare_jpeg(&corpus, t.path(), "old.jpg");
    std::fs::write(t.path().join("old.jpg.json"), json).unwrap();
    let counted = bare_jpeg(&corpus, t.path(), "IMG(1).JPG");
    std::fs::write(t.path().join("IMG.JPG(1).json"), json).unwrap();
    for p in [old, counted] {
        let v = date_of(&state, &p);
        assert_eq!(taken_source(&v), ("2023-06-01T03:30:00Z", "takeout"), "{v}");
    }
}

#[test]
fn an_xmp_sidecar_dates_a_photo_without_embedded_dates() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // exiftool creates the sidecar from nothing when the .xmp does not exist yet.
    let a = bare_jpeg(&corpus, t.path(), "a.jpg");
    exiftool(&["-XMP-exif:DateTimeOriginal=2019:03:12 10:15:30+01:00"], &t.path().join("a.jpg.xmp"));
    let b = bare_jpeg(&corpus, t.path(), "b.jpg");
    exiftool(&["-XMP-exif:DateTimeOriginal=2018:01:02 03:04:05"], &t.path().join("b.xmp"));
    assert_eq!(taken_source(&date_of(&state, &a)), ("2019-03-12T10:15:30+01:00", "xmp-sidecar"));
    assert_eq!(taken_source(&date_of(&state, &b)), ("2018-01-02T03:04:05", "xmp-sidecar"));
    // A sidecar that is a symbolic link is not followed.
    let c = bare_jpeg(&corpus, t.path(), "c.jpg");
    std::os::unix::fs::symlink(t.path().join("a.jpg.xmp"), t.path().join("c.jpg.xmp")).unwrap();
    assert_eq!(date_of(&state, &c)["source"], "mtime");
}

#[test]
fn an_embedded_date_time_original_beats_sidecars() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // The corpus photo itself (DateTimeOriginal 2008:10:22 16:28:39, GPS in
    // France), with an XMP sidecar and a Takeout JSON that both disagree.
    let p = t.path().join("DSCN0010.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/gps/DSCN0010.jpg"), &p).unwrap();
    exiftool(&["-XMP-exif:DateTimeOriginal=2019:03:12 10:15:30+01:00"], &t.path().join("DSCN0010.jpg.xmp"));
    std::fs::write(t.path().join("DSCN0010.jpg.json"), r#"{"photoTakenTime": {"timestamp": "1685590200"}}"#).unwrap();
    let v = date_of(&state, &p);
    assert_eq!(v["source"], "exif", "{v}");
    assert!(v["taken"].as_str().unwrap().starts_with("2008-10-22T16:28:39"), "{v}");
    // The same photo with its EXIF and GPS dates removed falls to the XMP sidecar (before Takeout).
    exiftool(&["-EXIF:AllDates=", "-EXIF:OffsetTime*=", "-GPSDateStamp=", "-GPSTimeStamp="], &p);
    let v = date_of(&state, &p);
    assert_eq!(taken_source(&v), ("2019-03-12T10:15:30+01:00", "xmp-sidecar"), "{v}");
}

#[test]
fn gps_position_gives_the_offset_a_date_time_original_lacks() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // DateTimeOriginal without OffsetTimeOriginal, GPS in Los Angeles: -08:00 in January, -07:00 in July.
    for (name, when, want) in [
        ("winter.jpg", "2023:01:15 12:00:00", "2023-01-15T12:00:00-08:00"),
        ("summer.jpg", "2023:07:15 12:00:00", "2023-07-15T12:00:00-07:00"),
    ] {
        let p = bare_jpeg(&corpus, t.path(), name);
        exiftool(
            &[
                &format!("-EXIF:DateTimeOriginal={when}"),
                "-GPSLatitude=34.0522",
                "-GPSLatitudeRef=N",
                "-GPSLongitude=118.2437",
                "-GPSLongitudeRef=W",
            ],
            &p,
        );
        let v = date_of(&state, &p);
        assert_eq!(taken_source(&v), (want, "exif"), "{v}");
        assert_eq!(v["offset_from"], "gps", "{v}");
    }
    // A recorded offset is kept, and no offset_from is reported.
    let p = bare_jpeg(&corpus, t.path(), "offset.jpg");
    exiftool(
        &[
            "-EXIF:DateTimeOriginal=2023:01:15 12:00:00",
            "-EXIF:OffsetTimeOriginal=+09:00",
            "-GPSLatitude=34.0522",
            "-GPSLatitudeRef=N",
            "-GPSLongitude=118.2437",
            "-GPSLongitudeRef=W",
        ],
        &p,
    );
    let v = date_of(&state, &p);
    assert_eq!(taken_source(&v), ("2023-01-15T12:00:00+09:00", "exif"), "{v}");
    assert!(v.get("offset_from").is_none(), "{v}");
}

#[test]
fn gps_date_and_time_stamps_date_a_photo_that_has_nothing_else() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // GPSDateStamp/GPSTimeStamp only (UTC), as Immich's gps-datetime.jpg.
    let p = bare_jpeg(&corpus, t.path(), "gps-datetime.jpg");
    exiftool(&["-GPSDateStamp=2023:06:01", "-GPSTimeStamp=03:30:00"], &p);
    assert_eq!(taken_source(&date_of(&state, &p)), ("2023-06-01T03:30:00Z", "gps-datetime"));
    // With a position too, it moves to the local clock there (Los Angeles: the day before).
    exiftool(&["-GPSLatitude=34.0522", "-GPSLatitudeRef=N", "-GPSLongitude=118.2437", "-GPSLongitudeRef=W"], &p);
    let v = date_of(&state, &p);
    assert_eq!(taken_source(&v), ("2023-05-31T20:30:00-07:00", "gps-datetime"), "{v}");
    assert_eq!(v["offset_from"], "gps");
}

#[test]
fn iptc_date_created_counts_only_with_its_time_created() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let both = bare_jpeg(&corpus, t.path(), "both.jpg");
    exiftool(&["-IPTC:DateCreated=2019:03:12", "-IPTC:TimeCreated=10:15:30+01:00"], &both);
    assert_eq!(taken_source(&date_of(&state, &both)), ("2019-03-12T10:15:30+01:00", "iptc"));
    let lone = bare_jpeg(&corpus, t.path(), "lone.jpg");
    exiftool(&["-IPTC:TimeCreated=10:15:30+01:00"], &lone);
    assert_eq!(date_of(&state, &lone)["source"], "mtime");
}

#[test]
fn a_png_creation_time_text_chunk_dates_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // exiftool writes PNG:CreationTime as a `tEXt` chunk keyed "Creation Time".
    let p = t.path().join("plain.png");
    std::fs::copy(corpus.join("exiftool-samples/PNG.png"), &p).unwrap();
    exiftool(&["-all=", "-PNG:CreationTime=2023:05:14 12:34:56"], &p);
    let data = std::fs::read(&p).unwrap();
    assert!(data.windows(18).any(|w| w == b"tEXtCreation Time\0"), "exiftool wrote no tEXt chunk");
    assert_eq!(taken_source(&date_of(&state, &p)), ("2023-05-14T12:34:56", "png-text"));
}

#[test]
fn an_avi_idit_chunk_dates_it() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        eprintln!("SKIP: no ffmpeg to make an AVI");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let p = t.path().join("clip.avi");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc=d=1:s=32x32:r=5", "-c:v", "mjpeg"])
        .arg(&p)
        .status()
        .unwrap();
    assert!(made.success());
    // ffmpeg writes no IDIT (and exiftool cannot write RIFF): insert the
    // chunk a camera writes at the start of the `hdrl` list, fixing the
    // LIST's and the RIFF's sizes.
    let mut data = std::fs::read(&p).unwrap();
    let hdrl = data.windows(4).position(|w| w == b"hdrl").unwrap();
    let mut chunk = b"IDIT".to_vec();
    let text = b"Sun May 14 12:34:56 2023\n\0";
    chunk.extend((text.len() as u32).to_le_bytes());
    chunk.extend(text);
    let grow = |data: &mut Vec<u8>, at: usize| {
        let n = u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) + chunk.len() as u32;
        data[at..at + 4].copy_from_slice(&n.to_le_bytes());
    };
    grow(&mut data, 4);
    grow(&mut data, hdrl - 4);
    data.splice(hdrl + 4..hdrl + 4, chunk.iter().copied());
    std::fs::write(&p, &data).unwrap();
    assert_eq!(taken_source(&date_of(&state, &p)), ("2023-05-14T12:34:56", "container"));
}

// ---- Where a video was recorded gives its UTC time a zone (issue 15 item 2).

/// A video made by ffmpeg at 03:30 UTC on 1 June 2023, with the position
/// of Los Angeles (ffmpeg writes `location` into an MP4 as the 3GPP `loci`
/// box; with `use_metadata_tags`, as Apple's
/// `com.apple.quicktime.location.ISO6709` key): its `mvhd` time only knows
/// UTC, and the GPS zone files it on 31 May, the local day.
#[test]
fn a_video_s_recorded_position_gives_its_utc_time_the_local_day() {
    let Some(_corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    let make =
        |name: &str, apple: bool| {
            let p = src.join(name);
            let mut cmd = Command::new("ffmpeg");
            cmd.args(["-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=5"])
                .args(["-pix_fmt", "yuv420p", "-metadata", "creation_time=2023-06-01T03:30:00Z"]);
            if apple {
                cmd.args(["-metadata", "com.apple.quicktime.location.ISO6709=+34.0522-118.2437+089.000/"])
                    .args(["-movflags", "use_metadata_tags"]);
            } else {
                cmd.args(["-metadata", "location=+34.0522-118.2437/"]);
            }
            assert!(cmd.arg(&p).status().expect("ffmpeg").success());
            p
        };
    let (android, apple) = (make("android.mp4", false), make("iphone.mov", true));
    for p in [&android, &apple] {
        let v = date_of(&state, p);
        assert_eq!(taken_source(&v), ("2023-05-31T20:30:00-07:00", "mvhd"), "{v}");
        assert_eq!(v["offset_from"], "gps", "{v}");
    }
    let out = run(cbctl(&state).arg("--json").arg("organize").arg(&src).arg(&dest));
    let lines = json_lines(&out);
    for name in ["android.mp4", "iphone.mov"] {
        let ev = lines.iter().find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name))).unwrap();
        assert!(ev["dest"].as_str().unwrap().contains("2023/05/"), "{ev}");
    }
    // Without a position, the UTC day.
    let plain = src.join("plain.mp4");
    let status = Command::new("ffmpeg")
        .args(["-loglevel", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=160x120:rate=5"])
        .args(["-pix_fmt", "yuv420p", "-metadata", "creation_time=2023-06-01T03:30:00Z"])
        .arg(&plain)
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(taken_source(&date_of(&state, &plain)), ("2023-06-01T03:30:00Z", "mvhd"));
}

// FLIR and Casio maker-note dates. No corpus file has a Casio QVCI segment
// (and the corpus' FLIR file comes in five chunks in order): each file below
// is a metadata-free corpus JPEG with the vendor's APP1 segments inserted
// after its SOI, and exiftool must read the same DateTimeOriginal from it
// before cbctl is asked.

/// `file` with these APP1 payloads inserted right after its SOI.
fn insert_app1(file: &Path, payloads: &[Vec<u8>]) {
    let mut data = std::fs::read(file).unwrap();
    assert_eq!(data[..2], [0xFF, 0xD8], "{} is not a JPEG", file.display());
    let mut segs = Vec::new();
    for p in payloads {
        segs.extend([0xFF, 0xE1]);
        segs.extend(u16::try_from(p.len() + 2).unwrap().to_be_bytes());
        segs.extend(p);
    }
    data.splice(2..2, segs);
    std::fs::write(file, data).unwrap();
}

/// exiftool's `-a -G1 -s -DateTimeOriginal` lines for `file`.
fn exiftool_date_time_original(file: &Path) -> String {
    let out = Command::new("exiftool").args(["-a", "-G1", "-s", "-DateTimeOriginal"]).arg(file).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn a_casio_qvci_segment_dates_a_photo_as_exiftool_reads_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // Casio QV-7000SX: APP1 "QVCI\0", DateTimeOriginal a string[20] at byte
    // 0x4D of the segment, dots for separators (exiftool Casio::QVCI).
    let mut qvci = b"QVCI\0".to_vec();
    qvci.resize(0x2C, 0);
    qvci.push(3); // CasioQuality: Fine
    qvci.resize(0x4D, 0);
    qvci.extend(b"2001.06.25 14:30:07");
    qvci.resize(0x90, 0);
    let p = bare_jpeg(&corpus, t.path(), "CIMG0001.JPG");
    insert_app1(&p, &[qvci]);
    let seen = exiftool_date_time_original(&p);
    assert!(seen.ends_with("DateTimeOriginal                : 2001:06:25 14:30:07"), "exiftool: {seen}");
    let v = date_of(&state, &p);
    assert_eq!(taken_source(&v), ("2001-06-25T14:30:07", "maker-note"), "{v}");
}

#[test]
fn flir_chunks_out_of_order_date_a_photo_with_the_cameras_offset_as_exiftool_reads_it() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    // FFF data as FLIR's APP1 has it: a big-endian 64-byte header (version
    // 100, directory at 0x40, 2 entries), a little-endian CameraInfo record
    // (int16u 2 at 0) whose DateTimeOriginal at 0x384 is int32u Unix time,
    // int32u milliseconds, int16s minutes west of UTC: 1685590200 = 2023-06-01
    // 03:30:00 UTC, -330 minutes west = +05:30, 09:00:00 local.
    let mut camera = vec![0u8; 0x400];
    camera[..2].copy_from_slice(&2u16.to_le_bytes());
    camera[0x384..0x388].copy_from_slice(&1_685_590_200u32.to_le_bytes());
    camera[0x388..0x38C].copy_from_slice(&250u32.to_le_bytes());
    camera[0x38C..0x38E].copy_from_slice(&(-330i16).to_le_bytes());
    let mut fff = vec![0u8; 0x40];
    fff[..4].copy_from_slice(b"FFF\0");
    fff[0x14..0x18].copy_from_slice(&100u32.to_be_bytes());
    fff[0x18..0x1C].copy_from_slice(&0x40u32.to_be_bytes());
    fff[0x1C..0x20].copy_from_slice(&2u32.to_be_bytes());
    let mut entry = vec![0u8; 0x20];
    entry[..2].copy_from_slice(&0x20u16.to_be_bytes());
    entry[2..4].copy_from_slice(&1u16.to_be_bytes());
    entry[0x0C..0x10].copy_from_slice(&0x80u32.to_be_bytes());
    entry[0x10..0x14].copy_from_slice(&u32::try_from(camera.len()).unwrap().to_be_bytes());
    fff.extend(entry);
    fff.extend([0u8; 0x20]); // an empty entry
    fff.extend(camera);
    // Three chunks ("FLIR\0", 1, chunk number, chunk count - 1), written 2, 0, 1.
    let parts: Vec<&[u8]> = fff.chunks(fff.len().div_ceil(3)).collect();
    let chunk = |k: u8| {
        let mut seg = b"FLIR\0\x01".to_vec();
        seg.extend([k, 2]);
        seg.extend(parts[usize::from(k)]);
        seg
    };
    let p = bare_jpeg(&corpus, t.path(), "FLIR0001.jpg");
    insert_app1(&p, &[chunk(2), chunk(0), chunk(1)]);
    let seen = exiftool_date_time_original(&p);
    assert_eq!(seen, "[FLIR]          DateTimeOriginal                : 2023:06:01 09:00:00.250+05:30", "exiftool");
    let v = date_of(&state, &p);
    assert_eq!(taken_source(&v), ("2023-06-01T09:00:00+05:30", "maker-note"), "{v}");
    // Without its last chunk the FFF data is incomplete: neither reads a date.
    let q = bare_jpeg(&corpus, t.path(), "FLIR0002.jpg");
    insert_app1(&q, &[chunk(0), chunk(1)]);
    assert_eq!(exiftool_date_time_original(&q), "", "exiftool");
    assert_eq!(date_of(&state, &q)["source"], "mtime");
}
