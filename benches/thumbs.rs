//! Thumbnails for the review page (issue 16): cold thumbnails per second
//! over the corpus photos (decode + resize + JPEG + cache write), and warm
//! cache hits per second, through `engine::thumbs::ThumbCache`.
//!
//! Every photo of `MANIFEST.tsv` (image/* types, each sha256 once) that has
//! a thumbnail is used. Cold runs start from an empty cache folder (the
//! photos themselves are in the OS page cache after the first pass); each
//! figure is the median of `ROUNDS` rounds. Printed: per-kind cold time,
//! then sequential (`get` in a loop) and parallel (`get_many`, rayon on all
//! cores) rates, cold and warm.
//!
//! Run: `cargo bench --bench thumbs` (`THUMB_SIDE=N` for another size,
//! default 256). Without `--bench` (as under `cargo test --all-targets`) it
//! checks itself on three photos.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Instant;

use clean_backup::engine::thumbs::ThumbCache;
use clean_backup::media::{self, thumb};

const ROUNDS: usize = 5;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

/// The photos of the smoke run: a camera JPEG, a HEIC, a WebP.
const SMOKE: [&str; 3] = [
    "exif-samples/jpg/gps/DSCN0025.jpg",
    "metadata-extractor/heic/IMG_1034.heic",
    "metadata-extractor/webp/HTC Desire.webp",
];

/// Distinct corpus photos that give a thumbnail: (path, kind name, bytes).
fn photos(full: bool, side: u32) -> Vec<(PathBuf, &'static str, u64)> {
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("corpus MANIFEST.tsv");
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for line in manifest.lines().skip(1) {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 4 || !cols[3].starts_with("image/") || !seen.insert(cols[2].to_string()) {
            continue;
        }
        if !full && !SMOKE.contains(&cols[0]) {
            continue;
        }
        let path = corpus().join(cols[0]);
        let Ok(Some(kind)) = media::sniff(&path) else { continue };
        if thumb::thumbnail(&path, side).is_ok() {
            let len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            out.push((path, kind.name(), len));
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let side: u32 = std::env::var("THUMB_SIDE").ok().and_then(|s| s.parse().ok()).unwrap_or(256);
    let set = photos(full, side);
    assert!(!set.is_empty(), "no photos from {}", corpus().display());
    let paths: Vec<&Path> = set.iter().map(|p| p.0.as_path()).collect();
    let tmp = tempfile::tempdir().expect("temp dir");
    let rounds = if full { ROUNDS } else { 1 };
    let n = set.len() as f64;

    // Per kind, sequential, cold: seconds per file.
    let mut per_kind: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let (mut cold_seq, mut warm_seq, mut cold_par, mut warm_par) = (vec![], vec![], vec![], vec![]);
    let mut cache_bytes = 0u64;
    for round in 0..rounds {
        let cache = ThumbCache::new(&tmp.path().join(format!("seq{round}")));
        let started = Instant::now();
        for (path, kind, _) in &set {
            let t = Instant::now();
            let jpeg = cache.get(path, side).expect("cold thumbnail");
            per_kind.entry(kind).or_default().push(t.elapsed().as_secs_f64());
            if round == 0 {
                cache_bytes += jpeg.len() as u64;
            }
        }
        cold_seq.push(n / started.elapsed().as_secs_f64());
        let started = Instant::now();
        for (path, _, _) in &set {
            cache.get(path, side).expect("warm thumbnail");
        }
        warm_seq.push(n / started.elapsed().as_secs_f64());

        let cache = ThumbCache::new(&tmp.path().join(format!("par{round}")));
        let started = Instant::now();
        assert!(cache.get_many(&paths, side).iter().all(Result::is_ok));
        cold_par.push(n / started.elapsed().as_secs_f64());
        let started = Instant::now();
        assert!(cache.get_many(&paths, side).iter().all(Result::is_ok));
        warm_par.push(n / started.elapsed().as_secs_f64());
    }
    if !full {
        println!("thumbs: smoke run on {} photos passed (run with --bench for figures)", set.len());
        return;
    }
    println!("{} photos ({:.1} MB), max side {side}, median of {rounds} rounds", set.len(), {
        set.iter().map(|p| p.2).sum::<u64>() as f64 / 1e6
    });
    println!("{:<6} {:>5} {:>12}", "kind", "files", "cold ms/file");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, kind, _) in &set {
        *counts.entry(kind).or_default() += 1;
    }
    for (kind, times) in per_kind {
        let files = counts[kind];
        // Median over rounds of the kind's mean time per file.
        let means: Vec<f64> = times.chunks(files).map(|c| c.iter().sum::<f64>() / files as f64 * 1e3).collect();
        println!("{kind:<6} {files:>5} {:>12.1}", median(means));
    }
    println!("cold, sequential get:   {:>9.1} thumbnails/s", median(cold_seq));
    println!("cold, parallel get_many:{:>9.1} thumbnails/s", median(cold_par));
    println!("warm, sequential get:   {:>9.0} hits/s", median(warm_seq));
    println!("warm, parallel get_many:{:>9.0} hits/s", median(warm_par));
    println!("cache: {:.2} MB for {} thumbnails ({:.1} KB each)", cache_bytes as f64 / 1e6, set.len(), {
        cache_bytes as f64 / n / 1e3
    });
}
