//! `cbctl review`: the real cbctl serving its page on loopback, driven by a
//! real headless Chromium (tests/common/browser.rs), on a folder of corpus
//! photos and their resized and re-encoded copies. The groups the page
//! shows are checked against `cbctl dedup --json` on the same folder; its
//! actions against the files on disk and the journal (`cbctl history`).

mod common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::browser::{self, Browser};

/// The review page, served by a real cbctl; killed when dropped.
struct Page {
    child: Child,
    /// Kept open: cbctl writes its last line here when it stops.
    _out: BufReader<std::process::ChildStdout>,
    url: String,
    port: u16,
    token: String,
}

impl Drop for Page {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cbctl --json review DIR` (no DIR when empty) and reads the address it prints.
fn start_review(state: &Path, dir: &Path, extra: &[&str]) -> Page {
    let mut child = common::cbctl(state)
        .args(["--json", "review"])
        .args((!dir.as_os_str().is_empty()).then_some(dir))
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start cbctl review");
    let stdout = child.stdout.take().expect("its stdout");
    let mut out = BufReader::new(stdout);
    let mut line = String::new();
    out.read_line(&mut line).expect("read the address line");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON: {line:?}: {e}"));
    assert_eq!(v["event"], "listening", "{v}");
    let url = v["url"].as_str().expect("url").to_string();
    let port = u16::try_from(v["port"].as_u64().expect("port")).expect("a port");
    let token = url.split("token=").nth(1).expect("a token in the URL").to_string();
    assert_eq!(token.len(), 32, "128 bits as hex: {url}");
    assert!(url.starts_with(&format!("http://127.0.0.1:{port}/")), "{url}");
    Page { child, _out: out, url, port, token }
}

/// A folder of corpus photos: a camera JPEG with a half-size re-encode and
/// a PNG re-save (similar copies), another with a byte-for-byte copy, a
/// photo alone, and a file that is not the JPEG its name says.
fn photo_folder(corpus: &Path, root: &Path) -> PathBuf {
    let dir = root.join("photos");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let jpg = corpus.join("exif-samples/jpg");
    for name in ["Canon_40D.jpg", "Nikon_D70.jpg", "mobile/jolla.jpg"] {
        let to = dir.join(Path::new(name).file_name().expect("name"));
        std::fs::copy(jpg.join(name), &to).expect("copy");
        // The corpus is read-only; the copies must be movable.
        let mut p = std::fs::metadata(&to).expect("stat").permissions();
        #[allow(clippy::permissions_set_readonly_false)]
        p.set_readonly(false);
        std::fs::set_permissions(&to, p).expect("chmod");
    }
    std::fs::copy(dir.join("jolla.jpg"), dir.join("jolla-backup.jpg")).expect("copy");
    let variants = common::variants::write_variants(&dir.join("Canon_40D.jpg"), &dir, "canon");
    for (v, name) in variants.iter().zip(common::variants::NAMES) {
        if !matches!(name, "half.jpg" | "png.png") {
            std::fs::remove_file(v).expect("rm");
        }
    }
    std::fs::write(dir.join("broken.jpg"), b"\xFF\xD8\xFF\xE0 not really a JPEG").expect("write");
    dir
}

/// (keeper, members) of every group, as `cbctl --json dedup DIR` reports them.
fn dedup_groups(state: &Path, dir: &Path) -> BTreeSet<(String, Vec<String>)> {
    let out = common::run(common::cbctl(state).args(["--json", "dedup"]).arg(dir));
    assert!(out.status.code().is_some_and(|c| c <= 1), "dedup: {out:?}");
    common::json_lines(&out)
        .into_iter()
        .filter(|v| v["event"] == "group")
        .map(|g| {
            let mut members: Vec<String> = g["members"]
                .as_array()
                .expect("members")
                .iter()
                .map(|m| m["path"].as_str().expect("path").into())
                .collect();
            members.sort();
            (g["keeper"].as_str().expect("keeper").to_string(), members)
        })
        .collect()
}

/// (keeper, members) of every folder row the page shows.
fn page_groups(b: &Browser) -> BTreeSet<(String, Vec<String>)> {
    let rows = b.eval(
        "return [...document.querySelectorAll('.row[data-source=folder]')].map(r => [r.dataset.keeper, \
         [...r.querySelectorAll('.card.member')].map(c => c.dataset.path).sort()])",
    );
    serde_json::from_value::<Vec<(String, Vec<String>)>>(rows).expect("rows").into_iter().collect()
}

/// Waits until `js` (a function body) returns true in the page.
fn wait_until(b: &Browser, what: &str, js: &str) {
    let start = Instant::now();
    while b.eval(js) != serde_json::Value::Bool(true) {
        assert!(start.elapsed() < Duration::from_secs(60), "timed out waiting for {what}; toast: {}", b.text("#toast"));
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn toast(b: &Browser) -> String {
    b.eval("return document.getElementById('toast').textContent").as_str().unwrap_or_default().to_string()
}

fn history(state: &Path) -> Vec<serde_json::Value> {
    let out = common::run(common::cbctl(state).args(["--json", "history"]));
    assert_eq!(out.status.code(), Some(0));
    common::json_lines(&out).into_iter().filter(|v| v["summary"] != true).collect()
}

fn canonical(p: &Path) -> String {
    std::fs::canonicalize(p).expect("canonical").to_string_lossy().into_owned()
}

#[test]
fn the_page_shows_every_group_with_its_keeper_and_refuses_strangers() {
    let Some(corpus) = common::corpus() else { return };
    let Some(b) = Browser::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = photo_folder(&corpus, t.path());
    let expected = dedup_groups(&state, &dir);
    let canon = canonical(&dir.join("Canon_40D.jpg"));
    let jolla = canonical(&dir.join("jolla.jpg"));
    assert!(
        expected.iter().any(|(k, m)| *k == canon && m.len() == 2),
        "the Canon original keeps its two copies: {expected:?}"
    );
    assert!(expected.iter().any(|(k, _)| *k == jolla), "{expected:?}");

    let page = start_review(&state, &dir, &["--idle", "300s"]);
    let addr = format!("127.0.0.1:{}", page.port);
    let tok = &page.token;
    let get = |path: &str, headers: &str| {
        browser::raw_http(&addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{headers}\r\n")).0
    };
    // The token, the Host, the Origin and the method are each checked.
    assert_eq!(get("/", ""), 403, "no token");
    assert_eq!(get("/api/view", ""), 403, "no token");
    assert_eq!(get("/thumb/0", ""), 403, "no token");
    assert_eq!(get("/?token=00000000000000000000000000000000", ""), 403, "a wrong token");
    assert_eq!(get(&format!("/?token={tok}"), ""), 200, "the page");
    assert_eq!(get(&format!("/thumb/0?token={tok}"), ""), 200, "a thumbnail");
    assert_eq!(get(&format!("/thumb/999?token={tok}"), ""), 404, "no file by that number");
    let foreign =
        browser::raw_http(&addr, &format!("GET /?token={tok} HTTP/1.1\r\nHost: evil.example:{}\r\n\r\n", page.port));
    assert_eq!(foreign.0, 421, "a foreign Host (DNS rebinding): {}", foreign.1);
    assert_eq!(get(&format!("/api/view?token={tok}"), "Origin: http://evil.example\r\n"), 403, "cross-site");
    let post_no_header = browser::raw_http(
        &addr,
        &format!(
            "POST /api/action?token={tok} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{{\"op\":\"u\"}}"
        ),
    );
    assert_eq!(post_no_header.0, 405, "a change without the token header: {}", post_no_header.1);
    let get_action = get(&format!("/api/action?token={tok}"), &format!("x-clean-backup-token: {tok}\r\n"));
    assert_eq!(get_action, 405, "a change by GET");
    // ::1 is served too, where the machine has IPv6.
    if std::net::TcpStream::connect(("::1", page.port)).is_ok() {
        let v6 = format!("[::1]:{}", page.port);
        let (status, _) = browser::raw_http(&v6, &format!("GET /?token={tok} HTTP/1.1\r\nHost: {v6}\r\n\r\n"));
        assert_eq!(status, 200, "on ::1");
    }

    b.goto(&page.url);
    b.wait_for(".row", Duration::from_secs(30));
    assert_eq!(page_groups(&b), expected, "the page shows dedup's groups, each with dedup's keeper");
    // The keeper is marked, and each picture says what it is.
    let canon_row = format!(".row[data-keeper=\"{canon}\"]");
    let keeper_card = b.find(&format!("{canon_row} .card.keeper"));
    let text = keeper_card.text();
    assert!(text.contains("KEEP"), "{text}");
    assert!(text.contains("100×68") || text.contains("100×"), "pixel size: {text}");
    assert!(
        text.contains("JPEG") && text.contains("2008-05-30") && text.contains("exif"),
        "format, date, source: {text}"
    );
    assert!(text.contains("Canon EOS 40D"), "camera: {text}");
    let member = b.find(&format!("{canon_row} .card.member")).text();
    assert!(member.contains("DUPLICATE") && member.contains("the keeper has its capture date"), "why: {member}");
    assert!(b.text(&canon_row).contains("to free"), "bytes freed");
    // Undated copies (no EXIF: dated by mtime) and the unreadable file.
    let undated = b.text("#undated-section");
    assert!(undated.contains("canon-half.jpg") && undated.contains("canon-png.png"), "{undated}");
    let failed = b.text("#failed-section");
    assert!(failed.contains("broken.jpg"), "{failed}");
    // Thumbnails load (upright JPEGs from the cache).
    wait_until(
        &b,
        "the thumbnails",
        "const imgs = [...document.querySelectorAll('#groups img')]; \
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)",
    );
    // Keyboard: down to the next group, the large view, and back.
    b.press_key("ArrowDown");
    assert!(b.find("#row-1").attr("class").unwrap_or_default().contains("current"));
    b.press_key("ArrowRight");
    b.press_key("Enter");
    assert!(b.find("#large").is_displayed(), "Enter opens the large view");
    let src = b.find("#large-img").attr("src").unwrap_or_default();
    assert!(src.contains("size=1600"), "the large thumbnail: {src}");
    b.press_key("Escape");
    assert!(!b.find("#large").is_displayed(), "Escape closes it");
    // Clicking a thumbnail opens it too.
    b.click(&format!("{canon_row} .card.keeper .thumb"));
    assert!(b.find("#large").is_displayed(), "a click opens the large view");
    b.press_key("Escape");

    let shot = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/review-screenshot.png");
    let png = b.screenshot_full_page(&shot);
    assert!(png.len() > 10_000, "a real screenshot: {} bytes", png.len());
}

#[test]
fn keep_both_then_undo_round_trips_and_trash_moves_exactly_the_duplicates() {
    let Some(corpus) = common::corpus() else { return };
    let Some(b) = Browser::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = photo_folder(&corpus, t.path());
    let canon = canonical(&dir.join("Canon_40D.jpg"));
    let half = canonical(&dir.join("canon-half.jpg"));
    let page = start_review(&state, &dir, &["--idle", "300s"]);
    b.goto(&page.url);
    b.wait_for(".row", Duration::from_secs(30));
    let canon_row = format!(".row[data-keeper=\"{canon}\"]");
    let half_in_canon_row =
        format!("return !!document.querySelector('.row[data-keeper=\"{canon}\"] .card.member[data-path=\"{half}\"]')");
    assert_eq!(b.eval(&half_in_canon_row), true);

    // "Keep both" (k, on the selected copy): the half-size copy is not a duplicate of the original any more.
    assert_eq!(b.find_all(&format!("{canon_row} .card.member .keep-both")).len(), 2, "a button on each copy");
    b.click(&format!("{canon_row} .card.member[data-path=\"{half}\"] .facts"));
    let selected = b.find(".card.selected").attr("data-path");
    assert_eq!(selected.as_deref(), Some(half.as_str()), "a click selects the picture");
    b.press_key("k");
    wait_until(&b, "keep both", "return document.getElementById('toast').textContent.startsWith('kept both')");
    assert_eq!(b.eval(&half_in_canon_row), false, "the page updates without a reload");
    let sessions = history(&state);
    let kept = sessions.iter().find(|s| s["kind"] == "not-duplicate").unwrap_or_else(|| panic!("{sessions:?}"));
    let kept_id = kept["id"].as_i64().expect("id");
    assert!(!dedup_groups(&state, &dir).iter().any(|(k, m)| *k == canon && m.contains(&half)), "cbctl dedup agrees");

    // "u": undo it; the pair is a group again, journaled as an undo of that session.
    b.press_key("u");
    wait_until(&b, "undo", "return document.getElementById('toast').textContent.startsWith('undid')");
    assert_eq!(b.eval(&half_in_canon_row), true, "back in its group");
    let sessions = history(&state);
    assert!(
        sessions.iter().any(|s| s["kind"] == "undo" && s["undoes"] == kept_id),
        "an undo session of {kept_id}: {sessions:?}"
    );
    assert!(dedup_groups(&state, &dir).iter().any(|(k, m)| *k == canon && m.contains(&half)), "cbctl dedup agrees");

    // "Keep this one instead": the half-size copy becomes the keeper (journaled), and back.
    b.click(&format!("{canon_row} .card.member[data-path=\"{half}\"] .prefer"));
    wait_until(&b, "prefer", "return document.getElementById('toast').textContent.includes('is the keeper')");
    let half_row = format!(".row[data-keeper=\"{half}\"]");
    assert_eq!(b.find_all(&half_row).len(), 1, "the chosen copy keeps the group now");
    assert_eq!(b.find_all(&format!("{half_row} .card.member[data-path=\"{canon}\"]")).len(), 1);
    assert!(history(&state).iter().any(|s| s["kind"] == "prefer"), "journaled");
    assert!(dedup_groups(&state, &dir).iter().any(|(k, _)| *k == half), "cbctl dedup agrees");
    b.press_key("u");
    wait_until(&b, "undo", "return document.getElementById('toast').textContent.startsWith('undid')");
    assert_eq!(b.find_all(&canon_row).len(), 1, "the original keeps it again");

    // "Move duplicates to trash" on the Canon group: its two copies go, nothing else.
    let before = common::tree(&dir);
    let members: Vec<String> = serde_json::from_value(b.eval(&format!(
        "return [...document.querySelectorAll('{} .card.member')].map(c => c.dataset.path)",
        canon_row.replace('\'', "\\'")
    )))
    .expect("members");
    assert_eq!(members.len(), 2, "{members:?}");
    assert_eq!(b.find_all(&format!("{canon_row} .trash")).len(), 1, "a trash button on the group");
    // d, on the selected group.
    b.click(&format!("{canon_row} .card.keeper .facts"));
    b.press_key("d");
    wait_until(&b, "the trash", "return document.getElementById('toast').textContent.startsWith('moved')");
    assert!(toast(&b).starts_with("moved 2 duplicate(s)"), "{}", toast(&b));
    assert_eq!(b.find_all(&canon_row).len(), 0, "the group is gone from the page");
    let after = common::tree(&dir);
    let trash = Path::new(".clean-backup-trash");
    for (rel, hash) in &before {
        let path = canonical(&dir).to_string() + "/" + &rel.to_string_lossy();
        if members.contains(&path) {
            assert!(!after.contains_key(rel), "{} was trashed", rel.display());
            assert!(
                after.iter().any(|(r, h)| r.starts_with(trash) && r.ends_with(rel) && h == hash),
                "{} is in the trash with its bytes: {after:?}",
                rel.display()
            );
        } else {
            assert_eq!(after.get(rel), Some(hash), "{} is untouched", rel.display());
        }
    }
    let new: Vec<&PathBuf> = after.keys().filter(|r| !before.contains_key(*r) && !r.starts_with(trash)).collect();
    assert!(new.is_empty(), "nothing else appeared: {new:?}");
    assert!(history(&state).iter().any(|s| s["kind"] == "dedup"), "journaled as a dedup session");
    // `cbctl why` tells the same story.
    let why = common::run(common::cbctl(&state).arg("why").arg(&members[0]));
    let said = String::from_utf8_lossy(&why.stdout);
    assert_eq!(why.status.code(), Some(0), "{said}");
    assert!(said.contains("trash"), "why names the trash: {said}");
}

#[test]
fn dedup_report_html_is_one_self_contained_read_only_page() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = photo_folder(&corpus, t.path());
    let expected = dedup_groups(&state, &dir);
    let out_file = t.path().join("report.html");
    let out = common::run(common::cbctl(&state).args(["dedup", "--report", "html", "--out"]).arg(&out_file).arg(&dir));
    assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrote"), "says where it wrote");
    let html = std::fs::read_to_string(&out_file).expect("the report");
    assert!(html.contains("data:image/jpeg;base64,"), "thumbnails embedded");
    for external in ["src=\"http", "href=\"http", "src=\"/", "href=\"/", "url(http"] {
        assert!(!html.contains(external), "nothing loaded from elsewhere ({external})");
    }
    let missing = common::run(common::cbctl(&state).args(["dedup", "--report", "html"]).arg(&dir));
    assert_eq!(missing.status.code(), Some(2), "--report html needs --out");

    let Some(b) = Browser::start() else { return };
    b.goto(&format!("file://{}", out_file.display()));
    b.wait_for(".row", Duration::from_secs(30));
    assert_eq!(page_groups(&b), expected, "the same groups and keepers as dedup");
    assert_eq!(b.find_all("button.trash").len() + b.find_all("button.keep-both").len(), 0, "read-only: no buttons");
    wait_until(
        &b,
        "the embedded thumbnails",
        "const imgs = [...document.querySelectorAll('#groups img')]; \
         return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0)",
    );
}

#[test]
fn the_page_stops_after_its_idle_time_and_on_ctrl_c() {
    let Some(corpus) = common::corpus() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let dir = photo_folder(&corpus, t.path());

    let mut page = start_review(&state, &dir, &["--idle", "2s"]);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = page.child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "still serving long after its idle time");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0), "an idle stop is a normal end");

    let mut page = start_review(&state, &dir, &["--idle", "0"]);
    assert_eq!(browser::status_of(&format!("http://127.0.0.1:{}/?token={}", page.port, page.token)), 200);
    common::signal(&mut page.child, libc::SIGINT);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = page.child.try_wait().expect("wait") {
            break s;
        }
        assert!(start.elapsed() < Duration::from_secs(30), "Ctrl-C stops it");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(status.code(), Some(0));
    // Its journal lock is not held while it waits: other commands run beside it.
    let page = start_review(&state, &dir, &["--idle", "60s"]);
    let out = common::run(common::cbctl(&state).args(["history"]));
    assert_eq!(out.status.code(), Some(0), "cbctl history beside an open review page");
    drop(page);
}

#[test]
fn set_aside_files_show_beside_their_keepers_and_file_it_anyway_files_them() {
    let Some(corpus) = common::corpus() else { return };
    let Some(b) = Browser::start() else { return };
    let t = tempfile::tempdir().unwrap();
    let state = t.path().join("state");
    let (first, second, lib) = (t.path().join("in1"), t.path().join("in2"), t.path().join("lib"));
    let photos = photo_folder(&corpus, t.path());
    for d in [&first, &second, &lib] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    std::fs::rename(photos.join("jolla.jpg"), first.join("jolla.jpg")).expect("mv");
    std::fs::rename(photos.join("Canon_40D.jpg"), first.join("Canon_40D.jpg")).expect("mv");
    std::fs::rename(photos.join("jolla-backup.jpg"), second.join("jolla.jpg")).expect("mv");
    std::fs::rename(photos.join("canon-half.jpg"), second.join("canon-half.jpg")).expect("mv");
    for src in [&first, &second] {
        let out = common::run(common::cbctl(&state).arg("organize").arg(src).arg(&lib));
        assert_eq!(out.status.code(), Some(0));
    }
    let jolla_copy = canonical(&second.join("jolla.jpg"));
    let jolla = canonical(&lib.join("2014/09/jolla.jpg"));
    let canon = canonical(&lib.join("2008/05/Canon_40D.jpg"));
    // The similar copy was moved to the library's duplicates folder.
    let copy = canonical(&lib.join(".clean-backup-duplicates/canon-half.jpg"));
    let hash = common::b3(Path::new(&copy));

    let page = start_review(&state, Path::new(""), &["--idle", "300s"]);
    b.goto(&page.url);
    b.wait_for(".row", Duration::from_secs(30));
    let rows = b.find_all(".row[data-source=daemon]");
    assert_eq!(rows.len(), 2, "the two files the organize set aside");
    let text = b.text(&format!(".row[data-keeper=\"{jolla}\"]"));
    assert!(text.contains("Set aside") && text.contains("exact") && text.contains(&jolla_copy), "{text}");
    assert!(text.contains("KEEP") && text.contains("Jolla"), "the library keeper, with its camera: {text}");
    let row = format!(".row[data-keeper=\"{canon}\"]");
    let text = b.text(&row);
    assert!(text.contains("similar") && text.contains(&copy) && text.contains("Canon EOS 40D"), "{text}");

    b.click(&format!("{row} .card.member[data-path=\"{copy}\"] .file-anyway"));
    wait_until(&b, "file it anyway", "return document.getElementById('toast').textContent.startsWith('filed')");
    assert!(!Path::new(&copy).exists(), "moved out of the duplicates folder");
    let filed: Vec<PathBuf> = walkdir::WalkDir::new(&lib)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && !e.path().starts_with(lib.join(".clean-backup-duplicates")))
        .filter(|e| common::b3(e.path()) == hash)
        .map(|e| e.path().to_path_buf())
        .collect();
    assert_eq!(filed.len(), 1, "filed in the library, bytes unchanged: {filed:?}");
    assert_eq!(b.find_all(".row[data-source=daemon]").len(), 1, "no longer listed as set aside");

    b.press_key("u");
    wait_until(&b, "undo", "return document.getElementById('toast').textContent.startsWith('undid')");
    assert_eq!(common::b3(Path::new(&copy)), hash, "back in the duplicates folder");
    assert!(!filed[0].exists(), "and out of the library");
}
