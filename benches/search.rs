//! The pHash search structure on 1,000,000 random hashes: query time of
//! multi-index hashing against a linear popcount scan, at the default
//! threshold and the presets, and the time to load 1M rows from SQLite
//! and build the structure (what start-up costs).
//! Run: `cargo bench --bench search`.

use std::time::Instant;

use clean_backup::phash::PHash;
use clean_backup::store::{FileRow, HashIndex, Store};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

const N: usize = 1_000_000;

fn random_hashes(n: usize) -> Vec<(i64, PHash)> {
    let mut s = 0x9E37_79B9_7F4A_7C15u64;
    (0..n as i64)
        .map(|i| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (i, PHash(s))
        })
        .collect()
}

fn queries(c: &mut Criterion) {
    let entries = random_hashes(N);
    let probes: Vec<PHash> = entries.iter().step_by(9973).map(|&(_, h)| PHash(h.0 ^ 0b1011)).collect();
    let index = HashIndex::new(entries);
    let mut g = c.benchmark_group("query_1M");
    for d in [2u32, 6, 10] {
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("multi_index", d), &d, |b, &d| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                black_box(index.within(probes[i], d))
            })
        });
        g.bench_with_input(BenchmarkId::new("linear_scan", d), &d, |b, &d| {
            b.iter(|| {
                i = (i + 1) % probes.len();
                black_box(index.within_linear(probes[i], d))
            })
        });
    }
    g.finish();
}

fn load(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut store = Store::open(dir.path()).expect("open store");
    let rows: Vec<FileRow> = random_hashes(N)
        .into_iter()
        .map(|(i, h)| FileRow {
            path: format!("/library/{}/{:02}/IMG_{i:07}.jpg", 2000 + i % 25, 1 + i % 12).into(),
            size: 3_000_000 + i as u64,
            mtime_ns: 1_600_000_000_000_000_000 + i,
            inode: i as u64,
            blake3: format!("{:064x}", h.0),
            phash: Some(h),
            width: Some(4032),
            height: Some(3024),
            taken_at: Some("2021-04-11T15:47:53-05:00".into()),
            taken_source: Some("exif".into()),
            kind: "jpeg".into(),
            hash_error: None,
            second: None,
            capture: Default::default(),
            format: clean_backup::store::INDEX_FORMAT,
        })
        .collect();
    let t = Instant::now();
    store.update_files(&rows, &[]).expect("insert");
    eprintln!("inserting {N} rows took {:.2} s", t.elapsed().as_secs_f64());
    let mut g = c.benchmark_group("startup_1M");
    g.sample_size(10);
    g.bench_function("load_rows_and_build_index", |b| {
        b.iter(|| {
            let hashes = store.phashes_under(None).expect("load");
            black_box(HashIndex::new(hashes))
        })
    });
    g.finish();
}

criterion_group!(benches, queries, load);
criterion_main!(benches);
