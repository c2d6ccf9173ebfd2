//! The Debian package, built the way `scripts/package.sh` builds it (the
//! binaries of this build, `cbctl generate-docs target/docs`, then
//! `cargo deb --no-build`), read back with `dpkg-deb -c` / `-I`, and
//! installed with dpkg into a scratch root (`dpkg --root`): the postinst
//! creates the service user and folders and enables the unit; the packaged
//! daemon accepts the packaged config; a purge leaves the photo folders.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Builds the .deb from this build's binaries into `dir`; `None` (skip) when cargo-deb is missing outside CI.
fn build_deb(dir: &Path) -> Option<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let has_deb = Command::new(&cargo).args(["deb", "--version"]).output().is_ok_and(|o| o.status.success());
    if !has_deb {
        assert!(!ci(), "cargo-deb is needed under CI (scripts/setup.sh installs it)");
        eprintln!("SKIPPED: cargo-deb is not installed (cargo install cargo-deb)");
        return None;
    }
    let docs = manifest.join("target/docs");
    ok(
        Command::new(env!("CARGO_BIN_EXE_cbctl")).arg("generate-docs").arg(&docs).output().unwrap(),
        "cbctl generate-docs",
    );
    let deb = dir.join("clean-backup.deb");
    // The binaries under test are the dev build: cargo-deb maps its `target/release/` assets to it.
    ok(
        Command::new(&cargo)
            .args(["deb", "--no-build", "--profile", "dev", "--fast", "--no-dbgsym", "--output"])
            .arg(&deb)
            .current_dir(manifest)
            .output()
            .unwrap(),
        "cargo deb",
    );
    Some(deb)
}

/// `dpkg-deb -c`: path (without the leading `./`) -> mode string.
fn contents(deb: &Path) -> BTreeMap<String, String> {
    let list = ok(Command::new("dpkg-deb").arg("-c").arg(deb).output().unwrap(), "dpkg-deb -c");
    list.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let mode = f.next()?.to_string();
            let path = f.nth(4)?.trim_start_matches("./").to_string();
            Some((path, mode))
        })
        .collect()
}

