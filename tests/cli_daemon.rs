//! cbctl as a new user meets it, against the real daemon: finding it with
//! no flags, exit codes, what goes to stdout and what to stderr, messages
//! that say what to do. (tests/cli.rs covers what needs no daemon.)

mod common;

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::*;

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

/// cbctl with no --config and no config of its own: only the runtime folder to go by.
fn bare_cbctl(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cbctl"));
    c.env_remove("CLEAN_BACKUP_CONFIG")
        .env("HOME", dir.join("home"))
        .env("XDG_CONFIG_HOME", dir.join("home/config"))
        .env("XDG_STATE_HOME", dir.join("home/state"))
        .env("XDG_RUNTIME_DIR", dir.join("run"));
    c
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

#[test]
fn cbctl_finds_the_daemon_with_no_flags_and_says_plainly_when_it_is_gone() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let mut daemon = start_daemon_logged(&config, &t.path().join("log"));

    // The daemon says where it is in the runtime folder ...
    let advert: serde_json::Value =
        serde_json::from_slice(&std::fs::read(t.path().join("run/clean-backup/daemon.json")).unwrap()).unwrap();
    assert_eq!(advert["pid"], daemon.0.id(), "{advert}");
    // ... so a cbctl with no flags and no config of its own finds it.
    let out = run(bare_cbctl(t.path()).args(["--json", "status"]));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let s = summary(&json_lines(&out));
    assert_eq!(s["pid"], daemon.0.id());
    assert!(s["library"].as_str().unwrap().ends_with("/lib"), "{s}");
    // And reads the daemon's config too.
    let out = run(bare_cbctl(t.path()).args(["config", "get", "watch.settle_seconds"]));
    assert_eq!((code(&out), text(&out.stdout)), (Some(0), "1\n".to_string()), "{}", text(&out.stderr));

    // A clean stop takes the advertisement away; then "not running", with no --local to suggest.
    signal(&mut daemon.0, libc::SIGTERM);
    assert!(daemon.0.wait().unwrap().success());
    assert!(!t.path().join("run/clean-backup/daemon.json").exists());
    let out = run(ctl(&config).arg("status"));
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(3), "{err}");
    assert!(err.contains("clean-backupd is not running") && err.contains("start it"), "{err}");
    assert!(!err.contains("--local"), "status cannot be answered with --local: {err}");
    // With --local: it says to drop it, exit 2.
    let out = run(ctl(&config).args(["--local", "status"]));
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("drop --local"), "{err}");
}

#[test]
fn another_user_is_told_permission_denied_and_what_to_do_not_that_the_daemon_is_down() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let _daemon = start_daemon_logged(&config, &t.path().join("log"));
    // The daemon's folders are its own (state 0700); its config and runtime folder are readable.
    for p in [t.path().to_path_buf(), t.path().join("run"), t.path().join("run/clean-backup")] {
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let exe = t.path().join("cbctl");
    std::fs::copy(env!("CARGO_BIN_EXE_cbctl"), &exe).unwrap();
    std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
    let as_nobody = || {
        run(Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
            .arg(&exe)
            .arg("status")
            .env_remove("CLEAN_BACKUP_CONFIG")
            .env("HOME", "/nonexistent")
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .env("XDG_RUNTIME_DIR", t.path().join("run")))
    };
    // A process another test forks while the copy is still open for writing
    // holds it until it execs: exec then fails with "Text file busy". Try again.
    let mut out = as_nobody();
    for _ in 0..20 {
        if !text(&out.stderr).contains("Text file busy") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        out = as_nobody();
    }
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("permission denied") && err.contains("runs as root"), "{err}");
    assert!(err.contains("control.allow_users") && err.contains("sudo"), "{err}");
    assert!(!err.contains("not running"), "{err}");
}

#[test]
fn a_closed_pipe_ends_cbctl_quietly() {
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    make_photos(&src, 3);
    assert_eq!(code(&run(cbctl(&state).arg("organize").arg(&src).arg(&lib))), Some(0));
    // `cbctl history | head -0`: the reader is gone before cbctl writes.
    let mut child = cbctl(&state).arg("history").stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    let status = child.wait().unwrap();
    assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "{err}");
    use std::os::unix::process::ExitStatusExt;
    assert!(status.success() || status.signal() == Some(libc::SIGPIPE), "{status:?}");
}

