//! Does a HEIF file's embedded thumbnail hash like its primary image, and
//! what does each cost? Run: `cargo bench --bench heif_thumbnail`.
//! Prints one line per corpus HEIC/HEIF/AVIF: sizes, decode times (median
//! of 5) and the pHash distance between thumbnail and primary.

use std::path::{Path, PathBuf};
use std::time::Instant;

use clean_backup::media::heif::{load_gray, Source};
use clean_backup::phash::phash;

fn median_ms(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn main() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(&corpus)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| {
            let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
            matches!(ext.as_str(), "heic" | "heif" | "avif")
        })
        .collect();
    files.sort();
    println!("{:<60} {:>11} {:>9} {:>11} {:>9} {:>5}", "file", "primary", "ms", "thumbnail", "ms", "bits");
    let (mut n, mut within2, mut worst) = (0, 0, 0);
    for f in &files {
        let name = f.strip_prefix(&corpus).unwrap_or(f).display().to_string();
        let primary = match load_gray(f, Source::Primary) {
            Ok((d, _)) => d,
            Err(e) => {
                println!("{name:<60} error: {e}");
                continue;
            }
        };
        let p_ms = median_ms(|| drop(load_gray(f, Source::Primary)));
        let Ok((thumb, true)) = load_gray(f, Source::ThumbnailIfBigEnough) else {
            println!(
                "{name:<60} {:>11} {p_ms:>9.1} {:>11}",
                format!("{}x{}", primary.width, primary.height),
                "none usable"
            );
            continue;
        };
        let t_ms = median_ms(|| drop(load_gray(f, Source::ThumbnailIfBigEnough)));
        let d = phash(&primary.gray).distance(phash(&thumb.gray));
        n += 1;
        within2 += usize::from(d <= 2);
        worst = worst.max(d);
        println!(
            "{name:<60} {:>11} {p_ms:>9.1} {:>11} {t_ms:>9.1} {d:>5}",
            format!("{}x{}", primary.width, primary.height),
            format!("{}x{}", thumb.gray.width, thumb.gray.height)
        );
    }
    println!("{n} files with a usable thumbnail: {within2} within 2 bits of the primary, worst {worst}");
}
