//! Similarity: how often an edited copy of a photo still matches it, and how
//! often two distinct photos match, at pHash thresholds 4–12, with and
//! without the second look near the threshold (issue 14, item 4).
//!
//! Every distinct decodable photo of the corpus (`MANIFEST.tsv`: videos,
//! undecodable and blank files and repeated sha256s left out) is edited five
//! ways with the `image` crate, and every file is hashed through the
//! library's own path (`media::image_hash_bytes`):
//!
//! - `resize`: half width and height (Catmull-Rom), JPEG quality 90;
//! - `re-encode`: JPEG quality 70;
//! - `format`: PNG (WebP lossless for the PNG original);
//! - `rotate`: pixels turned 90° and tagged with the EXIF orientation that
//!   turns them back (6 or 8, alternately), JPEG quality 90: upright, the
//!   original picture;
//! - `crop`: 2% off each edge, JPEG quality 90.
//!
//! Recall is the share of copies that `phash::matches` matches with their
//! original; false matches count the pairs of distinct corpus photos that
//! match (all pairs). Pairs that are different captures of one scene (a
//! burst, an HDR and its plain frame) are counted apart: pixels cannot tell
//! them from copies, capture metadata does (issue 14, item 3).
//!
//! Run: `cargo bench --bench similarity`. Without `--bench` (as under
//! `cargo test --all-targets`) it checks itself on three photos.
//! `SIMILARITY_CACHE=<file>` keeps the copies' 32×32 images in that file and
//! reads them back on the next run, to try other second looks quickly.

use std::collections::HashSet;
use std::path::Path;
use std::time::Instant;

use clean_backup::media::{self, decode, Kind};
use clean_backup::phash::{self, Gray, PHash, HASH_INPUT, SECOND_LOOK_MARGIN, SECOND_LOOK_MAX};
use image::{imageops::FilterType, ImageEncoder, RgbImage};
use rayon::prelude::*;

/// The edits, in table order.
const EDITS: [&str; 5] = ["resize", "re-encode", "format", "rotate", "crop"];

/// Pairs of distinct corpus photos that are different captures of one scene.
const LOOKALIKES: [(&str, &str); 1] =
    [("exif-samples/jpg/hdr/iphone_hdr_NO.jpg", "exif-samples/jpg/hdr/iphone_hdr_YES.jpg")];

/// Which picture a corpus file holds: the orientation samples store one
/// picture eight ways, and one HEIC sample is another with its EXIF moved.
fn picture(name: &str) -> String {
    let n = name.strip_prefix("exif-samples/jpg/orientation/").and_then(|n| n.split('_').next());
    match n {
        Some(shape) => format!("orientation/{shape}"),
        None if name == "metadata-extractor/heic/exif-at-eof.heic" => "metadata-extractor/heic/IMG_2927.HEIC".into(),
        None => name.to_string(),
    }
}

/// One picture as the index sees it: its hashes and the 32×32 gray image they come from.
#[derive(Clone)]
struct Look {
    phash: PHash,
    second: PHash,
    img32: Vec<u8>,
}

