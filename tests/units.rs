//! The files that install and start the daemon outside cargo: the systemd
//! system and user units (`systemd-analyze verify`, and the system unit's
//! sandbox rated by `systemd-analyze security`), the macOS LaunchAgent
//! plist (read with the plist crate), and D-Bus activation: a private
//! session bus starts the real `clean-backupd` from the shipped
//! `org.cleanbackup.Daemon1.service` on the first call.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::Duration;

use common::{daemon_config, wait_for};

const SYSTEM_UNIT: &str = "systemd/clean-backupd.service";
const USER_UNIT: &str = "systemd/user/clean-backupd.service";
const PLIST: &str = "packaging/launchd/org.cleanbackup.clean-backupd.plist";
const DBUS_SERVICE: &str = "packaging/dbus/org.cleanbackup.Daemon1.service";
const BUS_NAME: &str = "org.cleanbackup.Daemon1";
const OBJECT: &str = "/org/cleanbackup/Daemon1";
/// Where the Debian package installs the daemon; the units and the D-Bus file name it.
const INSTALLED: &str = "/usr/bin/clean-backupd";
/// The exposure `systemd-analyze security` may give the system unit at most.
const MAX_EXPOSURE: f64 = 2.0;

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(repo(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Whether `tool` runs. Outside CI a missing tool skips the test with a
/// message; under CI it fails it.
fn have(tool: &str, package: &str) -> bool {
    let ok = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        assert!(std::env::var("CI").is_err(), "{tool} is needed under CI (apt-get install {package})");
        eprintln!("SKIPPED: {tool} not available (apt-get install {package})");
    }
    ok
}

/// Exit status 0 and not a word from systemd about our unit.
fn assert_verified(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = stderr.lines().filter(|l| l.contains("clean-backupd")).collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify of the {what} unit: {}\n{stderr}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

/// The `key=value` lines of a unit's (or D-Bus service file's) section, in order.
fn section<'a>(text: &'a str, name: &str) -> Vec<(&'a str, &'a str)> {
    let header = format!("[{name}]");
    text.lines()
        .map(str::trim)
        .skip_while(|l| *l != header)
        .skip(1)
        .take_while(|l| !l.starts_with('['))
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with(';'))
        .filter_map(|l| l.split_once('='))
        .collect()
}

/// The one value of `key` in a section.
fn value<'a>(entries: &[(&'a str, &'a str)], key: &str) -> &'a str {
    let found: Vec<&str> = entries.iter().filter(|(k, _)| *k == key).map(|(_, v)| *v).collect();
    assert_eq!(found.len(), 1, "{key} must be set once: {entries:?}");
    found[0]
}

/// Copies a folder of unit files, keeping symlinks as symlinks.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst).unwrap();
        } else if kind.is_dir() {
            copy_tree(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).unwrap();
        }
    }
}

#[test]
fn the_system_unit_passes_systemd_analyze_verify_with_the_daemon_installed() {
    if !have("systemd-analyze", "systemd") {
        return;
    }
    // A root laid out as the package leaves it: systemd's own units (for the
    // targets we are ordered after and wanted by), ours beside them, the
    // built daemon at /usr/bin/clean-backupd and the kill of ExecReload.
    // In the target folder, so the 80 MB daemon is hard-linked, not copied.
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let r = root.path();
    let units = r.join("usr/lib/systemd/system");
    copy_tree(Path::new("/usr/lib/systemd/system"), &units);
    std::fs::copy(repo(SYSTEM_UNIT), units.join("clean-backupd.service")).unwrap();
    std::fs::create_dir_all(r.join("usr/bin")).unwrap();
    let daemon = r.join(INSTALLED.trim_start_matches('/'));
    if std::fs::hard_link(env!("CARGO_BIN_EXE_clean-backupd"), &daemon).is_err() {
        std::fs::copy(env!("CARGO_BIN_EXE_clean-backupd"), &daemon).unwrap();
    }
    std::fs::copy("/bin/kill", r.join("usr/bin/kill")).expect("/bin/kill (ExecReload) on this machine");
    std::os::unix::fs::symlink("usr/bin", r.join("bin")).unwrap();

    let unit = std::fs::read_to_string(units.join("clean-backupd.service")).unwrap();
    let service = section(&unit, "Service");
    assert_eq!(value(&service, "ExecStart"), format!("{INSTALLED} --config /etc/clean-backup/config.toml"));
    assert_eq!(value(&service, "Type"), "notify");

    // --man=no: the man pages of Documentation= come with the package, not the build.
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(format!("--root={}", r.display()))
        .arg("clean-backupd.service")
        .output()
        .unwrap();
    assert_verified("system", &out);
}

