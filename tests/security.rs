//! The daemon and cbctl tried as an attacker and as a careless admin would:
//! a symlink swapped into an inbox while files are filed, a control socket
//! reachable by another user (`nobody`, through setpriv), a hostile umask,
//! too many connections, and malformed requests. Each test runs the real
//! binaries on real folders and checks where every byte ended up.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

const NOBODY: u32 = 65534;

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Tests that act as another user need root (CI runs as root) and setpriv.
fn can_switch_user() -> bool {
    let ok = is_root() && Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !ok {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root with setpriv (util-linux)");
        eprintln!("SKIPPED: needs root and setpriv to act as `nobody`");
    }
    ok
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

/// A JPEG of `base` with a comment segment holding `tag` (always 16 bytes):
/// valid, the same size for any tag, different bytes.
fn tagged_jpeg(base: &[u8], tag: &str) -> Vec<u8> {
    let mut tag = tag.as_bytes().to_vec();
    tag.resize(16, b'.');
    let mut out = base[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xFE, 0, 18]);
    out.extend_from_slice(&tag);
    out.extend_from_slice(&base[2..]);
    out
}

/// A test folder `nobody` can enter, with the test daemon's config (readable by all).
fn open_setup() -> (tempfile::TempDir, PathBuf) {
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    let config = daemon_config(t.path(), 1);
    chmod(&config, 0o644);
    (t, config)
}

/// A copy of cbctl in `dir` (which `nobody` can reach), run as `nobody`.
fn cbctl_as_nobody(dir: &Path, config: &Path) -> Command {
    let exe = dir.join("cbctl");
    if !exe.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_cbctl"), &exe).unwrap();
        chmod(&exe, 0o755);
    }
    let mut c = Command::new("setpriv");
    c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups"])
        .arg(&exe)
        .arg("--config")
        .arg(config)
        .env_remove("CLEAN_BACKUP_CONFIG")
        .env("HOME", dir)
        .env("XDG_CONFIG_HOME", dir.join("nobody-config"));
    c
}

fn start_logged_with(config: &Path, log: &Path, tweak: impl FnOnce(&mut Command)) -> Daemon {
    let mut c = Command::new(env!("CARGO_BIN_EXE_clean-backupd"));
    c.arg("--config").arg(config).env("CLEAN_BACKUP_LOG", "info").stderr(std::fs::File::create(log).unwrap());
    tweak(&mut c);
    let daemon = Daemon(c.spawn().expect("start clean-backupd"));
    wait_for("the daemon", Duration::from_secs(30), || {
        ctl(config).arg("status").output().map(|o| o.status.success()).unwrap_or(false)
    });
    daemon
}

/// `renameat2(a, b, RENAME_EXCHANGE)`: swaps two names atomically.
fn exchange(a: &Path, b: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let ca = std::ffi::CString::new(a.as_os_str().as_bytes()).unwrap();
    let cb = std::ffi::CString::new(b.as_os_str().as_bytes()).unwrap();
    // SAFETY: both are valid NUL-terminated paths.
    unsafe { libc::renameat2(libc::AT_FDCWD, ca.as_ptr(), libc::AT_FDCWD, cb.as_ptr(), libc::RENAME_EXCHANGE) == 0 }
}

