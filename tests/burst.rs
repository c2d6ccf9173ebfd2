//! Bursts: 2,000 new photos land in the inbox at once. All are filed, none
//! lost or doubled, with memory bounded; and the same while the daemon is
//! killed with SIGKILL again and again.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::{contents, daemon_config, make_photos, start_daemon, Rng};

const FILES: usize = 2000;

fn setup(t: &Path) -> (PathBuf, PathBuf, PathBuf, BTreeMap<String, PathBuf>) {
    let config = daemon_config(t, 1);
    let photos = make_photos(&t.join("stage"), FILES);
    (config, t.join("inbox"), t.join("lib"), photos)
}

/// Drops every staged photo into the inbox at once (renames).
fn drop_all(photos: &BTreeMap<String, PathBuf>, inbox: &Path) {
    std::fs::create_dir_all(inbox.join("burst")).unwrap();
    for p in photos.values() {
        std::fs::rename(p, inbox.join("burst").join(p.file_name().unwrap())).unwrap();
    }
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn wait_until_all_filed(lib: &Path, photos: &BTreeMap<String, PathBuf>, timeout: Duration) -> BTreeMap<String, usize> {
    let start = Instant::now();
    loop {
        let got = contents(lib);
        if got.len() >= photos.len() || start.elapsed() > timeout {
            return got;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_burst_of_two_thousand_photos_is_filed_once_each_with_bounded_memory() {
    let t = tempfile::tempdir().unwrap();
    let (config, inbox, lib, photos) = setup(t.path());
    let daemon = start_daemon(&config);
    let start_wait = Instant::now();
    while !inbox.is_dir() {
        assert!(start_wait.elapsed() < Duration::from_secs(20), "daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop_all(&photos, &inbox);
    let dropped = Instant::now();
    let got = wait_until_all_filed(&lib, &photos, Duration::from_secs(240));
    let took = dropped.elapsed();
    let rss = peak_rss_kib(daemon.0.id());
    eprintln!(
        "burst: {FILES} files filed in {:.1} s after the drop; daemon peak RSS {} MiB",
        took.as_secs_f64(),
        rss / 1024
    );
    let expected: BTreeMap<String, usize> = photos.keys().map(|h| (h.clone(), 1)).collect();
    assert_eq!(got, expected, "every photo once in the library, bytes intact");
    assert!(contents(&inbox).is_empty(), "nothing left in the inbox");
    assert!(rss > 0 && rss < 512 * 1024, "peak RSS {rss} KiB");
}

#[test]
fn kill_9_during_a_burst_never_loses_or_doubles_a_photo() {
    let t = tempfile::tempdir().unwrap();
    let (config, inbox, lib, photos) = setup(t.path());
    let mut daemon = start_daemon(&config);
    let start_wait = Instant::now();
    while !inbox.is_dir() {
        assert!(start_wait.elapsed() < Duration::from_secs(20), "daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    drop_all(&photos, &inbox);
    let mut rng = Rng(42);
    for _ in 0..6 {
        std::thread::sleep(Duration::from_millis(1000 + rng.below(1500)));
        drop(daemon); // SIGKILL, then wait
                      // At every instant each photo is in the inbox or the library, once.
        let mut both = contents(&inbox);
        for (h, n) in contents(&lib) {
            *both.entry(h).or_insert(0) += n;
        }
        assert_eq!(both.keys().collect::<Vec<_>>(), photos.keys().collect::<Vec<_>>(), "a photo went missing");
        assert!(both.values().all(|&n| n == 1), "a photo is in two places after a kill");
        daemon = start_daemon(&config);
    }
    let got = wait_until_all_filed(&lib, &photos, Duration::from_secs(240));
    let expected: BTreeMap<String, usize> = photos.keys().map(|h| (h.clone(), 1)).collect();
    assert_eq!(got, expected);
    assert!(contents(&inbox).is_empty());
    drop(daemon);
}
