//! Thumbnails for the review page (issue 16): every corpus photo kind gives
//! a small upright JPEG, malformed files give errors, and the cache in the
//! state dir answers a second request without decoding.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clean_backup::engine::thumbs::ThumbCache;
use clean_backup::media::{self, thumb};
use image::RgbImage;

const SIDE: u32 = 256;

/// Decodes a thumbnail's JPEG with the `image` crate.
fn decode(jpeg: &[u8]) -> RgbImage {
    assert!(jpeg.starts_with(&[0xFF, 0xD8, 0xFF]), "not a JPEG");
    image::load_from_memory_with_format(jpeg, image::ImageFormat::Jpeg)
        .expect("image decodes the thumbnail")
        .into_rgb8()
}

/// Files of the corpus that hold no picture we can show, and why. Everything
/// else with an image/* type must give a thumbnail.
const NO_THUMBNAIL: &[(&str, &str)] = &[
    ("exiftool-samples/CanonRaw.cr2", "a stripped sample: no preview"),
    ("exiftool-samples/CanonRaw.cr3", "a stripped sample: a 28-byte thumbnail"),
    ("exiftool-samples/DNG.dng", "a stripped sample: no preview"),
    ("exiftool-samples/Nikon.nef", "a stripped sample: no preview"),
    ("exiftool-samples/QuickTime.heic", "623 bytes: metadata only"),
    ("metadata-extractor/heic/IllegalArgumentException.HeifReader.processBoxes.heif", "cut short on purpose"),
    ("metadata-extractor/heic/NegativeArraySizeException.HeifReader.processBoxes.heif", "damaged on purpose"),
    // libheif: "Decoded image does not have the size signaled in the file"
    // (in RGB; it has no embedded thumbnail to fall back on).
    ("metadata-extractor/heic/Issue 437 (dotnet).heic", "libheif refuses its RGB decode"),
];

#[test]
fn every_corpus_photo_kind_gives_a_small_jpeg() {
    let Some(corpus) = common::corpus() else { return };
    let mut by_kind: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut failed = Vec::new();
    for e in common::manifest(&corpus) {
        if !e.mime.starts_with("image/") {
            continue;
        }
        let path = corpus.join(&e.path);
        let kind = media::sniff(&path).ok().flatten().map_or("?", |k| k.name());
        match thumb::thumbnail(&path, SIDE) {
            Ok(t) => {
                let img = decode(&t.jpeg);
                assert_eq!(img.dimensions(), (t.width, t.height), "{}", e.path);
                assert!(t.width.max(t.height) <= SIDE, "{}: {}×{}", e.path, t.width, t.height);
                assert!(t.width > 0 && t.height > 0, "{}", e.path);
                *by_kind.entry(kind).or_default() += 1;
            }
            Err(err) => {
                assert!(!err.to_string().is_empty());
                if !NO_THUMBNAIL.iter().any(|(p, _)| *p == e.path) {
                    failed.push(format!("{}: {err}", e.path));
                }
            }
        }
    }
    eprintln!("thumbnails by kind: {by_kind:?}");
    assert!(failed.is_empty(), "no thumbnail for:\n{}", failed.join("\n"));
    for kind in ["jpeg", "png", "gif", "bmp", "tiff", "webp", "heif", "avif", "raf", "rw2"] {
        assert!(by_kind.get(kind).copied().unwrap_or(0) > 0, "no {kind} thumbnail made");
    }
}

/// Mean absolute difference of two same-size images, per channel sample.
fn mean_diff(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let sum: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(x, y)| u64::from(x.abs_diff(*y))).sum();
    sum as f64 / a.as_raw().len() as f64
}

#[test]
fn the_eight_orientations_come_out_upright() {
    let Some(corpus) = common::corpus() else { return };
    let dir = corpus.join("exif-samples/jpg/orientation");
    for shape in ["landscape", "portrait"] {
        let reference = thumb::thumbnail(&dir.join(format!("{shape}_1.jpg")), 128).expect("orientation 1");
        let upright = decode(&reference.jpeg);
        assert_eq!(upright.width() > upright.height(), shape == "landscape", "{shape}_1 shape");
        for n in 2..=8 {
            let t = thumb::thumbnail(&dir.join(format!("{shape}_{n}.jpg")), 128).expect("thumbnail");
            let img = decode(&t.jpeg);
            assert_eq!(img.dimensions(), upright.dimensions(), "{shape}_{n}: size");
            // Each sample carries its own number drawn on the picture, so the
            // match is not exact: it must be closer than any wrong turn of
            // the same size (mirrored either way, upside down).
            let d = mean_diff(&img, &upright);
            let wrong = [
                mean_diff(&image::imageops::flip_horizontal(&img), &upright),
                mean_diff(&image::imageops::flip_vertical(&img), &upright),
                mean_diff(&image::imageops::rotate180(&img), &upright),
            ];
            eprintln!("{shape}_{n}: {d:.1} (wrong turns {wrong:.1?})");
            assert!(
                wrong.iter().all(|w| d * 1.5 < *w),
                "{shape}_{n}: mean difference {d:.1} to {shape}_1, wrong turns {wrong:.1?}"
            );
        }
    }
}

