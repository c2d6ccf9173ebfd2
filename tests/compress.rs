//! `cbctl compress` on the corpus and on generated files: outputs decode,
//! are smaller or byte-identical copies, keep capture date, GPS and ICC
//! profile, PNGs stay pixel-identical, originals are untouched; JPEGs
//! already at the quality are kept unless forced; BMP/TIFF convert to PNG
//! losslessly; videos go through ffmpeg keeping creation_time and how they
//! display; without ffmpeg the user is told how to install it.

mod common;

use std::collections::BTreeMap;
use std::io::Cursor;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

fn compress(args: &[&str], src: &Path, dest: &Path) -> Output {
    let t = dest.parent().unwrap().join("state");
    run(cbctl(&t).arg("--json").arg("compress").args(args).arg(src).arg(dest))
}

/// The per-file events and the summary of a `--json` run.
fn events(out: &Output) -> (Vec<serde_json::Value>, serde_json::Value) {
    let lines = json_lines(out);
    let s = summary(&lines);
    (lines.into_iter().filter(|l| l.get("outcome").is_some()).collect(), s)
}

fn exif_of(bytes: &[u8]) -> Option<exif::Exif> {
    exif::Reader::new().read_from_container(&mut Cursor::new(bytes)).ok()
}

fn field(e: &exif::Exif, tag: exif::Tag) -> Option<String> {
    e.get_field(tag, exif::In::PRIMARY).map(|f| f.display_value().to_string())
}

fn icc_of(bytes: &[u8]) -> Option<Vec<u8>> {
    use image::ImageDecoder;
    let format = image::guess_format(bytes).ok()?;
    let mut d = image::ImageReader::with_format(Cursor::new(bytes), format).into_decoder().ok()?;
    d.icc_profile().ok().flatten()
}

fn date_of(state: &Path, file: &Path) -> serde_json::Value {
    let out = run(cbctl(state).args(["--json", "date"]).arg(file));
    let v = json_lines(&out);
    v[0]["taken"].clone()
}

#[test]
fn corpus_images_come_out_smaller_or_identical_with_their_metadata_and_originals_untouched() {
    let Some(corpus) = corpus() else { return };
    let corpus = corpus.canonicalize().unwrap();
    let t = tempfile::tempdir().unwrap();
    let before: BTreeMap<PathBuf, String> = tree(&corpus);
    let dest = t.path().join("out");
    let out = compress(&["--images"], &corpus, &dest);
    let (evs, s) = events(&out);
    assert_eq!(tree(&corpus), before, "the originals are untouched");

    let mut checked = (0, 0, 0, 0);
    let (mut with_icc, mut with_gps) = (0, 0);
    for ev in evs.iter().filter(|e| e["kind"] == "image") {
        let src = PathBuf::from(ev["path"].as_str().unwrap());
        let orig = std::fs::read(&src).unwrap();
        let outcome = ev["outcome"].as_str().unwrap();
        if outcome == "error" {
            // Broken files are reported, and copied as they are when readable.
            assert!(ev["reason"].as_str().unwrap().contains(src.to_str().unwrap()), "{ev}");
            continue;
        }
        let dst = PathBuf::from(ev["dest"].as_str().unwrap_or_else(|| panic!("no dest: {ev}")));
        let new = std::fs::read(&dst).unwrap();
        assert_eq!(ev["after"].as_u64(), Some(new.len() as u64));
        match outcome {
            "kept" => {
                assert_eq!(new, orig, "kept means byte-identical: {ev}");
                checked.0 += 1;
            }
            "compressed" => {
                assert!(new.len() < orig.len(), "{ev}");
                image::load_from_memory(&new).unwrap_or_else(|e| panic!("{} does not decode: {e}", dst.display()));
                if let Some(e0) = exif_of(&orig) {
                    with_gps += usize::from(field(&e0, exif::Tag::GPSLatitude).is_some());
                    let e1 = exif_of(&new).unwrap_or_else(|| panic!("EXIF lost in {}", dst.display()));
                    for tag in [
                        exif::Tag::DateTimeOriginal,
                        exif::Tag::GPSLatitude,
                        exif::Tag::GPSLongitude,
                        exif::Tag::Model,
                        exif::Tag::Orientation,
                    ] {
                        assert_eq!(field(&e0, tag), field(&e1, tag), "{tag} in {}", dst.display());
                    }
                }
                let icc = icc_of(&orig);
                with_icc += usize::from(icc.is_some());
                assert_eq!(icc, icc_of(&new), "ICC profile of {}", dst.display());
                if src.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
                    let (a, b) = (image::load_from_memory(&orig).unwrap(), image::load_from_memory(&new).unwrap());
                    assert_eq!(a.to_rgba16().as_raw(), b.to_rgba16().as_raw(), "PNG pixels of {}", dst.display());
                    checked.2 += 1;
                } else {
                    assert_eq!(date_of(t.path(), &src), date_of(t.path(), &dst), "filed on the same date: {ev}");
                    checked.3 += 1;
                }
                checked.1 += 1;
            }
            other => panic!("unexpected outcome {other}: {ev}"),
        }
        let rel = src.strip_prefix(&corpus).unwrap();
        assert_eq!(dst, dest.join(rel), "same relative path");
    }
    eprintln!("kept {}, compressed {} (PNG {}, JPEG {})", checked.0, checked.1, checked.2, checked.3);
    // (The corpus PNGs are already optimal; `a_png_is_optimised_losslessly` covers PNG.)
    assert!(checked.3 >= 20, "enough JPEGs were compressed to mean something: {checked:?}");
    assert!(with_icc >= 3 && with_gps >= 3, "compressed files with an ICC profile: {with_icc}, with GPS: {with_gps}");
    assert_eq!(s["compressed"].as_u64(), Some(checked.1 as u64));
    assert_eq!(
        s["saved_bytes"].as_u64(),
        Some(s["original_bytes"].as_u64().unwrap() - s["compressed_bytes"].as_u64().unwrap())
    );
    assert!(s["saved_percent"].as_f64().unwrap() > 5.0, "{s}");
    assert!(s["kept_kinds"]["heif"].as_u64() > Some(0), "HEIC is reported as kept by kind: {s}");
    assert_eq!(s["videos"], 0, "--images only");
}

