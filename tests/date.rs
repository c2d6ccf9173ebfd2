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
