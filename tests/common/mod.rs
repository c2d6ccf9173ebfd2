//! Shared helpers for the integration tests: the corpus, its manifest,
//! running the real `cbctl`, and snapshots of folder trees.
#![allow(dead_code)]

pub mod browser;
pub mod variants;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The shared corpus, or `None` (with a message) when it is absent outside CI.
/// Under `CI=true` its absence fails the test.
pub fn corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    if dir.join("MANIFEST.tsv").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("corpus missing at {}: CI must have ../shared/corpus", dir.display());
    }
    eprintln!("SKIP: corpus not found at {}; these tests need ../shared/corpus", dir.display());
    None
}

/// Files whose only capture date sits in a maker's private block that we do
/// not parse; they fall back to the file name or mtime. Empty now: the
/// Olympus APP12, Canon CIFF, Reconyx maker-note and FLIR thermal-camera
/// files that used to be listed here are dated (source `maker-note`) and
/// checked against exiftool like any other. Kept for the next such file.
pub const PROPRIETARY_ONLY: &[(&str, &str)] = &[];

/// One row of MANIFEST.tsv.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub mime: String,
    pub date_time_original: Option<String>,
    pub offset: Option<String>,
    pub create_date: Option<String>,
}

/// Reads MANIFEST.tsv.
pub fn manifest(corpus: &Path) -> Vec<Entry> {
    let text = std::fs::read_to_string(corpus.join("MANIFEST.tsv")).expect("read MANIFEST.tsv");
    let opt = |s: &str| {
        if s == "-" || s.is_empty() {
            None
        } else {
            Some(s.to_string())
        }
    };
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let c: Vec<&str> = line.split('\t').collect();
            (c.len() >= 8).then(|| Entry {
                path: c[0].to_string(),
                mime: c[3].to_string(),
                date_time_original: opt(c[4]),
                offset: opt(c[5]),
                create_date: opt(c[6]),
            })
        })
        .collect()
}

/// The source, library and state folders of a test, under `root`.
pub fn work_dirs(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
    (root.join("src"), root.join("lib"), root.join("state"))
}

/// The real cbctl with a private state dir and no user config.
pub fn cbctl(state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cbctl"));
    c.arg("--state-dir").arg(state).env_remove("CLEAN_BACKUP_CONFIG").env("XDG_CONFIG_HOME", state.join("no-config"));
    c.env("XDG_RUNTIME_DIR", runtime_dir(state));
    c
}

/// The runtime folder (`$XDG_RUNTIME_DIR`) the test's daemon and cbctl
/// share, beside `path`: a daemon advertises itself there, not in the
/// machine's `/run`.
pub fn runtime_dir(path: &Path) -> PathBuf {
    let dir = path.parent().unwrap_or(path).join("run");
    std::fs::create_dir_all(&dir).expect("make the runtime dir");
    dir
}

/// cbctl with the test's config (and so its state dir), not the user's.
pub fn ctl(config: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cbctl"));
    c.arg("--config").arg(config).env_remove("CLEAN_BACKUP_CONFIG").env("XDG_RUNTIME_DIR", runtime_dir(config));
    c
}

/// `cbctl status --json` of the daemon running on `config`.
pub fn status(config: &Path) -> serde_json::Value {
    let out = run(ctl(config).arg("--json").arg("status"));
    assert_eq!(out.status.code(), Some(0), "status");
    summary(&json_lines(&out))
}

/// Sends `sig` to a child process.
pub fn signal(child: &mut Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    // SAFETY: signalling our own child process.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// Runs and returns output, printing stderr on the way for debugging.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run cbctl");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// The JSON lines of an output.
pub fn json_lines(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l:?}: {e}")))
        .collect()
}

/// The final summary object of a `--json` run.
pub fn summary(lines: &[serde_json::Value]) -> serde_json::Value {
    let last = lines.last().expect("some output").clone();
    assert_eq!(last["summary"], true, "last line is the summary: {last}");
    last
}

/// blake3 of a file.
pub fn b3(path: &Path) -> String {
    blake3::hash(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).to_hex().to_string()
}

/// The library's own bookkeeping (its marker and journal backups), not the user's files.
pub fn is_library_bookkeeping(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".clean-backup-library")
        || path.components().any(|c| c.as_os_str() == ".clean-backup-journal")
}

/// Every file under `root` (relative path → blake3); folders listed with "dir";
/// the library's marker and journal backups left out.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    if !root.exists() {
        return out;
    }
    for e in walkdir::WalkDir::new(root).min_depth(1) {
        let e = e.expect("walk");
        if is_library_bookkeeping(e.path()) {
            continue;
        }
        let rel = e.path().strip_prefix(root).expect("prefix").to_path_buf();
        let v = if e.file_type().is_symlink() {
            format!("link -> {}", std::fs::read_link(e.path()).expect("readlink").display())
        } else if e.file_type().is_dir() {
            "dir".to_string()
        } else {
            b3(e.path())
        };
        out.insert(rel, v);
    }
    out
}

/// Copies corpus files (relative paths) into `dst`, keeping their relative paths.
pub fn copy_corpus(corpus: &Path, rels: &[&str], dst: &Path) {
    for rel in rels {
        let to = dst.join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(corpus.join(rel), &to).unwrap_or_else(|e| panic!("copy {rel}: {e}"));
    }
}

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// `n` distinct small photos (random pixels, so no two look alike) in
/// `stage`, by blake3.
pub fn make_photos(stage: &Path, n: usize) -> BTreeMap<String, PathBuf> {
    std::fs::create_dir_all(stage).unwrap();
    let mut rng = Rng(0x5EED);
    let mut out = BTreeMap::new();
    for i in 0..n {
        let pixels: Vec<u8> = (0..48 * 48 * 3).map(|_| rng.next() as u8).collect();
        let mut bytes = Vec::new();
        image::ImageEncoder::write_image(
            image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, 80),
            &pixels,
            48,
            48,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let p = stage.join(format!("IMG_{i:05}.jpg"));
        std::fs::write(&p, &bytes).unwrap();
        out.insert(blake3::hash(&bytes).to_hex().to_string(), p);
    }
    out
}