#[test]
fn a_png_is_optimised_losslessly_keeping_its_pixels_and_colour_profile() {
    use image::ImageEncoder;
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let (w, h) = (200u32, 150u32);
    let px: Vec<u8> = (0..w * h * 4).map(|i| (i % 4 * 60 + i / 4 % w / 3) as u8).collect();
    let icc = std::fs::read("/usr/share/color/icc/colord/sRGB.icc")
        .unwrap_or_else(|_| b"not a real profile, but bytes to keep".to_vec());
    let mut png = Vec::new();
    let mut enc = image::codecs::png::PngEncoder::new_with_quality(
        &mut png,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::NoFilter,
    );
    enc.set_icc_profile(icc.clone()).unwrap();
    enc.write_image(&px, w, h, image::ExtendedColorType::Rgba8).unwrap();
    std::fs::write(src.join("screen.png"), &png).unwrap();

    let (evs, _) = events(&compress(&[], &src, &t.path().join("out")));
    assert_eq!(evs[0]["outcome"], "compressed", "{evs:?}");
    let new = std::fs::read(t.path().join("out/screen.png")).unwrap();
    assert!(new.len() < png.len());
    let (a, b) = (image::load_from_memory(&png).unwrap(), image::load_from_memory(&new).unwrap());
    assert_eq!(a.to_rgba8().as_raw(), b.to_rgba8().as_raw(), "pixel-identical");
    assert_eq!(icc_of(&new), Some(icc), "ICC profile kept");
}

/// A JPEG of noise at quality `q`.
fn noisy_jpeg(q: u8, seed: u64) -> Vec<u8> {
    use image::ImageEncoder;
    let mut rng = Rng(seed);
    let (w, h) = (160u32, 120u32);
    let px: Vec<u8> = (0..w * h * 3).map(|i| ((i / 3 % w) as u8).wrapping_add((rng.next() % 24) as u8)).collect();
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, q)
        .write_image(&px, w, h, image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

#[test]
fn a_jpeg_already_at_the_quality_is_kept_unless_forced_and_levels_trade_size() {
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("low.jpg"), noisy_jpeg(70, 1)).unwrap();
    std::fs::write(src.join("high.jpg"), noisy_jpeg(100, 2)).unwrap();

    let (evs, _) = events(&compress(&["--level", "2"], &src, &t.path().join("l2")));
    let low = evs.iter().find(|e| e["path"].as_str().unwrap().ends_with("low.jpg")).unwrap();
    assert_eq!(low["outcome"], "kept", "{low}");
    assert!(low["reason"].as_str().unwrap().contains("already at quality ~70"), "{low}");
    let high = evs.iter().find(|e| e["path"].as_str().unwrap().ends_with("high.jpg")).unwrap();
    assert_eq!(high["outcome"], "compressed", "{high}");

    let (evs, _) = events(&compress(&["--level", "2", "--force"], &src, &t.path().join("forced")));
    let low = evs.iter().find(|e| e["path"].as_str().unwrap().ends_with("low.jpg")).unwrap();
    assert!(!low["reason"].as_str().unwrap_or("").contains("already"), "forced: re-encoded: {low}");

    let size = |level: &str| {
        let (_, s) =
            events(&compress(&["--level", level, "--jobs", "1"], &src, &t.path().join(format!("level{level}"))));
        s["compressed_bytes"].as_u64().unwrap()
    };
    let (l1, l2, l3) = (size("1"), size("2"), size("3"));
    assert!(l1 > l2 && l2 > l3, "level 1 {l1} > level 2 {l2} > level 3 {l3}");
    let bad = run(cbctl(t.path()).args(["compress", "--level", "4"]).arg(&src).arg(t.path().join("x")));
    assert_eq!(bad.status.code(), Some(2), "a bad level is a usage error");
}

