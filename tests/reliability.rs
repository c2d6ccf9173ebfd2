//! The daemon when the machine misbehaves or the user changes their mind:
//! a library disk that fills up, a state disk that fills up, a journal that
//! was deleted, an undo of the first import, sessions bus callers, and the
//! one-shot commands on things that are not photos (a FIFO, a link).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

const PHOTO: &str = "exif-samples/jpg/Canon_40D.jpg";

/// A tmpfs of `size` mounted on `dir` for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts one, or says why not (the test then skips; CI runs as root and can).
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root and can mount a tmpfs");
            eprintln!("SKIPPED: cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs(dir.to_path_buf()))
    }

    fn resize(&self, size: &str) {
        let ok = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "remount {}", self.0.display());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// `n` distinct photos of about `base`'s size: `base` with a numbered comment.
fn tagged_copies(base: &[u8], n: usize, dir: &Path) -> Vec<(PathBuf, String)> {
    std::fs::create_dir_all(dir).unwrap();
    (0..n)
        .map(|i| {
            let mut bytes = base[..2].to_vec();
            let tag = format!("copy {i:06}........");
            bytes.extend_from_slice(&[0xFF, 0xFE, 0, (tag.len() + 2) as u8]);
            bytes.extend_from_slice(tag.as_bytes());
            bytes.extend_from_slice(&base[2..]);
            let p = dir.join(format!("IMG_{i:04}.jpg"));
            std::fs::write(&p, &bytes).unwrap();
            (p, blake3::hash(&bytes).to_hex().to_string())
        })
        .collect()
}

/// The test config, matching by exact content only: tagged copies of one
/// photo are different files, not duplicates.
fn exact_only_config(dir: &Path) -> PathBuf {
    let config = daemon_config(dir, 1);
    let text = std::fs::read_to_string(&config).unwrap() + "[dedup]\nperceptual = false\n";
    std::fs::write(&config, text).unwrap();
    config
}

/// Temp files of ours anywhere under `root`.
fn our_temp_files(root: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let n = e.file_name().to_string_lossy();
            n.starts_with(".clean-backup-") && n.contains(".tmp")
        })
        .map(|e| e.into_path())
        .collect()
}

fn error_lines(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().filter(|l| l.contains(" ERROR ")).count()
}

/// User + system CPU seconds the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks: f64 = fields.get(11..13).map_or(0.0, |f| f.iter().filter_map(|v| v.parse::<f64>().ok()).sum());
    // SAFETY: sysconf has no preconditions.
    ticks / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
}

