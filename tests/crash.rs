//! Crash safety: `kill -9` an organize at random moments, restart, and
//! prove every file exists exactly once (at its source or its destination)
//! with its bytes intact. Same filesystem (rename) and, where /dev/shm is
//! another filesystem, across filesystems (copy, verify, rename, unlink).

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const FILES: usize = 1000;

/// Writes FILES distinct JPEGs (a corpus photo with unique bytes after its
/// EOI marker) in 10 folders; returns blake3 → expected file name.
fn make_files(corpus: &Path, src: &Path) -> BTreeMap<String, String> {
    let base = std::fs::read(corpus.join("exif-samples/jpg/Canon_40D.jpg")).unwrap();
    let mut expect = BTreeMap::new();
    for i in 0..FILES {
        let dir = src.join(format!("d{:02}", i % 10));
        std::fs::create_dir_all(&dir).unwrap();
        let mut bytes = base.clone();
        bytes.extend_from_slice(format!("unique trailer {i}").as_bytes());
        let name = format!("IMG_{i:04}.jpg");
        std::fs::write(dir.join(&name), &bytes).unwrap();
        expect.insert(blake3::hash(&bytes).to_hex().to_string(), name);
    }
    expect
}

/// Every regular file under the roots: blake3 → paths.
fn census(roots: &[&Path]) -> BTreeMap<String, Vec<PathBuf>> {
    let mut out: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    for root in roots {
        if !root.exists() {
            continue;
        }
        for e in walkdir::WalkDir::new(root) {
            let e = e.unwrap();
            if e.file_type().is_file() && !is_library_bookkeeping(e.path()) {
                out.entry(b3(e.path())).or_default().push(e.path().to_path_buf());
            }
        }
    }
    out
}

fn assert_each_exactly_once(expect: &BTreeMap<String, String>, src: &Path, dest: &Path, ctx: &str) {
    let found = census(&[src, dest]);
    for (hash, name) in expect {
        match found.get(hash).map(Vec::as_slice) {
            Some([one]) => assert!(one.ends_with(name), "{ctx}: {name} has a different name: {}", one.display()),
            Some(many) => panic!("{ctx}: {name} exists {} times: {many:?}", many.len()),
            None => panic!("{ctx}: {name} is LOST"),
        }
    }
    let stray: Vec<_> = found.iter().filter(|(h, _)| !expect.contains_key(*h)).collect();
    assert!(stray.is_empty(), "{ctx}: unexpected files (temp leftovers?): {stray:?}");
}

fn organize_cmd(state: &Path, src: &Path, dest: &Path) -> std::process::Command {
    let mut c = cbctl(state);
    c.arg("--json").arg("organize").arg("--no-phash").arg(src).arg(dest).stdout(Stdio::null()).stderr(Stdio::null());
    c
}

/// Time of an uninterrupted run, to spread the kills over a real run.
fn calibrate(corpus: &Path, src_parent: &Path, base: &Path) -> Duration {
    let (src, dest, state) = (src_parent.join("cal-src"), base.join("cal-lib"), base.join("cal-state"));
    make_files(corpus, &src);
    let start = Instant::now();
    let status = organize_cmd(&state, &src, &dest).status().unwrap();
    assert!(status.success());
    start.elapsed()
}

fn kill_and_recover(corpus: &Path, src_parent: &Path, work: &Path, seeds: &[u64]) {
    let full = calibrate(corpus, src_parent, work);
    eprintln!("an uninterrupted run of {FILES} files takes {full:?}");
    let (mut interrupted, mut repaired, mut rounds) = (0u64, 0u64, 0u64);
    for &seed in seeds {
        let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        let src = src_parent.join(format!("src-{seed}"));
        let (dest, state) = (work.join(format!("lib-{seed}")), work.join(format!("state-{seed}")));
        let expect = make_files(corpus, &src);
        for round in 0..4 {
            let remaining = census(&[&src]).len() as u64;
            let mut cmd = organize_cmd(&state, &src, &dest);
            let mut child = cmd.stdout(Stdio::piped()).spawn().unwrap();
            let at = if round == 0 {
                // Anywhere in the run, scanning and hashing included.
                let at = Duration::from_micros(rng.below(full.as_micros() as u64 * 9 / 10));
                std::thread::sleep(at);
                format!("{at:?}")
            } else {
                // While filing: after the k-th file is reported (events come
                // a batch at a time), plus up to one batch's time, so the kill falls
                // anywhere inside the next batch of operations.
                let k = rng.below(remaining.clamp(1, 256));
                let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
                for _ in 0..=k {
                    if lines.next().is_none() {
                        break;
                    }
                }
                std::thread::sleep(Duration::from_micros(rng.below(full.as_micros() as u64 * 128 / FILES as u64)));
                format!("file {k} of {remaining}")
            };
            let _ = child.kill(); // SIGKILL
            let _ = child.wait();
            // Restart: opening the journal repairs half-done operations.
            let out = run(cbctl(&state).args(["--json", "history"]));
            assert_eq!(out.status.code(), Some(0), "seed {seed} round {round}");
            rounds += 1;
            if let Some(r) = json_lines(&out).iter().find(|l| l["event"] == "recovery") {
                interrupted += r["report"]["interrupted_sessions"].as_u64().unwrap_or(0);
                repaired +=
                    r["report"]["completed"].as_u64().unwrap_or(0) + r["report"]["rolled_back"].as_u64().unwrap_or(0);
                assert!(r["report"]["problems"].as_array().is_some_and(|p| p.is_empty()), "seed {seed}: {r}");
            }
            assert_each_exactly_once(&expect, &src, &dest, &format!("seed {seed} round {round} (killed at {at})"));
        }
        // Finish the job: every file ends in the library, bytes intact.
        let status = organize_cmd(&state, &src, &dest).status().unwrap();
        assert!(status.success(), "seed {seed}: final run");
        assert_each_exactly_once(&expect, &src, &dest, &format!("seed {seed} final"));
        assert!(census(&[&src]).is_empty(), "seed {seed}: all files filed");
        // And the journal can put them all back, across every interrupted session.
        while run(cbctl(&state).args(["undo", "--last"])).status.success() {}
        assert_each_exactly_once(&expect, &src, &dest, &format!("seed {seed} after undo"));
        assert!(census(&[&dest]).is_empty(), "seed {seed}: every file back at its source");
    }
    eprintln!("{rounds} kills: {interrupted} interrupted sessions, {repaired} half-done operations repaired");
    // The kills must land mid-run for the test to mean anything.
    assert!(interrupted * 2 >= rounds, "only {interrupted} of {rounds} kills interrupted a run");
}

#[test]
fn kill_9_at_random_moments_never_loses_or_duplicates_a_file_on_one_filesystem() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    kill_and_recover(&corpus, t.path(), t.path(), &[1, 2, 3, 4]);
}

#[test]
fn kill_9_at_random_moments_never_loses_or_duplicates_a_file_across_filesystems() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let shm = Path::new("/dev/shm");
    let other_fs = shm.is_dir()
        && std::fs::metadata(shm).map(|m| m.dev()).ok() != std::fs::metadata(t.path()).map(|m| m.dev()).ok();
    if !other_fs {
        eprintln!("SKIP: /dev/shm is missing or on the same filesystem as {}; the cross-filesystem path is covered by unit tests", t.path().display());
        return;
    }
    let src_parent = tempfile::tempdir_in(shm).unwrap();
    kill_and_recover(&corpus, src_parent.path(), t.path(), &[11, 12, 13]);
}