#[test]
fn bmp_and_tiff_become_png_only_with_convert_and_keep_every_pixel() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let rels: Vec<String> = manifest(&corpus)
        .into_iter()
        .filter(|e| e.mime == "image/bmp" || e.mime == "image/tiff")
        .map(|e| e.path)
        .collect();
    assert!(!rels.is_empty());
    copy_corpus(&corpus, &rels.iter().map(String::as_str).collect::<Vec<_>>(), &src);

    let (evs, _) = events(&compress(&[], &src, &t.path().join("plain")));
    assert!(evs.iter().all(|e| e["outcome"] == "kept" || e["outcome"] == "error"), "{evs:?}");

    let (evs, s) = events(&compress(&["--convert"], &src, &t.path().join("png")));
    let converted: Vec<_> = evs.iter().filter(|e| e["outcome"] == "converted").collect();
    assert!(!converted.is_empty(), "{evs:?}");
    for ev in converted {
        let (a, b) = (ev["path"].as_str().unwrap(), ev["dest"].as_str().unwrap());
        assert!(b.ends_with(".png"), "{ev}");
        let (a, b) = (image::open(a).unwrap(), image::open(b).unwrap());
        assert_eq!(a.to_rgba16().as_raw(), b.to_rgba16().as_raw(), "pixels of {ev}");
    }
    assert!(s["compressed"].as_u64() > Some(0));
}

