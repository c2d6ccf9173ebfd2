//! Bad input gets a clear error naming the path, nothing is lost, and the
//! rest of the batch goes on. Exit 1 when some files failed, 2 for usage.

mod common;

use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::process::Command;

use common::*;

const JPG: &str = "exif-samples/jpg/Canon_40D.jpg";

/// When the tests run as root (CI does), permission bits do not stop us, so
/// the unreadable-file case runs a copy of cbctl (in the open temp dir, so
/// `nobody` can reach it) as `nobody` through setpriv.
fn as_unprivileged(state: &Path, tmp: &Path) -> Command {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        let exe = tmp.join("cbctl");
        std::fs::copy(env!("CARGO_BIN_EXE_cbctl"), &exe).unwrap();
        let mut c = Command::new("setpriv");
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&exe)
            .arg("--state-dir")
            .arg(state)
            .env("XDG_CONFIG_HOME", state.join("no-config"));
        c
    } else {
        cbctl(state)
    }
}

fn open_up(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(p) {
        let e = e.unwrap();
        let mode = if e.file_type().is_dir() || e.path().ends_with("cbctl") { 0o777 } else { 0o666 };
        std::fs::set_permissions(e.path(), std::fs::Permissions::from_mode(mode)).unwrap();
    }
}

#[test]
fn each_bad_file_is_reported_by_path_and_left_in_place_while_good_files_are_filed() {
    use std::os::unix::fs::PermissionsExt;
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let (src, dest, state) = work_dirs(t.path());
    std::fs::create_dir_all(&src).unwrap();
    let good = std::fs::read(corpus.join(JPG)).unwrap();
    std::fs::write(src.join("empty.jpg"), b"").unwrap();
    std::fs::write(src.join("truncated.jpg"), &good[..good.len() / 2]).unwrap();
    std::fs::write(src.join("report.jpg"), b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n").unwrap();
    std::fs::write(src.join("locked.jpg"), &good).unwrap();
    let weird = std::ffi::OsStr::from_bytes(b"caf\xe9 \xff.jpg");
    std::fs::write(src.join(weird), &good).unwrap();
    let mut other = good.clone();
    other.extend_from_slice(b"different");
    std::fs::write(src.join("fine.jpg"), &other).unwrap();
    let mut runner = as_unprivileged(&state, t.path());
    open_up(t.path());
    std::fs::set_permissions(src.join("locked.jpg"), std::fs::Permissions::from_mode(0o000)).unwrap();

    // fine.jpg is the same picture as the non-UTF-8 one: exact matching only here.
    let out = run(runner.arg("--json").arg("organize").arg("--no-phash").arg(&src).arg(&dest));
    assert_eq!(out.status.code(), Some(1), "some files failed");
    let lines = json_lines(&out);
    let ev = |name: &str| {
        lines
            .iter()
            .find(|l| l["path"].as_str().is_some_and(|p| p.ends_with(name)))
            .unwrap_or_else(|| panic!("no event for {name}: {lines:?}"))
            .clone()
    };
    for (name, words) in [
        ("empty.jpg", "empty"),
        ("truncated.jpg", "truncated"),
        ("report.jpg", "PDF"),
        ("locked.jpg", "ermission denied"),
    ] {
        let e = ev(name);
        assert_eq!(e["outcome"], "error", "{e}");
        let reason = e["reason"].as_str().unwrap();
        assert!(reason.contains(name), "reason names the path: {reason}");
        assert!(reason.contains(words), "reason for {name} says {words:?}: {reason}");
        assert!(src.join(name).exists(), "{name} left in place");
    }
    assert_eq!(std::fs::metadata(src.join("truncated.jpg")).unwrap().len(), (good.len() / 2) as u64);
    // Good files, including a non-UTF-8 name, are filed with their bytes intact.
    assert_eq!(ev("fine.jpg")["outcome"], "moved");
    let filed_weird = dest.join("2008/05").join(weird);
    assert_eq!(std::fs::read(&filed_weird).unwrap(), good, "non-UTF-8 name kept byte for byte");
    let s = summary(&lines);
    assert_eq!((s["filed"].as_u64(), s["errors"].as_u64()), (Some(2), Some(4)), "{s}");
}

#[test]
fn a_missing_source_is_a_usage_error_naming_it() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("no-such-folder");
    let out = run(cbctl(&t.path().join("state")).arg("organize").arg(&missing).arg(t.path().join("lib")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-folder") && err.contains("no such folder"), "{err}");
}

#[test]
fn a_destination_inside_the_source_is_refused_before_anything_moves() {
    let Some(corpus) = corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let src = t.path().join("src");
    copy_corpus(&corpus, &[JPG], &src);
    let before = tree(&src);
    let out = run(cbctl(&t.path().join("state")).arg("organize").arg(&src).arg(src.join("sorted")));
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inside the source") && err.contains("sorted"), "{err}");
    assert_eq!(tree(&src), before);
}

#[test]
fn bad_arguments_exit_2() {
    let t = tempfile::tempdir().unwrap();
    let out = run(cbctl(t.path()).args(["organize", "only-one-arg"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(cbctl(t.path()).args(["undo", "12345"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no session 12345"));
}