#[test]
fn results_go_to_stdout_progress_to_stderr_and_summaries_count_right() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, lib, state) = work_dirs(t.path());
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &src);

    // `organize --dry-run > plan.txt` holds the plan.
    let out = run(cbctl(&state).arg("organize").arg("--dry-run").arg(&src).arg(&lib));
    assert_eq!(code(&out), Some(0));
    let (plan, err) = (text(&out.stdout), text(&out.stderr));
    let photo = src.join("exif-samples/jpg/Canon_40D.jpg");
    assert!(plan.contains(&format!("would file {}", photo.display())), "{plan}");
    assert!(plan.contains("2008/05/Canon_40D.jpg"), "{plan}");
    assert!(plan.contains("1 file scanned: 1 would be filed"), "{plan}");
    assert!(!err.contains("would file"), "{err}");

    // A copy says copied, all the way along, and counts in the singular.
    let out = run(cbctl(&state).arg("organize").arg("--copy").arg(&src).arg(&lib));
    let said = text(&out.stdout);
    assert!(said.contains("1 file scanned: 1 copied, 0 exact duplicates"), "{said}");
    assert!(!said.contains("moved"), "{said}");
    assert!(said.contains("copied (session"), "{said}");
    assert!(photo.exists());

    // dedup --action delete says where the trash is.
    std::fs::copy(lib.join("2008/05/Canon_40D.jpg"), lib.join("again.jpg")).unwrap();
    let out = run(cbctl(&state).args(["dedup", "--action", "delete"]).arg(&lib));
    let said = text(&out.stdout);
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    assert!(said.contains("1 group, 1 duplicate"), "{said}");
    assert!(said.contains(&format!("trash: {}", lib.join(".clean-backup-trash").display())), "{said}");
}

#[test]
fn exit_codes_keep_the_contract_through_the_daemon_and_locally() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let _daemon = start_daemon_logged(&config, &t.path().join("log"));
    let src = t.path().join("camera");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &src);

    // A bad key is a usage error, 2, for get and set alike, through the daemon and without it.
    for local in [false, true] {
        for args in [vec!["config", "get", "no.such.key"], vec!["config", "set", "no.such.key", "1"]] {
            let mut c = ctl(&config);
            if local {
                c.arg("--local");
            }
            let out = run(c.args(&args));
            assert_eq!(code(&out), Some(2), "{args:?} local={local}: {}", text(&out.stderr));
        }
    }

    // Undo of a session already undone is an error (2), and makes no session.
    let out = run(ctl(&config).args(["--json", "organize"]).arg(&src).arg(t.path().join("lib")));
    assert_eq!(code(&out), Some(0), "{}", text(&out.stderr));
    let session = summary(&json_lines(&out))["session"].as_i64().unwrap().to_string();
    assert_eq!(code(&run(ctl(&config).args(["undo", &session]))), Some(0));
    let sessions = json_lines(&run(ctl(&config).args(["--json", "history"]))).len();
    let out = run(ctl(&config).args(["undo", &session]));
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("already undone"), "{err}");
    assert_eq!(json_lines(&run(ctl(&config).args(["--json", "history"]))).len(), sessions);

    // `cbctl undo` alone: which session? And --last is named.
    let out = run(ctl(&config).arg("undo"));
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("cbctl history") && err.contains("--last"), "{err}");

    // --local while the daemon holds the journal: drop --local, not "use cbctl".
    let out = run(ctl(&config).args(["--local", "history"]));
    let err = text(&out.stderr);
    assert_eq!(code(&out), Some(2), "{err}");
    assert!(err.contains("drop --local"), "{err}");
    assert!(!err.contains("use `cbctl`"), "{err}");
}

#[test]
fn help_shows_every_command_its_values_and_completions_know_the_config_keys() {
    let help = text(&run(Command::new(env!("CARGO_BIN_EXE_cbctl")).arg("--help")).stdout);
    assert!(help.contains("generate-docs"), "{help}");
    let dedup = text(&run(Command::new(env!("CARGO_BIN_EXE_cbctl")).args(["dedup", "--help"])).stdout);
    assert!(dedup.contains("--action <report|move|copy|delete>"), "{dedup}");
    let prune = text(&run(Command::new(env!("CARGO_BIN_EXE_cbctl")).args(["prune", "--help"])).stdout);
    assert!(prune.contains("[default: 30]") && prune.contains("--dry-run") && prune.contains("--yes"), "{prune}");
    let bash = text(&run(Command::new(env!("CARGO_BIN_EXE_cbctl")).args(["completions", "bash"])).stdout);
    for key in ["watch.settle_seconds", "dedup.threshold", "layout_undated", "inbox.0.path"] {
        assert!(bash.contains(key), "completions offer {key}");
    }
}

#[test]
fn an_old_or_new_client_gets_a_version_error_that_says_what_to_upgrade() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let _daemon = start_daemon_logged(&config, &t.path().join("log"));
    let socket = t.path().join("state/clean-backupd.sock");
    let mut s = std::os::unix::net::UnixStream::connect(&socket).unwrap();
    std::io::Write::write_all(&mut s, b"{\"v\":2,\"id\":7,\"method\":\"status\",\"params\":{}}\n").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(s), &mut line).unwrap();
    let r: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!((r["id"].as_u64(), r["error"]["kind"].as_str()), (Some(7), Some("version")), "{r}");
    assert!(r["error"]["message"].as_str().unwrap().contains("version 2"), "{r}");
    assert!(r["error"]["hint"].as_str().unwrap().contains("upgrade clean-backupd"), "{r}");
}