fn ffprobe(file: &Path) -> serde_json::Value {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-print_format", "json", "-show_format", "-show_streams"])
        .arg(file)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Width and height as displayed (rotation applied).
fn displayed_size(probe: &serde_json::Value) -> (u64, u64) {
    let v = probe["streams"].as_array().unwrap().iter().find(|s| s["codec_type"] == "video").unwrap();
    let (w, h) = (v["width"].as_u64().unwrap(), v["height"].as_u64().unwrap());
    let rotation = v["side_data_list"]
        .as_array()
        .and_then(|l| l.iter().find_map(|d| d["rotation"].as_i64()))
        .or_else(|| v["tags"]["rotate"].as_str().and_then(|r| r.parse().ok()))
        .unwrap_or(0);
    if rotation.abs() % 180 == 90 {
        (h, w)
    } else {
        (w, h)
    }
}

#[test]
fn videos_are_re_encoded_keeping_creation_time_and_orientation_and_without_ffmpeg_the_user_is_told() {
    if Command::new("ffmpeg").arg("-version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "CI installs ffmpeg");
        eprintln!("SKIPPED: ffmpeg not installed (apt-get install ffmpeg)");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(src.join("phone")).unwrap();
    let clip = src.join("phone/clip.mp4");
    // A wasteful encoding (lossless) of 2 s of test pattern and a tone,
    // shot "in portrait": stored 320x240 with a 90° display rotation.
    let raw = t.path().join("raw.mp4");
    let made = Command::new("ffmpeg")
        .args(["-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:duration=2"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:duration=2"])
        .args(["-c:v", "libx264", "-qp", "0", "-c:a", "aac", "-shortest"])
        .args(["-metadata", "creation_time=2021-06-05T14:03:07.000000Z"])
        .arg(&raw)
        .status()
        .unwrap();
    assert!(made.success());
    // ffmpeg 5 takes the rotation as a `rotate` tag on a stream copy; 6 and later as -display_rotation.
    let rotate = |args: &[&str]| {
        let _ = std::fs::remove_file(&clip);
        Command::new("ffmpeg").args(["-v", "error"]).args(args).status().is_ok_and(|s| s.success())
    };
    let (raw_s, clip_s) = (raw.to_str().unwrap(), clip.to_str().unwrap());
    if !rotate(&["-i", raw_s, "-c", "copy", "-metadata:s:v:0", "rotate=90", clip_s])
        || displayed_size(&ffprobe(&clip)) != (240, 320)
    {
        assert!(rotate(&["-display_rotation:v:0", "90", "-i", raw_s, "-c", "copy", clip_s]));
    }
    let photo = src.join("phone/photo.jpg");
    std::fs::write(&photo, noisy_jpeg(100, 3)).unwrap();
    let original = b3(&clip);

    let dest = t.path().join("out");
    let out = compress(&[], &src, &dest);
    assert_eq!(out.status.code(), Some(0));
    let (evs, s) = events(&out);
    let ev = evs.iter().find(|e| e["kind"] == "video").unwrap();
    assert_eq!(ev["outcome"], "compressed", "{ev}");
    let new = dest.join("phone/clip.mp4");
    assert!(ev["after"].as_u64() < ev["before"].as_u64());
    assert_eq!(b3(&clip), original, "the original is untouched");
    let (p0, p1) = (ffprobe(&clip), ffprobe(&new));
    assert_eq!(p1["format"]["tags"]["creation_time"], p0["format"]["tags"]["creation_time"], "{p1}");
    assert_eq!(displayed_size(&p1), displayed_size(&p0), "plays the same way round");
    assert_eq!(displayed_size(&p0), (240, 320));
    let codecs: Vec<&str> = p1["streams"].as_array().unwrap().iter().filter_map(|s| s["codec_name"].as_str()).collect();
    assert_eq!(codecs, ["h264", "aac"]);
    assert_eq!((s["videos"].as_u64(), s["images"].as_u64()), (Some(1), Some(1)));
    assert_eq!(date_of(t.path(), &new), date_of(t.path(), &clip), "filed on the same date");

    // No ffmpeg on PATH: images are still compressed, videos copied, and the user told how to install it.
    let bare = t.path().join("bin");
    std::fs::create_dir_all(&bare).unwrap();
    let out = run(cbctl(t.path()).env("PATH", &bare).arg("compress").arg(&src).arg(t.path().join("no-ffmpeg")));
    assert_eq!(out.status.code(), Some(1), "a video could not be compressed");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("ffmpeg is not installed") && err.contains("apt-get install ffmpeg"), "{err}");
    assert_eq!(b3(&t.path().join("no-ffmpeg/phone/clip.mp4")), original, "copied as it is");
    let jpg = std::fs::metadata(t.path().join("no-ffmpeg/phone/photo.jpg")).unwrap().len();
    assert!(jpg < std::fs::metadata(&photo).unwrap().len(), "the photo was still compressed");
}

#[test]
fn heic_becomes_jpeg_only_with_to_jpeg_keeping_date_gps_and_an_upright_orientation() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    let rels: Vec<String> = manifest(&corpus)
        .into_iter()
        .filter(|e| e.mime == "image/heic" && e.date_time_original.is_some())
        .map(|e| e.path)
        .collect();
    assert!(rels.len() >= 3, "{rels:?}");
    copy_corpus(&corpus, &rels.iter().map(String::as_str).collect::<Vec<_>>(), &src);

    let (evs, s) = events(&compress(&[], &src, &t.path().join("plain")));
    assert!(evs.iter().all(|e| e["outcome"] == "kept"), "without --to-jpeg HEIC is copied: {evs:?}");
    assert_eq!(s["kept_kinds"]["heif"].as_u64(), Some(rels.len() as u64));

    let (evs, _) = events(&compress(&["--to-jpeg"], &src, &t.path().join("jpeg")));
    for ev in &evs {
        if ev["outcome"] == "error" {
            continue; // a HEIC libheif cannot decode is reported and copied
        }
        assert_eq!(ev["outcome"], "converted", "{ev}");
        let (heic, jpg) = (PathBuf::from(ev["path"].as_str().unwrap()), PathBuf::from(ev["dest"].as_str().unwrap()));
        assert_eq!(jpg.extension().unwrap(), "jpg");
        let bytes = std::fs::read(&jpg).unwrap();
        assert_eq!(image::guess_format(&bytes).unwrap(), image::ImageFormat::Jpeg);
        let (e0, e1) = (exif_of(&std::fs::read(&heic).unwrap()).unwrap(), exif_of(&bytes).expect("EXIF carried over"));
        for tag in [exif::Tag::DateTimeOriginal, exif::Tag::GPSLatitude, exif::Tag::Model] {
            assert_eq!(field(&e0, tag), field(&e1, tag), "{tag} of {}", jpg.display());
        }
        assert!(
            matches!(field(&e1, exif::Tag::Orientation).as_deref(), None | Some("row 0 at top and column 0 at left")),
            "{jpg:?}"
        );
        assert_eq!(date_of(t.path(), &heic), date_of(t.path(), &jpg), "filed on the same date");
    }
    assert!(evs.iter().filter(|e| e["outcome"] == "converted").count() >= 3, "{evs:?}");
}

/// A daemon on `t` with `[compress] enabled`, once it has filed the photo
/// `name` (`original`) dropped in its inbox: its config and the files it put
/// in the library (the trash and other dot folders left out).
fn compressing_daemon_filed(t: &Path, name: &str, original: &[u8]) -> (PathBuf, Daemon, Vec<PathBuf>) {
    let config = daemon_config(t, 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[compress]\nenabled = true\nlevel = 2\n");
    std::fs::write(&config, text).unwrap();
    let daemon = start_daemon(&config);
    wait_for("the daemon", std::time::Duration::from_secs(30), || {
        ctl(&config).args(["--json", "status"]).output().is_ok_and(|o| o.status.success())
    });
    std::fs::write(t.join("inbox").join(name), original).unwrap();
    wait_for("the photo to be filed", std::time::Duration::from_secs(30), || status(&config)["total"]["filed"] == 1);
    let filed = walkdir::WalkDir::new(t.join("lib"))
        .into_iter()
        .filter_entry(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    (config, daemon, filed)
}

#[test]
fn the_daemon_compresses_photos_as_it_files_them_and_undo_restores_the_original_bytes() {
    let t = tempfile::tempdir().unwrap();
    let original = noisy_jpeg(100, 9);
    let (config, _daemon, filed) = compressing_daemon_filed(t.path(), "IMG_0001.jpg", &original);
    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    assert_eq!(filed.len(), 1, "{filed:?}");
    let small = std::fs::read(&filed[0]).unwrap();
    assert!(small.len() < original.len(), "filed compressed: {} < {}", small.len(), original.len());
    image::load_from_memory(&small).unwrap();
    assert!(!inbox.join("IMG_0001.jpg").exists());
    // The original waits in the library trash, byte for byte.
    let sessions = json_lines(&run(ctl(&config).args(["--json", "history"])));
    let ingest = sessions.iter().find(|s| s["kind"] == "ingest").unwrap();
    assert_eq!(ingest["ops_done"], 2, "the copy filed and the original trashed, both journaled: {ingest}");
    let id = ingest["id"].as_i64().unwrap();
    let trashed = lib.join(format!(".clean-backup-trash/{id}/IMG_0001.jpg"));
    assert_eq!(std::fs::read(&trashed).unwrap(), original);
    assert_eq!(status(&config)["index_files"], 1, "the index has the compressed file only");

    // Undo: the original bytes are back in the inbox, and the library is as
    // before: the compressed copy is not parked in the staging folder.
    let out = run(ctl(&config).args(["--json", "undo", "--last"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["reverted"], 2);
    assert_eq!(std::fs::read(inbox.join("IMG_0001.jpg")).unwrap(), original);
    assert!(!filed[0].exists() && !trashed.exists());
    let left: Vec<_> = walkdir::WalkDir::new(&lib).into_iter().filter_map(Result::ok).map(|e| e.into_path()).collect();
    assert!(!lib.join(".clean-backup-staging").exists(), "{left:?}");
    // The removal is journaled: why on the library path tells it.
    let why = json_lines(&run(ctl(&config).args(["--json", "why"]).arg(&filed[0])));
    let steps = why[0]["history"].as_array().unwrap();
    assert!(steps.iter().any(|m| m["action"] == "unlink" && m["state"] == "done"), "{why:?}");
}

/// After `cbctl prune` removed the original for good, undo must not throw
/// away the compressed copy: it is the photo now, and stays in the library.
#[test]
fn undo_after_prune_keeps_the_compressed_copy_in_the_library() {
    let t = tempfile::tempdir().unwrap();
    let (config, _daemon, filed) = compressing_daemon_filed(t.path(), "IMG_0002.jpg", &noisy_jpeg(100, 7));
    let [filed] = filed.as_slice() else { panic!("one file filed: {filed:?}") };
    let small = b3(filed);

    // Prune works while the daemon holds the journal (it goes through it).
    let out = run(ctl(&config).args(["--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(summary(&json_lines(&out))["removed"], 1);

    let out = run(ctl(&config).args(["undo", "--last"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("removed for good by `cbctl prune`"), "{err}");
    assert!(err.contains(&format!("{}: kept, as its original", filed.display())), "{err}");
    assert_eq!(b3(filed), small, "the compressed copy is where it was filed");
    assert!(!t.path().join("inbox/IMG_0002.jpg").exists());
}

#[test]
fn a_still_gif_becomes_jpeg_with_to_jpeg_and_an_animated_one_is_kept() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame, RgbaImage};
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let img = |shift: u8| {
        RgbaImage::from_fn(64, 48, |x, y| {
            image::Rgba([x as u8 * 4, (y as u8 * 5).wrapping_add(shift), 90, if x < 8 { 0 } else { 255 }])
        })
    };
    let gif = |frames: Vec<RgbaImage>| {
        let mut out = Vec::new();
        {
            let mut enc = GifEncoder::new(&mut out);
            for f in frames {
                enc.encode_frame(Frame::from_parts(f, 0, 0, Delay::from_numer_denom_ms(100, 1))).unwrap();
            }
        }
        out
    };
    std::fs::write(src.join("still.gif"), gif(vec![img(0)])).unwrap();
    let animated = gif(vec![img(0), img(40)]);
    std::fs::write(src.join("moving.gif"), &animated).unwrap();

    let (evs, s) = events(&compress(&[], &src, &t.path().join("plain")));
    assert!(evs.iter().all(|e| e["outcome"] == "kept"), "{evs:?}");
    assert_eq!(s["kept_kinds"]["gif"], 2);

    let (evs, _) = events(&compress(&["--to-jpeg"], &src, &t.path().join("jpeg")));
    let still = evs.iter().find(|e| e["path"].as_str().unwrap().ends_with("still.gif")).unwrap();
    assert_eq!(still["outcome"], "converted", "{still}");
    let jpg = image::open(t.path().join("jpeg/still.jpg")).unwrap();
    assert_eq!((jpg.width(), jpg.height()), (64, 48));
    let corner = jpg.to_rgb8().get_pixel(2, 20).0;
    assert!(corner.iter().all(|&c| c > 230), "transparent pixels on white: {corner:?}");
    let moving = evs.iter().find(|e| e["path"].as_str().unwrap().ends_with("moving.gif")).unwrap();
    assert_eq!(moving["outcome"], "kept", "{moving}");
    assert!(moving["reason"].as_str().unwrap().contains("animated"));
    assert_eq!(std::fs::read(t.path().join("jpeg/moving.gif")).unwrap(), animated);
}

/// A compressed library file remembers its original's content: when the
/// phone re-syncs the original (after `cbctl prune` removed it for good),
/// it is an exact duplicate of the compressed copy, not a new photo.
#[test]
fn a_re_synced_original_of_a_compressed_photo_is_an_exact_duplicate_of_its_copy() {
    let t = tempfile::tempdir().unwrap();
    let original = noisy_jpeg(100, 11);
    let (config, _daemon, filed) = compressing_daemon_filed(t.path(), "IMG_0003.jpg", &original);
    let [filed] = filed.as_slice() else { panic!("one file filed: {filed:?}") };
    let out = run(ctl(&config).args(["--json", "prune", "--older-than", "0", "--yes"]));
    assert_eq!(summary(&json_lines(&out))["removed"], 1, "{}", String::from_utf8_lossy(&out.stdout));

    let again = t.path().join("inbox/IMG_0003.jpg");
    std::fs::write(&again, &original).unwrap();
    wait_for("the original to be looked at", std::time::Duration::from_secs(30), || {
        status(&config)["total"]["skipped"] == 1
    });
    let why = json_lines(&run(ctl(&config).args(["--json", "why"]).arg(&again)));
    assert_eq!(why[0]["match"], "exact", "{why:?}");
    let reason = why[0]["reason"].as_str().unwrap();
    assert!(reason.contains(&format!("the original of {}", filed.display())), "{reason}");
    assert_eq!(std::fs::read(&again).unwrap(), original, "left in the inbox as it was");
    assert_eq!(status(&config)["total"]["filed"], 1, "not filed a second time");
}
