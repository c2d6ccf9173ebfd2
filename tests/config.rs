//! Config: defaults, validation errors that name key and line, and
//! `cbctl config get/set` keeping comments.

mod common;

use std::path::{Path, PathBuf};

use clean_backup::config::{self, Config, ConfigError, DbusMode, Mode, OnDuplicate};

fn write(dir: &Path, text: &str) -> PathBuf {
    let p = dir.join("config.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn invalid(text: &str) -> (usize, String, String) {
    let t = tempfile::tempdir().unwrap();
    match Config::load(&write(t.path(), text)) {
        Err(ConfigError::Invalid { line, key, message, .. }) => (line, key, message),
        other => panic!("expected an error for {text:?}, got {other:?}"),
    }
}

#[test]
fn the_example_config_is_valid_and_documents_every_key() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let cfg = Config::load(&example).unwrap();
    assert!(cfg.library.ends_with("example/Library") && cfg.library.is_absolute());
    assert_eq!(cfg.inbox.len(), 1);
    let text = std::fs::read_to_string(&example).unwrap();
    for key in config::KEYS {
        let leaf = key.rsplit('.').next().unwrap();
        assert!(text.contains(&format!("{leaf} ")), "config.example.toml does not document `{key}`");
        if !key.contains(".N.") {
            assert!(cfg.value_of(key).is_ok(), "{key}");
        }
    }
}

#[test]
fn unknown_keys_and_bad_values_name_the_key_and_line() {
    assert_eq!(invalid("library = \"/l\"\nlibary = \"x\"\n").0, 2);
    assert_eq!(invalid("library = \"/l\"\nlibary = \"x\"\n").1, "libary");
    let (line, key, msg) = invalid("[dedup]\nthreshold = 99\n");
    assert_eq!((line, key.as_str()), (2, "dedup.threshold"));
    assert!(msg.contains("0 to 32"), "{msg}");
    let (line, key, msg) = invalid("[[inbox]]\npath = \"/in\"\nmode = \"teleport\"\n");
    assert_eq!((line, key.as_str()), (3, "inbox[0].mode"));
    assert!(msg.contains("\"move\", \"copy\""), "{msg}");
    let (line, key, _) = invalid("[watch]\nsettle_seconds = 5\nsettle = 3\n");
    assert_eq!((line, key.as_str()), (3, "watch.settle"));
    let (line, key, msg) = invalid("layout = \"{yaer}/{month}\"\n");
    assert_eq!((line, key.as_str()), (1, "layout"));
    assert!(msg.contains("{yaer}"), "{msg}");
    let (line, key, _) = invalid("[control]\n\ndbus = true\n");
    assert_eq!((line, key.as_str()), (3, "control.dbus"));
    let (line, key, _) = invalid("library = \"/l\"\n[[inbox]]\npath = \"/l/in\"\n");
    assert_eq!((line, key.as_str()), (3, "inbox[0].path"));
    let (line, key, _) = invalid("a = \n");
    assert_eq!((line, key.as_str()), (1, "(syntax)"));
    // The message a person sees names the file too.
    let t = tempfile::tempdir().unwrap();
    let p = write(t.path(), "[dedup]\nthreshold = -1\n");
    let shown = Config::load(&p).unwrap_err().to_string();
    assert!(shown.starts_with(&format!("{}:2: `dedup.threshold`", p.display())), "{shown}");
}

#[test]
fn defaults_apply_and_paths_expand() {
    let t = tempfile::tempdir().unwrap();
    let p = write(
        t.path(),
        "library = \"lib\"\n[[inbox]]\npath = \"~/in\"\nmode = \"copy\"\n[dedup]\nthreshold = \"aggressive\"\n",
    );
    let cfg = Config::load(&p).unwrap();
    assert_eq!(cfg.library, t.path().join("lib"));
    let home = PathBuf::from(std::env::var_os("HOME").unwrap());
    assert_eq!(cfg.inbox[0].path, home.join("in"));
    assert_eq!(cfg.inbox[0].mode, Mode::Copy);
    assert_eq!(cfg.dedup_threshold, 10);
    assert_eq!((cfg.settle_seconds, cfg.on_duplicate, cfg.dbus), (5, OnDuplicate::Skip, DbusMode::Session));
    assert_eq!(cfg.layout, "{year}/{month:02}");
    let d = Config::defaults();
    assert!(d.library.ends_with("Pictures/Library") && d.inbox[0].path.ends_with("Pictures/Inbox"));
    assert!(d.state_dir.ends_with("clean-backup"));
}