#[test]
fn a_full_library_disk_keeps_every_original_leaves_no_temp_file_and_files_again_when_space_returns() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = exact_only_config(t.path());
    let lib = t.path().join("lib");
    let Some(disk) = Tmpfs::mount(&lib, "6m") else { return };
    let base = std::fs::read(corpus.join("exif-samples/jpg/mobile/HMD_Nokia_8.3_5G.jpg")).unwrap();
    let stage = t.path().join("stage");
    let photos = tagged_copies(&base, 10_000_000usize.div_ceil(base.len()).max(12), &stage);
    let log = t.path().join("daemon.log");
    let daemon = start_daemon_logged(&config, &log);
    let inbox = t.path().join("inbox");
    for (p, _) in &photos {
        std::fs::rename(p, inbox.join(p.file_name().unwrap())).unwrap();
    }
    let waited = Instant::now();
    while !status(&config)["library_problem"].as_str().is_some_and(|p| p.contains("no space left")) {
        if waited.elapsed() > Duration::from_secs(60) {
            panic!(
                "filing never waited for space: {}\n{}",
                status(&config),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = status(&config);
    assert!(s["library_problem"].as_str().unwrap().contains("next try in"), "{s}");
    // While it waits: no busy loop, no flood of errors.
    let (cpu0, err0) = (cpu_seconds(daemon.0.id()), error_lines(&log));
    std::thread::sleep(Duration::from_secs(12));
    let (cpu, errors) = (cpu_seconds(daemon.0.id()) - cpu0, error_lines(&log) - err0);
    eprintln!("while full: {cpu:.2} s CPU and {errors} error lines in 12 s");
    assert!(errors <= 3, "{errors} errors in 12 s");
    assert!(cpu < 2.0, "{cpu} s of CPU in 12 s while waiting");
    // Every original is whole in one place or the other, and no partial copy is left.
    let everywhere = contents(&t.path().join("inbox"));
    let filed = contents(&lib);
    for (_, h) in &photos {
        assert_eq!(everywhere.get(h).copied().unwrap_or(0) + filed.get(h).copied().unwrap_or(0), 1, "{h}");
    }
    assert!(our_temp_files(&lib).is_empty(), "temp files left: {:?}", our_temp_files(&lib));
    // Space comes back: filing resumes by itself.
    disk.resize("200m");
    wait_for("everything to be filed", Duration::from_secs(120), || {
        std::fs::read_dir(t.path().join("inbox")).unwrap().count() == 0
    });
    let filed = contents(&lib);
    for (_, h) in &photos {
        assert_eq!(filed.get(h), Some(&1), "{h} filed once");
    }
    assert_eq!(status(&config)["library_problem"], serde_json::Value::Null);
    assert!(std::fs::read_to_string(&log).unwrap().contains("filing resumes"));
}

#[test]
fn a_full_state_disk_backs_off_instead_of_spinning_and_recovers() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = exact_only_config(t.path());
    let state = t.path().join("state");
    let Some(_disk) = Tmpfs::mount(&state, "2m") else { return };
    let log = t.path().join("daemon.log");
    let daemon = start_daemon_logged(&config, &log);
    // Fill the state disk.
    let filler = state.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]);
    let photos = tagged_copies(&std::fs::read(corpus.join(PHOTO)).unwrap(), 30, &t.path().join("stage"));
    let inbox = t.path().join("inbox");
    for (p, _) in &photos {
        std::fs::rename(p, inbox.join(p.file_name().unwrap())).unwrap();
    }
    wait_for("filing to back off", Duration::from_secs(60), || {
        status(&config)["library_problem"].as_str().is_some_and(|p| p.contains("next try in"))
    });
    let (cpu0, err0) = (cpu_seconds(daemon.0.id()), error_lines(&log));
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(12));
    let (cpu, errors) = (cpu_seconds(daemon.0.id()) - cpu0, error_lines(&log) - err0);
    eprintln!("state disk full: {cpu:.2} s CPU and {errors} error lines in {:?}", start.elapsed());
    assert!(errors <= 3, "{errors} errors in 12 s");
    assert!(cpu < 2.0, "{cpu} s of CPU in 12 s");
    for (p, h) in &photos {
        let here = inbox.join(p.file_name().unwrap());
        let filed = contents(&t.path().join("lib"));
        assert!(here.exists() || filed.contains_key(h), "{h} is somewhere");
    }
    std::fs::remove_file(&filler).unwrap();
    wait_for("everything to be filed", Duration::from_secs(120), || std::fs::read_dir(&inbox).unwrap().count() == 0);
    let filed = contents(&t.path().join("lib"));
    assert!(photos.iter().all(|(_, h)| filed.get(h) == Some(&1)), "each photo filed once");
}

#[test]
fn temp_files_of_ours_are_swept_at_start_and_nothing_else() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let daemon = start_daemon_logged(&config, &t.path().join("first.log"));
    std::fs::copy(corpus.join(PHOTO), t.path().join("inbox/Canon_40D.jpg")).unwrap();
    let month = t.path().join("lib/2008/05");
    wait_for("the photo to be filed", Duration::from_secs(30), || month.join("Canon_40D.jpg").exists());
    drop(daemon);
    // A copy cut short in a folder the journal wrote into, a user's own file
    // with a look-alike name there, and one of our names where we never wrote.
    let ours = month.join(".clean-backup-7-0123456789abcdef.tmp");
    let new_ours = month.join(".clean-backup-new-1-2.tmp.jpg");
    let users = month.join(".clean-backup-notes.txt");
    let elsewhere = t.path().join("lib/other/.clean-backup-9-0123456789abcdef.tmp");
    for p in [&ours, &new_ours, &users, &elsewhere] {
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, b"partial").unwrap();
    }
    let log = t.path().join("second.log");
    let _daemon = start_daemon_logged(&config, &log);
    assert!(!ours.exists() && !new_ours.exists(), "our temp files are swept");
    assert!(users.exists(), "a name that is not one of our temp names stays");
    assert!(elsewhere.exists(), "only folders the journal wrote into are swept");
    assert!(std::fs::read_to_string(&log).unwrap().contains("removed temp files left by an earlier run"));
}

