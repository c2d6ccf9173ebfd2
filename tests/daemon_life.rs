//! The daemon over its life: a copy-mode inbox's files copied once, duplicates quarantined (journaled, undone with
//! the import), skipped and failed files remembered across a restart until
//! they change, SIGHUP adding and removing inboxes, the no-config defaults
//! under the user's Pictures folder, and where its log goes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;

const PHOTO: &str = "exif-samples/jpg/Canon_40D.jpg";
const FILED: &str = "lib/2008/05/Canon_40D.jpg";
const OTHER: &str = "exif-samples/jpg/gps/DSCN0010.jpg";
const OTHER_FILED: &str = "lib/2008/10/DSCN0010.jpg";
const THIRD: &str = "exif-samples/jpg/Canon_DIGITAL_IXUS_400.jpg";
const WAIT: Duration = Duration::from_secs(30);

/// Starts the daemon on `config` with its log in `log`, and waits for its socket.
fn start_logged(dir: &Path, config: &Path, log: &str) -> Daemon {
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(config)
            .stderr(std::fs::File::create(dir.join(log)).unwrap())
            .spawn()
            .unwrap(),
    );
    wait_for("the control socket", WAIT, || status_ok(config));
    daemon
}

fn status_ok(config: &Path) -> bool {
    ctl(config).args(["--json", "status"]).output().is_ok_and(|o| o.status.success())
}

fn stop(mut daemon: Daemon) {
    signal(&mut daemon.0, libc::SIGTERM);
    assert_eq!(daemon.0.wait().unwrap().code(), Some(0));
}

fn with_dedup(dir: &Path, on_duplicate: &str) -> PathBuf {
    let config = daemon_config(dir, 1);
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str(&format!("[dedup]\non_duplicate = \"{on_duplicate}\"\n"));
    std::fs::write(&config, text).unwrap();
    config
}

