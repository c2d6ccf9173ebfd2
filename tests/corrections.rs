//! Seeing and correcting verdicts through the real binaries: `cbctl
//! skipped` lists each file set aside once, with its keeper and the command
//! that files it; `cbctl keep` files one anyway and the pair stays apart
//! after a restart and a rename; `cbctl not-duplicate` makes the daemon file
//! a similar copy it had left alone; `cbctl forget` lifts a remembered
//! deletion. Usage errors exit 2; another user may list but not correct.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use common::variants;
use common::*;

const PHOTO: &str = "exif-samples/jpg/Canon_40D.jpg";
const WAIT: Duration = Duration::from_secs(30);

/// A daemon's folder: config (with `extra` lines added to `[dedup]`), library and inbox.
struct Setup {
    _t: tempfile::TempDir,
    root: PathBuf,
    config: PathBuf,
    lib: PathBuf,
    inbox: PathBuf,
    stage: PathBuf,
    original: PathBuf,
}

fn setup(corpus: &Path, dedup: &str) -> Setup {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let config = daemon_config(&root, 1);
    if !dedup.is_empty() {
        let mut text = std::fs::read_to_string(&config).unwrap();
        text.push_str(&format!("[dedup]\n{dedup}\n"));
        std::fs::write(&config, text).unwrap();
    }
    let stage = root.join("stage");
    std::fs::create_dir_all(&stage).unwrap();
    let original = corpus.join(PHOTO);
    assert!(original.is_file(), "{} is in the corpus", original.display());
    Setup { lib: root.join("lib"), inbox: root.join("inbox"), _t: t, root, config, stage, original }
}

impl Setup {
    /// The daemon, once it answers.
    fn daemon(&self) -> Daemon {
        start_daemon_logged(&self.config, &self.root.join("daemon.log"))
    }

    /// Files the original photo into the library (through the inbox); its library path.
    fn file_original(&self) -> PathBuf {
        std::fs::copy(&self.original, self.inbox.join("photo.jpg")).unwrap();
        wait_for("the photo to be filed", WAIT, || status(&self.config)["total"]["filed"] == 1);
        let filed = self.lib.join("2008/05/photo.jpg");
        assert_eq!(b3(&filed), b3(&self.original), "filed by its EXIF date");
        filed
    }

    /// A half-size re-encode of the photo (no EXIF left): similar, not exact.
    fn resized(&self, name: &str) -> PathBuf {
        let img = variants::upright(&self.original);
        let half = img.resize_exact(img.width() / 2, img.height() / 2, image::imageops::FilterType::Triangle);
        let path = self.stage.join(name);
        std::fs::write(&path, variants::jpeg(&half, 90)).unwrap();
        path
    }

    fn ctl(&self, args: &[&str]) -> Output {
        run(ctl(&self.config).args(args))
    }

    fn skipped(&self) -> Vec<serde_json::Value> {
        let out = self.ctl(&["--json", "skipped"]);
        assert_eq!(out.status.code(), Some(0), "skipped");
        let mut lines = json_lines(&out);
        let last = lines.pop().expect("a summary");
        assert_eq!(last["summary"], true);
        assert_eq!(last["set_aside"], lines.len(), "the summary counts the entries");
        lines
    }

