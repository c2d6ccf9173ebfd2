//! The fast JPEG path (our own pass that keeps only luma DC) against
//! libjpeg-turbo's 1/8-scale grayscale decode: byte-identical on every
//! corpus JPEG and on generated files covering sampling factors, restart
//! intervals and scan layouts; everything else is refused as Unsupported so
//! the caller falls back. And it never panics on damaged input.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use clean_backup::media::decode::turbo_gray;
use clean_backup::media::jpeg_dc::{decode_luma_dc, read_info, DcError, Process};
use common::{corpus, Rng};

/// Every file under `root` that starts like a JPEG, with its bytes, by path.
fn jpegs(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| {
            let data = std::fs::read(e.path()).ok()?;
            data.starts_with(&[0xFF, 0xD8, 0xFF]).then(|| (e.into_path(), data))
        })
        .collect();
    out.sort();
    out
}

#[test]
fn the_fast_path_equals_libjpeg_turbo_on_every_corpus_jpeg() {
    let Some(corpus) = corpus() else { return };
    let files = jpegs(&corpus);
    assert!(files.len() > 100, "corpus JPEGs missing");
    let (mut matched, mut failures) = (0, Vec::new());
    for (path, data) in &files {
        let name = path.strip_prefix(&corpus).unwrap_or(path).display().to_string();
        match (decode_luma_dc(data), turbo_gray(data, 8)) {
            (Ok(ours), Ok(theirs)) => {
                if (ours.width, ours.height, &ours.pixels) == (theirs.width, theirs.height, &theirs.pixels) {
                    matched += 1;
                } else {
                    failures.push(format!("{name}: differs from libjpeg-turbo"));
                }
            }
            (Err(DcError::Unsupported(why)), _) => {
                // Only what is not plain 8-bit sequential Huffman may be refused.
                let info = read_info(data).ok();
                let plain = info.is_some_and(|i| {
                    matches!(i.process, Process::Baseline | Process::ExtendedHuffman) && i.precision == 8
                });
                if plain && !why.contains("RGB") && !why.contains("component") {
                    failures.push(format!("{name}: a baseline file refused: {why}"));
                }
            }
            (Err(e), Ok(_)) => failures.push(format!("{name}: libjpeg-turbo decodes it but the fast path fails: {e}")),
            (Ok(_), Err(_)) | (Err(_), Err(_)) => {} // damaged: libjpeg-turbo refuses too
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(matched >= 120, "only {matched} corpus JPEGs compared");
}

#[test]
fn generated_layouts_match_or_are_refused_for_the_fallback() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg");
    let refused = [
        "noninterleaved_cb_first.jpg", // luma not in the first scan
        "luma_subsampled.jpg",         // libjpeg-turbo uses a 2×2 IDCT for such luma, not DC only
        "rgb.jpg",
        "arithmetic.jpg",
        "progressive.jpg",
        "12bit.jpg",
    ];
    let files = jpegs(&dir);
    assert_eq!(files.len(), 12, "fixtures missing");
    for (path, data) in &files {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        let ours = decode_luma_dc(data);
        if refused.contains(&name) {
            assert!(matches!(ours, Err(DcError::Unsupported(_))), "{name}: {ours:?}");
            continue;
        }
        let ours = ours.unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = turbo_gray(data, 8).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((ours.width, ours.height), (theirs.width, theirs.height), "{name}");
        assert_eq!(ours.pixels, theirs.pixels, "{name}");
    }
}

/// A number in `0..n`.
fn below(rng: &mut Rng, n: usize) -> usize {
    rng.below(n as u64) as usize
}

/// Where the entropy-coded data starts (just past the first SOS segment).
fn entropy_start(data: &[u8]) -> usize {
    let Some(sos) = data.windows(2).position(|w| w == [0xFF, 0xDA]) else { return 2 };
    let len = data.get(sos + 2..sos + 4).map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]])));
    (sos + 2 + len).min(data.len())
}

fn mutate(data: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut m = data.to_vec();
    let start = entropy_start(data).min(m.len());
    match below(rng, 6) {
        0 => m.truncate(below(rng, data.len() + 1)),
        1 => m.truncate(start + below(rng, data.len() - start + 1)),
        2 => {
            for _ in 0..1 + below(rng, 4) {
                let i = start + below(rng, m.len() - start);
                if let Some(b) = m.get_mut(i) {
                    *b ^= 1 << below(rng, 8);
                }
            }
        }
        3 => {
            for _ in 0..1 + below(rng, 3) {
                let i = below(rng, start);
                if let Some(b) = m.get_mut(i) {
                    *b = [0xFF, 0, *b ^ 0x10, rng.next() as u8][below(rng, 4)];
                }
            }
        }
        4 => {
            let i = start + below(rng, m.len() - start + 1);
            let code = [0x00, 0xD0 + below(rng, 8) as u8, 0xD9, 0xFF, rng.next() as u8][below(rng, 5)];
            m.splice(i..i, [0xFF, code]);
        }
        _ => {
            let i = start + below(rng, m.len() - start + 1);
            let n = (1 + below(rng, 64)).min(m.len() - i);
            for b in &mut m[i..i + n] {
                *b = rng.next() as u8;
            }
        }
    }
    m
}

#[test]
fn damaged_jpegs_give_errors_never_panics() {
    let Some(corpus) = corpus() else { return };
    let mut files = jpegs(&corpus);
    files.extend(jpegs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg")));
    let mut rng = Rng(0x1234_5678_9ABC_DEF1);
    let (mut ok, mut err) = (0, 0);
    for (path, data) in &files {
        for n in 0..40 {
            let m = mutate(data, &mut rng);
            let r = catch_unwind(AssertUnwindSafe(|| {
                let _ = read_info(&m);
                decode_luma_dc(&m).is_ok()
            }));
            match r {
                Ok(true) => ok += 1,
                Ok(false) => err += 1,
                Err(_) => {
                    let dump = std::env::temp_dir().join("jpeg-dc-panic.jpg");
                    let _ = std::fs::write(&dump, &m);
                    panic!("mutation {n} of {} panicked (saved to {})", path.display(), dump.display());
                }
            }
        }
    }
    assert!(ok > 0 && err > 0, "mutations should give both results: {ok} ok, {err} errors");
}

#[test]
fn large_baseline_jpegs_take_the_fast_path_and_others_fall_back() {
    use clean_backup::media::decode::{load_jpeg_via, JpegPath};
    let Some(corpus) = corpus() else { return };
    let via = |rel: &str| {
        let path = corpus.join(rel);
        let data = std::fs::read(&path).unwrap();
        let (d, how) = load_jpeg_via(&path, &data, 1).unwrap();
        (d.width, d.height, d.gray.width, how)
    };
    // 12 MP baseline: DC only, 1/8 scale.
    assert_eq!(via("exif-samples/jpg/tests/42_IndexError.jpg").3, JpegPath::DcOnly);
    // Progressive: libjpeg-turbo at 1/8 gives the same pixels.
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/jpeg/progressive.jpg");
    let data = std::fs::read(&fixture).unwrap();
    let (d, how) = load_jpeg_via(&fixture, &data, 1).unwrap();
    assert_eq!((d.width, d.height), (203, 141));
    assert_eq!(how, JpegPath::Turbo(1), "203×141: too small to reduce");
    // A 640×480 photo is reduced only to 1/2 (short side 240 ≥ 128).
    let (w, h, gw, how) = via("exif-samples/jpg/gps/DSCN0010.jpg");
    assert_eq!((w, h, how), (640, 480, JpegPath::Turbo(2)));
    assert_eq!(gw, 320);
}
