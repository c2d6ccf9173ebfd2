//! The review page on a big folder (issue 16: "5,000 groups load quickly;
//! the first screen is ready in under 1 s for a 2,000-file folder whose
//! thumbnails are cached").
//!
//! For each scenario a temp folder is filled with generated JPEGs: N
//! distinct pictures (smooth random patterns plus a little noise, so their
//! pHashes differ) and a half-size re-encode of each, so N similar groups.
//! The files are named `IMG_YYYYMMDD_HHMMSS…`, so each is dated by its name
//! and none lands in the page's "undated" section. Then, with the release
//! `cbctl`:
//!
//! - `cbctl --state-dir S --json review DIR --idle 600s`: the time to its
//!   `listening` line, cold (empty state: index and pHash every file) and
//!   again on the same state (the index reused);
//! - `GET /api/view`: its size and time (median of 5);
//! - in headless Chromium (tests/common/browser.rs, 1280x1000 viewport):
//!   "first screen ready", read from the page's own clock
//!   (`performance.now()`, ms since navigation start): the first animation
//!   frame in which `#groups` has rows and every `#groups img` inside the
//!   viewport is `complete` with `naturalWidth > 0`. A script injected
//!   before the page's own (CDP `Page.addScriptToEvaluateOnNewDocument`)
//!   checks this on every frame, so the figure is not late by a polling
//!   interval. The first visit has cold thumbnails (made by the server on
//!   request); the warm runs that follow clear the browser's HTTP cache
//!   first (CDP `Network.clearBrowserCache`), so every thumbnail comes from
//!   the server's cache in the state dir, not from Chromium's;
//! - for the 2,000-file folder, `cbctl dedup DIR --report html --out F`:
//!   time and size.
//!
//! Run: `cargo bench --bench review_page`. Without `--bench` (as under
//! `cargo test --all-targets`) it checks itself on 20 small groups; without
//! chromium/chromedriver the browser part is skipped.

#[path = "../tests/common/browser.rs"]
mod browser;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rayon::prelude::*;

/// Warm runs of the page per scenario.
const RUNS: usize = 5;

