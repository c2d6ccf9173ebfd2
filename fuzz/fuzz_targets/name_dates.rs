//! `cargo +nightly fuzz run name_dates fuzz/corpus/name_dates` (from the crate root). Dates in file
//! names, EXIF/ISO date-time and offset strings, OS copy names, date-source names. None may panic;
//! a name's date is in 1990–2100, parsed date-times and offsets read back the same when written in
//! the formats they accept, an original name is shorter than the copy's and keeps its extension.
#![no_main]

use chrono::{Datelike, Timelike};
use clean_backup::media::date::{self, DateSource};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let s = String::from_utf8_lossy(data);
    let s = s.as_ref();

    if let Some(t) = date::date_from_name(s) {
        assert!((1990..=2100).contains(&t.year()), "{s:?} -> {t}");
        assert_eq!(t.nanosecond(), 0);
    }

    if let Some(t) = date::parse_exif_datetime(s) {
        assert!((1800..=2200).contains(&t.year()), "{s:?} -> {t}");
        let again = t.format("%Y:%m:%d %H:%M:%S").to_string();
        assert_eq!(date::parse_exif_datetime(&again), Some(t), "{s:?} -> {again:?}");
    }

    if let Some(o) = date::parse_offset(s) {
        let secs = o.local_minus_utc();
        assert!(secs.abs() <= 14 * 3600 + 59 * 60 && secs % 60 == 0, "{s:?} -> {o}");
        assert_eq!(date::parse_offset(&o.to_string()), Some(o), "{s:?} -> {o}");
    }

    if let Some((t, o)) = date::parse_iso_datetime(s) {
        let mut again = t.format("%Y-%m-%dT%H:%M:%S").to_string();
        if let Some(o) = o {
            again.push_str(&o.to_string());
        }
        assert_eq!(date::parse_iso_datetime(&again), Some((t, o)), "{s:?} -> {again:?}");
    }

    if let Some(original) = clean_backup::names::original_name(s) {
        assert!(!original.is_empty() && original.len() < s.len(), "{s:?} -> {original:?}");
        if let Some(i) = s.rfind('.').filter(|&i| i > 0) {
            assert!(original.ends_with(&s[i..]), "{s:?} -> {original:?} lost its extension");
        }
    }

    if let Some(d) = DateSource::parse(s) {
        assert_eq!(d.as_str(), s);
    }
});
