//! `cargo +nightly fuzz run movie_dates fuzz/corpus/movie_dates` (from the crate root). ISO-BMFF box
//! walking (`bmff::boxes`, nested), movie dates and CR3 metadata read from a file, Matroska and
//! AVCHD dates, RAW preview ranges. None may panic; every box payload lies inside its parent,
//! in order; the file walker (`read_top_box`) finds the same `moov` as the in-memory one;
//! `movie_dates` is `Ok(None)` exactly when there is no `moov`; QuickTime dates are real (years
//! 1800–2200, mvhd after 1970); a preview range lies inside the data and starts with a JPEG SOI.
#![no_main]


use chrono::{Datelike, FixedOffset, NaiveDateTime};
use clean_backup::media::{bmff, container, raw, Kind};
use libfuzzer_sys::fuzz_target;

#[path = "shared/mem_file.rs"]
mod shared;
use shared::mem_file;

/// Boxes whose payload is more boxes (after `skip` bytes).
fn children_at(kind: &[u8; 4]) -> Option<usize> {
    match kind {
        b"moov" | b"trak" | b"mdia" | b"minf" | b"stbl" | b"udta" | b"edts" | b"dinf" | b"ilst" | b"moof"
        | b"traf" | b"mvex" => Some(0),
        b"meta" => Some(4),
        b"keys" => Some(8),
        [0xA9, b'd', b'a', b'y'] => Some(0),
        _ => None,
    }
}

fn walk(data: &[u8], depth: usize) {
    let base = data.as_ptr() as usize;
    let mut prev_end = 0usize;
    for (kind, payload) in bmff::boxes(data) {
        let start = payload.as_ptr() as usize - base;
        assert!(start >= prev_end + 8, "box {kind:?} payload at {start} overlaps the previous box (ends {prev_end})");
        assert!(start + payload.len() <= data.len(), "box {kind:?} runs past its parent");
        prev_end = start + payload.len();
        if depth < 8 {
            if let Some(skip) = children_at(&kind) {
                walk(payload.get(skip..).unwrap_or_default(), depth + 1);
            }
        }
    }
}

fn check_date(what: &str, d: &Option<(NaiveDateTime, Option<FixedOffset>)>) {
    if let Some((t, o)) = d {
        assert!((1800..=2200).contains(&t.year()), "{what}: year of {t}");
        if let Some(o) = o {
            assert!(o.local_minus_utc().abs() <= 14 * 3600 + 59 * 60, "{what}: offset {o}");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    walk(data, 0);

    let mut file = mem_file(data);
    let len = data.len() as u64;
    let in_memory = bmff::boxes(data).find(|(k, _)| k == b"moov").map(|(_, p)| p);
    match bmff::read_top_box(&mut file, len, b"moov") {
        Ok(Some(moov)) => assert_eq!(Some(&moov[..]), in_memory, "file and memory walkers found different moov"),
        Ok(None) | Err(_) => assert_eq!(in_memory, None, "file walker missed the moov the memory walker found"),
    }
    match bmff::movie_dates(&mut file, len) {
        Ok(Some(m)) => {
            assert!(in_memory.is_some(), "movie dates without a moov");
            check_date("apple creationdate", &m.apple_creation);
            check_date("©day", &m.day);
            if let Some(t) = m.mvhd_utc {
                assert!(t.year() >= 1970, "mvhd {t}");
            }
        }
        Ok(None) | Err(_) => assert!(in_memory.is_none(), "a moov but no movie dates"),
    }
    let _ = bmff::canon_cmt_blocks(&mut file, len);
    drop(file);

    // No plausibility filter here to check: MDPM's BCD year may be 0000-9999 and DateUTC
    // +-292 years from 2001; the caller takes them as they are.
    let _ = container::matroska_date(data);
    let _ = container::avchd_date(data);

    for kind in [Kind::Raf, Kind::Cr2, Kind::Dng] {
        if let Some((off, n)) = raw::preview_range(data, kind) {
            let jpeg = off.checked_add(n).and_then(|end| data.get(off..end));
            assert!(jpeg.is_some_and(|j| j.starts_with(&[0xFF, 0xD8])), "{kind:?} preview {off}+{n} of {}", data.len());
        }
    }
});