/// Marks the first frame the first screen is ready, in `window.__cb`.
const READY_JS: &str = r#"
(() => {
  const cb = window.__cb = { rows: null, ready: null, imgs: 0, api: null };
  const tick = () => {
    const g = document.getElementById('groups');
    const rows = g ? g.querySelectorAll('.row').length : 0;
    if (rows && cb.rows === null) cb.rows = performance.now();
    if (rows) {
      const H = innerHeight, W = innerWidth;
      const vis = [...g.querySelectorAll('img')].filter((i) => {
        const r = i.getBoundingClientRect();
        return r.bottom > 0 && r.top < H && r.right > 0 && r.left < W;
      });
      if (vis.length && vis.every((i) => i.complete && i.naturalWidth > 0)) {
        cb.ready = performance.now();
        cb.imgs = vis.length;
        const api = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/view'));
        cb.api = api ? api.responseEnd : null;
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})();
"#;

struct Scenario {
    name: &'static str,
    groups: usize,
    width: usize,
    height: usize,
    report: bool,
}

#[derive(Default)]
struct Figures {
    files: usize,
    folder_bytes: u64,
    gen_s: f64,
    groups_shown: u64,
    undated: u64,
    listen_cold_s: f64,
    listen_again_s: f64,
    api_bytes: usize,
    api_ms: f64,
    cold: Option<Visit>,
    warm: Vec<Visit>,
    report: Option<(f64, f64, u64)>,
}

#[derive(Clone, Copy)]
struct Visit {
    api: f64,
    rows: f64,
    ready: f64,
    imgs: u64,
}

/// A tiny deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f32 {
        (self.next() >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// One product of sines: its values along x, along y, and its amplitude.
type Term = (Vec<f32>, Vec<f32>, f32);

/// A w x h RGB picture: per channel, four products of random low-frequency
/// sines, plus noise.
fn picture(seed: u64, w: usize, h: usize) -> Vec<u8> {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let tau = std::f32::consts::TAU;
    // terms[c][k] = (x table, y table, amplitude)
    let mut terms: Vec<Vec<Term>> = Vec::new();
    for _ in 0..3 {
        let mut ch = Vec::new();
        for _ in 0..4 {
            let (fx, px) = (tau * (0.3 + 5.0 * rng.unit()) / w as f32, tau * rng.unit());
            let (fy, py) = (tau * (0.3 + 5.0 * rng.unit()) / h as f32, tau * rng.unit());
            let xs: Vec<f32> = (0..w).map(|x| (fx * x as f32 + px).sin()).collect();
            let ys: Vec<f32> = (0..h).map(|y| (fy * y as f32 + py).sin()).collect();
            ch.push((xs, ys, 20.0 + 40.0 * rng.unit()));
        }
        terms.push(ch);
    }
    let mut out = vec![0u8; w * h * 3];
    for y in 0..h {
        for x in 0..w {
            for (c, ch) in terms.iter().enumerate() {
                let v: f32 = ch.iter().map(|(xs, ys, a)| a * xs[x] * ys[y]).sum();
                let noise = (rng.next() >> 59) as f32 - 16.0;
                out[(y * w + x) * 3 + c] = (128.0 + v + noise * 0.5).clamp(0.0, 255.0) as u8;
            }
        }
    }
    out
}

/// `pixels` at half size (2x2 averages).
fn half(pixels: &[u8], w: usize, h: usize) -> Vec<u8> {
    let (hw, hh) = (w / 2, h / 2);
    let mut out = vec![0u8; hw * hh * 3];
    for y in 0..hh {
        for x in 0..hw {
            for c in 0..3 {
                let at = |dx: usize, dy: usize| u32::from(pixels[((2 * y + dy) * w + 2 * x + dx) * 3 + c]);
                out[(y * hw + x) * 3 + c] = ((at(0, 0) + at(1, 0) + at(0, 1) + at(1, 1) + 2) / 4) as u8;
            }
        }
    }
    out
}

fn jpeg(pixels: &[u8], w: usize, h: usize, quality: i32) -> Vec<u8> {
    let mut enc = turbojpeg::Compressor::new().expect("a JPEG encoder");
    enc.set_quality(quality).expect("quality");
    enc.set_subsamp(turbojpeg::Subsamp::Sub2x2).expect("subsampling");
    let image = turbojpeg::Image { pixels, width: w, pitch: w * 3, height: h, format: turbojpeg::PixelFormat::RGB };
    enc.compress_to_vec(image).expect("encode")
}

/// Fills `dir` with `n` pictures and their half-size copies; returns their bytes.
fn make_folder(dir: &Path, n: usize, w: usize, h: usize) -> u64 {
    std::fs::create_dir_all(dir).expect("the photo folder");
    let base = chrono::NaiveDate::from_ymd_opt(2024, 3, 1).and_then(|d| d.and_hms_opt(8, 0, 0)).expect("a date");
    (0..n)
        .into_par_iter()
        .map(|i| {
            let name = (base + chrono::Duration::seconds(i as i64 * 97)).format("IMG_%Y%m%d_%H%M%S").to_string();
            let px = picture(i as u64 + 1, w, h);
            let full = jpeg(&px, w, h, 88);
            let small = jpeg(&half(&px, w, h), w / 2, h / 2, 80);
            std::fs::write(dir.join(format!("{name}.jpg")), &full).expect("write a photo");
            std::fs::write(dir.join(format!("{name}_half.jpg")), &small).expect("write a photo");
            (full.len() + small.len()) as u64
        })
        .sum()
}

fn cbctl(tmp: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cbctl"));
    let run = tmp.join("run");
    std::fs::create_dir_all(&run).expect("the runtime dir");
    c.arg("--state-dir")
        .arg(tmp.join("state"))
        .env_remove("CLEAN_BACKUP_CONFIG")
        .env("XDG_CONFIG_HOME", tmp.join("no-config"))
        .env("XDG_RUNTIME_DIR", run);
    c
}

/// A running `cbctl review`: its process and its `listening` line.
struct Server {
    child: Child,
    url: String,
    port: u16,
    line: serde_json::Value,
    took: Duration,
}

impl Server {
    fn start(tmp: &Path, dir: &Path) -> Server {
        let started = Instant::now();
        let mut child = cbctl(tmp)
            .args(["--json", "review"])
            .arg(dir)
            .args(["--idle", "600s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start cbctl review");
        let mut out = BufReader::new(child.stdout.take().expect("its stdout"));
        let mut first = String::new();
        out.read_line(&mut first).expect("read its first line");
        let took = started.elapsed();
        let line: serde_json::Value =
            serde_json::from_str(&first).unwrap_or_else(|e| panic!("not a JSON line ({e}): {first:?}"));
        assert_eq!(line["event"], "listening", "{line}");
        let url = line["url"].as_str().expect("a url").to_string();
        let port = line["port"].as_u64().and_then(|p| u16::try_from(p).ok()).expect("a port");
        // Keep its stdout drained (it prints a summary when it stops).
        std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
        Server { child, url, port, line, took }
    }

    fn token(&self) -> &str {
        self.url.split("token=").nth(1).expect("a token in the URL")
    }

    fn stop(mut self) {
        // SIGTERM: it stops as after Ctrl-C, closing its state cleanly.
        // SAFETY: kill(2) on our own child's pid.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn max(v: &[f64]) -> f64 {
    v.iter().copied().fold(f64::MIN, f64::max)
}

/// One visit of the page: goto, then wait for `window.__cb.ready`.
fn visit(b: &browser::Browser, url: &str) -> Visit {
    b.goto(url);
    let start = Instant::now();
    loop {
        let cb = b.eval("return window.__cb || null");
        if let Some(ready) = cb["ready"].as_f64() {
            return Visit {
                api: cb["api"].as_f64().unwrap_or(f64::NAN),
                rows: cb["rows"].as_f64().unwrap_or(f64::NAN),
                ready,
                imgs: cb["imgs"].as_u64().unwrap_or(0),
            };
        }
        if start.elapsed() > Duration::from_secs(120) {
            let state = b.eval(
                "return {url: location.href, rows: document.querySelectorAll('#groups .row').length, \
                 imgs: [...document.querySelectorAll('#groups img')].slice(0, 8).map((i) => [i.complete, \
                 i.naturalWidth, i.getBoundingClientRect().top]), toast: (document.getElementById('toast') || {}).textContent}",
            );
            panic!("the first screen was not ready in 120 s: {cb}; {state}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits until the page has fetched nothing more for a second (the lazy
/// images Chromium fetches ahead of the viewport included).
fn settle(b: &browser::Browser) {
    let start = Instant::now();
    let js = "return performance.getEntriesByType('resource').length";
    let (mut last, mut since) = (b.eval(js), Instant::now());
    while since.elapsed() < Duration::from_secs(1) && start.elapsed() < Duration::from_secs(300) {
        std::thread::sleep(Duration::from_millis(100));
        let now = b.eval(js);
        if now != last {
            (last, since) = (now, Instant::now());
        }
    }
}

fn run(s: &Scenario, b: Option<&browser::Browser>, runs: usize) -> Figures {
    let tmp = tempfile::tempdir().expect("a temp dir");
    let dir = tmp.path().join("photos");
    let mut f = Figures { files: 2 * s.groups, ..Figures::default() };
    let t = Instant::now();
    f.folder_bytes = make_folder(&dir, s.groups, s.width, s.height);
    f.gen_s = t.elapsed().as_secs_f64();
    eprintln!("{}: {} files, {:.1} MB, made in {:.1} s", s.name, f.files, f.folder_bytes as f64 / 1e6, f.gen_s);

    let server = Server::start(tmp.path(), &dir);
    f.listen_cold_s = server.took.as_secs_f64();
    server.stop();
    let server = Server::start(tmp.path(), &dir);
    f.listen_again_s = server.took.as_secs_f64();
    f.groups_shown = server.line["groups"].as_u64().unwrap_or(0);
    f.undated = server.line["undated"].as_u64().unwrap_or(0);
    eprintln!(
        "{}: listening after {:.2} s cold, {:.2} s again; {}",
        s.name, f.listen_cold_s, f.listen_again_s, server.line
    );

    let host = format!("127.0.0.1:{}", server.port);
    let request = format!("GET /api/view?token={} HTTP/1.1\r\nHost: {host}\r\n\r\n", server.token());
    let mut times = Vec::new();
    for _ in 0..RUNS {
        let t = Instant::now();
        let (status, body) = browser::raw_http(host.as_str(), &request);
        times.push(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(status, 200, "/api/view: {body}");
        f.api_bytes = body.len();
    }
    f.api_ms = median(&times);
    eprintln!("{}: /api/view {} bytes, {:.1} ms", s.name, f.api_bytes, f.api_ms);

    if let Some(b) = b {
        b.cdp("Network.clearBrowserCache", serde_json::json!({}));
        f.cold = Some(visit(b, &server.url));
        eprintln!("{}: cold visit done", s.name);
        settle(b);
        for _ in 0..runs {
            b.cdp("Network.clearBrowserCache", serde_json::json!({}));
            f.warm.push(visit(b, &server.url));
        }
        // Leave the page, so the server is idle while it stops.
        b.goto("about:blank");
    }
    server.stop();

    if s.report {
        let out = tmp.path().join("report.html");
        let once = || {
            let t = Instant::now();
            let st = cbctl(tmp.path())
                .args(["dedup", "--report", "html", "--out"])
                .arg(&out)
                .arg(&dir)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run cbctl dedup");
            assert!(st.code().is_some_and(|c| c <= 1), "cbctl dedup --report html: {st}");
            t.elapsed().as_secs_f64()
        };
        let first = once();
        let again = once();
        let size = std::fs::metadata(&out).map(|m| m.len()).unwrap_or(0);
        f.report = Some((first, again, size));
    }
    f
}

fn print(s: &Scenario, f: &Figures) {
    println!("\n## {} ({} groups, {}x{} + half-size copies)", s.name, s.groups, s.width, s.height);
    println!("| | |");
    println!("| --- | ---: |");
    println!("| files / folder size | {} / {:.1} MB |", f.files, f.folder_bytes as f64 / 1e6);
    println!("| groups on the page / undated | {} / {} |", f.groups_shown, f.undated);
    println!("| `cbctl review` to `listening`, cold state | {:.2} s |", f.listen_cold_s);
    println!("| `cbctl review` to `listening`, index reused | {:.2} s |", f.listen_again_s);
    println!("| `GET /api/view` size | {:.2} MB |", f.api_bytes as f64 / 1e6);
    println!("| `GET /api/view` time (median of {RUNS}) | {:.1} ms |", f.api_ms);
    if let Some(c) = f.cold {
        println!(
            "| first screen, cold thumbnails | {:.0} ms ({} images; view fetched {:.0} ms, rows {:.0} ms) |",
            c.ready, c.imgs, c.api, c.rows
        );
    }
    if !f.warm.is_empty() {
        let pick = |g: fn(&Visit) -> f64| f.warm.iter().map(g).collect::<Vec<f64>>();
        let (ready, api, rows) = (pick(|v| v.ready), pick(|v| v.api), pick(|v| v.rows));
        println!(
            "| first screen, cached thumbnails (median / max of {}) | {:.0} / {:.0} ms |",
            f.warm.len(),
            median(&ready),
            max(&ready)
        );
        println!("| of which: view fetched (median) | {:.0} ms |", median(&api));
        println!("| of which: first rows in the DOM (median) | {:.0} ms |", median(&rows));
        println!("| images in the first screen | {} |", f.warm[0].imgs);
    }
    if let Some((first, again, size)) = f.report {
        println!("| `dedup --report html`, cold 200 px thumbnails | {first:.2} s |");
        println!("| `dedup --report html`, again | {again:.2} s |");
        println!("| report file size | {:.1} MB |", size as f64 / 1e6);
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let scenarios: Vec<Scenario> = if full {
        vec![
            Scenario { name: "2,000 files", groups: 1000, width: 1200, height: 900, report: true },
            Scenario { name: "10,000 files", groups: 5000, width: 320, height: 240, report: false },
        ]
    } else {
        vec![Scenario { name: "smoke", groups: 20, width: 320, height: 240, report: true }]
    };
    let b = browser::Browser::start();
    if let Some(b) = &b {
        b.cdp("Page.addScriptToEvaluateOnNewDocument", serde_json::json!({ "source": READY_JS }));
    }
    let runs = if full { RUNS } else { 1 };
    let all: Vec<(&Scenario, Figures)> = scenarios.iter().map(|s| (s, run(s, b.as_ref(), runs))).collect();
    println!("\nreview page (viewport {}x{}; {} cores)", browser::WIDTH, browser::HEIGHT, rayon::current_num_threads());
    for (s, f) in &all {
        print(s, f);
    }
}
