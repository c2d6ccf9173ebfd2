//! A real headless Chromium, driven through WebDriver (Debian's `chromium`
//! and `chromium-driver`), for tests of the pages cbctl serves; and raw
//! HTTP/1.1 requests for what a browser would not send (no token, a foreign
//! `Host:`).
//!
//! Blocking on purpose: a private tokio runtime inside [`Browser`] runs the
//! WebDriver client, so tests stay plain `#[test]` functions.
//!
//! ```ignore
//! let Some(b) = common::browser::Browser::start() else { return };
//! b.goto(&url);
//! b.click("#next");
//! b.press_key("ArrowRight");
//! assert_eq!(b.text("#count"), "2");
//! b.screenshot_full_page(Path::new("target/review.png"));
//! ```
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

/// The viewport the page is shown in (`--window-size`, grown by the frame).
pub const WIDTH: u32 = 1280;
/// See [`WIDTH`].
pub const HEIGHT: u32 = 1000;

/// A headless Chromium session behind its own `chromedriver`; both end when
/// it is dropped.
pub struct Browser {
    rt: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    _profile: tempfile::TempDir,
}

/// An element found on the page, usable while its [`Browser`] lives.
pub struct Element<'a> {
    browser: &'a Browser,
    el: fantoccini::elements::Element,
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session.
    /// `None` (with a message) when `chromium` or `chromedriver` is not
    /// installed outside CI; under `CI=true` their absence fails the test.
    pub fn start() -> Option<Browser> {
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver")) else {
            let missing =
                "chromium and chromedriver (Debian packages chromium, chromium-driver; scripts/setup.sh installs them)";
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("browser missing: CI must have {missing}");
            }
            eprintln!("SKIP: this test needs {missing}");
            return None;
        };
        let port = free_port();
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", chromedriver.display()));
        let profile = tempfile::tempdir().expect("a temp dir for the Chromium profile");
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime");
        let mut browser = Browser { rt, client: None, driver, _profile: profile };

        // chromedriver answers GET /status with ready=true once it takes sessions.
        let addr = format!("127.0.0.1:{port}");
        let start = Instant::now();
        loop {
            if let Ok((200, body)) = try_raw_http(&addr, "GET /status HTTP/1.1\r\nHost: localhost\r\n\r\n") {
                if body.contains("\"ready\":true") {
                    break;
                }
            }
            if let Ok(Some(status)) = browser.driver.try_wait() {
                panic!("chromedriver exited before answering: {status}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "chromedriver did not answer on port {port} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }

        let args = [
            "--headless=new".to_string(),
            // Tests run as root, where Chromium's sandbox refuses to start.
            "--no-sandbox".to_string(),
            "--disable-gpu".to_string(),
            // Containers often have a small /dev/shm; Chromium then crashes on big pages.
            "--disable-dev-shm-usage".to_string(),
            format!("--window-size={WIDTH},{HEIGHT}"),
            format!("--user-data-dir={}", browser._profile.path().display()),
        ];
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_string(),
            serde_json::json!({ "binary": chromium.to_string_lossy(), "args": args }),
        );
        let url = format!("http://{addr}/");
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = browser
            .rt
            .block_on(ClientBuilder::new(connector).capabilities(caps).connect(&url))
            .unwrap_or_else(|e| panic!("open a Chromium session through chromedriver: {e}"));
        browser.client = Some(client);
        // New headless keeps room for a window frame: --window-size is the
        // outer size, so grow the window until the viewport is WIDTH x HEIGHT.
        let frame =
            browser.eval("return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight]");
        let extra = |i: usize| frame[i].as_u64().and_then(|v| u32::try_from(v).ok()).unwrap_or(0);
        let (w, h) = (WIDTH + extra(0), HEIGHT + extra(1));
        browser.block(browser.client().set_window_size(w, h)).unwrap_or_else(|e| panic!("resize the window: {e}"));
        Some(browser)
    }

    fn client(&self) -> &Client {
        self.client.as_ref().expect("the session is open")
    }

    fn block<T>(&self, f: impl std::future::Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// Loads `url` and waits until the page has loaded.
    pub fn goto(&self, url: &str) {
        self.block(self.client().goto(url)).unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The URL the browser shows now.
    pub fn current_url(&self) -> String {
        self.block(self.client().current_url()).expect("the current URL").to_string()
    }

    /// The first element matching the CSS selector; fails the test when none does.
    pub fn find(&self, css: &str) -> Element<'_> {
        let el = self.block(self.client().find(Locator::Css(css))).unwrap_or_else(|e| panic!("find {css:?}: {e}"));
        Element { browser: self, el }
    }

    /// Every element matching the CSS selector (maybe none).
    pub fn find_all(&self, css: &str) -> Vec<Element<'_>> {
        let els =
            self.block(self.client().find_all(Locator::Css(css))).unwrap_or_else(|e| panic!("find all {css:?}: {e}"));
        els.into_iter().map(|el| Element { browser: self, el }).collect()
    }

    /// Clicks the first element matching `css`.
    pub fn click(&self, css: &str) {
        self.find(css).click();
    }

    /// The visible text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        self.find(css).text()
    }

    /// Presses and releases one key on the page (sent to the focused
    /// element, the page's body when nothing has focus). `key` is a
    /// `KeyboardEvent.key` name — `ArrowLeft`, `ArrowRight`, `ArrowUp`,
    /// `ArrowDown`, `Enter`, `Escape`, `Tab`, `Backspace`, `Delete`, `Home`,
    /// `End`, `PageUp`, `PageDown`, ` ` / `Space` — or one character (`j`, `?`).
    pub fn press_key(&self, key: &str) {
        let value = key_char(key).unwrap_or_else(|| panic!("press_key: unknown key {key:?}"));
        let actions =
            KeyActions::new("keyboard".to_string()).then(KeyAction::Down { value }).then(KeyAction::Up { value });
        self.block(self.client().perform_actions(actions)).unwrap_or_else(|e| panic!("press {key:?}: {e}"));
        let _ = self.block(self.client().release_actions());
    }

    /// Waits up to `timeout` for an element matching `css` to appear, and returns it.
    pub fn wait_for(&self, css: &str, timeout: Duration) -> Element<'_> {
        let start = Instant::now();
        loop {
            if let Ok(el) = self.block(self.client().find(Locator::Css(css))) {
                return Element { browser: self, el };
            }
            assert!(
                start.elapsed() < timeout,
                "timed out after {timeout:?} waiting for {css:?} on {}",
                self.current_url()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `js` as the body of a function in the page; what it `return`s
    /// comes back as JSON (`null` when nothing): `b.eval("return document.title")`.
    pub fn eval(&self, js: &str) -> serde_json::Value {
        self.block(self.client().execute(js, Vec::new())).unwrap_or_else(|e| panic!("eval {js:?}: {e}"))
    }

    /// A PNG of the whole page, beyond the viewport down to the end of the
    /// document (Chrome DevTools `Page.captureScreenshot` with
    /// `captureBeyondViewport`), written to `path` (its folder made).
    /// Returns its bytes.
    pub fn screenshot_full_page(&self, path: &Path) -> Vec<u8> {
        let metrics = self.cdp("Page.getLayoutMetrics", serde_json::json!({}));
        let size = &metrics["cssContentSize"];
        let (w, h) = (size["width"].as_f64().unwrap_or(WIDTH.into()), size["height"].as_f64().unwrap_or(HEIGHT.into()));
        let shot = self.cdp(
            "Page.captureScreenshot",
            serde_json::json!({
                "format": "png",
                "captureBeyondViewport": true,
                "clip": { "x": 0, "y": 0, "width": w.max(WIDTH.into()).ceil(), "height": h.ceil(), "scale": 1 },
            }),
        );
        let data = shot["data"].as_str().unwrap_or_else(|| panic!("no screenshot data in {shot}"));
        let png = base64::engine::general_purpose::STANDARD.decode(data).expect("the screenshot is base64");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        }
        std::fs::write(path, &png).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        png
    }

    /// Runs a Chrome DevTools Protocol command through chromedriver's
    /// `goog/cdp/execute` and returns its result.
    pub fn cdp(&self, cmd: &str, params: serde_json::Value) -> serde_json::Value {
        let command = Cdp { cmd: cmd.to_string(), params };
        self.block(self.client().issue_cmd(command)).unwrap_or_else(|e| panic!("CDP {cmd}: {e}"))
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Ends the session, so chromedriver quits Chromium; bounded, for a hung browser.
            let _ = self.rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), client.close()).await });
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Element<'_> {
    /// Clicks it (scrolled into view first, as a person would).
    pub fn click(&self) {
        self.browser.block(self.el.click()).unwrap_or_else(|e| panic!("click: {e}"));
    }

    /// Its visible text.
    pub fn text(&self) -> String {
        self.browser.block(self.el.text()).unwrap_or_else(|e| panic!("text: {e}"))
    }

    /// Its attribute `name`, if set.
    pub fn attr(&self, name: &str) -> Option<String> {
        self.browser.block(self.el.attr(name)).unwrap_or_else(|e| panic!("attribute {name}: {e}"))
    }

    /// Whether it is shown.
    pub fn is_displayed(&self) -> bool {
        self.browser.block(self.el.is_displayed()).unwrap_or_else(|e| panic!("is displayed: {e}"))
    }
}

