//! The daemon on D-Bus: a private `dbus-daemon --session` started by the
//! test, the real `clean-backupd` on it, and `busctl` / `dbus-monitor` as
//! the clients: introspection, Status, FileFiled and DuplicateSkipped
//! signals, UndoLast returning the import to the inbox, a job submitted
//! with JobProgress signals, and errors as D-Bus errors.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::*;

const DEST: &str = "org.cleanbackup.Daemon1";
const PATH: &str = "/org/cleanbackup/Daemon1";

/// A private session bus, killed when dropped.
type Bus = PrivateBus;

/// Starts a bus, or says why not (then the test is skipped outside CI).
fn start_bus() -> Option<Bus> {
    let out = match Command::new("dbus-daemon")
        .args(["--session", "--fork", "--print-address=1", "--print-pid=1"])
        .output()
    {
        Ok(out) if out.status.success() => out,
        other => {
            assert!(std::env::var("CI").is_err(), "dbus-daemon is needed under CI (apt-get install dbus): {other:?}");
            eprintln!("SKIPPED: dbus-daemon not available (apt-get install dbus)");
            return None;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let address = lines.next()?.trim().to_string();
    let pid = lines.next()?.trim().parse().ok()?;
    Some(Bus { address, pid })
}

struct Kill(Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn busctl(bus: &Bus, args: &[&str]) -> Output {
    Command::new("busctl").arg(format!("--address={}", bus.address)).args(args).output().expect("run busctl")
}

fn call(bus: &Bus, method: &str, sig_args: &[&str]) -> Output {
    let mut args = vec!["call", "--json=short", DEST, PATH, DEST, method];
    args.extend_from_slice(sig_args);
    busctl(bus, &args)
}

/// The `data` of a busctl JSON reply.
fn data(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "busctl failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("busctl JSON");
    v["data"].clone()
}

/// The Status a{sv} as a plain map of values.
fn status(bus: &Bus) -> serde_json::Value {
    let d = data(&call(bus, "Status", &[]));
    let mut m = serde_json::Map::new();
    for (k, v) in d[0].as_object().expect("a{sv}") {
        m.insert(k.clone(), v["data"].clone());
    }
    serde_json::Value::Object(m)
}

#[test]
fn the_daemon_serves_its_methods_and_signals_on_d_bus() {
    let Some(corpus) = corpus() else { return };
    let Some(bus) = start_bus() else { return };
    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("dbus = \"off\"", "dbus = \"session\"");
    std::fs::write(&config, text).unwrap();
    let _daemon = Kill(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(&config)
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the daemon on the bus", Duration::from_secs(20), || {
        busctl(&bus, &["introspect", DEST, PATH, DEST]).status.success()
    });

    // A clean interface: every method and signal, typed.
    let out = busctl(&bus, &["introspect", DEST, PATH, DEST]);
    let intro = String::from_utf8_lossy(&out.stdout);
    for (member, kind, sig) in [
        (".Status", "method", "-"),
        (".Pause", "method", "-"),
        (".Resume", "method", "-"),
        (".Rescan", "method", "-"),
        (".History", "method", "u"),
        (".Undo", "method", "x"),
        (".UndoLast", "method", "-"),
        (".Why", "method", "s"),
        (".Skipped", "method", "-"),
        (".Keep", "method", "s"),
        (".NotDuplicate", "method", "ss"),
        (".Prefer", "method", "s"),
        (".Forget", "method", "s"),
        (".ConfigGet", "method", "s"),
        (".ConfigSet", "method", "ss"),
        (".SubmitJob", "method", "s"),
        (".FileFiled", "signal", "ssx"),
        (".DuplicateSkipped", "signal", "sss"),
        (".JobProgress", "signal", "tstts"),
    ] {
        let line = intro.lines().find(|l| l.split_whitespace().next() == Some(member));
        let cols: Vec<&str> = line.unwrap_or_else(|| panic!("{member} missing:\n{intro}")).split_whitespace().collect();
        assert_eq!((cols[1], cols[2]), (kind, sig), "{member}:\n{intro}");
    }

    // Everything the daemon announces, as dbus-monitor prints it.
    let log_path = t.path().join("signals.log");
    let monitor = Kill(
        Command::new("dbus-monitor")
            .arg("--address")
            .arg(&bus.address)
            .arg(format!("type='signal',interface='{DEST}'"))
            .stdout(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .expect("dbus-monitor (package dbus-bin)"),
    );
    let signals = || std::fs::read_to_string(&log_path).unwrap_or_default();
    std::thread::sleep(Duration::from_millis(500));

    let (inbox, lib) = (t.path().join("inbox"), t.path().join("lib"));
    let photo = corpus.join("exif-samples/jpg/Canon_40D.jpg");
    std::fs::copy(&photo, inbox.join("Canon_40D.jpg")).unwrap();
    wait_for("the photo to be filed", Duration::from_secs(30), || status(&bus)["filed_total"] == 1);
    let filed = lib.join("2008/05/Canon_40D.jpg");
    assert_eq!(b3(&filed), b3(&photo));
    wait_for("FileFiled", Duration::from_secs(10), || signals().contains("member=FileFiled"));
    assert!(signals().contains(&format!("string \"{}\"", filed.display())), "{}", signals());

    std::fs::copy(&photo, inbox.join("again.jpg")).unwrap();
    wait_for("the duplicate to be skipped", Duration::from_secs(30), || status(&bus)["skipped_total"] == 1);
    wait_for("DuplicateSkipped", Duration::from_secs(10), || signals().contains("member=DuplicateSkipped"));
    assert!(signals().contains(&format!("string \"{}\"", inbox.join("again.jpg").display())));
    assert!(inbox.join("again.jpg").exists());
    let s = status(&bus);
    assert_eq!((s["index_files"].as_u64(), s["paused"].as_bool()), (Some(1), Some(false)), "{s}");
    assert_eq!(s["inboxes"][0][0], inbox.to_string_lossy().as_ref());

    // Pause and resume.
    assert!(call(&bus, "Pause", &[]).status.success());
    assert_eq!(status(&bus)["paused"], true);
    assert!(call(&bus, "Resume", &[]).status.success());
    assert_eq!(status(&bus)["paused"], false);

    // Why: the filed photo, and the copy skipped beside it.
    let why = |path: &Path| -> serde_json::Value {
        serde_json::from_str(data(&call(&bus, "Why", &["s", path.to_str().unwrap()]))[0].as_str().unwrap()).unwrap()
    };
    let w = why(&filed);
    assert_eq!((w["decision"].as_str(), w["date_source"].as_str()), (Some("filed"), Some("exif")), "{w}");
    let w = why(&inbox.join("again.jpg"));
    assert_eq!((w["decision"].as_str(), w["duplicate_of"].as_str()), (Some("skipped"), filed.to_str()), "{w}");

    // History and UndoLast: the import goes back to the inbox.
    let history: serde_json::Value =
        serde_json::from_str(data(&call(&bus, "History", &["u", "5"]))[0].as_str().unwrap()).unwrap();
    assert_eq!(history[0]["kind"], "ingest", "{history}");
    let report: serde_json::Value =
        serde_json::from_str(data(&call(&bus, "UndoLast", &[]))[0].as_str().unwrap()).unwrap();
    assert_eq!(report["report"]["reverted"], 1, "{report}");
    assert_eq!(b3(&inbox.join("Canon_40D.jpg")), b3(&photo));
    assert!(!filed.exists());

    // Errors are D-Bus errors with the daemon's message.
    let out = call(&bus, "Undo", &["x", "9999"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("9999"), "{out:?}");
    let out = call(&bus, "SubmitJob", &["s", "{\"kind\":\"nope\"}"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("bad params for job.submit"), "{out:?}");

    // Config through D-Bus, applied without a restart.
    assert!(call(&bus, "ConfigSet", &["ss", "dedup.threshold", "aggressive"]).status.success());
    assert_eq!(data(&call(&bus, "ConfigGet", &["s", "dedup.threshold"]))[0], "10");

    // A one-shot job: its id at once, then JobProgress up to "done" with the summary.
    let photos: PathBuf = t.path().join("photos");
    copy_corpus(&corpus, &["exif-samples/jpg/Canon_40D.jpg", "exif-samples/jpg/gps/DSCN0010.jpg"], &photos);
    std::fs::copy(&photo, photos.join("copy.jpg")).unwrap();
    let spec = serde_json::json!({"kind": "dedup", "dirs": [photos], "action": "report",
        "group": {"threshold": 6, "perceptual": true, "names": false}});
    let job = data(&call(&bus, "SubmitJob", &["s", &spec.to_string()]))[0].as_u64().expect("a job id");
    wait_for("the job's end", Duration::from_secs(30), || signals().contains("string \"done\""));
    let log = signals();
    assert!(log.contains(&format!("uint64 {job}")), "{log}");
    let done = log.split("member=JobProgress").find(|s| s.contains("string \"done\"")).unwrap();
    assert!(done.contains("\\\"groups\\\":1") || done.contains("\"groups\":1"), "{done}");
    drop(monitor);
}

/// The default policy of Debian's `/usr/share/dbus-1/system.conf`: deny
/// owning names and method calls unless a service's own file allows them.
const SYSTEM_DEFAULTS: &str = r#"<policy context="default">
  <allow user="*"/>
  <deny own="*"/>
  <deny send_type="method_call"/>
  <allow send_type="signal"/>
  <allow send_requested_reply="true" send_type="method_return"/>
  <allow send_requested_reply="true" send_type="error"/>
  <allow receive_type="method_call"/>
  <allow receive_type="method_return"/>
  <allow receive_type="error"/>
  <allow receive_type="signal"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Introspectable"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Properties"/>
  <allow send_destination="org.freedesktop.DBus" send_interface="org.freedesktop.DBus.Peer"/>
</policy>"#;

/// The system-bus policy in `packaging/`: on a bus configured like the
/// system bus with it included, the daemon (root) owns the name, and an
/// unprivileged user may read Status but not Pause.
#[test]
fn the_system_bus_policy_lets_anyone_read_and_only_the_service_group_change() {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(std::env::var("CI").is_err(), "CI runs as root");
        eprintln!("SKIPPED: needs root to act as another user on the bus");
        return;
    }
    if Command::new("dbus-daemon").arg("--version").output().is_err() {
        assert!(std::env::var("CI").is_err(), "dbus-daemon is needed under CI");
        eprintln!("SKIPPED: dbus-daemon not available");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(t.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let policy = std::fs::canonicalize("packaging/dbus/org.cleanbackup.Daemon1.conf").unwrap();
    let socket = t.path().join("system_bus_socket");
    let bus = PrivateBus::with_config(
        t.path(),
        &socket,
        &format!("<type>system</type><auth>EXTERNAL</auth>{SYSTEM_DEFAULTS}<include>{}</include>", policy.display()),
    );

    let config = daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("dbus = \"off\"", "dbus = \"system\"");
    std::fs::write(&config, text).unwrap();
    let _daemon = Kill(
        Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
            .arg("--config")
            .arg(&config)
            .env("DBUS_SYSTEM_BUS_ADDRESS", &bus.address)
            .stderr(std::fs::File::create(t.path().join("daemon.log")).unwrap())
            .spawn()
            .unwrap(),
    );
    let log = t.path().join("daemon.log");
    wait_for("the daemon on the bus", Duration::from_secs(20), || {
        call(&bus, "Status", &[]).status.success() || std::fs::read_to_string(&log).is_ok_and(|l| l.contains("ERROR"))
    });
    assert!(call(&bus, "Status", &[]).status.success(), "{}", std::fs::read_to_string(&log).unwrap_or_default());
    let as_nobody = |method: &str, args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "busctl"])
            .arg(format!("--address={}", bus.address))
            .args(["call", DEST, PATH, DEST, method])
            .args(args)
            .output()
            .unwrap()
    };
    let read = as_nobody("Status", &[]);
    assert!(read.status.success(), "anyone may read the status: {read:?}");
    let read = as_nobody("Why", &["s", "/nowhere.jpg"]);
    assert!(read.status.success(), "anyone may ask why: {read:?}");
    let change = as_nobody("Pause", &[]);
    assert!(!change.status.success(), "nobody may not pause: {change:?}");
    assert!(String::from_utf8_lossy(&change.stderr).to_lowercase().contains("denied"), "{change:?}");
    assert_eq!(status(&bus)["paused"], false);
    assert!(call(&bus, "Pause", &[]).status.success(), "root may");
    assert_eq!(status(&bus)["paused"], true);
}
