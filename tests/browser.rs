//! The browser harness (tests/common/browser.rs) against a real headless
//! Chromium: a tiny page served from a thread here is loaded, clicked,
//! typed at, evaluated and screenshotted whole; raw HTTP checks the tiny
//! server's answers without the browser.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::browser::{self, Browser};

/// 3000 px tall, so a full-page screenshot is taller than the 1000 px viewport.
const PAGE: &str = r#"<!doctype html>
<html><head><title>smoke</title>
<style>body { margin: 0; font: 16px sans-serif } #tall { height: 3000px; background: linear-gradient(#fff, #38c) }</style>
</head><body><div id="tall">
<button id="go">Go</button> <span id="out">waiting</span> <span id="keys"></span>
</div>
<script>
document.getElementById('go').addEventListener('click', () => {
  document.getElementById('out').textContent = 'clicked';
  setTimeout(() => {
    const p = document.createElement('p');
    p.id = 'late';
    p.textContent = 'later';
    document.getElementById('tall').appendChild(p);
  }, 200);
});
document.addEventListener('keydown', e => {
  const k = document.getElementById('keys');
  k.textContent = (k.textContent + ' ' + e.key).trim();
});
</script></body></html>"#;

/// Serves PAGE at `/` to requests whose `Host:` is this server's own
/// address; 403 for any other host, 404 for any other path. Returns the address.
fn serve() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let own = addr.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let own = own.clone();
            std::thread::spawn(move || answer(stream, &own));
        }
    });
    addr
}

fn answer(mut stream: TcpStream, own: &str) {
    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1).unwrap_or("");
    let host = head.lines().find_map(|l| l.strip_prefix("Host: ").or_else(|| l.strip_prefix("host: "))).unwrap_or("");
    let (status, body) = match (host == own, path) {
        (false, _) => ("403 Forbidden", "foreign host"),
        (true, "/") => ("200 OK", PAGE),
        (true, _) => ("404 Not Found", "no such page"),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes());
}

#[test]
fn chromium_clicks_types_evaluates_and_screenshots_the_whole_page() {
    let addr = serve();
    let Some(b) = Browser::start() else { return };
    b.goto(&format!("http://{addr}/"));
    assert_eq!(b.eval("return document.title"), "smoke");
    assert_eq!(b.text("#out"), "waiting");

    b.click("#go");
    assert_eq!(b.text("#out"), "clicked");
    assert_eq!(b.wait_for("#late", Duration::from_secs(5)).text(), "later");

    b.press_key("ArrowRight");
    b.press_key("j");
    b.press_key("Escape");
    assert_eq!(b.text("#keys"), "ArrowRight j Escape");

    let size = b.eval("return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight]");
    assert_eq!(size, serde_json::json!([browser::WIDTH, browser::HEIGHT, 3000]), "viewport and page height");
    assert_eq!(b.find_all("button").len(), 1);
    assert_eq!(b.find("#go").attr("id").as_deref(), Some("go"));

    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-smoke.png");
    let png = b.screenshot_full_page(&out);
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "a PNG");
    assert_eq!(std::fs::read(&out).unwrap(), png, "written to {}", out.display());
    // IHDR: width and height, big-endian, at bytes 16..24.
    let width = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert_eq!(width, browser::WIDTH);
    assert!(height > browser::HEIGHT, "full page, not just the viewport: {width}x{height}");
    assert!(height >= 3000, "the whole 3000 px page: {width}x{height}");
}

#[test]
fn raw_http_sees_what_the_server_answers_without_a_browser() {
    let addr = serve();
    let (status, body) = browser::raw_http(&addr, &format!("GET / HTTP/1.1\r\nHost: {addr}\r\n\r\n"));
    assert_eq!(status, 200);
    assert!(body.contains(r#"<button id="go">"#), "{body}");

    let (status, body) = browser::raw_http(&addr, "GET / HTTP/1.1\r\nHost: evil.example:80\r\n\r\n");
    assert_eq!((status, body.as_str()), (403, "foreign host"));

    assert_eq!(browser::status_of(&format!("http://{addr}/")), 200);
    assert_eq!(browser::status_of(&format!("http://{addr}/nothing?token=x")), 404);
    assert_eq!(browser::status_of(&format!("http://{addr}")), 200);
}