#[test]
fn heic_raw_png_and_webp_samples() {
    let Some(corpus) = common::corpus() else { return };
    // (file, its upright shape: true = wider than tall)
    let cases = [
        ("metadata-extractor/heic/IMG_2927.HEIC", false), // 3024×4032
        ("metadata-extractor/heic/IMG_1034.heic", true),
        ("metadata-extractor/avif/Issue 649.avif", true),
        ("exiftool-samples/FujiFilm.raf", true),  // the embedded JPEG preview
        ("exiftool-samples/Panasonic.rw2", true), // its JpgFromRaw
        ("exiftool-samples/PNG.png", true),
        ("metadata-extractor/webp/Photo (1).webp", true),
        ("metadata-extractor/webp/Alpha Lossless (1).webp", true),
    ];
    for (name, wide) in cases {
        let t = thumb::thumbnail(&corpus.join(name), SIDE).unwrap_or_else(|e| panic!("{name}: {e}"));
        let img = decode(&t.jpeg);
        assert!(img.width().max(img.height()) <= SIDE, "{name}");
        if img.width() != img.height() {
            assert_eq!(img.width() > img.height(), wide, "{name}: {}×{}", img.width(), img.height());
        }
        // A big photo fills the longest side.
        if name.contains("heic") || name.contains("HEIC") || name.contains("Photo (1)") {
            assert_eq!(img.width().max(img.height()), SIDE, "{name}");
        }
    }
}

#[test]
fn malformed_files_videos_and_links_give_errors_not_panics() {
    let tmp = tempfile::tempdir().expect("tmp");
    let write = |name: &str, data: &[u8]| {
        let p = tmp.path().join(name);
        std::fs::write(&p, data).expect("write");
        p
    };
    let garbage = write("garbage.jpg", b"\xFF\xD8\xFF\xE0 this is not really a JPEG at all");
    assert!(thumb::thumbnail(&garbage, SIDE).is_err());
    let text = write("notes.png", b"hello");
    assert!(thumb::thumbnail(&text, SIDE).unwrap_err().to_string().contains("not a photo"));
    let empty = write("empty.jpg", b"");
    assert!(thumb::thumbnail(&empty, SIDE).is_err());
    let cache = ThumbCache::new(&tmp.path().join("state"));
    assert!(cache.get(&garbage, SIDE).is_err());
    std::os::unix::fs::symlink(&garbage, tmp.path().join("link.jpg")).expect("symlink");
    assert!(thumb::thumbnail(&tmp.path().join("link.jpg"), SIDE).is_err(), "a link is not followed");

    let Some(corpus) = common::corpus() else { return };
    let video = thumb::thumbnail(&corpus.join("metadata-extractor/m4v/sample_iPod.m4v"), SIDE);
    assert!(video.unwrap_err().to_string().contains("video"));
    // Every corpus photo cut short, and with its middle overwritten: errors or pictures, no panic.
    for name in [
        "metadata-extractor/heic/IMG_2927.HEIC",
        "exiftool-samples/FujiFilm.raf",
        "exiftool-samples/Panasonic.rw2",
        "exif-samples/jpg/orientation/portrait_6.jpg",
        "metadata-extractor/webp/Photo (1).webp",
        "metadata-extractor/avif/Issue 649.avif",
        "exiftool-samples/PNG.png",
    ] {
        let data = std::fs::read(corpus.join(name)).expect("read");
        for cut in [16, data.len() / 3, data.len() - 1] {
            let p = write("cut", &data[..cut]);
            if let Ok(t) = thumb::thumbnail(&p, SIDE) {
                decode(&t.jpeg);
            }
        }
        let mut mangled = data.clone();
        let mid = mangled.len() / 2;
        let end = (mid + 512).min(mangled.len());
        mangled[mid..end].iter_mut().for_each(|b| *b = 0xA5);
        let p = write("mangled", &mangled);
        if let Ok(t) = thumb::thumbnail(&p, SIDE) {
            decode(&t.jpeg);
        }
    }
}

fn mtime(p: &Path) -> std::time::SystemTime {
    std::fs::metadata(p).and_then(|m| m.modified()).expect("mtime")
}