#[test]
fn the_user_unit_passes_systemd_analyze_verify_for_a_user_manager() {
    if !have("systemd-analyze", "systemd") {
        return;
    }
    let shipped = read(USER_UNIT);
    let service = section(&shipped, "Service");
    assert_eq!(value(&service, "ExecStart"), INSTALLED);
    assert_eq!(value(&service, "Type"), "notify");
    assert_eq!(value(&service, "BusName"), BUS_NAME);
    assert_eq!(value(&section(&shipped, "Install"), "WantedBy"), "default.target");

    // `--user` takes no --root: the unit as shipped, with a drop-in (as a
    // `cargo install` user would write) pointing ExecStart at the built
    // daemon, in a private runtime and config folder.
    let t = tempfile::tempdir().unwrap();
    let dir = t.path().join("units");
    std::fs::create_dir_all(dir.join("clean-backupd.service.d")).unwrap();
    std::fs::write(dir.join("clean-backupd.service"), &shipped).unwrap();
    std::fs::write(
        dir.join("clean-backupd.service.d/build.conf"),
        format!("[Service]\nExecStart=\nExecStart={}\n", env!("CARGO_BIN_EXE_clean-backupd")),
    )
    .unwrap();
    let runtime = t.path().join("runtime");
    std::fs::create_dir(&runtime).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&runtime, std::fs::Permissions::from_mode(0o700)).unwrap();
    let home = t.path().join("home");
    let out = Command::new("systemd-analyze")
        .args(["--user", "verify", "--man=no"])
        .arg(dir.join("clean-backupd.service"))
        .env("XDG_RUNTIME_DIR", &runtime)
        .env("HOME", &home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("XDG_DATA_HOME", home.join(".local/share"))
        .output()
        .unwrap();
    assert_verified("user", &out);
}

#[test]
fn the_system_unit_sandbox_rates_an_exposure_of_two_or_less() {
    if !have("systemd-analyze", "systemd") {
        return;
    }
    let out =
        Command::new("systemd-analyze").args(["security", "--offline=true"]).arg(repo(SYSTEM_UNIT)).output().unwrap();
    let table = String::from_utf8_lossy(&out.stdout);
    let report = || format!("{}\n{table}{}", out.status, String::from_utf8_lossy(&out.stderr));
    // "→ Overall exposure level for clean-backupd.service: 0.4 SAFE 😀"
    let (unit, level) = table
        .lines()
        .find_map(|l| l.split_once("Overall exposure level for ")?.1.split_once(": "))
        .unwrap_or_else(|| panic!("no overall exposure level:\n{}", report()));
    assert_eq!(unit, "clean-backupd.service", "{}", report());
    let level: f64 = level.split_whitespace().next().and_then(|v| v.parse().ok()).expect("a number");
    assert!(level <= MAX_EXPOSURE, "exposure {level} > {MAX_EXPOSURE}:\n{}", report());
}