    fn dupes(&self) -> PathBuf {
        self.lib.join(".clean-backup-duplicates")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn skipped_lists_each_set_aside_file_once_with_its_keeper_and_the_command_to_file_it() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let _daemon = s.daemon();
    let empty = s.ctl(&["skipped"]);
    assert_eq!(empty.status.code(), Some(0));
    assert_eq!(stdout(&empty).trim(), "nothing set aside");
    let filed = s.file_original();

    // An exact copy (left in the inbox) and a similar one (to the duplicates folder, the default).
    std::fs::copy(&s.original, s.inbox.join("again.jpg")).unwrap();
    let similar = s.resized("small.jpg");
    std::fs::rename(&similar, s.inbox.join("small.jpg")).unwrap();
    wait_for("both to be set aside", WAIT, || status(&s.config)["total"]["skipped"] == 2);
    for _ in 0..2 {
        assert_eq!(s.ctl(&["rescan"]).status.code(), Some(0));
        std::thread::sleep(Duration::from_secs(3));
    }

    let list = s.skipped();
    assert_eq!(list.len(), 2, "each file once, however often it was looked at: {list:?}");
    let of = |verdict: &str| list.iter().find(|e| e["verdict"] == verdict).unwrap_or_else(|| panic!("{list:?}"));
    let (exact, near) = (of("exact"), of("similar"));
    assert_eq!(exact["path"], s.inbox.join("again.jpg").to_str().unwrap());
    assert_eq!(near["path"], s.dupes().join("small.jpg").to_str().unwrap(), "{near}");
    assert_eq!(near["found_at"], s.inbox.join("small.jpg").to_str().unwrap());
    assert!(near["distance"].as_u64().is_some(), "{near}");
    for e in [exact, near] {
        assert_eq!(e["keeper"], filed.to_str().unwrap(), "{e}");
        assert!(e["session"].as_i64().unwrap() > 0);
        assert!(!e["at"].as_str().unwrap().is_empty());
        assert_eq!(e["undo"], format!("cbctl keep {}", e["path"].as_str().unwrap()));
    }

    let text = s.ctl(&["skipped"]);
    assert_eq!(text.status.code(), Some(0));
    let text = stdout(&text);
    assert!(text.contains("cbctl keep") && text.contains(filed.to_str().unwrap()), "{text}");
    assert!(text.contains("2 files set aside"), "{text}");

    // The daemon counted them once each, rescans or not.
    let st = status(&s.config);
    assert_eq!(st["total"]["skipped"], 2, "{st}");

    // Without the daemon: the journal alone says the same.
    drop(_daemon);
    let local = run(ctl(&s.config).args(["--local", "--json", "skipped"]));
    assert_eq!(local.status.code(), Some(0));
    assert_eq!(json_lines(&local).len(), 3);
}

#[test]
fn keep_files_a_set_aside_copy_and_the_pair_survives_a_restart_and_a_rename() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let daemon = s.daemon();
    let keeper = s.file_original();
    let similar = s.resized("small.jpg");
    let hash = b3(&similar);
    std::fs::rename(&similar, s.inbox.join("small.jpg")).unwrap();
    wait_for("the copy to be set aside", WAIT, || status(&s.config)["total"]["skipped"] == 1);
    let parked = s.dupes().join("small.jpg");
    assert!(parked.is_file());