#[test]
fn quarantine_moves_a_duplicate_aside_journaled_and_undo_brings_it_back() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = with_dedup(t.path(), "skip");
    let _daemon = start_logged(t.path(), &config, "daemon.log");
    let inbox = t.path().join("inbox");
    std::fs::copy(corpus.join(PHOTO), inbox.join("Canon_40D.jpg")).unwrap();
    wait_for("the photo to be filed", WAIT, || t.path().join(FILED).exists());
    // Switched on while running, through the daemon: no restart needed.
    let out = run(ctl(&config).args(["config", "set", "dedup.on_duplicate", "quarantine"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(std::fs::read_to_string(&config).unwrap().contains("on_duplicate = \"quarantine\""));
    wait_for("the reload", WAIT, || {
        std::fs::read_to_string(t.path().join("daemon.log")).unwrap().contains("config reloaded")
    });

    // The same photo again, from a phone's subfolder.
    std::fs::create_dir_all(inbox.join("phone")).unwrap();
    let dup = inbox.join("phone/copy.jpg");
    std::fs::copy(corpus.join(PHOTO), &dup).unwrap();
    let quarantined = t.path().join("lib/.clean-backup-duplicates/phone/copy.jpg");
    wait_for("the duplicate to be quarantined", WAIT, || quarantined.exists());
    assert!(!dup.exists(), "moved, not copied");
    assert_eq!(b3(&quarantined), b3(&corpus.join(PHOTO)), "bytes intact");
    let s = status(&config);
    assert_eq!((s["total"]["filed"].as_u64(), s["total"]["skipped"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(s["index_files"], 1, "the duplicates folder is not part of the library index");

    // Journaled: the quarantine is its own ingest session, and undo --last returns it.
    let out = run(ctl(&config).args(["--json", "history"]));
    let sessions = json_lines(&out);
    let last = sessions.iter().filter(|s| s["kind"] == "ingest").max_by_key(|s| s["id"].as_i64()).unwrap();
    assert_eq!(last["ops_done"], 1, "{last}");
    let out = run(ctl(&config).args(["undo", "--last"]));
    assert_eq!(out.status.code(), Some(0));
    assert!(dup.exists() && !quarantined.exists(), "undo put the duplicate back in the inbox");
    assert_eq!(b3(&dup), b3(&corpus.join(PHOTO)));
    // Put back by request, so left alone: not quarantined again.
    std::thread::sleep(Duration::from_secs(3));
    assert!(dup.exists(), "an undone file stays in the inbox until it changes");
    assert!(t.path().join(FILED).exists(), "the earlier import is untouched");
}

#[test]
fn skipped_and_failed_files_are_remembered_across_a_restart_until_they_change() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = with_dedup(t.path(), "skip");
    // A second inbox in copy mode: its files stay, and are done with once copied.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[[inbox]]\npath = \"camera\"\nmode = \"copy\"\n");
    std::fs::write(&config, text).unwrap();
    std::fs::create_dir(t.path().join("camera")).unwrap();
    let daemon = start_logged(t.path(), &config, "first.log");
    let inbox = t.path().join("inbox");
    std::fs::copy(corpus.join(PHOTO), inbox.join("Canon_40D.jpg")).unwrap();
    let card = t.path().join("camera/Canon_PowerShot_S40.jpg");
    std::fs::copy(corpus.join("exif-samples/jpg/Canon_PowerShot_S40.jpg"), &card).unwrap();
    let copied = t.path().join("lib/2003/12/Canon_PowerShot_S40.jpg");
    wait_for("both photos to be filed", WAIT, || t.path().join(FILED).exists() && copied.exists());
    assert_eq!(b3(&card), b3(&copied), "copied, and the copy-mode inbox keeps its file");
    let dup = inbox.join("again.jpg");
    std::fs::copy(corpus.join(PHOTO), &dup).unwrap();
    // A photo cut short by a failed transfer.
    let bytes = std::fs::read(corpus.join(THIRD)).unwrap();
    let bad = inbox.join("cut.jpg");
    std::fs::write(&bad, &bytes[..bytes.len() / 3]).unwrap();
    wait_for("the duplicate skipped and the cut file failed", WAIT, || {
        let s = status(&config);
        s["total"]["skipped"] == 1 && s["total"]["failed"] == 1
    });
    stop(daemon);

    // After a restart both are still known: not looked at, not reported again.
    let daemon = start_logged(t.path(), &config, "second.log");
    std::fs::copy(corpus.join(OTHER), inbox.join("DSCN0010.jpg")).unwrap();
    wait_for("a new photo to be filed", WAIT, || t.path().join(OTHER_FILED).exists());
    let s = status(&config);
    assert_eq!((s["total"]["skipped"].as_u64(), s["total"]["failed"].as_u64()), (Some(0), Some(0)), "{s}");
    assert_eq!(s["queue"], 0, "{s}");
    let log = std::fs::read_to_string(t.path().join("second.log")).unwrap();
    for name in ["again.jpg", "cut.jpg", "Canon_PowerShot_S40.jpg"] {
        assert!(!log.contains(name), "{name} not looked at again:\n{log}");
    }
    assert!(dup.exists() && bad.exists() && card.exists());

    // Once the cut file is completed (it changed), it is looked at again and filed.
    std::fs::write(&bad, &bytes).unwrap();
    let completed = t.path().join("lib/2004/08/cut.jpg");
    wait_for("the completed file to be filed", WAIT, || completed.exists());
    assert_eq!(b3(&completed), b3(&corpus.join(THIRD)));
    // And `cbctl rescan` gives the duplicate another look (it is skipped again).
    assert_eq!(run(ctl(&config).arg("rescan")).status.code(), Some(0));
    wait_for("the duplicates to be skipped again", WAIT, || status(&config)["total"]["skipped"] == 2);
    assert!(dup.exists());
    stop(daemon);
}

#[test]
fn sighup_watches_an_added_inbox_and_lets_go_of_a_removed_one() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let mut daemon = start_logged(t.path(), &config, "daemon.log");
    let (old, new) = (t.path().join("inbox"), t.path().join("phone-inbox"));
    assert!(old.is_dir());

    let text = std::fs::read_to_string(&config).unwrap().replace("path = \"inbox\"", "path = \"phone-inbox\"");
    std::fs::write(&config, text).unwrap();
    // The user makes the new inbox (the daemon never creates one), then reloads.
    std::fs::create_dir(&new).unwrap();
    signal(&mut daemon.0, libc::SIGHUP);
    wait_for("the reloaded inbox list", WAIT, || {
        let s = status(&config);
        s["inboxes"].as_array().is_some_and(|a| a.len() == 1 && a[0]["path"] == new.to_string_lossy().as_ref())
    });
    std::fs::copy(corpus.join(PHOTO), old.join("Canon_40D.jpg")).unwrap();
    std::fs::copy(corpus.join(OTHER), new.join("DSCN0010.jpg")).unwrap();
    wait_for("the photo in the new inbox to be filed", WAIT, || t.path().join(OTHER_FILED).exists());
    std::thread::sleep(Duration::from_secs(2));
    assert!(old.join("Canon_40D.jpg").exists(), "the removed inbox is no longer watched");
    assert!(!t.path().join(FILED).exists());
    stop(daemon);
}

#[test]
fn with_no_config_at_all_it_files_from_the_pictures_inbox_into_the_pictures_library() {
    let Some(corpus) = corpus() else { return };
    if Path::new("/etc/clean-backup/config.toml").exists() {
        assert!(std::env::var("CI").is_err(), "CI machines have no system config");
        eprintln!("SKIPPED: /etc/clean-backup/config.toml exists and would be used");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let home = t.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .env_clear()
            .env("HOME", &home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            // No session bus here, whatever the machine running the test has.
            .env("XDG_RUNTIME_DIR", &home)
            .stderr(std::fs::File::create(t.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let inbox = home.join("Pictures/Inbox");
    let log_path = t.path().join("daemon.log");
    wait_for("the daemon to say where its library should be", WAIT, || {
        std::fs::read_to_string(&log_path).is_ok_and(|l| l.contains("Pictures/Library is not there"))
    });
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("mkdir -p") && log.contains("Pictures/Inbox is missing"), "{log}");
    assert!(!home.join("Pictures").exists(), "it creates neither the library nor the inbox");
    // The user makes them; the daemon notices by itself.
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::create_dir_all(home.join("Pictures/Library")).unwrap();
    std::fs::copy(corpus.join(PHOTO), inbox.join("Canon_40D.jpg")).unwrap();
    let filed = home.join("Pictures/Library/2008/05/Canon_40D.jpg");
    wait_for("the photo to be filed after the default 5 s settle", WAIT, || filed.exists());
    assert_eq!(b3(&filed), b3(&corpus.join(PHOTO)));
    let state = home.join(".local/state/clean-backup");
    assert!(state.join("clean-backup.db").is_file(), "journal under XDG_STATE_HOME's default");
    assert!(state.join("clean-backupd.sock").exists());
    let log = std::fs::read_to_string(t.path().join("daemon.log")).unwrap();
    assert!(
        log.contains("no D-Bus session bus: serving cbctl on the socket only"),
        "no session bus is said plainly, not a failure:\n{log}"
    );
    assert!(!log.contains("WARN"), "a first run without a session bus warns of nothing:\n{log}");
    signal(&mut daemon.0, libc::SIGTERM);
    assert_eq!(daemon.0.wait().unwrap().code(), Some(0));
}

/// `(device, inode)` of an open file, as systemd writes JOURNAL_STREAM.
fn dev_ino(f: &std::fs::File) -> String {
    use std::os::unix::fs::MetadataExt;
    let m = f.metadata().unwrap();
    format!("{}:{}", m.dev(), m.ino())
}

#[test]
fn logs_go_to_the_journal_under_systemd_and_to_stderr_otherwise() {
    use std::os::unix::net::UnixDatagram;
    let journal = Path::new("/run/systemd/journal/socket");
    if journal.exists() || unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").is_err(), "CI runs as root without a journald");
        eprintln!("SKIPPED: needs root and no running journald, to stand in for it at {}", journal.display());
        return;
    }
    std::fs::create_dir_all(journal.parent().unwrap()).unwrap();
    let sock = UnixDatagram::bind(journal).unwrap();
    struct Unlink(&'static str);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    let _unlink = Unlink("/run/systemd/journal/socket");
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();

    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let run_with = |stream: Option<&str>, log: &Path| {
        let err = std::fs::File::create(log).unwrap();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_clean-backupd"));
        cmd.arg("--config").arg(&config);
        match stream {
            Some("this") => cmd.env("JOURNAL_STREAM", dev_ino(&err)),
            Some(other) => cmd.env("JOURNAL_STREAM", other),
            None => cmd.env_remove("JOURNAL_STREAM"),
        };
        let mut d = Daemon(cmd.stderr(Stdio::from(err)).spawn().unwrap());
        wait_for("the control socket", WAIT, || status_ok(&config));
        signal(&mut d.0, libc::SIGTERM);
        assert_eq!(d.0.wait().unwrap().code(), Some(0));
    };

    // Started by systemd: stderr is the journal stream named in JOURNAL_STREAM.
    let log = t.path().join("journal-run.log");
    run_with(Some("this"), &log);
    let mut entries = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = sock.recv(&mut buf) {
        let entry = journal_fields(&buf[..n]);
        let last = entry.get("MESSAGE").is_some_and(|m| m.contains("stopping"));
        entries.push(entry);
        if last {
            break;
        }
    }
    let start = entries
        .iter()
        .find(|e| e.get("MESSAGE").is_some_and(|m| m == "clean-backupd watching"))
        .unwrap_or_else(|| panic!("the start line in the journal: {entries:?}"));
    assert_eq!(start["SYSLOG_IDENTIFIER"], "clean-backupd");
    assert_eq!(start["PRIORITY"], "5", "tracing-journald logs info as notice");
    assert!(start.get("F_INBOXES").is_some_and(|n| n == "1"), "structured fields travel as journal fields: {start:?}");
    assert!(!std::fs::read_to_string(&log).unwrap().contains("watching"), "not on stderr as well");

    // Not the stream systemd set up (a child redirected elsewhere), or no systemd: stderr.
    for (stream, name) in [(Some("1:1"), "other-stream.log"), (None, "plain.log")] {
        let log = t.path().join(name);
        run_with(stream, &log);
        assert!(std::fs::read_to_string(&log).unwrap().contains("clean-backupd watching"), "{name}");
    }
    sock.set_nonblocking(true).unwrap();
    assert!(sock.recv(&mut buf).is_err(), "nothing more went to the journal");
}

/// The fields of one datagram in journald's native protocol: `KEY=value\n`,
/// or `KEY\n` + 64-bit little-endian length + value + `\n`.
fn journal_fields(mut b: &[u8]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    while let Some(nl) = b.iter().position(|&c| c == b'\n') {
        let line = &b[..nl];
        if let Some(eq) = line.iter().position(|&c| c == b'=') {
            out.insert(String::from_utf8_lossy(&line[..eq]).into(), String::from_utf8_lossy(&line[eq + 1..]).into());
            b = &b[nl + 1..];
        } else {
            let rest = &b[nl + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.insert(String::from_utf8_lossy(line).into(), String::from_utf8_lossy(&rest[8..8 + len]).into());
            b = &rest[8 + len + 1..];
        }
    }
    out
}

#[test]
fn a_missing_or_emptied_library_pauses_filing_and_a_missing_inbox_is_waited_for() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let _daemon = start_logged(t.path(), &config, "daemon.log");
    let (inbox, lib, away) = (t.path().join("inbox"), t.path().join("lib"), t.path().join("lib.away"));
    std::fs::copy(corpus.join(PHOTO), inbox.join("Canon_40D.jpg")).unwrap();
    // Filed and journaled (the batch committed), not only renamed into place.
    wait_for("the photo to be filed", WAIT, || t.path().join(FILED).exists() && status(&config)["index_files"] == 1);

    // The disk goes away: the library folder is gone.
    std::fs::rename(&lib, &away).unwrap();
    wait_for("the library to be reported missing", WAIT, || status(&config)["library_available"] == false);
    let s = status(&config);
    assert!(s["last_error"].as_str().unwrap().contains("is not there (a disk not mounted?)"), "{s}");
    assert!(s["library_problem"].as_str().unwrap().contains("never creates the library folder"), "{s}");
    let other = inbox.join("DSCN0010.jpg");
    std::fs::copy(corpus.join(OTHER), &other).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(other.exists() && !lib.exists(), "nothing filed, and the library is not re-created on the mount point");

    // The mount point is there but the disk is not: an empty folder without the library's marker.
    std::fs::create_dir(&lib).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let s = status(&config);
    assert_eq!(s["library_available"], false, "{s}");
    assert!(s["last_error"].as_str().unwrap().contains("without its marker .clean-backup-library"), "{s}");
    assert_eq!(s["index_files"], 1, "the index is not emptied to match");
    assert!(other.exists() && std::fs::read_dir(&lib).unwrap().next().is_none(), "nothing filed onto the mount point");

    // The disk is back: filing resumes.
    std::fs::remove_dir(&lib).unwrap();
    std::fs::rename(&away, &lib).unwrap();
    wait_for("the waiting photo to be filed", WAIT, || t.path().join(OTHER_FILED).exists());
    assert_eq!(status(&config)["library_available"], true);
    assert_eq!(b3(&t.path().join(OTHER_FILED)), b3(&corpus.join(OTHER)));

    // An inbox that goes away is reported and waited for.
    let inbox_away = t.path().join("inbox.away");
    std::fs::rename(&inbox, &inbox_away).unwrap();
    wait_for("the inbox to be reported missing", WAIT, || status(&config)["inboxes"][0]["available"] == false);
    std::fs::copy(corpus.join(THIRD), inbox_away.join("third.jpg")).unwrap();
    std::fs::rename(&inbox_away, &inbox).unwrap();
    wait_for("the inbox to be back and its photo filed", WAIT, || t.path().join("lib/2004/08/third.jpg").exists());
    assert_eq!(status(&config)["inboxes"][0]["available"], true);

    // Emptied on purpose: `cbctl rescan` says so, the index follows, filing resumes.
    std::fs::rename(&lib, &away).unwrap();
    std::fs::create_dir(&lib).unwrap();
    wait_for("the empty library to be noticed", WAIT, || status(&config)["library_available"] == false);
    assert_eq!(run(ctl(&config).arg("rescan")).status.code(), Some(0));
    wait_for("filing to resume", WAIT, || status(&config)["library_available"] == true);
    assert_eq!(status(&config)["index_files"], 0);
}