#[test]
fn the_launchd_plist_is_well_formed_and_runs_the_daemon_as_a_background_agent() {
    let text = read(PLIST);
    assert!(text.contains("<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\""), "Apple's DOCTYPE");
    let plist = plist::Value::from_file(repo(PLIST)).unwrap_or_else(|e| panic!("{PLIST}: {e}"));
    let dict = plist.as_dictionary().expect("a dict at the top");
    let get = |key: &str| dict.get(key).unwrap_or_else(|| panic!("{key} missing: {dict:?}"));
    let string = |key: &str| get(key).as_string().unwrap_or_else(|| panic!("{key} is not a string"));
    assert_eq!(string("Label"), "org.cleanbackup.clean-backupd");
    let args: Vec<&str> = get("ProgramArguments").as_array().unwrap().iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(args, ["/usr/local/bin/clean-backupd"]);
    assert_eq!(get("RunAtLoad").as_boolean(), Some(true));
    // Restarted when it fails, not when it exits 0 (a SIGTERM).
    let keep_alive = get("KeepAlive").as_dictionary().expect("KeepAlive conditions");
    assert_eq!(keep_alive.get("SuccessfulExit").and_then(plist::Value::as_boolean), Some(false), "{keep_alive:?}");
    assert!(get("ThrottleInterval").as_signed_integer().is_some_and(|n| n >= 10));
    assert_eq!(string("ProcessType"), "Background");
    assert_eq!(get("LowPriorityIO").as_boolean(), Some(true));
    // launchd expands no "~": the logs sit under @HOME@, which install fills
    // in, and the file says how.
    for key in ["StandardOutPath", "StandardErrorPath"] {
        let path = string(key);
        assert!(path.starts_with("@HOME@/Library/Logs/clean-backup/"), "{key} = {path}");
        assert!(!path.contains('~') && !path.contains('$'), "{key} = {path}");
    }
    assert!(text.contains(r#"s|@HOME@|$HOME|g"#), "the install step for @HOME@ is documented");
}

/// A private session bus with `services` as its only activation folder,
/// killed when dropped (with the daemon it started, if still there).
struct Bus {
    address: String,
    child: Child,
    // Kept open: an activated service writing to it must not get EPIPE.
    _stdout: std::io::BufReader<ChildStdout>,
    activated: Option<i32>,
}

impl Drop for Bus {
    fn drop(&mut self) {
        if let Some(pid) = self.activated {
            // SAFETY: signalling the daemon this test had the bus start.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Bus {
    fn start(dir: &Path, services: &Path, log: &Path) -> Bus {
        let config = dir.join("bus.conf");
        std::fs::write(
            &config,
            format!(
                "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n \
                 \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n\
                 <busconfig>\n  <type>session</type>\n  <listen>unix:path={}</listen>\n  <auth>EXTERNAL</auth>\n  \
                 <servicedir>{}</servicedir>\n  <policy context=\"default\">\n    \
                 <allow send_destination=\"*\" eavesdrop=\"true\"/>\n    <allow eavesdrop=\"true\"/>\n    \
                 <allow own=\"*\"/>\n  </policy>\n</busconfig>\n",
                dir.join("bus").display(),
                services.display()
            ),
        )
        .unwrap();
        let mut child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            // The activated daemon must find the bus from what dbus-daemon gives it.
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env_remove("DBUS_SYSTEM_BUS_ADDRESS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .expect("start dbus-daemon");
        let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut address = String::new();
        stdout.read_line(&mut address).unwrap();
        let address = address.trim().to_string();
        assert!(address.starts_with("unix:"), "dbus-daemon: {address:?} {}", std::fs::read_to_string(log).unwrap());
        Bus { address, child, _stdout: stdout, activated: None }
    }

    fn busctl(&self, args: &[&str]) -> Output {
        Command::new("busctl")
            .arg(format!("--address={}", self.address))
            .arg("--timeout=60")
            .args(args)
            .output()
            .expect("run busctl")
    }

    /// A method of the bus itself, its reply as busctl prints it ("b true").
    fn ask_bus(&self, method: &str) -> String {
        let out = self.busctl(&[
            "call",
            "--auto-start=no",
            "org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus",
            method,
            "s",
            BUS_NAME,
        ]);
        assert!(out.status.success(), "{method}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

#[test]
fn the_session_bus_starts_the_daemon_on_the_first_call_to_its_name() {
    let shipped = read(DBUS_SERVICE);
    let entries = section(&shipped, "D-BUS Service");
    assert_eq!(value(&entries, "Name"), BUS_NAME);
    assert_eq!(value(&entries, "Exec"), INSTALLED);
    // Under a systemd user session the bus starts the user unit instead, by this name.
    assert_eq!(value(&entries, "SystemdService"), "clean-backupd.service");
    assert!(repo(USER_UNIT).ends_with("clean-backupd.service"));
    if !have("dbus-daemon", "dbus-daemon") || !have("busctl", "systemd") {
        return;
    }

    let t = tempfile::tempdir().unwrap();
    let config = daemon_config(t.path(), 1);
    let text = std::fs::read_to_string(&config).unwrap().replace("dbus = \"off\"", "dbus = \"session\"");
    std::fs::write(&config, text).unwrap();
    // The shipped file, with only Exec= pointing at the built daemon and the test's config.
    let services = t.path().join("services");
    std::fs::create_dir(&services).unwrap();
    let exec = format!("Exec={} --config {}", env!("CARGO_BIN_EXE_clean-backupd"), config.display());
    let ours = shipped.replace(&format!("Exec={INSTALLED}"), &exec);
    assert_ne!(ours, shipped);
    std::fs::write(services.join(format!("{BUS_NAME}.service")), ours).unwrap();
    let log = t.path().join("bus.log");
    let mut bus = Bus::start(t.path(), &services, &log);
    let log = || std::fs::read_to_string(&log).unwrap_or_default();

    assert_eq!(bus.ask_bus("NameHasOwner"), "b false", "no daemon before the call");
    let out = bus.busctl(&["call", "--json=short", BUS_NAME, OBJECT, BUS_NAME, "Status"]);
    assert!(out.status.success(), "Status through activation: {}\n{}", String::from_utf8_lossy(&out.stderr), log());
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).expect("busctl JSON");
    let inbox = t.path().join("inbox");
    assert_eq!(reply["data"][0]["inboxes"]["data"][0][0], inbox.to_string_lossy().as_ref(), "{reply}");

    // The bus started the built daemon; SIGTERM ends it and frees the name.
    let pid: i32 = bus
        .ask_bus("GetConnectionUnixProcessID")
        .strip_prefix("u ")
        .and_then(|p| p.parse().ok())
        .expect("the daemon's pid");
    bus.activated = Some(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).unwrap();
    assert_eq!(exe, std::fs::canonicalize(env!("CARGO_BIN_EXE_clean-backupd")).unwrap());
    // SAFETY: signalling the daemon the bus started for this test.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    wait_for("the daemon to leave the bus", Duration::from_secs(20), || bus.ask_bus("NameHasOwner") == "b false");
    let gone = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_or(true, |s| s.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')))
    };
    wait_for("the daemon to exit", Duration::from_secs(20), gone);
    bus.activated = None;
}