#[test]
fn set_keeps_comments_and_round_trips_with_get() {
    let t = tempfile::tempdir().unwrap();
    let text =
        "# my library\nlibrary = \"/photos\" # where it lives\n\n[dedup]\n# be strict\nthreshold = 6 # default\n";
    let p = write(t.path(), text);
    config::set(&p, "dedup.threshold", "3").unwrap();
    config::set(&p, "dedup.on_duplicate", "quarantine").unwrap();
    config::set(&p, "watch.settle_seconds", "10").unwrap();
    let phone = t.path().join("phone");
    std::fs::create_dir(&phone).unwrap();
    config::set(&p, "inbox.0.path", phone.to_str().unwrap()).unwrap();
    let after = std::fs::read_to_string(&p).unwrap();
    for line in ["# my library", "library = \"/photos\" # where it lives", "# be strict", "threshold = 3 # default"] {
        assert!(after.contains(line), "lost {line:?}:\n{after}");
    }
    assert_eq!(config::get(&p, Some("dedup.threshold")).unwrap(), "3");
    assert_eq!(config::get(&p, Some("dedup.on_duplicate")).unwrap(), "quarantine");
    assert_eq!(config::get(&p, Some("watch.settle_seconds")).unwrap(), "10");
    assert_eq!(config::get(&p, Some("inbox.0.path")).unwrap(), phone.to_str().unwrap());
    assert!(config::get(&p, None).unwrap().contains("threshold = 3"));
}

#[test]
fn set_of_a_bad_value_or_unknown_key_leaves_the_file_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let text = "# keep me\n[dedup]\nthreshold = 6\n";
    let p = write(t.path(), text);
    assert!(matches!(config::set(&p, "dedup.threshold", "99"), Err(ConfigError::Invalid { .. })));
    assert!(matches!(config::set(&p, "dedup.treshold", "3"), Err(ConfigError::NoSuchKey(_))));
    assert!(matches!(config::get(&p, Some("nope")), Err(ConfigError::NoSuchKey(_))));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), text);
}

#[test]
fn cbctl_config_set_creates_the_file_and_get_reads_it() {
    let t = tempfile::tempdir().unwrap();
    let p = t.path().join("sub/config.toml");
    let out = common::run(common::cbctl(t.path()).arg("--config").arg(&p).args([
        "config",
        "set",
        "layout",
        "{year}/{month_name}",
    ]));
    assert_eq!(out.status.code(), Some(0));
    let out = common::run(common::cbctl(t.path()).arg("--config").arg(&p).args(["config", "get", "layout"]));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "{year}/{month_name}");
    let out = common::run(common::cbctl(t.path()).arg("--config").arg(&p).args([
        "config",
        "set",
        "dedup.threshold",
        "banana",
    ]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("dedup.threshold"));
}

/// `clean-backupd --check-config FILE`, checked to say the same as `--check-config --config FILE`.
fn check_config(config: &Path) -> std::process::Output {
    let daemon = || std::process::Command::new(env!("CARGO_BIN_EXE_clean-backupd"));
    let out = daemon().arg("--check-config").arg(config).output().unwrap();
    let same = daemon().arg("--check-config").arg("--config").arg(config).output().unwrap();
    assert_eq!((&out.status, &out.stdout, &out.stderr), (&same.status, &same.stdout, &same.stderr));
    out
}

