//! The DC-only JPEG pass against libjpeg-turbo's 1/8-scale grayscale decode,
//! on the ten largest corpus JPEGs (file already in memory, decode only).
//! Run: `taskset -c 0 cargo bench --bench jpeg_dc`.

use std::path::{Path, PathBuf};

use clean_backup::media::decode::turbo_gray;
use clean_backup::media::jpeg_dc::decode_luma_dc;
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion};

fn largest_jpegs(n: usize) -> Vec<(PathBuf, Vec<u8>)> {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut v: Vec<(PathBuf, Vec<u8>)> = walkdir::WalkDir::new(&corpus)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| {
            let data = std::fs::read(e.path()).ok()?;
            (data.starts_with(&[0xFF, 0xD8, 0xFF]) && decode_luma_dc(&data).is_ok())
                .then(|| (e.path().strip_prefix(&corpus).unwrap_or(e.path()).to_path_buf(), data))
        })
        .collect();
    v.sort_by_key(|(_, d)| std::cmp::Reverse(d.len()));
    v.truncate(n);
    v
}

fn decoders(c: &mut Criterion) {
    let files = largest_jpegs(10);
    assert!(!files.is_empty(), "corpus missing");
    let mut g = c.benchmark_group("jpeg_eighth_gray");
    g.sample_size(15);
    for (path, data) in &files {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        g.bench_with_input(BenchmarkId::new("dc_only", &name), data, |b, d| b.iter(|| black_box(decode_luma_dc(d))));
        g.bench_with_input(BenchmarkId::new("libjpeg_turbo", &name), data, |b, d| {
            b.iter(|| black_box(turbo_gray(d, 8)))
        });
    }
    g.finish();
}

criterion_group!(benches, decoders);
criterion_main!(benches);