/// Every regular file under `root` by blake3, with how many copies; the
/// library's own marker and journal backups are not counted.
pub fn contents(root: &Path) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let ours = |e: &walkdir::DirEntry| {
        e.file_name() == ".clean-backup-library"
            || e.path().components().any(|c| c.as_os_str() == ".clean-backup-journal")
    };
    for e in walkdir::WalkDir::new(root).into_iter().filter_map(Result::ok) {
        if e.file_type().is_file() && !ours(&e) {
            *out.entry(b3(e.path())).or_insert(0) += 1;
        }
    }
    out
}

/// A running `clean-backupd`, killed (SIGKILL) and reaped when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A config in `dir` with `lib`, `state` and one `inbox` under it, settling after
/// `settle` seconds, off D-Bus (the D-Bus test turns it on, on its own bus),
/// and `dir` itself open to jobs sent to the daemon (`control.job_roots`).
/// A Live Photo or a sidecar waits 2 s for its partner (`watch.pair_seconds`).
pub fn daemon_config(dir: &Path, settle: u64) -> PathBuf {
    let config = dir.join("config.toml");
    let text = format!(
        "library = \"lib\"\nstate_dir = \"state\"\n[[inbox]]\npath = \"inbox\"\n[watch]\nsettle_seconds = {settle}\npair_seconds = 2\n[control]\ndbus = \"off\"\njob_roots = [\".\"]\n"
    );
    std::fs::write(&config, text).expect("write config");
    // The daemon never makes its library or inbox: a user's are there.
    for d in ["lib", "inbox"] {
        std::fs::create_dir_all(dir.join(d)).expect("mkdir");
    }
    config
}

/// Starts the real daemon on `config` (its log discarded).
pub fn start_daemon(config: &Path) -> Daemon {
    Daemon(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(config)
            .env("XDG_RUNTIME_DIR", runtime_dir(config))
            .stderr(Stdio::null())
            .spawn()
            .expect("start clean-backupd"),
    )
}

/// Starts the real daemon on `config` with its log (info level) in `log`,
/// and waits until it answers `cbctl status`.
pub fn start_daemon_logged(config: &Path, log: &Path) -> Daemon {
    let daemon = Daemon(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(config)
            .env("XDG_RUNTIME_DIR", runtime_dir(config))
            .env("CLEAN_BACKUP_LOG", "info")
            .stderr(std::fs::File::create(log).expect("create the daemon log"))
            .spawn()
            .expect("start clean-backupd"),
    );
    wait_for("the daemon", Duration::from_secs(30), || {
        ctl(config).arg("status").output().map(|o| o.status.success()).unwrap_or(false)
    });
    daemon
}

/// Whether the tests may give the daemon its own mount namespace
/// (`unshare -m`: root with CAP_SYS_ADMIN) to sandbox it the way systemd
/// does. When not, says so loudly and the test skips: a container without
/// that capability is no fault of the code under test.
pub fn can_sandbox() -> bool {
    let ok = Command::new("unshare")
        .args(["-m", "mount", "-t", "tmpfs", "tmpfs", "/mnt"])
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("SKIPPED: `unshare -m` with a mount is not permitted here (needs root with CAP_SYS_ADMIN)");
    }
    ok
}

/// Starts the real daemon on `config` in its own mount namespace, after the
/// shell command `mounts` has run there (as systemd's sandbox would mount
/// things), and waits until it answers `cbctl status`.
pub fn start_daemon_sandboxed(config: &Path, mounts: &str) -> Daemon {
    let daemon = Daemon(
        Command::new("unshare")
            .args(["-m", "sh", "-c", &format!(r#"{mounts} && exec "$0" --config "$1""#)])
            .arg(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg(config)
            .stderr(Stdio::null())
            .spawn()
            .expect("start clean-backupd under unshare"),
    );
    wait_for("the daemon", Duration::from_secs(30), || {
        ctl(config).arg("status").output().map(|o| o.status.success()).unwrap_or(false)
    });
    daemon
}

/// Polls `ok` every 100 ms; fails the test after `timeout`.
pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A private `dbus-daemon` started by a test, stopped when dropped.
pub struct PrivateBus {
    /// Its address, for `--address=` and `DBUS_*_BUS_ADDRESS`.
    pub address: String,
    /// Its process id.
    pub pid: i32,
}

impl PrivateBus {
    /// Starts a bus listening on `socket` with the policy `policy` (XML
    /// inside `<busconfig>`: type, auth and policy elements).
    pub fn with_config(dir: &Path, socket: &Path, policy: &str) -> PrivateBus {
        let conf = dir.join("bus.conf");
        let text = format!("<busconfig><listen>unix:path={}</listen>{policy}</busconfig>", socket.display());
        std::fs::write(&conf, text).expect("write the bus config");
        let out = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .args(["--fork", "--print-pid=1"])
            .output()
            .expect("run dbus-daemon");
        assert!(out.status.success(), "{out:?}");
        let pid = String::from_utf8_lossy(&out.stdout).trim().parse().expect("the bus pid");
        PrivateBus { address: format!("unix:path={}", socket.display()), pid }
    }
}

impl Drop for PrivateBus {
    fn drop(&mut self) {
        // SAFETY: signalling the dbus-daemon this test started.
        unsafe { libc::kill(self.pid, libc::SIGTERM) };
    }
}
