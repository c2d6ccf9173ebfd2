//! `cbctl hash`: the same photo resized, re-encoded, converted or rotated
//! (EXIF orientation) hashes within the default threshold of its original,
//! and different photos do not.

mod common;

use std::path::{Path, PathBuf};

use common::variants::{self, PHOTOS};
use common::*;

const THRESHOLD: u32 = 6;

fn hashes(state: &Path, files: &[PathBuf]) -> Vec<u64> {
    let out = run(cbctl(state).arg("--json").arg("hash").args(files));
    assert_eq!(out.status.code(), Some(0));
    let lines = json_lines(&out);
    files
        .iter()
        .map(|f| {
            let line = lines.iter().find(|l| l["path"] == f.to_string_lossy().as_ref()).expect("a line per file");
            u64::from_str_radix(line["phash"].as_str().expect("phash"), 16).expect("hex")
        })
        .collect()
}

#[test]
fn resized_reencoded_converted_and_rotated_copies_hash_within_the_threshold() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for (i, rel) in PHOTOS.iter().enumerate() {
        let original = corpus.join(rel);
        files.push(original.clone());
        files.extend(variants::write_variants(&original, t.path(), &i.to_string()));
    }
    let h = hashes(t.path(), &files);
    let per = 1 + variants::NAMES.len();
    for (i, rel) in PHOTOS.iter().enumerate() {
        let base = h[i * per];
        for k in 1..per {
            let d = (base ^ h[i * per + k]).count_ones();
            assert!(d <= THRESHOLD, "{rel}: variant {} is {d} bits away", files[i * per + k].display());
        }
        for j in 0..PHOTOS.len() {
            if j != i {
                let d = (base ^ h[j * per]).count_ones();
                assert!(d > THRESHOLD, "{rel} and {} are only {d} bits apart", PHOTOS[j]);
            }
        }
    }
}

/// PNG's CRC-32 (so the header is valid and only its size is absurd).
fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

#[test]
fn hash_prints_sixteen_hex_digits_and_reports_files_it_cannot_hash() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let bomb = t.path().join("bomb.png");
    // A PNG declaring 100000 × 100000 pixels: refused before decoding.
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &ihdr);
    png_chunk(&mut png, b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    png_chunk(&mut png, b"IEND", &[]);
    std::fs::write(&bomb, png).unwrap();
    let ok = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    let out = run(cbctl(t.path()).arg("--json").arg("hash").arg(&ok).arg(&bomb));
    assert_eq!(out.status.code(), Some(1));
    let lines = json_lines(&out);
    let good = lines[0]["phash"].as_str().unwrap();
    assert!(good.len() == 16 && good.chars().all(|c| c.is_ascii_hexdigit()), "{good}");
    let err = lines[1]["error"].as_str().unwrap();
    assert!(err.contains("bomb.png") && err.contains("decompression bomb"), "{err}");
}

#[test]
fn heic_thumbnails_hash_within_two_bits_of_the_primary_image() {
    use clean_backup::media::heif::{load_gray, Source};
    use clean_backup::phash::phash;
    let Some(corpus) = corpus() else { return };
    // The corpus HEICs that carry a thumbnail of at least 128 px (see BENCHMARKS.md).
    let mut used = 0;
    for rel in [
        "exif-samples/heic/mobile/iphone_13_pro_max.HEIC",
        "metadata-extractor/heic/IMG_1034.heic",
        "metadata-extractor/heic/Issue 487.heic",
        "metadata-extractor/heic/cheers_1440x960.heic",
    ] {
        let path = corpus.join(rel);
        let (primary, _) = load_gray(&path, Source::Primary).unwrap();
        let (thumb, was_thumb) = load_gray(&path, Source::ThumbnailIfBigEnough).unwrap();
        assert!(was_thumb, "{rel} has a usable thumbnail");
        assert_eq!((thumb.width, thumb.height), (primary.width, primary.height), "{rel}: the primary's size");
        let d = phash(&primary.gray).distance(phash(&thumb.gray));
        assert!(d <= 2, "{rel}: thumbnail {d} bits from the primary");
        used += 1;
    }
    assert_eq!(used, 4);
}

#[test]
fn raw_files_hash_through_their_embedded_preview() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let files =
        [corpus.join("metadata-extractor/nef/Issue 247-1.nef"), corpus.join("metadata-extractor/nef/Issue 247-2.nef")];
    let h = hashes(t.path(), &files);
    assert!((h[0] ^ h[1]).count_ones() > THRESHOLD, "two different photos");
    // A RAW without a usable preview is reported, not guessed at.
    let cr2 = corpus.join("exiftool-samples/CanonRaw.cr2");
    let out = run(cbctl(t.path()).arg("hash").arg(&cr2));
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without an embedded JPEG preview"));
}

#[test]
fn libavcodec_decodes_every_corpus_heic_within_two_bits_of_libde265() {
    use clean_backup::media::heif::{has_libavcodec, load_gray_with, HevcDecoder, Source};
    use clean_backup::phash::phash;
    let Some(corpus) = corpus() else { return };
    if std::env::var("CI").as_deref() == Ok("true") {
        // CI installs libavcodec-dev (.ci/run), so the fast decoder must be in.
        assert!(has_libavcodec(), "libheif was built without its libavcodec decoder (build/libheif.cmake)");
    } else if !has_libavcodec() {
        eprintln!("SKIP: libheif built without libavcodec (install libavcodec-dev, cargo clean -p libheif-sys)");
        return;
    }
    let mut compared = 0;
    for e in manifest(&corpus).iter().filter(|e| e.mime == "image/heic" || e.mime == "image/heif") {
        let path = corpus.join(&e.path);
        let Ok((reference, _)) = load_gray_with(&path, Source::Primary, HevcDecoder::Libde265) else {
            // A file libde265 cannot decode is the malformed-file tests' business.
            continue;
        };
        let (fast, _) = load_gray_with(&path, Source::Primary, HevcDecoder::Fastest)
            .unwrap_or_else(|e| panic!("{}: libde265 decodes it, the fast path fails: {e}", path.display()));
        assert_eq!((fast.width, fast.height), (reference.width, reference.height), "{}", e.path);
        let d = phash(&fast.gray).distance(phash(&reference.gray));
        assert!(d <= 2, "{}: libavcodec's decode hashes {d} bits from libde265's", e.path);
        eprintln!("{d} bits  {}", e.path);
        compared += 1;
    }
    assert!(compared >= 10, "only {compared} corpus HEICs decoded");
}

#[test]
fn the_binaries_do_not_link_libavcodec_it_is_opened_for_the_first_heic() {
    // Debian's libavcodec brings ~90 libraries (13 MiB of RSS) into every
    // process that links it; media::avcodec opens it only to decode a HEIC.
    for bin in [env!("CARGO_BIN_EXE_cbctl"), env!("CARGO_BIN_EXE_clean-backupd")] {
        let out = std::process::Command::new("readelf").args(["-d", bin]).output().expect("readelf (binutils)");
        assert!(out.status.success());
        let dynamic = String::from_utf8_lossy(&out.stdout);
        assert!(dynamic.contains("(NEEDED)"), "{dynamic}");
        assert!(
            !dynamic.contains("libavcodec") && !dynamic.contains("libavutil"),
            "{bin} links libavcodec:\n{dynamic}"
        );
    }
}