#[test]
fn the_deb_holds_everything_and_installs_a_user_folders_and_an_enabled_service() {
    let t = tempfile::tempdir().unwrap();
    let Some(deb) = build_deb(t.path()) else { return };
    let files = contents(&deb);
    let expect = [
        ("usr/bin/clean-backupd", "-rwxr-xr-x"),
        ("usr/bin/cbctl", "-rwxr-xr-x"),
        ("usr/lib/systemd/system/clean-backupd.service", "-rw-r--r--"),
        ("usr/lib/systemd/user/clean-backupd.service", "-rw-r--r--"),
        ("etc/clean-backup/config.toml", "-rw-r--r--"),
        ("usr/share/doc/clean-backup/examples/config.example.toml", "-rw-r--r--"),
        ("usr/share/dbus-1/system.d/org.cleanbackup.Daemon1.conf", "-rw-r--r--"),
        ("usr/share/dbus-1/services/org.cleanbackup.Daemon1.service", "-rw-r--r--"),
        ("usr/share/man/man1/cbctl.1.gz", "-rw-r--r--"),
        ("usr/share/man/man1/cbctl-why.1.gz", "-rw-r--r--"),
        ("usr/share/man/man5/clean-backup.toml.5.gz", "-rw-r--r--"),
        ("usr/share/man/man8/clean-backupd.8.gz", "-rw-r--r--"),
        ("usr/share/bash-completion/completions/cbctl", "-rw-r--r--"),
        ("usr/share/zsh/vendor-completions/_cbctl", "-rw-r--r--"),
        ("usr/share/fish/vendor_completions.d/cbctl.fish", "-rw-r--r--"),
    ];
    for (path, mode) in expect {
        assert_eq!(files.get(path).map(String::as_str), Some(mode), "{path} in {:#?}", files.keys());
    }
    // Control: dependencies found from the binaries, the config kept across upgrades, the scripts.
    let field = |name: &str| {
        ok(Command::new("dpkg-deb").args(["-f"]).arg(&deb).arg(name).output().unwrap(), "dpkg-deb -f")
            .trim()
            .to_string()
    };
    assert_eq!(field("Package"), "clean-backup");
    let depends = field("Depends");
    assert!(depends.contains("libde265") && depends.contains("passwd") && depends.contains("procps"), "{depends}");
    assert_eq!(field("Recommends"), "ffmpeg");
    let control = t.path().join("control");
    ok(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(&control).output().unwrap(), "dpkg-deb -e");
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert!(conffiles.lines().any(|l| l == "/etc/clean-backup/config.toml"), "{conffiles}");
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    assert!(postinst.contains("useradd") && postinst.contains("deb-systemd-helper enable clean-backupd.service"));

    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        assert!(!ci(), "CI runs as root, to install the package into a scratch root");
        eprintln!("SKIPPED: installing into a scratch root needs root (useradd --prefix)");
        return;
    }
    let root = t.path().join("root");
    install_into(&root, &deb);
    let passwd = std::fs::read_to_string(root.join("etc/passwd")).unwrap();
    let user = passwd.lines().find(|l| l.starts_with("clean-backup:")).expect("the postinst made the user");
    let f: Vec<&str> = user.split(':').collect();
    assert_eq!((f[5], f[6]), ("/var/lib/clean-backup", "/usr/sbin/nologin"), "{user}");
    let uid: u32 = f[2].parse().unwrap();
    assert!(uid < 1000, "a system user: {user}");
    let meta = |p: &str| std::fs::metadata(root.join(p)).unwrap();
    for dir in ["srv/clean-backup", "srv/clean-backup/Inbox", "srv/clean-backup/Library"] {
        assert_eq!((meta(dir).permissions().mode() & 0o7777, meta(dir).uid()), (0o2775, uid), "{dir}");
    }
    assert_eq!(
        (meta("var/lib/clean-backup").permissions().mode() & 0o777, meta("var/lib/clean-backup").uid()),
        (0o750, uid)
    );
    let wants = root.join("etc/systemd/system/multi-user.target.wants/clean-backupd.service");
    assert_eq!(
        std::fs::read_link(&wants).ok(),
        Some(PathBuf::from("/usr/lib/systemd/system/clean-backupd.service")),
        "the unit is enabled"
    );
    // The packaged daemon accepts the packaged config, and says where things go.
    let out = Command::new(root.join("usr/bin/clean-backupd"))
        .arg("--check-config")
        .arg(root.join("etc/clean-backup/config.toml"))
        .output()
        .unwrap();
    let text = ok(out, "clean-backupd --check-config /etc/clean-backup/config.toml");
    for want in ["library = \"/srv/clean-backup/Library\"", "path = \"/srv/clean-backup/Inbox\"", "dbus = \"system\""] {
        assert!(text.contains(want), "{want} in {text}");
    }
    // A photo left in the library survives a purge; the journal does not; the user stays.
    std::fs::write(root.join("srv/clean-backup/Library/keep.jpg"), b"photo").unwrap();
    dpkg(&root, &["--purge", "clean-backup"]);
    assert!(!root.join("usr/bin/clean-backupd").exists());
    assert_eq!(std::fs::read(root.join("srv/clean-backup/Library/keep.jpg")).unwrap(), b"photo");
    assert!(!root.join("var/lib/clean-backup").exists());
    assert!(std::fs::read_to_string(root.join("etc/passwd")).unwrap().contains("clean-backup:"));
}

/// A scratch root dpkg can install into: an empty package database, the
/// account files, and a policy-rc.d that forbids starting services (the
/// standard way to install into a chroot).
fn install_into(root: &Path, deb: &Path) {
    for d in ["etc", "var/lib/dpkg/info", "var/lib/dpkg/updates", "usr/sbin"] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").unwrap();
    for f in ["passwd", "group", "shadow", "gshadow"] {
        let host = std::fs::read_to_string(Path::new("/etc").join(f)).unwrap_or_default();
        let root_line: String = host.lines().filter(|l| l.starts_with("root:")).map(|l| format!("{l}\n")).collect();
        std::fs::write(root.join("etc").join(f), root_line).unwrap();
    }
    let policy = root.join("usr/sbin/policy-rc.d");
    std::fs::write(&policy, "#!/bin/sh\nexit 101\n").unwrap();
    std::fs::set_permissions(&policy, std::fs::Permissions::from_mode(0o755)).unwrap();
    dpkg(root, &["--force-depends", "-i", deb.to_str().unwrap()]);
}

fn dpkg(root: &Path, args: &[&str]) {
    let out = Command::new("dpkg")
        .arg(format!("--root={}", root.display()))
        .args(["--force-script-chrootless", "--log=/dev/null"])
        .args(args)
        .output()
        .unwrap();
    ok(out, &format!("dpkg {args:?}"));
}