/// A Chrome DevTools command for chromedriver's `POST /session/{id}/goog/cdp/execute`.
#[derive(Debug)]
struct Cdp {
    cmd: String,
    params: serde_json::Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({ "cmd": self.cmd, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// The WebDriver code point of a `KeyboardEvent.key` name or one character.
fn key_char(key: &str) -> Option<char> {
    let special = match key {
        "ArrowLeft" => Key::Left,
        "ArrowRight" => Key::Right,
        "ArrowUp" => Key::Up,
        "ArrowDown" => Key::Down,
        "Enter" => Key::Enter,
        "Escape" => Key::Escape,
        "Tab" => Key::Tab,
        "Backspace" => Key::Backspace,
        "Delete" => Key::Delete,
        "Home" => Key::Home,
        "End" => Key::End,
        "PageUp" => Key::PageUp,
        "PageDown" => Key::PageDown,
        "Space" => Key::Space,
        _ => {
            let mut chars = key.chars();
            return match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => None,
            };
        }
    };
    Some(special.into())
}

/// `name` found in `$PATH`.
fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|dir| dir.join(name)).find(|p| p.is_file())
}

/// A TCP port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("its address").port()
}

/// The status of a plain `GET url` (`http://host:port/path?query`), sent
/// without the browser: no cookies, nothing but `Host:` and `Connection: close`.
pub fn status_of(url: &str) -> u16 {
    let rest = url.strip_prefix("http://").unwrap_or_else(|| panic!("status_of needs an http:// URL: {url}"));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    raw_http(authority, &format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n")).0
}

/// Sends `request` exactly as written (request line and headers, ending in
/// an empty line, maybe a body) to `addr` and returns the response's status
/// and body (by `Content-Length`, chunked bodies decoded, else up to the
/// close; text lossily). Adds `Connection: close` when the request has no
/// `Connection:` header. Fails the test when nothing valid comes back
/// within 10 s.
pub fn raw_http(addr: impl ToSocketAddrs + std::fmt::Debug, request: &str) -> (u16, String) {
    try_raw_http(&addr, request).unwrap_or_else(|e| panic!("HTTP to {addr:?}: {e}"))
}

fn try_raw_http(addr: impl ToSocketAddrs, request: &str) -> std::io::Result<(u16, String)> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let addr = addr.to_socket_addrs()?.next().ok_or_else(|| bad("no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    stream.set_write_timeout(Some(Duration::from_secs(10)))?;
    let mut request = request.to_string();
    let (head, _) =
        request.split_once("\r\n\r\n").ok_or_else(|| bad("the request has no empty line after its headers"))?;
    if !head.lines().any(|l| l.to_ascii_lowercase().starts_with("connection:")) {
        let at = head.len();
        request.insert_str(at, "\r\nConnection: close");
    }
    stream.write_all(request.as_bytes())?;
    // Read until the body is complete by its Content-Length or last chunk
    // (some servers, chromedriver among them, keep the connection open), or
    // until the server closes.
    let mut response = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    loop {
        if let Some(done) = complete(&response) {
            return done.ok_or_else(|| bad("a bad response"));
        }
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return complete(&response).flatten().or_else(|| parse(&response, true)).ok_or_else(|| bad("no response"));
        }
        response.extend_from_slice(&buf[..n]);
    }
}

/// The status and body of `response` when it is complete; `Some(None)` when it cannot be.
fn complete(response: &[u8]) -> Option<Option<(u16, String)>> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..end]).to_ascii_lowercase();
    let body = &response[end + 4..];
    let length = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse::<usize>());
    let chunked = head.lines().any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    match length {
        Some(Ok(n)) if body.len() >= n => Some(parse(response, false)),
        Some(Ok(_)) => None,
        Some(Err(_)) => Some(None),
        None if chunked => dechunk(body).map(|_| parse(response, false)),
        None => None,
    }
}

/// The status and body of a whole response; `at_eof`: a body without
/// length runs to the end.
fn parse(response: &[u8], at_eof: bool) -> Option<(u16, String)> {
    let end = response.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&response[..end]).to_string();
    let body = &response[end + 4..];
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok())?;
    let lower = head.to_ascii_lowercase();
    let length = lower.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok());
    let chunked = lower.lines().any(|l| l.starts_with("transfer-encoding:") && l.contains("chunked"));
    let body = match length {
        Some(n) => body.get(..n)?.to_vec(),
        None if chunked => dechunk(body)?,
        None if at_eof => body.to_vec(),
        None => return None,
    };
    Some((status, String::from_utf8_lossy(&body).to_string()))
}

/// The data of a `Transfer-Encoding: chunked` body.
fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}