#[test]
fn a_deleted_journal_is_never_silently_replaced_and_a_backup_brings_it_back() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let (lib, state) = (t.path().join("lib"), t.path().join("state"));
    let daemon = start_daemon_logged(&config, &t.path().join("first.log"));
    std::fs::copy(corpus.join(PHOTO), t.path().join("inbox/Canon_40D.jpg")).unwrap();
    wait_for("the photo to be filed", Duration::from_secs(30), || lib.join("2008/05/Canon_40D.jpg").exists());
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lib.join(".clean-backup-library")).unwrap()).unwrap();
    let backups: Vec<_> = std::fs::read_dir(lib.join(".clean-backup-journal")).unwrap().collect();
    assert_eq!(backups.len(), 1, "a journal backup beside the marker");
    drop(daemon);
    // Let the backup hold the session: take a fresh one now that it is done.
    std::fs::remove_dir_all(lib.join(".clean-backup-journal")).unwrap();
    let daemon = start_daemon_logged(&config, &t.path().join("second.log"));
    drop(daemon);

    for how in ["deleted", "emptied"] {
        let saved = t.path().join(format!("state.{how}"));
        copy_dir(&state, &saved);
        if how == "deleted" {
            std::fs::remove_dir_all(&state).unwrap();
        } else {
            std::fs::write(state.join("clean-backup.db"), b"").unwrap();
            let _ = std::fs::remove_file(state.join("clean-backup.db-wal"));
        }
        let out = Command::new(env!("CARGO_BIN_EXE_clean-backupd")).arg("--config").arg(&config).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{how}: {err}");
        assert!(
            err.contains("clean-backupd --new-state") && err.contains(marker["state_id"].as_str().unwrap()),
            "{err}"
        );
        assert!(err.contains("cp ") && err.contains(".clean-backup-journal/journal-"), "names the backup: {err}");
        std::fs::remove_dir_all(&state).unwrap();
        copy_dir(&saved, &state);
    }
    // Restoring the backup as the message says brings the history back.
    let backup = std::fs::read_dir(lib.join(".clean-backup-journal")).unwrap().next().unwrap().unwrap().path();
    std::fs::remove_dir_all(&state).unwrap();
    std::fs::create_dir(&state).unwrap();
    std::fs::copy(&backup, state.join("clean-backup.db")).unwrap();
    let daemon = start_daemon_logged(&config, &t.path().join("restored.log"));
    let history = run(ctl(&config).args(["--json", "history"]));
    assert!(String::from_utf8_lossy(&history.stdout).contains("\"ingest\""), "the import is known again");
    drop(daemon);
    // Accepting the loss is one flag, once.
    std::fs::remove_dir_all(&state).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_clean-backupd"));
    c.arg("--config").arg(&config).arg("--new-state").stderr(std::fs::File::create(t.path().join("new.log")).unwrap());
    let daemon = Daemon(c.spawn().unwrap());
    wait_for("the daemon on a new state", Duration::from_secs(30), || {
        ctl(&config).arg("status").output().is_ok_and(|o| o.status.success())
    });
    drop(daemon);
    let now: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lib.join(".clean-backup-library")).unwrap()).unwrap();
    assert_eq!(now["library_id"], marker["library_id"], "the same library");
    assert_ne!(now["state_id"], marker["state_id"], "a new journal");
    let _daemon = start_daemon_logged(&config, &t.path().join("after.log"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

#[test]
fn undo_of_a_first_import_keeps_filing_on_and_is_not_filed_again_by_rescan_or_restart() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    let daemon = start_daemon_logged(&config, &t.path().join("first.log"));
    let names = [
        "exif-samples/jpg/Canon_40D.jpg",
        "exif-samples/jpg/Nikon_D70.jpg",
        "exif-samples/jpg/Fujifilm_FinePix_E500.jpg",
    ];
    for n in names {
        std::fs::copy(corpus.join(n), inbox.join(Path::new(n).file_name().unwrap())).unwrap();
    }
    wait_for("all three filed", Duration::from_secs(30), || std::fs::read_dir(&inbox).unwrap().count() == 0);
    assert_eq!(status(&config)["index_files"], 3);
    let undo = run(ctl(&config).args(["undo", "--last"]));
    assert_eq!(undo.status.code(), Some(0));
    let back = |n: &str| inbox.join(Path::new(n).file_name().unwrap());
    assert!(names.iter().all(|n| back(n).exists()));
    let s = status(&config);
    assert_eq!(s["index_files"], 0, "the index follows the undo: {s}");
    std::thread::sleep(Duration::from_secs(3));
    let s = status(&config);
    assert_eq!((s["library_available"].as_bool(), s["library_problem"].as_str()), (Some(true), None), "{s}");
    // Neither a rescan nor a restart files them again.
    assert_eq!(run(ctl(&config).arg("rescan")).status.code(), Some(0));
    std::thread::sleep(Duration::from_secs(4));
    assert!(names.iter().all(|n| back(n).exists()), "rescan left them");
    drop(daemon);
    let daemon = start_daemon_logged(&config, &t.path().join("second.log"));
    std::thread::sleep(Duration::from_secs(4));
    assert!(names.iter().all(|n| back(n).exists()), "restart left them");
    assert_eq!(contents(&lib).keys().filter(|h| names.iter().any(|n| b3(&corpus.join(n)) == **h)).count(), 0);
    // Until the user asks.
    assert_eq!(run(ctl(&config).args(["rescan", "--undone"])).status.code(), Some(0));
    wait_for("filed when asked", Duration::from_secs(30), || std::fs::read_dir(&inbox).unwrap().count() == 0);
    drop(daemon);
}

#[test]
fn one_shot_commands_refuse_a_fifo_and_a_link_without_reading_through_them() {
    let t = tempfile::tempdir().unwrap();
    let fifo = t.path().join("pipe.jpg");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let secret = t.path().join("secret.jpg");
    std::fs::write(&secret, b"not for you").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = t.path().join("link.jpg");
    std::os::unix::fs::symlink("/etc/shadow", &link).unwrap();
    for cmd in ["date", "hash"] {
        let start = Instant::now();
        let out = run(cbctl(&t.path().join("state")).args(["--json", cmd]).arg(&fifo).arg(&link));
        assert!(start.elapsed() < Duration::from_secs(10), "{cmd} did not hang on the FIFO");
        assert_eq!(out.status.code(), Some(1), "{cmd}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("a FIFO") && text.contains("a symbolic link"), "{cmd}: {text}");
        assert!(!text.contains("taken"), "nothing was read: {text}");
    }
}

#[test]
fn config_set_naming_another_file_changes_neither_and_says_which_is_the_daemons() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    let other = t.path().join("other.toml");
    std::fs::copy(&config, &other).unwrap();
    let (before, before_other) = (std::fs::read(&config).unwrap(), std::fs::read(&other).unwrap());
    let out = run(ctl(&other).args(["config", "set", "dedup.threshold", "3"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&format!("this daemon's config is {}", config.display())), "{err}");
    assert_eq!(std::fs::read(&config).unwrap(), before);
    assert_eq!(std::fs::read(&other).unwrap(), before_other);
    // The daemon's own file: changed, and cbctl says that file.
    let out = run(ctl(&config).args(["config", "set", "dedup.threshold", "3"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("in {}", config.display())));
    assert!(std::fs::read_to_string(&config).unwrap().contains("threshold = 3"));
}

#[test]
fn entries_that_are_never_filed_are_logged_once_each() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let inbox = t.path().join("inbox");
    assert!(Command::new("mkfifo").arg(inbox.join("pipe.jpg")).status().unwrap().success());
    std::os::unix::fs::symlink("/etc/passwd", inbox.join("link.jpg")).unwrap();
    let log = t.path().join("daemon.log");
    let _daemon = start_daemon_logged(&config, &log);
    std::fs::write(inbox.join("nudge.txt"), b"x").unwrap();
    std::thread::sleep(Duration::from_secs(4));
    let text = std::fs::read_to_string(&log).unwrap();
    let count = |name: &str| text.lines().filter(|l| l.contains("left alone") && l.contains(name)).count();
    assert_eq!(count("pipe.jpg"), 1, "{text}");
    assert_eq!(count("link.jpg"), 1, "{text}");
    assert!(
        text.lines().any(|l| l.contains(" INFO ") && l.contains("link.jpg") && l.contains("symbolic link")),
        "{text}"
    );
}

#[test]
fn organize_into_a_library_whose_marker_is_gone_is_refused_before_anything_moves() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = (t.path().join("card"), t.path().join("lib"), t.path().join("state"));
    copy_corpus(&corpus, &[PHOTO], &src);
    std::fs::create_dir(&lib).unwrap();
    let out = run(cbctl(&state).args(["organize", "--copy"]).arg(&src).arg(&lib));
    assert_eq!(out.status.code(), Some(0));
    assert!(lib.join(".clean-backup-library").exists(), "an existing folder is marked when first filed into");
    // The disk is "unmounted": an empty folder where the library was.
    std::fs::rename(&lib, t.path().join("lib.away")).unwrap();
    std::fs::create_dir(&lib).unwrap();
    let out = run(cbctl(&state).args(["organize", "--move"]).arg(&src).arg(&lib));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("without its marker"), "{err}");
    assert!(src.join(PHOTO).exists() && std::fs::read_dir(&lib).unwrap().next().is_none(), "nothing moved");
}