#[test]
fn check_config_prints_the_resolved_settings_or_says_what_is_wrong_without_starting() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
    let out = check_config(&example);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let dir = example.parent().unwrap();
    assert!(text.starts_with("# config OK: "), "{text}");
    assert!(text.contains(&format!("library = \"{}\"", dir.join("example/Library").display())), "{text}");
    assert!(text.contains(&format!("path = \"{}\"", dir.join("example/Inbox").display())), "{text}");
    assert!(text.contains("threshold = 6"), "{text}");

    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("bad.toml");
    std::fs::write(&bad, "library = \"lib\"\n[dedup]\nthreshold = 99\n").unwrap();
    let out = check_config(&bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("bad.toml") && err.contains("threshold"), "{err}");

    let overlap = t.path().join("overlap.toml");
    std::fs::write(&overlap, "library = \"photos/lib\"\n[[inbox]]\npath = \"photos\"\n").unwrap();
    let out = check_config(&overlap);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("overlap"), "{out:?}");
    assert!(!t.path().join("photos").exists(), "nothing was created: it did not start");
}

/// The system service sees `/etc/clean-backup` read-only (`ProtectSystem=strict`),
/// so `cbctl config set` through it cannot write the file. The daemon here runs
/// in its own mount namespace with its config folder bind-mounted read-only, as
/// systemd does; the answer must say how to change the setting instead of
/// giving a bare OS error, and must not fall back to editing the file itself.
#[test]
fn config_set_through_a_daemon_that_cannot_write_its_config_says_to_edit_it_as_root() {
    if !common::can_sandbox() {
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let etc = t.path().join("etc");
    std::fs::create_dir_all(&etc).unwrap();
    for d in ["lib", "state", "inbox"] {
        std::fs::create_dir_all(t.path().join(d)).unwrap();
    }
    let root = t.path().display();
    let text = format!(
        "library = \"{root}/lib\"\nstate_dir = \"{root}/state\"\n[[inbox]]\npath = \"{root}/inbox\"\n\
         [dedup]\nthreshold = 6\n[control]\ndbus = \"off\"\n"
    );
    let config = write(&etc, &text);
    let _daemon = common::start_daemon_sandboxed(&config, &format!("mount --bind -o ro '{0}' '{0}'", etc.display()));

    let out = common::run(common::ctl(&config).args(["config", "set", "dedup.threshold", "4"]));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(err.contains(&format!("{}: cannot be written", config.display())), "{err}");
    assert!(err.contains("Read-only file system"), "{err}");
    assert!(err.contains(&format!("sudoedit {}", config.display())), "{err}");
    assert!(err.contains("systemctl reload clean-backupd"), "{err}");
    // Not edited behind the daemon's back by cbctl, which could write it.
    assert_eq!(std::fs::read_to_string(&config).unwrap(), text);
}

/// A file with several mistakes gets them all at once, each with its line
/// and key, from `--check-config` and from a start of the daemon alike, so
/// fixing a config is not one run per typo.
#[test]
fn check_config_and_the_daemon_report_every_problem_each_with_its_line_and_key() {
    let t = tempfile::tempdir().unwrap();
    let bad = t.path().join("bad.toml");
    std::fs::write(
        &bad,
        "library = \"lib\"\nlibary = \"lib2\"\nlayout = \"{yaer}/{month}\"\n[watch]\nsettle_seconds = \"five\"\n",
    )
    .unwrap();
    let expected = [
        (2, "libary", "unknown key"),
        (3, "layout", "{yaer}"),
        (5, "watch.settle_seconds", "must be a whole number from 1 to 3600"),
    ];
    let check = |err: &str| {
        assert!(err.contains(&format!("{}: 3 problems", bad.display())), "{err}");
        for (line, key, says) in expected {
            let at = format!("{}:{line}: `{key}`: ", bad.display());
            let Some(l) = err.lines().find(|l| l.contains(&at)) else { panic!("no {at:?} in:\n{err}") };
            assert!(l.contains(says), "{l}");
        }
    };
    let out = check_config(&bad);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    check(&String::from_utf8_lossy(&out.stderr));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_clean-backupd"))
        .arg("--config")
        .arg(&bad)
        .arg("--state-dir")
        .arg(t.path().join("state"))
        .env("CLEAN_BACKUP_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    check(&String::from_utf8_lossy(&out.stderr));
    assert!(!t.path().join("state").exists(), "it did not start");
}