#[test]
fn the_cache_answers_a_hit_without_rewriting_and_sees_a_changed_file() {
    let Some(corpus) = common::corpus() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let state = tmp.path().join("state");
    let photo: PathBuf = tmp.path().join("photo.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/orientation/landscape_6.jpg"), &photo).expect("copy");
    let cache = ThumbCache::new(&state);

    let first = cache.get(&photo, SIDE).expect("miss");
    assert_eq!(first, thumb::thumbnail(&photo, SIDE).expect("thumb").jpeg, "the cache stores what thumbnail makes");
    let entry = cache.entry_path(&photo, SIDE).expect("entry");
    assert!(entry.starts_with(state.join("thumbs")), "{}", entry.display());
    let name = entry.file_name().and_then(|n| n.to_str()).expect("name");
    let sub = entry.parent().and_then(|d| d.file_name()).and_then(|n| n.to_str()).expect("subdir");
    assert!(name.ends_with(".jpg") && name.len() == 64 + 4 && name.starts_with(sub) && sub.len() == 2, "{name}");
    let made = mtime(&entry);

    std::thread::sleep(Duration::from_millis(30));
    let again = cache.get(&photo, SIDE).expect("hit");
    assert_eq!(again, first, "a hit returns the same bytes");
    assert_eq!(mtime(&entry), made, "a hit does not rewrite the cache file");
    let many = cache.get_many(&[&photo, &photo], SIDE);
    assert!(many.iter().all(|r| r.as_ref().ok() == Some(&first)));
    assert_eq!(mtime(&entry), made);

    // Another size is another entry.
    let small = cache.get(&photo, 64).expect("small");
    assert!(decode(&small).width().max(decode(&small).height()) <= 64);
    assert_ne!(cache.entry_path(&photo, 64).expect("entry"), entry);

    // The photo replaced by another picture: a new thumbnail.
    std::thread::sleep(Duration::from_millis(30));
    std::fs::write(&photo, std::fs::read(corpus.join("exif-samples/jpg/Canon_40D.jpg")).expect("read")).expect("write");
    let changed = cache.get(&photo, SIDE).expect("changed");
    assert_ne!(changed, first);
    assert_eq!(changed, thumb::thumbnail(&photo, SIDE).expect("thumb").jpeg);
    assert_ne!(cache.entry_path(&photo, SIDE).expect("entry"), entry);
}

#[test]
fn get_many_makes_a_first_screen_in_parallel() {
    let Some(corpus) = common::corpus() else { return };
    let tmp = tempfile::tempdir().expect("tmp");
    let cache = ThumbCache::new(tmp.path());
    let dir = corpus.join("exif-samples/jpg/orientation");
    let mut paths: Vec<PathBuf> = (1..=8).map(|n| dir.join(format!("portrait_{n}.jpg"))).collect();
    paths.push(corpus.join("metadata-extractor/m4v/sample_iPod.m4v"));
    let got = cache.get_many(&paths, 128);
    assert_eq!(got.len(), 9);
    for r in &got[..8] {
        let img = decode(r.as_ref().expect("thumb"));
        assert!(img.height() == 128 && img.width() < 128);
    }
    assert!(got[8].is_err(), "a video has no thumbnail");
    let hits = cache.get_many(&paths, 128);
    for (a, b) in got.iter().zip(&hits).take(8) {
        assert_eq!(a.as_ref().ok(), b.as_ref().ok());
    }
}

/// exiftool, or `None` (a skip) when it is not installed outside CI.
fn exiftool() -> Option<()> {
    let ok = std::process::Command::new("exiftool").arg("-ver").output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var("CI").as_deref() == Ok("true") {
        panic!("exiftool missing: CI must have it");
    }
    ok.then_some(())
}

/// Sets the EXIF orientation of a file with exiftool.
fn set_orientation(path: &Path, n: u16) {
    let out = std::process::Command::new("exiftool")
        .args(["-q", "-overwrite_original", &format!("-Orientation#={n}")])
        .arg(path)
        .output()
        .expect("run exiftool");
    assert!(out.status.success(), "exiftool: {}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_orientation_written_by_exiftool_turns_a_synthetic_jpeg() {
    if exiftool().is_none() {
        eprintln!("SKIP: exiftool not installed");
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    // 200×100, red in the stored top-left corner, blue elsewhere.
    let img =
        RgbImage::from_fn(
            200,
            100,
            |x, y| {
                if x < 40 && y < 40 {
                    image::Rgb([255, 0, 0])
                } else {
                    image::Rgb([0, 0, 255])
                }
            },
        );
    let path = tmp.path().join("synthetic.jpg");
    img.save(&path).expect("save JPEG");
    for (n, size, red_at) in
        [(1, (200, 100), (5, 5)), (3, (200, 100), (195, 95)), (6, (100, 200), (95, 5)), (8, (100, 200), (5, 195))]
    {
        set_orientation(&path, n);
        let t = thumb::thumbnail(&path, 256).expect("thumbnail");
        let out = decode(&t.jpeg);
        assert_eq!(out.dimensions(), size, "orientation {n}");
        let p = out.get_pixel(red_at.0, red_at.1);
        assert!(p[0] > 200 && p[2] < 60, "orientation {n}: red corner at {red_at:?}, found {p:?}");
    }
}
