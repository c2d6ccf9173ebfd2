//! `cbctl` as a person at a terminal meets it, with no daemon: warnings
//! before editing a config that is versioned or someone else's, files with
//! no date of their own filed apart (`layout_undated`), and `cbctl date`
//! saying when a date is only the file's mtime.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{cbctl, json_lines, run, summary};

/// `cbctl --local --config CONFIG [--json] config set KEY VALUE`.
fn config_set(state: &Path, config: &Path, json: bool, key: &str, value: &str) -> std::process::Output {
    let mut c = cbctl(state);
    c.arg("--local").arg("--config").arg(config);
    if json {
        c.arg("--json");
    }
    run(c.args(["config", "set", key, value]))
}

fn a_config(dir: &Path) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    let config = dir.join("config.toml");
    std::fs::write(&config, "# mine\n[watch]\nsettle_seconds = 5 # seconds\n").unwrap();
    config
}

#[test]
fn config_set_in_a_versioned_folder_sets_the_key_and_warns_that_it_is_not_committed() {
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");

    // Not versioned, ours: no warning.
    let plain = a_config(&t.path().join("plain"));
    let out = config_set(&state, &plain, false, "watch.settle_seconds", "9");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains("warning"), "{err}");
    assert!(std::fs::read_to_string(&plain).unwrap().contains("settle_seconds = 9 # seconds"));

    // In a git working copy (the config one folder down): set, and warned once.
    let repo = t.path().join("dotfiles");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    let versioned = a_config(&repo.join("clean-backup"));
    let out = config_set(&state, &versioned, false, "watch.settle_seconds", "9");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("cbctl: warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].starts_with(&format!("cbctl: warning: {} is under version control (git", versioned.display())),
        "{err}"
    );
    assert!(warnings[0].contains("this edit is not committed"), "{err}");
    assert!(warnings[0].contains(&repo.display().to_string()), "names the working copy: {err}");
    let text = std::fs::read_to_string(&versioned).unwrap();
    assert!(text.contains("settle_seconds = 9 # seconds") && text.starts_with("# mine"), "{text}");
    assert_eq!(
        run(cbctl(&state).arg("--config").arg(&versioned).args(["config", "get", "watch.settle_seconds"])).stdout,
        b"9\n"
    );

    // --json: the warnings are in the summary, stderr stays quiet.
    let out = config_set(&state, &versioned, true, "watch.settle_seconds", "7");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("warning"), "{out:?}");
    let s = summary(&json_lines(&out));
    let listed = s["warnings"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{s}");
    assert!(listed[0].as_str().unwrap().contains("under version control (git"), "{s}");
    let out = config_set(&state, &plain, true, "watch.settle_seconds", "7");
    assert_eq!(summary(&json_lines(&out))["warnings"], serde_json::json!([]));

    // A bad value still changes nothing, warning or not.
    let before = std::fs::read_to_string(&versioned).unwrap();
    let out = config_set(&state, &versioned, false, "watch.settle_seconds", "0");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_eq!(std::fs::read_to_string(&versioned).unwrap(), before);
}

/// Root editing a user's config replaces the file with one of its own:
/// warned, with how to give it back. (Needs root to make a file another
/// user owns; the reverse case is a unit test of `edit_warnings`.)
#[test]
fn config_set_on_someone_elses_file_warns_who_owns_it() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIP: needs root to give a file to another user");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let config = a_config(&t.path().join("alice"));
    std::os::unix::fs::chown(&config, Some(1000), Some(1000)).unwrap();
    let out = config_set(&t.path().join("state"), &config, false, "watch.settle_seconds", "9");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("cbctl: warning: ")).collect();
    assert_eq!(warnings.len(), 1, "{err}");
    let w = warnings[0];
    assert!(w.starts_with(&format!("cbctl: warning: {} is owned by uid 1000", config.display())), "{w}");
    assert!(w.contains("not you (root)") && w.contains("`chown "), "{w}");
    assert!(std::fs::read_to_string(&config).unwrap().contains("settle_seconds = 9"));
}