    let out = s.ctl(&["--json", "keep", parked.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2, "{lines:?}");
    let kept = &lines[0];
    assert_eq!(kept["path"], parked.to_str().unwrap());
    assert_eq!(kept["apart"].as_array().map(Vec::len), Some(1), "{kept}");
    let to = PathBuf::from(kept["filed_to"].as_str().unwrap_or_else(|| panic!("{kept}")));
    assert!(to.starts_with(&s.lib) && !to.starts_with(s.dupes()), "{}", to.display());
    assert_eq!(b3(&to), hash, "filed as it was");
    assert!(!parked.exists());
    let session = kept["filed"]["session"].as_i64().unwrap();
    assert_eq!(kept["filed"]["filed"], 1);
    let history = json_lines(&s.ctl(&["--json", "history"]));
    let row = history.iter().find(|h| h["id"] == session).unwrap();
    assert_eq!(row["kind"], "keep");
    assert_eq!(row["ops_done"], 1, "journaled: one move, `cbctl undo` reverts it");
    assert!(s.skipped().is_empty(), "nothing left set aside");

    // A restart, and the kept file renamed: by content, the pair stays apart.
    drop(daemon);
    let renamed = to.with_file_name("renamed.jpg");
    std::fs::rename(&to, &renamed).unwrap();
    let _daemon = s.daemon();
    let out = s.ctl(&["--json", "dedup", s.lib.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let (k, r) = (keeper.to_str().unwrap(), renamed.to_str().unwrap());
    for line in json_lines(&out) {
        let text = line.to_string();
        assert!(!(text.contains(k) && text.contains(r)), "grouped again: {text}");
    }
    let text = s.ctl(&["keep", renamed.to_str().unwrap()]);
    assert_eq!(text.status.code(), Some(2), "a library file is not set aside");
}

#[test]
fn keep_prints_where_the_file_went_and_how_to_undo_it() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let _daemon = s.daemon();
    s.file_original();
    std::fs::copy(&s.original, s.inbox.join("again.jpg")).unwrap();
    wait_for("the copy to be set aside", WAIT, || status(&s.config)["total"]["skipped"] == 1);
    let again = s.inbox.join("again.jpg");
    let out = s.ctl(&["keep", again.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("filed ") && text.contains(" -> ") && text.contains("cbctl undo"), "{text}");
    assert!(!again.exists(), "moved out of the inbox");
    let session: String = text.split("`cbctl undo ").nth(1).unwrap().chars().take_while(char::is_ascii_digit).collect();
    assert_eq!(s.ctl(&["undo", &session]).status.code(), Some(0));
    assert!(again.is_file(), "undo put it back");
}

#[test]
fn not_duplicate_makes_the_daemon_file_a_parked_similar_copy() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "on_similar = \"skip\"");
    let _daemon = s.daemon();
    let keeper = s.file_original();
    let similar = s.resized("small.jpg");
    let hash = b3(&similar);
    let left = s.inbox.join("small.jpg");
    std::fs::rename(&similar, &left).unwrap();
    wait_for("the copy to be left alone", WAIT, || status(&s.config)["total"]["skipped"] == 1);
    std::thread::sleep(Duration::from_secs(2));
    assert!(left.is_file(), "on_similar = skip leaves it in the inbox");

    let out = s.ctl(&["not-duplicate", left.to_str().unwrap(), keeper.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("they will not be grouped or set aside as duplicates of each other again"), "{text}");
    assert!(text.contains(left.to_str().unwrap()) && text.contains(keeper.to_str().unwrap()), "{text}");
    wait_for("the copy to be filed", WAIT, || !left.exists());
    let filed: Vec<PathBuf> = tree(&s.lib).into_iter().filter(|(_, h)| *h == hash).map(|(p, _)| p).collect();
    assert_eq!(filed.len(), 1, "filed into the library: {:?}", tree(&s.lib));
    assert!(s.skipped().is_empty());
}

#[test]
fn forget_lets_a_file_deleted_before_be_filed_again() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let _daemon = s.daemon();
    s.file_original();
    let similar = s.resized("small.jpg");
    let bytes = std::fs::read(&similar).unwrap();
    std::fs::rename(&similar, s.inbox.join("small.jpg")).unwrap();
    wait_for("the copy to be quarantined", WAIT, || s.dupes().join("small.jpg").is_file());

    // Pruned: the duplicates folder emptied, its content remembered as deleted.
    let out = s.ctl(&["prune", "--older-than", "0", "--yes"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(!s.dupes().join("small.jpg").exists());

    // The same bytes arrive again: set aside as deleted before.
    let back = s.inbox.join("back.jpg");
    std::fs::write(&back, &bytes).unwrap();
    wait_for("it to be set aside as deleted", WAIT, || s.skipped().iter().any(|e| e["verdict"] == "deleted"));
    let list = s.skipped();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["path"], back.to_str().unwrap());
    assert!(list[0]["reason"].as_str().unwrap().contains("deleted before"), "{list:?}");
    let why = s.ctl(&["why", back.to_str().unwrap()]);
    assert!(stdout(&why).contains("deleted before"), "{}", stdout(&why));
    let text = stdout(&s.ctl(&["skipped"]));
    assert!(text.contains("deleted before") && text.contains("cbctl forget"), "{text}");

    // Forgotten: looked at again, it is what it is, a similar copy (quarantined again).
    let out = s.ctl(&["forget", back.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    wait_for("it to be set aside as similar", WAIT, || s.skipped().iter().any(|e| e["verdict"] == "similar"));
    let list = s.skipped();
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(list[0]["path"], s.dupes().join("back.jpg").to_str().unwrap());

    // Nothing remembered any more.
    let keeper = s.lib.join("2008/05/photo.jpg");
    let out = s.ctl(&["forget", keeper.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "nothing remembered");
    assert!(stderr(&out).contains("photo.jpg"), "{}", stderr(&out));
}

#[test]
fn corrections_of_files_not_set_aside_are_usage_errors_naming_the_file() {
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let _daemon = s.daemon();
    let filed = s.file_original();
    let out = s.ctl(&["keep", "/nonexistent/x.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/x.jpg"), "{}", stderr(&out));
    let out = s.ctl(&["keep", filed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(filed.to_str().unwrap()) && err.contains("not set aside"), "{err}");
    assert!(err.contains("hint") && err.contains("cbctl skipped"), "{err}");
    let out = s.ctl(&["--json", "keep", filed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(summary(&json_lines(&out))["error"].as_str().unwrap().contains("not set aside"));
    let out = s.ctl(&["forget", filed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(filed.to_str().unwrap()), "{}", stderr(&out));
    let same = s.stage.join("same.jpg");
    std::fs::copy(&filed, &same).unwrap();
    let out = s.ctl(&["not-duplicate", same.to_str().unwrap(), filed.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "the same bytes are copies, whatever is said");
    assert!(stderr(&out).contains("same bytes"), "{}", stderr(&out));
    let out = s.ctl(&["not-duplicate", filed.to_str().unwrap(), "/nonexistent/y.jpg"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent/y.jpg"), "{}", stderr(&out));
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// cbctl run as `nobody` (root and setpriv needed), from a copy it can reach.
fn cbctl_as_nobody(dir: &Path, config: &Path) -> Command {
    let exe = dir.join("cbctl");
    if !exe.exists() {
        std::fs::copy(env!("CARGO_BIN_EXE_cbctl"), &exe).unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
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

#[test]
fn another_user_may_list_what_was_set_aside_but_not_correct_it() {
    let switch = is_root() && Command::new("setpriv").arg("--version").output().is_ok_and(|o| o.status.success());
    if !switch {
        assert!(std::env::var("CI").as_deref() != Ok("true"), "CI runs as root with setpriv (util-linux)");
        eprintln!("SKIPPED: needs root and setpriv to act as `nobody`");
        return;
    }
    let Some(corpus) = corpus() else { return };
    let s = setup(&corpus, "");
    let open = |p: &Path, mode: u32| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    open(&s.root, 0o755);
    open(&s.config, 0o644);
    let _daemon = s.daemon();
    let filed = s.file_original();
    let again = s.inbox.join("again.jpg");
    std::fs::copy(&s.original, &again).unwrap();
    wait_for("the copy to be set aside", WAIT, || status(&s.config)["total"]["skipped"] == 1);
    let state = s.root.join("state");
    open(&state, 0o755);
    open(&state.join("clean-backupd.sock"), 0o666);

    let nobody = |args: &[&str]| run(cbctl_as_nobody(&s.root, &s.config).args(args));
    let out = nobody(&["--json", "skipped"]);
    assert_eq!(out.status.code(), Some(0), "anyone may list: {}", stderr(&out));
    assert_eq!(json_lines(&out).len(), 2);
    let (a, f) = (again.to_str().unwrap(), filed.to_str().unwrap());
    for (args, method) in
        [(vec!["keep", a], "keep"), (vec!["not-duplicate", a, f], "not_duplicate"), (vec!["forget", a], "forget")]
    {
        let out = nobody(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("may not call") && err.contains(method), "{args:?}: {err}");
    }
    assert!(again.is_file(), "nothing was filed");
    assert_eq!(s.skipped().len(), 1);
}

/// A folder with the corpus photo and its half-size re-encode (similar,
/// not exact), and a state folder, for `cbctl --local`.
struct Local {
    _t: tempfile::TempDir,
    dir: PathBuf,
    state: PathBuf,
    photo: PathBuf,
    small: PathBuf,
}

fn local(corpus: &Path) -> Local {
    let t = tempfile::tempdir().unwrap();
    let root = t.path().canonicalize().unwrap();
    let (dir, state) = (root.join("photos"), root.join("state"));
    std::fs::create_dir_all(&dir).unwrap();
    let photo = dir.join("photo.jpg");
    std::fs::copy(corpus.join(PHOTO), &photo).unwrap();
    let img = variants::upright(&photo);
    let half = img.resize_exact(img.width() / 2, img.height() / 2, image::imageops::FilterType::Triangle);
    let small = dir.join("small.jpg");
    std::fs::write(&small, variants::jpeg(&half, 90)).unwrap();
    Local { _t: t, dir, state, photo, small }
}

impl Local {
    fn ctl(&self, args: &[&str]) -> Output {
        run(cbctl(&self.state).arg("--local").args(args))
    }

    /// `cbctl --local --json dedup DIR`: the groups found (each `{keeper, members}`).
    fn groups(&self) -> Vec<serde_json::Value> {
        let out = self.ctl(&["--json", "dedup", self.dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "dedup: {}", stderr(&out));
        json_lines(&out).into_iter().filter(|l| l["event"] == "group").collect()
    }

    fn history(&self) -> Vec<serde_json::Value> {
        let out = self.ctl(&["--json", "history"]);
        assert_eq!(out.status.code(), Some(0), "history: {}", stderr(&out));
        json_lines(&out).into_iter().filter(|l| l["summary"] != true).collect()
    }
}

fn session_of(out: &Output) -> i64 {
    summary(&json_lines(out))["session"].as_i64().unwrap_or_else(|| panic!("a session: {}", stdout(out)))
}

#[test]
fn not_duplicate_is_journaled_and_undo_lets_the_pair_group_again() {
    let Some(corpus) = corpus() else { return };
    let l = local(&corpus);
    let (photo, small) = (l.photo.to_str().unwrap(), l.small.to_str().unwrap());
    assert_eq!(l.groups().len(), 1, "a re-encode is a similar copy");

    let out = l.ctl(&["not-duplicate", photo, small]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("cbctl undo"), "it says how to take it back: {text}");
    assert!(l.groups().is_empty(), "kept apart: no group");
    let history = l.history();
    let made = history.iter().find(|s| s["kind"] == "not-duplicate").expect("a not-duplicate session");
    let id = made["id"].as_i64().unwrap();
    assert_eq!(made["params"]["a"], photo, "{made}");
    assert!(text.contains(&format!("cbctl undo {id}")), "{text}");

    // Said again: nothing new to journal.
    let again = l.ctl(&["--json", "not-duplicate", small, photo]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(summary(&json_lines(&again))["session"].is_null(), "{}", stdout(&again));

    let out = l.ctl(&["undo", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("session {id} undone")) && text.contains("may be grouped as duplicates again"),
        "{text}"
    );
    assert!(!text.contains("put back"), "no file was moved: {text}");
    let groups = l.groups();
    assert_eq!(groups.len(), 1, "grouped again: {groups:?}");
    assert_eq!(groups[0]["keeper"], photo);

    let history = l.history();
    let undone = history.iter().find(|s| s["id"] == id).unwrap();
    assert_eq!(undone["state"], "undone", "{undone}");
    let by = history.iter().find(|s| s["kind"] == "undo" && s["undoes"] == id).expect("an undo session");
    let out = l.ctl(&["undo", &id.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains(&format!("session {id} was already undone (by session {})", by["id"])), "{err}");
    let out = l.ctl(&["undo", "--last"]);
    assert_eq!(out.status.code(), Some(2), "nothing left to undo");
    assert!(stderr(&out).contains("nothing to undo"), "{}", stderr(&out));
}

#[test]
fn prefer_makes_a_smaller_copy_the_keeper_until_undone() {
    let Some(corpus) = corpus() else { return };
    let l = local(&corpus);
    let (photo, small) = (l.photo.to_str().unwrap(), l.small.to_str().unwrap());
    let groups = l.groups();
    assert_eq!(groups[0]["keeper"], photo, "the camera original keeps, at first");

    let out = l.ctl(&["--json", "prefer", small]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let line = summary(&json_lines(&out));
    assert_eq!(line["chosen"], b3(&l.small), "{line}");
    let id = session_of(&out);
    let groups = l.groups();
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert_eq!(groups[0]["keeper"], small, "the chosen copy keeps: {groups:?}");
    let member = &groups[0]["members"][0];
    assert_eq!(member["path"], photo);
    let why = member["why_not_kept"].as_str().unwrap();
    assert!(why.contains("you chose the keeper") && why.contains("cbctl prefer"), "{why}");
    let made = l.history().into_iter().find(|s| s["id"] == id).unwrap();
    assert_eq!((made["kind"].as_str(), made["params"]["path"].as_str()), (Some("prefer"), Some(small)), "{made}");

    let out = l.ctl(&["undo", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("session {id} undone")), "{}", stdout(&out));
    assert_eq!(l.groups()[0]["keeper"], photo, "the original keeps again");
    let out = l.ctl(&["undo", &id.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already undone"), "{}", stderr(&out));

    // A file that is not there: a usage error naming it.
    let gone = l.dir.join("gone.jpg");
    let out = l.ctl(&["prefer", gone.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(gone.to_str().unwrap()) && stderr(&out).contains("no such file"), "{}", stderr(&out));
}

#[test]
fn undo_last_takes_back_the_newest_of_a_verdict_and_a_job() {
    let Some(corpus) = corpus() else { return };
    let l = local(&corpus);
    let (photo, small) = (l.photo.to_str().unwrap(), l.small.to_str().unwrap());
    let out = l.ctl(&["--json", "prefer", small]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let chose = session_of(&out);
    // A job after it: undo --last takes back the job, then the choice.
    let trash = l.state.with_file_name("dupes");
    let out = l.ctl(&["--json", "dedup", l.dir.to_str().unwrap(), "--action", "move", "--to", trash.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let job = session_of(&out);
    assert!(!l.photo.exists() && l.small.exists(), "the original moved aside, the chosen one kept");
    let out = l.ctl(&["--json", "undo", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(summary(&json_lines(&out))["session"], job);
    assert!(l.photo.exists(), "put back");
    assert_eq!(l.groups()[0]["keeper"], small, "the choice still stands");
    let out = l.ctl(&["--json", "undo", "--last"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let s = summary(&json_lines(&out));
    assert_eq!(s["session"], chose, "{s}");
    assert_eq!((s["lifted"]["kind"].as_str(), s["lifted"]["verdicts"].as_u64()), (Some("prefer"), Some(1)), "{s}");
    assert_eq!(l.groups()[0]["keeper"], photo);
}
