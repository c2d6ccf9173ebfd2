//! Hashing throughput and index refresh.
//!
//! - `phash/jpeg_largest`: one 12 MP corpus JPEG, whole pipeline (read,
//!   DC-only decode, resize, DCT), one core.
//! - `phash/corpus_jpegs_one_core` and `_all_cores`: every corpus JPEG
//!   (throughput in images/s).
//! - `refresh/unchanged_10k`: refreshing an index of 10,000 files none of
//!   which changed (a stat per file, no reads).
//!
//! Run: `cargo bench --bench hash` (and `benches/phash_vs_imagehash.sh`
//! for Python imagehash on the same files).

use std::path::{Path, PathBuf};

use clean_backup::engine::index::refresh;
use clean_backup::media::{self, Kind};
use clean_backup::store::Store;
use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rayon::prelude::*;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus")
}

fn corpus_jpegs() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = walkdir::WalkDir::new(corpus())
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| media::sniff(p).ok().flatten() == Some(Kind::Jpeg))
        .filter(|p| media::image_hash(p, Kind::Jpeg).is_ok())
        .collect();
    v.sort();
    v
}

fn hashing(c: &mut Criterion) {
    let files = corpus_jpegs();
    assert!(!files.is_empty(), "corpus missing at {}", corpus().display());
    let largest = corpus().join("exif-samples/jpg/tests/42_IndexError.jpg");
    let mut g = c.benchmark_group("phash");
    g.sample_size(20);
    g.bench_function("jpeg_12mp_one_file", |b| b.iter(|| black_box(media::image_hash(&largest, Kind::Jpeg))));
    g.throughput(Throughput::Elements(files.len() as u64));
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("pool");
    g.bench_function("corpus_jpegs_one_core", |b| {
        b.iter(|| one.install(|| files.iter().filter(|f| black_box(media::image_hash(f, Kind::Jpeg)).is_ok()).count()))
    });
    g.bench_function("corpus_jpegs_all_cores", |b| {
        b.iter(|| files.par_iter().filter(|f| black_box(media::image_hash(f, Kind::Jpeg)).is_ok()).count())
    });
    g.finish();
}

fn refreshing(c: &mut Criterion) {
    // An 8 KB photo: the refresh being measured reads no bytes, so size only
    // costs disk (10,000 copies of a phone photo filled CI's disk). Under
    // `cargo test` (no `--bench`) criterion runs each body once; 200 files
    // are enough to check it still works.
    let n: usize = if std::env::args().any(|a| a == "--bench") { 10_000 } else { 200 };
    let dir = tempfile::tempdir().expect("temp dir");
    let lib = dir.path().join("library");
    let small = std::fs::read(corpus().join("exif-samples/jpg/Canon_40D.jpg")).expect("corpus photo");
    for i in 0..n {
        let folder = lib.join(format!("{}", 2000 + i % 20)).join(format!("{:02}", 1 + i % 12));
        std::fs::create_dir_all(&folder).expect("mkdir");
        let mut bytes = small.clone();
        bytes.extend_from_slice(format!("{i}").as_bytes());
        std::fs::write(folder.join(format!("IMG_{i:05}.jpg")), bytes).expect("write");
    }
    let mut store = Store::open(&dir.path().join("state")).expect("store");
    let (rows, _) = refresh(&mut store, &lib, true, &|_, _| {}, &mut |_, _| {}).expect("first refresh");
    assert_eq!(rows.len(), n);
    let mut g = c.benchmark_group("refresh");
    g.sample_size(10);
    g.bench_function("unchanged_10k", |b| {
        b.iter(|| {
            let (_, report) = refresh(&mut store, &lib, true, &|_, _| {}, &mut |_, _| {}).expect("refresh");
            assert_eq!(report.unchanged as usize, n);
        })
    });
    g.finish();
}

criterion_group!(benches, hashing, refreshing);
criterion_main!(benches);