/// A PNG with no date anywhere, its mtime set to `mtime`.
fn undated_png(path: &Path, mtime: SystemTime) {
    let mut bytes = Vec::new();
    let pixels: Vec<u8> = (0..32 * 32 * 3).map(|i| (i * 7 % 251) as u8).collect();
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new(&mut bytes),
        &pixels,
        32,
        32,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(path, &bytes).unwrap();
    std::fs::File::options().write(true).open(path).unwrap().set_modified(mtime).unwrap();
}

/// 2019-03-15 12:00:00 UTC.
const MARCH_2019: u64 = 1_552_651_200;

/// The files under `root` (relative path → blake3), folders left out.
fn files(root: &Path) -> std::collections::BTreeMap<PathBuf, String> {
    common::tree(root).into_iter().filter(|(_, v)| v != "dir").collect()
}

/// Organizes `src` into `dest` with cbctl --local, with `config` if given.
fn organize(root: &Path, config: Option<&Path>, src: &Path, dest: &Path) {
    let mut c = cbctl(&root.join("state"));
    c.arg("--local");
    if let Some(config) = config {
        c.arg("--config").arg(config);
    }
    let out = run(c.arg("organize").arg(src).arg(dest));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn files_with_no_date_of_their_own_are_filed_under_undated_unless_layout_undated_says_otherwise() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    // A dated photo (EXIF 2005:09:25), a corpus JPEG with no date (MANIFEST: none), a PNG made here.
    let dated = "metadata-extractor/jpg/Canon EOS 5D.jpg";
    let no_date = "exif-samples/jpg/PaintTool_sample.jpg";
    let stage = |name: &str| {
        let src = t.path().join(name);
        common::copy_corpus(&corpus, &[dated, no_date], &src);
        undated_png(&src.join("scan.png"), SystemTime::UNIX_EPOCH + Duration::from_secs(MARCH_2019));
        src
    };
    let (b3_dated, b3_no_date) = (common::b3(&corpus.join(dated)), common::b3(&corpus.join(no_date)));

    // Default: undated files apart, dated ones by their date.
    let (src, lib) = (stage("src"), t.path().join("lib"));
    let b3_png = common::b3(&src.join("scan.png"));
    organize(t.path(), None, &src, &lib);
    let tree = files(&lib);
    let want = [
        (PathBuf::from("2005/09/Canon EOS 5D.jpg"), &b3_dated),
        (PathBuf::from("undated/PaintTool_sample.jpg"), &b3_no_date),
        (PathBuf::from("undated/scan.png"), &b3_png),
    ];
    assert_eq!(tree, want.iter().map(|(p, h)| (p.clone(), h.to_string())).collect(), "{tree:#?}");

    // layout_undated = "{year}/{month}": by the mtime, among the dated ones.
    let config = t.path().join("config.toml");
    std::fs::write(&config, "layout_undated = \"{year}/{month:02}\"\n").unwrap();
    let (src, lib) = (stage("src2"), t.path().join("lib2"));
    organize(t.path(), Some(&config), &src, &lib);
    let tree = files(&lib);
    assert_eq!(tree.get(Path::new("2005/09/Canon EOS 5D.jpg")), Some(&b3_dated), "{tree:#?}");
    assert_eq!(tree.get(Path::new("2019/03/scan.png")), Some(&b3_png), "{tree:#?}");
    assert_eq!(tree.len(), 3, "{tree:#?}");
    assert!(tree.keys().all(|p| !p.starts_with("undated")), "{tree:#?}");
}

#[test]
fn cbctl_date_says_when_the_only_date_is_the_files_mtime() {
    let t = tempfile::tempdir().unwrap();
    let png = t.path().join("scan.png");
    undated_png(&png, SystemTime::UNIX_EPOCH + Duration::from_secs(MARCH_2019));
    let out = run(cbctl(&t.path().join("state")).arg("date").arg(&png));
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let cols: Vec<&str> = text.trim_end().split('\t').collect();
    assert_eq!(cols.len(), 3, "{text}");
    assert!(cols[1].starts_with("2019-03-15"), "{text}");
    assert_eq!(cols[2], "mtime (no date in the file or its name)", "{text}");

    let out = run(cbctl(&t.path().join("state")).arg("--json").arg("date").arg(&png));
    assert_eq!(json_lines(&out)[0]["source"], "mtime", "{out:?}");
}
