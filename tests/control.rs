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
    assert!(r["error"]["message"].as_str().unwrap().contains("malformed"), "{r}");
    let mut long = vec![b'x'; 70 * 1024];
    long.push(b'\n');
    let r = raw_request(&socket, &long);
    assert!(r["error"]["message"].as_str().unwrap().contains("longer than"), "{r}");
    let r = raw_request(&socket, b"{\"v\":9,\"id\":4,\"method\":\"status\"}\n");
    assert!(r["error"]["message"].as_str().unwrap().contains("version 9"), "{r}");
    let r = raw_request(&socket, b"{\"v\":1,\"id\":5,\"method\":\"explode\"}\n");
    assert_eq!((r["id"].as_u64(), r["error"]["message"].as_str().is_some()), (Some(5), true), "{r}");
    assert_eq!(status(&config)["version"], 1);

    // A second daemon on the same state refuses to start.
    let second = Command::new(env!("CARGO_BIN_EXE_clean-backupd")).arg("--config").arg(&config).output().unwrap();
    assert_eq!(second.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&second.stderr).contains("locked"));
    assert!(daemon.0.try_wait().unwrap().is_none(), "the first daemon still runs");
}

/// Reads lines from a raw connection until the response (a line without "event").
fn raw_stream(socket: &Path, line: &[u8]) -> (Vec<serde_json::Value>, serde_json::Value) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.write_all(line).unwrap();
    let mut events = Vec::new();
    for l in BufReader::new(s).lines() {
        let v: serde_json::Value = serde_json::from_str(&l.unwrap()).unwrap();
        if v.get("event").is_some() {
            events.push(v);
        } else {
            return (events, v);
        }
    }
    panic!("connection closed before the response");
}

#[test]
fn one_shot_jobs_run_on_the_daemon_with_their_progress_streamed_back() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (mut daemon, config) = start(t.path());
    let socket = t.path().join("state/clean-backupd.sock");
    let (src, dest) = (t.path().join("camera"), t.path().join("archive"));
    let photos = ["exif-samples/jpg/Canon_40D.jpg", "exif-samples/jpg/gps/DSCN0010.jpg"];
    copy_corpus(&corpus, &photos, &src);
    let before = tree(&src);

    // The daemon holds the state lock, so this can only work through it.
    let out = run(ctl(&config).arg("--json").arg("organize").arg(&src).arg(&dest));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let lines = json_lines(&out);
    let moved: Vec<_> = lines.iter().filter(|l| l["outcome"] == "moved").collect();
    assert_eq!(moved.len(), 2, "one progress line per file: {lines:?}");
    let s = summary(&lines);
    assert_eq!(s["filed"].as_u64(), Some(2), "{s}");
    assert_eq!(b3(&dest.join("2008/05/Canon_40D.jpg")), b3(&corpus.join(photos[0])));
    assert_eq!(b3(&dest.join("2008/10/DSCN0010.jpg")), b3(&corpus.join(photos[1])));
    let session = s["session"].as_i64().unwrap();
    let history = json_lines(&run(ctl(&config).arg("--json").arg("history")));
    assert!(history.iter().any(|h| h["id"] == session && h["kind"] == "organize"), "{history:?}");

    // The protocol itself: progress lines carry the request id, then the summary.
    std::fs::copy(dest.join("2008/05/Canon_40D.jpg"), dest.join("copy.jpg")).unwrap();
    let req = serde_json::json!({"v": 1, "id": 42, "method": "job.submit", "params": {"stream": true, "spec": {
        "kind": "dedup", "dirs": [dest], "action": "report",
        "group": {"threshold": 6, "perceptual": true, "names": false}}}});
    let (events, response) = raw_stream(&socket, format!("{req}\n").as_bytes());
    assert!(events.iter().all(|e| e["id"] == 42 && e["v"] == 1), "{events:?}");
    let group = events.iter().find(|e| e["event"].get("keeper").is_some()).expect("a group event");
    assert_eq!(group["event"]["members"].as_array().map(Vec::len), Some(1), "{group}");
    assert_eq!((response["id"].as_u64(), response["result"]["groups"].as_u64()), (Some(42), Some(1)), "{response}");

    // Unstreamed (as D-Bus submits): the job id at once.
    let req = serde_json::json!({"v": 1, "id": 43, "method": "job.submit", "params": {"spec": {
        "kind": "dedup", "dirs": [dest], "action": "report",
        "group": {"threshold": 6, "perceptual": true, "names": false}}}});
    let r = raw_request(&socket, format!("{req}\n").as_bytes());
    assert!(r["result"]["job"].as_u64().is_some(), "{r}");
    let r = raw_request(
        &socket,
        b"{\"v\":1,\"id\":44,\"method\":\"job.submit\",\"params\":{\"spec\":{\"kind\":\"nope\"}}}\n",
    );
    assert!(r["error"]["message"].as_str().unwrap().contains("bad params for job.submit"), "{r}");
    assert_eq!(r["error"]["kind"], "usage");

    // A job's usage error keeps its exit code 2 through the daemon.
    let out = run(ctl(&config).arg("organize").arg(t.path().join("missing")).arg(&dest));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such folder"), "{out:?}");

    // And the job's session is undone through the daemon too.
    let out = run(ctl(&config).arg("--json").arg("undo").arg(session.to_string()));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(tree(&src), before);
    let s = status(&config);
    assert_eq!((s["job"].is_null(), s["jobs_queued"].as_u64()), (true, Some(0)), "{s}");
    assert!(daemon.0.try_wait().unwrap().is_none(), "the daemon still runs");
}

/// A system service sees only its own folders (`ProtectHome=yes` hides
/// /home). A job on a folder the user can see but the daemon cannot must say
/// so, and how to open it, rather than "no such folder" for a folder that is
/// plainly there. The daemon runs with a tmpfs over the folder's parent, as
/// systemd's sandbox would hide it.
#[test]
fn a_job_on_a_folder_the_sandboxed_daemon_cannot_see_says_how_to_open_it() {
    let Some(corpus) = corpus() else { return };
    if !can_sandbox() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    let config = root.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "library = \"{0}/lib\"\nstate_dir = \"{0}/state\"\n[[inbox]]\npath = \"{0}/inbox\"\n[control]\ndbus = \"off\"\njob_roots = [\"{0}\"]\n",
            root.display()
        ),
    )
    .unwrap();
    let pictures = root.join("home/Pictures");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &pictures);
    let before = tree(&pictures);
    let _daemon = start_daemon_sandboxed(&config, &format!("mount -t tmpfs tmpfs '{}'", root.join("home").display()));

    for args in [&["dedup"][..], &["organize"][..]] {
        let mut cmd = ctl(&config);
        cmd.args(args).arg(&pictures);
        if args[0] == "organize" {
            cmd.arg(root.join("lib"));
        }
        let out = run(&mut cmd);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(&format!("clean-backupd cannot see {}", pictures.display())), "{err}");
        assert!(err.contains("systemctl edit clean-backupd"), "{err}");
        assert!(err.contains(&format!("ReadWritePaths={}", pictures.display())), "{err}");
        assert!(err.contains("--local"), "{err}");
    }
    // A folder missing for everyone is still just missing.
    let out = run(ctl(&config).arg("dedup").arg(root.join("nowhere")));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("no such folder") && !err.contains("cannot see"), "{err}");
    assert_eq!(tree(&pictures), before);
}
