//! `cbctl` talking to a running `clean-backupd` over its Unix socket:
//! status counts, pause/resume, undo of the last import while the daemon
//! holds the state, and requests that are malformed or too long.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;

/// cbctl with the test's config (and so its state dir), not the user's.
fn ctl(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cbctl"));
    c.arg("--config").arg(config).env_remove("CLEAN_BACKUP_CONFIG");
    c
}

fn status(config: &Path) -> serde_json::Value {
    let out = run(ctl(config).arg("--json").arg("status"));
    assert_eq!(out.status.code(), Some(0), "status");
    summary(&json_lines(&out))
}

fn raw_request(socket: &Path, line: &[u8]) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(line).unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

fn start(t: &Path) -> (Daemon, PathBuf) {
    let config = daemon_config(t, 1);
    let daemon = start_daemon(&config);
    let socket = t.join("state/clean-backupd.sock");
    wait_for("the control socket", Duration::from_secs(20), || socket.exists());
    (daemon, config)
}

#[test]
fn status_counts_pause_resume_and_undo_of_the_last_import_go_through_the_daemon() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let out = run(cbctl(&t.path().join("s")).arg("status"));
    assert_eq!(out.status.code(), Some(3), "no daemon: exit 3");
    assert!(String::from_utf8_lossy(&out.stderr).contains("not running"));

    let (mut daemon, config) = start(t.path());
    let socket = t.path().join("state/clean-backupd.sock");
    assert_eq!(std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777, 0o600);
    let inbox = t.path().join("inbox");
    let lib = t.path().join("lib");

    let photo = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    std::fs::copy(&photo, inbox.join("Canon_40D.jpg")).unwrap();
    wait_for("the photo to be filed", Duration::from_secs(20), || status(&config)["total"]["filed"] == 1);
    let filed = lib.join("2008/05/Canon_40D.jpg");
    assert_eq!(b3(&filed), b3(&photo));
    // The same photo again, under another name: a duplicate of the library's, left in the inbox.
    std::fs::copy(&photo, inbox.join("again.jpg")).unwrap();
    wait_for("the duplicate to be skipped", Duration::from_secs(20), || status(&config)["total"]["skipped"] == 1);
    assert!(inbox.join("again.jpg").exists());
    let s = status(&config);
    assert_eq!((s["today"]["filed"].as_u64(), s["index_files"].as_u64()), (Some(1), Some(1)), "{s}");
    assert_eq!(s["inboxes"][0]["available"], true);

    // Paused: nothing is filed; resumed: it is.
    assert_eq!(run(ctl(&config).arg("pause")).status.code(), Some(0));
    assert_eq!(status(&config)["paused"], true);
    let other = corpus.join("exif-samples/jpg/gps/DSCN0010.jpg");
    std::fs::copy(&other, inbox.join("DSCN0010.jpg")).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    assert!(inbox.join("DSCN0010.jpg").exists(), "filed while paused");
    assert_eq!(run(ctl(&config).arg("resume")).status.code(), Some(0));
    wait_for("the paused file to be filed", Duration::from_secs(20), || status(&config)["total"]["filed"] == 2);

    // Library changes behind the daemon's back are picked up by a rescan.
    std::fs::create_dir_all(lib.join("by-hand")).unwrap();
    std::fs::copy(corpus.join("exif-samples/jpg/mobile/jolla.jpg"), lib.join("by-hand/jolla.jpg")).unwrap();
    std::fs::remove_file(&filed).unwrap();
    let out = run(ctl(&config).arg("--json").arg("rescan"));
    assert_eq!(out.status.code(), Some(0));
    let r = &summary(&json_lines(&out))["result"];
    assert_eq!((r["added"].as_u64(), r["removed"].as_u64(), r["files"].as_u64()), (Some(1), Some(1), Some(2)), "{r}");
    assert_eq!(status(&config)["index_files"], 2);

    // The daemon holds the state lock; undo goes through it and puts the last import back.
    let out = run(ctl(&config).arg("--json").arg("undo").arg("--last"));
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(summary(&json_lines(&out))["reverted"].as_u64(), Some(1));
    assert_eq!(b3(&inbox.join("DSCN0010.jpg")), b3(&other));
    std::thread::sleep(Duration::from_secs(3));
    assert!(inbox.join("DSCN0010.jpg").exists(), "an undone import is not filed again");
    let out = run(ctl(&config).arg("--json").arg("history"));
    assert_eq!(out.status.code(), Some(0));
    assert!(json_lines(&out).iter().any(|l| l["kind"] == "undo"));

    // Bad requests get an error response, and the daemon carries on.
    let r = raw_request(&socket, b"this is not json\n");
    assert!(r["error"].as_str().unwrap().contains("malformed"), "{r}");
    let mut long = vec![b'x'; 70 * 1024];
    long.push(b'\n');
    let r = raw_request(&socket, &long);
    assert!(r["error"].as_str().unwrap().contains("longer than"), "{r}");
    let r = raw_request(&socket, b"{\"v\":9,\"id\":4,\"method\":\"status\"}\n");
    assert!(r["error"].as_str().unwrap().contains("version 9"), "{r}");
    let r = raw_request(&socket, b"{\"v\":1,\"id\":5,\"method\":\"explode\"}\n");
    assert_eq!((r["id"].as_u64(), r["error"].as_str().is_some()), (Some(5), true), "{r}");
    assert_eq!(status(&config)["version"], 1);

    // A second daemon on the same state refuses to start.
    let second = Command::new(env!("CARGO_BIN_EXE_clean-backupd")).arg("--config").arg(&config).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("locked"));
    assert!(daemon.0.try_wait().unwrap().is_none(), "the first daemon still runs");
}