#[test]
fn a_symlink_swapped_into_an_inbox_never_brings_an_outside_file_into_the_library() {
    let Some(corpus) = corpus() else { return };
    let base = std::fs::read(corpus.join("exif-samples/jpg/Canon_40D.jpg")).unwrap();
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    // Exact matching only: every tagged copy is a file of its own to file.
    let text = std::fs::read_to_string(&config).unwrap() + "[dedup]\nperceptual = false\n";
    std::fs::write(&config, text).unwrap();
    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    std::fs::create_dir_all(&lib).unwrap();
    // The outside folder: 0700, holding a file of the same name and size as each inbox file.
    let outside = t.path().join("private");
    std::fs::create_dir(&outside).unwrap();
    const N: usize = 400;
    let mut outside_hashes = std::collections::BTreeSet::new();
    for i in 0..N {
        let bytes = tagged_jpeg(&base, &format!("OUTSIDE {i}"));
        std::fs::write(outside.join(format!("photo-{i}.jpg")), &bytes).unwrap();
        outside_hashes.insert(blake3::hash(&bytes).to_hex().to_string());
    }
    chmod(&outside, 0o700);
    let before_outside = tree(&outside);
    let real = inbox.join("sub");
    std::fs::create_dir_all(&real).unwrap();
    std::os::unix::fs::symlink(&outside, inbox.join(".swap")).unwrap();
    let mut daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));

    // Swap `sub` and `.swap` every 30-60 ms while the daemon settles and files.
    let stop = Arc::new(AtomicBool::new(false));
    let swaps = {
        let (stop, a, b) = (Arc::clone(&stop), inbox.join("sub"), inbox.join(".swap"));
        std::thread::spawn(move || {
            let mut rng = Rng(7);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if exchange(&a, &b) {
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(30 + rng.below(31)));
            }
            // Leave the real folder at `sub`.
            if std::fs::symlink_metadata(&a).is_ok_and(|m| m.file_type().is_symlink()) {
                exchange(&a, &b);
            }
            n
        })
    };
    // Keep the real folder stocked through a descriptor, whatever its name is at the moment.
    let dir = std::fs::File::open(&real).unwrap();
    use std::os::fd::AsRawFd;
    let via_fd = PathBuf::from(format!("/proc/self/fd/{}", dir.as_raw_fd()));
    let mut inside_hashes = std::collections::BTreeSet::new();
    let start = Instant::now();
    let mut next = 0;
    while start.elapsed() < Duration::from_secs(22) && next < N {
        let bytes = tagged_jpeg(&base, &format!("inside {next}"));
        let tmp = via_fd.join(format!(".part-{next}"));
        std::fs::write(&tmp, &bytes).unwrap();
        std::fs::rename(&tmp, via_fd.join(format!("photo-{next}.jpg"))).unwrap();
        inside_hashes.insert(blake3::hash(&bytes).to_hex().to_string());
        next += 1;
        std::thread::sleep(Duration::from_millis(250));
    }
    stop.store(true, Ordering::Relaxed);
    let swapped = swaps.join().unwrap();
    // Until the inbox is empty (on a loaded machine filing the last ones takes a while), then a moment more.
    let emptied = Instant::now();
    let left = || std::fs::read_dir(&real).map_or(0, |d| d.filter_map(Result::ok).count());
    while left() > 0 && emptied.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    // Stop the daemon before counting, so the library and the journal are read at one moment.
    signal(&mut daemon.0, libc::SIGTERM);
    let _ = daemon.0.wait();

    // The photos filed (not the library's own marker and journal backups).
    let filed: std::collections::BTreeMap<String, usize> = walkdir::WalkDir::new(&lib)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("/.clean-backup"))
        .map(|e| (b3(e.path()), 1))
        .collect();
    eprintln!("{swapped} swaps; {next} inbox files; {} filed", filed.len());
    assert!(swapped > 200, "the race ran: {swapped} swaps");
    assert!(!filed.is_empty(), "files were filed during the race");
    for h in filed.keys() {
        assert!(!outside_hashes.contains(h), "an outside file's bytes reached the library: {h}");
        assert!(inside_hashes.contains(h), "the library holds bytes that were never in the inbox: {h}");
    }
    assert_eq!(tree(&outside), before_outside, "the outside folder is untouched");
    // Every journaled op names the bytes it moved.
    let moves = done_moves(&t.path().join("state"));
    if moves.len() != filed.len() {
        let db = rusqlite::Connection::open(t.path().join("state/clean-backup.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT action, state, src, dst FROM ops WHERE NOT (state = 'done' AND action = 'move')")
            .unwrap();
        let odd: Vec<String> = stmt
            .query_map([], |r| {
                Ok(format!(
                    "{} {} {:?} {:?}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    String::from_utf8_lossy(&r.get::<_, Vec<u8>>(2)?),
                    String::from_utf8_lossy(&r.get::<_, Vec<u8>>(3)?)
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let log = std::fs::read_to_string(t.path().join("daemon.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().filter(|l| l.contains("WARN") || l.contains("ERROR")).collect();
        panic!("{} moves for {} filed; other ops: {odd:?}\nwarnings: {tail:#?}", moves.len(), filed.len());
    }
    for (dst, hash) in moves {
        assert_eq!(b3(Path::new(&dst)), hash, "journal hash of {dst}");
    }
    // Undo brings every filed file back into the inbox, with no conflict.
    let undo = run(ctl(&config).arg("--json").args(["undo", "--last"]));
    assert_eq!(undo.status.code(), Some(0), "{}", String::from_utf8_lossy(&undo.stdout));
    assert!(
        !String::from_utf8_lossy(&undo.stdout).contains("\"conflict\":\""),
        "{}",
        String::from_utf8_lossy(&undo.stdout)
    );
}

/// The (dst, blake3) of every done move in the journal.
fn done_moves(state: &Path) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(state.join("clean-backup.db")).unwrap();
    let mut stmt = db.prepare("SELECT dst, blake3 FROM ops WHERE state = 'done' AND action = 'move'").unwrap();
    let rows = stmt
        .query_map([], |r| Ok((String::from_utf8_lossy(&r.get::<_, Vec<u8>>(0)?).into_owned(), r.get(1)?)))
        .unwrap();
    rows.map(Result::unwrap).collect()
}

#[test]
fn a_socket_opened_to_other_users_answers_them_status_and_refuses_every_change() {
    if !can_switch_user() {
        return;
    }
    let Some(corpus) = corpus() else { return };
    let (t, config) = open_setup();
    let (lib, state) = (t.path().join("lib"), t.path().join("state"));
    std::fs::create_dir_all(&lib).unwrap();
    // A root-only folder with a photo, and a 0600 photo in a 0700 folder.
    let secret = t.path().join("root-only");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &secret);
    std::fs::copy(secret.join("exif-samples/jpg/Canon_40D.jpg"), secret.join("copy.jpg")).unwrap();
    chmod(&secret.join("copy.jpg"), 0o600);
    chmod(&secret, 0o700);
    let before = tree(&secret);
    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    // The careless admin: the socket and its folder opened to everyone.
    chmod(&state, 0o755);
    chmod(&state.join("clean-backupd.sock"), 0o666);

    let nobody = |args: &[&str]| run(cbctl_as_nobody(t.path(), &config).args(args));
    let st = nobody(&["--json", "status"]);
    assert_eq!(st.status.code(), Some(0), "anyone may read the status");
    for (args, what) in [
        (vec!["pause"], "pause"),
        (vec!["config", "set", "dedup.threshold", "20"], "config.set"),
        (vec!["config", "set", "library", "/root"], "config.set"),
        (vec!["prune", "--older-than", "0"], "prune"),
        (vec!["undo", "--last"], "undo"),
    ] {
        let out = nobody(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "nobody may not {args:?}");
        assert!(err.contains("may not call") && err.contains(what), "{args:?}: {err}");
    }
    for args in [
        vec!["dedup".to_string(), "--action".into(), "delete".into(), secret.display().to_string()],
        vec!["organize".to_string(), secret.display().to_string(), lib.display().to_string()],
    ] {
        let out = nobody(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{args:?}");
        assert!(err.contains("may not call job.submit"), "{args:?}: {err}");
    }
    assert_eq!(tree(&secret), before, "nothing in the root-only folder moved");
    assert_eq!(status(&config)["paused"], false);
    assert_eq!(run(ctl(&config).args(["config", "get", "dedup.threshold"])).stdout, b"6\n");
    let log = std::fs::read_to_string(t.path().join("daemon.log")).unwrap();
    assert!(log.contains(&format!("uid={NOBODY}")) && log.contains("refused"), "refusals are logged: {log}");
}

#[test]
fn an_allowed_user_works_with_its_own_rights_never_the_daemons() {
    if !can_switch_user() {
        return;
    }
    let Some(corpus) = corpus() else { return };
    let (t, config) = open_setup();
    let jobs = t.path().join("jobs");
    let text = std::fs::read_to_string(&config)
        .unwrap()
        .replace("job_roots = [\".\"]", &format!("allow_users = [\"nobody\"]\njob_roots = [\"{}\"]", jobs.display()));
    std::fs::write(&config, text).unwrap();
    chmod(&config, 0o644);
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    // nobody's folder: its own photo, and a root-only subfolder holding another.
    let mine = jobs.join("mine");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &mine);
    let private = mine.join("private");
    copy_corpus(&corpus, &["exif-samples/jpg/Nikon_D70.jpg"], &private);
    std::fs::copy(mine.join("exif-samples/jpg/Canon_40D.jpg"), private.join("dup.jpg")).unwrap();
    chmod(&jobs, 0o755);
    for e in walkdir::WalkDir::new(&mine).min_depth(1).contents_first(true) {
        let e = e.unwrap();
        std::os::unix::fs::chown(e.path(), Some(NOBODY), Some(NOBODY)).unwrap();
    }
    std::os::unix::fs::chown(&mine, Some(NOBODY), Some(NOBODY)).unwrap();
    std::os::unix::fs::chown(&private, Some(0), Some(0)).unwrap();
    chmod(&private, 0o700);
    let out_dir = jobs.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    std::os::unix::fs::chown(&out_dir, Some(NOBODY), Some(NOBODY)).unwrap();
    // A root-owned 0700 folder under the job root.
    let closed = jobs.join("closed");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &closed);
    chmod(&closed, 0o700);
    let before_private = tree(&private);
    let before_closed = tree(&closed);

    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    let state = t.path().join("state");
    assert_eq!(mode_of(&state), 0o711, "allowed users can reach the socket, not list the state");
    assert_eq!(mode_of(&state.join("clean-backupd.sock")), 0o666);
    assert_eq!(mode_of(&state.join("clean-backup.db")), 0o600);
    let nobody = |args: &[&str]| run(cbctl_as_nobody(t.path(), &config).args(args));
    assert_eq!(nobody(&["pause"]).status.code(), Some(0), "an allowed user may pause");
    assert_eq!(status(&config)["paused"], true);
    assert_eq!(nobody(&["resume"]).status.code(), Some(0));

    // dedup --action delete over its folder: the root-only subfolder is reported, not touched.
    let out = nobody(&["--json", "dedup", "--action", "delete", mine.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("permission denied") && text.contains("private"), "{text}");
    assert_eq!(tree(&private), before_private, "the root-only folder was not touched");
    // A folder it may not list at all, and one outside every root, are refused whole.
    let out = nobody(&["organize", "--copy", closed.to_str().unwrap(), out_dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("permission denied") && err.contains("closed"), "{err}");
    assert_eq!(tree(&closed), before_closed);
    let out = nobody(&["organize", "--copy", "/etc", out_dir.to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not under a folder this daemon works in"), "{err}");
    // What it may read it gets: its own photo copied into its own folder.
    let out = nobody(&["--json", "organize", "--copy", mine.to_str().unwrap(), out_dir.to_str().unwrap()]);
    let filed = contents(&out_dir);
    assert!(
        filed.contains_key(&b3(&mine.join("exif-samples/jpg/Canon_40D.jpg"))),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        !filed.contains_key(&b3(&private.join("exif-samples/jpg/Nikon_D70.jpg"))),
        "the private photo stayed private"
    );
    // What the daemon made for nobody belongs to nobody, as if it had done the work itself.
    use std::os::unix::fs::MetadataExt;
    // (The library marker is clean-backup's own, not a file made for the caller.)
    let made: Vec<_> = walkdir::WalkDir::new(&out_dir)
        .min_depth(1)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| !is_library_bookkeeping(e.path()))
        .collect();
    assert!(!made.is_empty());
    for e in made {
        assert_eq!(e.metadata().unwrap().uid(), NOBODY, "{} is nobody's", e.path().display());
    }
}

#[test]
fn config_set_refuses_the_root_system_folders_the_state_folder_and_a_missing_library() {
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    let before = std::fs::read_to_string(&config).unwrap();
    let state = t.path().join("state");
    for (value, says) in [
        ("/".to_string(), "root folder"),
        ("/etc".to_string(), "system folder /etc"),
        ("/root/photos".to_string(), "system folder /root"),
        ("/var/lib/photos".to_string(), "system folder /var/lib"),
        (state.join("photos").display().to_string(), "inside the state folder"),
        ("/nonexistent/lib".to_string(), "does not exist"),
    ] {
        for key in ["library", "inbox.0.path"] {
            let out = run(ctl(&config).args(["config", "set", key, &value]));
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{key} = {value}: {err}");
            assert!(err.contains(says) && err.contains("nothing was changed"), "{key} = {value}: {err}");
        }
    }
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before, "the config file is unchanged");
    assert!(!Path::new("/nonexistent/lib").exists());
    assert_eq!(status(&config)["library"], t.path().join("lib").display().to_string());
    // A real folder of its own is fine.
    let other = t.path().join("other-lib");
    std::fs::create_dir(&other).unwrap();
    assert_eq!(run(ctl(&config).args(["config", "set", "library", other.to_str().unwrap()])).status.code(), Some(0));
}

#[test]
fn under_umask_000_the_state_folder_its_files_and_the_socket_are_private_from_the_start() {
    let (t, config) = open_setup();
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    let state = t.path().join("state");
    // Someone else keeps trying to connect while the daemon starts, three times over.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicBool::new(false));
    let prober = can_switch_user().then(|| {
        let script = format!(
            "while :; do printf '{{\"v\":1,\"id\":1,\"method\":\"pause\"}}\\n' | timeout 1 socat - UNIX-CONNECT:{}/clean-backupd.sock 2>/dev/null && echo ANSWERED; done",
            state.display()
        );
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", &script])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()
    });
    for round in 0..3 {
        let daemon = start_logged_with(&config, &t.path().join(format!("daemon{round}.log")), |c| {
            // SAFETY: umask in the child before exec; async-signal-safe.
            unsafe {
                use std::os::unix::process::CommandExt;
                c.pre_exec(|| {
                    libc::umask(0);
                    Ok(())
                });
            }
        });
        assert_eq!(mode_of(&state), 0o700, "state folder");
        for f in ["lock", "clean-backup.db", "clean-backup.db-wal", "clean-backup.db-shm", "clean-backupd.sock"] {
            let p = state.join(f);
            if p.exists() {
                assert_eq!(mode_of(&p), 0o600, "{f}");
            }
        }
        assert_eq!(mode_of(&state.join("clean-backupd.sock")), 0o600);
        drop(daemon);
    }
    stop.store(true, Ordering::Relaxed);
    if let Some(Some(mut p)) = prober {
        let _ = p.kill();
        let out = p.wait_with_output().unwrap();
        if String::from_utf8_lossy(&out.stdout).contains("ANSWERED") {
            answered.store(true, Ordering::Relaxed);
        }
    }
    assert!(!answered.load(Ordering::Relaxed), "nobody got an answer while the daemon started");
}

fn raw_call(state: &Path, line: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(state.join("clean-backupd.sock")).unwrap();
    s.write_all(line.as_bytes()).unwrap();
    s.write_all(b"\n").unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn every_request_field_is_checked_and_a_prune_with_a_bad_time_prunes_nothing() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let (lib, state) = (t.path().join("lib"), t.path().join("state"));
    let dir = t.path().join("photos");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &dir);
    std::fs::copy(dir.join("exif-samples/jpg/Canon_40D.jpg"), dir.join("copy.jpg")).unwrap();
    std::fs::create_dir_all(&lib).unwrap();
    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    let out = run(ctl(&config).args(["dedup", "--action", "delete", dir.to_str().unwrap()]));
    assert_eq!(out.status.code(), Some(0));
    let trashed: Vec<_> = walkdir::WalkDir::new(&dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file() && e.path().to_string_lossy().contains(".clean-backup-trash"))
        .map(|e| e.into_path())
        .collect();
    assert_eq!(trashed.len(), 1, "one copy in the trash");
    for (params, says) in [
        (r#"{"before":"garbage"}"#, "not an RFC 3339 time"),
        (r#"{}"#, "missing field"),
        (r#"{"before":"2999-01-01T00:00:00Z","extra":1}"#, "unknown field"),
        (r#"{"before":7}"#, "invalid type"),
    ] {
        let r = raw_call(&state, &format!(r#"{{"v":1,"id":3,"method":"prune","params":{params}}}"#));
        assert_eq!(r["id"], 3);
        assert!(r["error"]["message"].as_str().unwrap_or_default().contains(says), "{params}: {r}");
        assert!(trashed[0].exists(), "{params} pruned nothing");
    }
    for (line, says) in [
        (r#"{"v":1,"id":4,"method":"history","params":{"limit":-5}}"#, "limit"),
        (r#"{"v":1,"id":5,"method":"undo","params":{"session":"x"}}"#, "invalid type"),
        (r#"{"v":1,"id":6,"method":"undo","params":{}}"#, "undo"),
        (r#"{"v":1,"id":7,"method":"status","params":[1]}"#, "JSON object"),
        (r#"{"v":1,"id":8,"method":"nuke","params":{}}"#, "unknown method"),
        (r#"{"v":1,"id":9,"method":"job.submit","params":{"spec":{"kind":"dedup"}}}"#, "bad params"),
    ] {
        let r = raw_call(&state, line);
        assert!(r["error"]["message"].as_str().unwrap_or_default().contains(says), "{line}: {r}");
    }
    assert!(trashed[0].exists());
    assert_eq!(status(&config)["paused"], false, "the daemon still answers");
}

#[test]
fn idle_connections_from_another_user_cannot_lock_out_the_owner_or_stop_filing() {
    if !can_switch_user() {
        return;
    }
    let Some(corpus) = corpus() else { return };
    let (t, config) = open_setup();
    std::fs::create_dir_all(t.path().join("lib")).unwrap();
    let state = t.path().join("state");
    let _daemon = start_daemon_logged(&config, &t.path().join("daemon.log"));
    chmod(&state, 0o755);
    chmod(&state.join("clean-backupd.sock"), 0o666);
    // `nobody` opens 300 connections and sends nothing.
    let script = format!(
        "for i in $(seq 300); do sleep 600 | socat - UNIX-CONNECT:{}/clean-backupd.sock >/dev/null 2>&1 & done; wait",
        state.display()
    );
    let mut hog = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c", &script])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(3));
    // The owner is still answered at once, and filing goes on.
    let start = Instant::now();
    let st = status(&config);
    assert!(start.elapsed() < Duration::from_secs(5), "status answered at once");
    assert_eq!(st["paused"], false);
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &t.path().join("inbox"));
    let lib = t.path().join("lib");
    wait_for("the photo to be filed", Duration::from_secs(30), || !contents(&lib).is_empty());
    // Past its few places, nobody is refused at once with a reason.
    let probe = Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "sh", "-c"])
        .arg(format!("timeout 5 socat -u UNIX-CONNECT:{}/clean-backupd.sock -", state.display()))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&probe.stdout).contains("connections already"), "{probe:?}");
    let _ = Command::new("pkill").args(["-u", "nobody", "socat"]).status();
    let _ = hog.kill();
    let _ = hog.wait();
}

#[test]
fn on_a_session_bus_open_to_others_the_daemon_checks_each_caller_itself() {
    if !can_switch_user() {
        return;
    }
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    chmod(t.path(), 0o755);
    // A session bus that lets anyone connect: the daemon's own checks are all that stand.
    let socket = t.path().join("bus");
    let bus = PrivateBus::with_config(
        t.path(),
        &socket,
        "<type>session</type><auth>EXTERNAL</auth><policy context=\"default\"><allow user=\"*\"/>\
         <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/></policy>",
    );
    chmod(&socket, 0o777);
    let address = bus.address.clone();
    let config = daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("dbus = \"off\"", "dbus = \"session\"");
    std::fs::write(&config, text).unwrap();
    let secret = t.path().join("root-only");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg"], &secret);
    chmod(&secret, 0o700);
    let before = tree(&secret);
    let log = t.path().join("daemon.log");
    let _daemon = start_logged_with(&config, &log, |c| {
        c.env("DBUS_SESSION_BUS_ADDRESS", &address);
    });
    let busctl = |as_nobody: bool, method: &str, args: &[&str]| {
        let mut c = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "busctl"]);
            c
        } else {
            Command::new("busctl")
        };
        c.arg(format!("--address={address}"))
            .args(["call", "org.cleanbackup.Daemon1", "/org/cleanbackup/Daemon1", "org.cleanbackup.Daemon1", method])
            .args(args)
            .output()
            .unwrap()
    };
    wait_for("the daemon on the bus", Duration::from_secs(20), || busctl(false, "Status", &[]).status.success());
    assert!(busctl(true, "Status", &[]).status.success(), "anyone may read the status");
    let spec = format!(
        r#"{{"kind":"dedup","dirs":["{}"],"action":"delete","group":{{"threshold":6,"perceptual":true,"names":false}}}}"#,
        secret.display()
    );
    for (method, args) in
        [("Pause", vec![]), ("ConfigSet", vec!["ss", "dedup.threshold", "20"]), ("SubmitJob", vec!["s", spec.as_str()])]
    {
        let out = busctl(true, method, &args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "nobody may not call {method}");
        assert!(err.to_lowercase().contains("denied"), "{method}: {err}");
    }
    let text = std::fs::read_to_string(&log).unwrap();
    for method in ["pause", "config.set", "job.submit"] {
        assert!(
            text.lines().any(|l| l.contains("refused") && l.contains(&format!("uid={NOBODY}")) && l.contains(method)),
            "the daemon itself refused {method}: {text}"
        );
    }
    assert_eq!(tree(&secret), before);
    assert_eq!(status(&config)["paused"], false);
    assert!(busctl(false, "Pause", &[]).status.success(), "root may");
    assert_eq!(status(&config)["paused"], true);
}
