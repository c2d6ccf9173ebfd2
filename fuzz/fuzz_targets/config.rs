//! `cargo +nightly fuzz run config fuzz/corpus/config` (from the crate root). `Config::parse` on
//! TOML text (lossy UTF-8) and `Layout::parse`/`render` on its first line, with the rest of the
//! input as the camera name. None may panic; an accepted config has a usable layout, and its
//! `to_toml` parses back to the same config; a rendered layout is a relative path of plain
//! components (no `..`, `.` or root) whatever the camera name.
#![no_main]

use std::path::{Component, Path};

use chrono::NaiveDate;
use clean_backup::config::{self, Config};
use clean_backup::layout::Layout;
use libfuzzer_sys::fuzz_target;

fn check_render(layout: &Layout, camera: Option<&str>) {
    let taken = NaiveDate::from_ymd_opt(2023, 5, 14).unwrap().and_hms_opt(12, 34, 56).unwrap();
    let path = layout.render(taken, camera);
    assert!(path.is_relative(), "{layout:?} {camera:?} -> {path:?}");
    for c in path.components() {
        assert!(matches!(c, Component::Normal(_)), "{layout:?} {camera:?} -> {path:?}: component {c:?}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let path = Path::new("/fuzz/config.toml");

    if let Ok(cfg) = Config::parse(&text, path) {
        let layout = Layout::parse(&cfg.layout).expect("an accepted config's layout parses");
        check_render(&layout, None);
        let toml = cfg.to_toml();
        match Config::parse(&toml, path) {
            Ok(again) => assert_eq!(format!("{again:?}"), format!("{cfg:?}"), "to_toml does not round-trip:\n{toml}"),
            Err(e) => panic!("to_toml of an accepted config is refused: {e}\n{toml}"),
        }
    }

    let (template, camera) = text.split_once('\n').unwrap_or((&text, ""));
    if let Ok(layout) = Layout::parse(template) {
        check_render(&layout, None);
        check_render(&layout, Some(camera));
    }

    if let Ok(n) = config::parse_threshold(template) {
        assert!(n <= 32);
    }
});