struct Photo {
    name: String,
    original: Look,
    copies: Vec<Option<Look>>,
}

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// Distinct photo files of the corpus: (relative name, bytes).
fn photos(full: bool) -> Vec<(String, Vec<u8>)> {
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("corpus MANIFEST.tsv");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (name, sha, mime) = (cols[0], cols[2], cols[3]);
        if !mime.starts_with("image/") || !seen.insert(sha.to_string()) || !seen.insert(picture(name)) {
            continue;
        }
        if media::probe(&corpus().join(name)).is_err() {
            continue;
        }
        if let Ok(data) = std::fs::read(corpus().join(name)) {
            out.push((name.to_string(), data));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    if !full {
        out.retain(|(name, _)| SMOKE.contains(&name.as_str()));
    }
    out
}

/// The photos of the smoke run: a camera JPEG, a thumbnail-sized one, a WebP.
const SMOKE: [&str; 3] = [
    "exif-samples/jpg/gps/DSCN0025.jpg",
    "exif-samples/jpg/Kodak_CX7530.jpg",
    "metadata-extractor/webp/HTC Desire.webp",
];

/// The library's look at a file: `image_hash_bytes`, and the 32×32 image the hashes come from.
fn look(name: &str, data: &[u8]) -> Option<Look> {
    let path = Path::new(name);
    let kind = media::sniff_bytes(data)?;
    let h = media::image_hash_bytes(path, data, kind).ok()?;
    if h.flat {
        return None;
    }
    let d = decode::load_gray_bytes(path, data, kind).ok()?;
    let img32 = phash::resize(&d.gray, HASH_INPUT, HASH_INPUT);
    let again = phash::hashes(&img32);
    assert_eq!((again.phash, again.second), (h.phash, h.second), "{name}: hashes differ from image_hash_bytes");
    Some(Look { phash: h.phash, second: h.second, img32: img32.pixels })
}

/// The upright full-colour picture of a corpus file, to edit.
fn upright_rgb(data: &[u8]) -> Option<RgbImage> {
    let kind = media::sniff_bytes(data)?;
    let (bytes, orientation): (std::borrow::Cow<'_, [u8]>, u16) = match kind {
        Kind::Heif | Kind::Avif => (media::compress::heif_to_jpeg(data, 95).ok()?.into(), 1),
        k if k.is_raw() => {
            let (off, len) = media::raw::preview_range(data, k)?;
            let jpeg = &data[off..off + len];
            let o = media::exif::read_bytes(jpeg, Kind::Jpeg)
                .and_then(|e| e.orientation)
                .or_else(|| media::exif::read_bytes(data, k).and_then(|e| e.orientation));
            (jpeg.into(), o.unwrap_or(1))
        }
        k => (data.into(), media::exif::read_bytes(data, k).and_then(|e| e.orientation).unwrap_or(1)),
    };
    let mut img = image::load_from_memory(&bytes).ok()?;
    if let Some(o) = u8::try_from(orientation).ok().and_then(image::metadata::Orientation::from_exif) {
        img.apply_orientation(o);
    }
    Some(img.to_rgb8())
}

/// A minimal big-endian EXIF (TIFF header, one IFD, one entry): the orientation.
fn exif_orientation(o: u16) -> Vec<u8> {
    let mut t = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01".to_vec();
    t.extend_from_slice(&o.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    t
}

fn jpeg(img: &RgbImage, quality: u8, orientation: Option<u16>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality);
    if let Some(o) = orientation {
        enc.set_exif_metadata(exif_orientation(o)).expect("JPEG takes EXIF");
    }
    enc.write_image(img.as_raw(), img.width(), img.height(), image::ExtendedColorType::Rgb8).expect("JPEG encode");
    out
}

/// The five edited copies of a picture, encoded.
fn edits(img: &RgbImage, original_kind: Kind, index: usize) -> [Vec<u8>; 5] {
    let (w, h) = img.dimensions();
    let half = image::imageops::resize(img, (w / 2).max(1), (h / 2).max(1), FilterType::CatmullRom);
    let format = {
        let mut out = Vec::new();
        if original_kind == Kind::Png {
            image::codecs::webp::WebPEncoder::new_lossless(&mut out)
                .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
                .expect("WebP encode");
        } else {
            image::codecs::png::PngEncoder::new_with_quality(
                &mut out,
                image::codecs::png::CompressionType::Fast,
                image::codecs::png::FilterType::Adaptive,
            )
            .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
            .expect("PNG encode");
        }
        out
    };
    // Stored turned a quarter counter-clockwise, tagged 6 (turn clockwise to
    // view); or clockwise, tagged 8.
    let rotate = if index % 2 == 0 {
        jpeg(&image::imageops::rotate270(img), 90, Some(6))
    } else {
        jpeg(&image::imageops::rotate90(img), 90, Some(8))
    };
    let (cx, cy) = ((f64::from(w) * 0.02).round() as u32, (f64::from(h) * 0.02).round() as u32);
    let crop = image::imageops::crop_imm(img, cx, cy, w - 2 * cx, h - 2 * cy).to_image();
    [jpeg(&half, 90, None), jpeg(img, 70, None), format, rotate, jpeg(&crop, 90, None)]
}

fn measure(name: &str, data: &[u8], index: usize) -> Option<Photo> {
    let original = look(name, data)?;
    let kind = media::sniff_bytes(data)?;
    let Some(rgb) = upright_rgb(data) else {
        eprintln!("{name}: hashed, but the image crate cannot edit it: left out");
        return None;
    };
    // The picture edited must be the one the library hashed.
    let luma: Vec<u8> = rgb
        .pixels()
        .map(|p| ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8)
        .collect();
    let base = phash::hashes(&Gray { width: rgb.width() as usize, height: rgb.height() as usize, pixels: luma });
    let drift = base.phash.distance(original.phash);
    if drift > 4 {
        eprintln!("{name}: the image crate's picture is {drift} bits from the library's: left out");
        return None;
    }
    let edited = edits(&rgb, kind, index);
    let copies: Vec<Option<Look>> = edited.iter().map(|bytes| look(name, bytes)).collect();
    Some(Photo { name: name.to_string(), original, copies })
}

// --- cache of the 32×32 images --------------------------------------------

fn save(path: &Path, set: &[Photo]) {
    let mut out = Vec::new();
    for p in set {
        out.extend_from_slice(&(p.name.len() as u32).to_le_bytes());
        out.extend_from_slice(p.name.as_bytes());
        for l in std::iter::once(Some(&p.original)).chain(p.copies.iter().map(Option::as_ref)) {
            match l {
                Some(l) => {
                    out.push(1);
                    out.extend_from_slice(&l.img32);
                }
                None => out.push(0),
            }
        }
    }
    std::fs::write(path, out).expect("write cache");
}

fn load(path: &Path) -> Option<Vec<Photo>> {
    let data = std::fs::read(path).ok()?;
    let mut at = 0;
    let mut take = |n: usize| {
        let s = data.get(at..at + n)?;
        at += n;
        Some(s)
    };
    let mut set = Vec::new();
    while let Some(len) = take(4) {
        let len = u32::from_le_bytes(len.try_into().ok()?) as usize;
        let name = String::from_utf8(take(len)?.to_vec()).ok()?;
        let mut looks = Vec::new();
        for _ in 0..6 {
            looks.push(if take(1)?[0] == 1 {
                let img32 = take(1024)?.to_vec();
                let h = phash::hashes(&Gray { width: HASH_INPUT, height: HASH_INPUT, pixels: img32.clone() });
                Some(Look { phash: h.phash, second: h.second, img32 })
            } else {
                None
            });
        }
        let original = looks.remove(0)?;
        set.push(Photo { name, original, copies: looks });
    }
    Some(set)
}

// --- report ------------------------------------------------------------------

fn lookalike(a: &str, b: &str) -> bool {
    LOOKALIKES.iter().any(|&(x, y)| (a, b) == (x, y) || (a, b) == (y, x))
}

/// `matches` with the second look, or the pHash distance alone.
fn matched(a: &Look, b: &Look, threshold: u32, second: bool) -> bool {
    if second {
        phash::matches(a.phash, Some(a.second), b.phash, Some(b.second), threshold).is_some()
    } else {
        a.phash.distance(b.phash) <= threshold
    }
}

fn report(set: &[Photo]) {
    let pairs: Vec<(&Photo, &Photo)> =
        set.iter().enumerate().flat_map(|(i, a)| set[i + 1..].iter().map(move |b| (a, b))).collect();
    println!(
        "{} photos, {} distinct pairs; second look: within {SECOND_LOOK_MARGIN} bits of the threshold, at most {SECOND_LOOK_MAX} bits apart\n",
        set.len(),
        pairs.len()
    );
    println!("| threshold | recall {} (pHash alone) | false matches (pHash alone) | recall (with second look) | false matches (with second look) | look-alike captures (alone / with) |", EDITS.join("/"));
    println!("| ---: | ---: | ---: | ---: | ---: | ---: |");
    for t in (4..=12).chain([14, 16, 18, 20]) {
        let mut cells = Vec::new();
        let mut same = [0usize; 2];
        for second in [false, true] {
            let recall: Vec<String> = (0..EDITS.len())
                .map(|e| {
                    let copies: Vec<(&Look, &Look)> =
                        set.iter().filter_map(|p| p.copies[e].as_ref().map(|c| (&p.original, c))).collect();
                    let hit = copies.iter().filter(|(o, c)| matched(o, c, t, second)).count();
                    format!("{:.0}", 100.0 * hit as f64 / copies.len().max(1) as f64)
                })
                .collect();
            let (alike, distinct): (Vec<&(&Photo, &Photo)>, Vec<_>) = pairs
                .iter()
                .filter(|(a, b)| matched(&a.original, &b.original, t, second))
                .partition(|(a, b)| lookalike(&a.name, &b.name));
            same[usize::from(second)] = alike.len();
            cells.push(format!("{} %", recall.join("/")));
            cells.push(distinct.len().to_string());
        }
        println!("| {t} | {} | {} | {} | {} | {} / {} |", cells[0], cells[1], cells[2], cells[3], same[0], same[1]);
    }
    println!(
        "\nCopies that hashed: {:?} of {}",
        (0..5).map(|e| set.iter().filter(|p| p.copies[e].is_some()).count()).collect::<Vec<_>>(),
        set.len()
    );

    // Where the second look decides: pHash distance within the margin of 12.
    let near = 12 - SECOND_LOOK_MARGIN + 1;
    let mut copy_seconds: Vec<(u32, u32, &str, &str)> = set
        .iter()
        .flat_map(|p| {
            p.copies.iter().zip(EDITS).filter_map(move |(c, e)| {
                c.as_ref().map(|c| {
                    (p.original.phash.distance(c.phash), p.original.second.distance(c.second), e, p.name.as_str())
                })
            })
        })
        .collect();
    copy_seconds.sort_by_key(|c| std::cmp::Reverse(c.1));
    println!("\nCopies, pHash distance / second-look distance (largest second-look distances first):");
    for (d, s, e, n) in copy_seconds.iter().take(15) {
        println!("  {d:2} / {s:2}  {e:9} {n}");
    }
    let mut distinct: Vec<(u32, u32, &str, &str)> = pairs
        .iter()
        .map(|(a, b)| {
            (
                a.original.phash.distance(b.original.phash),
                a.original.second.distance(b.original.second),
                a.name.as_str(),
                b.name.as_str(),
            )
        })
        .filter(|p| p.0 <= 20)
        .collect();
    distinct.sort();
    println!("\nDistinct photos within 20 bits, pHash / second look (second look consulted from {near} bits at threshold 12):");
    for (d, s, a, b) in &distinct {
        println!("  {d:2} / {s:2}  {a}  ~  {b}");
    }
}

// --- candidate second looks ---------------------------------------------------

fn block_means(img: &[u8]) -> [u32; 64] {
    let mut m = [0u32; 64];
    for (i, &v) in img.iter().enumerate() {
        let (x, y) = (i % HASH_INPUT, i / HASH_INPUT);
        m[(y / 4) * 8 + x / 4] += u32::from(v);
    }
    m
}

fn bits(f: impl Fn(usize) -> bool) -> u64 {
    (0..64).fold(0u64, |acc, i| (acc << 1) | u64::from(f(i)))
}

fn dhash_columns(img: &[u8]) -> u64 {
    let m = block_means(img);
    bits(|i| m[i] > m[(i + 8) % 64])
}

fn block_median(img: &[u8]) -> u64 {
    let m = block_means(img);
    let mut s = m;
    s.sort_unstable();
    let median = (s[31] + s[32]) / 2;
    bits(|i| m[i] > median)
}

/// 32 coefficients above the pHash's 8×8 along each axis (rows 0–3 of
/// columns 8–15 and its transpose), each against their median.
fn dct_band(img: &[u8]) -> u64 {
    let n = HASH_INPUT;
    let m = phash::dct_32(img);
    let band: Vec<f64> = (0..64)
        .map(|i| if i < 32 { m[(i / 8) * n + 8 + i % 8] } else { m[(8 + (i - 32) % 8) * n + (i - 32) / 8] })
        .collect();
    let mut s = band.clone();
    s.sort_by(f64::total_cmp);
    let median = (s[31] + s[32]) / 2.0;
    bits(|i| band[i] > median)
}

fn candidates(set: &[Photo]) {
    type Measure = fn(&[u8]) -> u64;
    let library: Measure =
        |img| phash::second_32(&Gray { width: HASH_INPUT, height: HASH_INPUT, pixels: img.to_vec() }).0;
    let measures: [(&str, Measure); 4] = [
        ("second_32 (library)", library),
        ("dHash of 4×4 blocks, down columns", dhash_columns),
        ("4×4 block means > median", block_median),
        ("DCT band next to the pHash's", dct_band),
    ];
    println!("\nCandidate second looks: copies' distances (p90 / p99 / max, all edits), and distinct pairs 13–20 pHash bits apart (their least distance, and how many of them each cut-off would still let through):");
    for (name, f) in measures {
        let mut copies: Vec<u32> = set
            .iter()
            .flat_map(|p| p.copies.iter().flatten().map(|c| (f(&p.original.img32) ^ f(&c.img32)).count_ones()))
            .collect();
        copies.sort_unstable();
        let q = |x: f64| copies[((copies.len() - 1) as f64 * x) as usize];
        let mut negatives: Vec<u32> = Vec::new();
        for (i, a) in set.iter().enumerate() {
            for b in &set[i + 1..] {
                let d = a.original.phash.distance(b.original.phash);
                if (13..=20).contains(&d) {
                    negatives.push((f(&a.original.img32) ^ f(&b.original.img32)).count_ones());
                }
            }
        }
        negatives.sort_unstable();
        let through: Vec<String> = [8, 10, 12, 14, 16]
            .iter()
            .map(|m| format!("≤{m}: {}", negatives.iter().filter(|&&n| n <= *m).count()))
            .collect();
        println!(
            "  {name:36} copies {} / {} / {}; {} distinct pairs, least {}; {}",
            q(0.9),
            q(0.99),
            copies.last().copied().unwrap_or(0),
            negatives.len(),
            negatives.first().copied().unwrap_or(0),
            through.join(", ")
        );
    }
}

/// The margin the library uses against a wider one: matches among
/// distinct photos and copies lost, at the thresholds where distinct photos
/// begin to match.
fn margins(set: &[Photo]) {
    let with = |a: &Look, b: &Look, t: u32, margin: u32| {
        let d = a.phash.distance(b.phash);
        d <= t && (d + margin <= t || a.second.distance(b.second) <= SECOND_LOOK_MAX)
    };
    println!("\nMargin {SECOND_LOOK_MARGIN} against 4 (cut-off {SECOND_LOOK_MAX}): threshold: distinct pairs matched, copies lost");
    for t in [10, 12, 14, 16, 18, 20] {
        let cells: Vec<String> = [SECOND_LOOK_MARGIN, 4]
            .iter()
            .map(|&m| {
                let false_pairs = set
                    .iter()
                    .enumerate()
                    .flat_map(|(i, a)| set[i + 1..].iter().map(move |b| (a, b)))
                    .filter(|(a, b)| !lookalike(&a.name, &b.name) && with(&a.original, &b.original, t, m))
                    .count();
                let lost = set
                    .iter()
                    .flat_map(|p| p.copies.iter().flatten().map(move |c| (&p.original, c)))
                    .filter(|(o, c)| o.phash.distance(c.phash) <= t && !with(o, c, t, m))
                    .count();
                format!("margin {m}: {false_pairs} pairs, {lost} copies lost")
            })
            .collect();
        println!("  {t:2}: {}", cells.join("; "));
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let started = Instant::now();
    let cache = std::env::var_os("SIMILARITY_CACHE").map(std::path::PathBuf::from).filter(|_| full);
    let set = match cache.as_deref().and_then(load) {
        Some(set) => set,
        None => {
            let files = photos(full);
            let set: Vec<Photo> =
                files.par_iter().enumerate().filter_map(|(i, (name, data))| measure(name, data, i)).collect();
            if let Some(c) = &cache {
                save(c, &set);
            }
            set
        }
    };
    assert!(!set.is_empty(), "no photos measured from {}", corpus().display());
    if !full {
        // Smoke run: each copy of these plain photos matches its original at the default threshold.
        for p in &set {
            for (c, e) in p.copies.iter().zip(EDITS) {
                let c = c.as_ref().unwrap_or_else(|| panic!("{}: {e} copy did not hash", p.name));
                assert!(p.original.phash.distance(c.phash) <= 10, "{}: {e} copy far from its original", p.name);
            }
        }
        println!("similarity: smoke run on {} photos passed (run with --bench for the table)", set.len());
        return;
    }
    report(&set);
    candidates(&set);
    margins(&set);
    println!("\n{:.1} s", started.elapsed().as_secs_f64());
}
