//! The watcher at its limits: an inotify queue overflow and a user out of
//! inotify watches. Either way the daemon says so in its log and falls back
//! to scanning, and every file is still filed, once.
//!
//! These lower a kernel limit (`/proc/sys/fs/inotify/*`) for the moment the
//! daemon starts and put it back at once; cargo runs this binary on its own,
//! and its two tests take turns. They need root and a writable /proc/sys.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use common::*;

const WAIT: Duration = Duration::from_secs(60);
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Sets an inotify limit; the old value comes back when dropped.
struct Limit {
    path: PathBuf,
    old: String,
}

impl Limit {
    fn set(name: &str, value: u64) -> Option<Limit> {
        let path = Path::new("/proc/sys/fs/inotify").join(name);
        let old = std::fs::read_to_string(&path).ok()?;
        std::fs::write(&path, value.to_string()).ok()?;
        Some(Limit { path, old })
    }
}

impl Drop for Limit {
    fn drop(&mut self) {
        let _ = std::fs::write(&self.path, self.old.trim());
    }
}

fn can_change_limits() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let ok = root && Limit::set("max_queued_events", 16384).is_some();
    if !ok {
        eprintln!("SKIPPED: needs root and a writable /proc/sys/fs/inotify to lower inotify limits");
    }
    ok
}

fn log_of(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

fn assert_each_filed_once(lib: &Path, photos: &std::collections::BTreeMap<String, PathBuf>) {
    wait_for("every photo in the library", WAIT, || contents(lib).len() >= photos.len());
    let got = contents(lib);
    assert_eq!(got.len(), photos.len());
    for (hash, n) in &got {
        assert!(photos.contains_key(hash), "a file that was never dropped: {hash}");
        assert_eq!(*n, 1, "{hash} filed {n} times");
    }
}

#[test]
fn an_overflowing_event_queue_is_logged_and_rescanned_and_nothing_is_missed() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !can_change_limits() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let photos = make_photos(&t.path().join("stage"), 300);
    let inbox = t.path().join("inbox");
    // The queue length is fixed when the daemon's inotify instance is made.
    let limit = Limit::set("max_queued_events", 16).unwrap();
    let _daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(&config)
            .stderr(std::fs::File::create(t.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the daemon to watch", WAIT, || log_of(t.path()).contains("clean-backupd watching"));
    std::thread::sleep(Duration::from_millis(500));
    drop(limit);
    // Written in place, not renamed: several events per file, far more than 16.
    for p in photos.values() {
        std::fs::write(inbox.join(p.file_name().unwrap()), std::fs::read(p).unwrap()).unwrap();
    }
    assert_each_filed_once(&t.path().join("lib"), &photos);
    let log = log_of(t.path());
    assert!(log.contains("the file watcher overflowed and may have missed events; rescanning"), "{log}");
    assert!(!log.contains('\u{1b}'), "a log file gets no colour codes");
}

#[test]
fn a_user_out_of_inotify_watches_gets_a_warning_and_the_inbox_is_scanned_instead() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    if !can_change_limits() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let inbox = t.path().join("inbox");
    // Deeper than the user may watch.
    let deep = inbox.join("a/b/c/d/e/f");
    std::fs::create_dir_all(&deep).unwrap();
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    std::fs::create_dir_all(t.path().join("state")).unwrap();
    // The daemon runs as `nobody`, who holds no other watches, with a limit of 3.
    let chown = Command::new("chown").arg("-R").arg("nobody:nogroup").arg(t.path()).status().unwrap();
    assert!(chown.success());
    let limit = Limit::set("max_user_watches", 3).unwrap();
    let _daemon = Daemon(
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(&config)
            .stderr(std::fs::File::create(t.path().join("daemon.log")).unwrap())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the daemon to watch", WAIT, || log_of(t.path()).contains("clean-backupd watching"));
    drop(limit);
    let log = log_of(t.path());
    assert!(log.contains("cannot watch") && log.contains("scanning it on every poll instead"), "{log}");

    let photos = make_photos(&t.path().join("stage"), 3);
    for p in photos.values() {
        std::fs::copy(p, deep.join(p.file_name().unwrap())).unwrap();
    }
    assert_each_filed_once(&t.path().join("lib"), &photos);
}
