//! The media parsers read untrusted bytes: every truncated prefix of every
//! corpus file must give a result or a clear error, never a panic, and a
//! JPEG cut short must be reported as truncated.

mod common;

use clean_backup::media::{self, MediaError};

#[test]
fn truncated_prefixes_of_every_corpus_file_never_panic_and_cut_jpegs_are_reported() {
    let Some(corpus) = common::corpus() else {
        return;
    };
    let t = tempfile::tempdir().unwrap();
    let mut cut_jpegs = 0;
    for e in common::manifest(&corpus) {
        let data = std::fs::read(corpus.join(&e.path)).unwrap();
        let n = data.len();
        let mut cuts = vec![1, 2, 7, 16, 64, 100, 300, 512, 1024, 4096, 65536, n / 3, n / 2, n.saturating_sub(1)];
        cuts.retain(|&c| c > 0 && c < n);
        for cut in cuts {
            let p = t.path().join(format!("cut{cut}.bin"));
            std::fs::write(&p, &data[..cut]).unwrap();
            let result = std::panic::catch_unwind(|| media::probe(&p));
            let Ok(result) = result else { panic!("{} cut at {cut} bytes panicked", e.path) };
            if cut == n / 2 && data.starts_with(&[0xFF, 0xD8, 0xFF]) && data.ends_with(&[0xFF, 0xD9]) {
                match result {
                    Err(MediaError::Corrupt { reason, .. }) => {
                        assert!(reason.contains("truncated"), "{}: {reason}", e.path);
                        cut_jpegs += 1;
                    }
                    other => panic!("{} cut in half: expected a truncation error, got {other:?}", e.path),
                }
            }
        }
    }
    assert!(cut_jpegs > 80, "only {cut_jpegs} JPEGs checked");
}
